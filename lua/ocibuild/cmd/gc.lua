--- `ocibuild gc`: removes what no tag reaches from the store.
local cli = require "ocibuild.cli"
local store = require "ocibuild.store"

local M = {}

M.HELP = [[
usage: ocibuild gc [--store DIR]

Removes from the store the blobs that no tagged image reaches and the temp
files left by builds that were killed. Waits for builds in progress.
]]

function M.run(argv, g)
  local opts, rest = cli.getopt(argv, { store = "value" }, "gc")
  if not opts then return nil, rest, 2 end
  if #rest > 0 then return cli.usage_error("gc takes no operands", "gc") end
  local dir, err, code = store.default_dir(opts.store or g.store)
  if not dir then return nil, err, code end
  local st
  st, err, code = store.open(dir)
  if not st then return nil, err, code end
  local stats
  stats, err, code = st:gc()
  if not stats then return nil, err, code end
  io.stdout:write(("removed %d blobs (%d bytes) and %d temp files\n"):format(stats.blobs, stats.bytes, stats.temps))
  return true
end

return M
