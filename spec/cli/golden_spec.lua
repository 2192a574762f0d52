-- Golden digests: a scratch image with two uncompressed layers and every
-- config field set. Its manifest and config bytes (and so their digests)
-- must not move when the image model grows (bases, rules, files, removes):
-- an image that does not use a new feature is written as before. And gzip
-- and zstd layers, whose bytes also depend on where their tars are cut
-- into blocks (by the entries: see src/layer/cut.c).
local T = require "support"

local SCRIPT = [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/amd64" }
img:layer { context = "ctx", dest = "/srv/app", compression = "none" }
img:layer { context = "ctx", compression = "none", mode = "normalize" }
img:labels { a = "1", ["org.opencontainers.image.source"] = "https://example.com" }
img:config { entrypoint = { "/bin/app" }, cmd = { "-v" }, env = { PATH = "/bin", B = "2" },
  workdir = "/srv", user = "1:1", ports = { "80", "53/udp" }, volumes = { "/data" },
  stopsignal = "SIGTERM" }
return img:save { tag = "golden:1" }
]]

describe("ocibuild golden digests", function()
  it("keeps the manifest and config of a scratch image byte for byte", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a.txt", "hello\n", 420)
    T.write(d .. "/ctx/sub/b", "x", 420)
    T.must(("chmod 755 %s %s"):format(T.q(d .. "/ctx"), T.q(d .. "/ctx/sub")))
    T.write(d .. "/build.lua", SCRIPT)
    local code, out, err = T.sh(("env -u SOURCE_DATE_EPOCH %s --store %s run %s")
      :format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/build.lua")))
    assert.equal(0, code, err)
    local img = T.image(d .. "/s", "golden:1")
    assert.equal("sha256:95b51d95a0cda048aea0e5b82aa4ad6a93ff03eb58e3fc4210307b488ee6da88", img.desc.digest)
    assert.equal("sha256:f4b1397f4672c9643f5b10b960692515cbb1bb00dc6ce0d76a4445d9fbcd025b",
      img.manifest.config.digest)
    assert.truthy(out:find(img.desc.digest, 1, true))
  end)

  it("keeps the bytes of gzip and zstd layers, cut into blocks where their entries say", function()
    local d = T.tmpdir(finally)
    local function text(n, seed) return T.text(n, seed, "%d golden %d %d\n") end
    local function put(path, data)
      local f = assert(io.open(path, "wb"))
      f:write(data)
      f:close()
    end
    T.must(("mkdir -p %s/ctx/big %s/ctx/mid %s/ctx/small"):format(T.q(d), T.q(d), T.q(d)))
    put(d .. "/ctx/big/a.log", text(9 * 1024 * 1024 + 5, 1))
    for i = 1, 30 do put(("%s/ctx/mid/m%02d"):format(d, i), text(40000 + 3000 * i, 100 + i)) end
    for i = 1, 400 do put(("%s/ctx/small/s%03d"):format(d, i), text(i * 7 % 900, 1000 + i)) end
    T.must(("find %s -type d -exec chmod 755 {} + && find %s -type f -exec chmod 644 {} +")
      :format(T.q(d .. "/ctx"), T.q(d .. "/ctx")))
    T.write(d .. "/build.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/amd64" }
img:layer { context = "ctx" }
img:layer { context = "ctx", compression = "zstd" }
return img:save { tag = "golden:2" }
]])
    local code, _, err = T.sh(("env -u SOURCE_DATE_EPOCH %s --store %s run %s")
      :format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/build.lua")))
    assert.equal(0, code, err)
    local img = T.image(d .. "/s", "golden:2")
    local diff_ids = T.json(T.read(img.blob(img.manifest.config.digest))).rootfs.diff_ids
    assert.equal(diff_ids[1], diff_ids[2])
    local layers = img.manifest.layers
    assert.equal("sha256:48885b56da5564f2de049ad674659f66494cb9f294ae5233bf479cf2e893dbf7", layers[1].digest)
    assert.equal("sha256:46f3160f8a53f4252a560385b9dcec3a3381edf233a5585075b460dbbef1e416", layers[2].digest)
    assert.equal("sha256:a7459698fae0b6fbaa9b1ad2dc0e23b97da933fe76653dc7e21e87e929f26a33", diff_ids[1])
  end)
end)
