-- Real consumers on images ocibuild builds: oci-image-tool validates the
-- store and the unpacked archive, skopeo inspects and copies them, umoci
-- unpacks them into a rootfs that must equal the source tree (minus the
-- excluded files). Two images share one store: one from `ocibuild build`,
-- one from `ocibuild run` of a build script with a destination prefix.
local T = require "support"
local cjson = require "cjson"
local tree = require "interop.tree"

-- Bytewise order (Lua's `<` on strings follows the C locale's collation).
local function byte_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function sh_env(env, cmd)
  local words = {}
  for k, v in pairs(env or {}) do words[#words + 1] = "export " .. k .. "=" .. T.q(v) .. "; " end
  table.sort(words)
  return T.sh(table.concat(words) .. cmd)
end

-- One member of a tar file (GNU tar), decoded as JSON.
local function member_json(tarfile, name)
  return T.json(T.must(("tar -xOf %s %s"):format(T.q(tarfile), T.q(name))))
end

local function printed(out, field)
  return out:match(field .. ":%s+(%S+)")
end

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil
local UMOCI = IS_ROOT and "umoci unpack" or "umoci unpack --rootless"

describe("ocibuild.interop", function()
  local tmp, store, src
  local cli = {}  -- the `ocibuild build` image: {tag=, digest=, image_id=, archive=}
  local web = {}  -- the `ocibuild run` image

  setup(function()
    tmp = T.tmpdir()
    store = tmp .. "/store"
    local ctx = tmp .. "/ctx"
    tree.make(ctx)
    src = tree.snapshot(ctx)

    cli.tag, cli.archive = "site:dev", tmp .. "/site.tar"
    local code, out, err = T.ocibuild("build", ctx, "-t", cli.tag, "--label", "org.opencontainers.image.title=site",
      "--label", "com.example.team=web", "--store", store, "-o", cli.archive)
    assert(code == 0, "ocibuild build failed: " .. out .. err)
    cli.digest, cli.image_id = printed(out, "digest"), printed(out, "image id")
    cli.stderr = err

    -- A build script with a destination prefix, a platform, config and
    -- SOURCE_DATE_EPOCH; run from another folder (paths are the script's).
    T.write(tmp .. "/web/site/index.html", "<h1>hi</h1>\n")
    T.write(tmp .. "/web/site/draft.html", "draft\n")
    T.write(tmp .. "/web/site/css/main.css", "body{}\n")
    T.write(tmp .. "/web/ignore", "draft.html\n")
    T.write(tmp .. "/web/build.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/arm64" }
img:layer { context = "site", dest = "/usr/share/site", exclude = oci.ignorefile("ignore") }
img:labels { ["org.opencontainers.image.source"] = args.source }
img:config { entrypoint = { "/bin/server" }, env = { PORT = "8080" }, ports = { "8080/tcp" } }
return img:save { tag = args.tag, archive = "out/web.tar" }
]])
    T.must("mkdir -p " .. T.q(tmp .. "/web/out"))
    web.tag, web.archive = "localhost:5000/team/web:v1", tmp .. "/web/out/web.tar"
    code, out, err = sh_env({ SOURCE_DATE_EPOCH = "1700000000" }, ("cd / && %s run %s tag=%s source=%s --store %s")
      :format(T.q(T.bin), T.q(tmp .. "/web/build.lua"), T.q(web.tag), "https://example.com/web", T.q(store)))
    assert(code == 0, "ocibuild run failed: " .. out .. err)
    web.digest, web.image_id = printed(out, "digest"), printed(out, "image id")
  end)

  teardown(function()
    if tmp then T.sh("chmod -R u+rwx " .. T.q(tmp) .. "; rm -rf " .. T.q(tmp)) end
  end)

  describe("ocibuild build", function()
    it("prints the manifest digest of the tagged image and warns about the socket", function()
      assert.matches("^sha256:%x+$", cli.digest)
      assert.equal(cli.digest, T.image(store, cli.tag).desc.digest)
      assert.equal(cli.digest, "sha256:" .. T.sha256_file(T.image(store, cli.tag).blob(cli.digest)))
      assert.equal(cli.image_id, T.image(store, cli.tag).manifest.config.digest)
      assert.matches("warning: skipping socket " .. tmp:gsub("%p", "%%%0") .. "/ctx/sock", cli.stderr)
    end)
  end)

  describe("oci-image-tool validate", function()
    it("accepts the store, checking every ref", function()
      local code, out, err = T.sh("oci-image-tool validate --type image " .. T.q(store))
      assert.equal(0, code, out .. err)
      assert.matches("Validation succeeded", out .. err)
    end)

    it("accepts each OCI archive once unpacked to a directory", function()
      local top = T.tmpdir(finally) -- one per test: busted keeps the last `finally` only
      for n, img in ipairs { cli, web } do
        local d = top .. "/" .. n
        T.must(("mkdir %s && tar -xf %s -C %s"):format(T.q(d), T.q(img.archive), T.q(d)))
        local code, out, err = T.sh("oci-image-tool validate --type image " .. T.q(d))
        assert.equal(0, code, out .. err)
        assert.matches("Validation succeeded", out .. err)
      end
    end)
  end)

  describe("skopeo inspect", function()
    local function inspect(what, ...)
      local flags = table.concat({ ... }, " ")
      return T.must(("skopeo inspect %s %s"):format(flags, T.q(what)))
    end

    it("reads the store by tag: digest, labels, platform, layers", function()
      local i = cjson.decode(inspect("oci:" .. store .. ":" .. cli.tag))
      local img = T.image(store, cli.tag)
      assert.equal(cli.digest, i.Digest)
      assert.same({ ["org.opencontainers.image.title"] = "site", ["com.example.team"] = "web" }, i.Labels)
      assert.equal(img.config.architecture, i.Architecture)
      assert.equal("linux", i.Os)
      assert.equal(1, #i.Layers)
      assert.equal(img.manifest.layers[1].digest, i.Layers[1])
      assert.equal("1970-01-01T00:00:00Z", i.Created)

      local w = cjson.decode(inspect("oci:" .. store .. ":" .. web.tag))
      assert.equal(web.digest, w.Digest)
      assert.equal("arm64", w.Architecture)
      assert.equal("linux", w.Os)
      assert.same({ ["org.opencontainers.image.source"] = "https://example.com/web" }, w.Labels)
      assert.same({ "PORT=8080" }, w.Env)
      assert.equal("2023-11-14T22:13:20Z", w.Created)
    end)

    it("reads the OCI archives, with and without a tag", function()
      for _, img in ipairs { cli, web } do
        local i = cjson.decode(inspect("oci-archive:" .. img.archive))
        assert.equal(img.digest, i.Digest)
        local ref = member_json(img.archive, "index.json").manifests[1]
          .annotations["org.opencontainers.image.ref.name"]
        i = cjson.decode(inspect("oci-archive:" .. img.archive .. ":" .. ref))
        assert.equal(img.digest, i.Digest)
      end
    end)

    it("gives back the exact manifest and config bytes with --raw", function()
      local raw = inspect("oci:" .. store .. ":" .. cli.tag, "--raw")
      local img = T.image(store, cli.tag)
      assert.equal(T.read(img.blob(cli.digest)), raw)
      local f = tmp .. "/raw-config"
      T.write(f, inspect("oci-archive:" .. cli.archive, "--raw", "--config"))
      assert.equal(cli.image_id, "sha256:" .. T.sha256_file(f))
    end)

    it("decodes the config: platform, labels, config fields, rootfs", function()
      local c = cjson.decode(inspect("oci-archive:" .. web.archive, "--config"))
      assert.equal("arm64", c.architecture)
      assert.equal("linux", c.os)
      assert.same({ "/bin/server" }, c.config.Entrypoint)
      assert.same({ "PORT=8080" }, c.config.Env)
      assert.same({ ["8080/tcp"] = {} }, c.config.ExposedPorts)
      assert.equal("layers", c.rootfs.type)
      assert.same(T.image(store, web.tag).config.rootfs.diff_ids, c.rootfs.diff_ids)
    end)
  end)

  describe("skopeo copy", function()
    it("copies an OCI archive into another layout without changing the digest", function()
      local d = T.tmpdir(finally)
      T.must(("skopeo copy --insecure-policy -q %s %s"):format(T.q("oci-archive:" .. cli.archive),
        T.q("oci:" .. d .. "/copy:copied")))
      local idx = T.json(T.read(d .. "/copy/index.json"))
      assert.equal(1, #idx.manifests)
      assert.equal(cli.digest, idx.manifests[1].digest)
      local code, out, err = T.sh("oci-image-tool validate --type image " .. T.q(d .. "/copy"))
      assert.equal(0, code, out .. err)
      -- and the copy unpacks to the same tree
      T.must(("%s --image %s %s"):format(UMOCI, T.q(d .. "/copy:copied"), T.q(d .. "/bundle")))
      tree.assert_same(src, d .. "/bundle/rootfs")
    end)

    it("copies from the store to a dir: destination, blobs verified by name", function()
      local d = T.tmpdir(finally) .. "/dir"
      T.must(("skopeo copy --insecure-policy -q %s %s"):format(T.q("oci:" .. store .. ":" .. web.tag), T.q("dir:"
        .. d)))
      assert.equal(web.digest, "sha256:" .. T.sha256_file(d .. "/manifest.json"))
      local m = T.json(T.read(d .. "/manifest.json"))
      assert.equal(web.image_id, m.config.digest)
      for _, desc in ipairs { m.config, m.layers[1] } do
        assert.equal(desc.digest, "sha256:" .. T.sha256_file(d .. "/" .. desc.digest:sub(8)))
      end
    end)
  end)

  describe("umoci unpack", function()
    it("gives a rootfs equal to the source tree minus the excluded files", function()
      local d = T.tmpdir(finally)
      local code, out, err = T.sh(("%s --image %s %s"):format(UMOCI, T.q(store .. ":" .. cli.tag), T.q(d .. "/bundle")))
      assert.equal(0, code, out .. err)
      local got = tree.assert_same(src, d .. "/bundle/rootfs")
      -- the excluded ones are really absent, the hardlink pair is one inode
      assert.is_nil(got["secret.txt"])
      assert.is_nil(got.logs)
      assert.is_nil(got.sock)
      assert.equal(got.hard1.ino, got.hard2.ino)
      assert.equal(20 * 1024 * 1024, got["big.bin"].size)
      assert.equal("/etc/passwd", got["links-abs"].target)
      assert.equal("loop2", got.loop1.target)
      assert.is_true(#(tree.LONG_DIR .. "deep.txt") > 255)
      assert.equal("file", got[tree.LONG_DIR .. "deep.txt"].type)
      assert.equal("fifo", got.fifo.type)
      assert.equal("dir", got.empty.type)
    end)

    it("places a script's layer under its destination, minus its ignore file's patterns", function()
      local d = T.tmpdir(finally)
      -- umoci takes the tag after the first colon: here it holds two more
      local code, out, err = T.sh(("%s --image %s %s"):format(UMOCI, T.q(store .. ":" .. web.tag), T.q(d .. "/b")))
      assert.equal(0, code, out .. err)
      local got = tree.snapshot(d .. "/b/rootfs")
      assert.same({ "usr", "usr/share", "usr/share/site", "usr/share/site/css", "usr/share/site/css/main.css",
        "usr/share/site/index.html" }, tree.keys(got))
      assert.equal(tonumber("755", 8), got.usr.mode)
      assert.equal(T.sha256_file(tmp .. "/web/site/index.html"), got["usr/share/site/index.html"].sha256)
      -- the runtime config carries the image's config
      local rc = T.json(T.read(d .. "/b/config.json"))
      assert.same({ "/bin/server" }, rc.process.args)
    end)

    it("refuses zstd layers in Debian 12's version, as the README warns (umoci reads them from 0.5.0)", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/f", "z\n")
      assert.equal(0, (T.ocibuild("build", d .. "/ctx", "-t", "z:1", "--compression", "zstd", "--store", d .. "/s")))
      local version = T.must("umoci --version"):match("(%d+%.%d+%.%d+)")
      local code, out, err = T.sh(("%s --image %s %s"):format(UMOCI, T.q(d .. "/s:z:1"), T.q(d .. "/b")))
      if version < "0.5.0" then
        assert.equal(1, code, out .. err)
        assert.truthy((out .. err):find("blob is not correct mediatype", 1, true), out .. err)
        local readme = T.read(T.root .. "/README.md")
        assert.truthy(readme:find("Debian 12's umoci (" .. version .. ") and oci-image-tool refuse zstd layers", 1,
          true))
      else
        assert.equal(0, code, out .. err)
      end
    end)
  end)

  describe("OCI archive", function()
    local function check_archive(img, mtime)
      local entries = T.tar_entries(img.archive)
      local names, byname = {}, {}
      for i, e in ipairs(entries) do
        names[i] = e.name
        byname[e.name] = e
      end
      -- sorted, directories first, no ./ prefix, owners and mtime fixed
      for i = 2, #names do assert.is_true(byte_less(names[i - 1], names[i]), names[i - 1] .. " < " .. names[i]) end
      assert.equal("blobs", names[1])
      assert.equal("blobs/sha256", names[2])
      assert.equal("5", entries[1].type)
      assert.equal("5", entries[2].type)
      local listed = T.must("tar -tf " .. T.q(img.archive))
      assert.equal("blobs/\nblobs/sha256/\n", listed:sub(1, #"blobs/\nblobs/sha256/\n"))
      for _, e in ipairs(entries) do
        assert.is_nil(e.name:match("^%./"), e.name)
        assert.is_nil(e.name:match("^/"), e.name)
        assert.equal(0, e.uid, e.name)
        assert.equal(0, e.gid, e.name)
        assert.equal("", e.uname, e.name)
        assert.equal("", e.gname, e.name)
        assert.equal(mtime, e.mtime, e.name)
      end
      -- every blob is named by the digest of its bytes
      for _, e in ipairs(entries) do
        local hex = e.name:match("^blobs/sha256/(%x+)$")
        if hex then assert.equal(hex, e.sha256) end
      end
      local function blob(digest) return byname["blobs/sha256/" .. digest:sub(8)] end
      local manifest_blob = blob(img.digest)
      assert.is_table(manifest_blob)

      local index = member_json(img.archive, "index.json")
      assert.equal(2, index.schemaVersion)
      assert.equal(1, #index.manifests)
      local d = index.manifests[1]
      assert.equal(img.digest, d.digest)
      assert.equal(manifest_blob.size, d.size)
      assert.equal("application/vnd.oci.image.manifest.v1+json", d.mediaType)
      assert.is_string(d.annotations["org.opencontainers.image.ref.name"])
      assert.is_table(d.platform)

      local docker = member_json(img.archive, "manifest.json")
      assert.equal(1, #docker)
      assert.equal("blobs/sha256/" .. img.image_id:sub(8), docker[1].Config)
      assert.is_table(byname[docker[1].Config])
      local m = member_json(img.archive, "blobs/sha256/" .. img.digest:sub(8))
      assert.equal(#m.layers, #docker[1].Layers)
      for i, l in ipairs(m.layers) do
        assert.equal("blobs/sha256/" .. l.digest:sub(8), docker[1].Layers[i])
        assert.equal(l.size, byname[docker[1].Layers[i]].size)
      end
      assert.equal('{"imageLayoutVersion":"1.0.0"}', T.must(("tar -xOf %s oci-layout"):format(T.q(img.archive))))
      return d, docker[1]
    end

    it("has the layout of `ocibuild build -o`, names normalized for containerd and docker", function()
      local d, docker = check_archive(cli, 0)
      assert.equal("docker.io/library/site:dev", d.annotations["io.containerd.image.name"])
      assert.same({ "site:dev" }, docker.RepoTags)
    end)

    it("has the layout of a script's archive, mtimes at SOURCE_DATE_EPOCH", function()
      local d, docker = check_archive(web, 1700000000)
      assert.equal("localhost:5000/team/web:v1", d.annotations["io.containerd.image.name"])
      assert.same({ "localhost:5000/team/web:v1" }, docker.RepoTags)
      assert.same({ architecture = "arm64", os = "linux" }, d.platform)
    end)

    it("holds the same blobs as the store", function()
      for _, img in ipairs { cli, web } do
        local s = T.image(store, img.tag)
        for _, e in ipairs(T.tar_entries(img.archive)) do
          local hex = e.name:match("^blobs/sha256/(%x+)$")
          if hex then assert.equal(T.sha256_file(store .. "/blobs/sha256/" .. hex), e.sha256) end
        end
        local m = member_json(img.archive, "blobs/sha256/" .. img.digest:sub(8))
        assert.equal(s.manifest.layers[1].digest, m.layers[1].digest)
      end
    end)
  end)
end)
