--- `ocibuild logout HOST`: forgets the credentials stored for a registry.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild logout HOST [--authfile FILE]

Removes the credentials stored for the registry HOST[:PORT] from --authfile
FILE, else from $DOCKER_CONFIG/config.json (~/.docker/config.json), and
from the credential helper that file names for HOST, if any.
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, { authfile = "value" }, "logout")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("logout needs exactly one registry host", "logout") end
  local r, err, code = ops.logout(g.ctx, { host = rest[1], authfile = opts.authfile })
  if not r then return nil, err, code end
  if r.found then
    io.stdout:write(("logged out of %s (%s)\n"):format(r.host, r.path))
  else
    io.stdout:write(("not logged in to %s (%s)\n"):format(r.host, r.path))
  end
  return true
end

return M
