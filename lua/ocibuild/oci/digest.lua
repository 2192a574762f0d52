--- Digests: the one place that says what a valid one is. Only
-- "sha256:" followed by 64 lower-case hex digits is accepted (the store
-- names blobs by it, so nothing else may ever become a path).
local M = {}

--- true when d is a sha256 digest in canonical form. Never fails.
function M.valid(d)
  return type(d) == "string" and #d == 71 and d:sub(1, 7) == "sha256:"
    and d:find("^[0-9a-f]+$", 8) ~= nil
end

--- d, or nil, "<where>: not a sha256 digest: <d>", "BADDIGEST".
function M.check(d, where)
  if M.valid(d) then return d end
  local shown = type(d) == "string" and ("%q"):format(d):gsub("\\\n", "\\n") or tostring(d)
  return nil, ("%snot a sha256 digest: %s"):format(where and (where .. ": ") or "", shown), "BADDIGEST"
end

--- The first 12 hex digits, as image IDs are shown.
function M.short(d)
  return d:sub(8, 19)
end

return M
