--- Canonical JSON for every document whose digest matters, and a strict
-- decoder for everything read from disk or the network.
-- The encoder writes object keys in byte order, no insignificant white
-- space, integers only, strings as UTF-8 with only `"`, `\` and control
-- characters escaped (`/` is not). Empty tables must be marked with
-- `M.array` or `M.object`, since `{}` alone cannot say which it is.
-- The decoder (RFC 8259) refuses duplicate keys, invalid UTF-8, lone
-- surrogates, trailing bytes and nesting deeper than 64; it gives arrays
-- and objects their marks, integers as integers, and `null` as M.null.
-- The marks are metatables shared by every document, so nobody else may
-- reach them: each is protected (`__metatable`), this module tells them
-- apart by identity, and the decoder fills tables with rawset, so even a
-- changed mark would see nothing decoded.

local M = {}

local metatable, set_metatable = debug.getmetatable, debug.setmetatable

local ARRAY = { __metatable = "ocibuild.json.array" }
local OBJECT = { __metatable = "ocibuild.json.object" }

--- JSON null.
M.null = setmetatable({}, { __name = "ocibuild.json.null", __tostring = function() return "null" end,
  __metatable = "ocibuild.json.null" })

local function mark(t, mt)
  if t == nil then return set_metatable({}, mt) end
  if type(t) ~= "table" then error("json: only a table can be marked, got a " .. type(t), 3) end
  return set_metatable(t, mt)
end

--- Marks t (default: a new table) as a JSON array; returns it.
function M.array(t) return mark(t, ARRAY) end

--- Marks t (default: a new table) as a JSON object; returns it.
function M.object(t) return mark(t, OBJECT) end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s, out)
  if not utf8.len(s) then error("json: string is not valid UTF-8: " .. ("%q"):format(s), 0) end
  out[#out + 1] = '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or (c:byte() < 0x20 and ("\\u%04x"):format(c:byte())) or c
  end) .. '"'
end

local function is_array(t)
  local mt = metatable(t)
  if mt == ARRAY then return true end
  if mt == OBJECT then return false end
  local n = #t
  if n == 0 then
    if next(t) == nil then error("json: empty table must be marked with json.array or json.object", 0) end
    return false
  end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local encode_value

local function encode_table(t, out, depth)
  if depth > 100 then error("json: nesting too deep", 0) end
  if is_array(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, depth + 1)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("json: object key is not a string: " .. tostring(k), 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    encode_string(k, out)
    out[#out + 1] = ":"
    encode_value(t[k], out, depth + 1)
  end
  out[#out + 1] = "}"
end

function encode_value(v, out, depth)
  local tv = type(v)
  if tv == "string" then
    encode_string(v, out)
  elseif tv == "number" then
    if math.type(v) ~= "integer" then error("json: only integers can be encoded, got " .. tostring(v), 0) end
    out[#out + 1] = ("%d"):format(v)
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif v == M.null then
    out[#out + 1] = "null"
  elseif tv == "table" then
    encode_table(v, out, depth)
  else
    error("json: cannot encode a " .. tv, 0)
  end
end

--- Encodes v canonically. Raises on a value JSON cannot hold as we write it
-- (floats, non-string keys, invalid UTF-8, unmarked empty tables).
function M.encode(v)
  local out = {}
  encode_value(v, out, 0)
  return table.concat(out)
end

local decode_value

local function fail(st, why)
  error({ ("%s: invalid JSON at byte %d: %s"):format(st.what, st.pos, why) }, 0)
end

local function skip_ws(st)
  st.pos = st.text:find("[^ \t\r\n]", st.pos) or #st.text + 1
end

local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function decode_string(st)
  local text, pos, parts = st.text, st.pos + 1, {}
  while true do
    -- what must be escaped: U+0000 to U+001F (RFC 8259: DEL need not be)
    local stop = text:find('["\\\0-\31]', pos)
    if not stop then fail(st, "unterminated string") end
    parts[#parts + 1] = text:sub(pos, stop - 1)
    local c = text:sub(stop, stop)
    if c == '"' then
      pos = stop + 1
      break
    elseif c == "\\" then
      local e = text:sub(stop + 1, stop + 1)
      if e == "u" then
        local hex = text:match("^%x%x%x%x", stop + 2)
        if not hex then st.pos = stop; fail(st, "bad \\u escape") end
        local cp = tonumber(hex, 16)
        pos = stop + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = text:match("^\\u(%x%x%x%x)", pos)
          lo = lo and tonumber(lo, 16)
          if not lo or lo < 0xDC00 or lo > 0xDFFF then st.pos = stop; fail(st, "lone surrogate") end
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
          pos = pos + 6
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          st.pos = stop
          fail(st, "lone surrogate")
        end
        parts[#parts + 1] = utf8.char(cp)
      elseif ESC[e] then
        parts[#parts + 1] = ESC[e]
        pos = stop + 2
      else
        st.pos = stop
        fail(st, "bad escape")
      end
    else
      st.pos = stop
      fail(st, "control character in string")
    end
  end
  local s = table.concat(parts)
  if not utf8.len(s) then fail(st, "string is not valid UTF-8") end
  st.pos = pos
  return s
end

local function decode_number(st)
  local text, start = st.text, st.pos
  local int = text:match("^-?%d+", start)
  if not int or int:match("^-?0%d") then fail(st, "bad number") end
  local pos = start + #int
  local frac = text:match("^%.%d+", pos) or ""
  pos = pos + #frac
  local exp = text:match("^[eE][-+]?%d+", pos) or ""
  pos = pos + #exp
  if text:match("^[.eE]", pos) then fail(st, "bad number") end
  st.pos = pos
  if frac == "" and exp == "" then
    local v = math.tointeger(tonumber(int))
    if not v then st.pos = start; fail(st, "integer out of range") end
    return v
  end
  return tonumber(text:sub(start, pos - 1))
end

-- Past an opening bracket: true when `close` follows at once (empty).
local function opened(st, close)
  st.pos = st.pos + 1
  skip_ws(st)
  if st.text:sub(st.pos, st.pos) ~= close then return false end
  st.pos = st.pos + 1
  return true
end

-- After a member: true when `close` ends the container, false past a comma.
local function closed(st, close)
  skip_ws(st)
  local c = st.text:sub(st.pos, st.pos)
  st.pos = st.pos + 1
  if c == close then return true end
  if c ~= "," then st.pos = st.pos - 1; fail(st, ("expected ',' or '%s'"):format(close)) end
  return false
end

local function decode_array(st, depth)
  local t = st.plain and {} or M.array()
  if opened(st, "]") then return t end
  local n = 0
  repeat
    n = n + 1
    rawset(t, n, decode_value(st, depth))
  until closed(st, "]")
  return t
end

local function decode_object(st, depth)
  local t = st.plain and {} or M.object()
  if opened(st, "}") then return t end
  repeat
    skip_ws(st)
    if st.text:sub(st.pos, st.pos) ~= '"' then fail(st, "expected a key") end
    local at = st.pos
    local k = decode_string(st)
    if rawget(t, k) ~= nil then st.pos = at; fail(st, ("duplicate key %q"):format(k)) end
    skip_ws(st)
    if st.text:sub(st.pos, st.pos) ~= ":" then fail(st, "expected ':'") end
    st.pos = st.pos + 1
    rawset(t, k, decode_value(st, depth))
  until closed(st, "}")
  return t
end

local LITERALS = { ["true"] = true, ["false"] = false }

function decode_value(st, depth)
  if depth > 64 then fail(st, "nesting deeper than 64") end
  skip_ws(st)
  local c = st.text:sub(st.pos, st.pos)
  if c == "{" then return decode_object(st, depth + 1) end
  if c == "[" then return decode_array(st, depth + 1) end
  if c == '"' then return decode_string(st) end
  if c == "-" or c:match("%d") then return decode_number(st) end
  for word, v in pairs(LITERALS) do
    if st.text:sub(st.pos, st.pos + #word - 1) == word then
      st.pos = st.pos + #word
      return v
    end
  end
  if st.text:sub(st.pos, st.pos + 3) == "null" then
    st.pos = st.pos + 4
    return M.null
  end
  fail(st, c == "" and "unexpected end" or "unexpected character")
end

--- Decodes text strictly. Returns the value, or nil and "<what>: invalid
-- JSON at byte N: <why>" (what defaults to "input"), "BADJSON". With
-- opts.plain, arrays and objects are plain tables, without marks (for
-- secrets: credentials files, tokens), so `{}` and `[]` are one.
function M.decode(text, what, opts)
  if type(text) ~= "string" then return nil, ("%s: no text to decode"):format(what or "input"), "BADJSON" end
  local st = { text = text, pos = 1, what = what or "input", plain = opts and opts.plain }
  local ok, v = pcall(function()
    local v = decode_value(st, 0)
    skip_ws(st)
    if st.pos <= #text then fail(st, "trailing bytes") end
    return v
  end)
  if not ok then
    if type(v) == "table" then return nil, v[1], "BADJSON" end
    error(v, 0)
  end
  return v
end

--- true when t is marked or shaped as a JSON object (a table that is not
-- an array); for checking decoded documents.
function M.is_object(t)
  return type(t) == "table" and metatable(t) ~= ARRAY and t ~= M.null
    and (metatable(t) == OBJECT or next(t) == nil or #t == 0)
end

--- true when t is a JSON array.
function M.is_array(t)
  return type(t) == "table" and metatable(t) == ARRAY
end

return M
