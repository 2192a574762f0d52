--- DSSE envelopes (secure-systems-lab/dsse, v1): a payload and its type,
-- signed through the pre-authentication encoding
--   PAE = "DSSEv1" SP len(type) SP type SP len(payload) SP payload
-- (lengths in ASCII decimal), the signatures base64 in the envelope.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local json = require "ocibuild.oci.json"

local M = {}

--- The bytes a DSSE signature covers.
function M.pae(payload_type, payload)
  return ("DSSEv1 %d %s %d %s"):format(#payload_type, payload_type, #payload, payload)
end

--- The envelope of payload (bytes) of payload_type, signed with key (a
-- private core key); keyid is optional.
function M.envelope(payload_type, payload, key, keyid)
  local sig, err, code = key:sign(M.pae(payload_type, payload))
  if not sig then return nil, err, code end
  local s = json.object { sig = core.base64_encode(sig) }
  if keyid then s.keyid = keyid end
  return json.object { payload = core.base64_encode(payload), payloadType = payload_type,
    signatures = json.array { s } }
end

local function bad(why) return nil, "DSSE envelope " .. why, "BADSIG" end

--- Checks an envelope (decoded JSON) with key (a public core key): one of
-- its signatures must verify. Returns the payload bytes and its type.
function M.verify(env, key)
  if not json.is_object(env) or type(env.payload) ~= "string" or type(env.payloadType) ~= "string" then
    return bad("needs payload and payloadType strings")
  end
  if not json.is_array(env.signatures) or #env.signatures == 0 then return bad("has no signatures") end
  local payload, err = core.base64_decode(env.payload)
  if not payload then return bad("payload: " .. err) end
  local pae = M.pae(env.payloadType, payload)
  for _, s in ipairs(env.signatures) do
    local sig = json.is_object(s) and type(s.sig) == "string" and core.base64_decode(s.sig)
    if sig and key:verify(pae, sig) then return payload, env.payloadType end
  end
  return bad("has no signature that verifies with this key")
end

return M
