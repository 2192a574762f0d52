-- podman loads the OCI archives ocibuild writes: the image gets the tag,
-- digest, config and labels ocibuild printed, and its root file system
-- equals the source tree minus the excluded files. podman runs as root
-- against a private storage root (vfs driver), so the host's images are
-- never touched.
local T = require "support"
local tree = require "interop.tree"

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil

local function printed(out, field)
  return out:match(field .. ":%s+(%S+)")
end

describe("ocibuild.interop", function()
  describe("podman load", function()
    local tmp, podman, release

    setup(function()
      assert(T.sh("command -v podman") == 0, "podman is not installed: scripts/setup must install it")
      tmp = T.tmpdir()
      podman, release = T.podman(tmp)
    end)

    teardown(function()
      if release then release() end
    end)

    local function inspect(ref)
      local out = T.must(podman .. " image inspect " .. T.q(ref))
      return T.json(out)[1]
    end

    it("loads `ocibuild build -o` with its tag, digest, labels, and the source tree", function()
      if not IS_ROOT then return pending("podman load runs as root here (rootless needs subuid setup)") end
      local ctx = tmp .. "/ctx"
      tree.make(ctx, true)
      local src = tree.snapshot(ctx)
      local archive = tmp .. "/site.tar"
      local code, out, err = T.ocibuild("build", ctx, "-t", "site:dev", "--label", "com.example.team=web",
        "--store", tmp .. "/store", "-o", archive)
      assert.equal(0, code, out .. err)

      code, out, err = T.sh(podman .. " load -i " .. T.q(archive))
      assert.equal(0, code, out .. err)
      assert.matches("Loaded image: docker.io/library/site:dev", out .. err, 1, true)
      local i = inspect("site:dev")
      assert.same({ "docker.io/library/site:dev" }, i.RepoTags)
      local img = T.image(tmp .. "/store", "site:dev")
      assert.equal(img.desc.digest, i.Digest)
      assert.equal(img.manifest.config.digest, "sha256:" .. i.Id)
      assert.same({ ["com.example.team"] = "web" }, i.Labels)
      assert.same(img.config.rootfs.diff_ids, i.RootFS.Layers)

      local mnt = T.must(podman .. " image mount site:dev"):gsub("%s+$", "")
      tree.assert_same(src, mnt)
    end)

    it("loads a script's archive under its registry name, platform and config", function()
      if not IS_ROOT then return pending("podman load runs as root here (rootless needs subuid setup)") end
      T.write(tmp .. "/web/site/index.html", "<h1>hi</h1>\n")
      T.write(tmp .. "/web/build.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/arm64" }
img:layer { context = "site", dest = "/srv/www" }
img:config { cmd = { "/bin/httpd", "-f" }, workdir = "/srv/www" }
return img:save { tag = "localhost:5000/team/web:v1", archive = "web.tar" }
]])
      local code, out, err = T.ocibuild("run", tmp .. "/web/build.lua", "--store", tmp .. "/store")
      assert.equal(0, code, out .. err)
      local digest = printed(out, "digest")

      code, out, err = T.sh(podman .. " load -i " .. T.q(tmp .. "/web/web.tar"))
      assert.equal(0, code, out .. err)
      local i = inspect("localhost:5000/team/web:v1")
      assert.same({ "localhost:5000/team/web:v1" }, i.RepoTags)
      assert.equal(digest, i.Digest)
      assert.equal("arm64", i.Architecture)
      assert.equal("linux", i.Os)
      assert.same({ "/bin/httpd", "-f" }, i.Config.Cmd)
      assert.equal("/srv/www", i.Config.WorkingDir)

      local mnt = T.must(podman .. " image mount localhost:5000/team/web:v1"):gsub("%s+$", "")
      assert.same({ "srv", "srv/www", "srv/www/index.html" }, tree.keys(tree.snapshot(mnt)))
    end)

    it("keeps the digests of an export of several images with the commands export prints", function()
      if not IS_ROOT then return pending("podman load runs as root here (rootless needs subuid setup)") end
      local s, digests = tmp .. "/multi-store", {}
      for _, name in ipairs { "one", "two" } do
        T.write(tmp .. "/" .. name .. "/f", name .. "\n")
        local code, out, err = T.ocibuild("--store", s, "build", tmp .. "/" .. name, "-t", "multi-" .. name .. ":1")
        assert.equal(0, code, out .. err)
        digests["docker.io/library/multi-" .. name .. ":1"] = printed(out, "digest")
      end
      local file = tmp .. "/multi.tar"
      local code, out, err = T.ocibuild("--store", s, "export", "multi-one:1", "multi-two:1", "-o", file)
      assert.equal(0, code, out .. err)
      local pulls, copies = {}, {}
      for cmd in out:gmatch("\n            (podman pull [^\n]+)") do pulls[#pulls + 1] = cmd end
      for cmd in out:gmatch("\n            (skopeo copy [^\n]+) DEST") do copies[#copies + 1] = cmd end
      assert.equal(2, #pulls, out)
      assert.equal(2, #copies, out)
      for i, cmd in ipairs(pulls) do
        T.must(cmd:gsub("^podman", podman) .. " >/dev/null")
        T.must(copies[i]:gsub("^skopeo", "skopeo --insecure-policy") .. " " .. T.q("oci:" .. tmp .. "/copied:" .. i))
      end
      for name, digest in pairs(digests) do assert.equal(digest, inspect(name).Digest) end
      for i, name in ipairs { "multi-one:1", "multi-two:1" } do
        assert.equal(digests["docker.io/library/" .. name],
          T.json(T.must("skopeo inspect " .. T.q("oci:" .. tmp .. "/copied:" .. i))).Digest)
      end
      -- what the note warns of: podman load writes each image again, with another digest
      local other = podman:gsub("/p/", "/p2/")
      T.must(other .. " load -i " .. T.q(file) .. " >/dev/null 2>&1")
      local loaded = T.json(T.must(other .. " image inspect localhost/multi-one:1"))[1]
      assert.are_not.equal(digests["docker.io/library/multi-one:1"], loaded.Digest)
    end)
  end)
end)
