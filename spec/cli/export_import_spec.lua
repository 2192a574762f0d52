-- `ocibuild export` and `ocibuild import`: one archive entry per image
-- with every name in manifest.json, stdout streaming, the byte-identical
-- round trip, every input form import reads (OCI archive plain, gzip and
-- zstd, standard input, OCI layout folder, docker archive in both forms),
-- naming, and what import refuses, with nothing written outside the
-- store and nothing named by a wrong digest.
local T = require "support"
local fx = require "cli.storefx"

local function member(tarfile, name)
  return T.must(("tar -xOf %s %s"):format(T.q(tarfile), T.q(name)))
end

-- A store with image a (names a:1, a:2, reg.example.com/t/a:3) and b (b:1).
local function two_images(d)
  local s = d .. "/s"
  local a, aid = fx.build(s, d .. "/a", "aaa", "a:1", "a:2", "reg.example.com/t/a:3")
  local b, bid = fx.build(s, d .. "/b", "bbb", "b:1")
  return s, { digest = a, id = aid }, { digest = b, id = bid }
end

describe("ocibuild export", function()
  it("writes one entry per image, the first name in index.json and every name in manifest.json", function()
    local d = T.tmpdir(finally)
    local s, a = two_images(d)
    local out = fx.ok(s, "export", "a:2", "a:1", "reg.example.com/t/a:3", "-o", d .. "/a.tar")
    assert.matches("^exported: " .. a.digest .. " a:2 a:1 reg.example.com/t/a:3\narchive:  " .. (d
      .. "/a.tar"):gsub("%p", "%%%0")
      .. " %(%d+ bytes, sha256:%x+%)\n$", out)
    local idx = T.json(member(d .. "/a.tar", "index.json"))
    assert.equal(1, #idx.manifests)
    assert.same({ ["org.opencontainers.image.ref.name"] = "a:2",
      ["io.containerd.image.name"] = "docker.io/library/a:2" },
      idx.manifests[1].annotations)
    assert.equal(a.digest, idx.manifests[1].digest)
    assert.is_table(idx.manifests[1].platform)
    local docker = T.json(member(d .. "/a.tar", "manifest.json"))
    assert.same({ "a:2", "a:1", "reg.example.com/t/a:3" }, docker[1].RepoTags)
    assert.equal("blobs/sha256/" .. a.id:sub(8), docker[1].Config)
    local names = {}
    for _, e in ipairs(T.tar_entries(d .. "/a.tar")) do
      names[#names + 1] = e.name
      assert.same({ 0, 0, "", "", 0 }, { e.uid, e.gid, e.uname, e.gname, e.mtime })
    end
    assert.same({ "blobs", "blobs/sha256" }, { names[1], names[2] })
    assert.same({ "index.json", "manifest.json", "oci-layout" }, { table.unpack(names, #names - 2) })
    fx.valid(s)
  end)

  it("writes several images in the order named, an image given by digest unnamed, and the same bytes to stdout",
    function()
    local d = T.tmpdir(finally)
    local s, a, b = two_images(d)
    local out = fx.ok(s, "export", "b:1", a.digest, "-o", d .. "/ab.tar")
    -- what each reader needs of an archive of several images (see the podman interop spec)
    local file = d .. "/ab.tar"
    assert.equal(table.concat({
      "exported: " .. b.digest .. " b:1",
      "exported: " .. a.digest .. " <none>",
      ("archive:  %s (%s bytes, %s)"):format(file, T.must("stat -c %s " .. T.q(file)):match("%d+"),
        "sha256:" .. T.sha256_file(file)),
      "note:     this archive holds 2 images: skopeo and podman take one at a time, by its name",
      "          (podman load would write each again, with new digests and localhost/ names):",
      "            skopeo copy oci-archive:" .. file .. ":b:1 DEST",
      "            podman pull oci-archive:" .. file .. ":b:1",
      "          " .. a.digest .. " has no name here: skopeo and podman cannot pick it (name it, or export it alone)",
      "          docker load and ocibuild import take every image",
    }, "\n") .. "\n", out)
    local idx = T.json(member(d .. "/ab.tar", "index.json"))
    assert.same({ b.digest, a.digest }, { idx.manifests[1].digest, idx.manifests[2].digest })
    assert.is_nil(idx.manifests[2].annotations)
    local docker = T.json(member(d .. "/ab.tar", "manifest.json"))
    assert.same({ { "b:1" }, {} }, { docker[1].RepoTags, docker[2].RepoTags })
    T.must(("%s --store %s export b:1 %s -o - > %s"):format(T.q(T.bin), T.q(s), a.digest, T.q(d .. "/stdout.tar")))
    assert.equal(T.sha256_file(d .. "/ab.tar"), T.sha256_file(d .. "/stdout.tar"))
    -- SOURCE_DATE_EPOCH dates every entry
    T.must(("SOURCE_DATE_EPOCH=1700000000 %s --store %s export b:1 -o %s"):format(T.q(T.bin), T.q(s), T.q(d
      .. "/sde.tar")))
    for _, e in ipairs(T.tar_entries(d .. "/sde.tar")) do assert.equal(1700000000, e.mtime) end
  end)

  it("round-trips: export, import into an empty store, export again gives the same bytes", function()
    local d = T.tmpdir(finally)
    local s = two_images(d)
    fx.ok(s, "export", "a:1", "a:2", "b:1", "-o", d .. "/one.tar")
    local out = fx.ok(d .. "/t", "import", d .. "/one.tar")
    assert.matches("^imported: sha256:%x+ a:1 a:2\nimported: sha256:%x+ b:1\n$", out)
    fx.ok(d .. "/t", "export", "a:1", "a:2", "b:1", "-o", d .. "/two.tar")
    assert.equal(T.read(d .. "/one.tar"), T.read(d .. "/two.tar"))
    fx.valid(d .. "/t")
  end)

  it("fails whole on a corrupt blob, naming it, and refuses outputs inside a store", function()
    local d = T.tmpdir(finally)
    local s, a = two_images(d)
    local layer = T.json(fx.ok(s, "inspect", "a:1")).Layers[1]
    local p = s .. "/blobs/sha256/" .. layer:sub(8)
    T.must(("printf 'XX' | dd of=%s bs=1 seek=20 conv=notrunc status=none"):format(T.q(p)))
    local code, out, err = fx.run(s, "export", "a:1", "-o", d .. "/x.tar")
    assert.same({ 1, "" }, { code, out })
    assert.matches(("^ocibuild: cannot write %s: BADDIGEST: blob %s: expected %s, got sha256:%%x+: %s\n$")
      :format(d .. "/x.tar", layer, layer, p):gsub("[%-%.]", "%%%0"), err)
    assert.is_false(T.exists(d .. "/x.tar"))
    code, out, err = fx.run(s, "export", "b:1", "-o", s .. "/blobs/x.tar")
    assert.same({ 1, "",
      ("ocibuild: output %s/blobs/x.tar is inside the image layout %s: refusing to write there\n"):format(s, s) },
      { code, out, err })
    code, out, err = fx.run(s, "export", "b:1")
    assert.same({ 2, "",
      "ocibuild: export needs -o FILE.tar (or -o - for standard output) (see 'ocibuild export --help')\n" },
      { code, out, err })
    assert.equal(a.digest, T.image(s, "a:1").desc.digest)
  end)

  it("refuses a multi-platform index as a docker archive, which names one image per name; OCI archives take it",
    function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/mp/hello", "hi\n")
    T.write(d .. "/mp/Dockerfile", "FROM scratch\nCOPY hello /\n")
    fx.ok(s, "build", d .. "/mp", "-t", "multi:1", "--platform", "linux/amd64,linux/arm64", "-q")
    for _, args in ipairs { { "export", "multi:1", "-o", "docker-archive:" .. d .. "/x.tar" },
      { "copy", "multi:1", "docker-archive:" .. d .. "/x.tar:multi:1" } } do
      local code, out, err = fx.run(s, table.unpack(args))
      assert.same({ 2, "" }, { code, out }, args[1])
      assert.matches("multi:1 is a multi%-platform index, and a docker archive holds one image per name", err)
      assert.is_false(T.exists(d .. "/x.tar"))
    end
    fx.ok(s, "export", "multi:1", "-o", d .. "/o.tar")
    assert.equal(T.json(T.read(s .. "/index.json")).manifests[1].digest,
      T.json(member(d .. "/o.tar", "index.json")).manifests[1].digest)
  end)
end)

describe("ocibuild import", function()
  it("reads OCI archives plain, gzip and zstd, from a file or standard input, keeping digests and names", function()
    local d = T.tmpdir(finally)
    local s, a, b = two_images(d)
    fx.ok(s, "export", "a:1", "b:1", "-o", d .. "/x.tar")
    T.must(("gzip -k %s && zstd -q %s -o %s"):format(T.q(d .. "/x.tar"), T.q(d .. "/x.tar"), T.q(d .. "/x.tar.zst")))
    for i, src in ipairs { d .. "/x.tar.gz", d .. "/x.tar.zst" } do
      local t = d .. "/t" .. i
      fx.ok(t, "import", src)
      assert.equal(a.digest, T.image(t, "a:1").desc.digest)
      assert.equal(b.digest, T.image(t, "b:1").desc.digest)
      fx.valid(t)
    end
    local out = T.must(("%s --store %s import - < %s"):format(T.q(T.bin), T.q(d .. "/t3"), T.q(d .. "/x.tar")))
    assert.equal(("imported: %s a:1\nimported: %s b:1\n"):format(a.digest, b.digest), out)
    fx.valid(d .. "/t3")
  end)

  it("names an image with -t instead, lists an unnamed one as <none>, and refuses -t for several images", function()
    local d = T.tmpdir(finally)
    local s, a = two_images(d)
    fx.ok(s, "export", "a:1", "-o", d .. "/a.tar")
    fx.ok(s, "export", a.digest, "-o", d .. "/unnamed.tar")
    fx.ok(s, "export", "a:1", "b:1", "-o", d .. "/ab.tar")
    local t = d .. "/t"
    assert.equal("imported: " .. a.digest .. " other:9 x/y:1\n", fx.ok(t, "import", d .. "/a.tar", "-t", "other:9",
      "-t", "x/y:1"))
    assert.equal(2, #fx.entries(t))
    local u = d .. "/u"
    assert.equal("imported: " .. a.digest .. " <none>\n", fx.ok(u, "import", d .. "/unnamed.tar"))
    assert.is_nil(fx.entries(u)[1].annotations)
    fx.ok(u, "import", d .. "/a.tar")
    assert.equal(1, #fx.entries(u))  -- the name replaces the untagged entry
    local code, out, err = fx.run(d .. "/v", "import", d .. "/ab.tar", "-t", "x:1")
    assert.same({ 1, "",
      ("ocibuild: %s/ab.tar holds 2 images: a tag given to the import names exactly one\n"):format(d) },
      { code, out, err })
    fx.valid(t)
    fx.valid(u)
  end)

  it("reads an OCI layout folder and docker archives (legacy <id>/layer.tar and blobs/sha256 forms)", function()
    local d = T.tmpdir(finally)
    local s, a = two_images(d)
    -- an OCI layout written by skopeo
    T.must(("skopeo copy -q oci:%s:a:1 oci:%s:copied"):format(T.q(s), T.q(d .. "/layout")))
    local t = d .. "/t"
    assert.equal("imported: " .. a.digest .. " copied:latest\n", fx.ok(t, "import", d .. "/layout"))
    -- docker-archive as skopeo writes it: <config>.json, <diffid>.tar, <id>/layer.tar symlinks
    T.must(("skopeo copy -q oci:%s:a:1 docker-archive:%s:a:1 --additional-tag a:2"):format(T.q(s), T.q(d
      .. "/docker.tar")))
    local out = fx.ok(t, "import", d .. "/docker.tar")
    local digest = out:match("^imported: (sha256:%x+) a:1 a:2\n$")
    assert.is_string(digest, out)
    local o = T.json(fx.ok(t, "inspect", "a:2"))
    assert.equal(a.id, o.Id)
    assert.equal("application/vnd.oci.image.layer.v1.tar", o.LayersData[1].MIMEType)
    assert.equal(o.RootFS.DiffIDs[1], o.Layers[1])
    -- the blobs/sha256 form (docker save >= 25) without the OCI files: gzip layers kept
    fx.ok(s, "export", "b:1", "-o", d .. "/b.tar")
    T.must(("mkdir %s && tar -xf %s -C %s && rm %s/index.json %s/oci-layout && tar -cf %s -C %s ."):format(T.q(d
      .. "/bx"),
      T.q(d .. "/b.tar"), T.q(d .. "/bx"), T.q(d .. "/bx"), T.q(d .. "/bx"), T.q(d .. "/bdocker.tar"), T.q(d .. "/bx")))
    fx.ok(t, "import", d .. "/bdocker.tar")
    local b = T.json(fx.ok(s, "inspect", "b:1"))
    local b2 = T.json(fx.ok(t, "inspect", "b:1"))
    assert.equal(b.Digest, b2.Digest)  -- the same manifest, rebuilt from config and layers
    assert.equal("application/vnd.oci.image.layer.v1.tar+gzip", b2.LayersData[1].MIMEType)
    fx.valid(t)
  end)

  describe("refuses", function()
    local cases = {
      { "a name climbing out", { { name = "../evil", data = "x" } }, 'entry "../evil": a name holding \'..\'' },
      { "an absolute name", { { name = "/tmp/evil", data = "x" } }, 'entry "/tmp/evil": an absolute name' },
      { "a symlink out", { { name = "blobs/x", type = "symlink", link = "../../etc/passwd" } },
        'entry "blobs/x": a symlink out of the archive (to "../../etc/passwd")' },
      { "an absolute symlink", { { name = "x", type = "symlink", link = "/etc/passwd" } },
        'entry "x": a symlink out of the archive (to "/etc/passwd")' },
      { "a hardlink out", { { name = "x", type = "hardlink", link = "../etc/passwd" } },
        'entry "x": a hardlink to "../etc/passwd", which is not an earlier entry of the archive' },
      { "a device", { { name = "null", type = "chardev" } }, 'entry "null": a chardev' },
      { "a FIFO", { { name = "f", type = "fifo" } }, 'entry "f": a fifo' },
      { "a duplicate entry", { { name = "oci-layout", data = "{}" }, { name = "./oci-layout", data = "{}" } },
        'entry "./oci-layout": a duplicate entry' },
      { "oversize JSON", { { name = "manifest.json", data = ("[" .. (" "):rep(4 << 20) .. "]") } },
        'entry "manifest.json": 4194306 bytes, more than the 4194304 allowed for JSON' },
      { "a blob name that is not a digest", { { name = "blobs/sha256/ABC", data = "x" } },
        'entry "blobs/sha256/ABC": a blob not named blobs/sha256/<64 lower-case hex digits>' },
    }
    -- one store for every case: each refusal must leave it as it was
    local d, s
    setup(function()
      d = T.tmpdir()
      s = d .. "/s"
      fx.build(s, d .. "/a", "a", "a:1")
    end)
    teardown(function()
      if d then T.sh("rm -rf " .. T.q(d)) end
    end)

    for i, case in ipairs(cases) do
      it(case[1] .. ", writing nothing outside the store", function()
        local w = d .. "/w" .. i
        T.must("mkdir " .. T.q(w))
        fx.tar(w .. "/bad.tar", case[2])
        local before = T.tree(d)
        local index_before = T.read(s .. "/index.json")
        local code, out, err = T.sh(("cd %s && %s --store %s import bad.tar"):format(T.q(w), T.q(T.bin), T.q(s)))
        local want = ("ocibuild: %s/bad.tar: %s"):format(w, case[3])
        assert.same({ 1, "", want }, { code, out, err:sub(1, #want) })
        assert.matches("refusing to import\n$", err)
        assert.same(before, T.tree(d))
        assert.equal(index_before, T.read(s .. "/index.json"))
        assert.is_false(T.exists("/tmp/evil"))
      end)
    end

    it("anything, leaving the store valid after all of the above", function()
      assert.equal(1, #fx.entries(s))
      fx.valid(s)
    end)

    it("a blob whose bytes are not its name, which never appears in the store", function()
      local here = T.tmpdir(finally)
      local st = here .. "/s"
      fx.build(st, here .. "/a", "a", "a:1")
      local zero = ("0"):rep(64)
      fx.tar(here .. "/bad.tar", { { name = "blobs/sha256/" .. zero, data = "not zero" } })
      local code, out, err = fx.run(st, "import", here .. "/bad.tar")
      assert.same({ 1, "",
        ("ocibuild: %s/bad.tar: entry \"blobs/sha256/%s\": BADDIGEST: expected sha256:%s, got sha256:%s\n")
        :format(here, zero, zero, T.must("printf 'not zero' | sha256sum"):match("%x+")) },
        { code, out, err })
      assert.is_false(T.exists(st .. "/blobs/sha256/" .. zero))
      assert.equal("", T.must("ls " .. T.q(st .. "/.ocibuild-tmp")))
      fx.valid(st)
    end)

    it("an image whose blobs the archive lacks, naming nothing; prune removes what it wrote", function()
      local here = T.tmpdir(finally)
      local st, a = two_images(here)
      fx.ok(st, "export", "a:1", "-o", here .. "/a.tar")
      local layer = T.json(fx.ok(st, "inspect", "a:1")).Layers[1]
      T.must(("mkdir %s && tar -xf %s -C %s && rm %s && tar -cf %s -C %s ."):format(T.q(here .. "/x"), T.q(here
        .. "/a.tar"),
        T.q(here .. "/x"), T.q(here .. "/x/blobs/sha256/" .. layer:sub(8)), T.q(here .. "/partial.tar"), T.q(here
          .. "/x")))
      local t = here .. "/t"
      local code, out, err = fx.run(t, "import", here .. "/partial.tar")
      assert.same({ 1, "",
        ("ocibuild: %s/partial.tar: index.json manifests[1]: blob %s is not in the archive\n"):format(here, layer) },
        { code, out, err })
      assert.same({}, fx.entries(t))
      assert.equal(2, #fx.blobs(t))
      fx.ok(t, "prune")
      assert.same({}, fx.blobs(t))
      fx.valid(t)
      assert.equal(a.digest, T.image(st, "a:1").desc.digest)
    end)
  end)
end)
