--- prune: what no name reaches, out of the store (ocibuild.store.prune):
-- untagged images, then unreached blobs, abandoned temp files, and the
-- reuse records and layer states of blobs that are gone. With `verify`,
-- the whole store is checked first (ocibuild.store.fsck) and nothing is
-- removed when a problem is found. A store that does not exist yet has
-- nothing to remove (and is not created).
local fsck = require "ocibuild.store.fsck"

local M = {}

--- args: dry_run (remove nothing, say what would go), all (also every
-- reuse record), verify.
M.OPTIONS = { "dry_run", "all", "verify" }

local NOTHING = { images = 0, blobs = 0, bytes = 0, temps = 0, temp_bytes = 0, records = 0, states = 0,
  notes = 0, removed = {}, untagged = {}, sizes = {} }

local function plural(n, what) return ("%d %s%s"):format(n, what, n == 1 and "" or "s") end

--- Prunes. Returns the counts of ocibuild.store.prune (and report= the
-- check's, with `verify`), or nil, msg, code; a problem found by
-- `verify` fails with "nothing removed: N problems found in DIR", code
-- BROKEN, and the report as a fourth value.
function M.run(ctx, a)
  local err, code
  local st
  st, err, code = ctx:open_store { missing = false }
  if st == false then
    local r = {}
    for k, v in pairs(NOTHING) do r[k] = v end
    return r
  end
  if not st then return nil, err, code end
  local report
  if a.verify then
    report, err, code = fsck.run(st)
    if not report then return nil, err, code end
    if #report.problems > 0 then
      return nil, ("nothing removed: %s found in %s"):format(plural(#report.problems, "problem"), st.dir), "BROKEN",
        report
    end
  end
  local stats
  stats, err, code = st:prune { dry_run = a.dry_run, all = a.all }
  if not stats then return nil, err, code end
  stats.report = report
  return stats
end

return M
