--- Path helpers for the Lua side: joining, making absolute, splitting.
-- Paths are plain byte strings with '/' separators (Linux only).
local M = {}

--- Joins a and b; b wins when absolute.
function M.join(a, b)
  if b:sub(1, 1) == "/" or a == "" then return b end
  if a:sub(-1) == "/" then return a .. b end
  return a .. "/" .. b
end

--- The folder part of p ("." when there is none).
function M.dirname(p)
  local d = p:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

local cwd_cache
--- The current directory. Raises when it cannot be known (it was
-- removed): no relative path means anything then.
function M.cwd()
  if not cwd_cache then
    local dir, err = require("ocibuild.core").cwd()
    if not dir then error("cannot resolve relative paths: " .. err, 0) end
    cwd_cache = dir
  end
  return cwd_cache
end

--- The components of p, lexically: "." and empty ones dropped, ".."
-- dropping the one before it (never climbing above the first).
function M.components(p)
  local parts = {}
  for comp in p:gmatch("[^/]+") do
    if comp == ".." then
      parts[#parts] = nil
    elseif comp ~= "." then
      parts[#parts + 1] = comp
    end
  end
  return parts
end

--- The components of a tar entry's name below the root ("./usr/bin/" ->
-- {"usr", "bin"}), or nil for the root itself and for a name with a ".."
-- component (one that could climb out).
function M.below(name)
  local parts = {}
  for comp in name:gmatch("[^/]+") do
    if comp == ".." then return nil end
    if comp ~= "." then parts[#parts + 1] = comp end
  end
  if #parts == 0 then return nil end
  return parts
end

--- p made absolute against base (default: the current directory), with
-- "." and ".." components and repeated slashes removed lexically.
function M.abs(p, base)
  return "/" .. table.concat(M.components(M.join(base or M.cwd(), p)), "/")
end

return M
