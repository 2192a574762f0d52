--- `ocibuild login HOST`: checks credentials with a registry and stores
-- them where docker, podman, skopeo and crane find them too. At a
-- terminal it asks for them, as docker does (the password not echoed).
local core = require "ocibuild.core"
local getopt = require "ocibuild.cli.getopt"
local registry = require "ocibuild.registry"
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

--- HOST[:PORT] from what a user may type (a URL, a trailing slash).
function M.host(s)
  local h = s:gsub("^%a[%w+.-]*://", ""):gsub("/.*$", "")
  if h == "" or not h:match("^[%w.%-]+$") and not h:match("^[%w.%-]+:%d+$") and not h:match("^%[[%x:]+%]:?%d*$") then
    return nil, ("bad registry host %q"):format(s)
  end
  if h == "index.docker.io" or h == "registry-1.docker.io" then h = "docker.io" end
  return h
end

-- Asks at the terminal for what opts lack: the user name (echoed), then
-- the password (not). Returns creds, or nil, msg, code.
local function ask(user)
  if not user then
    io.stderr:write("Username: ")
    io.stderr:flush()
    user = io.stdin:read("l")
    user = user and user:match("^%s*(.-)%s*$")
    if not user or user == "" then return nil, "login: no user name given", 1 end
  end
  local pass, err = core.read_secret(0, "Password: ")
  if not pass then return nil, "login: " .. err, 1 end
  if pass == "" then return nil, "login: no password given", 1 end
  return { username = user, password = pass, source = "the terminal" }
end

function M.run(argv)
  local opts, rest = getopt.parse(argv, reg_cli.spec(), "login")
  if not opts then return nil, rest, 2 end
  if #rest ~= 1 then return getopt.usage_error("login needs exactly one registry host", "login") end
  local host, err = M.host(rest[1])
  if not host then return getopt.usage_error(err, "login") end
  local prompt = not opts.creds and not opts["password-stdin"]
  if prompt and not core.terminal(0) then
    return getopt.usage_error("login needs --password-stdin or --creds when standard input is not a terminal", "login")
  end
  local user = opts.username
  if prompt then opts.username = nil end
  local o, code
  o, err, code = reg_cli.options(opts, "login")
  if not o then return nil, err, code end
  if prompt then
    o.creds, err, code = ask(user)
    if not o.creds then return nil, err, code end
  end
  local path
  path, err = registry.login(host, o.creds, o)
  if not path then return nil, err, 1 end
  io.stdout:write(("logged in to %s as %s (credentials in %s)\n"):format(host, o.creds.username, path))
  return true
end

return M
