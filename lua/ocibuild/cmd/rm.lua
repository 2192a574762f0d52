--- `ocibuild rm NAME|DIGEST...`: removes names from the store.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild rm [-f] NAME|DIGEST|ID...

Removes names from the store. A name (site:dev) goes alone; a digest or
image ID removes every name of that image, which needs -f when the image
has more than one, or when a multi-platform index in the store also
holds it (as docker rmi). An image left without a name leaves the store's
index; its blobs go at the next `ocibuild prune`. All or nothing: when
one operand cannot be removed, nothing is.

  -f, --force   remove every name of an image given by digest or ID
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, { force = "flag", alias = { f = "force" } }, "rm")
  if not opts then return nil, rest, "USAGE" end
  if #rest == 0 then return getopt.usage_error("rm needs at least one name or digest", "rm") end
  local r, err, code = ops.rm(g.ctx, { names = rest, force = opts.force })
  if not r then return nil, err, code end
  for _, name in ipairs(r.untagged) do io.stdout:write("untagged: ", name, "\n") end
  for _, d in ipairs(r.deleted) do io.stdout:write("deleted: ", d, "\n") end
  return true
end

return M
