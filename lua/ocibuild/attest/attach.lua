--- Attestations attached to an image as BuildKit attaches them: beside
-- each platform image of an index, an image manifest of platform
-- unknown/unknown whose descriptor says what it is about
-- (vnd.docker.reference.type: attestation-manifest,
-- vnd.docker.reference.digest: the image's manifest digest); its layers
-- are unsigned in-toto statements (application/vnd.in-toto+json, each
-- with its in-toto.io/predicate-type), its config an image config of os
-- and architecture "unknown" listing them as diff_ids, as BuildKit's
-- default (not OCI-artifact) form has it, which registries without
-- artifact support (Gitea) take as one more image manifest. A single
-- image with attestations becomes an index of it and its attestation
-- manifest. Reading them back works on any place with get_json(desc)
-- and get_blob(desc, max) (ocibuild.attest.place). Functions return nil,
-- msg, code on failure.
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local platform = require "ocibuild.oci.platform"

local M = {}

M.REF_TYPE = "vnd.docker.reference.type"
M.REF_DIGEST = "vnd.docker.reference.digest"
M.KIND = "attestation-manifest"
M.PREDICATE = "in-toto.io/predicate-type"
M.LAYER = "application/vnd.in-toto+json"
-- BuildKit's bound on one attestation.
M.MAX_STATEMENT = 40 << 20

--- true when the index entry d is an attestation manifest.
function M.is_attestation(d)
  return type(d) == "table" and type(d.annotations) == "table" and d.annotations[M.REF_TYPE] == M.KIND
end

local function put(st, bytes, created)
  local dg, size, new = st:put_blob(bytes)
  if not dg then return nil, size, new end
  if new and created then created[#created + 1] = dg end
  return dg, size
end

--- Writes into the store st the attestation manifest of the image desc
-- holding statements ({ {type= (predicate type), bytes=} }, in order);
-- blobs it adds are listed in created. Returns its index entry.
function M.manifest(st, desc, statements, created)
  local layers, ids = json.array {}, json.array {}
  for i, s in ipairs(statements) do
    -- what no reader would take back is never written
    if #s.bytes > M.MAX_STATEMENT then
      return nil, ("the %s statement of image %s is %d MiB, more than the %d MiB readers take: too many packages "
        .. "or files for one attestation"):format(s.type, desc.digest, #s.bytes >> 20, M.MAX_STATEMENT >> 20), "TOOBIG"
    end
    local dg, size, code = put(st, s.bytes, created)
    if not dg then return nil, size, code end
    layers[i] = doc.descriptor(M.LAYER, dg, size, { annotations = json.object { [M.PREDICATE] = s.type } })
    ids[i] = dg
  end
  local config = json.encode(json.object { architecture = "unknown", os = "unknown", config = json.object {},
    rootfs = json.object { type = "layers", diff_ids = ids } })
  local cdg, csize, ccode = put(st, config, created)
  if not cdg then return nil, csize, ccode end
  local text = doc.encode(doc.manifest(doc.descriptor(media.CONFIG, cdg, csize), layers))
  local mdg, msize, mcode = put(st, text, created)
  if not mdg then return nil, msize, mcode end
  return doc.descriptor(media.MANIFEST, mdg, msize, {
    platform = json.object { architecture = "unknown", os = "unknown" },
    annotations = json.object { [M.REF_DIGEST] = desc.digest, [M.REF_TYPE] = M.KIND } })
end

--- The index of what was built (built.desc: an image manifest, or an
-- index whose blob is in st) and the attestation entries `entries`, after
-- the platform images. Returns its descriptor.
function M.index(st, built, entries, created)
  local descs, extra = {}, nil
  if media.kind(built.desc.mediaType) == "index" then
    local text, err, code = st:get_json(built.desc.digest)
    if not text then return nil, err, code end
    local idx
    idx, err, code = doc.read_index(text, "index " .. built.desc.digest)
    if not idx then return nil, err, code end
    for _, d in ipairs(idx.manifests) do descs[#descs + 1] = d end
    if idx.annotations then extra = { annotations = idx.annotations } end
  else
    descs[1] = built.desc
  end
  for _, e in ipairs(entries) do descs[#descs + 1] = e end
  local idx = doc.index(descs, extra)
  local text = doc.encode(idx)
  local ok, err, code = doc.fits("index", idx, text)
  if not ok then return nil, err, code end
  local dg, size
  dg, size, code = put(st, text, created)
  if not dg then return nil, size, code end
  return doc.descriptor(media.INDEX, dg, size)
end

--- The one image of the index desc of the store st when it holds one
-- besides attestation manifests (a single-platform image built with
-- attestations), else nil.
function M.only_image(st, desc)
  if media.kind(desc.mediaType) ~= "index" then return nil end
  local text = st:get_json(desc.digest)
  local idx = text and doc.read_index(text, "index " .. desc.digest)
  local found
  for _, d in ipairs(idx and idx.manifests or {}) do
    if not M.is_attestation(d) then
      if found or media.kind(d.mediaType) ~= "manifest" then return nil end
      found = d
    end
  end
  return found
end

-- ---- reading back ----

--- The images of the index or manifest desc at place and their
-- attestation manifests: { {image= (descriptor), platform= ("os/arch"),
-- attestation= (descriptor, or nil)} }. want: only that platform's
-- ("os/arch[/variant]" parsed), or nil for all.
function M.list(place, desc, want)
  if media.kind(desc.mediaType) ~= "index" then
    return { { image = desc, platform = desc.platform and platform.format(desc.platform) } }
  end
  local text, err, code = place:get_json(desc)
  if not text then return nil, err, code end
  local idx
  idx, err, code = doc.read_index(text, "index " .. desc.digest)
  if not idx then return nil, err, code end
  local out, by = {}, {}
  for _, d in ipairs(idx.manifests) do
    if media.kind(d.mediaType) == "manifest" and not M.is_attestation(d) then
      if not want or (d.platform and platform.matches(d.platform, want)) then
        out[#out + 1] = { image = d, platform = d.platform and platform.format(d.platform) }
        by[d.digest] = out[#out]
      end
    end
  end
  for _, d in ipairs(idx.manifests) do
    local e = M.is_attestation(d) and by[d.annotations[M.REF_DIGEST]]
    if e and not e.attestation then e.attestation = d end
  end
  return out
end

-- true when the statement s names the image manifest digest among its
-- subjects: what an attestation is about is its subject, not the index
-- annotation that places it (anyone can write that).
local function about(s, digest)
  local hex = digest:match("^sha256:(%x+)$")
  for _, sub in ipairs(json.is_array(s.subject) and s.subject or {}) do
    if json.is_object(sub) and json.is_object(sub.digest) and sub.digest.sha256 == hex then return true end
  end
  return false
end

--- The statements of the attestation manifest att at place whose
-- predicate type is one of types (a set), as {type=, desc=, bytes=,
-- statement= (decoded)}, in order; each must have the image manifest
-- digest `image` among its subjects.
function M.statements(place, att, types, image)
  local text, err, code = place:get_json(att)
  if not text then return nil, err, code end
  local m
  m, err, code = doc.read_manifest(text, "attestation manifest " .. att.digest)
  if not m then return nil, err, code end
  local out = {}
  for i, l in ipairs(m.layers) do
    local t = l.annotations and l.annotations[M.PREDICATE]
    if l.mediaType == M.LAYER and (not types or types[t]) then
      local bytes
      bytes, err, code = place:get_blob(l, M.MAX_STATEMENT)
      if not bytes then return nil, err, code end
      if core.sha256():update(bytes):digest() ~= l.digest then
        return nil, ("attestation %s layer %d: its bytes are not %s"):format(att.digest, i, l.digest), "BADDIGEST"
      end
      local s
      s, err = json.decode(bytes, ("attestation %s layer %d"):format(att.digest, i))
      if s == nil then return nil, err, "BADDOC" end
      if not json.is_object(s) or s.predicateType ~= t then
        return nil, ("attestation %s layer %d: not an in-toto statement of %s"):format(att.digest, i, tostring(t)),
          "BADDOC"
      end
      if not about(s, image) then
        return nil, ("attestation %s layer %d: its statement is not about image %s (its subject names another): "
          .. "refused"):format(att.digest, i, image), "BADDOC"
      end
      out[#out + 1] = { type = t, desc = l, bytes = bytes, statement = s }
    end
  end
  return out
end

return M
