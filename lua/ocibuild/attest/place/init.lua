--- Where an image to sign or verify lives, as ocibuild.locate
-- reads it:
--   oci:DIR[:TAG]   an OCI layout (its only image when TAG is left out)
--   docker://REF    a registry
--   a reference naming its registry (HOST/NAME:TAG, HOST/NAME@DIGEST)
--                   that registry, as cosign reads it, unless opts.local
--   anything else   the store (a name, a digest, an ID prefix)
-- An archive has no place for signatures: it is refused.
-- A place has kind ("registry", "store", "layout"), name, desc (the
-- image's descriptor), identity (its repository, "host/path", or nil) and
-- where(digest), get_json(desc), get_blob(desc, max), signatures(digest)
-- (the signature manifests found: { {desc=, text=, manifest=, name=} }),
-- append(digest, build) (see ocibuild.attest.place.registry) and close().
-- Functions return nil, msg, code on failure.
local layout = require "ocibuild.attest.place.layout"
local locate = require "ocibuild.locate"
local registry_place = require "ocibuild.attest.place.registry"

local M = {}

--- The place reference names. opts: {store= (a function opening the
-- store: ocibuild.ops.context's open_store), local= (the
-- store even for a reference naming a registry), registry= (the registry
-- client's options), write= (true: it will be written)}.
function M.open(reference, opts)
  opts = opts or {}
  local loc, err, code = locate.parse(reference, { bare = opts["local"] and "store" or "auto" })
  if not loc then return nil, err, code end
  if loc.kind == "oci" then return layout.open { layout = loc.path, tag = loc.tag, write = opts.write } end
  if loc.kind == "registry" then return registry_place.open(loc.ref, opts) end
  if loc.kind == "store" then return layout.open { store = opts.store, image = loc.name } end
  return nil, ("%s: an archive holds no signatures: sign and verify an image in the store, a layout or a registry")
    :format(reference), "BADREF"
end

return M
