--- Signatures a store keeps beside the images they sign: index.json
-- entries named <repository>:sha256-<hex>.sig (bare sha256-<hex>.sig in
-- a layout; see ocibuild.attest.place.layout). They belong to the images
-- of their repository whose manifest digest their tag names, or whose
-- index holds that manifest: `images` counts them with such an image
-- instead of listing them, `rm` of the image takes them with it, and
-- `prune` drops those whose image is gone from their repository. Never
-- fails.
local index = require "ocibuild.store.index"

local M = {}

local TAG = "^sha256%-(%x+)%.sig$"

--- The manifest digest the index.json entry d signs and the repository
-- its name gives ("" for a bare tag), or nil when d is no signature entry.
function M.subject(d)
  local _, r = index.name_of(d)
  local hex = r and r.tag and r.tag:match(TAG)
  local repo = r and r.name or ""
  if not hex then
    hex, repo = tostring((d.annotations or {})[index.REF_NAME] or ""):match(TAG), ""
  end
  if hex and #hex == 64 then return "sha256:" .. hex, repo end
end

--- What the image entries among entries reach that signatures may name,
-- by repository: {[repo] = {[digest] = true}} (an entry's own digest and,
-- for an index, its manifests': reach(d) -> a list of them, or nil when
-- d cannot be read). nil when an entry could not be read (then nothing
-- may go).
function M.reached(entries, reach)
  local by = {}
  for _, d in ipairs(entries) do
    if not M.subject(d) then
      local _, r = index.name_of(d)
      local repo = r and r.name or ""
      local set = by[repo] or {}
      by[repo] = set
      set[d.digest] = true
      local below = reach(d)
      if not below then return nil end
      for _, dg in ipairs(below) do set[dg] = true end
    end
  end
  return by
end

--- The signature entries of entries whose image is gone from their
-- repository: no image of it in `kept` reaches their subject (see
-- M.reached), and, when `within` is given, one there did.
function M.orphans(entries, kept, within)
  local out = {}
  for _, d in ipairs(entries) do
    local s, repo = M.subject(d)
    if s and not (kept[repo] and kept[repo][s]) and (not within or (within[repo] and within[repo][s])) then
      out[#out + 1] = d
    end
  end
  return out
end

return M
