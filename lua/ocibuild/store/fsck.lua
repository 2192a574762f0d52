--- Checking a whole store: oci-layout, index.json read strictly, every
-- blob each entry reaches present with the size its descriptor gives and
-- the bytes its digest names, every manifest, index and config parsed
-- strictly, and every other blob in blobs/sha256 hashed too. Nothing is
-- changed; each problem is one line naming where it was found (the entry
-- and its name), the blob's path, and what is wrong (expected and actual
-- digest for a corrupt blob).
local doc = require "ocibuild.oci.doc"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"

local M = {}

local function check_layout(st, problems)
  local text, err = st.core:read("oci-layout", 4096)
  if not text then
    problems[#problems + 1] = ("oci-layout: %s"):format(err)
    return
  end
  local v
  v, err = json.decode(text, st.dir .. "/oci-layout")
  if v == nil then
    problems[#problems + 1] = err
  elseif not json.is_object(v) or v.imageLayoutVersion ~= "1.0.0" then
    problems[#problems + 1] = ("%s/oci-layout: imageLayoutVersion is not \"1.0.0\" (umoci, containerd and oci-image-tool need it)")
      :format(st.dir)
  end
end

-- Checks descriptor d and what it reaches; each blob once (memo).
local function walk(st, d, where, memo, problems, depth)
  if memo[d.digest] ~= nil then return end
  memo[d.digest] = true
  local kind = media.kind(d.mediaType)
  local function bad(msg)
    memo[d.digest] = false
    problems[#problems + 1] = ("%s: %s %s: %s"):format(where, kind or "blob", d.digest, msg)
  end
  if kind ~= "manifest" and kind ~= "index" and kind ~= "config" then
    local ok, err = st:verify_blob(d.digest, d.size)
    if not ok then bad(err) end
    return
  end
  local text, err = st:get_json(d.digest)
  if not text then return bad(err) end
  if #text ~= d.size then
    return bad(("%d bytes, its descriptor says %d: %s"):format(#text, d.size, st:blob_path(d.digest)))
  end
  local what = ("%s: %s %s"):format(where, kind, d.digest)
  if kind == "config" then
    local c
    c, err = doc.read_config(text, what)
    if not c then
      memo[d.digest] = false
      problems[#problems + 1] = err
    end
    return c
  end
  local m
  m, err = doc.read_any(text, d.mediaType, what)
  if not m then
    memo[d.digest] = false
    problems[#problems + 1] = err
    return
  end
  if kind == "index" then
    if depth > 8 then return bad("indexes nested too deep") end
    for _, child in ipairs(m.manifests) do walk(st, child, where, memo, problems, depth + 1) end
    return
  end
  local c = walk(st, m.config, where, memo, problems, depth + 1)
  for _, l in ipairs(m.layers) do walk(st, l, where, memo, problems, depth + 1) end
  if c and #c.rootfs.diff_ids ~= #m.layers then
    problems[#problems + 1] = ("%s: manifest %s has %d layers, its config %s lists %d diff_ids"):format(where,
      d.digest, #m.layers, m.config.digest, #c.rootfs.diff_ids)
  end
end

--- Checks the store st. Returns {problems={lines}, images= (distinct
-- manifests and indexes index.json lists),
-- blobs=, bytes= (every blob present), unreferenced=,
-- unreferenced_bytes=, temps= (temp files nobody holds)}; the store's
-- own failures to be read are problems too, never a nil return, except
-- when the store cannot be locked for a reason other than permissions.
function M.run(st)
  -- held against prune (so that nothing vanishes mid-check), unless the
  -- store is not ours to lock: checking it still reads it safely
  local hold <close>, err, code = st:use()
  if not hold and code ~= "EACCES" and code ~= "EROFS" then return nil, err, code end
  local report = { problems = {}, images = 0, blobs = 0, bytes = 0, unreferenced = 0, unreferenced_bytes = 0,
    temps = 0 }
  local problems = report.problems
  check_layout(st, problems)
  local memo = {}
  local idx
  idx, err = st:read_index()
  if not idx then
    problems[#problems + 1] = err
  else
    local names = {}
    for i, d in ipairs(idx.manifests) do
      local name, r = index.name_of(d)
      if name then
        if names[name] and names[name] ~= d.digest then
          problems[#problems + 1] = ("index.json manifests[%d]: the name %s is also on another entry, for %s")
            :format(i, r.familiar, names[name])
        end
        names[name] = d.digest
      end
      local kind = media.kind(d.mediaType)
      if (kind == "manifest" or kind == "index") and memo[d.digest] == nil then
        report.images = report.images + 1
        walk(st, d, ("index.json manifests[%d] (%s)"):format(i, r and r.familiar or "untagged"), memo, problems, 0)
      end
    end
  end
  local present, odd = st.core:blobs()
  if not present then
    problems[#problems + 1] = odd
    return report
  end
  local digests = {}
  for dg in pairs(present) do digests[#digests + 1] = dg end
  table.sort(digests)
  for _, dg in ipairs(digests) do
    report.blobs = report.blobs + 1
    report.bytes = report.bytes + present[dg]
    if memo[dg] == nil then
      report.unreferenced = report.unreferenced + 1
      report.unreferenced_bytes = report.unreferenced_bytes + present[dg]
      local ok, verr = st:verify_blob(dg)
      if not ok then problems[#problems + 1] = ("unreferenced blob %s: %s"):format(dg, verr) end
    end
  end
  table.sort(odd)
  for _, name in ipairs(odd) do
    problems[#problems + 1] = ("%s/blobs/sha256/%s: not named by a sha256 digest (umoci gc stops on it)")
      :format(st.dir, ("%q"):format(name):sub(2, -2))
  end
  report.temps = st.core:gc_temps(true) or 0
  return report
end

return M
