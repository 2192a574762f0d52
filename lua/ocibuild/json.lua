--- Canonical JSON for every document whose digest matters, and decoding.
-- The encoder writes object keys in byte order, no insignificant white
-- space, integers only, strings as UTF-8 with only `"`, `\` and control
-- characters escaped (`/` is not). Empty tables must be marked with
-- `M.array` or `M.object`, since `{}` alone cannot say which it is.
-- Decoding goes through lua-cjson; numbers come back as integers.
local cjson = require "cjson.safe"

local M = {}

local ARRAY = setmetatable({}, { __name = "ocibuild.json.array" })
local OBJECT = setmetatable({}, { __name = "ocibuild.json.object" })

--- JSON null.
M.null = setmetatable({}, { __name = "ocibuild.json.null", __tostring = function() return "null" end })

--- Marks t (default: a new table) as a JSON array; returns it.
function M.array(t) return setmetatable(t or {}, ARRAY) end

--- Marks t (default: a new table) as a JSON object; returns it.
function M.object(t) return setmetatable(t or {}, OBJECT) end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s, out)
  if not utf8.len(s) then error("json: string is not valid UTF-8: " .. ("%q"):format(s), 0) end
  out[#out + 1] = '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or (c:byte() < 0x20 and ("\\u%04x"):format(c:byte())) or c
  end) .. '"'
end

local function is_array(t)
  local mt = getmetatable(t)
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

-- Integral floats become integers, arrays and objects get their marks back.
local function restore(v)
  if type(v) == "number" then
    return math.tointeger(v) or v
  elseif v == cjson.null then
    return M.null
  elseif type(v) == "table" then
    local n, count = #v, 0
    for k, x in pairs(v) do
      v[k] = restore(x)
      count = count + 1
    end
    if count == 0 then return v end -- left unmarked: "[]" and "{}" both decode to it
    return count == n and M.array(v) or M.object(v)
  end
  return v
end

--- Decodes text. Returns the value, or nil and a message naming `what`.
function M.decode(text, what)
  local v, err = cjson.decode(text)
  if v == nil and err then return nil, ("%s: invalid JSON: %s"):format(what or "input", err) end
  return restore(v)
end

return M
