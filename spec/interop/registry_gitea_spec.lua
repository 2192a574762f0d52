-- ocibuild against a Gitea-shaped registry: nginx with TLS, our token
-- server (GET /v2/token only) and our Gitea front (spec/support/giteafront)
-- before docker-registry. Each of Gitea's known ways is met: Content-Range
-- on every PATCH after the first, 416 for a chunk out of order, a chunk
-- broken midway, 500 "package version already exists" when runners put
-- the same manifest at once, 413 over the manifest limit, indexes of image
-- manifests only; and eight runners pushing one image at once all succeed.
local R = require "support.registry"
local T = require "support"

local MANIFEST = "application/vnd.oci.image.manifest.v1+json"
local INDEX = "application/vnd.oci.image.index.v1+json"
local CREDS = "giteaAdmin:developer"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

local function count(list, fn)
  local n = 0
  for _, r in ipairs(list) do
    if fn(r) then n = n + 1 end
  end
  return n
end

describe("ocibuild and a Gitea-shaped registry", function()
  local reg, why, base

  R.serve({ tls = true, auth = "token", gitea = true, manifest_limit = 64 << 10 },
    function(r, w, b) reg, why, base = r, w, b end, function() return have("skopeo"), "skopeo is not installed" end)

  local function ocb(store, ...)
    return T.ocibuild("--store", store, ...)
  end

  local function push(store, src, dest, ...)
    return ocb(store, "push", src, reg.host .. "/" .. dest, "--ca-file", reg.ca, "--creds", CREDS, ...)
  end

  local function build(dir, store, tag, random, ...)
    T.write(dir .. "/ctx/hello.txt", "hello from " .. dir .. "\n")
    if random then T.must(("head -c %d /dev/urandom > %s"):format(random, T.q(dir .. "/ctx/random.bin"))) end
    local code, out, err = ocb(store, "build", dir .. "/ctx", "-t", tag, "--compression", "none", ...)
    assert(code == 0, out .. err)
    return T.image(store, tag)
  end

  -- The digest the registry's tag names (skopeo, anonymous: Gitea-shaped grants let anyone pull).
  local function remote(ref)
    local code, out, err = T.sh(("skopeo --insecure-policy inspect --raw --no-creds --cert-dir %s %s | sha256sum")
      :format(T.q(reg.cert_dir), T.q("docker://" .. reg.host .. "/" .. ref)))
    assert(code == 0, err)
    return "sha256:" .. out:match("%x+")
  end

  -- Arms one of the front's incidents (straight to it: nginx has no route there).
  local function arm(knob)
    T.must(("curl -sf -X POST %s/_front/%s"):format(reg.front_url, knob))
  end

  it("the front answers as Gitea does: Content-Range after the first write, chunks in order, GET-only tokens",
    function()
    if not reg then return pending(why) end
    local curl = ("curl -s -o /dev/null -w '%%{http_code}' --cacert %s "):format(T.q(reg.ca))
    local tok = T.json(T.must(("curl -sf --cacert %s -u %s '%s/v2/token?service=container_registry&scope=repository:"
      .. "giteaadmin/raw:pull,push'"):format(T.q(reg.ca), CREDS, reg.url))).token
    local auth = "-H " .. T.q("Authorization: Bearer " .. tok) .. " "
    local loc = T.must(("curl -sf -D - -o /dev/null -X POST --cacert %s %s%s/v2/giteaadmin/raw/blobs/uploads/")
      :format(T.q(reg.ca), auth, reg.url)):match("[Ll]ocation: (%S+)")
    T.write(base .. "/chunk", "0123456789")
    -- a PATCH of ten bytes: its status, and the upload's next Location
    local function patch(range)
      local out = T.must(curl:gsub("%-o /dev/null", "-o /dev/null -D " .. T.q(base .. "/h")) .. auth .. "-X PATCH "
        .. "-H 'Content-Type: application/octet-stream' --data-binary @" .. T.q(base .. "/chunk") .. " "
        .. (range and ("-H 'Content-Range: " .. range .. "' ") or "") .. T.q(loc))
      loc = T.read(base .. "/h"):match("[Ll]ocation: (%S+)") or loc
      return out
    end
    assert.equal("202", patch(nil))
    assert.equal("400", patch(nil))
    assert.equal("416", patch("0-9"))
    assert.equal("202", patch("10-19"))
    assert.equal("404", T.must(curl .. "-X POST " .. T.q(reg.url .. "/v2/token")))
  end)

  it("pushes in chunks through a chunk out of order (416) and a chunk broken midway, from the upload's status",
    function()
    if not reg then return pending(why) end
    local d, store = base .. "/chunks", base .. "/chunks/store"
    local img = build(d, store, "chunks:v1", 3000000)
    local n0 = #reg.requests()
    arm("skew-next-patch")
    local code, out, err = push(store, "chunks:v1", "giteaadmin/chunks:v1", "--chunk-size", "1M", "--jobs", "1")
    assert.equal(0, code, out .. err)
    assert.matches("ocibuild: warning: PATCH https://[^\n]*: HTTP 416; retrying in [%d.]+ s %(1 of 4%)\n", err)
    local reqs = table.move(reg.requests(), n0 + 1, #reg.requests(), 1, {})
    assert.equal(1, count(reqs, function(r) return r.method == "PATCH" and r.status == 416 end))
    for _, r in ipairs(reqs) do
      if r.method == "PATCH" then assert.matches(' cr="%d+%-%d+"', r.line) end
    end
    assert.equal(img.desc.digest, remote("giteaadmin/chunks:v1"))

    -- a chunk broken after half its bytes went in (nginx, the ingress,
    -- answers 502 for the connection it lost): the status, in Gitea's
    -- words, counts the bytes (one past the protocol's offset), the chunk
    -- from there is refused 416, and the one a byte earlier goes in
    img = build(d .. "/b", store, "broken:v1", 3000000)
    n0 = #reg.requests()
    arm("break-next-patch")
    code, out, err = push(store, "broken:v1", "giteaadmin/broken:v1", "--chunk-size", "1M", "--jobs", "1")
    assert.equal(0, code, out .. err)
    assert.matches("ocibuild: warning: PATCH https://[^\n]*: HTTP 502; retrying in [%d.]+ s %(1 of 4%)\n"
      .. "ocibuild: warning: PATCH https://[^\n]*: HTTP 416; retrying in [%d.]+ s %(2 of 4%)\n", err)
    reqs = table.move(reg.requests(), n0 + 1, #reg.requests(), 1, {})
    local seq = {}
    for _, r in ipairs(reqs) do
      if r.path:find("/blobs/uploads/[%x-]+") and r.method ~= "PUT" then
        seq[#seq + 1] = ("%s %d %s"):format(r.method, r.status, r.line:match(' cr="([^"]*)"'))
      end
    end
    assert.same({ "PATCH 502 0-1048575", "GET 204 -", "PATCH 416 524289-1572864", "PATCH 202 524288-1572863" },
      table.move(seq, 1, 4, 1, {}))
    assert.truthy(reg.log("front"):find("broken after 524288 bytes", 1, true))
    assert.equal(img.desc.digest, remote("giteaadmin/broken:v1"))
    code, out, err = ocb(d .. "/back", "pull", reg.host .. "/giteaadmin/broken:v1", "--ca-file", reg.ca)
    assert.equal(0, code, out .. err)
    assert.equal(T.sha256_file(img.layers[1]),
      T.sha256_file(d .. "/back/blobs/sha256/" .. img.manifest.layers[1].digest:sub(8)))
  end)

  it("takes Gitea's 500 for a manifest another runner put at the same time as success", function()
    if not reg then return pending(why) end
    local d, store = base .. "/race", base .. "/race/store"
    local img = build(d, store, "race:v1", 1000)
    local n0 = #reg.requests()
    arm("fail-next-manifest")
    local code, out, err = push(store, "race:v1", "giteaadmin/race:v1")
    assert.same({ 0, "" }, { code, err })
    assert.truthy(out:find(reg.host .. "/giteaadmin/race@" .. img.desc.digest, 1, true))
    local reqs = table.move(reg.requests(), n0 + 1, #reg.requests(), 1, {})
    -- one PUT, answered 500, then a HEAD that found the manifest: nothing put again
    assert.equal(1, count(reqs, function(r) return r.method == "PUT" and r.path:match("/manifests/v1$") end))
    assert.equal(1, count(reqs, function(r) return r.method == "PUT" and r.path:match("/manifests/v1$")
      and r.status == 500 end))
    assert.equal(img.desc.digest, remote("giteaadmin/race:v1"))
  end)

  it("says plainly that a manifest is over the limit, or that an index holds an index", function()
    if not reg then return pending(why) end
    local d, store = base .. "/limits", base .. "/limits/store"
    build(d, store, "big:v1", nil, "--annotation", "org.opencontainers.image.description=" .. ("x"):rep(70000))
    local code, _, err = push(store, "big:v1", "giteaadmin/big:v1")
    local host = reg.host:gsub("%p", "%%%0")
    assert.equal(1, code)
    assert.matches(("^ocibuild: %s refuses the manifest of %s/giteaadmin/big:v1: at 68%%.%%d KiB it is over the "
      .. "registry's size limit %%(HTTP 413; Gitea takes at most 10 MiB%%)\n$"):format(host, host), err)

    -- an index of an image and of an index (of two images)
    local a = build(d .. "/a", store, "nest:a", nil, "--platform", "linux/amd64")
    local b = build(d .. "/b", store, "nest:b", nil, "--platform", "linux/arm64")
    T.write(d .. "/tag.lua", ([[
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = %q .. "/lib/?.so;" .. package.cpath
      local doc = require "ocibuild.oci.doc"
      local st = assert(require("ocibuild.store").open(%q))
      local inner = doc.index {
        doc.descriptor(%q, %q, %d, { platform = { os = "linux", architecture = "amd64" } }),
        doc.descriptor(%q, %q, %d, { platform = { os = "linux", architecture = "arm64" } }),
      }
      local idigest, isize = assert(st:put_blob(doc.encode(inner)))
      local outer = doc.index {
        doc.descriptor(%q, %q, %d, { platform = { os = "linux", architecture = "amd64" } }),
        doc.descriptor(%q, idigest, isize),
      }
      local digest, size = assert(st:put_blob(doc.encode(outer)))
      assert(st:tag(doc.descriptor(%q, digest, size), { require("ocibuild.oci.ref").parse("nest:all") }))
    ]]):format(T.build, store, MANIFEST, a.desc.digest, a.desc.size, MANIFEST, b.desc.digest, b.desc.size,
      MANIFEST, a.desc.digest, a.desc.size, INDEX, INDEX))
    T.must("lua5.4 " .. T.q(d .. "/tag.lua"))
    code, _, err = push(store, "nest:all", "giteaadmin/nest:v1")
    assert.same({ 1, ("ocibuild: %s refuses the index of %s/giteaadmin/nest:v1: its entry 2 (%s) is not an image "
      .. "manifest, and this registry takes only image manifests in an index (as Gitea does)\n")
      :format(reg.host, reg.host, INDEX) }, { code, err })
  end)

  it("eight runners push the same image to one repository at once: all succeed, no tag lost, retries bounded",
    function()
    if not reg then return pending(why) end
    local d = base .. "/fleet"
    local img = build(d, d .. "/store", "fleet:v1", 200000)
    local script = { "set -u" }
    for i = 1, 8 do
      local st = ("%s/runner%d"):format(d, i)
      T.must(("cp -a %s %s"):format(T.q(d .. "/store"), T.q(st)))
      local push_ = ("%s --store %s push fleet:v1 %s/giteaadmin/fleet:%%s --ca-file %s --creds %s"):format(T.q(T.bin),
        T.q(st), reg.host, T.q(reg.ca), CREDS)
      -- every runner waits for the others to be ready, then goes
      script[#script + 1] = ("{ ( while [ ! -e %s/go ]; do sleep 0.01; done; %s && %s ) >%s/out 2>%s/err; echo" ..
        " $? >%s/rc; } &")
        :format(T.q(d), push_:format("shared"), push_:format("r" .. i), T.q(st), T.q(st), T.q(st))
    end
    script[#script + 1] = "touch " .. T.q(d .. "/go")
    script[#script + 1] = "wait"
    T.must(table.concat(script, "\n"))
    local warnings = 0
    for i = 1, 8 do
      local st = ("%s/runner%d"):format(d, i)
      local err = T.read(st .. "/err")
      assert.equal("0\n", T.read(st .. "/rc"), err)
      for line in err:gmatch("[^\n]+") do
        assert.matches("^ocibuild: warning: .*; retrying in [%d.]+ s %([1-4] of 4%)$", line)
        warnings = warnings + 1
      end
      assert.equal(img.desc.digest, remote("giteaadmin/fleet:r" .. i))
    end
    assert.equal(img.desc.digest, remote("giteaadmin/fleet:shared"))
    -- a few retries at most in all; each runner put each of its two tags
    -- once, or skipped the shared one found there already, plus its retries
    assert.truthy(warnings <= 8, "retries: " .. warnings)
    local puts = count(reg.requests(), function(r) return r.method == "PUT"
      and r.path:match("/giteaadmin/fleet/manifests/") end)
    assert.truthy(puts >= 9 and puts <= 16 + warnings, "manifest PUTs: " .. puts)
  end)
end)
