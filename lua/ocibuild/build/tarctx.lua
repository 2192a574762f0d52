--- A build context sent as a tar stream (`ocibuild build -`, as `docker
-- build -` takes one): plain, gzip, zstd, bzip2 or xz, unpacked into a
-- folder of the store's temp folder, which a build then takes as any
-- context (its .dockerignore applies, its Dockerfile is found). Its entries
-- are checked as strictly as an archive's on import: no absolute name or
-- `..`, nothing written through a link, hardlinks only to earlier files,
-- no devices, FIFOs or sockets, entries and bytes bounded. The folder is
-- held (flock) while the build runs and removed after it; one left by a
-- killed process goes with the next `ocibuild prune`.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"

local M = {}

--- The bounds of a context: entries, and bytes of file data.
M.MAX_ENTRIES = 1 << 22
M.MAX_BYTES = 1 << 40

--- Unpacks the tar stream of `source` ("-" for standard input, or a file)
-- into a new folder of the store of ctx (an ocibuild.ops.context; the
-- store is created when missing). Returns {dir=, entries=, bytes=,
-- close=function} (close removes the folder; call it whatever happens),
-- or nil, msg, code.
function M.unpack(ctx, source)
  local st, err, code = ctx:open_store { create = true }
  if not st then return nil, err, code end
  local path, lock
  path, lock, code = st.core:temp_dir("context-")
  if not path then return nil, ("cannot make a folder for the context in store %s: %s"):format(st.dir, lock), code end
  local h = { dir = path }
  function h.close()
    if h.dir then st.core:remove_temp(h.dir) end
    if lock then lock:close() end
    h.dir, lock = nil, nil
  end
  local r
  r, err, code = core.tar_reader(source, { any = true })
  local got
  if r then
    got, err, code = r:unpack(path, { max_entries = M.MAX_ENTRIES, max_bytes = M.MAX_BYTES })
    r:close()
  end
  if not got then
    h.close()
    return nil, (tostring(err):gsub("^%u+: ", "")), code
  end
  h.entries, h.bytes = got.entries, got.bytes
  return h
end

return M
