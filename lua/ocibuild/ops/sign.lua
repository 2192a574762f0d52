--- sign: cosign signatures for an image, the way cosign signs with a key
-- (ocibuild.attest.sign): a simple-signing payload naming the manifest
-- digest and the repository, signed, stored as one more layer of the
-- manifest tagged sha256-<hex>.sig beside the image. The image lives in a
-- registry, an OCI layout (oci:DIR[:TAG]) or the store
-- (ocibuild.attest.place).
local check = require "ocibuild.util.check"
local keys = require "ocibuild.attest.keys"
local options = require "ocibuild.registry.options"
local place_mod = require "ocibuild.attest.place"
local ref = require "ocibuild.oci.ref"
local sign = require "ocibuild.attest.sign"
local version = require "ocibuild.util.version"

local M = {}

--- args: ref (the image), key (the private key file), recursive (each
-- image of an index too), identity (the repository the signature names),
-- local (ref is an image of the store even when it names a registry),
-- on_signed (function(result), told of each manifest signed), and the
-- registry options.
M.OPTIONS = { "ref", "key", "recursive", "identity", "local", "on_signed", table.unpack(options.KEYS) }

--- The key load(a.key) reads and the place of the image a.ref (write:
-- one a signature goes to), for sign and verify: key, place, or nil,
-- msg, code.
function M.open(ctx, a, load, write)
  local o, err, code = ctx:registry_options(a)
  if not o then return nil, err, code end
  local key
  key, err, code = load(a.key)
  if not key then return nil, err, code end
  local place
  place, err, code = place_mod.open(a.ref, { store = function() return ctx:open_store() end, registry = o,
    write = write, ["local"] = a["local"] })
  if not place then return nil, err, code end
  return key, place
end

--- Signs. Returns the list of {digest=, where=, identity=, action=
-- ("signed" | "present")}, or nil, msg, code.
function M.run(ctx, a)
  local err, code
  if type(a.ref) ~= "string" then return nil, "sign needs an image", "BADVALUE" end
  if type(a.key) ~= "string" then return nil, "sign needs a key file", "USAGE" end
  if a.identity ~= nil and (type(a.identity) ~= "string" or not ref.parse(a.identity .. ":x")) then
    return nil, ("identity needs a repository such as host/path, got %s"):format(check.show(a.identity)), "BADVALUE"
  end
  local key, place
  key, place, code = M.open(ctx, a, keys.load_private, true)
  if not key then return nil, place, code end
  local r
  r, err, code = sign.run(place, key, { identity = a.identity, recursive = a.recursive,
    creator = "ocibuild " .. version, on_signed = a.on_signed })
  place:close()
  if not r then return nil, err, code end
  return r
end

return M
