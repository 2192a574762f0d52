--- Moving images between the store and registries, and registry logins.
--
--     local registry = require "ocibuild.registry"
--     local desc, err = registry.pull("gitea.cnoe.localtest.me:8443/giteaadmin/nginx:1", st)
--     local r, err = registry.push(st, desc, "127.0.0.1:5000/team/app:v1")
--
-- Options every function takes (all optional): creds ("USER:PASSWORD" or
-- {username=, password=}), authfile, ca_file, insecure, plain_http, jobs
-- (transfers at once, default 4), chunk_size (bytes, default 64 MiB),
-- on_event (see ocibuild.events: blob and progress events, warnings).
-- timeout, min_speed, speed_time, retries (see ocibuild.registry.client).
-- References are checked before any network traffic (a repository with
-- capitals is an error naming the lower-case form), and resolved through
-- containers' registries.conf (ocibuild.registry.conf: mirrors first for a
-- pull, prefixes rewritten, insecure and blocked registries). A failure
-- leaves the store's tags and the registry's tags as they were. Functions
-- return nil, msg, code on failure (see ocibuild.registry.errors).
local client_mod = require "ocibuild.registry.client"
local conf = require "ocibuild.registry.conf"
local copy = require "ocibuild.copy"
local creds = require "ocibuild.registry.creds"
local doc = require "ocibuild.oci.doc"
local errors = require "ocibuild.registry.errors"
local events = require "ocibuild.events"
local layout = require "ocibuild.endpoint.layout"
local media = require "ocibuild.oci.media"
local platform = require "ocibuild.oci.platform"
local ref_mod = require "ocibuild.oci.ref"
local registry_ep = require "ocibuild.endpoint.registry"
local repo_mod = require "ocibuild.registry.repo"

local M = {}

-- A reference, checked before any traffic. Docker reads a first
-- component with capitals as a registry host ("GiteaAdmin/site"); nobody
-- names a registry so, and it is the capitals that are wrong.
local function parse(reference)
  local r = reference
  if type(reference) ~= "table" then
    local err
    r, err = ref_mod.parse(reference)
    if not r then return nil, err, "BADREF" end
  end
  if r.domain:find("%u") and not r.domain:find("[.:]") then
    local path = r.domain .. "/" .. r.path
    return nil, ("invalid reference %q: repository name %q must be lowercase (try %q)"):format(r.familiar, path,
      (r.familiar:gsub("^[^@:]*", string.lower))), "BADREF"
  end
  return r
end

--- A reference (text, or parsed by ocibuild.oci.ref) checked as push and
-- pull check it. Returns the parsed reference, or nil, msg, "BADREF".
M.reference = parse

-- Where r is reached for action: registries.conf's endpoints, or nil, msg, code.
local function endpoints(r, action)
  local cfg, err, code = conf.load()
  if not cfg then return nil, err, code end
  return conf.endpoints(cfg, r, action)
end

-- A client for r's registry, which answered its /v2/ already (insecure:
-- registries.conf says so: TLS unchecked, plain HTTP allowed).
local function client_for(r, opts, insecure)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.repo = r.path
  if insecure then o.insecure, o.allow_http = true, true end
  local c, err, code = client_mod.new(r.domain, o)
  if not c then return nil, err, code end
  local ok
  ok, err, code = c:ping()
  if not ok then
    c:close()
    return nil, err, code
  end
  return c
end

-- The child of an index for platform `want` (the variant asked for, else
-- the best one a machine of that platform runs).
local function pick(index_text, desc, want)
  local idx, err, code = doc.read_index(index_text, "index " .. desc.digest)
  if not idx then return nil, err, code end
  local list, seen = {}, {}
  for _, d in ipairs(idx.manifests) do
    if media.kind(d.mediaType) == "manifest" and d.platform then
      seen[#seen + 1] = platform.format(d.platform)
      list[#list + 1] = d
    end
  end
  local found = platform.best(list, want)
  if found then return found end
  return nil, ("%s has no image for %s (it has: %s); pass another platform"):format(desc.digest,
    platform.format(want), #seen > 0 and table.concat(seen, ", ") or "none"), "NOPLATFORM"
end

--- The repository `reference` names (checked as for pull and push),
-- through a client that reached the registry already, for action "push"
-- or "pull" (see ocibuild.registry.repo). Returns the repo and the
-- parsed reference, or nil, msg, code; close repo.client when done.
function M.repository(reference, opts, action)
  local r, err, code = parse(reference)
  if not r then return nil, err, code end
  local eps
  eps, err, code = endpoints(r, action)
  if not eps then return nil, err, code end
  r = eps[1].ref
  local c
  c, err, code = client_for(r, opts, eps[1].insecure)
  if not c then return nil, err, code end
  return repo_mod.new(c, r.path, action), r
end

-- Pulls r from one endpoint into st: the descriptor stored, or nil, msg, code.
local function pull_from(ep, st, src, opts, want)
  local r = ep.ref
  local c, err, code = client_for(r, opts, ep.insecure)
  if not c then return nil, err, code end
  local ep_ = registry_ep.new(repo_mod.new(c, r.path, "pull"), { sources = src })
  local desc
  desc, err, code = ep_:resolve(r.digest or r.tag)
  if desc and media.kind(desc.mediaType) == "index" and not opts.all then
    desc, err, code = pick(ep_.docs[desc.digest], desc, want)
  end
  local ok = desc ~= nil
  if ok then ok, err, code = copy.copy(ep_, desc, layout.new(st), { on_event = opts.on_event }) end
  c:close()
  if not ok then return nil, err, code end
  return desc
end

--- Pulls `reference` (a tag or digest; a string or a parsed reference)
-- into st (an opened ocibuild.store), from registries.conf's mirrors first
-- (a mirror that fails is said in a warning, and the next one tried),
-- then from its registry. An index resolves to the image for
-- opts.platform ("os/arch[/variant]" or a table; default: this machine),
-- unless opts.all keeps the whole index. Every blob is downloaded
-- (those present skipped) and verified before the reference is tagged in
-- the store (opts.tag=false: not tagged). Returns the descriptor of what
-- was stored (a manifest, or the index with opts.all), or nil, msg, code.
function M.pull(reference, st, opts)
  opts = opts or {}
  local r, err, code = parse(reference)
  if not r then return nil, err, code end
  local want = opts.platform or platform.host()
  if type(want) == "string" then
    want, err, code = platform.parse(want)
    if not want then return nil, err, code end
  end
  local eps
  eps, err, code = endpoints(r, "pull")
  if not eps then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end
  local src = st:sources()
  local desc
  for i, ep in ipairs(eps) do
    desc, err, code = pull_from(ep, st, src, opts, want)
    if desc then break end
    if i < #eps then
      events.emit(opts.on_event, { type = "warning", message = ("mirror %s of %s failed, trying %s: %s"):format(
        ep.ref.domain, r.domain, eps[i + 1].ref.domain, err) })
    end
  end
  -- where the image came from, for `fsck` to name the repair
  if desc then src:note(desc.digest, r.domain, r.path) end
  src:save()
  if not desc then return nil, err, code end
  if opts.tag ~= false then
    local ok
    ok, err, code = st:tag(desc, { r })
    if not ok then return nil, err, code end
  end
  return desc
end

-- A copy target that has everything (see push).
local THERE = {
  has_blob = function() return true end,
  put_manifest = function() return true end,
}

--- Pushes the manifest or index desc of st to `reference` (by its tag,
-- "latest" when none; a digest in the reference must be desc's). Blobs
-- the registry has are skipped, blobs another repository of the same
-- registry has (per the store's records) are mounted, the rest uploaded;
-- the tag moves last. Returns {digest=, name= (host/path), ref=, reference=
-- ("host/path@sha256:..."), fresh= (the tag named another image, or
-- none), desc=, repo= (with opts.keep: the repository, its client left
-- open for more requests; close repo.client when done)}, or nil, msg,
-- code.
function M.push(st, desc, reference, opts)
  opts = opts or {}
  local r, err, code = parse(reference)
  if not r then return nil, err, code end
  if r.digest and r.digest ~= desc.digest then
    return nil, ("cannot push %s as %s: the reference names another digest"):format(desc.digest, r.familiar), "BADREF"
  end
  local eps
  eps, err, code = endpoints(r, "push")
  if not eps then return nil, err, code end
  r = eps[1].ref
  local c
  c, err, code = client_for(r, opts, eps[1].insecure)
  if not c then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold then
    c:close()
    return nil, herr, hcode
  end
  local src = st:sources()
  local repo = repo_mod.new(c, r.path, "push")
  local ep = registry_ep.new(repo, { tag = r.tag, root = desc.digest, sources = src })
  -- The tag names this image already: the registry holds every blob it
  -- references (it checked them when the manifest was put), so one HEAD
  -- is all there is to do; each blob is reported as there.
  local have
  have, err, code = repo:head_manifest(r.tag or desc.digest)
  local ok = have ~= nil
  if ok then
    ok, err, code = copy.copy(layout.new(st), desc, have == desc.digest and THERE or ep, { on_event = opts.on_event })
  end
  if ok then src:note(desc.digest, r.domain, r.path) end
  src:save()
  if not ok or not opts.keep then c:close() end
  if not ok then return nil, err, code end
  -- fresh: the tag did not name this image before (signing it right away
  -- need not wait for other signers, see ocibuild.attest.place.registry)
  return { digest = desc.digest, name = r.name, ref = r, reference = r.name .. "@" .. desc.digest,
    fresh = have ~= desc.digest, repo = opts.keep and repo or nil, desc = desc }
end

-- Closes client c; then true, or nil, err, code when ok is not.
local function closing(c, ok, err, code)
  c:close()
  if not ok then return nil, err, code end
  return true
end

-- Whether client c may push to r (see M.check_push): ok, err, code.
local function may_push(c, r)
  if not c.challenge then return true end
  local cr, err, code = c:credentials()
  if cr == false then return errors.auth_required(c, r.path) end
  if cr == nil then return nil, err, code end
  local have
  have, err, code = repo_mod.new(c, r.path, "push"):head_manifest(r.tag or r.digest or "latest")
  return have ~= nil or nil, err, code
end

--- Asks the registry `reference` names, before any work, whether a push
-- there can authenticate: it answers /v2/, credentials are found when it
-- asks for them, and a request with the push scope is accepted (a token
-- for it granted, or the Basic credentials taken), as a login checks
-- them. A token granted less than push is only found out by the push.
-- Returns true, or nil, msg, code.
function M.check_push(reference, opts)
  local r, err, code = parse(reference)
  if not r then return nil, err, code end
  local c
  c, err, code = client_for(r, opts)
  if not c then return nil, err, code end
  return closing(c, may_push(c, r))
end

-- Whether host's registry, through client c, takes the login's creds cr:
-- ok, err, code.
local function takes(c, host, cr)
  local ok, err, code = c:ping()
  if not ok or not c.challenge then return ok, err, code end
  c.creds = { username = cr.username, password = cr.password, source = "the login", login = true }
  if c.challenge.scheme == "bearer" then
    local t
    t, err, code = c:fetch_token({})
    return t ~= nil or nil, err, code
  end
  local res
  res, err, code = c:request { method = "GET", path = "/v2/", max = 64 << 10 }
  if not res then return nil, err, code end
  if res.status ~= 200 then
    return nil, ("%s answered HTTP %d to the login"):format(host, res.status), "HTTP" .. res.status
  end
  return true
end

--- Checks creds ({username=, password=}) against registry `host`: the
-- registry (Basic) or its token endpoint (Bearer) must accept them.
-- Returns true, or nil, msg, code.
function M.check_login(host, cr, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.creds = cr
  local c, err, code = client_mod.new(host, o)
  if not c then return nil, err, code end
  return closing(c, takes(c, host, cr))
end

--- Logs in: checks creds, then stores them (opts.authfile, else the
-- docker config). Returns the file written.
function M.login(host, cr, opts)
  local ok, err, code = M.check_login(host, cr, opts)
  if not ok then return nil, err, code end
  return creds.store(host, cr, opts)
end

--- Logs out: forgets host's credentials. Returns the file and whether
-- there was anything to forget.
function M.logout(host, opts)
  return creds.erase(host, opts)
end

return M
