-- Building on a base image, checked by real consumers. The suite makes the
-- base itself: Debian's busybox-static as a root file system (/bin/busybox
-- and a symlink per applet, /tmp 1777, /var/run a symlink) made into an
-- image by ocibuild. An app is built on it with several layers, rules,
-- files and removals; umoci unpacks it (base files plus new ones, later
-- layers winning, whiteouts applied), skopeo reads the merged config,
-- podman loads its archive. A rebuild after a change to the top layer
-- writes only that layer, the config and the manifest. A two-platform
-- index passes oci-image-tool, skopeo inspects and copies it, and serves
-- as a base for either platform.
local T = require "support"
local cjson = require "cjson"
local tree = require "interop.tree"

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil
local UMOCI = IS_ROOT and "umoci unpack" or "umoci unpack --rootless"

-- The index.json entry of store tagged ref, and the path of a blob.
local function entry(store, ref)
  for _, d in ipairs(T.json(T.read(store .. "/index.json")).manifests) do
    if (d.annotations or {})["org.opencontainers.image.ref.name"] == ref then return d end
  end
  error("no " .. ref .. " in " .. store)
end

local function blob(store, digest) return store .. "/blobs/sha256/" .. digest:sub(8) end

local function printed(out, field)
  return out:match(field .. ":%s+(%S+)")
end

-- A busybox root file system at dir.
local function busybox_rootfs(dir)
  T.must(("mkdir -p %s/bin %s/etc %s/root %s/run %s/var %s/usr/share/doc/busybox %s/tmp && chmod 1777 %s/tmp")
    :format(T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir)))
  T.must(("cp /bin/busybox %s/bin/busybox && cd %s/bin && for a in $(./busybox --list); do [ $a = busybox ] ||" ..
    " ln -s busybox $a; done")
    :format(T.q(dir), T.q(dir)))
  T.must(("ln -s ../run %s/var/run"):format(T.q(dir)))
  T.write(dir .. "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/opt/app:/bin/sh\n", 420)
  T.write(dir .. "/etc/issue", "Welcome to busybox\n", 420)
  T.write(dir .. "/usr/share/doc/busybox/copyright", "GPL-2\n", 420)
end

local BASE = [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/amd64" }
img:layer { context = "rootfs" }
img:config { env = { PATH = "/usr/sbin:/usr/bin:/sbin:/bin", HOME = "/root" }, cmd = { "/bin/sh" },
  workdir = "/root", ports = { "22" }, volumes = { "/data" }, stop_signal = "SIGQUIT",
  labels = { ["org.opencontainers.image.title"] = "busybox", tier = "base" } }
return img:save { tag = "busybox:base" }
]]

local APP = [[
local oci = require "ocibuild"
local img = oci.image { from = "busybox:base" }
img:layer { context = "deps", dest = "/opt/app" }
img:layer { context = "src", dest = "/opt/app",
  rules = { { "bin/**", mode = "0755" }, { "data/**", owner = "1000:1000", dir_mode = "0750" } } }
img:layer { context = "cache", dest = "/tmp/cache" }
img:layer { context = "sock", dest = "/var/run/app" }
img:file { path = "/etc/app.conf", content = "mode=prod\n" }
img:remove { "/usr/share/doc/**", "/etc/issue" }
img:config { env = { APP_ENV = "prod", HOME = "/opt/app" }, entrypoint = { "/opt/app/bin/run" },
  workdir = "/opt/app", user = "1000:1000", ports = { "8080" } }
img:labels { tier = "app" }
img:annotations { version = "1.0", source = "https://example.com/app" }
return img:save { tag = "app:1", archive = args.archive }
]]

local TOP = [[
local oci = require "ocibuild"
local img = oci.image { from = "busybox:base" }
img:layer { context = "deps", dest = "/opt/app" }
img:layer { context = "src", dest = "/opt/app" }
return img:save { tag = "top:1" }
]]

local MULTI = [[
local oci = require "ocibuild"
local imgs = {}
for _, arch in ipairs { "amd64", "arm64" } do
  local img = oci.image { platform = "linux/" .. arch }
  img:layer { context = "bin-" .. arch, dest = "/usr/local/bin" }
  img:config { entrypoint = { "/usr/local/bin/tool" } }
  imgs[#imgs + 1] = img
end
return oci.index(imgs):save { tag = "multi:1" }
]]

describe("ocibuild.interop base images", function()
  local tmp, store
  local app = {}

  setup(function()
    tmp = T.tmpdir()
    store = tmp .. "/store"
    busybox_rootfs(tmp .. "/rootfs")
    T.write(tmp .. "/base.lua", BASE)
    local code, out, err = T.ocibuild("--store", store, "run", tmp .. "/base.lua")
    assert(code == 0, "base build failed: " .. out .. err)

    T.write(tmp .. "/deps/VERSION", "deps\n", 420)
    T.write(tmp .. "/deps/lib/dep.txt", "a dependency\n", 420)
    T.write(tmp .. "/src/VERSION", "src\n", 420)
    T.write(tmp .. "/src/bin/run", "#!/bin/sh\necho run\n", 420)
    T.write(tmp .. "/src/data/state/x", "state\n", 420)
    T.write(tmp .. "/cache/c.bin", "cache\n", 420)
    T.write(tmp .. "/sock/app.pid", "1\n", 420)
    T.write(tmp .. "/app.lua", APP)
    app.archive = tmp .. "/app.tar"
    -- busybox:base was saved by another run: the app's script may build on
    -- it because the user names it
    code, out, err = T.ocibuild("--store", store, "run", tmp .. "/app.lua", "archive=" .. app.archive,
      "--allow-image", "busybox:base")
    assert(code == 0, "app build failed: " .. out .. err)
    app.digest = printed(out, "digest")
  end)

  teardown(function()
    if tmp then T.sh("chmod -R u+rwx " .. T.q(tmp) .. "; rm -rf " .. T.q(tmp)) end
  end)

  describe("umoci unpack", function()
    local root, snap

    setup(function()
      T.must(("cd %s && %s --image %s bundle"):format(T.q(tmp), UMOCI, T.q(store .. ":app:1")))
      root = tmp .. "/bundle/rootfs"
      snap = tree.snapshot(root)
    end)

    it("has the base's files: busybox and its applets", function()
      assert.equal("file", snap["bin/busybox"].type)
      assert.equal(T.sha256_file("/bin/busybox"), snap["bin/busybox"].sha256)
      assert.same({ type = "symlink", target = "busybox" }, { type = snap["bin/sh"].type,
        target = snap["bin/sh"].target })
      assert.equal("busybox", snap["bin/ls"].target)
      assert.equal("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/opt/app:/bin/sh\n", T.read(root .. "/etc/passwd"))
    end)

    it("has the new layers' files, the later layer winning", function()
      assert.equal("src\n", T.read(root .. "/opt/app/VERSION"))
      assert.equal("a dependency\n", T.read(root .. "/opt/app/lib/dep.txt"))
      assert.equal("mode=prod\n", T.read(root .. "/etc/app.conf"))
      assert.equal("cache\n", T.read(root .. "/tmp/cache/c.bin"))
    end)

    it("applies the rules: mode and owner per path", function()
      assert.equal(493, snap["opt/app/bin/run"].mode)
      assert.equal(420, snap["opt/app/VERSION"].mode)
      assert.equal(488, snap["opt/app/data/state"].mode)
      if IS_ROOT then
        assert.equal("1000:1000", T.must("stat -c %u:%g " .. T.q(root .. "/opt/app/data/state/x")):match("%S+"))
        assert.equal("0:0", T.must("stat -c %u:%g " .. T.q(root .. "/opt/app/bin/run")):match("%S+"))
      end
    end)

    it("keeps the base's folders under a destination: /tmp stays 1777, /var/run a symlink", function()
      assert.equal(1023, snap.tmp.mode)
      assert.same({ type = "symlink", target = "../run" }, { type = snap["var/run"].type,
        target = snap["var/run"].target })
      assert.equal("1\n", T.read(root .. "/run/app/app.pid"))
    end)

    it("applies the whiteouts: a removed file, an emptied folder", function()
      assert.is_nil(snap["etc/issue"])
      assert.equal("dir", snap["usr/share/doc"].type)
      assert.is_nil(snap["usr/share/doc/busybox"])
      assert.is_nil(snap["usr/share/doc/busybox/copyright"])
      for p in pairs(snap) do assert.is_nil(p:find(".wh.", 1, true), p) end
    end)
  end)

  describe("skopeo inspect", function()
    it("shows the merged config", function()
      local c = cjson.decode(T.must("skopeo inspect --config " .. T.q("oci:" .. store .. ":app:1")))
      assert.same({ "HOME=/opt/app", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "APP_ENV=prod" }, c.config.Env)
      assert.same({ "/opt/app/bin/run" }, c.config.Entrypoint)
      assert.is_nil(c.config.Cmd) -- a new entrypoint clears the base's cmd
      assert.equal("/opt/app", c.config.WorkingDir)
      assert.equal("1000:1000", c.config.User)
      assert.equal("SIGQUIT", c.config.StopSignal)
      assert.same({ ["22/tcp"] = {}, ["8080/tcp"] = {} }, c.config.ExposedPorts)
      assert.same({ ["/data"] = {} }, c.config.Volumes)
      assert.same({ ["org.opencontainers.image.title"] = "busybox", tier = "app" }, c.config.Labels)
      assert.equal(6, #c.rootfs.diff_ids)
      assert.equal(6, #c.history)
      assert.equal("ocibuild layer /", c.history[1].created_by)
      assert.equal("ocibuild layer /opt/app/", c.history[2].created_by)
      assert.equal("ocibuild file /etc/app.conf; remove /usr/share/doc/** /etc/issue", c.history[6].created_by)
      local base = cjson.decode(T.must("skopeo inspect --config " .. T.q("oci:" .. store .. ":busybox:base")))
      assert.equal(base.rootfs.diff_ids[1], c.rootfs.diff_ids[1])
    end)

    it("shows the base's layer reused and the base annotations on the manifest", function()
      local m = cjson.decode(T.must("skopeo inspect --raw " .. T.q("oci:" .. store .. ":app:1")))
      local b = T.image(store, "busybox:base")
      assert.same(b.manifest.layers[1], m.layers[1])
      assert.equal(b.desc.digest, m.annotations["org.opencontainers.image.base.digest"])
      assert.equal("docker.io/library/busybox:base", m.annotations["org.opencontainers.image.base.name"])
      assert.equal("1.0", m.annotations["org.opencontainers.image.version"])
      assert.equal("https://example.com/app", m.annotations["org.opencontainers.image.source"])
    end)
  end)

  describe("a rebuild", function()
    -- name -> inode of every blob
    local function blobs()
      local t = {}
      for ino, name in T.must("find " .. T.q(store .. "/blobs/sha256") .. " -type f -printf '%i %f\\n'")
          :gmatch("(%d+) (%x+)\n") do
        t[name] = ino
      end
      return t
    end

    it("after a change to the top layer's context writes only that layer, the config and the manifest", function()
      T.write(tmp .. "/top.lua", TOP)
      local code, out, err = T.ocibuild("--store", store, "run", tmp .. "/top.lua", "--allow-image", "busybox:base")
      assert.equal(0, code, out .. err)
      local before = blobs()
      T.write(tmp .. "/src/VERSION", "src 2\n", 420)
      code, out, err = T.ocibuild("--store", store, "run", tmp .. "/top.lua", "--allow-image", "busybox:base")
      assert.equal(0, code, out .. err)
      local after = blobs()
      local img = T.image(store, "top:1")
      local new = {}
      for name, ino in pairs(after) do
        if before[name] == nil then new[#new + 1] = "sha256:" .. name else assert.equal(before[name], ino, name) end
      end
      table.sort(new)
      local want = { img.desc.digest, img.manifest.config.digest, img.manifest.layers[3].digest }
      table.sort(want)
      assert.same(want, new)
    end)
  end)

  describe("a two-platform index", function()
    setup(function()
      T.write(tmp .. "/bin-amd64/tool", "amd64 tool\n", 493)
      T.write(tmp .. "/bin-arm64/tool", "arm64 tool\n", 493)
      T.write(tmp .. "/multi.lua", MULTI)
      local code, out, err = T.ocibuild("--store", store, "run", tmp .. "/multi.lua")
      assert(code == 0, "index build failed: " .. out .. err)
    end)

    it("passes oci-image-tool validate: the layout, the index, each manifest", function()
      local code, out, err = T.sh("oci-image-tool validate --type image " .. T.q(store))
      assert.equal(0, code, out .. err)
      assert.matches("Validation succeeded", out .. err)
      local top = entry(store, "multi:1")
      assert.equal("application/vnd.oci.image.index.v1+json", top.mediaType)
      local idx = T.json(T.read(blob(store, top.digest)))
      code, out, err = T.sh("oci-image-tool validate --type imageIndex " .. T.q(blob(store, top.digest)))
      assert.equal(0, code, out .. err)
      for _, d in ipairs(idx.manifests) do
        code, out, err = T.sh("oci-image-tool validate --type manifest " .. T.q(blob(store, d.digest)))
        assert.equal(0, code, out .. err)
      end
    end)

    it("is shown by skopeo inspect --raw and copied whole by skopeo copy --all", function()
      local raw = T.must("skopeo inspect --raw " .. T.q("oci:" .. store .. ":multi:1"))
      local idx = cjson.decode(raw)
      assert.equal("application/vnd.oci.image.index.v1+json", idx.mediaType)
      local plats = {}
      for _, d in ipairs(idx.manifests) do plats[#plats + 1] = d.platform.os .. "/" .. d.platform.architecture end
      assert.same({ "linux/amd64", "linux/arm64" }, plats)
      T.must(("skopeo copy --all %s %s"):format(T.q("oci:" .. store .. ":multi:1"), T.q("oci:" .. tmp
        .. "/copy:multi")))
      assert.equal(raw, T.must("skopeo inspect --raw " .. T.q("oci:" .. tmp .. "/copy:multi")))
      for _, d in ipairs(idx.manifests) do
        assert.is_true(T.exists(tmp .. "/copy/blobs/sha256/" .. d.digest:sub(8)))
      end
    end)

    it("is a base for either platform, and names the platforms it has when asked for another", function()
      T.write(tmp .. "/conf/tool.conf", "x\n", 420)
      local code, out, err = T.ocibuild("--store", store, "build", tmp .. "/conf", "--from", "multi:1",
        "--platform", "linux/arm64", "--dest", "/etc", "-t", "on-arm:1")
      assert.equal(0, code, out .. err)
      local img = T.image(store, "on-arm:1")
      assert.equal("arm64", img.config.architecture)
      local idx = T.json(T.read(blob(store, entry(store, "multi:1").digest)))
      local arm = T.json(T.read(blob(store, idx.manifests[2].digest)))
      assert.same(arm.layers[1], img.manifest.layers[1])
      assert.same({ "/usr/local/bin/tool" }, img.config.config.Entrypoint)
      code, out, err = T.ocibuild("--store", store, "build", tmp .. "/conf", "--from", "multi:1",
        "--platform", "linux/s390x", "-t", "on-s390x:1")
      assert.equal(1, code)
      assert.equal("", out)
      assert.equal("ocibuild: base image multi:1 has no image for linux/s390x; it has linux/amd64, linux/arm64\n", err)
    end)
  end)

  describe("podman load", function()
    it("loads the archive of an image built on a base, with the merged config", function()
      if not IS_ROOT then return pending("podman load runs as root here (rootless needs subuid setup)") end
      local podman = T.podman(tmp)
      local code, out, err = T.sh(podman .. " load -i " .. T.q(app.archive))
      assert.equal(0, code, out .. err)
      local i = T.json(T.must(podman .. " image inspect app:1"))[1]
      assert.equal(app.digest, i.Digest)
      assert.same({ "HOME=/opt/app", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "APP_ENV=prod" }, i.Config.Env)
      assert.same({ "/opt/app/bin/run" }, i.Config.Entrypoint)
      assert.equal("1000:1000", i.Config.User)
      assert.equal("SIGQUIT", i.Config.StopSignal)
      assert.same({ ["org.opencontainers.image.title"] = "busybox", tier = "app" }, i.Labels)
      assert.equal(6, #i.RootFS.Layers)
      T.sh(podman .. " rmi -a -f")
    end)
  end)
end)
