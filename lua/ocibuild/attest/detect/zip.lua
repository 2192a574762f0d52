--- Zip archives (JARs) held in memory: the central directory at their end
-- (ZIP64 too), and an entry's bytes (stored, or deflated: expanded by
-- core.inflate), everything bounded. Functions return nil, msg on a
-- damaged archive.
local core = require "ocibuild.core"

local M = {}

M.MAX_ENTRIES = 200000

local function u16(s, i) return string.unpack("<I2", s, i) end
local function u32(s, i) return string.unpack("<I4", s, i) end

-- Where the end of central directory record starts, or nil.
local function find_eocd(data)
  local from = math.max(1, #data - 22 - 0xFFFF + 1)
  for i = #data - 21, from, -1 do
    if data:sub(i, i + 3) == "PK\5\6" then return i end
  end
end

-- count, size and offset of the central directory (ZIP64 when needed).
local function directory(data)
  local e = find_eocd(data)
  if not e then return nil, "no end of central directory: not a zip archive", "BADPACKAGE" end
  local count, size, offset = u16(data, e + 10), u32(data, e + 12), u32(data, e + 16)
  if count == 0xFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF then
    local l = e - 20
    if l < 1 or data:sub(l, l + 3) ~= "PK\6\7" then return nil, "ZIP64 sizes without a ZIP64 locator", "BADPACKAGE" end
    local z = string.unpack("<I8", data, l + 8) + 1
    if z < 1 or z + 56 > #data or data:sub(z, z + 3) ~= "PK\6\6" then
      return nil, "damaged ZIP64 record", "BADPACKAGE"
    end
    count, size, offset = string.unpack("<I8", data, z + 32), string.unpack("<I8", data, z + 40),
      string.unpack("<I8", data, z + 48)
  end
  if count > M.MAX_ENTRIES then return nil, ("more than %d entries"):format(M.MAX_ENTRIES), "BADPACKAGE" end
  if offset + size > #data then return nil, "central directory past the end", "BADPACKAGE" end
  return count, offset + 1
end

-- A ZIP64 extra field's sizes and offset, for the fields at 0xFFFFFFFF.
local function zip64(extra, e)
  local i = 1
  while i + 3 <= #extra do
    local id, n = u16(extra, i), u16(extra, i + 2)
    if id == 1 then
      local j = i + 4
      for _, k in ipairs { "size", "csize", "offset" } do
        if e[k] == 0xFFFFFFFF and j + 7 <= i + 3 + n and j + 7 <= #extra then
          e[k] = string.unpack("<I8", extra, j)
          j = j + 8
        end
      end
    end
    i = i + 4 + n
  end
end

--- The entries of the archive data: { {name=, method=, csize=, size=,
-- offset=} }.
function M.entries(data)
  local count, p = directory(data)
  if not count then return nil, p, "BADPACKAGE" end
  local out = {}
  for _ = 1, count do
    if p + 45 > #data or data:sub(p, p + 3) ~= "PK\1\2" then return nil, "damaged central directory", "BADPACKAGE" end
    local n, x, c = u16(data, p + 28), u16(data, p + 30), u16(data, p + 32)
    local e = { method = u16(data, p + 10), csize = u32(data, p + 20), size = u32(data, p + 24),
      offset = u32(data, p + 42), name = data:sub(p + 46, p + 45 + n) }
    zip64(data:sub(p + 46 + n, p + 45 + n + x), e)
    out[#out + 1] = e
    p = p + 46 + n + x + c
  end
  return out
end

--- The bytes of entry e of data, at most max.
function M.read(data, e, max)
  local h = e.offset + 1
  if h + 29 > #data or data:sub(h, h + 3) ~= "PK\3\4" then
    return nil, e.name .. ": damaged local header", "BADPACKAGE"
  end
  local start = h + 30 + u16(data, h + 26) + u16(data, h + 28)
  if start + e.csize - 1 > #data then return nil, e.name .. ": data past the end", "BADPACKAGE" end
  local body = data:sub(start, start + e.csize - 1)
  if e.method == 0 then
    if #body > max then return nil, e.name .. ": larger than allowed", "BADPACKAGE" end
    return body
  elseif e.method == 8 then
    local out, err = core.inflate(body, max)
    if not out then return nil, e.name .. ": " .. err, "BADPACKAGE" end
    return out
  end
  return nil, ("%s: compression method %d, which ocibuild does not read"):format(e.name, e.method), "BADPACKAGE"
end

return M
