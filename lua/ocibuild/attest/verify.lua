--- Verifying an image's cosign signatures where it lives (see
-- ocibuild.attest.place): every signature layer found beside the
-- manifest is checked (its signature over the payload's exact bytes with
-- the public key, then the payload as containers/image reads it, then
-- that it names exactly this manifest digest); one that passes is enough.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local simplesign = require "ocibuild.attest.simplesign"

local M = {}

-- Why layer l (of a signature manifest) does not verify, or nil and its
-- claims when it does.
local function check(place, l, digest, key, opts)
  if l.mediaType ~= simplesign.MEDIA_TYPE then return ("not a signature (%s)"):format(l.mediaType) end
  local b64 = (l.annotations or {})[simplesign.ANNOTATION]
  if not b64 then return ("no %s annotation"):format(simplesign.ANNOTATION) end
  local sig, err = core.base64_decode(b64)
  if not sig then return "the signature annotation is damaged: " .. err end
  local payload
  payload, err = place:get_blob(l, simplesign.MAX_PAYLOAD)
  if not payload then return "its payload cannot be read: " .. err end
  if not key:verify(payload, sig) then return "the signature does not verify with this key" end
  local claims
  claims, err = simplesign.read_payload(payload)
  if not claims then return err end
  if claims.digest ~= digest then return ("the payload signs %s, not this image"):format(claims.digest) end
  if opts.identity and claims.identity ~= opts.identity then
    return ("the payload names repository %s, not %s"):format(claims.identity, opts.identity)
  end
  return false, claims
end

--- Verifies the signatures of the image of place with key (a public core
-- key). opts: {identity= (required critical.identity.docker-reference),
-- key_name= (for messages)}. Returns {digest=, where=, claims=, layer=
-- (its position), manifest= (the signature manifest's name), checked=
-- (signatures looked at), refused={ "why" }}, or nil, msg, code:
-- NOSIG (no signature there), BADSIG (none verifies).
function M.run(place, key, opts)
  opts = opts or {}
  local digest = place.desc.digest
  local where = place:where(digest)
  local sigs, err, code = place:signatures(digest)
  if not sigs then return nil, err, code end
  local checked, refused, found = 0, {}, nil
  local function check_all(list, named)
    for _, s in ipairs(list) do
      for i, l in ipairs(s.manifest.layers) do
        checked = checked + 1
        local why, claims = check(place, l, digest, key, opts)
        if why then
          refused[#refused + 1] = ("%slayer %d: %s"):format(named and s.name .. " " or "", i, why)
        elseif not found then
          found = { digest = digest, where = where, claims = claims, layer = i, manifest = s.name, payload = l.digest }
        end
      end
    end
  end
  check_all(sigs, false)
  -- none there: the signers' own tags (a registry's), which a signer
  -- writes first
  if not found and place.own_signatures then
    local own
    own, err, code = place:own_signatures(digest, sigs)
    if not own and #refused == 0 then return nil, err, code end
    if own and #own > 0 then
      for i, r in ipairs(refused) do refused[i] = sigs[1].name .. " " .. r end
      check_all(own, true)
      for _, s in ipairs(own) do sigs[#sigs + 1] = s end
    end
  end
  if found then
    found.checked, found.refused = checked, refused
    return found
  end
  if #sigs == 0 then
    return nil, ("%s has no signatures (no %s)"):format(where, simplesign.tag(digest)), "NOSIG"
  end
  return nil, ("no signature of %s verifies with %s: %s"):format(where, opts.key_name or "the key",
    #refused > 0 and table.concat(refused, "; ") or "the signature manifest has no layers"), "BADSIG"
end

return M
