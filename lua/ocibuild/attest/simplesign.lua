--- cosign's tag-based signatures ("simple signing"), as cosign, skopeo and
-- podman read them: the payload a signature covers (which manifest digest,
-- under which repository), read back with the rules containers/image
-- applies; the signature layer (payload blob, base64 DER signature in an
-- annotation); and the `sha256-<hex>.sig` manifest holding one layer per
-- signature, with a config listing them. Functions return nil, msg, code
-- on failure.
local core = require "ocibuild.core"
local digest_mod = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"

local M = {}

M.MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
M.ANNOTATION = "dev.cosignproject.cosign/signature"
M.TYPE = "cosign container image signature"
-- containers/image reads attachments up to 4 MiB; a payload is a few
-- hundred bytes.
M.MAX_PAYLOAD = 4 << 20

--- The tag of the signatures of the manifest `digest`: sha256-<hex>.sig.
function M.tag(digest)
  return (digest:gsub(":", "-", 1)) .. ".sig"
end

--- The tag under which a signer also writes its signature layer l alone,
-- which no other signer overwrites: sha256-<hex>.sig.<the first 20 hex
-- digits of the SHA-256 of l's signature annotation>.
function M.own_tag(digest, l)
  local sig = (l.annotations or {})[M.ANNOTATION] or ""
  return M.tag(digest) .. "." .. core.sha256():update(sig):digest():sub(8, 27)
end

--- The payload bytes signing the manifest `digest` as an image of the
-- repository `identity` ("host/path"); optional: a table of strings or
-- nil (JSON null).
function M.payload(identity, digest, optional)
  return json.encode(json.object {
    critical = json.object {
      identity = json.object { ["docker-reference"] = identity },
      image = json.object { ["docker-manifest-digest"] = digest },
      type = M.TYPE,
    },
    optional = optional and json.object(optional) or json.null,
  })
end

local function bad(why) return nil, "payload " .. why, "BADPAYLOAD" end

-- Object t has exactly the keys of `want` (a list).
local function exactly(t, want, where)
  if not json.is_object(t) then return bad(where .. " is not an object") end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for _, k in ipairs(want) do
    if t[k] == nil then return bad(("%s has no %q"):format(where, k)) end
  end
  if n ~= #want then return bad(("%s must have exactly %s"):format(where, table.concat(want, ", "))) end
  return true
end

local function check_optional(o)
  if o == json.null then return true end
  if not json.is_object(o) then return bad("optional must be an object or null") end
  if o.creator ~= nil and type(o.creator) ~= "string" then return bad("optional.creator must be a string") end
  if o.timestamp ~= nil and math.type(o.timestamp) ~= "integer" then
    return bad("optional.timestamp must be an integer")
  end
  return true
end

--- Reads a payload as containers/image does: strict JSON, exactly
-- critical and optional at the top, critical exactly identity, image and
-- type, each exactly its one field; optional null or an object. Returns
-- the claims {identity=, digest=, type=, optional=}, or nil, msg,
-- "BADPAYLOAD".
function M.read_payload(bytes)
  local p, err = json.decode(bytes, "payload")
  if p == nil then return nil, err, "BADPAYLOAD" end
  local ok, why = exactly(p, { "critical", "optional" }, "top level")
  if ok then ok, why = exactly(p.critical, { "identity", "image", "type" }, "critical") end
  if ok then ok, why = exactly(p.critical.identity, { "docker-reference" }, "critical.identity") end
  if ok then ok, why = exactly(p.critical.image, { "docker-manifest-digest" }, "critical.image") end
  if ok then ok, why = check_optional(p.optional) end
  if not ok then return nil, why, "BADPAYLOAD" end
  local c = p.critical
  if c.type ~= M.TYPE then return bad(("critical.type is %q, not %q"):format(tostring(c.type), M.TYPE)) end
  local dg, ref = c.image["docker-manifest-digest"], c.identity["docker-reference"]
  if type(ref) ~= "string" then return bad("critical.identity.docker-reference must be a string") end
  if not digest_mod.valid(dg) then return bad("critical.image.docker-manifest-digest is not a sha256 digest") end
  return { identity = ref, digest = dg, type = c.type, optional = p.optional }
end

--- The layer descriptor of one signature: the payload's blob, with the
-- base64 of the DER signature sig in its annotation.
function M.layer(payload, sig)
  local dg, size = core.sha256():update(payload):digest()
  return doc.descriptor(M.MEDIA_TYPE, dg, size,
    { annotations = json.object { [M.ANNOTATION] = core.base64_encode(sig) } })
end

--- The signature manifest listing layers (descriptors) and its config:
-- returns the manifest bytes, the config bytes and the config's
-- descriptor. The config lists the layers' digests as diff_ids, as
-- containers/image writes it.
function M.manifest(layers)
  local ids = json.array {}
  for i, l in ipairs(layers) do ids[i] = l.digest end
  local config = json.encode(json.object { architecture = "", os = "", config = json.object {},
    rootfs = json.object { type = "layers", diff_ids = ids } })
  local cdesc = doc.descriptor(media.CONFIG, core.sha256():update(config):digest(), #config)
  return doc.encode(doc.manifest(cdesc, json.array(layers))), config, cdesc
end

--- Reads a signature manifest (bytes): an OCI image manifest, strictly.
-- Returns it, or nil, msg, code.
function M.read_manifest(text, where)
  local m, err, code = doc.read_manifest(text, where)
  if not m then return nil, err, code end
  if m.mediaType ~= media.MANIFEST then
    return nil, ("%s is not an OCI image manifest (%s)"):format(where, tostring(m.mediaType)), "BADDOC"
  end
  return m
end

--- true when layer l is the one descriptor d (same blob, same signature).
function M.same(l, d)
  local a, b = l.annotations or {}, d.annotations or {}
  return l.mediaType == d.mediaType and l.digest == d.digest and l.size == d.size
    and a[M.ANNOTATION] == b[M.ANNOTATION]
end

return M
