--- diff: why two images of the store differ (ocibuild.store.diff):
-- manifest and config fields, the layer count, and per layer the entries
-- added, removed or changed. Each image is named as for every verb of the
-- store (a name, a digest, NAME@DIGEST, an ID or digest prefix); an index
-- must be narrowed to one platform's manifest.
local check = require "ocibuild.util.check"
local imagediff = require "ocibuild.store.diff"
local images = require "ocibuild.store.images"
local media = require "ocibuild.oci.media"

local M = {}

--- args: a, b (the two images).
M.OPTIONS = { "a", "b" }

local function manifest(st, s)
  local t, err, code = images.find(st, s)
  if not t then return nil, err, code end
  if media.kind(t.desc.mediaType) ~= "manifest" then
    return nil, ("%s is an image index: name one platform's manifest by its digest"):format(check.show(s)), "BADDOC"
  end
  return t.desc
end

--- Compares. Returns the comparison of ocibuild.store.diff.compare with
-- a= and b= (the manifest descriptors), or nil, msg, code.
function M.run(ctx, a)
  local err, code
  if type(a.a) ~= "string" or type(a.b) ~= "string" then return nil, "diff needs two images", "BADVALUE" end
  local st
  st, err, code = ctx:open_store { image = a.a }
  if not st then return nil, err, code end
  local da, db
  da, err, code = manifest(st, a.a)
  if not da then return nil, err, code end
  db, err, code = manifest(st, a.b)
  if not db then return nil, err, code end
  local r
  r, err, code = imagediff.compare(st, da, db)
  if not r then return nil, err, code end
  r.a, r.b = da, db
  return r
end

return M
