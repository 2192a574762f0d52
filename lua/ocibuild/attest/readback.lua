--- The attestations of an image read back where it lives (the store, an
-- OCI layout, a registry: ocibuild.attest.place): for each platform image
-- of its index, the statements of its attestation manifest of the kind
-- asked ("sbom": SPDX or CycloneDX, "provenance": SLSA), the manifest's
-- signature checked first when a public key is given. What `ocibuild
-- sbom REF` and `ocibuild provenance REF` print. Functions return nil,
-- msg, code on failure: NOATTEST when the image has none of that kind.
local attach = require "ocibuild.attest.attach"

local M = {}

M.KINDS = {
  sbom = { ["https://spdx.dev/Document"] = true, ["https://cyclonedx.org/bom"] = true },
  provenance = { ["https://slsa.dev/provenance/v1"] = true },
}

local WHAT = { sbom = "an SBOM (build with --sbom)", provenance = "provenance (build with --provenance)" }

-- Checks the signature of the attestation manifest att at place.
local function verified(place, att, key, key_name)
  local desc = place.desc
  place.desc = att
  local ok, err, code = require("ocibuild.attest.verify").run(place, key, { key_name = key_name })
  place.desc = desc
  if not ok then return nil, ("attestation manifest %s: %s"):format(att.digest, err), code end
  return true
end

--- The attestations of kind ("sbom" or "provenance") of the image
-- reference names. opts: {store= (a function opening the store, see
-- ocibuild.attest.place), registry= (the client's options),
-- ["local"]= (the store even for a name with a registry), platform=
-- (parsed: only that platform's image), key= (a public core key: each
-- attestation manifest read must carry a signature that verifies),
-- key_name=}. Returns a list of {platform=, image= (digest),
-- attestation= (digest), type= (predicate type), statement= (decoded),
-- bytes= (the statement as stored)}.
function M.read(reference, kind, opts)
  opts = opts or {}
  local place, err, code = require("ocibuild.attest.place").open(reference, { store = opts.store,
    registry = opts.registry, ["local"] = opts["local"] })
  if not place then return nil, err, code end
  local list
  list, err, code = attach.list(place, place.desc, opts.platform)
  local out = {}
  for _, e in ipairs(list or {}) do
    if e.attestation then
      local ok = true
      if opts.key then ok, err, code = verified(place, e.attestation, opts.key, opts.key_name) end
      local ss
      if ok then ss, err, code = attach.statements(place, e.attestation, M.KINDS[kind], e.image.digest) end
      if not ss then
        list = nil
        break
      end
      for _, s in ipairs(ss) do
        out[#out + 1] = { platform = e.platform, image = e.image.digest, attestation = e.attestation.digest,
          type = s.type, statement = s.statement, bytes = s.bytes }
      end
    end
  end
  place:close()
  if not list then return nil, err, code end
  if #out == 0 then
    return nil, ("%s has no attestation with %s"):format(reference, WHAT[kind]), "NOATTEST"
  end
  return out
end

return M
