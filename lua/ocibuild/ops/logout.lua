--- logout: the credentials stored for a registry forgotten
-- (ocibuild.registry.logout): from the `authfile`, else the docker
-- config, and from the credential helper it names for the host.
local login = require "ocibuild.ops.login"
local registry = require "ocibuild.registry"

local M = {}

--- args: host (as for login), authfile.
M.OPTIONS = { "host", "authfile" }

--- Logs out. Returns {host=, path= (the file), found= (whether there
-- were credentials to forget)}, or nil, msg, code.
function M.run(ctx, a)
  local err, code
  local host
  host, err, code = login.host(a.host)
  if not host then return nil, err, code end
  if a.authfile ~= nil and type(a.authfile) ~= "string" then
    return nil, "logout: authfile must be a file", "BADVALUE"
  end
  local authfile = a.authfile or (ctx.registry or {}).authfile
  local p, found
  p, found, code = registry.logout(host, { authfile = authfile })
  if not p then return nil, found, code end
  return { host = host, path = p, found = found }
end

return M
