--- Checking a whole store: oci-layout, index.json read strictly, every
-- image it lists walked completely on its own (ocibuild.oci.walk): every
-- blob present with the size its descriptor gives and the bytes its digest
-- names, every manifest, index and config parsed strictly; then every
-- other blob in blobs/sha256 hashed too. Nothing is changed. Each problem
-- is one line (the blob, its path, what is wrong: a corrupt blob with its
-- expected and actual digest), followed by every image it breaks, each
-- with its repair: `ocibuild pull NAME` when the store records that the
-- image came from (or went to) NAME's repository, else `ocibuild rm
-- NAMES`, or `ocibuild prune` for an image without a name.
local doc = require "ocibuild.oci.doc"
local images = require "ocibuild.store.images"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local walk = require "ocibuild.oci.walk"

local M = {}

local check_attestations

local function check_layout(st, problem)
  local text, err = st.core:read("oci-layout", 4096)
  if not text then return problem(("oci-layout: %s"):format(err)) end
  local v
  v, err = json.decode(text, st.dir .. "/oci-layout")
  if v == nil then
    problem(err)
  elseif not json.is_object(v) or v.imageLayoutVersion ~= "1.0.0" then
    problem(("%s/oci-layout: imageLayoutVersion is not \"1.0.0\" (umoci, containerd and oci-image-tool need it)")
      :format(st.dir))
  end
end

-- What each blob and document is, found once for every image that reaches
-- it: by "role digest size", {m= (a parsed document)} or {bad= (the problem)}.
local function reader(st)
  local verdicts = {}
  local function judge(d, role, fn)
    local key = ("%s %s %d"):format(role, d.digest, d.size)
    local v = verdicts[key]
    if not v then
      local what = ("%s %s"):format(role, d.digest)
      local m, err = fn(what)
      v = m and { m = m } or { bad = err:sub(1, #what) == what and err or ("%s: %s"):format(what, err) }
      verdicts[key] = v
    end
    return v
  end
  local function document(d, role)
    return judge(d, role, function(what)
      local text, err, code = st:get_json(d.digest)
      if not text then return nil, err, code end
      if #text ~= d.size then
        return nil, ("%d bytes, its descriptor says %d: %s"):format(#text, d.size, st:blob_path(d.digest)), "BADSIZE"
      end
      if role == "config" then return doc.read_config(text, what) end
      return doc.read_any(text, d.mediaType, what)
    end)
  end
  local function blob(d, role)
    if role == "config" then return document(d, role) end
    return judge(d, role, function() return st:verify_blob(d.digest, d.size) end)
  end
  return document, blob
end

-- An index's attestation manifests must each name an image it lists.
function check_attestations(d, m, problem)
  local listed = {}
  for _, c in ipairs(m.manifests) do listed[c.digest] = true end
  for i, c in ipairs(m.manifests) do
    local a = c.annotations or {}
    if a["vnd.docker.reference.type"] == "attestation-manifest" and not listed[a["vnd.docker.reference.digest"]] then
      problem(("index %s: manifests[%d] is an attestation manifest of %s, which the index does not list"):format(
        d.digest, i, tostring(a["vnd.docker.reference.digest"])))
    end
  end
  return true
end

-- Walks the image g (a group of index.json entries, ocibuild.store.images)
-- completely; calls problem(text) for each problem on the way. Returns
-- what it reached and the digest of its config (a manifest's).
local function check_image(g, document, blob, problem)
  local config
  local w = walk.new {
    read = function(d, role)
      local v = document(d, role)
      if v.bad then problem(v.bad) end
      return v.m or false
    end,
    blobs = function(list)
      for _, c in ipairs(list) do
        local v = blob(c.desc, c.role)
        if v.bad then problem(v.bad) end
      end
      return true
    end,
    done = function(d, role, m)
      if role == "index" then return check_attestations(d, m, problem) end
      if d.digest == g.digest then config = m.config.digest end
      local c = walk.role(m.config, "config") == "config" and document(m.config, "config").m
      local why = c and doc.image_mismatch(m, c)
      if why then problem(("manifest %s has %s"):format(d.digest, why)) end
      return true
    end,
  }
  local ok, err = w:run(g.desc, ("%s %s"):format(walk.role(g.desc), g.digest))
  if not ok then problem(err) end
  return w.reached, config
end

-- How to repair the image g: pull it again when the store records that
-- its manifest or config came from (or went to) the repository of one of
-- its names, else remove its names (prune, when it has none).
local function repair(g, config, src)
  if #g.refs == 0 then return "ocibuild prune" end
  for _, r in ipairs(g.refs) do
    local repo = r.domain .. "/" .. r.path
    for _, dg in ipairs { g.digest, config or false } do
      for _, s in ipairs(dg and src.map[dg] or {}) do
        if s == repo then return "ocibuild pull " .. r.familiar end
      end
    end
  end
  local names = {}
  for i, r in ipairs(g.refs) do names[i] = r.familiar end
  return "ocibuild rm " .. table.concat(names, " ")
end

-- The entries of g as "index.json manifests[i]", joined.
local function entries_of(idx, g)
  local at = {}
  for i, d in ipairs(idx.manifests) do
    if d.digest == g.digest then at[#at + 1] = ("manifests[%d]"):format(i) end
  end
  return "index.json " .. table.concat(at, ", ")
end

local function check_images(st, idx, report, problem)
  local names = {}
  for i, d in ipairs(idx.manifests) do
    local name, r = index.name_of(d)
    if name then
      if names[name] and names[name] ~= d.digest then
        problem(("index.json manifests[%d]: the name %s is also on another entry, for %s"):format(i, r.familiar,
          names[name]))
      end
      names[name] = d.digest
    end
  end
  local document, blob = reader(st)
  local src = st:sources()
  local reached = {}
  for _, g in ipairs((images.group(idx))) do
    local kind = media.kind(g.desc.mediaType)
    if kind == "manifest" or kind == "index" then
      report.images = report.images + 1
      local found = {}
      local got, config = check_image(g, document, blob, function(text)
        found[#found + 1] = text
      end)
      for dg in pairs(got) do reached[dg] = true end
      if #found > 0 then
        local label = {}
        for i, r in ipairs(g.refs) do label[i] = r.familiar end
        local broken = { names = label, where = entries_of(idx, g), repair = repair(g, config, src),
          digest = g.digest }
        for _, text in ipairs(found) do problem(text, broken) end
      end
    end
  end
  return reached
end

--- Checks the store st. Returns {problems={lines}, breaks={[i]={ {names=
-- {familiar}, digest=, where= ("index.json manifests[1]"), repair=
-- (a command)}...}} (the images problem i breaks), images= (distinct
-- manifests and indexes index.json lists), blobs=, bytes= (every blob
-- present), unreferenced=, unreferenced_bytes=, temps= (temp files nobody
-- holds)}; the store's own failures to be read are problems too, never a
-- nil return, except when the store cannot be locked for a reason other
-- than permissions.
function M.run(st)
  -- held against prune (so that nothing vanishes mid-check), unless the
  -- store is not ours to lock: checking it still reads it safely
  local hold <close>, err, code = st:use()
  if not hold and code ~= "EACCES" and code ~= "EROFS" then return nil, err, code end
  local report = { problems = {}, breaks = {}, images = 0, blobs = 0, bytes = 0, unreferenced = 0,
    unreferenced_bytes = 0, temps = 0 }
  local problems, by_text = report.problems, {}
  local function problem(text, broken)
    local i = by_text[text]
    if not i then
      problems[#problems + 1] = text
      i = #problems
      by_text[text] = i
      report.breaks[i] = {}
    end
    local list = report.breaks[i]
    if broken and list[#list] ~= broken then list[#list + 1] = broken end
  end
  check_layout(st, problem)
  local reached = {}
  local idx
  idx, err = st:read_index()
  if not idx then
    problem(err)
  else
    reached = check_images(st, idx, report, problem)
  end
  local present, odd = st.core:blobs()
  if not present then
    problem(odd)
    return report
  end
  local digests = {}
  for dg in pairs(present) do digests[#digests + 1] = dg end
  table.sort(digests)
  for _, dg in ipairs(digests) do
    report.blobs = report.blobs + 1
    report.bytes = report.bytes + present[dg]
    if not reached[dg] then
      report.unreferenced = report.unreferenced + 1
      report.unreferenced_bytes = report.unreferenced_bytes + present[dg]
      local ok, verr = st:verify_blob(dg)
      if not ok then problem(("unreferenced blob %s: %s"):format(dg, verr)) end
    end
  end
  table.sort(odd)
  for _, name in ipairs(odd) do
    problem(("%s/blobs/sha256/%s: not named by a sha256 digest (umoci gc stops on it)")
      :format(st.dir, ("%q"):format(name):sub(2, -2)))
  end
  report.temps = st.core:gc_temps(true) or 0
  return report
end

--- The lines a report prints: each problem, then one line per image it
-- breaks, indented, with its repair.
function M.lines(report)
  local out = {}
  for i, p in ipairs(report.problems) do
    out[#out + 1] = p
    for _, b in ipairs(report.breaks[i] or {}) do
      local names = #b.names > 0 and table.concat(b.names, ", ") or ("<none> %s"):format(b.digest)
      out[#out + 1] = ("  breaks %s (%s); repair: %s"):format(names, b.where, b.repair)
    end
  end
  return out
end

return M
