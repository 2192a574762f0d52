--- One registry host as the client sees it: the HTTP connections (TLS
-- checked as ocibuild.registry.trust says) and their scheduler
-- (ocibuild.registry.sched), the scheme (HTTPS first; plain HTTP only with
-- --plain-http, for a registry registries.conf calls insecure, or for a
-- loopback address that does not speak TLS at all), the auth the registry
-- asked for at /v2/ (Basic, or Bearer tokens cached per scope), and the
-- limits of a request (a deadline, a lowest speed). Requests are retried
-- as ocibuild.registry.retry says. Functions return nil, msg, code on
-- failure (see ocibuild.registry.errors).
local auth = require "ocibuild.registry.auth"
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local creds_mod = require "ocibuild.registry.creds"
local errors = require "ocibuild.registry.errors"
local retry = require "ocibuild.registry.retry"
local sched = require "ocibuild.registry.sched"
local trust = require "ocibuild.registry.trust"
local url = require "ocibuild.registry.url"
local version = require "ocibuild.util.version"

local M = {}
local Client = {}
Client.__index = Client

M.MIN_SPEED = 1024 -- bytes/s: a transfer slower than this ...
M.SPEED_TIME = 60  -- ... for this many seconds is given up
M.SHORT = 300      -- seconds: the longest an API call without a blob may take

local function loopback(ip)
  return type(ip) == "string" and (ip:match("^127%.") ~= nil or ip == "::1" or ip:match("^::ffff:127%.") ~= nil)
end

-- The options that limit requests, checked: nil, or a message.
local function check_limits(o)
  local function num(k, lo, int)
    local v = o[k]
    if v == nil then return nil end
    if type(v) ~= "number" or v ~= v or v < lo or v > 1e9 or (int and math.type(v) ~= "integer") then
      return ("registry option %s must be %s from %d"):format(k, int and "an integer" or "a number", lo)
    end
  end
  return num("timeout", 1) or num("min_speed", 0, true) or num("speed_time", 1, true) or num("retries", 0, true)
end

--- A client for registry `domain` ("host[:port]"; docker.io means Docker
-- Hub's API host). opts: {creds=, authfile=, ca_file=, insecure=,
-- plain_http=, allow_http= (HTTPS first, then HTTP), jobs= (default 4),
-- chunk_size=, timeout= (seconds a request may take, retries included),
-- min_speed= (bytes/s) and speed_time= (seconds: slower for that long is
-- given up), retries=, repo= (the repository path, for credentials filed
-- per namespace), on_event=}.
function M.new(domain, opts)
  opts = opts or {}
  local bad = check_limits(opts)
  if bad then return nil, bad, "EINVAL" end
  local port = tonumber(domain:match(":(%d+)$") or "1")
  if port < 1 or port > 65535 then
    return nil, ("registry %s: port %s is not from 1 to 65535"):format(domain, domain:match(":(%d+)$")), "BADREF"
  end
  local tls, source, code = trust.options(domain, opts)
  if not tls then return nil, source, code end
  tls.user_agent = "ocibuild/" .. version
  tls.low_speed_limit = opts.min_speed or M.MIN_SPEED
  tls.low_speed_time = opts.speed_time or M.SPEED_TIME
  local http, err
  http, err, code = core.http(tls)
  if not http then return nil, err, code end
  return setmetatable({
    domain = domain, api = domain == "docker.io" and "registry-1.docker.io" or domain, opts = opts,
    http = http, sched = sched.new(http, { jobs = opts.jobs, on_event = opts.on_event }), trust = source,
    client_cert = tls.cert_file,
    tokens = auth.cache(), on_event = opts.on_event, chunk_size = opts.chunk_size or (64 << 20),
  }, Client)
end

function Client:close()
  self.http:close()
end

function Client:now()
  return self.http:now()
end

--- See ocibuild.registry.sched: run(fns), send(spec, progress), sleep(s),
-- alone(key, fn).
function Client:run(fns) return self.sched:run(fns) end
function Client:send(spec, progress) return self.sched:send(spec, progress) end
function Client:sleep(s) return self.sched:sleep(s) end
function Client:alone(key, fn) return self.sched:alone(key, fn) end

--- A retry policy for one request (see ocibuild.registry.retry).
function Client:retrier(what, opts)
  return retry.new(self, what, opts)
end

-- A request's deadline: the time its policy leaves, and no more than
-- SHORT for one without a blob.
local function deadline(policy, spec)
  local left = policy:left()
  if spec.blob or spec.into then return left end
  return math.min(left, spec.timeout or M.SHORT)
end

--- send, again as the retry policy says (when retry).
function Client:send_retry(spec, retry_, progress)
  local policy = self:retrier((spec.method or "GET") .. " " .. spec.url)
  while true do
    local s = {}
    for k, v in pairs(spec) do s[k] = v end
    s.timeout = deadline(policy, spec)
    local res, err, code, info = self:send(s, progress)
    if not (retry_ and policy:again(res, err, code)) then
      if not res and err then err = policy:say(err) end
      if res then res.retried = policy.stop end
      return res, err, code, info
    end
  end
end

-- ---- trust, scheme, auth ----

-- The issuer of the top certificate the server presents (asked again
-- without verification, only to name it in the message).
function Client:x509(target, err)
  local res, _, _, info = self:send { url = target, insecure = true, certinfo = true, timeout = 30, max = 64 << 10 }
  local certs = (res and res.info or info or {}).certs or ""
  local issuer
  for line in certs:gmatch("[^\n]+") do issuer = line:match("^Issuer:%s*(.*)$") or issuer end
  return errors.x509(self, err, issuer)
end

-- What the transfer's own checks found stays as it is, for the caller to word.
local OWN = { CORRUPT = true, TOOBIG = true, BADDIGEST = true, CHANGED = true, BADSIZE = true }

local function fail_send(self, err, code, target)
  local limit = code == "TOOBIG" and tostring(err):match("^[%u]*:? ?response body over (%d+) bytes")
  if limit then
    limit = tonumber(limit)
    return nil, ("%s: the answer to %s is larger than %s, the most ocibuild reads for it"):format(self.domain,
      url.show(target), limit % (1 << 20) == 0 and ("%d MiB"):format(limit >> 20) or ("%d KiB"):format(limit >> 10)),
      code
  end
  if OWN[code] then return nil, err, code end
  -- curl refuses to follow a redirect to plain HTTP of what was asked over TLS
  if tostring(err):find('Protocol "http" not supported', 1, true) and url.split(target or "") == "https" then
    return nil, ("%s: %s was redirected from HTTPS to plain HTTP, which ocibuild does not follow"):format(
      self.domain, url.show(target)), "BADURL"
  end
  if code == "X509" then return self:x509(target, err) end
  -- a TLS server that refuses the handshake without a client certificate
  local alert = tostring(err):match("alert (%a[%a ]*certificate[%a ]*)") or tostring(err):match("alert (unknown ca)")
  if alert then return errors.client_cert(self, alert) end
  return errors.network(self, err, code, target)
end

-- true when realm (a Bearer challenge's) is a URL a token may be asked
-- from, else nil, msg.
function Client:usable_realm(realm)
  if type(realm) ~= "string" or not realm:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/?#%s]") or realm:find("[%s%c]") then
    return nil, ("%s asks for a token from an unusable realm %s"):format(self.domain, check.show(realm)), "HTTP401"
  end
  return true
end

-- What a /v2/ answer says about auth.
function Client:learn(res)
  if res.status ~= 401 then
    self.challenge = false
    return true
  end
  local list = auth.challenges(res.headers["www-authenticate"])
  local bearer = auth.find(list, "bearer")
  if bearer then
    local realm = bearer.params.realm
    local ok, err = self:usable_realm(realm)
    if not ok then return nil, err, "HTTP401" end
    self.challenge = { scheme = "bearer", realm = realm, service = bearer.params.service }
  elseif auth.find(list, "basic") then
    self.challenge = { scheme = "basic" }
  else
    return nil, ("%s asks for an authentication ocibuild does not know: %s"):format(self.domain,
      tostring(res.headers["www-authenticate"])), "HTTP401"
  end
  return true
end

--- GET /v2/ once: picks the scheme and learns the auth challenge.
function Client:ping()
  while not self.base do
    local ran, ok, err, code = self:alone("ping", function() return self:ping_once() end)
    if ran then return ok, err, code end
  end
  return true
end

function Client:ping_once()
  local schemes = self.opts.plain_http and { "http" } or { "https", "http" }
  for _, scheme in ipairs(schemes) do
    local target = scheme .. "://" .. self.api .. "/v2/"
    local res, err, code, info = self:send_retry({ url = target, timeout = 60, max = 64 << 10 }, true)
    if res then
      if scheme == "http" and res.status == 400 and res.body:find("HTTPS server", 1, true) then
        return nil, ("%s speaks HTTPS, not plain HTTP: drop --plain-http"):format(self.domain), "NOTLS"
      end
      -- nginx's answers to a missing or refused client certificate
      if scheme == "https" and res.status == 400 and res.body:find("SSL certificate", 1, true) then
        return errors.client_cert(self, res.body:match("<title>%s*%d*%s*(.-)%s*</title>"))
      end
      if res.status ~= 200 and res.status ~= 401 then return errors.not_registry(self, target, res.status) end
      local ok
      ok, err, code = self:learn(res)
      if not ok then return nil, err, code end
      self.base = scheme .. "://" .. self.api
      return true
    end
    -- a loopback address answering TLS with plain HTTP (not a bad
    -- certificate), or a registry allowed to speak plain HTTP
    local fallback = scheme == "https" and #schemes > 1 and code ~= "X509" and code ~= "CLIENTCERT" and
      (self.opts.allow_http or (code == "NOTLS" and info and loopback(info.ip)))
    if not fallback then return fail_send(self, err, code, target) end
  end
end

--- The credentials to use (looked up once, when a challenge asks):
-- creds, false for none, or nil, msg, code.
function Client:credentials()
  if self.creds == nil then
    local cr, err, code = creds_mod.lookup(self.domain, self.opts.repo, self.opts)
    if cr == nil then return nil, err, code end
    self.creds = cr
  end
  return self.creds
end

--- A token for the scope set `scopes` from the Bearer realm.
function Client:fetch_token(scopes, repo)
  local ch = self.challenge
  local cr, err, code = self:credentials()
  if cr == nil then return nil, err, code end
  local now = self.http:now()
  if cr and cr.token then
    local t = { realm = ch.realm, service = ch.service, scopes = scopes, token = cr.token, expires = math.huge }
    self.tokens:put(t)
    return t
  end
  local user = cr and cr.username
  -- a password never crosses the network in clear text when the registry
  -- itself is reached over TLS
  if user and url.split(ch.realm) ~= "https" and url.split(self.base or "") == "https" then
    return nil, ("%s asks for the password of %s to be sent to %s over plain HTTP; refused: the registry is "
      .. "reached over HTTPS, and its token realm must be too"):format(self.domain, check.show(user),
        url.show(ch.realm)), "HTTP401"
  end
  local target = auth.token_url(ch.realm, ch.service, scopes, user)
  local res
  res, err, code = self:send_retry({ url = target, headers = user and { auth.basic_header(cr) } or nil,
    timeout = 60, max = 1 << 20 }, true)
  if not res then return fail_send(self, err, code, ch.realm) end
  if res.status == 401 or res.status == 403 then
    if user then return errors.auth_failed(self, ch.realm) end
    return errors.auth_required(self, repo or "it")
  end
  if res.status ~= 200 then return errors.status(self.domain, res, "token request to " .. url.show(ch.realm)) end
  local tok, ttl = auth.read_token(res.body)
  if not tok then return nil, ("%s: %s"):format(url.show(ch.realm), ttl), "HTTP" .. res.status end
  local t = { realm = ch.realm, service = ch.service, scopes = scopes, token = tok,
    expires = now + math.max(ttl - 10, ttl / 2) }
  self.tokens:put(t)
  return t
end

-- The Authorization header for a request needing `scopes`: header, and
-- what was used ("basic" or the token), or nil (none), or nil, msg, code.
function Client:authorization(scopes, repo)
  local ch = self.challenge
  if not ch then return false end
  if ch.scheme == "basic" then
    local cr, err, code = self:credentials()
    if cr == nil then return nil, err, code end
    if cr and cr.username then return auth.basic_header(cr), "basic" end
    if cr and cr.token then return "Authorization: Bearer " .. cr.token, "basic" end
    return false
  end
  if next(scopes) == nil then return false end
  local t
  repeat
    t = self.tokens:get(ch.realm, ch.service, scopes, self.http:now())
    if t then break end
    -- one token request at a time: tasks that need the same token wait
    local ran, got, err, code = self:alone("token", function() return self:fetch_token(scopes, repo) end)
    if ran and not got then return nil, err, code end
    t = got
  until t
  return "Authorization: Bearer " .. t.token, t
end

-- A 401: true to try again with what was learnt, or nil, msg, code.
function Client:on_401(res, spec, used)
  local list = auth.challenges(res.headers["www-authenticate"])
  local bearer = auth.find(list, "bearer")
  if bearer and bearer.params.realm then
    local usable, why = self:usable_realm(bearer.params.realm)
    if not usable then return nil, why, "HTTP401" end
    self.challenge = { scheme = "bearer", realm = bearer.params.realm, service = bearer.params.service }
    local want = auth.union(spec.scopes or {}, auth.scopes { bearer.params.scope })
    if type(used) == "table" then
      self.tokens:drop(used)
      -- asked for all of it and was granted less: that is the answer
      if bearer.params.error == "insufficient_scope" and auth.covers(used.scopes, want) then
        return errors.denied(self, spec.repo or "?", spec.action)
      end
    end
    local t, err, code = self:fetch_token(want, spec.repo)
    if not t then return nil, err, code end
    return true
  end
  if auth.find(list, "basic") then
    self.challenge = { scheme = "basic" }
    local cr, err, code = self:credentials()
    if cr == nil then return nil, err, code end
    if not cr then return errors.auth_required(self, spec.repo or "it") end
    if used == "basic" then return errors.auth_failed(self) end
    return true
  end
  return errors.status(self.domain, res, ("%s %s"):format(spec.method or "GET", url.show(spec.url or spec.path)))
end

--- A request to the registry API, authenticated as the registry asks.
-- spec: what core.http's start takes, with `path` (under the base URL)
-- or `url`, plus scopes (a scope set), repo and action (for messages),
-- retry (default true: as ocibuild.registry.retry says; false for a
-- request its caller retries itself) and progress.
-- Returns the result whatever its status, except 401 and 403, which
-- become failures; nil, msg, code when the exchange itself failed.
function Client:request(spec)
  local ok, err, code = self:ping()
  if not ok then return nil, err, code end
  local target = spec.url or (self.base .. spec.path)
  -- credentials go to the registry's own scheme and host only (a Location
  -- may name another); and what is sent to an HTTPS registry never drops
  -- to plain HTTP on the way
  local own = url.same_origin(target, self.base)
  if not own and url.host(target) == url.host(self.base) and url.split(self.base) == "https" then
    return nil, ("%s sent a plain-HTTP URL for %s, which it serves over HTTPS: %s; refused (behind a TLS "
      .. "proxy, the registry must be told the scheme, e.g. X-Forwarded-Proto)"):format(self.domain,
        spec.action or "a request", url.show(target)), "BADURL"
  end
  local rounds = 0
  while true do
    local headers = {}
    for i, h in ipairs(spec.headers or {}) do headers[i] = h end
    local hdr, used = false, nil
    if own then
      hdr, used, code = self:authorization(spec.scopes or {}, spec.repo)
      if hdr == nil then return nil, used, code end
    end
    if hdr then headers[#headers + 1] = hdr end
    local res
    res, err, code = self:send_retry({
      method = spec.method, url = target, headers = headers, body = spec.body, blob = spec.blob,
      into = spec.into, into_file = spec.into_file, max = spec.max or (1 << 20), follow = spec.follow,
      timeout = spec.timeout }, spec.retry ~= false, spec.progress)
    if not res then return fail_send(self, err, code, target) end
    if res.status == 401 and rounds < 3 then
      rounds = rounds + 1
      ok, err, code = self:on_401(res, spec, used)
      if not ok then return nil, err, code end
    elseif res.status == 401 then
      if self.creds then return errors.auth_failed(self, self.challenge and self.challenge.realm) end
      return errors.auth_required(self, spec.repo or "it")
    elseif res.status == 403 then
      return errors.denied(self, spec.repo or "?", spec.action)
    else
      return res
    end
  end
end

return M
