-- ocibuild push and pull against a registry that trusts everything and
-- misbehaves on request (spec/support/laxregistry): a damaged store blob
-- must never be published, whatever the upload path; downloads stop at
-- their size and at their deadline, naming the registry; 429 and 5xx are
-- retried as the registry asks, a bounded number of times, and said; a
-- connection reset in the middle of an upload goes on from the upload's
-- status; a tag list in pages is followed as its Link headers lead.
-- Against a hostile HTTPS registry (spec/support/hostile_http.py): no
-- password or upload ever drops to plain HTTP, unusable realms and
-- Locations are refused, and what its answers break is said in one line.
local R = require "support.registry"
local T = require "support"

local function ocb(store, ...)
  return T.ocibuild("--store", store, ...)
end

local function count(list, fn)
  local n = 0
  for _, r in ipairs(list) do
    if fn(r) then n = n + 1 end
  end
  return n
end

-- A context with a random file of `random` bytes built into store as tag.
local function build(dir, store, tag, random)
  T.write(dir .. "/ctx/hello.txt", "hello from " .. dir .. "\n")
  T.must(("head -c %d /dev/urandom > %s"):format(random, T.q(dir .. "/ctx/random.bin")))
  T.built(store, dir .. "/ctx", "-t", tag, "--compression", "none")
  return T.image(store, tag)
end

-- Flips one byte in the middle of a store blob file.
local function damage(path)
  local bytes = T.read(path)
  local at = #bytes // 2
  T.must("chmod u+w " .. T.q(path))
  T.write(path, bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1) % 256) .. bytes:sub(at + 1))
  return "sha256:" .. T.sha256_file(path)
end

describe("ocibuild push and pull against a hostile registry", function()
  local lax, why, base

  setup(function()
    local ok
    ok, why = pcall(R.lax)
    if ok then lax = why end
    base = T.tmpdir()
  end)

  teardown(function()
    if lax then lax.stop() end
    if base then T.sh("rm -rf " .. T.q(base)) end
  end)

  it("never publishes a damaged store blob, sent whole, in chunks or after a 413; no manifest follows", function()
    if not lax then return pending(why) end
    local d, store = base .. "/dmg", base .. "/dmg/store"
    local img = build(d, store, "dmg:v1", 1500000)
    local layer = img.manifest.layers[1].digest
    local got = damage(img.layers[1])
    local n0 = #lax.requests()
    for _, case in ipairs { { "team/dmg:v1" }, { "team/dmg:v1", "--chunk-size", "1M" }, { "limit/team/dmg:v1" } } do
      local code, _, err = ocb(store, "push", "dmg:v1", lax.host .. "/" .. case[1], table.unpack(case, 2))
      assert.same({ 1, ("ocibuild: store blob %s is damaged: its bytes hash to %s (the upload to %s stopped before "
        .. "its end; run 'ocibuild fsck' to see the images it breaks, then pull or build them again)\n")
        :format(layer, got, lax.host) }, { code, err:match("[^\n]*\n$") })
    end
    local reqs = table.move(lax.requests(), n0 + 1, #lax.requests(), 1, {})
    -- the registry never had the whole layer, and no manifest was put
    assert.equal(0, count(reqs, function(r) return r.method == "PUT" and r.path:find("/manifests/", 1, true) end))
    assert.equal(0, count(reqs, function(r)
      return r.status == 201 and r.path:find("digest=" .. layer:gsub(":", "%%3A"), 1, true)
    end))
    assert.equal(1, count(reqs, function(r) return r.status == 413 end))
    assert.equal(0, select(1, T.sh(("curl -sf %s/v2/team/dmg/manifests/v1 >/dev/null"):format(lax.url))) == 0 and 1
      or 0)
    assert.equal("", T.must("ls -A " .. T.q(store .. "/.ocibuild-tmp")))
  end)

  it("stops a blob whose body goes on past its size, and keeps nothing of it", function()
    if not lax then return pending(why) end
    local d, store = base .. "/endless", base .. "/endless/store"
    local img = build(d, store, lax.host .. "/team/endless:v1", 300000)
    assert.equal(0, (ocb(store, "push", lax.host .. "/team/endless:v1", "--jobs", "1")))
    local into = d .. "/into"
    local code, out, err = ocb(into, "pull", lax.host .. "/endless/team/endless:v1", "--jobs", "1")
    assert.equal(1, code, out)
    local blob, size = err:match("^ocibuild: " .. lax.host:gsub("%p", "%%%0") .. " sent more than the (%d+) bytes of "
      .. lax.host:gsub("%p", "%%%0") .. "/endless/team/endless@(sha256:%x+) %(stopped there%)\n$")
    assert.truthy(blob, err)
    local sizes = { [img.manifest.config.digest] = img.manifest.config.size,
      [img.manifest.layers[1].digest] = img.manifest.layers[1].size }
    assert.equal(sizes[size], tonumber(blob))
    assert.equal("", T.must("ls -A " .. T.q(into .. "/.ocibuild-tmp")))
    assert.is_false(T.exists(into .. "/blobs/sha256/" .. size:sub(8)))
    -- the registry could write only so much before the client left
    for _, r in ipairs(lax.requests()) do
      if r.path:find("/v2/endless/", 1, true) and r.note == "client left" then
        assert.truthy(r.bytes < 64 << 20, r.line)
      end
    end
  end)

  it("gives a trickling download up at its deadline or below its lowest speed, naming the registry", function()
    if not lax then return pending(why) end
    local d, store = base .. "/drip", base .. "/drip/store"
    build(d, store, lax.host .. "/team/drip:v1", 1000)
    assert.equal(0, (ocb(store, "push", lax.host .. "/team/drip:v1")))
    local host = lax.host:gsub("%p", "%%%0")
    local code, _, err = ocb(d .. "/a", "pull", lax.host .. "/drip/team/drip:v1", "--timeout", "3")
    assert.equal(1, code)
    assert.matches("^ocibuild: " .. host .. " was too slow %(http://" .. host
      .. "/v2/drip/team/drip/blobs/sha256:%x+%): "
      .. "no complete answer within 3 s; the limits are %-%-timeout and %-%-min%-speed\n$", err)
    code, _, err = ocb(d .. "/b", "pull", lax.host .. "/drip/team/drip:v1", "--min-speed", "100/1", "--retry", "0")
    assert.equal(1, code)
    assert.matches("^ocibuild: " .. host .. " was too slow %(http://" .. host
      .. "/v2/drip/team/drip/blobs/sha256:%x+%): "
      .. "slower than 100 bytes/s for 1 s; the limits are %-%-timeout and %-%-min%-speed\n$", err)
    local out
    code, out, err = ocb(d .. "/b", "pull", lax.host .. "/x:1", "--min-speed", "fast")
    assert.same({ 2, "", "ocibuild: --min-speed needs RATE[/SECONDS] such as 1k/60, got \"fast\" (see 'ocibuild pull "
      .. "--help')\n" }, { code, out, err })
  end)

  it("waits as a 429's Retry-After asks, says each retry, and gets through", function()
    if not lax then return pending(why) end
    local d, store = base .. "/busy", base .. "/busy/store"
    local img = build(d, store, "busy:v1", 2000)
    local code, out, err = ocb(store, "push", "busy:v1", lax.host .. "/busy/team/app:v1", "--jobs", "1")
    assert.equal(0, code, out .. err)
    assert.matches("ocibuild: warning: [A-Z]+ http://" .. lax.host:gsub("%p", "%%%0")
      .. "/v2/busy/team/app/[^\n]*: HTTP 429; "
      .. "retrying in 1%.0 s %(1 of 4%)\n", err)
    local reqs = lax.requests()
    local refused = count(reqs, function(r) return r.status == 429 end)
    assert.truthy(refused >= 3, "429s: " .. refused)
    assert.equal(refused, select(2, err:gsub("HTTP 429; retrying", "")))
    -- no retry came before the time it was given
    assert.equal(0, count(reqs, function(r) return r.note == "early" end))
    assert.equal(img.desc.digest, "sha256:" .. T.must(("curl -sf %s/v2/team/app/manifests/v1 | sha256sum")
      :format(lax.url)):match("%x+"))
  end)

  it("retries a 5xx a bounded number of times, then names the failure and the retries", function()
    if not lax then return pending(why) end
    local d, store = base .. "/down", base .. "/down/store"
    build(d, store, "down:v1", 1000)
    local n0 = #lax.requests()
    local code, _, err = ocb(store, "push", "down:v1", lax.host .. "/down/team/app:v1", "--retry", "2")
    local reqs = table.move(lax.requests(), n0 + 1, #lax.requests(), 1, {})
    assert.same({ 1, ("ocibuild: HEAD %s/down/team/app:v1: %s answered HTTP 503 (after 2 retries)\n"):format(lax.host,
      lax.host) }, { code, err:match("ocibuild: HEAD.*$") })
    assert.equal(2, select(2, err:gsub("ocibuild: warning: [^\n]*HTTP 503; retrying", "")))
    assert.equal(3, count(reqs, function(r) return r.path:find("/v2/down/", 1, true) end))
    -- a Retry-After past the deadline is not waited for
    n0 = #lax.requests()
    code, _, err = ocb(store, "push", "down:v1", lax.host .. "/away/team/app:v1")
    assert.same({ 1, ("ocibuild: HEAD %s/away/team/app:v1: %s answered HTTP 503 "
      .. "(it asked to wait 7200 s, past the 3600 s deadline (--timeout))\n"):format(lax.host, lax.host) }, { code,
      err })
    reqs = table.move(lax.requests(), n0 + 1, #lax.requests(), 1, {})
    assert.equal(1, count(reqs, function(r) return r.path:find("/v2/away/", 1, true) end))
  end)

  it("after a connection reset in an upload, asks where it stands and sends only the rest", function()
    if not lax then return pending(why) end
    local d, store = base .. "/reset", base .. "/reset/store"
    local img = build(d, store, "reset:v1", 3000000)
    local layer = img.manifest.layers[1]
    local n0 = #lax.requests()
    local code, out, err = ocb(store, "push", "reset:v1", lax.host .. "/reset/team/cut:v1", "--jobs", "1")
    assert.equal(0, code, out .. err)
    assert.matches("ocibuild: warning: PUT http://[^\n]*: the connection to [^\n]* broke [^\n]*retrying in", err)
    local reqs = table.move(lax.requests(), n0 + 1, #lax.requests(), 1, {})
    -- the layer's upload: cut in the middle, its status asked, the rest sent from there
    local cut, upload
    for i, r in ipairs(reqs) do
      if r.note == "cut" and r.bytes > 1000000 then cut, upload = i, r.path:match("^[^?]*") end
    end
    assert.truthy(cut, "no cut upload")
    local after = {}
    for i = cut + 1, #reqs do
      if reqs[i].path:match("^[^?]*") == upload then after[#after + 1] = reqs[i] end
    end
    assert.same({ "GET", 204 }, { after[1].method, after[1].status })
    assert.same({ "PATCH", 202, ("%d-%d"):format(reqs[cut].bytes, layer.size - 1) },
      { after[2].method, after[2].status, after[2].range })
    assert.same({ "PUT", 201 }, { after[3].method, after[3].status })
    -- what the registry assembled is the layer: a pull checks every digest
    code, out, err = ocb(d .. "/back", "pull", lax.host .. "/team/cut:v1")
    assert.equal(0, code, out .. err)
    assert.equal(T.sha256_file(img.layers[1]), T.sha256_file(d .. "/back/blobs/sha256/" .. layer.digest:sub(8)))
  end)

  it("reads the signers' own tags page by page, as the tag list's Link headers lead", function()
    if not lax then return pending(why) end
    local d, store = base .. "/pages", base .. "/pages/store"
    build(d, store, "pages:v1", 100)
    local ref = lax.host .. "/pages/team/signed:v1"
    local digest = T.must(("%s --store %s push pages:v1 %s"):format(T.q(T.bin), T.q(store), T.q(ref)))
      :match("@(sha256:%x+)\n$")
    local function run(...)
      local words = {}
      for i, w in ipairs { ... } do words[i] = T.q(w) end
      return T.sh(("OCIBUILD_KEY_PASSWORD=spec-pass %s --store %s %s </dev/null"):format(T.q(T.bin), T.q(store),
        table.concat(words, " ")))
    end
    for _, k in ipairs { "one", "two", "three", "four" } do
      local code, out, err = run("keygen", "--output-key-prefix", d .. "/" .. k)
      assert(code == 0, out .. err)
    end
    local sig_url = ("%s/v2/team/signed/manifests/%s.sig"):format(lax.url, digest:gsub(":", "-"))
    local first
    for i, k in ipairs { "one", "two", "three" } do
      local code, out, err = run("sign", "--key", d .. "/" .. k .. ".key", ref)
      assert.equal(0, code, out .. err)
      if i == 1 then first = T.must("curl -sf " .. T.q(sig_url)) end
    end
    assert.equal(3, #T.json(T.must("curl -sf " .. T.q(sig_url))).layers)
    -- a stale write: the .sig tag holds the first signature only
    T.write(d .. "/stale.json", first)
    T.must(("curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @%s %s")
      :format(T.q(d .. "/stale.json"), T.q(sig_url)))
    local n = #lax.requests()
    local code, out, err = run("verify", "--key", d .. "/three.pub", ref)
    assert.equal(0, code, out .. err)
    -- the tags after the .sig tag (three own tags and v1), two a page
    local lists = {}
    for i, r in ipairs(lax.requests()) do
      if i > n and r.path:find("/tags/list", 1, true) then lists[#lists + 1] = r.path:match("last=([^&]*)") end
    end
    assert.equal(2, #lists)
    assert.equal((digest:gsub(":", "-")) .. ".sig", lists[1])
    assert.truthy(lists[2]:find("^" .. digest:gsub(":", "%%-") .. "%.sig%.%x+$"), lists[2])
    -- the next signer puts the dropped ones back
    code, out, err = run("sign", "--key", d .. "/four.key", ref)
    assert.equal(0, code, out .. err)
    assert.equal(4, #T.json(T.must("curl -sf " .. T.q(sig_url))).layers)
    for _, k in ipairs { "one", "two", "three", "four" } do
      code, out, err = run("verify", "--key", d .. "/" .. k .. ".pub", ref)
      assert.equal(0, code, k .. out .. err)
    end
  end)
end)

describe("ocibuild push and pull against a hostile HTTPS registry", function()
  local base, pid, host, dead, ca, store
  local SECRET = "hostile-secret"

  setup(function()
    base = T.tmpdir()
    ca, store = base .. "/crt.pem", base .. "/store"
    T.must(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -days 2 "
      .. "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>&1"):format(T.q(base .. "/key.pem"), T.q(ca)))
    local out = base .. "/http.out"
    pid = T.must(("/usr/bin/python3 -u %s %s %s %s >%s 2>&1 & echo $!"):format(
      T.q(T.root .. "/spec/support/hostile_http.py"), T.q(base .. "/mark"), T.q(ca), T.q(base .. "/key.pem"),
      T.q(out))):match("%d+")
    for _ = 1, 200 do
      local port = T.exists(out) and T.read(out):match("port (%d+)")
      if port then
        host, dead = "127.0.0.1:" .. port, T.read(out):match("dead (%d+)")
        break
      end
      os.execute("sleep 0.05")
    end
    assert(host, "the HTTPS server did not start")
    T.write(base .. "/ctx/hello.txt", "hello\n")
    T.built(store, base .. "/ctx", "-t", "app:v1")
  end)

  teardown(function()
    if pid then T.sh("kill " .. pid) end
    if base then T.sh("rm -rf " .. T.q(base)) end
  end)

  local function logged() return T.exists(base .. "/mark.log") and T.read(base .. "/mark.log") or "" end

  -- Sets what /v2/ answers; returns how many requests are logged so far.
  local function answer(what)
    T.must(("curl -sf http://%s/_ping/%s"):format(host, what))
    return select(2, logged():gsub("\n", ""))
  end

  -- The requests logged after the first n0: {scheme, method, path, auth}.
  local function since(n0)
    local list = {}
    for line in logged():gmatch("[^\n]+") do list[#list + 1] = T.json(line) end
    return table.move(list, n0 + 1, #list, 1, {})
  end

  local function ocb_tls(...)
    local words = {}
    for i, w in ipairs { T.bin, "--store", store, ... } do words[i] = T.q(w) end
    return T.sh(("env -u REGISTRY_AUTH_FILE -u DOCKER_CONFIG HOME=%s %s --ca-file %s"):format(T.q(base),
      table.concat(words, " "), T.q(ca)))
  end

  it("never sends a password to a plain-HTTP token realm; an anonymous token still comes from it", function()
    local n0 = answer("bearer-http")
    local code, out, err = ocb_tls("pull", host .. "/open/app:v1", "--creds", "u:" .. SECRET)
    assert.same({ 1, "", ('ocibuild: %s asks for the password of "u" to be sent to http://%s/token over plain HTTP; '
      .. "refused: the registry is reached over HTTPS, and its token realm must be too\n"):format(host, host) },
      { code, out, err })
    assert.equal(0, count(since(n0), function(r) return r.path:find("^/token") end))
    n0 = answer("bearer-http")
    code, out, err = ocb_tls("pull", host .. "/open/app:v1")
    assert.same({ 1, ("ocibuild: %s has no image %s/open/app:v1 (NOT_FOUND: nothing here)\n"):format(host, host) },
      { code, err }, out)
    local reqs = since(n0)
    assert.equal(1, count(reqs, function(r) return r.path:find("^/token") and r.scheme == "http" and r.auth == "" end))
    assert.equal(1, count(reqs, function(r) return r.path:find("/manifests/v1", 1, true) and r.auth == "Bearer" end))
  end)

  it("refuses an upload Location that drops to plain HTTP or is not http(s), sending nothing there", function()
    local n0 = answer("basic")
    local code, out, err = ocb_tls("push", "app:v1", host .. "/plainloc/app:v1", "--creds", "u:" .. SECRET)
    assert.same({ 1, ("ocibuild: %s sent a plain-HTTP URL for push, which it serves over HTTPS: "
      .. "http://%s/v2/plainloc/app/blobs/uploads/u1; refused (behind a TLS proxy, the registry must be told the "
      .. "scheme, e.g. X-Forwarded-Proto)\n"):format(host, host) }, { code, err }, out)
    local reqs = since(n0)
    assert.truthy(count(reqs, function(r) return r.method == "POST" and r.auth == "Basic" end) >= 1)
    assert.equal(0, count(reqs, function(r) return r.scheme ~= "https" end))
    code, out, err = ocb_tls("push", "app:v1", host .. "/ftploc/app:v1", "--creds", "u:" .. SECRET)
    assert.same({ 1, ('ocibuild: %s opened an upload to ftploc/app without a usable Location: bad Location '
      .. '"ftp://127.0.0.1/up": not an http or https URL\n'):format(host) }, { code, err }, out)
  end)

  it("never follows a blob's redirect from HTTPS to plain HTTP", function()
    local n0 = answer("open")
    local code, out, err = ocb_tls("pull", host .. "/downgrade/app:v1")
    assert.same({ 1, "" }, { code, out })
    assert.matches("redirected from HTTPS to plain HTTP", err, 1, true)
    assert.equal(1, select(2, err:gsub("\n", "")), err)
    assert.equal(0, count(since(n0), function(r) return r.scheme ~= "https" end))
  end)

  it("calls a realm with a space unusable, from /v2/ and from a later 401", function()
    local line = ('ocibuild: %s asks for a token from an unusable realm "http://x y"\n'):format(host)
    answer("bearer-space")
    local code, out, err = ocb_tls("pull", host .. "/open/app:v1")
    assert.same({ 1, line }, { code, err }, out)
    answer("open")
    code, out, err = ocb_tls("pull", host .. "/lateauth/app:v1")
    assert.same({ 1, line }, { code, err }, out)
  end)

  it("says in one line what a registry's answer breaks", function()
    local h = host:gsub("%p", "%%%0")
    local body = "sha256:" .. T.must("printf %s '{\"schemaVersion\":2}' | sha256sum"):match("%x+")
    for _, case in ipairs {
      { "open", "busy", "^ocibuild: reading " .. h .. "/busy/app:v1: " .. h .. " answered HTTP 429 %(it asked to wait "
        .. "%d+ s, past the 3600 s deadline %(%-%-timeout%)%)\n$" },
      { "open", "endless", "^ocibuild: " .. h .. ": the answer to https://" .. h .. "/v2/endless/app/manifests/v1 is "
        .. "larger than 4 MiB, the most ocibuild reads for it\n$" },
      { "open", "liar", "^ocibuild: " .. h .. " names the manifest of " .. h .. '/liar/app:v1 "sha256:' .. ("0"):rep(64)
        .. '" %(Docker%-Content%-Digest%), but its bytes hash to ' .. body .. "\n$" },
      { "bearer-dead", "open", "^ocibuild: cannot connect to 127%.0%.0%.1:" .. dead .. " %(named by " .. h
        .. "%): connection refused at https://127%.0%.0%.1:" .. dead .. "/token\n$" },
    } do
      answer(case[1])
      local code, out, err = ocb_tls("pull", host .. "/" .. case[2] .. "/app:v1")
      assert.equal(1, code, out .. err)
      assert.matches(case[3], err)
    end
    local code, out, err = ocb_tls("pull", "127.0.0.1:99999/app:v1")
    assert.same({ 2, "", "ocibuild: registry 127.0.0.1:99999: port 99999 is not from 1 to 65535 (see 'ocibuild pull "
      .. "--help')\n" }, { code, out, err })
  end)
end)
