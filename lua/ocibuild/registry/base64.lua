--- Standard base64 (RFC 4648 with padding), for Basic credentials and
-- the `auth` field of docker's config.json.
local M = {}

local ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local VALUE = {}
for i = 1, #ALPHA do VALUE[ALPHA:byte(i)] = i - 1 end

--- Encodes s. Never fails.
function M.encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = table.concat {
      ALPHA:sub((n >> 18) + 1, (n >> 18) + 1),
      ALPHA:sub(((n >> 12) & 63) + 1, ((n >> 12) & 63) + 1),
      b and ALPHA:sub(((n >> 6) & 63) + 1, ((n >> 6) & 63) + 1) or "=",
      c and ALPHA:sub((n & 63) + 1, (n & 63) + 1) or "=",
    }
  end
  return table.concat(out)
end

--- Decodes s (white space ignored, padding optional). Returns the bytes,
-- or nil, msg when s is not base64.
function M.decode(s)
  s = s:gsub("%s", ""):gsub("=+$", "")
  if #s % 4 == 1 then return nil, "not base64: bad length", "BADBASE64" end
  local out, n, bits = {}, 0, 0
  for i = 1, #s do
    local v = VALUE[s:byte(i)]
    if not v then return nil, "not base64: bad character", "BADBASE64" end
    n = (n << 6) | v
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      out[#out + 1] = string.char((n >> bits) & 255)
    end
  end
  return table.concat(out)
end

return M
