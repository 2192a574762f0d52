-- Golden digests: a scratch image with two uncompressed layers and every
-- config field set. Its manifest and config bytes (and so their digests)
-- must not move when the image model grows (bases, rules, files, removes):
-- an image that does not use a new feature is written as before.
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
end)
