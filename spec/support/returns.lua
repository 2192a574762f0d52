--- The failure returns of Lua source, read as tokens: every statement
-- `return nil, ...`, with its values split at the top-level commas. For
-- spec/unit/codes_spec.lua, which holds ocibuild's Lua to its error
-- contract (`nil, msg, code`).
local M = {}

-- The tokens of src: {kind=, text=, line=}, kind "name", "string",
-- "number", "op"; comments dropped.
local function tokens(src)
  local out, i, line, n = {}, 1, 1, #src
  local function add(kind, text) out[#out + 1] = { kind = kind, text = text, line = line } end
  local function long(at)
    local eq = src:match("^%[(=*)%[", at)
    if not eq then return nil end
    local close = "]" .. eq .. "]"
    local j = src:find(close, at, true)
    j = j and j + #close - 1 or n
    return j
  end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local j = long(i + 2)
      j = j or (src:find("\n", i, true) or n + 1) - 1
      local _, nl = src:sub(i, j):gsub("\n", "")
      line = line + nl
      i = j + 1
    elseif c == "[" and long(i) then
      local j = long(i)
      add("string", src:sub(i, j))
      local _, nl = src:sub(i, j):gsub("\n", "")
      line = line + nl
      i = j + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and src:sub(j, j) ~= c do
        if src:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      add("string", src:sub(i, j))
      i = j + 1
    elseif c:match("[%a_]") then
      local w = src:match("^[%w_]+", i)
      add("name", w)
      i = i + #w
    elseif c:match("%d") then
      local w = src:match("^0[xX][%x%.]+", i) or src:match("^[%d%.]+[eE][%+%-]?%d+", i) or src:match("^[%d%.]+", i)
      add("number", w)
      i = i + #w
    else
      local op = src:match("^%.%.%.", i) or src:match("^[=~<>]=", i) or src:match("^%.%.", i)
        or src:match("^::", i) or src:match("^//", i) or src:match("^<<", i) or src:match("^>>", i) or c
      add("op", op)
      i = i + #op
    end
  end
  return out
end

local OPEN = { ["("] = true, ["{"] = true, ["["] = true }
local CLOSE = { [")"] = true, ["}"] = true, ["]"] = true }
local BLOCK_OPEN = { ["function"] = true, ["if"] = true, ["do"] = true, ["repeat"] = true }
local ENDS = { ["end"] = true, ["else"] = true, ["elseif"] = true, ["until"] = true }

--- Every `return nil, ...` of the source text src: a list of {line=,
-- values={ {tokens...}, ... }} (the values as token lists).
function M.failures(src)
  local t = tokens(src)
  local found = {}
  for i = 1, #t - 2 do
    if t[i].kind == "name" and t[i].text == "return" and t[i + 1].text == "nil" and t[i + 2].text == "," then
      local values, cur, depth, block = {}, {}, 0, 0
      local j = i + 1
      while j <= #t do
        local k = t[j]
        if depth == 0 and block == 0 and ((k.kind == "name" and ENDS[k.text]) or k.text == ";") then break end
        if k.kind == "name" and BLOCK_OPEN[k.text] then block = block + 1 end
        if k.kind == "name" and (k.text == "end" or k.text == "until") then block = block - 1 end
        if k.kind == "op" and OPEN[k.text] then depth = depth + 1 end
        if k.kind == "op" and CLOSE[k.text] then depth = depth - 1 end
        if depth == 0 and block == 0 and k.text == "," then
          values[#values + 1] = cur
          cur = {}
        else
          cur[#cur + 1] = k
        end
        j = j + 1
      end
      values[#values + 1] = cur
      found[#found + 1] = { line = t[i].line, values = values }
    end
  end
  return found
end

--- Whether the value v (a token list) may stand for several values: a
-- call (but a string's :format, which gives one) or `...`.
function M.multiple(v)
  local last = v[#v]
  if not last then return false end
  if last.text == "..." then return true end
  if last.text ~= ")" then return false end
  -- the call's name: the token before the matching "("
  local depth = 0
  for i = #v, 1, -1 do
    if v[i].text == ")" then depth = depth + 1 end
    if v[i].text == "(" then
      depth = depth - 1
      if depth == 0 then
        local name = v[i - 1]
        if not name or name.kind ~= "name" or name.text == "format" then return false end
        -- an operator before the call's chain makes one value of it all
        for k = 1, i - 1 do
          if v[k].kind == "op" and (v[k].text == ".." or v[k].text == "or" or v[k].text == "and") then return false end
          if v[k].kind == "name" and (v[k].text == "or" or v[k].text == "and") then return false end
        end
        return true
      end
    end
  end
  return false
end

return M
