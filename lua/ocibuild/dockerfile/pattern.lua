--- Shell patterns as BuildKit matches them in ${v#p}, ${v%p} and
-- ${v/p/r}: * (any run) and ? (one character), never a newline; a
-- backslash escapes *, ? and itself (and is dropped before } and /);
-- every other character is itself. BuildKit turns a pattern into a Go
-- regular expression; this matches the same way a backtracking engine
-- does (leftmost; lazy or greedy stars tried in order). Functions return
-- nil, msg on a bad pattern.
local text = require "ocibuild.dockerfile.text"

local M = {}

-- Tokens of a pattern: {any=true} (?), {star=true}, or a character.
local function compile(pattern)
  local toks, cs, i = {}, text.chars(pattern), 1
  while i <= #cs do
    local c = cs[i]
    if c == "*" then
      toks[#toks + 1] = { star = true }
    elseif c == "?" then
      toks[#toks + 1] = { any = true }
    elseif c == "\\" then
      local nx = cs[i + 1]
      -- the escape of } and / inside ${} is not part of the pattern
      if nx ~= "}" and nx ~= "/" then
        if nx ~= "*" and nx ~= "?" and nx ~= "\\" then
          return nil, ("invalid escape '\\%s'"):format(nx or ""), "BADDOCKERFILE"
        end
        toks[#toks + 1] = { ch = nx }
        i = i + 1
      end
    else
      toks[#toks + 1] = { ch = c }
    end
    i = i + 1
  end
  return toks
end

-- The end (exclusive) of a match of toks[t..] at chars[i..], trying
-- alternatives in the order a backtracking regexp engine does (a lazy
-- star the shortest first, a greedy one the longest), or nil.
local function match_at(toks, t, chars, i, greedy)
  local tok = toks[t]
  if not tok then return i end
  if tok.star then
    local max = i
    while chars[max] and chars[max] ~= "\n" do max = max + 1 end
    local from, to, step = i, max, 1
    if greedy then from, to, step = max, i, -1 end
    for j = from, to, step do
      local e = match_at(toks, t + 1, chars, j, greedy)
      if e then return e end
    end
    return nil
  end
  local c = chars[i]
  if c == nil then return nil end
  if tok.any then
    if c == "\n" then return nil end
  elseif tok.ch ~= c then
    return nil
  end
  return match_at(toks, t + 1, chars, i + 1, greedy)
end

--- ${v#p} (greedy: ${v##p}): value without the shortest (longest) prefix
-- pattern matches, or value as it is when none does.
function M.trim_prefix(pattern, value, greedy)
  local toks, err = compile(pattern)
  if not toks then return nil, ("invalid pattern (%s) in substitution: %s"):format(pattern, err), "BADDOCKERFILE" end
  local chars = text.chars(value)
  local e = match_at(toks, 1, chars, 1, greedy)
  if e then return table.concat(chars, "", e) end
  return value
end

-- The pattern reversed, an escape staying before what it escapes.
local function reverse_pattern(pattern)
  local cs, out = text.chars(pattern), {}
  local n = #cs
  local i = 1
  while i <= n do
    local idx = n - i + 1
    if cs[i] == "\\" and i ~= n then
      out[idx - 1], out[idx] = cs[i], cs[i + 1]
      i = i + 2
    else
      out[idx] = cs[i]
      i = i + 1
    end
  end
  return table.concat(out)
end

local function reverse(s)
  local cs, out = text.chars(s), {}
  for i = #cs, 1, -1 do out[#out + 1] = cs[i] end
  return table.concat(out)
end

--- ${v%p} (greedy: ${v%%p}): the same at the end, as BuildKit does it
-- (both strings reversed, the escapes kept before what they escape).
function M.trim_suffix(pattern, value, greedy)
  local r, err = M.trim_prefix(reverse_pattern(pattern), reverse(value), greedy)
  if not r then return nil, err, "BADDOCKERFILE" end
  return reverse(r)
end

-- The first match of toks at or after chars[pos]: start, end (exclusive).
local function find(toks, chars, pos)
  for st = pos, #chars + 1 do
    local e = match_at(toks, 1, chars, st, true)
    if e then return st, e end
  end
end

--- ${v/p/r} and ${v//p/r}: the leftmost match, greedy; with all, every
-- match as Go's ReplaceAllString finds them (an empty match right after
-- another one is not replaced).
function M.replace(pattern, value, repl, all)
  local toks, err = compile(pattern)
  if not toks then return nil, ("invalid pattern (%s) in substitution: %s"):format(pattern, err), "BADDOCKERFILE" end
  local chars = text.chars(value)
  if not all then
    local s, e = find(toks, chars, 1)
    if not s then return value end
    return table.concat(chars, "", 1, s - 1) .. repl .. table.concat(chars, "", e)
  end
  local out, last, pos = {}, 1, 1
  while pos <= #chars + 1 do
    local s, e = find(toks, chars, pos)
    if not s then break end
    out[#out + 1] = table.concat(chars, "", last, s - 1)
    if e > last or s == 1 then out[#out + 1] = repl end
    last = e
    local width = pos <= #chars and 1 or 0
    if pos + width > e then
      pos = pos + width
    elseif pos + 1 > e then
      pos = pos + 1
    else
      pos = e
    end
  end
  out[#out + 1] = table.concat(chars, "", last)
  return table.concat(out)
end

return M
