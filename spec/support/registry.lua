--- Real registries for the specs: docker-registry (distribution 2.8) on
-- loopback, optionally over TLS with a CA made here, with htpasswd Basic
-- auth or Bearer tokens from our Gitea-shaped token server, optionally
-- behind nginx (the ingress, with a body limit, asking for client
-- certificates) and behind our Gitea-shaped front (spec/support/giteafront);
-- and a lax registry that trusts everything and misbehaves on request
-- (spec/support/laxregistry). Every server is a child started by pid and
-- stopped by pid; nothing of the system's config is used.
local T = require "support"

local M = {}

local SERVICE = "container_registry"
local ISSUER = "ocibuild-spec-token-issuer"
local TRIES = 3 -- whole starts, when a chosen port was taken meanwhile

local function nginx_bin()
  for _, p in ipairs { "/usr/sbin/nginx", "/usr/bin/nginx" } do
    if T.exists(p) then return p end
  end
  local code, out = T.sh("command -v nginx")
  if code == 0 then return (out:gsub("%s+$", "")) end
end

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

--- Whether the programs a registry needs are installed: true, or false and
-- the reason (for `pending`). opts (optional) are those of start; only the
-- programs its mode needs are checked.
function M.available(opts)
  opts = opts or { tls = true, auth = "token", body_limit = "1m" }
  local need = { "docker-registry", "curl" }
  if opts.tls or opts.auth == "token" then need[#need + 1] = "openssl" end
  if opts.auth == "basic" then need[#need + 1] = "htpasswd" end
  if opts.auth == "token" or opts.gitea then need[#need + 1] = "go" end
  for _, cmd in ipairs(need) do
    if not have(cmd) then return false, cmd .. " is not installed (scripts/setup installs it)" end
  end
  if (opts.auth == "token" or opts.body_limit or opts.gitea or opts.client_certs) and not nginx_bin() then
    return false, "nginx is not installed (scripts/setup installs nginx-light)"
  end
  return true
end

--- For the describe block it is called in: a registry started with opts
-- (M.start) before the block's tests when one can run here (M.available,
-- then check() -> ok, why when given), and a temp folder; both gone after
-- the tests. set(reg, why, base) is called once they are there (reg nil
-- and why the reason when no registry can run).
function M.serve(opts, set, check)
  local busted = require "busted"
  local reg, base
  busted.setup(function()
    local ok, why = M.available(opts)
    if ok and check then ok, why = check() end
    if ok then reg = M.start(opts) end
    base = T.tmpdir()
    set(reg, why, base)
  end)
  busted.teardown(function()
    if reg then reg.stop() end
    if base then T.sh("rm -rf " .. T.q(base)) end
  end)
end

-- Builds a Go program of spec/support once per process (GOPATH mode,
-- offline), as spec/diff/dockerref.lua builds its helper; renamed into
-- place so that two spec files building at once never run a half-written
-- binary.
local built = {}
local function go_build(name)
  if built[name] then return built[name] end
  local out = T.build .. "/" .. name
  local tmp = out .. "." .. os.tmpname():match("[^/]+$")
  T.must(("cd %s && env GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off GOCACHE=%s "
    .. "go build -o %s . && mv -f %s %s")
    :format(T.q(T.root .. "/spec/support/" .. name), T.q(T.build .. "/go-cache"), T.q(tmp), T.q(tmp), T.q(out)))
  built[name] = out
  return out
end

-- /proc/<pid>/stat: the state letter and the start time (to tell a reused
-- pid from ours).
local function stat(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local rest = s and s:match("^.*%) (.*)$")
  if not rest then return nil end
  local fields = {}
  for w in rest:gmatch("%S+") do fields[#fields + 1] = w end
  return fields[1], fields[20]
end

--- Whether pid is a running process (a zombie counts as gone); when start
-- is given, it must also be the process started then.
function M.alive(pid, start)
  local state, st = stat(pid)
  if not state or state == "Z" or state == "X" then return false end
  return start == nil or st == start
end

local function sleep(s) os.execute("sleep " .. s) end

-- Ports in use on this machine (any TCP state), from /proc/net.
local function used_ports()
  local used = {}
  for _, p in ipairs { "/proc/net/tcp", "/proc/net/tcp6" } do
    local f = io.open(p, "r")
    if f then
      for port in f:read("a"):gmatch("\n%s*%d+: %x+:(%x+) ") do used[tonumber(port, 16)] = true end
      f:close()
    end
  end
  return used
end

-- A random port below Linux's ephemeral range, not in use now. The seed
-- comes from /dev/urandom: specs may have fixed math.random's seed.
local function free_port(taken)
  local f = assert(io.open("/dev/urandom", "rb"))
  local used = used_ports()
  for _ = 1, 200 do
    local a, b = f:read(2):byte(1, 2)
    local port = 20000 + (a * 256 + b) % 12000
    if not used[port] and not taken[port] then
      f:close()
      taken[port] = true
      return port
    end
  end
  f:close()
  error("no free port found", 2)
end

local function yaml_str(s) return '"' .. s:gsub('[\\"]', "\\%0") .. '"' end

local function read_or_empty(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local OPENSSL_CNF = [[
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ocibuild spec
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = %s
[token_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
]]

-- A CA, a server certificate (EC P-256, fast to make) for 127.0.0.1,
-- localhost and hostname, and when rsa is asked an RSA key with a
-- certificate from the same CA that signs tokens.
local function make_certs(dir, hostname, rsa, client)
  local san = "IP:127.0.0.1,DNS:localhost" .. (hostname and (",DNS:" .. hostname) or "")
  T.write(dir .. "/openssl.cnf", OPENSSL_CNF:format(san))
  local cnf = T.q(dir .. "/openssl.cnf")
  local function p(name) return T.q(dir .. "/" .. name) end
  local ec = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "
  local cmds = {
    ec .. p("ca.key"),
    ("openssl req -x509 -new -config %s -extensions ca_ext -key %s -subj %s -days 2 -out %s")
      :format(cnf, p("ca.key"), T.q("/CN=ocibuild spec CA " .. dir:match("[^/]+$")), p("ca.crt")),
    ec .. p("server.key"),
    ("openssl req -new -config %s -key %s -subj /CN=127.0.0.1 -out %s"):format(cnf, p("server.key"), p("server.csr")),
    ("openssl x509 -req -in %s -CA %s -CAkey %s -set_serial 2 -days 2 -extfile %s -extensions server_ext -out %s")
      :format(p("server.csr"), p("ca.crt"), p("ca.key"), cnf, p("server.crt")),
  }
  if rsa then
    cmds[#cmds + 1] = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " .. p("token.key")
    cmds[#cmds + 1] = ("openssl req -new -config %s -key %s -subj %s -out %s")
      :format(cnf, p("token.key"), T.q("/CN=" .. ISSUER), p("token.csr"))
    cmds[#cmds + 1] = ("openssl x509 -req -in %s -CA %s -CAkey %s -set_serial 3 -days 2 -extfile %s "
      .. "-extensions token_ext -out %s"):format(p("token.csr"), p("ca.crt"), p("ca.key"), cnf, p("token.crt"))
  end
  if client then
    -- a client certificate from the same CA, and one from a CA nobody trusts
    cmds[#cmds + 1] = ec .. p("client.key")
    cmds[#cmds + 1] = ("openssl req -new -config %s -key %s -subj /CN=ocibuild-spec-client -out %s")
      :format(cnf, p("client.key"), p("client.csr"))
    cmds[#cmds + 1] = ("openssl x509 -req -in %s -CA %s -CAkey %s -set_serial 4 -days 2 -extfile %s "
      .. "-extensions client_ext -out %s"):format(p("client.csr"), p("ca.crt"), p("ca.key"), cnf, p("client.cert"))
    cmds[#cmds + 1] = ec .. p("stranger.key")
    cmds[#cmds + 1] = ("openssl req -x509 -new -config %s -extensions client_ext -key %s -subj /CN=stranger "
      .. "-days 2 -out %s"):format(cnf, p("stranger.key"), p("stranger.cert"))
  end
  T.must(table.concat(cmds, " 2>&1 && ") .. " 2>&1")
  T.must(("mkdir -p %s && cp %s %s"):format(p("certs"), p("ca.crt"), p("certs/ca.crt")))
end

local function registry_config(h, o)
  local lines = {
    "version: 0.1",
    "log:",
    "  level: info",
    "  formatter: text",
    "storage:",
    "  filesystem:",
    "    rootdirectory: " .. yaml_str(h.dir .. "/data"),
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    "  addr: " .. yaml_str("127.0.0.1:" .. o.reg_port),
    "  secret: " .. yaml_str(o.secret),
    "  relativeurls: " .. tostring(o.relative_urls == true),
    "  headers:",
    "    X-Content-Type-Options: [nosniff]",
  }
  local function add(s) lines[#lines + 1] = s end
  if o.tls and not o.nginx then
    add("  tls:")
    add("    certificate: " .. yaml_str(h.dir .. "/server.crt"))
    add("    key: " .. yaml_str(h.dir .. "/server.key"))
  end
  if o.auth == "basic" then
    add("auth:")
    add("  htpasswd:")
    add("    realm: basic-realm")
    add("    path: " .. yaml_str(h.dir .. "/htpasswd"))
  elseif o.auth == "token" then
    add("auth:")
    add("  token:")
    add("    realm: " .. yaml_str(h.url .. "/v2/token"))
    add("    service: " .. SERVICE)
    add("    issuer: " .. yaml_str(ISSUER))
    add("    rootcertbundle: " .. yaml_str(h.dir .. "/ca.crt"))
  end
  return table.concat(lines, "\n") .. "\n"
end

-- nginx as the ingress: TLS ends here, /v2/token goes to the token server,
-- everything else to the registry, bodies streamed (no buffering) and
-- capped at body_limit. The Host header and X-Forwarded-Proto let the
-- registry build Location URLs that point back at nginx.
local function nginx_config(h, o)
  local d = h.dir
  local lines = {
    "events { worker_connections 256; }",
    "http {",
    "  log_format spec '$request_method $request_uri $status $request_length $body_bytes_sent'",
    "    ' cl=\"$http_content_length\" cr=\"$http_content_range\" te=\"$http_transfer_encoding\"'",
    "    ' up=\"$upstream_status\" loc=\"$sent_http_location\" user=\"$remote_user\"';",
    ("  access_log %s/nginx-access.log spec;"):format(d),
    ("  client_body_temp_path %s/nginx/body;"):format(d),
    ("  proxy_temp_path %s/nginx/proxy;"):format(d),
    ("  fastcgi_temp_path %s/nginx/fastcgi;"):format(d),
    ("  uwsgi_temp_path %s/nginx/uwsgi;"):format(d),
    ("  scgi_temp_path %s/nginx/scgi;"):format(d),
    "  server {",
    ("    listen 127.0.0.1:%d%s;"):format(o.nginx_port, o.tls and " ssl" or ""),
  }
  local function add(s) lines[#lines + 1] = s end
  if o.tls then
    add(("    ssl_certificate %s/server.crt;"):format(d))
    add(("    ssl_certificate_key %s/server.key;"):format(d))
  end
  if o.client_certs then
    add(("    ssl_client_certificate %s/ca.crt;"):format(d))
    add("    ssl_verify_client on;")
  end
  add("    client_max_body_size " .. (o.body_limit or "0") .. ";")
  add("    chunked_transfer_encoding on;")
  add("    proxy_http_version 1.1;")
  add("    proxy_request_buffering off;")
  add("    proxy_buffering off;")
  add("    proxy_read_timeout 300s;")
  add("    proxy_send_timeout 300s;")
  add("    proxy_set_header Host $http_host;")
  add("    proxy_set_header X-Forwarded-Proto $scheme;")
  add("    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
  add("    proxy_set_header X-Real-IP $remote_addr;")
  if o.auth == "token" then
    add(("    location = /v2/token { proxy_pass http://127.0.0.1:%d; }"):format(o.token_port))
  end
  add(("    location / { proxy_pass http://127.0.0.1:%d; }"):format(o.gitea and o.front_port or o.reg_port))
  add("  }")
  add("}")
  return table.concat(lines, "\n") .. "\n"
end

local LOGS = {
  registry = "registry.log",
  nginx = "nginx-access.log",
  ["nginx-error"] = "nginx-error.log",
  ["token-server"] = "token.out",
  token = "token.log",
  front = "front.log",
  lax = "lax.log",
}
local LOG_ORDER = { "registry", "token", "token-server", "front", "lax", "nginx", "nginx-error" }

-- Waits until a log file stops growing (servers write the access line
-- just after the response, so a client may be a little ahead).
local function settled(path)
  local s = read_or_empty(path)
  for _ = 1, 20 do
    sleep(0.03)
    local again = read_or_empty(path)
    if again == s then return s end
    s = again
  end
  return s
end

local function all_logs(h)
  local parts = {}
  for _, name in ipairs(LOG_ORDER) do
    local path = h.dir .. "/" .. LOGS[name]
    if T.exists(path) then
      parts[#parts + 1] = ("== %s ==\n%s"):format(name, read_or_empty(path))
    end
  end
  return table.concat(parts, "\n")
end

-- Starts cmd in the background, its output into log; records its pid.
local function spawn(h, name, cmd, log)
  local out = T.must(("%s >%s 2>&1 </dev/null & echo $!"):format(cmd, T.q(log)))
  local pid = assert(tonumber(out:match("%d+")), "no pid for " .. name)
  -- no start time: it has exited already, and the pid is not ours to kill
  local _, start = stat(pid)
  h.pids[name] = pid
  h.procs[#h.procs + 1] = { name = name, pid = pid, start = start or "exited" }
  return pid
end

-- Polls url until any HTTP answer (bounded), while pid lives. On failure:
-- "EADDRINUSE" when the log says so (the caller retries elsewhere), else
-- an error carrying the logs.
local function wait_ready(h, name, pid, url, log)
  local curl = "curl -s -o /dev/null --max-time 2 " .. (h.ca and ("--cacert " .. T.q(h.ca) .. " ") or "")
  local script = ([[
for i in $(seq 200); do
  %s %s && exit 0
  kill -0 %d 2>/dev/null || exit 3
  sleep 0.05
done
exit 4]]):format(curl, T.q(url), pid)
  local code = T.sh(script)
  if code == 0 then return end
  local text = read_or_empty(log)
  if text:find("address already in use", 1, true) or text:find("Address already in use", 1, true) then
    error("EADDRINUSE", 0)
  end
  error(("%s did not become ready at %s (%s)\n%s"):format(name, url,
    code == 3 and "it exited" or "timed out", all_logs(h)), 0)
end

local function stop(h)
  if h.stopped then return end
  h.stopped = true
  for i = #h.procs, 1, -1 do
    local p = h.procs[i]
    if M.alive(p.pid, p.start) then os.execute("kill -TERM " .. p.pid .. " 2>/dev/null") end
  end
  for _, p in ipairs(h.procs) do
    for _ = 1, 100 do
      if not M.alive(p.pid, p.start) then break end
      sleep(0.02)
    end
    if M.alive(p.pid, p.start) then
      os.execute("kill -KILL " .. p.pid .. " 2>/dev/null")
      for _ = 1, 50 do
        if not M.alive(p.pid, p.start) then break end
        sleep(0.02)
      end
    end
  end
  if h.dir then T.sh("rm -rf " .. T.q(h.dir)) end
end

-- The handle's functions are closures, so that both reg.stop() and
-- reg:stop() work.
local function log(h, which)
  if which then
    assert(LOGS[which], "registry log: unknown log " .. tostring(which))
    return settled(h.dir .. "/" .. LOGS[which])
  end
  settled(h.dir .. "/" .. LOGS[h.front])
  return all_logs(h)
end

local function since_start(h, which) return log(h, which):sub(h.marks[which] + 1) end

local function requests(h)
  local list = {}
  if h.front == "lax" then
    local cjson = require "cjson"
    for line in since_start(h, "lax"):gmatch("[^\n]+") do
      local e = cjson.decode(line)
      e.line = line
      e.path = e.path .. (e.query ~= "" and ("?" .. e.query) or "")
      list[#list + 1] = e
    end
  elseif h.front == "nginx" then
    for line in since_start(h, "nginx"):gmatch("[^\n]+") do
      local m, p, s = line:match("^(%u+) (%S+) (%d+) ")
      if m then
        list[#list + 1] = { method = m, path = p, status = tonumber(s), location = line:match(' loc="([^"]*)"'),
          line = line }
      end
    end
  else
    for line in since_start(h, "registry"):gmatch("[^\n]+") do
      local m, p, s = line:match('"(%u+) (%S+) HTTP/[%d.]+" (%d+) ')
      if m then list[#list + 1] = { method = m, path = p, status = tonumber(s), line = line } end
    end
  end
  return list
end

local function token_requests(h)
  local cjson = require "cjson"
  local list = {}
  for line in since_start(h, "token"):gmatch("[^\n]+") do list[#list + 1] = cjson.decode(line) end
  return list
end

local Handle = {}
Handle.__close = stop
Handle.__gc = stop

local function new_handle(users)
  local h = setmetatable({ pids = {}, procs = {}, users = users }, Handle)
  local function self_or(a, b) if a == h then return b end return a end
  h.log = function(a, b) return log(h, self_or(a, b)) end
  h.requests = function() return requests(h) end
  h.token_requests = function() return token_requests(h) end
  h.stop = function() stop(h) end
  return h
end

local function attempt(h, o)
  local taken = {}
  o.reg_port = free_port(taken)
  o.nginx = o.auth == "token" or o.body_limit ~= nil or o.gitea or o.client_certs
  if o.nginx then o.nginx_port = free_port(taken) end
  if o.gitea then o.front_port = free_port(taken) end
  if o.auth == "token" then o.token_port = free_port(taken) end
  local scheme = o.tls and "https" or "http"
  local front = o.nginx and o.nginx_port or o.reg_port
  h.host = "127.0.0.1:" .. front
  h.url = scheme .. "://" .. h.host
  o.secret = T.must("od -An -tx1 -N16 /dev/urandom"):gsub("%s", "")

  T.write(h.dir .. "/registry.yml", registry_config(h, o))
  if o.auth == "token" then
    local users = {}
    for u, pw in pairs(h.users) do users[#users + 1] = u .. ":" .. pw end
    table.sort(users)
    T.write(h.dir .. "/users", table.concat(users, "\n") .. "\n", tonumber("600", 8))
    local pid = spawn(h, "token", ("%s -addr 127.0.0.1:%d -key %s -cert %s -users %s -issuer %s -service %s -log %s")
      :format(T.q(o.token_bin), o.token_port, T.q(h.dir .. "/token.key"), T.q(h.dir .. "/token.crt"),
        T.q(h.dir .. "/users"), T.q(ISSUER), SERVICE, T.q(h.dir .. "/token.log")), h.dir .. "/token.out")
    -- any other path answers 404 and stays out of the token log
    wait_ready(h, "token server", pid, ("http://127.0.0.1:%d/ready"):format(o.token_port), h.dir .. "/token.out")
  end

  local reg_url = (o.tls and not o.nginx and "https" or "http") .. "://127.0.0.1:" .. o.reg_port .. "/v2/"
  local pid = spawn(h, "registry", "docker-registry serve " .. T.q(h.dir .. "/registry.yml"), h.dir .. "/registry.log")
  wait_ready(h, "docker-registry", pid, reg_url, h.dir .. "/registry.log")

  if o.gitea then
    h.front_url = "http://127.0.0.1:" .. o.front_port
    local fpid = spawn(h, "front", ("%s -addr 127.0.0.1:%d -upstream http://127.0.0.1:%d -log %s -manifest-limit %d")
      :format(T.q(o.front_bin), o.front_port, o.reg_port, T.q(h.dir .. "/front.log"), o.manifest_limit or (10 << 20)),
      h.dir .. "/front.out")
    wait_ready(h, "gitea front", fpid, ("http://127.0.0.1:%d/v2/"):format(o.front_port), h.dir .. "/front.out")
  end

  if o.nginx then
    T.must("mkdir -p " .. T.q(h.dir .. "/nginx"))
    T.write(h.dir .. "/nginx.conf", nginx_config(h, o))
    local cmd = ("%s -p %s -c %s -e %s -g %s"):format(T.q(o.nginx_bin), T.q(h.dir .. "/nginx/"),
      T.q(h.dir .. "/nginx.conf"), T.q(h.dir .. "/nginx-error.log"),
      T.q(("daemon off; master_process off; pid %s/nginx.pid;"):format(h.dir)))
    pid = spawn(h, "nginx", cmd, h.dir .. "/nginx.out")
    wait_ready(h, "nginx", pid, h.url .. "/v2/", h.dir .. "/nginx-error.log")
  end
end

local function check_opts(o)
  assert(type(o) == "table", "registry.start: options table expected")
  assert(o.auth == nil or o.auth == "basic" or o.auth == "token", "registry.start: auth must be nil, basic or token")
  assert(o.body_limit == nil or tostring(o.body_limit):match("^%d+[kKmMgG]?$"),
    "registry.start: body_limit must be an nginx size such as 1m")
  assert(o.hostname == nil or o.hostname:match("^[%w.-]+$"), "registry.start: bad hostname")
  assert(not o.client_certs or o.tls, "registry.start: client_certs needs tls")
  for u, pw in pairs(o.users or {}) do
    assert(type(u) == "string" and u:match("^[%w._-]+$") and type(pw) == "string" and not pw:find("[\n:]"),
      "registry.start: users maps names to passwords")
  end
end

-- A handle (users) in a new temp folder /tmp/ocibuild-TAG.*, on which
-- launch(h) starts what it serves; a launch whose ports another process
-- took meanwhile (EADDRINUSE) is stopped and tried again on new ones, up
-- to TRIES times. ready(h) then sets what requests() starts after.
local function launched(what, tag, users, launch, ready)
  local last
  for _ = 1, TRIES do
    local h = new_handle(users)
    h.dir = T.must(("mktemp -d /tmp/ocibuild-%s.XXXXXX"):format(tag)):gsub("%s+$", "")
    local done, err = pcall(launch, h)
    if done then
      ready(h)
      return h
    end
    stop(h)
    last = err
    if err ~= "EADDRINUSE" then error(err, 3) end
  end
  error(what .. ": ports kept being taken: " .. tostring(last), 3)
end

--- Starts a registry; returns its handle. opts: tls (bool), auth (nil,
-- "basic", "token"), users ({name = password}; default giteaAdmin =
-- "developer"), body_limit (nginx size, puts nginx in front), hostname
-- (added to the certificate), relative_urls (bool: http.relativeurls),
-- gitea (bool: our Gitea-shaped front between nginx and the registry;
-- manifest_limit, its largest manifest; the handle's front_url reaches it
-- past nginx, for its /_front/ knobs), client_certs (bool, with tls:
-- nginx asks for a client certificate of the CA; the handle's
-- client_cert/client_key are one, stranger_cert/stranger_key one of
-- another CA). Token mode always puts nginx in front. Raises, with the
-- servers' logs, when a server does not come up; stops whatever it
-- started first.
--
-- The handle: host ("127.0.0.1:PORT", nginx's when in front), url, ca and
-- cert_dir (tls: the CA PEM, and a folder holding only ca.crt for skopeo's
-- --cert-dir), users, pids ({registry=, nginx=, token=}), dir, front
-- ("registry" or "nginx"); log(which), requests(), token_requests() and
-- stop(), callable as reg.f() or reg:f(). `local reg <close>` also works.
function M.start(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  check_opts(o)
  local ok, why = M.available(o)
  if not ok then error("registry.start: " .. why, 2) end
  if o.auth == "token" then o.token_bin = go_build("tokenserver") end
  if o.gitea then o.front_bin = go_build("giteafront") end
  if o.auth == "token" or o.body_limit or o.gitea or o.client_certs then o.nginx_bin = nginx_bin() end

  local users = {}
  for u, pw in pairs(o.users or { giteaAdmin = "developer" }) do users[u] = pw end
  return launched("registry.start", "reg", users, function(h)
    if o.tls or o.auth == "token" then make_certs(h.dir, o.hostname, o.auth == "token", o.client_certs) end
    if o.tls then
      h.ca = h.dir .. "/ca.crt"
      h.cert_dir = h.dir .. "/certs"
    end
    if o.client_certs then
      h.client_cert, h.client_key = h.dir .. "/client.cert", h.dir .. "/client.key"
      h.stranger_cert, h.stranger_key = h.dir .. "/stranger.cert", h.dir .. "/stranger.key"
    end
    if o.auth == "basic" then
      local lines = {}
      for u, pw in pairs(users) do
        lines[#lines + 1] = T.must(("htpasswd -Bbn %s %s"):format(T.q(u), T.q(pw))):gsub("%s+$", "")
      end
      T.write(h.dir .. "/htpasswd", table.concat(lines, "\n") .. "\n")
    end
    attempt(h, o)
  end, function(h)
    h.front = o.nginx and "nginx" or "registry"
    -- requests() starts after the readiness probes
    h.marks = {}
    for name, file in pairs(LOGS) do
      local path = h.dir .. "/" .. file
      h.marks[name] = (name == "registry" or name == h.front) and #settled(path) or #read_or_empty(path)
    end
  end)
end

--- Starts the lax registry (spec/support/laxregistry: blobs stored under
-- the digest the client names, never checked; behaviours picked by the
-- repository's first component). Returns a handle as start's: host, url,
-- requests() (decoded log lines: method, path with query, range, status,
-- note, bytes), log(), stop().
function M.lax()
  for _, cmd in ipairs { "go", "curl" } do
    if not have(cmd) then error("registry.lax: " .. cmd .. " is not installed (scripts/setup installs it)", 2) end
  end
  local bin = go_build("laxregistry")
  return launched("registry.lax", "lax", {}, function(h)
    local port = free_port({})
    h.host = "127.0.0.1:" .. port
    h.url = "http://" .. h.host
    local pid = spawn(h, "lax", ("%s -addr %s -log %s"):format(T.q(bin), h.host, T.q(h.dir .. "/lax.log")),
      h.dir .. "/lax.out")
    wait_ready(h, "lax registry", pid, h.url .. "/v2/", h.dir .. "/lax.out")
  end, function(h)
    h.front = "lax"
    h.marks = { lax = #settled(h.dir .. "/lax.log") }
  end)
end

--- How many of the requests list (reg.requests()) have method, a path
-- matching pattern and, when given, status.
function M.count(list, method, pattern, status)
  local n = 0
  for _, r in ipairs(list) do
    if r.method == method and r.path:match(pattern) and (not status or r.status == status) then n = n + 1 end
  end
  return n
end

return M
