--- Layer reuse: where the store keeps, per compression setting, a record
-- of each layer build's blocks (the SHA-256 of the tar up to each block's
-- end and where its compressed piece sits in the blob). The C pipeline
-- looks the records up and writes them; here is only where they live and
-- how stale ones go. Records are a cache: losing them costs time only.
local core = require "ocibuild.core"

local M = {}

--- The record folder in the store at dir for a compression kind and
-- level: <store>/.ocibuild/reuse/<what the output bytes depend on>.
function M.dir(dir, compression, level)
  return dir .. "/.ocibuild/reuse/" .. core.compression_key(compression, level)
end

local function record_blob(file)
  local f = io.open(file, "rb")
  if not f then return nil end
  local head = f:read(512) or ""
  f:close()
  return head:match("\nblob (sha256:%x+) ")
end

--- Removes the records whose blob is no longer in the store (after a
-- `gc`). Returns the number removed, or nil, msg, code.
function M.prune(dir)
  local root = dir .. "/.ocibuild/reuse"
  local settings, err, code = core.list_dir(root)
  if not settings then
    if code == "ENOENT" then return 0 end
    return nil, err, code
  end
  local removed = 0
  for _, s in ipairs(settings) do
    local names = core.list_dir(root .. "/" .. s) or {}
    for _, name in ipairs(names) do
      local file = root .. "/" .. s .. "/" .. name
      local blob = record_blob(file)
      if not blob or not core.stat(dir .. "/blobs/sha256/" .. blob:sub(8)) then
        local ok
        ok, err, code = core.unlink(file)
        if not ok and code ~= "ENOENT" then return nil, err, code end
        removed = removed + 1
      end
    end
  end
  return removed
end

return M
