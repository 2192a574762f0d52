--- verify: an image's cosign signatures checked with a public key
-- (ocibuild.attest.verify): each signature over its payload's exact
-- bytes, the payload as skopeo and podman read it, the manifest digest it
-- names. The image is found as for sign (ocibuild.attest.place).
local keys = require "ocibuild.attest.keys"
local options = require "ocibuild.registry.options"
local sign = require "ocibuild.ops.sign"
local verify = require "ocibuild.attest.verify"

local M = {}

--- args: ref (the image), key (the public key file), identity (the
-- repository the signature must name), local, and the registry options.
M.OPTIONS = { "ref", "key", "identity", "local", table.unpack(options.KEYS) }

--- Verifies. Returns what ocibuild.attest.verify.run returns, with key=
-- (the core key, for its id), or nil, msg, code (NOSIG, BADSIG).
function M.run(ctx, a)
  local err, code
  if type(a.ref) ~= "string" then return nil, "verify needs an image", "BADVALUE" end
  if type(a.key) ~= "string" then return nil, "verify needs a public key file", "USAGE" end
  local key, place
  key, place, code = sign.open(ctx, a, keys.load_public, false)
  if not key then return nil, place, code end
  local r
  r, err, code = verify.run(place, key, { identity = a.identity, key_name = a.key })
  place:close()
  if not r then return nil, err, code end
  r.key = key
  return r
end

return M
