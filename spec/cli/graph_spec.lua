-- Image graphs in the store: prune, fsck and the walks of import, export,
-- images and inspect mark and read by (digest, role), once each, within
-- bounds. Hostile archives are made by the spec (spec/cli/graphfx.lua).
local T = require "support"
local fx = require "cli.storefx"
local gx = require "cli.graphfx"

describe("ocibuild prune and fsck", function()
  it("keep an image whose manifest another image carries as a layer (issue 18, item 4)", function()
    local d = T.tmpdir(finally)
    local a, b = d .. "/a", d .. "/b"
    fx.build(a, d .. "/ctx", "victim", "victim:1")
    local victim = T.image(a, "victim:1")
    -- evil:1's second layer is victim:1's manifest, byte for byte
    local layout = gx.layout(d .. "/evil", "evil", "evil:1", function(put)
      local doc = require "ocibuild.oci.doc"
      local media = require "ocibuild.oci.media"
      local store = require "ocibuild.store"
      local st = assert(store.open(d .. "/evil/layout"))
      local own = T.image(d .. "/evil/src", "a:1")
      local layer = assert(doc.read_manifest(T.read(own.blob(own.desc.digest)), "own")).layers[1]
      local vdigest, vsize = assert(st:put_blob(T.read(victim.blob(victim.desc.digest))))
      local config = doc.encode(doc.config { platform = { os = "linux", architecture = "amd64" }, created = 0,
        layers = { { diff_id = own.config.rootfs.diff_ids[1] }, { diff_id = vdigest } } })
      local cdigest, csize = assert(st:put_blob(config))
      return put(doc.manifest(doc.descriptor(media.CONFIG, cdigest, csize), { layer,
        doc.descriptor(media.LAYER.none, vdigest, vsize) }))
    end)
    fx.ok(b, "import", gx.tar(layout, d .. "/evil.tar"))
    fx.build(b, d .. "/ctx", "victim", "victim:1")
    assert.equal(victim.desc.digest, T.image(b, "victim:1").desc.digest)
    -- the archive also carries the manifest and config of the image its layer came from
    assert.matches("^checked 2 images and 8 blobs %(%d+ bytes%); 2 blobs", fx.ok(b, "fsck"))
    assert.matches("^removed 0 untagged images, 2 blobs", fx.ok(b, "prune"))
    for _, dg in ipairs { victim.desc.digest, victim.manifest.config.digest, victim.manifest.layers[1].digest } do
      assert.is_true(T.exists(b .. "/blobs/sha256/" .. dg:sub(8)), dg)
    end
    assert.is_nil(fx.ok(b, "images"):find("damaged"))
    fx.valid(b)
  end)

  it("check every image completely, naming each image a bad blob breaks (issue 18, item 19)", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local one = fx.build(s, d .. "/ctx", "shared", "one:1", "one:2")
    local img = T.image(s, "one:1")
    fx.index(s, "both:1", { one })
    local layer = img.manifest.layers[1].digest
    local p = img.blob(layer)
    T.must(("printf 'XX' | dd of=%s bs=1 seek=20 conv=notrunc status=none"):format(T.q(p)))
    fx.build(s, d .. "/ctx2", "other", "other:1")
    local code, out, err = fx.run(s, "fsck")
    assert.equal(1, code)
    assert.equal(("ocibuild: 1 problem in %s\n"):format(s), err)
    local entries = fx.entries(s)
    local at = {}
    for i, e in ipairs(entries) do at[e.annotations["org.opencontainers.image.ref.name"]] = i end
    assert.equal(table.concat({
      ("layer %s: BADDIGEST: expected %s, got sha256:%s: %s"):format(layer, layer, T.sha256_file(p), p),
      ("  breaks both:1 (index.json manifests[%d]); repair: ocibuild rm both:1"):format(at["both:1"]),
      ("  breaks one:1, one:2 (index.json manifests[%d], manifests[%d]); repair: ocibuild rm one:1 one:2")
        :format(at["one:1"], at["one:2"]),
    }, "\n") .. "\n", out:match("^(.-)checked"))
    assert.matches("\nchecked 3 images and ", out)
  end)
end)

describe("hostile image graphs (issue 18, item 8)", function()
  it("1000 x 3 shared sub-indexes: import, images, inspect, fsck, export and import again", function()
    local d = T.tmpdir(finally)
    local layout, root = gx.shared(d)
    local tar = gx.tar(layout, d .. "/wide.tar")
    local s = d .. "/s"
    local code, out, err = gx.run(s, "import", tar)
    assert.same({ 0, ("imported: %s wide:1\n"):format(root.digest), "" }, { code, out, err })
    code, out, err = gx.run(s, "images")
    assert.equal(0, code, err)
    assert.matches("wide +1 ", out)
    code, out, err = gx.run(s, "inspect", "wide:1")
    assert.equal(0, code, err)
    assert.matches(root.digest, out, 1, true)
    code, out, err = gx.run(s, "fsck")
    assert.equal(0, code, out .. err)
    assert.matches("^checked 1 image and 6 blobs", out)
    code, out, err = gx.run(s, "export", "wide:1", "-o", d .. "/out.tar")
    assert.equal(0, code, out .. err)
    code, out, err = gx.run(d .. "/t", "import", d .. "/out.tar")
    assert.same({ 0, ("imported: %s wide:1\n"):format(root.digest), "" }, { code, out, err })
    code, out, err = gx.run(d .. "/u", "import", layout)
    assert.same({ 0, ("imported: %s wide:1\n"):format(root.digest), "" }, { code, out, err })
    -- (oci-image-tool does not read indexes inside indexes)
    assert.matches("^checked 1 image and 6 blobs", fx.ok(d .. "/t", "fsck"))
  end)

  it("indexes nested 18 deep: import from an archive or a folder fails with the bound, naming nothing", function()
    local d = T.tmpdir(finally)
    local layout, root = gx.chain(d, 18)
    local tar = gx.tar(layout, d .. "/deep.tar")
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    local index_before = T.read(s .. "/index.json")
    local code, out, err = gx.run(s, "import", tar)
    assert.same({ 1, "" }, { code, out })
    assert.matches(("^ocibuild: %s: index%%.json manifests%%[1%%]: index sha256:%%x+: indexes nested more than 8 deep"
      .. "\n$"):format(tar:gsub("%p", "%%%0")), err)
    assert.equal(index_before, T.read(s .. "/index.json"))
    code, out, err = gx.run(s, "import", layout)
    assert.same({ 1, "" }, { code, out })
    assert.matches(("^ocibuild: %s: index %s: index sha256:%%x+: indexes nested more than 8 deep\n$")
      :format(layout:gsub("%p", "%%%0"), root.digest), err)
    assert.equal(index_before, T.read(s .. "/index.json"))
    fx.ok(s, "prune")
    fx.valid(s)
    -- eight deep is an image like any other
    layout, root = gx.chain(d .. "/eight", 8)
    code, out, err = gx.run(s, "import", gx.tar(layout, d .. "/eight.tar"))
    assert.same({ 0, ("imported: %s deep:1\n"):format(root.digest), "" }, { code, out, err })
    assert.matches("^checked 2 images", fx.ok(s, "fsck"))
  end)

  it("more descriptors than any image holds: refused with the bound, the store as it was after prune", function()
    local d = T.tmpdir(finally)
    local layout = gx.many(d)
    local tar = gx.tar(layout, d .. "/many.tar")
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    local before = T.fingerprint(s)
    local code, out, err = gx.run(s, "import", tar)
    assert.same({ 1, "" }, { code, out })
    assert.matches("^ocibuild: .*/many%.tar: index%.json manifests%[1%]: more than 100000 descriptors, at blob "
      .. "sha256:%x+: no image has so many; stopped\n$", err)
    fx.ok(s, "prune")
    assert.equal(before, T.fingerprint(s))
  end)
end)
