--- sbom: the SBOMs attached to an image, read back where it lives (the
-- store, an OCI layout, a registry: ocibuild.attest.readback), one per
-- platform image, the attestation manifest's signature checked first when
-- a public key is given. The provenance verb (ocibuild.ops.provenance)
-- is this one for another kind of statement.
local check = require "ocibuild.util.check"
local keys = require "ocibuild.attest.keys"
local options = require "ocibuild.registry.options"
local platform = require "ocibuild.oci.platform"
local readback = require "ocibuild.attest.readback"

local M = {}

--- args: ref (the image), platform (only that platform image's), key (a
-- public key file: each attestation manifest read must carry a signature
-- that verifies with it), local (ref is an image of the store even when it
-- names a registry), and the registry options.
M.OPTIONS = { "ref", "platform", "key", "local", table.unpack(options.KEYS) }

--- The statements of `kind` ("sbom" or "provenance") for args. Returns
-- the list of ocibuild.attest.readback.read, or nil, msg, code
-- (NOATTEST: the image has none).
function M.read(ctx, a, kind)
  local err, code
  if type(a.ref) ~= "string" then return nil, kind .. " needs an image", "BADVALUE" end
  local want
  if a.platform ~= nil then
    if type(a.platform) ~= "string" then
      return nil, ("%s: platform must be \"os/arch[/variant]\", got %s"):format(kind, check.show(a.platform)),
        "BADVALUE"
    end
    want, err, code = platform.parse(a.platform)
    if not want then return nil, err, code or "BADPLATFORM" end
  end
  local o
  o, err, code = ctx:registry_options(a)
  if not o then return nil, err, code end
  local key
  if a.key ~= nil then
    if type(a.key) ~= "string" then return nil, kind .. ": key must be a public key file", "BADVALUE" end
    key, err, code = keys.load_public(a.key)
    if not key then return nil, err, code end
  end
  return readback.read(a.ref, kind, { store = function() return ctx:open_store() end, registry = o,
    ["local"] = a["local"], platform = want, key = key, key_name = a.key })
end

--- Reads the SBOMs. Returns a list of {platform=, image=, attestation=,
-- type= (the predicate type), statement= (decoded), bytes= (as stored)}.
function M.run(ctx, a)
  return M.read(ctx, a, "sbom")
end

return M
