--- Signatures a store keeps beside the images they sign: index.json
-- entries named <repository>:sha256-<hex>.sig (bare sha256-<hex>.sig in
-- a layout; see ocibuild.attest.place.layout). They belong to the image
-- whose manifest digest their tag names, or to the index holding that
-- manifest: `images` counts them with it instead of listing them, `rm` of
-- the image takes them with it, and `prune` drops those whose image is
-- gone. Never fails.
local index = require "ocibuild.store.index"

local M = {}

local TAG = "^sha256%-(%x+)%.sig$"

--- The manifest digest the index.json entry d signs, or nil when d is no
-- signature entry.
function M.subject(d)
  local _, r = index.name_of(d)
  local hex = r and r.tag and r.tag:match(TAG)
  if not hex then hex = tostring((d.annotations or {})[index.REF_NAME] or ""):match(TAG) end
  if hex and #hex == 64 then return "sha256:" .. hex end
end

--- The digests each entry of entries reaches that signatures may name:
-- its own and, for an index, its manifests' (reach(d) -> a list of
-- manifest digests below d, or nil when d cannot be read). Returns a
-- set; nil when an entry could not be read (then nothing may go).
function M.reached(entries, reach)
  local set = {}
  for _, d in ipairs(entries) do
    if not M.subject(d) then
      set[d.digest] = true
      local below = reach(d)
      if not below then return nil end
      for _, dg in ipairs(below) do set[dg] = true end
    end
  end
  return set
end

--- The signature entries of entries whose image is gone: their subject
-- is not in `kept` (digests the remaining images reach), and, when
-- `within` is given, is in it (digests the images just removed reached).
function M.orphans(entries, kept, within)
  local out = {}
  for _, d in ipairs(entries) do
    local s = M.subject(d)
    if s and not kept[s] and (not within or within[s]) then out[#out + 1] = d end
  end
  return out
end

return M
