--- tag: more names for an image of the store. The source is a name, a
-- digest, NAME@DIGEST or an ID prefix; a name that names another image
-- moves. The lookup and the change happen under the index lock.
local check = require "ocibuild.util.check"
local images = require "ocibuild.store.images"

local M = {}

--- args: src (the image), names (the new names: a string or a list).
M.OPTIONS = { "src", "names" }

--- Tags. Returns {desc= (the image tagged), refs= (the names, parsed)},
-- or nil, msg, code.
function M.run(ctx, a)
  local err, code
  if type(a.src) ~= "string" then return nil, "tag needs an image name, digest or ID", "BADVALUE" end
  local names
  names, err, code = check.list(a.names or {}, "tag names")
  if not names then return nil, err, code end
  if #names == 0 then return nil, "tag needs an image and at least one new name", "USAGE" end
  local st
  st, err, code = ctx:open_store { image = a.src }
  if not st then return nil, err, code end
  local desc, refs
  desc, refs, code = images.tag(st, a.src, names)
  if not desc then return nil, refs, code end
  return { desc = desc, refs = refs }
end

--- What the API returns: the manifest digest tagged.
function M.api_result(r)
  return r.desc.digest
end

return M
