--- Where an image to sign or verify lives:
--   oci:DIR[:TAG]   an OCI layout (its only image when TAG is left out)
--   docker://REF    a registry
--   a reference naming its registry (HOST/NAME:TAG, HOST/NAME@DIGEST)
--                   that registry, as cosign reads it, unless opts.local
--   anything else   the store (a name, a digest, an ID prefix)
-- A place has kind ("registry", "store", "layout"), name, desc (the
-- image's descriptor), identity (its repository, "host/path", or nil) and
-- where(digest), get_json(desc), get_blob(desc, max), signatures(digest)
-- (the signature manifests found: { {desc=, text=, manifest=, name=} }),
-- append(digest, build) (see ocibuild.attest.place.registry) and close().
-- Functions return nil, msg, code on failure.
local layout = require "ocibuild.attest.place.layout"
local ref = require "ocibuild.oci.ref"
local registry_place = require "ocibuild.attest.place.registry"

local M = {}

--- The place reference names. opts: {store= (a function opening the
-- store: ocibuild.ops.context's open_store), local= (the
-- store even for a reference naming a registry), registry= (the registry
-- client's options), write= (true: it will be written)}.
function M.open(reference, opts)
  opts = opts or {}
  if reference:sub(1, 4) == "oci:" then
    local rest = reference:sub(5)
    local dir, tag = rest:match("^([^:]*):(.*)$")
    dir = dir or rest
    if dir == "" then return nil, "oci: needs a folder, as oci:DIR[:TAG]", "BADREF" end
    return layout.open { layout = dir, tag = tag ~= "" and tag or nil, write = opts.write }
  end
  if reference:sub(1, 9) == "docker://" then return registry_place.open(reference:sub(10), opts) end
  if ref.names_registry(reference) and not opts["local"] then return registry_place.open(reference, opts) end
  return layout.open { store = opts.store, image = reference }
end

return M
