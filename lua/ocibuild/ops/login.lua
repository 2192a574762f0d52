--- login: credentials checked against a registry (its token endpoint
-- when it hands out tokens) and stored where docker, podman, skopeo and
-- crane find them (ocibuild.registry.login): the `authfile`, else the
-- docker config, or the credential helper it names for the host.
local check = require "ocibuild.util.check"
local options = require "ocibuild.registry.options"
local registry = require "ocibuild.registry"

local M = {}

--- args: host (HOST[:PORT], or what people type: a URL), ask (a
-- function returning the credentials, or nil, msg, code: asked only
-- once the host is known good, when no `creds` are given), and the
-- registry options (creds: {username=, password=}).
M.OPTIONS = { "host", "ask", table.unpack(options.KEYS) }

--- HOST[:PORT] from what a user may type (a URL, a trailing slash), or
-- nil, msg, "BADREF".
function M.host(s)
  local h = type(s) == "string" and s:gsub("^%a[%w+.-]*://", ""):gsub("/.*$", "") or ""
  if h == "" or not h:match("^[%w.%-]+$") and not h:match("^[%w.%-]+:%d+$") and not h:match("^%[[%x:]+%]:?%d*$") then
    return nil, ("bad registry host %s"):format(check.show(s)), "BADREF"
  end
  if h == "index.docker.io" or h == "registry-1.docker.io" then h = "docker.io" end
  return h
end

--- Logs in. Returns {host=, username=, path= (the file written)}, or
-- nil, msg, code.
function M.run(ctx, a)
  local err, code
  local host
  host, err, code = M.host(a.host)
  if not host then return nil, err, code end
  local o
  o, err, code = ctx:registry_options(a)
  if not o then return nil, err, code end
  local cr = o.creds
  if cr == nil and a.ask then
    cr, err, code = a.ask()
    if not cr then return nil, err, code end
    o.creds = cr
  end
  if type(cr) ~= "table" or type(cr.username) ~= "string" or type(cr.password) ~= "string" then
    return nil, "login needs credentials: a user name and a password", "USAGE"
  end
  local p
  p, err, code = registry.login(host, cr, o)
  if not p then return nil, err, code end
  return { host = host, username = cr.username, path = p }
end

return M
