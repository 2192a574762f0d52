--- Pruning a store: untagged images (index.json entries with no name) and
-- signatures whose image their repository no longer has
-- (ocibuild.store.sigs), then blobs
-- no remaining entry reaches, temp files nobody writes, reuse
-- records, layer states and notes of blobs that are gone. Everything
-- reachable is found first, under both locks (no build is writing, no tag
-- moves); if any manifest or index on the way cannot be read or
-- understood, nothing at all is removed (index.json included) and the
-- error says which and why.
local doc = require "ocibuild.oci.doc"
local index = require "ocibuild.store.index"
local sigs = require "ocibuild.store.sigs"
local walk = require "ocibuild.oci.walk"

local M = {}

-- A walker marking what the entries it runs from reach (see
-- ocibuild.oci.walk): its `reached` is what must stay.
local function marker(st)
  return walk.new { read = function(d, role, where)
    local text, err, code = st:get_json(d.digest)
    if not text then
      return nil, ("%s: cannot read %s %s: %s"):format(where, role, d.digest, err), code
    end
    return doc.read_any(text, d.mediaType, ("%s: %s %s"):format(where, role, d.digest))
  end }
end

--- Takes back the blobs a failed build added (digests, in the list
-- `created`), so that the store is as it was: only when nobody else uses
-- the store (hold, the build's shared prune lock, becomes exclusive at
-- once, else `gc` removes them later) and only blobs no index entry
-- reaches. Then drops the reuse records of blobs that are gone. Returns
-- the number of blobs removed; never fails (what it cannot do, gc does).
function M.rollback(st, hold, created)
  if #created == 0 or not hold:try_exclusive() then return 0 end
  local index_lock <close> = st.core:lock("index")
  if not index_lock then return 0 end
  local idx = st:read_index()
  if not idx then return 0 end
  local mark = marker(st)
  for i, d in ipairs(idx.manifests) do
    if not mark:run(d, ("index.json manifests[%d]"):format(i)) then return 0 end
  end
  local n = 0
  for _, digest in ipairs(created) do
    if not mark.reached[digest] and st.core:remove_blob(digest) then n = n + 1 end
  end
  st.core:prune_reuse(false)
  return n
end

--- Prunes the store st. opts: {dry_run= (change nothing, say what would
-- go), all= (also every reuse record and layer state)}. Returns {images=
-- (untagged entries dropped), blobs=, bytes=, temps=, temp_bytes=,
-- records=, states=, notes=, removed={digest...}, untagged={descriptor...},
-- signatures={descriptor...} (of images gone), sizes={digest=size}}.
function M.run(st, opts)
  opts = opts or {}
  local hold <close>, err, code = st.core:lock("prune")
  if not hold then return nil, err, code end
  local index_lock <close>, err2, code2 = st.core:lock("index")
  if not index_lock then return nil, err2, code2 end
  local idx
  idx, err, code = st:read_index()
  if not idx then return nil, ("nothing removed: %s"):format(err), code end
  local kept, untagged, listed, orphans = {}, {}, {}, {}
  for _, d in ipairs(idx.manifests) do
    if index.named(d) then kept[#kept + 1] = d else untagged[#untagged + 1] = d end
  end
  -- the images first: a signature whose image none of them reaches goes
  local mark = marker(st)
  for pass = 1, 2 do
    for i, d in ipairs(idx.manifests) do
      if index.named(d) and (pass == 1) == not sigs.subject(d) and not (pass == 2 and orphans[d]) then
        local ok
        ok, err, code = mark:run(d, ("index.json manifests[%d]"):format(i))
        if not ok then return nil, ("nothing removed: %s"):format(err), code end
      end
    end
    if pass == 1 then
      -- which images of its repository reach each signature's subject
      local by = sigs.reached(kept, function(d)
        local one = marker(st)
        if not one:run(d, "") then return nil end
        local list = {}
        for dg in pairs(one.reached) do list[#list + 1] = dg end
        return list
      end)
      for _, d in ipairs(by and sigs.orphans(kept, by) or {}) do orphans[d] = true end
    end
  end
  if next(orphans) then
    local still = {}
    for _, d in ipairs(kept) do
      if not orphans[d] then still[#still + 1] = d end
    end
    kept = still
  end
  local present
  present, err, code = st.core:blobs()
  if not present then return nil, err, code end
  local dead = {}
  for digest in pairs(present) do
    if not mark.reached[digest] then dead[#dead + 1] = digest end
  end
  table.sort(dead)
  local stats = { images = 0, blobs = 0, bytes = 0, temps = 0, temp_bytes = 0, records = 0,
    removed = dead, untagged = {}, signatures = {}, sizes = present }
  for _, d in ipairs(idx.manifests) do
    if orphans[d] then stats.signatures[#stats.signatures + 1] = d end
  end
  for _, d in ipairs(untagged) do
    if not listed[d.digest] then
      listed[d.digest] = true
      stats.untagged[#stats.untagged + 1] = d
    end
  end
  stats.images = #stats.untagged
  if not opts.dry_run and (#untagged > 0 or #stats.signatures > 0) then
    idx.manifests = kept
    local ok
    ok, err, code = st:write_index(idx)
    if not ok then return nil, err, code end
  end
  for _, digest in ipairs(dead) do
    if not opts.dry_run then
      local ok
      ok, err, code = st.core:remove_blob(digest)
      if not ok and code ~= "ENOENT" then return nil, err, code end
    end
    stats.blobs = stats.blobs + 1
    stats.bytes = stats.bytes + present[digest]
  end
  local temps, temp_bytes, tcode = st.core:gc_temps(opts.dry_run or false)
  if not temps then return nil, temp_bytes, tcode end
  stats.temps, stats.temp_bytes = temps, temp_bytes
  if opts.dry_run then return stats end
  local records, states, rcode = st.core:prune_reuse(opts.all or false)
  if not records then return nil, states, rcode end
  stats.records, stats.states = records, states
  stats.notes, err, code = st.core:prune_notes()
  if not stats.notes then return nil, err, code end
  return stats
end

return M
