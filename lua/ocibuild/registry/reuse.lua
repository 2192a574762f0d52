--- Reuse records in a registry: the build cache runners share. A record
-- maps what decides a layer's bytes (its diff_id and the codec key: kind,
-- level, engine version, block size, cut format) to its compressed blob,
-- with the blob's blocks (see ocibuild.core's Store:reuse_record), so
-- that a runner building the same layer takes the blob, and one building
-- a changed layer the pieces of the blocks it still has.
-- A record is a plain OCI image manifest, never an index (Gitea, Harbor
-- and ECR refuse an index of non-manifests): artifactType ARTIFACT, the
-- empty config, the record JSON as its first layer, the layer's blob as
-- its second (listed so that registry GC keeps it). It is tagged
-- reuse-<64 hex> by its key (content-addressed: runners never overwrite
-- each other's), and again by the key of its first block, where a changed
-- layer finds a candidate. Everything read back is checked: a record that
-- is missing, foreign or damaged is a miss (nil and why), never an error.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local digest = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"

local M = {}

M.ARTIFACT = "application/vnd.ocibuild.reuse.v1+json"
M.RECORD = "application/vnd.ocibuild.reuse.record.v1+json"
M.EMPTY = { mediaType = "application/vnd.oci.empty.v1+json",
  digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size = 2, data = "e30=" }
M.VERSION = 1
--- Records are read into memory up to this size (a 1 GiB layer has about
-- 2000 blocks of some 100 bytes each).
M.MAX_RECORD = 16 << 20
M.MAX_BLOCKS = 1 << 20

local function tag_of(...)
  local h = core.sha256():update(table.concat({ "ocibuild reuse", M.VERSION, ... }, "\n") .. "\n")
  return "reuse-" .. h:digest():sub(8)
end

--- The tag of the record of a layer whose tar is diff_id, made by the
-- codec whose key is codec_key.
function M.key_tag(diff_id, codec_key) return tag_of("layer", diff_id, codec_key) end

--- The tag of the latest record of a layer whose first block's input
-- hashed to id0 (hex), made by that codec.
function M.first_tag(id0, codec_key) return tag_of("first", id0, codec_key) end

local function layer_types()
  local t = {}
  for _, mt in pairs(media.LAYER) do t[mt] = true end
  return t
end
local LAYER_TYPES = layer_types()

--- The record's JSON text. rec: {codec=, diff_id=, tar_size=, blob=
-- (descriptor), head=, blocks= ({id, tend, oend, crc, ocrc} each)}.
function M.record_text(rec)
  local blocks = json.array {}
  for i, b in ipairs(rec.blocks or {}) do blocks[i] = json.array { b[1], b[2], b[3], b[4], b[5] } end
  return json.encode(json.object {
    version = M.VERSION, codec = rec.codec, diffID = rec.diff_id, tarSize = rec.tar_size,
    blob = doc.descriptor(rec.blob.mediaType, rec.blob.digest, rec.blob.size), head = rec.head or 0,
    blocks = blocks })
end

local function int(v, lo, hi) return math.type(v) == "integer" and v >= lo and v <= hi end

-- The blocks of a record, checked for form (the core checks that they add up).
local function read_blocks(list)
  if not json.is_array(list) or #list > M.MAX_BLOCKS then return nil end
  for _, b in ipairs(list) do
    if not json.is_array(b) or #b ~= 5 or type(b[1]) ~= "string" or not b[1]:match("^%x+$") or #b[1] ~= 64
        or not int(b[2], 1, 1 << 50) or not int(b[3], 1, 1 << 50) or not int(b[4], 0, 0xffffffff)
        or not int(b[5], 0, 0xffffffff) then
      return nil
    end
  end
  return list
end

--- Reads a record's text; want: {codec=, diff_id= (optional)} it must
-- match. Returns {codec=, diff_id=, tar_size=, blob=, head=, blocks=},
-- or nil, why, "BADDOC".
function M.read_record(text, want)
  local t = json.decode(text, "record")
  if not json.is_object(t) then return nil, "not a JSON object", "BADDOC" end
  if t.version ~= M.VERSION then return nil, "another record version", "BADDOC" end
  if t.codec ~= want.codec then return nil, "another codec", "BADDOC" end
  if not digest.valid(t.diffID) or (want.diff_id and t.diffID ~= want.diff_id) then
    return nil, "another layer", "BADDOC"
  end
  if not int(t.tarSize, 0, 1 << 50) or not int(t.head, 0, 32) then return nil, "bad sizes", "BADDOC" end
  if not doc.check_descriptor(t.blob, "record") or not LAYER_TYPES[t.blob.mediaType] then
    return nil, "no layer blob", "BADDOC"
  end
  local blocks = read_blocks(t.blocks)
  if not blocks then return nil, "bad blocks", "BADDOC" end
  return { codec = t.codec, diff_id = t.diffID, tar_size = t.tarSize, blob = t.blob, head = t.head, blocks = blocks }
end

--- The record's manifest text, for the record's descriptor and the layer's.
function M.manifest_text(rec_desc, rec)
  local e = M.EMPTY
  return json.encode(json.object {
    schemaVersion = 2, mediaType = media.MANIFEST, artifactType = M.ARTIFACT,
    config = doc.descriptor(e.mediaType, e.digest, e.size, { data = e.data }),
    layers = json.array {
      doc.descriptor(M.RECORD, rec_desc.digest, rec_desc.size),
      doc.descriptor(rec.blob.mediaType, rec.blob.digest, rec.blob.size,
        { annotations = json.object { ["containerd.io/uncompressed"] = rec.diff_id } }),
    },
  })
end

--- Reads a record's manifest. Returns the record's descriptor and the
-- layer blob's, or nil, why, "BADDOC".
function M.read_manifest(text)
  local m, err, code = doc.read_manifest(text, "record manifest")
  if not m then return nil, err, code end
  if m.artifactType ~= M.ARTIFACT then return nil, "not a reuse record", "BADDOC" end
  if m.config.digest ~= M.EMPTY.digest or m.config.size ~= M.EMPTY.size or #m.layers ~= 2 then
    return nil, "not shaped as a reuse record", "BADDOC"
  end
  local r, b = m.layers[1], m.layers[2]
  if r.mediaType ~= M.RECORD or r.size > M.MAX_RECORD or not LAYER_TYPES[b.mediaType] then
    return nil, "not shaped as a reuse record", "BADDOC"
  end
  return r, b
end

return M
