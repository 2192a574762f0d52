--- fsck: the whole store checked without changing it
-- (ocibuild.store.fsck): every problem, the images each one breaks and
-- their repair. A store that does not exist yet has nothing wrong (and
-- is not created).
local fsck = require "ocibuild.store.fsck"

local M = {}

M.OPTIONS = {}

--- Checks. Returns the report of ocibuild.store.fsck (problems are in
-- the report, not failures), or nil, msg, code.
function M.run(ctx)
  local err, code
  local st
  st, err, code = ctx:open_store { missing = false }
  if st == false then
    return { problems = {}, breaks = {}, images = 0, blobs = 0, bytes = 0, unreferenced = 0,
      unreferenced_bytes = 0, temps = 0 }
  end
  if not st then return nil, err, code end
  local r
  r, err, code = fsck.run(st)
  if not r then return nil, err, code end
  r.store = st.dir
  return r
end

return M
