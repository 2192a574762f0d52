--- Signing an image where it lives (see ocibuild.attest.place): one
-- cosign simple-signing signature for its manifest digest, appended to
-- the signature manifest beside it (the others kept), and with recursive,
-- one for each image of an index too (policy checks run per platform
-- image). Signing again with the same key and claims finds the signature
-- there and adds nothing. Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local simplesign = require "ocibuild.attest.simplesign"

local M = {}

-- BuildKit's attestation manifests are no images to run: not signed.
local REF_TYPE = "vnd.docker.reference.type"

-- The digests to sign: desc's, and with recursive, its children's (with
-- attestations, the attestation manifests too).
local function targets(place, desc, recursive, out, depth, attestations)
  out[#out + 1] = desc
  if not recursive or media.kind(desc.mediaType) ~= "index" then return out end
  if depth > 4 then return nil, ("%s: indexes nested too deep"):format(desc.digest), "BADDOC" end
  local text, err, code = place:get_json(desc)
  if not text then return nil, err, code end
  local idx
  idx, err, code = doc.read_index(text, "index " .. desc.digest)
  if not idx then return nil, err, code end
  for _, d in ipairs(idx.manifests) do
    local kind = media.kind(d.mediaType)
    if (kind == "manifest" or kind == "index")
        and (attestations or (d.annotations or {})[REF_TYPE] ~= "attestation-manifest") then
      local ok
      ok, err, code = targets(place, d, true, out, depth + 1, attestations)
      if not ok then return nil, err, code end
    end
  end
  return out
end

-- true when one of layers is this payload signed by key already.
local function present(layers, payload_digest, payload, key)
  for _, l in ipairs(layers) do
    local sig = l.mediaType == simplesign.MEDIA_TYPE and l.digest == payload_digest
      and core.base64_decode((l.annotations or {})[simplesign.ANNOTATION] or "")
    if sig and key:verify(payload, sig) then return true end
  end
  return false
end

-- The plan (see place.append) adding the signature layer `mine`.
local function planner(key, payload, mine)
  return function(m)
    local layers = json.array {}
    for i, l in ipairs(m and m.layers or {}) do layers[i] = l end
    if present(layers, mine.digest, payload, key) then return nil end
    layers[#layers + 1] = mine
    local text, config, cdesc = simplesign.manifest(layers)
    return {
      blobs = { { desc = mine, bytes = payload }, { desc = cdesc, bytes = config } },
      layer = mine,
      text = text,
      desc = doc.descriptor(media.MANIFEST, core.sha256():update(text):digest(), #text),
      kept = function(now)
        for _, l in ipairs(now.layers) do
          if simplesign.same(l, mine) or present({ l }, mine.digest, payload, key) then return true end
        end
        return false
      end,
    }
  end
end

--- Signs the image of place with key (a private core key). opts:
-- {identity= (the repository the signature names, default the place's),
-- recursive=, attestations= (with recursive: the attestation manifests
-- too), creator= (optional.creator, e.g. "ocibuild 0.1.0"), fresh= (the
-- image was put where it is by this process just now: see
-- ocibuild.attest.place.registry), on_signed=fn(result) (called after
-- each)}. Returns the list of results {digest=, where=, identity=,
-- action= ("signed" | "present")}.
function M.run(place, key, opts)
  opts = opts or {}
  local identity = opts.identity or place.identity
  if not identity then
    return nil, ("%s does not say which repository it belongs to: give --identity HOST/PATH"):format(place.name),
      "EINVAL"
  end
  place.identity = identity
  local list, err, code = targets(place, place.desc, opts.recursive, {}, 0, opts.attestations)
  if not list then return nil, err, code end
  local plans = {}
  for i, d in ipairs(list) do
    local payload = simplesign.payload(identity, d.digest, opts.creator and { creator = opts.creator })
    local sig
    sig, err, code = key:sign(payload)
    if not sig then return nil, err, code end
    plans[i] = planner(key, payload, simplesign.layer(payload, sig))
  end
  -- each signature manifest is a tag of its own: a registry writes them
  -- side by side
  local hows = {}
  local function one(i)
    local how, aerr, acode = place:append(list[i].digest, plans[i], { fresh = opts.fresh })
    if not how then return nil, aerr, acode end
    hows[i] = how
    return true
  end
  local ok = true
  if place.parallel and #list > 1 then
    local tasks = {}
    for i = 1, #list do tasks[i] = function() return one(i) end end
    ok, err, code = place:parallel(tasks)
  else
    for i = 1, #list do
      ok, err, code = one(i)
      if not ok then break end
    end
  end
  if not ok then return nil, err, code end
  local out = {}
  for i, d in ipairs(list) do
    out[i] = { digest = d.digest, where = place:where(d.digest), identity = identity, action = hows[i] }
    if opts.on_signed then opts.on_signed(out[i]) end
  end
  return out
end

return M
