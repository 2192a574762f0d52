--- Pruning a store: blobs no index entry reaches, temp files nobody
-- writes, reuse records of blobs that are gone. Everything reachable is
-- found first, under both locks (no build is writing, no tag moves); if
-- any manifest or index on the way cannot be read or understood, nothing
-- at all is removed and the error says which and why.
local doc = require "ocibuild.oci.doc"
local media = require "ocibuild.oci.media"

local M = {}

-- Adds to `live` every blob reachable from descriptor d.
local function mark(st, d, live, where)
  if live[d.digest] then return true end
  live[d.digest] = true
  local kind = media.kind(d.mediaType)
  if kind ~= "manifest" and kind ~= "index" then return true end
  local text, err, code = st:get_json(d.digest)
  if not text then
    return nil, ("%s: cannot read %s %s: %s"):format(where, kind, d.digest, err), code
  end
  local m
  m, err, code = doc.read_any(text, d.mediaType, ("%s: %s %s"):format(where, kind, d.digest))
  if not m then return nil, err, code end
  local children = kind == "index" and m.manifests or { m.config, table.unpack(m.layers) }
  for _, c in ipairs(children) do
    local ok
    ok, err, code = mark(st, c, live, where)
    if not ok then return nil, err, code end
  end
  return true
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
  local live = {}
  for i, d in ipairs(idx.manifests) do
    if not mark(st, d, live, ("index.json manifests[%d]"):format(i)) then return 0 end
  end
  local n = 0
  for _, digest in ipairs(created) do
    if not live[digest] and st.core:remove_blob(digest) then n = n + 1 end
  end
  st.core:prune_reuse(false)
  return n
end

--- Prunes the store st. opts: {dry_run=, all= (also every reuse record)}.
-- Returns {blobs=, bytes=, temps=, records=, removed={digest...}}.
function M.run(st, opts)
  opts = opts or {}
  local hold <close>, err, code = st.core:lock("prune")
  if not hold then return nil, err, code end
  local index_lock <close>, err2, code2 = st.core:lock("index")
  if not index_lock then return nil, err2, code2 end
  local idx
  idx, err, code = st:read_index()
  if not idx then return nil, ("nothing removed: %s"):format(err), code end
  local live = {}
  for i, d in ipairs(idx.manifests) do
    local ok
    ok, err, code = mark(st, d, live, ("index.json manifests[%d]"):format(i))
    if not ok then return nil, ("nothing removed: %s"):format(err), code end
  end
  local present
  present, err, code = st.core:blobs()
  if not present then return nil, err, code end
  local dead = {}
  for digest in pairs(present) do
    if not live[digest] then dead[#dead + 1] = digest end
  end
  table.sort(dead)
  local stats = { blobs = 0, bytes = 0, temps = 0, records = 0, removed = dead }
  for _, digest in ipairs(dead) do
    if not opts.dry_run then
      local ok
      ok, err, code = st.core:remove_blob(digest)
      if not ok and code ~= "ENOENT" then return nil, err, code end
    end
    stats.blobs = stats.blobs + 1
    stats.bytes = stats.bytes + present[digest]
  end
  if opts.dry_run then return stats end
  stats.temps, err, code = st.core:gc_temps()
  if not stats.temps then return nil, err, code end
  stats.records, err, code = st.core:prune_reuse(opts.all or false)
  if not stats.records then return nil, err, code end
  return stats
end

return M
