local ref = require "ocibuild.oci.ref"
local store = require "ocibuild.store"
local T = require "support"

local function desc(st, content)
  local d, size = assert(st:put_blob(content))
  return { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = d, size = size }
end

local function refs(...)
  local t = {}
  for i, s in ipairs { ... } do t[i] = assert(ref.parse(s)) end
  return t
end

describe("ocibuild.store", function()
  describe("open()", function()
    it("creates an OCI layout that validators accept", function()
      local d = T.tmpdir(finally)
      local st = assert(store.open(d .. "/s", { create = true }))
      assert.equal('{"imageLayoutVersion":"1.0.0"}', T.read(st.dir .. "/oci-layout"))
      assert.equal('{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}',
        T.read(st.dir .. "/index.json"))
      assert.same({}, assert(st:read_index()).manifests)
    end)

    it("reports a store it cannot create, naming it", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/file", "")
      local st, err, code = store.open(d .. "/file/s", { create = true })
      assert.is_nil(st)
      assert.equal("ENOTDIR", code)
      assert.equal(("store %s/file/s is not usable: ENOTDIR: Not a directory: %s/file"):format(d, d), err)
    end)
  end)

  describe("put_blob()", function()
    it("keeps a blob there already whose bytes verify, and replaces a damaged one", function()
      local d = T.tmpdir(finally)
      local st = assert(store.open(d .. "/s", { create = true }))
      local digest, size, created = st:put_blob("some bytes\n")
      assert.same({ 11, true }, { size, created })
      local file = st.dir .. "/blobs/sha256/" .. digest:sub(8)
      local inode = T.must("stat -c %i " .. T.q(file))
      -- there and intact: not written again
      assert.same({ digest, 11, false }, { st:put_blob("some bytes\n") })
      assert.equal(inode, T.must("stat -c %i " .. T.q(file)))
      -- damaged (same size, another byte): replaced by the right bytes
      T.must("chmod u+w " .. T.q(file))
      T.write(file, "some bytez\n")
      assert.same({ digest, 11, false }, { st:put_blob("some bytes\n") })
      assert.equal("some bytes\n", T.read(file))
      -- longer than it should be: replaced too
      T.must("chmod u+w " .. T.q(file))
      T.write(file, "some bytes\nand more\n")
      assert.same({ digest, 11, false }, { st:put_blob("some bytes\n") })
      assert.equal("some bytes\n", T.read(file))
      -- and no temp file is left
      assert.equal("", T.must("ls -A " .. T.q(st.dir .. "/.ocibuild-tmp")))
    end)
  end)

  describe("default_dir()", function()
    it("prefers the explicit folder, then $OCIBUILD_STORE, then XDG", function()
      assert.same({ "/x", "--store" }, { store.default_dir("/x") })
      local env = os.getenv("OCIBUILD_STORE")
      if env and env ~= "" then
        assert.equal(env, store.default_dir())
      else
        local data = os.getenv("XDG_DATA_HOME")
        local base = (data and data ~= "") and data or (os.getenv("HOME") .. "/.local/share")
        assert.equal(base .. "/ocibuild/store", store.default_dir())
      end
    end)
  end)

  describe("tag() and resolve()", function()
    it("names each tag twice (familiar ref.name, normalized containerd name) and moves tags", function()
      local d = T.tmpdir(finally)
      local st = assert(store.open(d, { create = true }))
      local one, two = desc(st, "one"), desc(st, "two")
      assert(st:tag(one, refs("site:dev", "site:1.0")))
      assert(st:tag(two, refs("site:dev")))
      local list = assert(st:read_index()).manifests
      assert.equal(2, #list)
      assert.equal("site:1.0", list[1].annotations["org.opencontainers.image.ref.name"])
      assert.equal("docker.io/library/site:1.0", list[1].annotations["io.containerd.image.name"])
      assert.equal(one.digest, list[1].digest)
      assert.equal(two.digest, list[2].digest)
      assert.equal(two.digest, assert(st:resolve(assert(ref.parse("docker.io/library/site:dev")))).digest)
      local none, err, code = st:resolve(assert(ref.parse("site:gone")))
      assert.same({ nil, "no image site:gone in store " .. st.dir, "ENOENT" }, { none, err, code })
    end)

    it("refuses an index.json that is not an image index", function()
      local d = T.tmpdir(finally)
      local st = assert(store.open(d, { create = true }))
      T.write(d .. "/index.json", '{"schemaVersion":2,"manifests":[{"digest":"sha256:../x","size":1,"mediaType":"m"}]}')
      local list, err, code = st:read_index()
      assert.is_nil(list)
      assert.equal("BADDIGEST", code)
      assert.equal(d .. '/index.json: manifests[1]: not a sha256 digest: "sha256:../x"', err)
    end)
  end)
end)
