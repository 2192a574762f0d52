local archive = require "ocibuild.endpoint.archive"
local copy = require "ocibuild.copy"
local layout = require "ocibuild.endpoint.layout"
local output = require "ocibuild.endpoint.output"
local ref = require "ocibuild.oci.ref"
local store = require "ocibuild.store"
local T = require "support"

-- A store holding one built image tagged a:1; returns the store and image.
local function built(d)
  T.write(d .. "/ctx/f", "content")
  assert.equal(0, (T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "a:1")))
  local st = assert(store.open(d .. "/s"))
  local img = T.image(d .. "/s", "a:1")
  img.desc = assert(st:resolve(assert(ref.parse("a:1")))) -- integers, as ocibuild reads them
  return st, img
end

describe("ocibuild.copy", function()
  it("copies an image into another layout, blobs verified, and reports each blob", function()
    local d = T.tmpdir(finally)
    local src, img = built(d)
    local dst = assert(store.open(d .. "/other", { create = true }))
    local events = {}
    assert(copy.copy(layout.new(src), img.desc, layout.new(dst),
      { on_event = function(ev) events[#events + 1] = ev end }))
    assert(layout.new(dst):tag(img.desc, { assert(ref.parse("b:2")) }))
    T.must("oci-image-tool validate --type image " .. T.q(d .. "/other"))
    assert.equal(img.desc.digest, T.image(d .. "/other", "b:2").desc.digest)
    assert.equal(2, #events)
    assert.same({ "copied", "copied" }, { events[1].action, events[2].action })
    -- a second copy finds everything there
    events = {}
    assert(copy.copy(layout.new(src), img.desc, layout.new(dst),
      { on_event = function(ev) events[#events + 1] = ev end }))
    assert.same({ "exists", "exists" }, { events[1].action, events[2].action })
  end)

  it("refuses a damaged layer and leaves the target without it", function()
    local d = T.tmpdir(finally)
    local src, img = built(d)
    local layer = img.blob(img.manifest.layers[1].digest)
    T.must(("printf 'XX' | dd of=%s bs=1 seek=12 conv=notrunc status=none"):format(T.q(layer)))
    local dst = assert(store.open(d .. "/other", { create = true }))
    local ok, err, code = copy.copy(layout.new(src), img.desc, layout.new(dst))
    assert.is_nil(ok)
    assert.equal("BADDIGEST", code)
    assert.truthy(err:find("expected " .. img.manifest.layers[1].digest, 1, true), err)
    assert.is_false(T.exists(d .. "/other/blobs/sha256/" .. img.manifest.layers[1].digest:sub(8)))
    assert.is_false(T.exists(d .. "/other/blobs/sha256/" .. img.desc.digest:sub(8)))
  end)

  it("refuses what is not a manifest or index", function()
    local d = T.tmpdir(finally)
    local src, img = built(d)
    local ok, err, code = copy.copy(layout.new(src), img.manifest.layers[1], layout.new(src))
    assert.is_nil(ok)
    assert.equal("BADDOC", code)
    assert.truthy(err:find("not an image manifest or index", 1, true))
  end)
end)

describe("ocibuild.endpoint.archive", function()
  it("writes an archive skopeo reads, with the image named", function()
    local d = T.tmpdir(finally)
    local src, img = built(d)
    local out = assert(archive.new(d .. "/out.tar"))
    assert(copy.copy(layout.new(src), img.desc, out))
    assert(out:tag(img.desc, { assert(ref.parse("site:dev")) }))
    assert(out:commit())
    local inspect = T.json(T.must("skopeo inspect oci-archive:" .. T.q(d .. "/out.tar")))
    assert.equal(img.desc.digest, inspect.Digest)
    local names = {}
    for _, e in ipairs(T.tar_entries(d .. "/out.tar")) do names[#names + 1] = e.name end
    local blobs = { img.desc.digest, img.manifest.config.digest, img.manifest.layers[1].digest }
    table.sort(blobs)
    for i, b in ipairs(blobs) do blobs[i] = "blobs/sha256/" .. b:sub(8) end
    assert.same({ "blobs", "blobs/sha256", blobs[1], blobs[2], blobs[3] }, { table.unpack(names, 1, 5) })
    assert.same({ "index.json", "manifest.json", "oci-layout" }, { names[#names - 2], names[#names - 1],
      names[#names] })
  end)

  it("fails whole, leaving no file, when a blob is damaged", function()
    local d = T.tmpdir(finally)
    local src, img = built(d)
    T.must(("printf 'XX' | dd of=%s bs=1 seek=12 conv=notrunc" ..
      " status=none"):format(T.q(img.blob(img.manifest.config.digest))))
    local out = assert(archive.new(d .. "/out.tar"))
    assert(copy.copy(layout.new(src), img.desc, out))
    local ok, err, code = out:commit()
    assert.is_nil(ok)
    assert.equal("BADDIGEST", code)
    assert.truthy(err:find("cannot write " .. d .. "/out.tar: BADDIGEST: blob " .. img.manifest.config.digest, 1, true),
      err)
    assert.equal("ctx\ns\n", T.must("ls " .. T.q(d)))
  end)
end)

describe("ocibuild.endpoint.output", function()
  it("refuses symlinks, special files and paths inside a layout; allows new and regular files", function()
    local d = T.tmpdir(finally)
    built(d)
    T.write(d .. "/regular", "x")
    T.must(("ln -s regular %s && mkfifo %s && mkdir %s"):format(T.q(d .. "/link"), T.q(d .. "/fifo"), T.q(d .. "/dir")))
    assert.equal(d .. "/new.tar", output.check(d .. "/new.tar"))
    assert.equal(d .. "/regular", output.check(d .. "/regular"))
    assert.same({ nil, ("output %s/link is a symlink: refusing to follow or replace it"):format(d), "EEXIST" },
      { output.check(d .. "/link") })
    assert.same({ nil, ("output %s/fifo is a fifo, not a regular file: refusing to replace it"):format(d), "EEXIST" },
      { output.check(d .. "/fifo") })
    assert.same({ nil, ("output %s/dir is a dir, not a regular file: refusing to replace it"):format(d), "EEXIST" },
      { output.check(d .. "/dir") })
    for _, p in ipairs { "/s/index.json", "/s/oci-layout", "/s/new.tar", "/s/blobs/sha256/x" } do
      assert.same({ nil, ("output %s%s is inside the image layout %s/s: refusing to write there"):format(d, p, d),
        "EEXIST" },
        { output.check(d .. p) })
    end
    assert.equal("chardev", select(2, output.check("/dev/null")):match("is a (%a+)"))
  end)
end)
