-- A build never stores a config or manifest its own reader refuses (over
-- 4 MiB): it fails naming the limit and the part that crossed it, and the
-- store is left as it was (issue 18, item 6). The oversized inputs (a 5 MB
-- label; a base of as many layers as a 4 MiB manifest holds) are made here.
local T = require "support"
local fx = require "cli.storefx"

-- A layout folder holding base:1, whose manifest lists the layer of a
-- one-file image as many times as fit in 4 MiB. Returns the folder and
-- the number of layers.
local function big_base(d)
  local doc = require "ocibuild.oci.doc"
  local json = require "ocibuild.oci.json"
  local media = require "ocibuild.oci.media"
  local ref = require "ocibuild.oci.ref"
  local store = require "ocibuild.store"
  fx.build(d .. "/src", d .. "/one", "one", "one:1")
  local one = T.image(d .. "/src", "one:1")
  local st = assert(store.open(d .. "/base", { create = true }))
  local l = one.manifest.layers[1]
  T.must(("cp %s %s"):format(T.q(one.blob(l.digest)), T.q(d .. "/base/blobs/sha256/" .. l.digest:sub(8))))
  local layer = doc.descriptor(l.mediaType, l.digest, math.tointeger(l.size))
  local function manifest(n, config)
    local layers = json.array {}
    for i = 1, n do layers[i] = layer end
    return doc.encode(doc.manifest(config, layers))
  end
  local config = doc.descriptor(media.CONFIG, ("sha256:%064x"):format(0), 1000000)
  local per = #manifest(2, config) - #manifest(1, config)
  local n = (doc.MAX_JSON - #manifest(0, config)) // per
  local ids = {}
  for i = 1, n do ids[i] = one.config.rootfs.diff_ids[1] end
  local cdigest, csize = assert(st:put_blob(doc.encode(doc.config { platform = { os = "linux",
    architecture = one.config.architecture }, created = 0, base = { rootfs = { diff_ids = ids } }, layers = {} })))
  local text = manifest(n, doc.descriptor(media.CONFIG, cdigest, csize))
  assert(#text <= doc.MAX_JSON, #text)
  local mdigest, msize = assert(st:put_blob(text))
  assert(st:tag(doc.descriptor(media.MANIFEST, mdigest, msize), { assert(ref.parse("base:1")) }))
  return d .. "/base", n
end

describe("a build over 4 MiB of config or manifest", function()
  it("is refused for a 5 MB label, naming it, leaving the store as it was", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    T.write(d .. "/ctx/a", "a")
    T.write(d .. "/build.lua",
      'local oci = require "ocibuild"\nlocal img = oci.image {}\nimg:layer { context = "ctx" }\n'
      .. 'img:label("big", ("x"):rep(5000000))\nreturn img:save { tag = "big:1" }\n')
    local before = T.fingerprint(s)
    local code, out, err = fx.run(s, "run", d .. "/build.lua")
    assert.same({ 1, "" }, { code, out })
    assert.matches("^ocibuild: .*build%.lua:2: the image config would have 5%d%d%d%d%d%d bytes, more than the 4194304 "
      .. "%(4 MiB%) that ocibuild and registries read: config%.Labels%.big holds 5000002 of them\n$", err)
    assert.equal(before, T.fingerprint(s))
    fx.valid(s)
  end)

  it("is refused for a base of as many layers as a manifest holds plus one, leaving the store as it was", function()
    local d = T.tmpdir(finally)
    local base, n = big_base(d)
    local s = d .. "/s"
    fx.ok(s, "import", base)
    fx.valid(s)
    T.write(d .. "/ctx/a", "a")
    local before = T.fingerprint(s)
    local code, out, err = fx.run(s, "build", d .. "/ctx", "--from", "base:1", "-t", "over:1")
    assert.same({ 1, "" }, { code, out })
    assert.matches(("^ocibuild: the image manifest would have 4194%%d%%d%%d bytes, more than the 4194304 %%(4 MiB%%) "
      .. "that ocibuild and registries read: layers %%(%d entries%%) holds 41%%d+ of them\n$"):format(n + 1), err)
    -- the first build of this store made the layer caches' folders before
    -- it failed: they stay, empty (every file is as it was)
    local new, kept = {}, {}
    for line in T.fingerprint(s):gmatch("[^\n]*\n") do
      table.insert(("\n" .. before):find("\n" .. line, 1, true) and kept or new, line)
    end
    assert.equal(before, table.concat(kept))
    assert.equal(4, #new)
    assert.same({ "d 755 ./.ocibuild \n", "d 755 ./.ocibuild/layers \n", "d 755 ./.ocibuild/reuse \n" },
      { new[1], new[2], new[3] })
    assert.matches("^d 755 %./%.ocibuild/reuse/[%w.-]+ \n$", new[4])
    assert.is_nil(fx.ok(s, "images"):find("over"))
    fx.valid(s)
  end)

  it("names the part that crossed the limit, for an index too (doc.fits)", function()
    local doc = require "ocibuild.oci.doc"
    local media = require "ocibuild.oci.media"
    local d = doc.descriptor(media.MANIFEST, ("sha256:%064x"):format(1), 1000)
    local list = {}
    for i = 1, 40000 do list[i] = d end
    local idx = doc.index(list)
    local text = doc.encode(idx)
    assert.same({ nil, ("the image index would have %d bytes, more than the 4194304 (4 MiB) that ocibuild and "
      .. "registries read: manifests (40000 entries) holds %d of them"):format(#text, #doc.encode(idx.manifests)),
      "TOOBIG" },
      { doc.fits("index", idx, text) })
    idx = doc.index({ d })
    text = doc.encode(idx)
    assert.is_true(doc.fits("index", idx, text))
  end)
end)
