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

  it("keeps tar headers byte for byte at the edges of the plain ustar form", function()
    -- names of 99, 100, 101 and more bytes (split, or a pax header), a
    -- directory name of exactly 100, a name not ASCII, bodies around 512
    -- bytes, set-id bits, owners and mtimes on both sides of the ustar
    -- limits, and links between plain entries
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    local function name(n, c) return (c or "n"):rep(n) end
    T.write(ctx .. "/a/" .. name(97), "99\n")
    T.write(ctx .. "/a/" .. name(98), "100\n")
    T.write(ctx .. "/a/" .. name(99), "101\n")
    T.write(ctx .. "/a/" .. name(150), "152\n")
    T.write(ctx .. "/" .. name(99, "d") .. "/f", "in a folder of 100\n")
    T.write(ctx .. "/" .. name(100, "e") .. "/f", "in a folder of 101\n")
    T.write(ctx .. "/caf\xc3\xa9", "not ascii\n")
    for _, n in ipairs { 0, 511, 512, 513 } do
      T.write(("%s/b/s%d"):format(ctx, n), ("%d"):format(n):rep(n):sub(1, n))
    end
    T.write(ctx .. "/m/setuid", "s\n")
    T.write(ctx .. "/m/old", "o\n")
    T.write(ctx .. "/m/late", "l\n")
    T.write(ctx .. "/m/latest", "L\n")
    T.write(ctx .. "/o/big-owner", "u\n")
    T.write(ctx .. "/o/max-owner", "v\n")
    T.must(("cd %s && ln -s b/s511 z-link && ln b/s512 z-hard && chmod 4755 m/setuid && chmod 2710 m/old")
      :format(T.q(ctx)))
    T.must(("cd %s && find . -type d -exec chmod 755 {} + && find . -exec touch -h -d @1000000000 {} + && "
      .. "touch -d @1 m/old && touch -d @2147483646 m/late && touch -d @2147483647 m/latest"):format(T.q(ctx)))
    T.write(d .. "/build.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/amd64" }
img:layer { context = "ctx", compression = "none", mode = "keep", mtime = "keep",
  rules = { { "o/big-owner", owner = "262144:7" }, { "o/max-owner", owner = "262143:262143" } } }
img:layer { context = "ctx", dest = "/opt/]] .. ("p"):rep(60) .. [[", compression = "none" }
return img:save { tag = "golden:3" }
]])
    local code, _, err = T.sh(("env -u SOURCE_DATE_EPOCH %s --store %s run %s")
      :format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/build.lua")))
    assert.equal(0, code, err)
    local layers = T.image(d .. "/s", "golden:3").manifest.layers
    assert.equal("sha256:ee4d23e1a41038c56ebf0164b3e24cc76c9e2047f9b38adfdf6970338776ab78", layers[1].digest)
    assert.equal("sha256:d88b7e7b34c0a260338edb690f233dccc7c90d1e98db3f6091d5f0aeb9488b7e", layers[2].digest)
  end)
end)
