--- `ocibuild login HOST`: checks credentials with a registry and stores
-- them where docker, podman, skopeo and crane find them too.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild login HOST (-u USER --password-stdin | --creds USER:PASSWORD) [options]

Checks the credentials against the registry HOST[:PORT] (its token endpoint
when it hands out tokens) and stores them in --authfile FILE, else in
$DOCKER_CONFIG/config.json (~/.docker/config.json), mode 0600, in the format
docker, podman, skopeo and crane read; in the credential helper that file
names for HOST, if any. For idpbuilder:

  idpbuilder get secrets -p gitea -o json | jq -r '.[0].data.password' |
    ocibuild login gitea.cnoe.localtest.me:8443 -u giteaAdmin --password-stdin
]] .. "\n" .. reg_cli.HELP

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, reg_cli.spec(), "login")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("login needs exactly one registry host", "login") end
  local o, err, code = reg_cli.options(opts, "login")
  if not o then return nil, err, code end
  if not o.creds then return getopt.usage_error("login needs -u USER --password-stdin, or --creds", "login") end
  local r
  r, err, code = ops.login(g.ctx:with { registry = o }, { host = rest[1] })
  if not r then return nil, err, code end
  io.stdout:write(("logged in to %s as %s (credentials in %s)\n"):format(r.host, r.username, r.path))
  return true
end

return M
