--- What each layer of an image holds, learnt as the build saw its bytes go
-- by, never by reading a file again: the layer job's catalog (records of
-- its entries, each file's SHA-256 and SHA-1 with `files`, and captures
-- of the few files package detectors read, see core.catalog_spec), or,
-- for a base layer, one read of its blob through the same catalog. A
-- layer's analysis {digest=, packages=, os=, warnings=, records=} is kept
-- as the store's note "catalog" of its blob, so that it is learnt once:
-- a layer rebuilt to the same blob, a base used again, cost nothing, and
-- a rebuild that keeps entries unread takes their records and packages
-- from the earlier blob's note (the layer job keeps entries unread only
-- when that note is there). Functions return nil, msg, code on failure.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local detect = require "ocibuild.attest.detect"
local json = require "ocibuild.oci.json"
local version = require "ocibuild.util.version"

local M = {}

-- Bumped whenever what an analysis holds, or how it is read, changes.
M.FORMAT = 1
M.NOTE = "catalog"
-- A note larger than this is not read (a layer of a million files with
-- their digests is about 150 MiB).
local MAX_NOTE = 512 << 20

local function hash(s) return core.sha256():update(s):digest():sub(8) end

--- The settings of a build's catalogs: {spec= (core.catalog_spec, for
-- the layer jobs), blob_spec= (the same recording every entry, for base
-- layers read once: their entries serve the build too), key= (what a note
-- must say to be used: the detectors' patterns, files, ocibuild's
-- version), files=}. With files, every file is hashed.
function M.settings(files)
  local pats, max, window = detect.capture()
  local m, err, code = core.matcher(pats)
  if not m then return nil, err, code end
  local desc = { "format " .. M.FORMAT, "files " .. tostring(files and true or false), "window " .. window,
    "ocibuild " .. version }
  for i, p in ipairs(pats) do desc[#desc + 1] = p .. " " .. max[i] end
  local function spec(entries)
    return core.catalog_spec { files = files and true or false, entries = entries, capture = m, max = max,
      go_window = window }
  end
  return { spec = spec(false), blob_spec = spec(true), key = hash(table.concat(desc, "\n")):sub(1, 32),
    files = files and true or false }
end

-- Strings as JSON takes them: invalid UTF-8 bytes become U+FFFD.
local utf8_clean = check.utf8

local FIELDS = { "type", "namespace", "name", "version", "license", "arch", "source_package", "origin", "inner",
  "go", "path" }

-- A package as a note keeps it (plain strings, its detector by name).
local function plain(p)
  local o = json.object { detector = type(p.detector) == "table" and p.detector.name or p.detector }
  for _, k in ipairs(FIELDS) do
    if type(p[k]) == "string" then o[k] = utf8_clean(p[k]) end
  end
  if p.main then o.main = true end
  if type(p.replaced_by) == "table" then
    o.replaced_by = json.object { name = utf8_clean(p.replaced_by.name or ""),
      version = utf8_clean(p.replaced_by.version or "") }
  end
  return o
end

local function encode(a, key)
  local pk = json.array {}
  for i, p in ipairs(a.packages) do pk[i] = plain(p) end
  local warnings = json.array {}
  for i, w in ipairs(a.warnings) do warnings[i] = utf8_clean(w) end
  local meta = json.object { packages = pk, warnings = warnings, diff_id = a.diff_id }
  if a.os then
    meta.os = json.object {}
    for _, k in ipairs { "id", "version_id", "pretty_name", "from" } do
      if type(a.os[k]) == "string" then meta.os[k] = utf8_clean(a.os[k]) end
    end
  end
  local text = json.encode(meta)
  return ("ocibuild-catalog %s\n%d\n%s%s"):format(key, #text, text, a.records)
end

-- The analysis a note holds, or nil when there is none for this key.
local function decode(data, digest, key)
  local k, n, at = data:match("^ocibuild%-catalog (%S+)\n(%d+)\n()")
  if k ~= key then return nil end
  local meta = json.decode(data:sub(at, at + tonumber(n) - 1), "catalog note")
  if not json.is_object(meta) or not json.is_array(meta.packages) then return nil end
  local os = meta.os ~= nil and meta.os ~= json.null and meta.os or nil
  for _, p in ipairs(meta.packages) do p.layer = digest end
  return { digest = digest, packages = meta.packages, os = os, warnings = meta.warnings or {},
    records = data:sub(at + tonumber(n)), diff_id = type(meta.diff_id) == "string" and meta.diff_id or nil }
end

--- The analysis the store st notes for the blob digest, or nil.
function M.noted(st, digest, settings)
  local data = st.core:note_read(M.NOTE, digest, MAX_NOTE)
  return data and decode(data, digest, settings.key)
end

local function save(st, a, settings)
  -- a cache: a note that cannot be written costs a read next time
  st.core:note_write(M.NOTE, a.digest, encode(a, settings.key))
  return a
end

-- One record at position i of rec: its fields and where the next starts.
local RECORD = "^(%a)(%d+) (%d+) (%S+) (%S+)\t([^%z]*)%z([^%z]*)%z()"

--- Calls fn(t, size, mode, sha256, sha1, path, link, text) for each
-- record of the records string rec ("-" for a digest not taken; text:
-- the whole record).
function M.each(rec, fn)
  local i = 1
  while i <= #rec do
    local t, size, mode, s256, s1, p, link, nxt = rec:match(RECORD, i)
    if not t then return end
    fn(t, tonumber(size), tonumber(mode), s256, s1, p, link, rec:sub(i, nxt - 1))
    i = nxt
  end
end

-- A rebuild's records: each entry kept unread ('k') takes its record from
-- the earlier blob's analysis, and its packages with it.
local function merge(rec, c, prior, warn)
  local old, paths, out = {}, {}, {}
  M.each(prior.records, function(_, _, _, _, _, p, _, text) old[p] = text end)
  M.each(rec, function(t, _, _, _, _, p, _, text)
    if t ~= "k" then
      out[#out + 1] = text
      return
    end
    paths["/" .. p] = true
    if old[p] then
      out[#out + 1] = old[p]
    else
      warn(("/%s: the earlier build's catalog does not list it"):format(p))
      out[#out + 1] = ("f0 0 - -\t%s\0\0"):format(p)
    end
  end)
  for _, p in ipairs(prior.packages) do
    if paths[p.path] then c.packages[#c.packages + 1] = p end
  end
  if prior.os and not c.os and paths["/" .. (prior.os.from or "")] then c.os = prior.os end
  return table.concat(out)
end

--- The analysis of a layer a job just wrote: r is the job's result (with
-- catalog= and prior=), c the collector of its captures
-- (ocibuild.attest.detect.collector). Noted in st for the next build.
function M.layer(st, r, c, settings)
  local a = M.noted(st, r.digest, settings)
  if a then return a end
  local rec = r.catalog or ""
  local warnings = c.warnings
  if rec:match("^k%d") or rec:find("%zk%d") then
    local prior = r.prior and M.noted(st, r.prior, settings)
    if not prior then
      return nil, ("layer %s: entries were kept from an earlier build whose catalog is gone"):format(r.digest),
        "ENOENT"
    end
    rec = merge(rec, c, prior, function(w) warnings[#warnings + 1] = w end)
  end
  for _, p in ipairs(c.packages) do p.layer = r.digest end
  return save(st, { digest = r.digest, packages = c.packages, os = c.os, warnings = warnings, records = rec,
    diff_id = r.diff_id }, settings)
end

--- The analysis of a layer blob of st (a descriptor): noted, else read
-- once (its digest and size checked, and its tar's digest against diff_id
-- when given: the caller may count it verified, the second result true).
function M.blob(st, l, settings, diff_id)
  local a = M.noted(st, l.digest, settings)
  -- a note of a read that found this diff_id (another claim reads again)
  if a and (diff_id == nil or a.diff_id == diff_id) then return a, false end
  local c = detect.collector()
  local rec, size, code = settings.blob_spec:blob(st.core, l.digest, c.add, diff_id)
  if not rec then return nil, ("layer %s: %s"):format(l.digest, size), code end
  if size ~= l.size then
    return nil, ("layer %s: %d bytes, its descriptor says %d"):format(l.digest, size, l.size), "BADSIZE"
  end
  for _, p in ipairs(c.packages) do p.layer = l.digest end
  return save(st, { digest = l.digest, packages = c.packages, os = c.os, warnings = c.warnings, records = rec,
    diff_id = diff_id }, settings), true
end

local TYPES = { d = "d", f = "f", h = "f", l = "l" }

--- The entries records list (a blob's, read with every entry) as a base
-- layer's listing takes them (ocibuild.build.base): { {p=, t=, target=} }.
function M.entries(rec)
  local out = {}
  M.each(rec, function(t, _, _, _, _, p, link)
    local kind = TYPES[t] or "o"
    out[#out + 1] = { p = p, t = kind, target = kind == "l" and link or nil }
  end)
  return out
end

-- What a layer removes from those below: whiteouts (".wh.NAME": NAME)
-- and opaque markers (".wh..wh..opq": what its folder held).
local function removals(rec)
  local gone, opaque = {}, {}
  M.each(rec, function(_, _, _, _, _, p)
    local dir, base = p:match("^(.-)/?([^/]*)$")
    if base == ".wh..wh..opq" then
      opaque[dir] = true
    elseif base:sub(1, 4) == ".wh." then
      gone[(dir ~= "" and dir .. "/" or "") .. base:sub(5)] = true
    end
  end)
  return gone, opaque
end

-- true when path (clean, relative) or a folder above it is in set, or a
-- folder strictly above it is in above.
local function covered(path, set, above)
  if set[path] then return true end
  local p = path
  while true do
    p = p:match("^(.*)/[^/]*$")
    if not p then return above ~= nil and above[""] == true end
    if set[p] or (above and above[p]) then return true end
  end
end

--- The packages of an image whose layers' analyses are `layers` (lowest
-- first), as its file system shows them: a file a later layer replaces or
-- removes takes its packages with it. Returns {packages= (purls made,
-- sorted), os=, warnings=}.
function M.packages(layers)
  local kept, os, warnings = {}, nil, {}
  for _, a in ipairs(layers) do
    local present = {}
    local mine = {}
    for i, p in ipairs(a.packages) do
      local q = {}
      for k, v in pairs(p) do q[k] = v end
      mine[i] = q
    end
    M.each(a.records, function(_, _, _, _, _, p) present["/" .. p] = true end)
    local gone, opaque = removals(a.records)
    local still = {}
    for _, p in ipairs(kept) do
      if not present[p.path] and not covered(p.path:sub(2), gone, opaque) then still[#still + 1] = p end
    end
    for _, p in ipairs(mine) do still[#still + 1] = p end
    kept, os = still, a.os or os
    for _, w in ipairs(a.warnings) do warnings[#warnings + 1] = a.digest .. ": " .. w end
  end
  for _, p in ipairs(kept) do
    if type(p.detector) == "string" then p.detector = detect.detector(p.detector) end
  end
  local ok = {}
  for _, p in ipairs(kept) do
    if p.detector then ok[#ok + 1] = p end
  end
  return { packages = detect.finish(ok, os), os = os, warnings = warnings }
end

--- The regular files of an image whose layers' analyses (made with
-- files) are `layers`, lowest first, as its file system shows them: a
-- list of {path= ("/..."), sha256=, sha1=, size=, mode=, layer=}, sorted
-- by path. A hardlink is listed with its target's digests.
function M.files(layers)
  local at, seen = {}, {}
  local gone_at, opaque_at, nondir_at = {}, {}, {}
  for i, a in ipairs(layers) do
    local gone, opaque = removals(a.records)
    for p in pairs(gone) do gone_at[p] = i end
    for p in pairs(opaque) do opaque_at[p] = i end
    M.each(a.records, function(t, size, mode, s256, s1, p, link)
      local base = p:match("[^/]*$")
      if base:sub(1, 4) == ".wh." then return end
      if t ~= "d" then nondir_at[p] = i end
      if t == "h" and seen[link] then
        local f = seen[link]
        t, size, s256, s1 = "f", f.size, f.sha256, f.sha1
      end
      if t == "f" and s256 ~= "-" then
        local f = { path = p, sha256 = s256, sha1 = s1, size = size, mode = mode, layer = a.digest, at = i }
        at[p], seen[p] = f, f
      else
        at[p] = nil
      end
    end)
  end
  -- later removals, and later entries that are not folders above a file
  local function hidden(f)
    local p = f.path
    if (gone_at[p] or 0) > f.at then return true end
    while true do
      p = p:match("^(.*)/[^/]*$")
      if not p then return (opaque_at[""] or 0) > f.at end
      if (gone_at[p] or 0) > f.at or (opaque_at[p] or 0) > f.at or (nondir_at[p] or 0) > f.at then
        return true
      end
    end
  end
  local out = {}
  for p, f in pairs(at) do
    if not hidden(f) then
      out[#out + 1] = { path = "/" .. utf8_clean(p), sha256 = f.sha256, sha1 = f.sha1, size = f.size,
        mode = f.mode, layer = f.layer }
    end
  end
  table.sort(out, function(x, y) return x.path < y.path end)
  return out
end

return M
