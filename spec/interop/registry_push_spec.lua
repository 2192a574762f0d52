-- ocibuild push and pull against docker-registry (distribution 2.8) on
-- loopback, cross-checked with skopeo and oci-image-tool: the requests
-- the registry sees, mounts between repositories, multi-platform images,
-- interrupted and failed pushes, and nginx's body limit (413 -> chunks).
local R = require "support.registry"
local T = require "support"

local MANIFEST = "application/vnd.oci.image.manifest.v1+json"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- `ocibuild --store store ...`: code, stdout, stderr.
local function ocb(store, ...)
  return T.ocibuild("--store", store, ...)
end

-- The requests the registry saw since `from` (an earlier list's length).
local function since(reg, from)
  local all = reg.requests()
  return table.move(all, from + 1, #all, 1, {}), #all
end

local count = R.count

local function skopeo(args)
  return T.sh("skopeo --insecure-policy " .. args)
end

-- skopeo inspect --raw of ref: the manifest bytes, or nil.
local function remote_manifest(reg, ref)
  local code, out = skopeo(("inspect --raw --tls-verify=false %s"):format(T.q("docker://" .. reg.host .. "/" .. ref)))
  return code == 0 and out or nil
end

local function sha256(s)
  return "sha256:" .. require("ocibuild.core").sha256():update(s):digest():sub(8)
end

-- A context of files (a random one of `random` bytes) built into store as tag.
local function build(dir, store, tag, random, extra)
  T.write(dir .. "/ctx/hello.txt", "hello from " .. dir .. "\n")
  if random then T.must(("head -c %d /dev/urandom > %s"):format(random, T.q(dir .. "/ctx/random.bin"))) end
  T.built(store, dir .. "/ctx", "-t", tag, table.unpack(extra or {}))
  return T.image(store, tag)
end

describe("ocibuild push and pull", function()
  local reg, why, base

  R.serve({}, function(r, w, b) reg, why, base = r, w, b end,
    function() return have("skopeo"), "skopeo is not installed" end)

  it("pushes an image skopeo reads back byte for byte, then only HEADs it again", function()
    if not reg then return pending(why) end
    local d, store = base .. "/one", base .. "/one/store"
    local tag = reg.host .. "/team/app:v1"
    local img = build(d, store, tag, 200000)
    local _, n0 = since(reg, 0)
    local code, out, err = ocb(store, "push", tag)
    assert.equal(0, code, out .. err)
    local l = lines(out)
    assert.equal(3, #l)
    assert.equal(reg.host .. "/team/app@" .. img.desc.digest, l[3])
    assert.truthy(out:find(("uploaded   %s %d B\n"):format(img.manifest.config.digest, img.manifest.config.size), 1,
      true), out)
    assert.truthy(out:find("uploaded   " .. img.manifest.layers[1].digest .. " 195.", 1, true), out)

    local reqs = since(reg, n0)
    assert.equal(2, count(reqs, "HEAD", "^/v2/team/app/blobs/sha256:", 404))
    assert.equal(2, count(reqs, "POST", "^/v2/team/app/blobs/uploads/$", 202))
    assert.equal(2, count(reqs, "PUT", "^/v2/team/app/blobs/uploads/.*[?&]digest=sha256", 201))
    assert.equal(0, count(reqs, "PATCH", "."))
    assert.equal(1, count(reqs, "PUT", "^/v2/team/app/manifests/v1$", 201))

    -- what skopeo reads is the store's manifest, and copies back whole
    assert.equal(T.read(img.blob(img.desc.digest)), remote_manifest(reg, "team/app:v1"))
    code, out, err = skopeo(("copy --src-tls-verify=false %s %s"):format(T.q("docker://" .. tag),
      T.q("oci:" .. d .. "/back:v1")))
    assert.equal(0, code, out .. err)
    local back = T.json(T.read(d .. "/back/index.json")).manifests[1]
    assert.equal(img.desc.digest, back.digest)
    assert.equal(T.sha256_file(img.layers[1]), T.sha256_file(d .. "/back/blobs/sha256/"
      .. img.manifest.layers[1].digest:sub(8)))

    local _, n1 = since(reg, 0)
    code, out, err = ocb(store, "push", tag)
    assert.equal(0, code, out .. err)
    assert.equal(2, select(2, out:gsub("exists ", "")))
    reqs = since(reg, n1)
    for _, r in ipairs(reqs) do
      assert.truthy(r.method == "HEAD" or (r.method == "GET" and r.path == "/v2/"), r.line)
    end
  end)

  it("builds on a base it pulls from the registry, every blob verified, the base named on the manifest", function()
    if not reg then return pending(why) end
    local d, store = base .. "/from", base .. "/from/store"
    local img = build(d, store, reg.host .. "/team/base:1", 30000)
    local code, out, err = ocb(store, "push", reg.host .. "/team/base:1")
    assert.equal(0, code, out .. err)
    T.write(d .. "/app/app.txt", "the app\n")
    local fresh = d .. "/fresh"
    code, out, err = ocb(fresh, "build", d .. "/app", "-t", "app:1", "--dest", "/srv",
      "--from", reg.host .. "/team/base:1")
    assert.equal(0, code, out .. err)
    local app = T.image(fresh, "app:1")
    assert.equal(2, #app.manifest.layers)
    assert.equal(img.manifest.layers[1].digest, app.manifest.layers[1].digest)
    assert.equal(img.desc.digest, app.manifest.annotations["org.opencontainers.image.base.digest"])
    assert.equal(reg.host .. "/team/base:1", app.manifest.annotations["org.opencontainers.image.base.name"])
    T.must("oci-image-tool validate --type image " .. T.q(fresh))
  end)

  it("mounts the blobs a second repository of the same registry needs", function()
    if not reg then return pending(why) end
    local d, store = base .. "/mount", base .. "/mount/store"
    local img = build(d, store, "mount:v1", 50000)
    local code, out, err = ocb(store, "push", "mount:v1", reg.host .. "/team/first:v1")
    assert.equal(0, code, out .. err)
    local _, n0 = since(reg, 0)
    code, out, err = ocb(store, "push", "mount:v1", reg.host .. "/other/second:v2")
    assert.equal(0, code, out .. err)
    assert.truthy(out:find("mounted    " .. img.manifest.layers[1].digest, 1, true), out)
    assert.truthy(out:find("mounted    " .. img.manifest.config.digest, 1, true), out)
    local reqs = since(reg, n0)
    assert.equal(2, count(reqs, "POST", "^/v2/other/second/blobs/uploads/%?mount=sha256%%3A%x+&from=team%%2Ffirst$",
      201))
    assert.equal(0, count(reqs, "PUT", "/blobs/uploads/"))
    assert.equal(T.read(img.blob(img.desc.digest)), remote_manifest(reg, "other/second:v2"))
  end)

  it("pulls into an empty store, verified, valid for oci-image-tool; a second pull downloads nothing", function()
    if not reg then return pending(why) end
    local d, store = base .. "/pull", base .. "/pull/store"
    local img = build(d, store, reg.host .. "/team/pulled:v1", 100000)
    assert.equal(0, (ocb(store, "push", reg.host .. "/team/pulled:v1")))
    local into = d .. "/into"
    local code, out, err = ocb(into, "pull", reg.host .. "/team/pulled:v1")
    assert.equal(0, code, out .. err)
    local l = lines(out)
    assert.equal(reg.host .. "/team/pulled@" .. img.desc.digest, l[#l])
    assert.equal(2, select(2, out:gsub("downloaded ", "")))
    local got = T.image(into, reg.host .. "/team/pulled:v1")
    assert.equal(img.desc.digest, got.desc.digest)
    assert.equal(reg.host .. "/team/pulled:v1", got.desc.annotations["io.containerd.image.name"])
    for _, layer in ipairs(got.layers) do assert.equal(layer:match("[^/]+$"), T.sha256_file(layer)) end
    if have("oci-image-tool") then
      code, out, err = T.sh("oci-image-tool validate --type image " .. T.q(into))
      assert.equal(0, code, out .. err)
    end
    assert.equal("", T.must("ls -A " .. T.q(into .. "/.ocibuild-tmp")))
    code, out = ocb(into, "pull", reg.host .. "/team/pulled@" .. img.desc.digest)
    assert.equal(0, code, out)
    assert.equal(0, select(2, out:gsub("downloaded ", "")))
    assert.equal(2, select(2, out:gsub("exists ", "")))
  end)

  it("a pulled image is listed with its platform, and exports to the same bytes as where it was built", function()
    if not reg then return pending(why) end
    local d = base .. "/same"
    local tag = reg.host .. "/team/same:v1"
    local img = build(d, d .. "/built", tag, 1000, { "--platform", "linux/arm64/v8" })
    assert.equal(0, (ocb(d .. "/built", "push", tag)))
    assert.equal(0, (ocb(d .. "/pulled", "pull", tag, "--platform", "linux/arm64")))
    local got = T.image(d .. "/pulled", tag)
    assert.same(img.desc, got.desc)
    assert.same({ architecture = "arm64", os = "linux" }, got.desc.platform)
    for _, s in ipairs { "built", "pulled" } do
      local code, out, err = ocb(d .. "/" .. s, "export", tag, "-o", d .. "/" .. s .. ".tar")
      assert.equal(0, code, out .. err)
    end
    assert.equal(T.sha256_file(d .. "/built.tar"), T.sha256_file(d .. "/pulled.tar"))
  end)

  it("on a terminal of 80 columns: results print above the live lines, and no live line is left behind", function()
    if not reg then return pending(why) end
    local screen = require "support.screen"
    local d, store = base .. "/tty", base .. "/tty/store"
    -- through a relay at 24 MiB/s, a 16 MiB layer moves for most of a second:
    -- its line is drawn several times, on any machine
    T.must("mkdir -p " .. T.q(d))
    local pid = T.must(("/usr/bin/python3 %s/spec/support/throttle.py %s %d > %s 2>&1 & echo $!"):format(
      T.q(T.root), reg.host, 24 << 20, T.q(d .. "/relay.port"))):match("%d+")
    T.finally(finally, function() T.sh("kill " .. pid) end)
    local port
    for _ = 1, 100 do
      port = T.exists(d .. "/relay.port") and T.read(d .. "/relay.port"):match("^(%d+)\n")
      if port then break end
      T.sh("sleep 0.1")
    end
    assert(port, "the relay did not start")
    local host = "127.0.0.1:" .. port
    local tag = host .. "/team/tty:v1"
    local img = build(d, store, tag, 16 << 20, { "--compression", "none" })
    local function on_tty(...)
      local words = {}
      for i, w in ipairs { ... } do words[i] = T.q(w) end
      local code, raw = T.sh(("/usr/bin/python3 %s/spec/support/ontty.py 80 -- %s %s"):format(T.q(T.root),
        T.q(T.bin), table.concat(words, " ")))
      return code, raw, screen.render(raw, 80)
    end
    local blobs = { img.manifest.layers[1], img.manifest.config }
    for _, case in ipairs {
      { { "--store", store, "push", tag }, "uploaded  " },
      { { "--store", d .. "/pulled", "pull", tag }, "downloaded" },
    } do
      local code, raw, shown = on_tty(table.unpack(case[1]))
      assert.equal(0, code, raw)
      -- the live lines were drawn: a blob's short digest first, then its share
      local short = blobs[1].digest:sub(8, 19)
      assert.truthy(raw:find(case[1][3] .. " " .. short .. "  %d+%%"), raw)
      -- the screen holds the result lines (wrapped at 80 columns) and nothing else
      local results = {}
      for _, b in ipairs(blobs) do
        results[#results + 1] = ("%s %s %s"):format(case[2], b.digest,
          require("ocibuild.cli.output").human(math.tointeger(b.size)))
      end
      table.sort(results)
      results[#results + 1] = host .. "/team/tty@" .. img.desc.digest
      local rows = {}
      for _, l in ipairs(results) do
        for k = 1, #l, 80 do rows[#rows + 1] = l:sub(k, k + 79) end
      end
      local got = {}
      for k = 1, #shown - 2, 2 do got[#got + 1] = { shown[k], shown[k + 1] } end -- two rows per line
      table.sort(got, function(x, y) return x[1] < y[1] end)
      local flat = {}
      for _, pair in ipairs(got) do flat[#flat + 1], flat[#flat + 2] = pair[1], pair[2] end
      for k = #shown - 1, #shown do flat[#flat + 1] = shown[k] end
      assert.same(rows, flat)
    end
    -- -q: the reference alone, on a terminal too
    local code, raw, shown = on_tty("--store", store, "push", "-q", tag)
    assert.equal(0, code, raw)
    assert.same({ host .. "/team/tty@" .. img.desc.digest:sub(1, 80 - #host - 10),
      img.desc.digest:sub(80 - #host - 9) }, shown)
    local out, err
    code, out, err = ocb(d .. "/pulled-q", "pull", "-q", tag)
    assert.same({ 0, host .. "/team/tty@" .. img.desc.digest .. "\n", "" }, { code, out, err })
    -- plain: each blob once (on standard output), the stage on standard error
    code, out, err = ocb(d .. "/pulled-plain", "pull", "--progress=plain", tag)
    assert.equal(0, code, err)
    assert.equal(3, #lines(out))
    assert.is_nil(err:find("sha256:", 1, true), err)
    assert.truthy(err:find("pull " .. tag .. ": done", 1, true), err)
  end)

  it("pushes a multi-platform index children first; pull picks the platform asked for", function()
    if not reg then return pending(why) end
    local d, store = base .. "/multi", base .. "/multi/store"
    local amd = build(d .. "/a", store, "multi:amd64", nil, { "--platform", "linux/amd64" })
    local arm = build(d .. "/b", store, "multi:arm64", nil, { "--platform", "linux/arm64/v8" })
    -- an index of both, tagged in the store (what a multi-platform build makes)
    T.write(d .. "/tag.lua", ([[
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = %q .. "/lib/?.so;" .. package.cpath
      local doc = require "ocibuild.oci.doc"
      local st = assert(require("ocibuild.store").open(%q))
      local idx = doc.index {
        doc.descriptor(%q, %q, %d, { platform = { os = "linux", architecture = "amd64" } }),
        doc.descriptor(%q, %q, %d, { platform = { os = "linux", architecture = "arm64" } }),
      }
      local digest, size = assert(st:put_blob(doc.encode(idx)))
      assert(st:tag(doc.descriptor(idx.mediaType, digest, size), { require("ocibuild.oci.ref").parse("multi:all") }))
      print(digest)
    ]]):format(T.build, store, MANIFEST, amd.desc.digest, amd.desc.size, MANIFEST, arm.desc.digest, arm.desc.size))
    local index_digest = T.must("lua5.4 " .. T.q(d .. "/tag.lua")):match("sha256:%x+")
    local _, n0 = since(reg, 0)
    local code, out, err = ocb(store, "push", "multi:all", reg.host .. "/team/multi:v1")
    assert.equal(0, code, out .. err)
    local reqs = since(reg, n0)
    local puts = {}
    for _, r in ipairs(reqs) do
      if r.method == "PUT" and r.path:match("/manifests/") then puts[#puts + 1] = r.path:match("[^/]+$") end
    end
    table.sort(puts, function(a, b) return a == "v1" and false or (b == "v1" or a < b) end)
    assert.same({ math.min(amd.desc.digest, arm.desc.digest) == amd.desc.digest and amd.desc.digest or arm.desc.digest,
      amd.desc.digest < arm.desc.digest and arm.desc.digest or amd.desc.digest, "v1" }, puts)
    assert.equal("v1", reqs[#reqs].path:match("[^/]+$"))
    assert.equal(index_digest, sha256(remote_manifest(reg, "team/multi:v1")))

    code, out, err = ocb(d .. "/into", "pull", "--platform", "linux/arm64", reg.host .. "/team/multi:v1")
    assert.equal(0, code, out .. err)
    assert.equal(reg.host .. "/team/multi@" .. arm.desc.digest, lines(out)[#lines(out)])
    assert.same({ 1, "ocibuild: sha256:" }, { (ocb(d .. "/into", "pull", "--platform", "linux/s390x",
      reg.host .. "/team/multi:v1")), select(3, ocb(d .. "/into", "pull", "--platform", "linux/s390x",
      reg.host .. "/team/multi:v1")):sub(1, 17) })
    local _, _, perr = ocb(d .. "/into", "pull", "--platform", "linux/s390x", reg.host .. "/team/multi:v1")
    assert.matches("has no image for linux/s390x %(it has: linux/amd64, linux/arm64%); pass another platform", perr)
  end)

  it("an interrupted push leaves the tag as it was; run again, it skips what arrived", function()
    if not reg then return pending(why) end
    local d, store = base .. "/stop", base .. "/stop/store"
    local img = build(d, store, "stop:v1", 300000)
    local old = build(d .. "/old", store, "stop:old", 1000)
    assert.equal(0, (ocb(store, "push", "stop:old", reg.host .. "/team/stop:v1")))
    T.write(d .. "/push.lua", ([[
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = %q .. "/lib/?.so;" .. package.cpath
      local registry = require "ocibuild.registry"
      local st = assert(require("ocibuild.store").open(%q))
      local desc = assert(require("ocibuild.store.images").find(st, "stop:v1")).desc
      local ok, err = pcall(registry.push, st, desc, %q, { jobs = 1, on_event = function(ev)
        if ev.type == "blob" and ev.action == "uploaded" then error("stopped after " .. ev.digest, 0) end
      end })
      print(ok, err)
    ]]):format(T.build, store, reg.host .. "/team/stop:v1"))
    local out = T.must("lua5.4 " .. T.q(d .. "/push.lua"))
    assert.equal("false\tstopped after " .. img.manifest.config.digest .. "\n", out)
    -- the tag still names the old image, and nothing was left in the store's temp folder
    assert.equal(old.desc.digest, sha256(remote_manifest(reg, "team/stop:v1")))
    assert.equal("", T.must("ls -A " .. T.q(store .. "/.ocibuild-tmp")))
    local code, err
    code, out, err = ocb(store, "push", "stop:v1", reg.host .. "/team/stop:v1")
    assert.equal(0, code, out .. err)
    assert.truthy(out:find("exists     " .. img.manifest.config.digest, 1, true), out)
    assert.truthy(out:find("uploaded   " .. img.manifest.layers[1].digest, 1, true), out)
    assert.equal(img.desc.digest, sha256(remote_manifest(reg, "team/stop:v1")))
  end)

  it("a damaged store blob fails the push, naming it; the registry's tag stays", function()
    if not reg then return pending(why) end
    local d, store = base .. "/bad", base .. "/bad/store"
    local good = build(d .. "/g", store, "bad:good", 1000)
    assert.equal(0, (ocb(store, "push", "bad:good", reg.host .. "/team/bad:v1")))
    local img = build(d, store, "bad:v1", 1500000)
    local layer = img.layers[1]
    local bytes = T.read(layer)
    T.must("chmod u+w " .. T.q(layer))
    T.write(layer, bytes:sub(1, 100) .. string.char((bytes:byte(101) + 1) % 256) .. bytes:sub(102))
    local want = ("ocibuild: store blob %s is damaged: its bytes hash to %s (the upload to %s stopped before its end; "
      .. "run 'ocibuild fsck' to see the images it breaks, then pull or build them again)\n")
      :format(img.manifest.layers[1].digest, "sha256:" .. T.sha256_file(layer), reg.host)
    -- sent whole, then in chunks: either way it is caught, and nothing is tagged
    -- (blobs sent beside it, the config, may be done before it fails: each is
    -- listed; the damaged one never is)
    local code, out, err = ocb(store, "push", "bad:v1", reg.host .. "/team/bad:v1")
    assert.same({ 1, want }, { code, err })
    assert.is_nil(out:find(img.manifest.layers[1].digest, 1, true), out)
    assert.equal("", (out:gsub("uploaded   sha256:%x+ [^\n]*\n", "")))
    code, out, err = ocb(store, "push", "bad:v1", reg.host .. "/team/bad:v1", "--chunk-size", "1M")
    assert.same({ 1, want }, { code, err })
    assert.is_string(out)
    assert.equal(good.desc.digest, sha256(remote_manifest(reg, "team/bad:v1")))
  end)

  it("build --push, and build scripts: save { push = }, oci.pull, oci.push", function()
    if not reg then return pending(why) end
    local d, store = base .. "/script", base .. "/script/store"
    T.write(d .. "/ctx/site/index.html", "<h1>hi</h1>\n")
    local code, out, err = ocb(store, "build", d .. "/ctx/site", "-t", reg.host .. "/team/built:v1",
      "-t", reg.host .. "/team/built:v2", "--push", "--progress=plain")
    assert.equal(0, code, out .. err)
    local digest = out:match("digest:%s+(sha256:%x+)")
    assert.truthy(out:find("pushed:   " .. reg.host .. "/team/built@" .. digest .. "\n", 1, true), out)
    assert.equal(digest, sha256(remote_manifest(reg, "team/built:v2")))
    assert.truthy(err:find("push " .. reg.host .. "/team/built:v1", 1, true), err)

    T.write(d .. "/ctx/build.lua", ([[
local oci = require "ocibuild"
local base = oci.pull(%q)
print("pulled " .. base.reference)
local img = oci.image {}
img:layer { context = "site", dest = "/srv" }
local r = img:save { tag = "scripted:v1", push = %q }
print("pushed " .. r.pushed[1].reference)
print("copied " .. oci.push("scripted:v1", %q).reference)
return r
]]):format(reg.host .. "/team/built:v1", reg.host .. "/team/scripted:v1", reg.host .. "/team/copied:v1"))
    -- oci.pull and oci.push are for programs and unsandboxed scripts
    code, out, err = ocb(store, "run", d .. "/ctx/build.lua")
    assert.same({ 1, "" }, { code, out })
    assert.equal(d .. "/ctx/build.lua:2: oci.pull is not available in build scripts: a build script builds and saves, "
      .. "it does not manage the user's store or registries, nor run other scripts (use --unsafe to allow)",
      err:match("^ocibuild: (.-)\n"))
    code, out, err = ocb(store, "run", "--unsafe", d .. "/ctx/build.lua")
    assert.equal(0, code, out .. err)
    local pushed = out:match("pushed (%S+)")
    assert.equal("pulled " .. reg.host .. "/team/built@" .. digest, out:match("pulled %S+"))
    assert.equal(pushed:gsub("scripted", "copied"), out:match("copied (%S+)"))
    assert.equal(pushed:match("sha256:%x+"), sha256(remote_manifest(reg, "team/scripted:v1")))

    T.write(d .. "/ctx/bad.lua",
      'local oci = require "ocibuild"\nlocal r = oci.image {}:save { tag = "plain:v1", push = true }\nreturn r\n')
    code, out, err = ocb(store, "run", d .. "/ctx/bad.lua")
    assert.same({ 1, "", "ocibuild: " .. d
      .. '/ctx/bad.lua:2: push = true: tag "plain:v1" names no registry (use HOST/NAME:TAG, or '
      .. 'push = "HOST/NAME:TAG")\n' }, { code, out, err })
  end)

  it("says what is wrong in one line, before any traffic when the reference is", function()
    if not reg then return pending(why) end
    local d, store = base .. "/err", base .. "/err/store"
    local img = build(d, store, "err:v1")
    local _, n0 = since(reg, 0)
    local code, out, err = ocb(store, "push", "err:v1", reg.host .. "/GiteaAdmin/site:v1")
    assert.same({ 2, "", ('ocibuild: invalid reference "%s/GiteaAdmin/site:v1": repository name "GiteaAdmin/site" '
      .. 'must be lowercase (try "%s/giteaadmin/site:v1") (see \'ocibuild push --help\')\n'):format(reg.host,
      reg.host) },
      { code, out, err })
    assert.equal(0, #since(reg, n0))

    code, out, err = ocb(store, "push", "err:v1")
    assert.same({ 2, "",
      "ocibuild: \"err:v1\" names no registry: give DEST, as HOST/NAME:TAG (see 'ocibuild push --help')\n" },
      { code, out, err })
    code, _, err = ocb(store, "push", "err:v1", "127.0.0.1:1/team/app:v1")
    assert.same({ 1, "ocibuild: cannot connect to 127.0.0.1:1: connection refused at https://127.0.0.1:1/v2/ "
      .. "(is the registry running there?)\n" }, { code, err })

    -- a web server that is not a registry
    T.write(d .. "/www/index.html", "hello")
    local port = 20000 + tonumber(T.must("od -An -tu2 -N2 /dev/urandom"):match("%d+")) % 12000
    local pid = T.must(("cd %s && python3 -m http.server --bind 127.0.0.1 %d >/dev/null 2>&1 & echo $!")
      :format(T.q(d .. "/www"), port)):match("%d+")
    T.finally(finally, function() os.execute("kill " .. pid .. " 2>/dev/null") end)
    T.sh(("for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:%d/ && exit 0; sleep 0.05; done"):format(port))
    code, _, err = ocb(store, "push", "err:v1", ("127.0.0.1:%d/team/app:v1"):format(port))
    assert.same({ 1,
      ("ocibuild: 127.0.0.1:%d is not a registry: GET http://127.0.0.1:%d/v2/ answered HTTP 404, not 200 "
      .. "or 401\n"):format(port, port) }, { code, err })

    -- a manifest the registry refuses: an OCI body under a Docker media type
    local index = T.json(T.read(store .. "/index.json"))
    for _, m in ipairs(index.manifests) do
      if m.digest == img.desc.digest then m.mediaType = "application/vnd.docker.distribution.manifest.v2+json" end
    end
    T.write(store .. "/index.json", require("cjson").encode(index))
    code, _, err = ocb(store, "push", "err:v1", reg.host .. "/team/err:v1")
    assert.equal(1, code)
    local want = ("ocibuild: pushing the manifest of %s/team/err:v1: %s answered HTTP 400 (MANIFEST_INVALID: manifest "
      .. "invalid"):format(reg.host, reg.host)
    assert.equal(want, err:sub(1, #want))
    assert.is_nil(remote_manifest(reg, "team/err:v1"))
  end)

  describe("behind a proxy with a body limit", function()
    local proxy

    setup(function()
      if reg and R.available { body_limit = "1m" } then proxy = R.start { body_limit = "1m" } end
    end)

    teardown(function()
      if proxy then proxy.stop() end
    end)

    it("a blob over the limit goes in ordered chunks the proxy takes, said once", function()
      if not proxy then return pending(why or "nginx is not installed") end
      local d, store = base .. "/limit", base .. "/limit/store"
      local img = build(d, store, "limit:v1", 3000000)
      local code, out, err = ocb(store, "push", "limit:v1", proxy.host .. "/team/big:v1")
      assert.equal(0, code, out .. err)
      assert.equal(("ocibuild: warning: %s refused a request body of 2.9 MiB with HTTP 413 (a proxy's body limit): "
        .. "uploading in chunks, halved until it takes them (1 MiB at the least)\n"):format(proxy.host), err)
      local reqs = proxy.requests()
      assert.equal(1, count(reqs, "PUT", "/blobs/uploads/.*digest=", 413))
      local ends, size = {}, img.manifest.layers[1].size
      for _, r in ipairs(reqs) do
        if r.method == "PATCH" and r.status == 202 then
          local a, b = r.line:match(' cr="(%d+)%-(%d+)"')
          assert.truthy(tonumber(b) - tonumber(a) + 1 <= 1 << 20, r.line)
          assert.equal(#ends == 0 and 0 or ends[#ends] + 1, tonumber(a))
          ends[#ends + 1] = tonumber(b)
        end
        assert.falsy(r.line:find('te="chunked"', 1, true), r.line)
      end
      assert.equal(size - 1, ends[#ends])
      assert.equal(1, count(reqs, "PUT", "/blobs/uploads/.*digest=" .. img.manifest.layers[1].digest:gsub(":",
        "%%%%3A"), 201))
      assert.equal(T.read(img.blob(img.desc.digest)), remote_manifest(proxy, "team/big:v1"))

      -- pulled back through the proxy, the layer is the same
      code, out, err = ocb(d .. "/into", "pull", proxy.host .. "/team/big:v1")
      assert.equal(0, code, out .. err)
      assert.equal(T.sha256_file(img.layers[1]), T.sha256_file(d .. "/into/blobs/sha256/"
        .. img.manifest.layers[1].digest:sub(8)))

      -- chunks under the limit from the start: no 413 at all (and without
      -- the store's records of where blobs went, no mount either)
      T.must("rm " .. T.q(store .. "/.ocibuild/sources.json"))
      local n0 = #proxy.requests()
      code, out, err = ocb(store, "push", "limit:v1", proxy.host .. "/team/chunked:v1", "--chunk-size", "1M")
      assert.equal(0, code, out .. err)
      assert.equal("", err)
      reqs = table.move(proxy.requests(), n0 + 1, #proxy.requests(), 1, {})
      assert.equal(0, count(reqs, "PUT", ".", 413) + count(reqs, "PATCH", ".", 413))
      assert.equal(3, count(reqs, "PATCH", "/blobs/uploads/", 202))
    end)
  end)
end)
