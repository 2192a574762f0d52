--- `ocibuild gc`: removes what no tag reaches from the store.
local getopt = require "ocibuild.cli.getopt"
local store = require "ocibuild.store"

local M = {}

M.HELP = [[
usage: ocibuild gc [--store DIR]

Removes from the store the blobs that no tagged image reaches and the temp
files left by builds that were killed. Waits for builds in progress. If any
image's manifest cannot be read, nothing is removed.
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, {}, "gc")
  if not opts then return nil, rest, 2 end
  if #rest > 0 then return getopt.usage_error("gc takes no operands", "gc") end
  local dir, source = store.default_dir(g.store)
  if not dir then return nil, source, 1 end
  local st, err = store.open(dir, { source = source })
  if not st then return nil, err, 1 end
  local stats
  stats, err = st:prune()
  if not stats then return nil, err, 1 end
  io.stdout:write(("removed %d blobs (%d bytes) and %d temp files\n"):format(stats.blobs, stats.bytes, stats.temps))
  return true
end

return M
