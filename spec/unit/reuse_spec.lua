-- Reuse records as a registry stores them (ocibuild.registry.reuse) and
-- the references of a shared cache (ocibuild.registry.cache.parse).
local cache = require "ocibuild.registry.cache"
local json = require "ocibuild.oci.json"
local reuse = require "ocibuild.registry.reuse"

local DIFF = "sha256:" .. ("d"):rep(64)
local BLOB = { mediaType = "application/vnd.oci.image.layer.v1.tar+gzip", digest = "sha256:" .. ("b"):rep(64),
  size = 3000 }
local CODEC = "gzip-5-libdeflate1.14-b1024k-f3"

local function record(over)
  local r = { codec = CODEC, diff_id = DIFF, tar_size = 9000, blob = BLOB, head = 10,
    blocks = { { ("1"):rep(64), 4096, 1500, 1, 2 }, { ("2"):rep(64), 9000, 2992, 3, 4294967295 } } }
  for k, v in pairs(over or {}) do r[k] = v end
  return r
end

-- The record's text with one field of its JSON changed.
local function spoiled(field, value)
  local t = json.decode(reuse.record_text(record()))
  t[field] = value
  return json.encode(t)
end

describe("ocibuild.registry.reuse", function()
  describe("tags", function()
    it("are reuse-<64 hex>, one per key, apart for the layer and for its first block", function()
      local k = reuse.key_tag(DIFF, CODEC)
      assert.matches("^reuse%-%x+$", k)
      assert.equal(70, #k)
      assert.equal(k, reuse.key_tag(DIFF, CODEC))
      assert.not_equal(k, reuse.key_tag(DIFF, "gzip-6-libdeflate1.14-b1024k-f3"))
      assert.not_equal(k, reuse.key_tag("sha256:" .. ("e"):rep(64), CODEC))
      assert.not_equal(k, reuse.first_tag(DIFF:sub(8), CODEC))
    end)
  end)

  describe("records", function()
    it("read back what was written", function()
      local r = assert(reuse.read_record(reuse.record_text(record()), { codec = CODEC, diff_id = DIFF }))
      assert.same({ CODEC, DIFF, 9000, 10 }, { r.codec, r.diff_id, r.tar_size, r.head })
      assert.same(BLOB, { mediaType = r.blob.mediaType, digest = r.blob.digest, size = r.blob.size })
      assert.same(record().blocks[2], { table.unpack(r.blocks[2]) })
    end)

    it("are misses when foreign or damaged: another codec or layer, bad JSON, fields of the wrong form", function()
      local text = reuse.record_text(record())
      local function read(t, want) return { reuse.read_record(t, want) } end
      assert.same({ nil, "another codec", "BADDOC" }, read(text, { codec = "zstd-3-zstd1.5.4-b4096k-f3" }))
      assert.same({ nil, "another layer", "BADDOC" }, read(text, { codec = CODEC, diff_id = BLOB.digest }))
      assert.same({ nil, "not a JSON object", "BADDOC" }, read("{\"version\":1", { codec = CODEC }))
      assert.same({ nil, "another record version", "BADDOC" }, read(spoiled("version", 2), { codec = CODEC }))
      assert.same({ nil, "bad sizes", "BADDOC" }, { reuse.read_record(spoiled("head", 33), { codec = CODEC }) })
      assert.same({ nil, "bad sizes", "BADDOC" }, { reuse.read_record(spoiled("tarSize", -1), { codec = CODEC }) })
      assert.same({ nil, "no layer blob", "BADDOC" }, { reuse.read_record(spoiled("blob", json.object {
        mediaType = "application/vnd.oci.image.config.v1+json", digest = BLOB.digest, size = 1 }), { codec = CODEC }) })
      for _, b in ipairs {
        json.array { json.array { ("1"):rep(63), 1, 1, 0, 0 } },
        json.array { json.array { ("g"):rep(64), 1, 1, 0, 0 } },
        json.array { json.array { ("1"):rep(64), 0, 1, 0, 0 } },
        json.array { json.array { ("1"):rep(64), 1, 1, 4294967296, 0 } },
        json.array { json.array { ("1"):rep(64), 1, 1, 0 } },
        json.object { a = 1 },
      } do
        assert.same({ nil, "bad blocks", "BADDOC" }, { reuse.read_record(spoiled("blocks", b), { codec = CODEC }) })
      end
    end)
  end)

  describe("manifests", function()
    it("are plain OCI image manifests: artifactType, the empty config, the record, then the layer's blob", function()
      local rdesc = { digest = "sha256:" .. ("c"):rep(64), size = 321 }
      local m = json.decode(reuse.manifest_text(rdesc, record()))
      assert.equal("application/vnd.oci.image.manifest.v1+json", m.mediaType)
      assert.equal(reuse.ARTIFACT, m.artifactType)
      assert.same({ "application/vnd.oci.empty.v1+json", reuse.EMPTY.digest, 2, "e30=" },
        { m.config.mediaType, m.config.digest, m.config.size, m.config.data })
      assert.same({ reuse.RECORD, rdesc.digest, 321 }, { m.layers[1].mediaType, m.layers[1].digest, m.layers[1].size })
      assert.same({ BLOB.mediaType, BLOB.digest, BLOB.size, DIFF }, { m.layers[2].mediaType, m.layers[2].digest,
        m.layers[2].size, m.layers[2].annotations["containerd.io/uncompressed"] })
      local r, b = reuse.read_manifest(reuse.manifest_text(rdesc, record()))
      assert.same({ rdesc.digest, BLOB.digest }, { r.digest, b.digest })
    end)

    it("are misses when they are anything else", function()
      local rdesc = { digest = "sha256:" .. ("c"):rep(64), size = 321 }
      local function with(fn)
        local m = json.decode(reuse.manifest_text(rdesc, record()))
        fn(m)
        return json.encode(m)
      end
      assert.same({ nil, "not a reuse record", "BADDOC" },
        { reuse.read_manifest(with(function(m) m.artifactType = nil end)) })
      assert.same({ nil, "not shaped as a reuse record", "BADDOC" },
        { reuse.read_manifest(with(function(m) m.layers[3] = m.layers[1] end)) })
      assert.same({ nil, "not shaped as a reuse record", "BADDOC" },
        { reuse.read_manifest(with(function(m) m.layers[1].size = reuse.MAX_RECORD + 1 end)) })
      assert.same({ nil, "not shaped as a reuse record", "BADDOC" },
        { reuse.read_manifest(with(function(m) m.config.digest = rdesc.digest end)) })
      local ok, err, code = reuse.read_manifest("[]")
      assert.same({ nil, "BADDOC" }, { ok, code })
      assert.matches("not a JSON object", err)
    end)
  end)
end)

describe("ocibuild.registry.cache", function()
  describe("parse()", function()
    it("takes a repository of a named registry, without tag or digest", function()
      assert.equal("127.0.0.1:5000/team/cache", cache.parse("127.0.0.1:5000/team/cache", "--cache-to").name)
      assert.equal("gitea.cnoe.localtest.me:8443/giteaadmin/cache",
        cache.parse("gitea.cnoe.localtest.me:8443/giteaadmin/cache", "--cache-from").name)
      assert.same({ nil, "--cache-to \"team/cache\" names no registry: give HOST/PATH (the repository records go to)",
        "BADREF" }, { cache.parse("team/cache", "--cache-to") })
      assert.same({ nil, "--cache-from \"localhost:5000/cache:v1\": give a repository, without tag or digest (each "
        .. "record is tagged by its key)", "BADREF" }, { cache.parse("localhost:5000/cache:v1", "--cache-from") })
      local ok, err, code = cache.parse("localhost:5000/cache@sha256:" .. ("a"):rep(64), "cache.from")
      assert.same({ nil, "BADREF" }, { ok, code })
      assert.matches("^cache.from ", err)
      ok, err, code = cache.parse("localhost:5000/Cache", "--cache-to")
      assert.same({ nil, "BADREF" }, { ok, code })
      assert.matches("^%-%-cache%-to: invalid reference", err)
    end)
  end)
end)
