-- The registry test infrastructure (spec/support/registry.lua) works: for
-- each mode (plain HTTP; TLS + Basic; TLS + tokens behind nginx; nginx with
-- a body limit), skopeo pushes a small hand-made OCI image and reads it
-- back, auth refuses what it must, and every server is gone after stop.
local T = require "support"
local R = require "support.registry"

local MANIFEST = "application/vnd.oci.image.manifest.v1+json"

-- Writes blob data into layout; returns its descriptor fields.
local function add_blob(layout, path)
  local hex = T.sha256_file(path)
  T.must(("cp %s %s"):format(T.q(path), T.q(layout .. "/blobs/sha256/" .. hex)))
  return "sha256:" .. hex, #T.read(path)
end

-- A one-layer OCI image in an OCI layout, tagged v1; the layer is gzip
-- (skopeo keeps compressed layers as they are, so digests survive a push).
-- extra: size of a random file added to the layer.
local function make_image(dir, extra)
  local layout = dir .. "/layout"
  T.must("mkdir -p " .. T.q(layout .. "/blobs/sha256") .. " " .. T.q(dir .. "/src"))
  T.write(dir .. "/src/hello.txt", "hello from " .. dir .. "\n")
  if extra then T.must(("head -c %d /dev/urandom > %s"):format(extra, T.q(dir .. "/src/random.bin"))) end
  T.must(("tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C %s -cf %s . && gzip -n -c %s > %s")
    :format(T.q(dir .. "/src"), T.q(dir .. "/layer.tar"), T.q(dir .. "/layer.tar"), T.q(dir .. "/layer.tgz")))
  local layer, layer_size = add_blob(layout, dir .. "/layer.tgz")
  T.write(dir .. "/config.json", ('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":'
    .. '["sha256:%s"]}}'):format(T.sha256_file(dir .. "/layer.tar")))
  local config, config_size = add_blob(layout, dir .. "/config.json")
  local manifest = ('{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":'
    .. '"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":'
    .. '"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}')
    :format(MANIFEST, config, config_size, layer, layer_size)
  T.write(dir .. "/manifest.json", manifest)
  local digest, size = add_blob(layout, dir .. "/manifest.json")
  T.write(layout .. "/oci-layout", '{"imageLayoutVersion":"1.0.0"}')
  T.write(layout .. "/index.json", ('{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%d,'
    .. '"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}'):format(MANIFEST, digest, size))
  return { ref = "oci:" .. layout .. ":v1", digest = digest, manifest = manifest, layer = layer, config = config }
end

-- skopeo with no credentials from the host and no policy file needed.
local function skopeo(tmp, args)
  return T.sh(("env REGISTRY_AUTH_FILE=%s skopeo --insecure-policy %s"):format(T.q(tmp .. "/auth.json"), args))
end

local function push(tmp, reg, img, repo, creds)
  local tls = reg.cert_dir and ("--dest-cert-dir " .. T.q(reg.cert_dir)) or "--dest-tls-verify=false"
  local auth = creds and ("--dest-creds " .. T.q(creds)) or "--dest-no-creds"
  return skopeo(tmp, ("copy --preserve-digests %s %s %s %s"):format(tls, auth, T.q(img.ref),
    T.q("docker://" .. reg.host .. "/" .. repo .. ":v1")))
end

-- skopeo inspect of repo:v1: code, the decoded answer (or nil), stderr.
local function inspect(tmp, reg, repo, creds, raw)
  local tls = reg.cert_dir and ("--cert-dir " .. T.q(reg.cert_dir)) or "--tls-verify=false"
  local auth = creds and ("--creds " .. T.q(creds)) or "--no-creds"
  local code, out, err = skopeo(tmp, ("inspect %s %s %s %s"):format(raw and "--raw" or "", tls, auth,
    T.q("docker://" .. reg.host .. "/" .. repo .. ":v1")))
  if code ~= 0 then return code, nil, err end
  return code, raw and out or T.json(out), err
end

-- One HTTP request with curl: {status=, headers={lower-case name = value},
-- body=}. o: headers (list), user ("u:p"), data (a file to send), url
-- (absolute, or a path on reg), cacert (false: none).
local function http(tmp, reg, method, o)
  local url = o.url:match("^https?://") and o.url or (reg.url .. o.url)
  local words = { "curl -s", method == "HEAD" and "-I" or ("-X " .. method), "-D", T.q(tmp .. "/h"), "-o", T.q(tmp
    .. "/b"), "-w '%{http_code}'" }
  if reg.ca and o.cacert ~= false then words[#words + 1] = "--cacert " .. T.q(reg.ca) end
  if o.user then words[#words + 1] = "-u " .. T.q(o.user) end
  if o.data then words[#words + 1] = "--data-binary @" .. T.q(o.data) end
  for _, h in ipairs(o.headers or {}) do words[#words + 1] = "-H " .. T.q(h) end
  for _, w in ipairs(o.extra or {}) do words[#words + 1] = w end
  words[#words + 1] = T.q(url)
  local code, out, err = T.sh(table.concat(words, " "))
  if code ~= 0 then return { curl = code, err = err } end
  local headers = {}
  for name, value in T.read(tmp .. "/h"):gmatch("([%w-]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return { status = tonumber(out), headers = headers, body = T.read(tmp .. "/b") }
end

local count = R.count

-- Stops reg and checks that nothing of it is left.
local function stop_and_check(reg)
  local pids = {}
  for name, pid in pairs(reg.pids) do pids[name] = pid end
  reg.stop()
  reg.stop()
  for name, pid in pairs(pids) do assert.is_false(R.alive(pid), name .. " (pid " .. pid .. ") still runs") end
  assert.is_false(T.exists(reg.dir), "temp folder left: " .. reg.dir)
end

describe("support.registry", function()
  local base, img

  setup(function()
    base = T.tmpdir()
    img = make_image(base .. "/small")
  end)

  teardown(function()
    if base then T.sh("rm -rf " .. T.q(base)) end
  end)

  -- Each test starts its registry through this, so that one finally both
  -- stops it and removes tmp (busted keeps only the last finally).
  local function start(opts, finally)
    local ok, why = R.available(opts)
    if not ok then return nil, why end
    local tmp = T.tmpdir()
    local ctx = {}
    T.finally(finally, function()
      if ctx.reg then ctx.reg.stop() end
      T.sh("rm -rf " .. T.q(tmp))
    end)
    ctx.reg = R.start(opts)
    return ctx.reg, tmp
  end

  it("plain HTTP: skopeo pushes and inspects; Location is absolute", function()
    local reg, tmp = start({}, finally)
    if not reg then return pending(tmp) end
    assert.matches("^127%.0%.0%.1:%d+$", reg.host)
    assert.equal("http://" .. reg.host, reg.url)
    assert.is_nil(reg.ca)
    assert.same({ "registry" }, (function()
      local k = {}
      for name in pairs(reg.pids) do k[#k + 1] = name end
      return k
    end)())

    local code, out, err = push(tmp, reg, img, "plain/app")
    assert.equal(0, code, out .. err)
    local _, info, ierr = inspect(tmp, reg, "plain/app")
    assert.is_table(info, ierr)
    assert.equal(img.digest, info.Digest)
    local _, raw = inspect(tmp, reg, "plain/app", nil, true)
    assert.equal(img.manifest, raw)

    -- skopeo: POST, one PATCH with the whole blob, PUT ?digest, per blob;
    -- then the manifest.
    local reqs = reg.requests()
    assert.equal(2, count(reqs, "POST", "^/v2/plain/app/blobs/uploads/$", 202), reg.log())
    assert.equal(2, count(reqs, "PATCH", "^/v2/plain/app/blobs/uploads/", 202))
    assert.equal(2, count(reqs, "PUT", "^/v2/plain/app/blobs/uploads/.*[?&]digest=", 201))
    assert.equal(1, count(reqs, "PUT", "^/v2/plain/app/manifests/v1$", 201))

    local r = http(tmp, reg, "POST", { url = "/v2/plain/other/blobs/uploads/" })
    assert.equal(202, r.status)
    assert.matches("^http://127%.0%.0%.1:%d+/v2/plain/other/blobs/uploads/[%x-]+%?_state=", r.headers.location)
    assert.equal(reg.url, r.headers.location:match("^https?://[^/]+"))
    assert.equal("0-0", r.headers.range)
    stop_and_check(reg)
  end)

  it("TLS + basic: the CA is needed, a wrong password gets 401", function()
    local reg, tmp = start({ tls = true, auth = "basic" }, finally)
    if not reg then return pending(tmp) end
    assert.equal("https://" .. reg.host, reg.url)
    assert.truthy(T.exists(reg.cert_dir .. "/ca.crt"))

    local r = http(tmp, reg, "GET", { url = "/v2/", cacert = false })
    assert.equal(60, r.curl) -- curl: peer certificate cannot be authenticated
    r = http(tmp, reg, "GET", { url = "/v2/" })
    assert.equal(401, r.status)
    assert.equal('Basic realm="basic-realm"', r.headers["www-authenticate"])
    r = http(tmp, reg, "GET", { url = "/v2/", user = "giteaAdmin:wrong" })
    assert.equal(401, r.status)
    assert.equal("UNAUTHORIZED", T.json(r.body).errors[1].code)
    r = http(tmp, reg, "GET", { url = "/v2/", user = "giteaAdmin:developer" })
    assert.equal(200, r.status)

    local code, out, err = push(tmp, reg, img, "giteaadmin/app", "giteaAdmin:developer")
    assert.equal(0, code, out .. err)
    local _, info, ierr = inspect(tmp, reg, "giteaadmin/app", "giteaAdmin:developer")
    assert.is_table(info, ierr)
    assert.equal(img.digest, info.Digest)

    local icode, _, werr = inspect(tmp, reg, "giteaadmin/app", "giteaAdmin:wrong")
    assert.not_equal(0, icode)
    assert.matches("unauthorized", werr)
    icode = inspect(tmp, reg, "giteaadmin/app")
    assert.not_equal(0, icode)
    stop_and_check(reg)
  end)

  it("TLS + token behind nginx: Gitea-shaped grants, scopes logged", function()
    local reg, tmp = start({ tls = true, auth = "token", users = { giteaAdmin = "developer", other = "pw2" },
      hostname = "gitea.cnoe.localtest.me" }, finally)
    if not reg then return pending(tmp) end
    assert.truthy(reg.pids.registry and reg.pids.nginx and reg.pids.token)
    local port = reg.host:match(":(%d+)$")

    local r = http(tmp, reg, "GET", { url = "/v2/" })
    assert.equal(401, r.status)
    assert.equal(('Bearer realm="%s/v2/token",service="container_registry"'):format(reg.url),
      r.headers["www-authenticate"])
    -- the certificate also names the Gitea host of idpbuilder
    r = http(tmp, reg, "GET", { url = ("https://gitea.cnoe.localtest.me:%s/v2/"):format(port),
      extra = { "--resolve " .. T.q(("gitea.cnoe.localtest.me:%s:127.0.0.1"):format(port)) } })
    assert.equal(401, r.status)

    local code, out, err = push(tmp, reg, img, "giteaadmin/app", "giteaAdmin:developer")
    assert.equal(0, code, out .. err)
    local asked
    for _, t in ipairs(reg.token_requests()) do
      if t.user == "giteaAdmin" then asked = t end
    end
    assert.is_table(asked, reg.log("token"))
    assert.equal(200, asked.status)
    assert.equal("container_registry", asked.service)
    assert.same({ "repository:giteaadmin/app:pull,push" }, asked.scopes)
    assert.same({ { type = "repository", name = "giteaadmin/app", actions = { "pull", "push" } } }, asked.granted)
    -- the registry's Location comes back through nginx, absolute, https
    local posts = 0
    for _, q in ipairs(reg.requests()) do
      if q.method == "POST" and q.status == 202 then
        posts = posts + 1
        assert.equal(reg.url .. "/v2/giteaadmin/app/blobs/uploads/", q.location:match("^(.-)[%x-]+%?_state="))
      end
    end
    assert.equal(2, posts)

    -- anonymous pull of an existing repository
    local _, info, ierr = inspect(tmp, reg, "giteaadmin/app")
    assert.is_table(info, ierr)
    assert.equal(img.digest, info.Digest)

    -- wrong password: the token server says 401, with a JSON error
    local icode, _, werr = inspect(tmp, reg, "giteaadmin/app", "giteaAdmin:wrong")
    assert.not_equal(0, icode)
    assert.matches("unauthorized", werr)
    r = http(tmp, reg, "GET", { url = "/v2/token?service=container_registry&scope=repository:giteaadmin/app:pull",
      user = "giteaAdmin:wrong" })
    assert.equal(401, r.status)
    assert.equal("UNAUTHORIZED", T.json(r.body).errors[1].code)

    -- another user may pull but not push into giteaadmin/
    code = push(tmp, reg, img, "giteaadmin/intruder", "other:pw2")
    assert.not_equal(0, code)
    r = http(tmp, reg, "GET",
      { url = "/v2/token?service=container_registry&scope=repository:giteaadmin/intruder:pull,push",
      user = "other:pw2" })
    assert.equal(200, r.status)
    local token = T.json(r.body)
    assert.equal(token.token, token.access_token)
    assert.equal(300, token.expires_in)
    r = http(tmp, reg, "POST", { url = "/v2/giteaadmin/intruder/blobs/uploads/",
      headers = { "Authorization: Bearer " .. token.token } })
    assert.equal(401, r.status)
    -- distribution lists the actions in map order: pull,push or push,pull
    local challenge = r.headers["www-authenticate"]:gsub("push,pull", "pull,push")
    assert.equal(('Bearer' ..
      ' realm="%s/v2/token",service="container_registry",scope="repository:giteaadmin/intruder:pull,push",'
      .. 'error="insufficient_scope"'):format(reg.url), challenge)
    -- ... and push into its own namespace
    code, out, err = push(tmp, reg, img, "other/app", "other:pw2")
    assert.equal(0, code, out .. err)

    local seen = {}
    for _, t in ipairs(reg.token_requests()) do
      seen[#seen + 1] = ("%s %d %s -> %s"):format(t.user, t.status, table.concat(t.scopes, " "),
        table.concat((function()
          local g = {}
          for i, a in ipairs(t.granted) do g[i] = a.name .. ":" .. table.concat(a.actions, ",") end
          return g
        end)(), " "))
    end
    local text = table.concat(seen, "\n")
    assert.matches(" 200 repository:giteaadmin/app:pull %-> giteaadmin/app:pull\n", text, 1)
    assert.matches("giteaAdmin 401 repository:giteaadmin/app:pull", text, 1, true)
    assert.matches("other 200 repository:giteaadmin/intruder:pull,push -> giteaadmin/intruder:pull\n", text, 1, true)
    assert.matches("other 200 repository:other/app:pull,push -> other/app:pull,push", text, 1, true)
    local tlog = reg.log("token")
    assert.is_nil(tlog:find("developer", 1, true))
    assert.is_nil(tlog:find("pw2", 1, true))
    stop_and_check(reg)
  end)

  it("nginx with a 1m body limit: 413 for a big monolithic PUT, chunks pass", function()
    local reg, tmp = start({ body_limit = "1m", relative_urls = true }, finally)
    if not reg then return pending(tmp) end
    assert.truthy(reg.pids.registry and reg.pids.nginx)
    local code, out, err = push(tmp, reg, img, "limit/app")
    assert.equal(0, code, out .. err)
    local _, info, ierr = inspect(tmp, reg, "limit/app")
    assert.is_table(info, ierr)
    assert.equal(img.digest, info.Digest)

    local big = tmp .. "/big"
    T.must("head -c 2097152 /dev/urandom > " .. T.q(big))
    local digest = "sha256:" .. T.sha256_file(big)
    local r = http(tmp, reg, "POST", { url = "/v2/limit/big/blobs/uploads/" })
    assert.equal(202, r.status)
    local loc = r.headers.location
    assert.matches("^/v2/limit/big/blobs/uploads/[%x-]+%?_state=", loc) -- relativeurls

    r = http(tmp, reg, "PUT", { url = loc .. "&digest=" .. digest, data = big,
      headers = { "Content-Type: application/octet-stream" } })
    assert.equal(413, r.status)
    assert.equal("text/html", r.headers["content-type"])
    assert.matches("413 Request Entity Too Large", r.body, 1, true)
    local reqs = reg.requests()
    assert.matches(' up="%-" ', reqs[#reqs].line) -- nginx answered alone
    assert.equal(0, count(reqs, "PUT", "^/v2/limit/big/", 201))

    -- the session is intact: ordered chunks under the limit, then PUT ?digest
    local chunks = { { 0, 786431 }, { 786432, 1572863 }, { 1572864, 2097151 } }
    for i, c in ipairs(chunks) do
      local part = ("%s.%d"):format(big, i)
      T.must(("tail -c +%d %s | head -c %d > %s"):format(c[1] + 1, T.q(big), c[2] - c[1] + 1, T.q(part)))
      r = http(tmp, reg, "PATCH", { url = loc, data = part, headers = { "Content-Type: application/octet-stream",
        ("Content-Range: %d-%d"):format(c[1], c[2]) } })
      assert.equal(202, r.status, r.body)
      assert.equal(("0-%d"):format(c[2]), r.headers.range)
      loc = r.headers.location
    end
    r = http(tmp, reg, "PUT", { url = loc .. "&digest=" .. digest })
    assert.equal(201, r.status, r.body)
    assert.equal("/v2/limit/big/blobs/" .. digest, r.headers.location)
    r = http(tmp, reg, "HEAD", { url = "/v2/limit/big/blobs/" .. digest })
    assert.equal(200, r.status)
    assert.equal("2097152", r.headers["content-length"])

    -- skopeo sends each blob in one PATCH: a 2 MB layer cannot pass
    local bigimg = make_image(tmp .. "/bigimg", 2097152)
    code, out, err = push(tmp, reg, bigimg, "limit/bigapp")
    assert.not_equal(0, code)
    assert.matches("413", out .. err)
    stop_and_check(reg)
  end)
end)
