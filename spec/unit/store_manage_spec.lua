local T = require "support"
local fx = require "cli.storefx"
local import = require "ocibuild.import"
local index = require "ocibuild.store.index"
local ref = require "ocibuild.oci.ref"
local show = require "ocibuild.cli.show"
local store = require "ocibuild.store"

local function desc(digit)
  return { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = "sha256:" .. digit:rep(64), size = 1 }
end

describe("ocibuild.store.index", function()
  it("lists an untagged image once, and drops that entry when the image gets a name", function()
    local a = desc("a")
    local list = index.set_tags({}, a, {})
    assert.equal(1, #list)
    assert.is_false(index.named(list[1]))
    assert.same(list, index.set_tags(list, a, {}))
    list = index.set_tags(list, a, { assert(ref.parse("x:1")) })
    assert.equal(1, #list)
    assert.equal("x:1", list[1].annotations[index.REF_NAME])
    -- a named image gets no untagged entry
    assert.same(list, index.set_tags(list, a, {}))
    local u = index.untagged(list[1])
    assert.is_nil(u.annotations)
    assert.equal(a.digest, u.digest)
  end)
end)

describe("ocibuild.cli.show", function()
  it("indents canonical JSON, strings with escapes and brackets left alone", function()
    local json = require "ocibuild.oci.json"
    assert.equal('{\n  "a": [\n    1,\n    "x\\"]{,"\n  ],\n  "b": {},\n  "c": []\n}\n',
      show.json(json.object { a = json.array { 1, 'x"]{,' }, b = json.object {}, c = json.array {} }))
  end)

  it("reads RFC 3339 times with offsets and fractions, and says how long ago", function()
    assert.equal(0, show.epoch("1970-01-01T00:00:00Z"))
    assert.equal(1700000000, show.epoch("2023-11-14T22:13:20.123456789Z"))
    assert.equal(1700000000, show.epoch("2023-11-15T00:13:20+02:00"))
    assert.is_nil(show.epoch("yesterday"))
    assert.equal("3 hours ago", show.age("2023-11-14T22:13:20Z", 1700000000 + 3 * 3600 + 5))
    assert.equal("2 days ago", show.age("2023-11-14T22:13:20Z", 1700000000 + 2 * 86400))
    assert.equal("-", show.age(nil))
  end)
end)

describe("ocibuild.import", function()
  it("imports without naming anything for a caller that holds the store (base images)", function()
    local d = T.tmpdir(finally)
    local a = fx.build(d .. "/src", d .. "/a", "a", "a:1")
    local b = fx.build(d .. "/src", d .. "/b", "b", "b:1")
    fx.ok(d .. "/src", "export", "a:1", "b:1", "-o", d .. "/ab.tar")
    local st = assert(store.open(d .. "/s", { create = true }))
    local _ <close> = assert(st:use())
    local r = assert(import.archive(d .. "/ab.tar", st, { select = "b:1", index = false }))
    assert.equal(1, #r.images)
    assert.equal(b, r.descriptors[1].digest)
    assert.same({ "docker.io/library/b:1" }, r.images[1].names)
    assert.same({ "b:1" }, r.names)
    assert.same({}, assert(st:read_index()).manifests)
    assert.is_true(st:has_blob(b))
    local none, err, code = import.archive(d .. "/ab.tar", st, { select = "c:1", index = false })
    assert.same({ nil, ('no image "c:1" in %s/ab.tar'):format(d), "ENOENT" }, { none, err, code })
    assert(import.any(d .. "/ab.tar", st, { tags = { "x:1" }, select = "docker.io/library/a:1" }))
    assert.equal(a, st:resolve(assert(ref.parse("x:1"))).digest)
  end)
end)

describe("ocibuild store API", function()
  it("manages a store from Lua, raising at the caller's line", function()
    local d = T.tmpdir(finally)
    local a = fx.build(d .. "/s", d .. "/a", "a", "a:1")
    local oci = require("ocibuild").new(d)
    local s = oci.store("s")
    assert.equal(a, s:tag("a:1", "b:1", "c:1"))
    local list = s:images()
    assert.same({ "a:1", "b:1", "c:1" }, list[1].tags)
    assert.equal(a, s:inspect("b:1").Digest)
    assert.same({ untagged = { "c:1" }, deleted = {} }, s:rm("c:1"))
    local r = s:export({ "a:1", "b:1" }, "a.tar")
    assert.equal(T.sha256_file(d .. "/a.tar"), r.digest:sub(8))
    local t = oci.store("t")
    assert.same({ "a:1", "b:1" }, t:import("a.tar").names)
    assert.same({}, t:fsck().problems)
    assert.equal(0, t:prune { dry_run = true }.blobs)
    local ok, err = pcall(function() s:rm("nope:1") end)
    assert.is_false(ok)
    assert.matches("store_manage_spec%.lua:%d+: no image \"nope:1\" in store " .. (d .. "/s"):gsub("%p", "%%%0") .. "$",
      err)
    -- a store that does not exist yet lists nothing, and is not created
    assert.same({}, oci.store("missing"):images())
    assert.is_false(T.exists(d .. "/missing"))
    ok, err = pcall(function() oci.store("missing"):inspect("a:1") end)
    assert.is_false(ok)
    assert.matches(': no image "a:1": no store at ' .. (d .. "/missing"):gsub("%p", "%%%0")
      .. " %(given to store%(%)%)$", err)
    ok, err = pcall(function() s:prune { dryrun = true } end)
    assert.is_false(ok)
    assert.matches('prune: unknown option "dryrun" %(did you mean "dry_run"%?%)$', err)
  end)
end)
