--- `ocibuild logout HOST`: forgets the credentials stored for a registry.
local getopt = require "ocibuild.cli.getopt"
local login = require "ocibuild.cmd.login"
local registry = require "ocibuild.registry"

local M = {}

M.HELP = [[
usage: ocibuild logout HOST [--authfile FILE]

Removes the credentials stored for the registry HOST[:PORT] from --authfile
FILE, else from $DOCKER_CONFIG/config.json (~/.docker/config.json), and
from the credential helper that file names for HOST, if any.
]]

function M.run(argv)
  local opts, rest = getopt.parse(argv, { authfile = "value" }, "logout")
  if not opts then return nil, rest, 2 end
  if #rest ~= 1 then return getopt.usage_error("logout needs exactly one registry host", "logout") end
  local host, err = login.host(rest[1])
  if not host then return getopt.usage_error(err, "logout") end
  local path, found = registry.logout(host, { authfile = opts.authfile })
  if not path then return nil, found, 1 end
  if found then
    io.stdout:write(("logged out of %s (%s)\n"):format(host, path))
  else
    io.stdout:write(("not logged in to %s (%s)\n"):format(host, path))
  end
  return true
end

return M
