--- Registry credentials, from where other tools put them: --creds, then
-- --authfile, $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
-- then $DOCKER_CONFIG/config.json or ~/.docker/config.json. In each file:
-- credHelpers[host], then an `auths` entry (keys with a scheme are matched
-- by host as docker does; keys with a path, most specific first, as
-- podman does), then credsStore. Helpers are docker-credential-<name>
-- programs that get the server on stdin and answer JSON on stdout, so no
-- secret is ever an argument. `login` and `logout` write the same files.
local base64 = require "ocibuild.registry.base64"
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local json = require "ocibuild.oci.json"

local M = {}

local HUB_KEY = "https://index.docker.io/v1/"
local HUB_NAMES = { ["docker.io"] = true, ["index.docker.io"] = true, ["registry-1.docker.io"] = true }

local function env(k)
  local v = os.getenv(k)
  if v and v ~= "" then return v end
end

--- The docker config file: $DOCKER_CONFIG/config.json or
-- ~/.docker/config.json (nil without HOME).
function M.docker_config()
  local dir = env("DOCKER_CONFIG") or (env("HOME") and (env("HOME") .. "/.docker"))
  return dir and (dir .. "/config.json")
end

--- The files read, in order: {path=, origin=} (origin names the option or
-- variable it came from, for messages).
function M.files(opts)
  opts = opts or {}
  local list = {}
  if opts.authfile then list[#list + 1] = { path = opts.authfile, origin = "--authfile", explicit = true } end
  if env("REGISTRY_AUTH_FILE") then
    list[#list + 1] = { path = env("REGISTRY_AUTH_FILE"), origin = "REGISTRY_AUTH_FILE" }
  end
  if env("XDG_RUNTIME_DIR") then
    list[#list + 1] = { path = env("XDG_RUNTIME_DIR") .. "/containers/auth.json", origin = "XDG_RUNTIME_DIR" }
  end
  local dc = M.docker_config()
  if dc then list[#list + 1] = { path = dc, origin = env("DOCKER_CONFIG") and "DOCKER_CONFIG" or "docker" } end
  return list
end

-- Reads a config file: the document, false when missing, or nil, msg.
-- Only `login` and `logout`, which write the file back, decode it with
-- the JSON marks (to keep `[]` and `{}` apart); a lookup decodes it plain,
-- so no secret ever sits in a table that shares a metatable.
local function read_config(f, marked)
  local text, err, code = core.read_file(f.path, { max = 4 << 20 })
  if not text then
    if code == "ENOENT" and not f.explicit then return false end
    return nil, ("cannot read credentials file %s: %s"):format(f.path, err), code
  end
  local doc
  doc, err = json.decode(text, f.path, { plain = not marked })
  if not doc then return nil, ("credentials file %s: %s"):format(f.path, err), "BADJSON" end
  if not json.is_object(doc) then return nil, ("credentials file %s is not a JSON object"):format(f.path), "BADJSON" end
  return doc
end

-- What an `auths` key names: docker's ConvertToHostname for keys with a
-- scheme; containers' host[/namespace] otherwise.
local function key_target(k)
  local rest = k:match("^%a[%w+.-]*://(.*)$")
  if rest then return (rest:match("^[^/]*")) end
  return (k:gsub("/+$", ""))
end

-- The names a repository's credentials may be filed under, most specific first.
local function candidates(domain, path)
  local list = {}
  local parts = {}
  for p in (path or ""):gmatch("[^/]+") do parts[#parts + 1] = p end
  for i = #parts, 1, -1 do list[#list + 1] = domain .. "/" .. table.concat(parts, "/", 1, i) end
  list[#list + 1] = domain
  return list
end

local function helper_name(name)
  return type(name) == "string" and name:match("^[%w._-]+$") and name
end

--- The server name a helper is asked about (Docker Hub's legacy key).
function M.server_url(domain)
  return HUB_NAMES[domain] and HUB_KEY or domain
end

--- Asks docker-credential-<name> for domain's credentials. Returns creds,
-- false when the helper has none, or nil, msg.
function M.helper_get(name, domain, where)
  local prog = "docker-credential-" .. name
  if not M.server_url(domain):match("^[%w.:/%[%]-]+$") then
    return nil, ("bad registry host %s"):format(check.show(domain)), "BADREF"
  end
  local p = io.popen(("printf '%%s' '%s' | %s get 2>&1"):format(M.server_url(domain), prog), "r")
  if not p then return nil, ("cannot run %s (%s)"):format(prog, where), "HELPER" end
  local out = p:read("a")
  local ok, _, status = p:close()
  if not ok then
    if status == 127 then return nil, ("credential helper %s (%s) is not installed"):format(prog, where), "ENOENT" end
    if out:lower():find("not found", 1, true) then return false end
    return nil, ("credential helper %s (%s) failed: %s"):format(prog, where, check.show(out:sub(1, 200))), "HELPER"
  end
  local t = json.decode(out, prog, { plain = true })
  if type(t) ~= "table" or type(t.Username) ~= "string" or type(t.Secret) ~= "string" then
    return nil, ("credential helper %s (%s) answered something else than credentials"):format(prog, where), "HELPER"
  end
  if t.Username == "<token>" then
    return nil, ("credential helper %s (%s) holds an identity token for %s, which ocibuild cannot use: run" ..
      " 'ocibuild login %s'")
      :format(prog, where, domain, domain), "HELPER"
  end
  return { username = t.Username, password = t.Secret, source = prog }
end

-- Decodes an auths entry: creds, false when it holds none, or nil, msg.
local function from_entry(e, where)
  if not json.is_object(e) then return nil, ("%s: the entry is not an object"):format(where), "BADJSON" end
  if type(e.registrytoken) == "string" and e.registrytoken ~= "" then
    return { token = e.registrytoken, source = where }
  end
  if type(e.auth) == "string" and e.auth ~= "" then
    local plain = base64.decode(e.auth)
    local user, pass = (plain or ""):match("^([^:]*):(.*)$")
    if not user or user == "" then
      return nil, ("%s: `auth` is not base64 of user:password"):format(where), "BADJSON"
    end
    return { username = user, password = (pass:gsub("%z+$", "")), source = where }
  end
  if type(e.identitytoken) == "string" and e.identitytoken ~= "" then
    return nil, ("%s holds an identity token, which ocibuild cannot use: run 'ocibuild login'"):format(where), "BADJSON"
  end
  return false
end

-- Looks domain/path up in one config document.
local function in_config(doc, f, domain, path)
  local helpers = json.is_object(doc.credHelpers) and doc.credHelpers or {}
  local name = helper_name(helpers[domain]) or (HUB_NAMES[domain] and helper_name(helpers[HUB_KEY]))
  if name then return M.helper_get(name, domain, "credHelpers in " .. f.path) end
  local auths = json.is_object(doc.auths) and doc.auths or {}
  local by_target = {}
  for k, e in pairs(auths) do
    local t = key_target(k)
    if HUB_NAMES[t] then t = "docker.io" end
    -- an exact key wins over a converted one
    if by_target[t] == nil or k == t then by_target[t] = { key = k, entry = e } end
  end
  for _, cand in ipairs(candidates(HUB_NAMES[domain] and "docker.io" or domain, path)) do
    local hit = by_target[cand]
    if hit then
      local creds, err, code = from_entry(hit.entry, ("%s (auths %s)"):format(f.path, check.show(hit.key)))
      if creds ~= false then return creds, err, code end
    end
  end
  if helper_name(doc.credsStore) then
    return M.helper_get(helper_name(doc.credsStore), domain, "credsStore in " .. f.path)
  end
  return false
end

--- Parses "USER:PASSWORD" (split at the first colon). Returns creds, or
-- nil, msg.
function M.parse(s)
  local user, pass = tostring(s):match("^([^:]+):(.*)$")
  if not user then return nil, "credentials must be USER:PASSWORD", "BADVALUE" end
  return { username = user, password = pass, source = "--creds" }
end

--- The credentials for repository `path` of registry `domain`: opts.creds
-- (a table {username=, password=} or "USER:PASSWORD") first, then the
-- files. Returns creds ({username=, password=, source=} or {token=,
-- source=}), false when there are none, or nil, msg, code.
function M.lookup(domain, path, opts)
  opts = opts or {}
  if type(opts.creds) == "string" then return M.parse(opts.creds) end
  if type(opts.creds) == "table" then
    return { username = opts.creds.username, password = opts.creds.password, source = opts.creds.source or "--creds" }
  end
  for _, f in ipairs(M.files(opts)) do
    local doc, err, code = read_config(f)
    if doc == nil then return nil, err, code end
    if doc then
      local creds
      creds, err, code = in_config(doc, f, domain, path)
      if creds ~= false then return creds, err, code end
    end
  end
  return false
end

-- ---- login and logout ----

-- The file login and logout change (opts.authfile, else the docker
-- config) and its document (auths an object): f, doc, or nil, msg, code.
local function load_for_update(opts)
  local path = opts.authfile or M.docker_config()
  if not path then return nil, "cannot place the credentials: set HOME, DOCKER_CONFIG or --authfile", "ENOENT" end
  local f = { path = path, origin = opts.authfile and "--authfile" or "docker" }
  local doc, err, code = read_config({ path = f.path, origin = f.origin }, true)
  if doc == nil then return nil, err, code end
  doc = doc or json.object {}
  if doc.auths ~= nil and not json.is_object(doc.auths) then
    return nil, ("credentials file %s: `auths` is not an object"):format(f.path), "BADJSON"
  end
  doc.auths = doc.auths or json.object {}
  return f, doc
end

-- The credential helper doc names for domain (credHelpers, then
-- credsStore), or nil.
local function helper_for(doc, domain)
  local helpers = json.is_object(doc.credHelpers) and doc.credHelpers or {}
  return helper_name(helpers[domain]) or helper_name(doc.credsStore)
end

local function write_config(f, doc)
  local path = f.path
  -- a symlinked file (kept with the dotfiles) is written where it points,
  -- as docker writes it; a dangling link is replaced
  local st = core.stat(path, true)
  if st and st.type == "symlink" then path = core.realpath(path) or path end
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then
    local ok, err, code = core.mkdirs(dir, tonumber("700", 8))
    if not ok then return nil, err, code end
  end
  return core.replace_file(path, json.encode(doc), tonumber("600", 8))
end

local function helper_run(name, verb, input)
  local prog = "docker-credential-" .. name
  local p = io.popen(("%s %s >/dev/null 2>&1"):format(prog, verb), "w")
  if not p then return nil, ("cannot run %s"):format(prog), "HELPER" end
  p:write(input)
  local ok, _, status = p:close()
  if not ok then
    return nil, ("credential helper %s %s failed (exit %s)"):format(prog, verb, tostring(status)), "HELPER"
  end
  return true
end

--- Stores creds for domain (opts.authfile, else the docker config), in
-- the helper the file names for it if any, else as base64 `auth`, in a
-- file of mode 0600. Returns the file's path.
function M.store(domain, creds, opts)
  local f, doc, code = load_for_update(opts or {})
  if not f then return nil, doc, code end
  local key = M.server_url(domain)
  local name = helper_for(doc, domain)
  if name then
    local ok, err, hcode = helper_run(name, "store", json.encode(json.object {
      ServerURL = key, Username = creds.username, Secret = creds.password }))
    if not ok then return nil, err, hcode end
    doc.auths[key] = json.object {}
  else
    doc.auths[key] = json.object { auth = base64.encode(creds.username .. ":" .. creds.password) }
  end
  local ok, err, wcode = write_config(f, doc)
  if not ok then return nil, err, wcode end
  return f.path
end

--- Forgets domain's credentials (and asks its helper to erase them).
-- Returns the file's path and whether anything was there.
function M.erase(domain, opts)
  local f, doc, code = load_for_update(opts or {})
  if not f then return nil, doc, code end
  local found = false
  for k in pairs(doc.auths) do
    local t = key_target(k)
    if t == domain or (HUB_NAMES[domain] and HUB_NAMES[t]) then
      doc.auths[k] = nil
      found = true
    end
  end
  local name = helper_for(doc, domain)
  if name and helper_run(name, "erase", M.server_url(domain)) then found = true end
  if found then
    local ok, err, wcode = write_config(f, doc)
    if not ok then return nil, err, wcode end
  end
  return f.path, found
end

return M
