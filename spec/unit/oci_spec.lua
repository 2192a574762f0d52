local digest = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local platform = require "ocibuild.oci.platform"

local D = "sha256:" .. ("ab"):rep(32)

local function desc(extra)
  local d = ('{"mediaType":"%s","digest":"%s","size":3%s}'):format(media.MANIFEST, D, extra or "")
  return d
end

describe("ocibuild.oci.json decode()", function()
  it("refuses what a strict reader must", function()
    for _, case in ipairs {
      { '{"a":1,"a":2}', 'duplicate key "a"' },
      { '{"x":"\\ud800"}', "lone surrogate" },
      { '"\255"', "not valid UTF-8" },
      { "01", "bad number" },
      { "[1] x", "trailing bytes" },
      { ("["):rep(70) .. ("]"):rep(70), "nesting deeper than 64" },
      { '"a\nb"', "control character in string" },
      { "123456789012345678901", "integer out of range" },
      { "", "unexpected end" },
    } do
      local v, err, code = json.decode(case[1], "t")
      assert.is_nil(v)
      assert.equal("BADJSON", code)
      assert.truthy(err:find("^t: invalid JSON at byte %d+: ") and err:find(case[2], 1, true), err)
    end
  end)

  it("keeps {} and [] apart, so decoding then encoding gives the same bytes", function()
    local text = '{"a":[],"b":{},"c":[{"d":null,"e":true,"f":-5}],"g":"\\u00e9\\"/"}'
    local v = assert(json.decode(text))
    assert.equal('{"a":[],"b":{},"c":[{"d":null,"e":true,"f":-5}],"g":"é\\"/"}', json.encode(v))
    assert.is_true(json.is_array(v.a))
    assert.is_true(json.is_object(v.b))
    assert.is_false(json.is_object(v.a))
  end)
end)

describe("ocibuild.oci.digest", function()
  it("accepts only sha256:<64 lower-case hex>", function()
    assert.is_true(digest.valid(D))
    for _, bad in ipairs { "sha256:" .. ("AB"):rep(32), "sha512:" .. ("a"):rep(64), D .. "0", "sha256:../x", 5 } do
      assert.is_false(digest.valid(bad))
    end
    assert.same({ nil, 'x: not a sha256 digest: "sha256:../x"', "BADDIGEST" }, { digest.check("sha256:../x", "x") })
    assert.same({ nil, 'not a sha256 digest: "a\\nb"', "BADDIGEST" }, { digest.check("a\nb") })
    assert.equal(("ab"):rep(6), digest.short(D))
  end)
end)

describe("ocibuild.oci.media", function()
  it("knows which documents are manifests and indexes, OCI and Docker", function()
    assert.equal("manifest", media.kind(media.MANIFEST))
    assert.equal("manifest", media.kind(media.DOCKER_MANIFEST))
    assert.equal("index", media.kind(media.DOCKER_LIST))
    assert.equal("layer", media.kind(media.LAYER.zstd))
    assert.is_nil(media.kind("application/vnd.example+json"))
  end)
end)

describe("ocibuild.oci.platform", function()
  it("parses and normalizes as containerd does", function()
    assert.same({ os = "linux", architecture = "arm64" }, platform.parse("linux/arm64/v8"))
    assert.same({ os = "linux", architecture = "arm", variant = "v7" }, platform.parse("linux/arm"))
    assert.same({ os = "linux", architecture = "amd64" }, platform.parse("linux/amd64/v1"))
    -- as containerd's Normalize: case, the names uname and Debian give, bare variant numbers
    for given, want in pairs { ["Linux/AMD64"] = "linux/amd64", ["linux/x86_64"] = "linux/amd64",
      ["linux/x86-64"] = "linux/amd64", ["linux/aarch64"] = "linux/arm64", ["linux/arm64/v8.0"] = "linux/arm64",
      ["linux/arm64/9"] = "linux/arm64/v9", ["linux/i386"] = "linux/386", ["linux/armhf"] = "linux/arm/v7",
      ["linux/armel"] = "linux/arm/v6", ["linux/arm/6"] = "linux/arm/v6", ["macos/arm64"] = "darwin/arm64" } do
      assert.equal(want, platform.format(assert(platform.parse(given))), given)
    end
    -- what a machine runs, best first, as containerd's matcher picks a child of an index
    local list = {}
    for i, p in ipairs { "linux/arm/v6", "linux/arm/v7", "linux/arm64", "linux/amd64", "linux/amd64/v2" } do
      list[i] = { n = i, platform = assert(platform.parse(p)) }
    end
    local function best(want)
      local d = platform.best(list, assert(platform.parse(want)))
      return d and d.n
    end
    assert.same({ 2, 2, 1, 3, 4, 5, 5, 4 }, { best("linux/arm/v8"), best("linux/arm"), best("linux/arm/v6"),
      best("linux/arm64"), best("linux/amd64"), best("linux/amd64/v3"), best("linux/amd64/v2"),
      best("linux/amd64/v1") })
    assert.is_nil(best("linux/arm/v5"))
    assert.same({ nil, 'bad platform "linux": expected os/arch[/variant], as linux/amd64', "BADPLATFORM" },
      { platform.parse("linux") })
    assert.equal("linux/arm/v6", platform.format { os = "linux", architecture = "arm", variant = "v6" })
    assert.is_true(platform.matches({ os = "linux", architecture = "arm64", variant = "v8" },
      { os = "linux", architecture = "arm64" }))
    assert.is_false(platform.matches({ os = "linux", architecture = "arm", variant = "v6" },
      { os = "linux", architecture = "arm", variant = "v7" }))
    local host = platform.host()
    assert.equal("linux", host.os)
    host.os = "changed"
    assert.equal("linux", platform.host().os)
  end)
end)

describe("ocibuild.oci.doc", function()
  it("reads an index strictly, naming the field at fault", function()
    assert(doc.read_index('{"schemaVersion":2,"manifests":[' .. desc() .. ']}', "i"))
    for _, case in ipairs {
      { "[]", "i: not a JSON object" },
      { '{"manifests":[]}', "i: schemaVersion must be 2" },
      { '{"schemaVersion":2}', "i: manifests must be an array" },
      { '{"schemaVersion":2,"manifests":{}}', "i: manifests must be an array" },
      { '{"schemaVersion":2,"mediaType":"' .. media.MANIFEST .. '","manifests":[]}', "is not an image index" },
      { '{"schemaVersion":2,"manifests":[' .. desc():gsub('"size":3', '"size":-1') .. ']}',
        "i: manifests[1]: size must be an integer" },
      { '{"schemaVersion":2,"manifests":[' .. desc():gsub('"size":3', '"size":3.5') .. ']}',
        "size must be an integer" },
      { '{"schemaVersion":2,"manifests":[' .. desc(',"annotations":{"a":1}') .. ']}',
        "annotations must be an object of strings" },
      { '{"schemaVersion":2,"manifests":[' .. desc(',"platform":{"os":"linux"}') .. ']}',
        "platform must be an object with os and architecture" },
      { '{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:AA","size":1}]}',
        'i: manifests[1]: not a sha256 digest: "sha256:AA"' },
    } do
      local v, err = doc.read_index(case[1], "i")
      assert.is_nil(v)
      assert.truthy(err:find(case[2], 1, true), err)
    end
  end)

  it("reads a manifest and a config strictly", function()
    local cfg = ('{"mediaType":"%s","digest":"%s","size":2}'):format(media.CONFIG, D)
    local m = assert(doc.read_manifest(('{"schemaVersion":2,"config":%s,"layers":[%s]}'):format(cfg, cfg), "m"))
    assert.equal(D, m.config.digest)
    assert.equal("m: layers must be an array",
      select(2, doc.read_manifest(('{"schemaVersion":2,"config":%s}'):format(cfg), "m")))
    assert.equal("m: config: descriptor is not an object",
      select(2, doc.read_manifest('{"schemaVersion":2,"config":[],"layers":[]}', "m")))
    assert(doc.read_config('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["' .. D
      .. '"]}}', "c"))
    assert.equal('c: rootfs.diff_ids[1]: not a sha256 digest: "x"',
      select(2, doc.read_config('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["x"]}}',
        "c")))
    assert.equal("c: larger than 4194304 bytes", select(2, doc.read_config((" "):rep(doc.MAX_JSON + 1), "c")))
    assert.equal('x: media type "text/plain" is neither an image manifest nor an index',
      select(2, doc.read_any("{}", "text/plain", "x")))
  end)

  it("writes an index keeping fields other tools put there", function()
    local idx = assert(doc.read_index('{"schemaVersion":2,"manifests":[],"annotations":{"by":"skopeo"},"x-extra":[1]}',
      "i"))
    assert.equal('{"annotations":{"by":"skopeo"},"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json",'
      .. '"schemaVersion":2,"x-extra":[1]}',
      doc.encode(doc.index(idx.manifests, idx)))
  end)
end)
