-- `ocibuild fsck`: a clean store passes; each kind of damage is one line
-- naming the image, the blob's path and what is wrong (a corrupt blob
-- with its expected and actual digest), the command exits 1 and changes
-- nothing.
local T = require "support"
local fx = require "cli.storefx"

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

describe("ocibuild fsck", function()
  it("passes a clean store and counts what prune would remove", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/a", "a", "a:1", "a:2")
    fx.build(s, d .. "/b", "b", "b:1")
    fx.ok(s, "rm", "b:1")
    T.write(s .. "/.ocibuild-tmp/blob-left", "x")
    assert.matches("^checked 1 image and 6 blobs %(%d+ bytes%); 3 blobs %(%d+ bytes%) no image reaches, 1" ..
      " abandoned temp file\n$",
      fx.ok(s, "fsck"))
  end)

  it("names each corrupt, missing or misnamed blob and a bad oci-layout, and exits 1 changing nothing", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a = fx.build(s, d .. "/a", "a", "a:1")
    local img = T.image(s, "a:1")
    local b = fx.build(s, d .. "/b", "b", "b:1")
    local bimg = T.image(s, "b:1")
    local c = fx.build(s, d .. "/c", "c", "c:1")
    fx.ok(s, "rm", "c:1")
    local layer = img.manifest.layers[1].digest
    local lp = s .. "/blobs/sha256/" .. layer:sub(8)
    T.must(("printf 'XX' | dd of=%s bs=1 seek=20 conv=notrunc status=none"):format(T.q(lp)))
    local got = "sha256:" .. T.sha256_file(lp)
    local cfg = bimg.manifest.config.digest
    T.must("rm " .. T.q(s .. "/blobs/sha256/" .. cfg:sub(8)))
    local cp = s .. "/blobs/sha256/" .. c:sub(8)
    T.write(cp, "garbage")
    T.write(s .. "/blobs/sha256/tmp-x", "x")
    T.write(s .. "/oci-layout", '{"imageLayoutVersion":"1.1.0"}')
    local before = T.fingerprint(s)
    local code, out, err = fx.run(s, "fsck")
    assert.equal(1, code)
    assert.equal(("ocibuild: 5 problems in %s\n"):format(s), err)
    local l = lines(out)
    assert.same({
      ('%s/oci-layout: imageLayoutVersion is not "1.0.0" (umoci, containerd and oci-image-tool need it)'):format(s),
      ("layer %s: BADDIGEST: expected %s, got %s: %s"):format(layer, layer, got, lp),
      "  breaks a:1 (index.json manifests[1]); repair: ocibuild rm a:1",
      ("config %s: ENOENT: No such file or directory: %s/blobs/sha256/%s"):format(cfg, s, cfg:sub(8)),
      "  breaks b:1 (index.json manifests[2]); repair: ocibuild rm b:1",
      ("unreferenced blob %s: BADDIGEST: expected %s, got sha256:%s: %s"):format(c, c,
        T.must("printf garbage | sha256sum"):match("%x+"), cp),
      ("%s/blobs/sha256/tmp-x: not named by a sha256 digest (umoci gc stops on it)"):format(s),
    }, { table.unpack(l, 1, 7) })
    assert.matches("^checked 2 images and %d blobs", l[8])
    assert.equal(before, T.fingerprint(s))
    assert.same({ a, b }, { fx.entries(s)[1].digest, fx.entries(s)[2].digest })
  end)

  it("reports an index.json it cannot read, and two entries claiming one name", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/a", "a", "a:1")
    local good = T.read(s .. "/index.json")
    local one = fx.entries(s)[1]
    T.write(s .. "/index.json", good:gsub('"manifests":%[',
      '"manifests":[{"digest":"sha256:../x","mediaType":"m","size":1},', 1))
    local code, out = fx.run(s, "fsck")
    assert.equal(1, code)
    assert.equal(('%s/index.json: manifests[1]: not a sha256 digest: "sha256:../x"'):format(s), lines(out)[1])
    -- another tool (skopeo writes only ref.name) naming a second image a:1
    fx.build(s .. "2", d .. "/b", "b", "b:1")
    T.write(s .. "/index.json", good)
    local other = T.image(s .. "2", "b:1")
    for _, p in ipairs { other.desc.digest, other.manifest.config.digest, other.manifest.layers[1].digest } do
      T.must(("cp %s %s"):format(T.q(other.blob(p)), T.q(s .. "/blobs/sha256/" .. p:sub(8))))
    end
    T.write(s .. "/index.json", good:gsub('%]',
      (',{"annotations":{"org.opencontainers.image.ref.name":"a:1"},"digest":"%s",'
        .. '"mediaType":"application/vnd.oci.image.manifest.v1+json","size":%d}]')
      :format(other.desc.digest, other.desc.size), 1))
    code, out = fx.run(s, "fsck")
    assert.equal(1, code)
    assert.equal(("index.json manifests[2]: the name a:1 is also on another entry, for %s"):format(one.digest),
      lines(out)[1])
  end)
end)
