-- Real consumers of `ocibuild export` and real producers for `ocibuild
-- import`: an image with three names exported into one archive is one
-- image to skopeo (no name needed), loads into podman through its OCI
-- path with digest and image ID kept (podman applies one name per image:
-- the first), unpacks with umoci, validates with oci-image-tool; and what
-- podman saves (OCI and docker archives) imports back with its names.
local T = require "support"
local fx = require "cli.storefx"

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil

describe("ocibuild.interop export", function()
  local tmp, store, podman, release
  local img = {}

  setup(function()
    tmp = T.tmpdir()
    store = tmp .. "/store"
    T.write(tmp .. "/ctx/index.html", "<h1>hi</h1>\n")
    T.write(tmp .. "/ctx/css/site.css", "body{}\n")
    img.digest, img.id = fx.build(store, tmp .. "/ctx", "x", "site:dev", "site:1.0", "localhost:5000/team/site:v1")
    fx.ok(store, "export", "site:dev", "site:1.0", "localhost:5000/team/site:v1", "-o", tmp .. "/site.tar")
    podman, release = T.podman(tmp)
  end)

  teardown(function()
    if release then release() end
  end)

  it("is one image to skopeo, which copies it without naming it and finds it by its first name", function()
    local i = T.json(T.must("skopeo inspect oci-archive:" .. T.q(tmp .. "/site.tar")))
    assert.equal(img.digest, i.Digest)
    T.must(("skopeo copy -q oci-archive:%s oci:%s:copied"):format(T.q(tmp .. "/site.tar"), T.q(tmp .. "/other")))
    local idx = T.json(T.read(tmp .. "/other/index.json"))
    assert.equal(img.digest, idx.manifests[1].digest)
    assert.equal(img.digest, T.json(T.must("skopeo inspect oci-archive:" .. T.q(tmp .. "/site.tar")
      .. ":site:dev")).Digest)
    T.must("oci-image-tool validate --type image " .. T.q(tmp .. "/other"))
  end)

  it("loads into podman through OCI, digest and ID kept, under its first name", function()
    if not IS_ROOT then return pending("podman load runs as root here (rootless needs subuid setup)") end
    local code, out, err = T.sh(podman .. " load -i " .. T.q(tmp .. "/site.tar"))
    assert.equal(0, code, out .. err)
    assert.matches("Loaded image: docker.io/library/site:dev\n", out .. err, 1, true)
    local i = T.json(T.must(podman .. " image inspect docker.io/library/site:dev"))[1]
    assert.equal(img.digest, i.Digest)
    assert.equal(img.id, "sha256:" .. i.Id)
    assert.same({ "docker.io/library/site:dev" }, i.RepoTags)

    -- and podman's own archives import back, names kept (podman recompresses
    -- layers on save: the OCI archive's manifest is new, and kept as is)
    T.must(("%s save --format oci-archive -o %s docker.io/library/site:dev"):format(podman, T.q(tmp .. "/p-oci.tar")))
    T.must(("%s save --format docker-archive -o %s docker.io/library/site:dev"):format(podman, T.q(tmp
      .. "/p-docker.tar")))
    local saved = T.json(T.must(("tar -xOf %s index.json"):format(T.q(tmp .. "/p-oci.tar")))).manifests[1].digest
    local s = tmp .. "/from-podman"
    assert.equal("imported: " .. saved .. " site:dev\n", fx.ok(s, "import", tmp .. "/p-oci.tar"))
    local out2 = fx.ok(s, "import", tmp .. "/p-docker.tar")
    assert.matches("^imported: sha256:%x+ site:dev\n$", out2)
    assert.equal(img.id, T.json(fx.ok(s, "inspect", "site:dev")).Id)
    fx.valid(s)
  end)

  it("unpacks with umoci and validates with oci-image-tool once extracted", function()
    local dir = tmp .. "/unpacked"
    T.must(("mkdir -p %s && tar -xf %s -C %s"):format(T.q(dir), T.q(tmp .. "/site.tar"), T.q(dir)))
    T.must("oci-image-tool validate --type image " .. T.q(dir))
    assert.equal("site:dev\n", T.must("umoci ls --layout " .. T.q(dir)))
    local bundle = tmp .. "/bundle"
    T.must(("umoci unpack %s--image %s:site:dev %s"):format(IS_ROOT and "" or "--rootless ", T.q(dir), T.q(bundle)))
    assert.equal("<h1>hi</h1>\n", T.read(bundle .. "/rootfs/index.html"))
    assert.equal("body{}\n", T.read(bundle .. "/rootfs/css/site.css"))
    fx.valid(store)
  end)
end)
