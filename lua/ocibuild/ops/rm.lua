--- rm: names out of the store. A name goes alone; a digest or image ID
-- takes every name of that image (`force` when it has several, or when a
-- listed index holds it). All or nothing; blobs go at the next prune.
local check = require "ocibuild.util.check"
local images = require "ocibuild.store.images"

local M = {}

--- args: names (a string or a list), force.
M.OPTIONS = { "names", "force" }

--- Removes. Returns {untagged= {familiar names}, deleted= {digests}}, or
-- nil, msg, code.
function M.run(ctx, a)
  local err, code
  local names
  names, err, code = check.list(a.names or {}, "rm names")
  if not names then return nil, err, code end
  if #names == 0 then return nil, "rm needs at least one name or digest", "USAGE" end
  local st
  st, err, code = ctx:open_store { image = names[1] }
  if not st then return nil, err, code end
  return images.remove(st, names, { force = a.force })
end

return M
