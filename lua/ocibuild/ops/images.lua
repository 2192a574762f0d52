--- images: the images of the store, one entry per manifest or index
-- index.json lists (ocibuild.store.images.list), with its names, image
-- ID, platforms, size and creation time; an image whose blobs cannot be
-- read is listed with what is known and its `error`. A store that does not
-- exist yet lists nothing (and is not created).
local images = require "ocibuild.store.images"

local M = {}

--- args: repo (only the images named in that repository, and tag when
-- it gives one).
M.OPTIONS = { "repo" }

--- Lists. Returns a list of {digest=, desc=, refs= (parsed names),
-- info= | error=}, or nil, msg, code.
function M.run(ctx, a)
  local err, code
  if a.repo ~= nil and type(a.repo) ~= "string" then return nil, "images: repo must be a name", "BADVALUE" end
  local st
  st, err, code = ctx:open_store { missing = false }
  if st == false then return {} end
  if not st then return nil, err, code end
  return images.list(st, { repo = a.repo })
end

--- What the API returns: each image as one JSON object
-- (ocibuild.store.images.object).
function M.api_result(list)
  local out = {}
  for i, im in ipairs(list) do out[i] = images.object(im) end
  return out
end

return M
