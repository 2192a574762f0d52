--- `ocibuild login HOST`: checks credentials with a registry and stores
-- them where docker, podman, skopeo and crane find them too. At a
-- terminal it asks for them, as docker does (the password not echoed).
local core = require "ocibuild.core"
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild login HOST [-u USER] [--password-stdin | --creds USER:PASSWORD] [options]

At a terminal, asks for the user name (unless -u gives it) and the
password (not echoed). Checks the credentials against the registry HOST[:PORT] (its token endpoint
when it hands out tokens) and stores them in --authfile FILE, else in
$DOCKER_CONFIG/config.json (~/.docker/config.json), mode 0600, in the format
docker, podman, skopeo and crane read; in the credential helper that file
names for HOST, if any. For idpbuilder:

  idpbuilder get secrets -p gitea -o json | jq -r '.[0].data.password' |
    ocibuild login gitea.cnoe.localtest.me:8443 -u giteaAdmin --password-stdin
]] .. "\n" .. reg_cli.HELP

-- Asks at the terminal for what the options lack: the user name
-- (echoed), then the password (not). Returns creds, or nil, msg, code.
local function ask(user)
  if not user then
    io.stderr:write("Username: ")
    io.stderr:flush()
    user = io.stdin:read("l")
    user = user and user:match("^%s*(.-)%s*$")
    if not user or user == "" then return nil, "login: no user name given", "USAGE" end
  end
  local pass, err, code = core.read_secret(0, "Password: ")
  if not pass then return nil, "login: " .. err, code end
  if pass == "" then return nil, "login: no password given", "USAGE" end
  return { username = user, password = pass, source = "the terminal" }
end

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, reg_cli.spec(), "login")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("login needs exactly one registry host", "login") end
  local prompt = not opts.creds and not opts["password-stdin"]
  if prompt and not core.terminal(0) then
    return getopt.usage_error("login needs --password-stdin or --creds when standard input is not a terminal", "login")
  end
  local user = opts.username
  if prompt then opts.username = nil end
  local o, err, code = reg_cli.options(opts, "login")
  if not o then return nil, err, code end
  local r
  r, err, code = ops.login(g.ctx:with { registry = o }, { host = rest[1],
    ask = prompt and function() return ask(user) end or nil })
  if not r then return nil, err, code end
  io.stdout:write(("logged in to %s as %s (credentials in %s)\n"):format(r.host, r.username, r.path))
  return true
end

return M
