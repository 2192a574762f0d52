--- The images an archive holds, once its entries are in the store (see
-- ocibuild.import.entries): an OCI archive's index.json entries, checked
-- complete (every JSON blob verified and parsed strictly, every other
-- blob present with its size) and named by their annotations and by
-- manifest.json's RepoTags; or, for a docker archive, a manifest made for
-- each manifest.json entry from its config and layers.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local entries = require "ocibuild.import.entries"
local events = require "ocibuild.events"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local ref = require "ocibuild.oci.ref"
local walk = require "ocibuild.oci.walk"

local M = {}

local function show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

-- Checks that the blob d is in st with the size d gives.
local function sized(st, d, where)
  local p = st:blob_path(d.digest)
  local s = p and core.stat(p, true)
  if not s then return nil, ("%s: blob %s is not in the archive"):format(where, d.digest), "ENOENT" end
  if s.size ~= d.size then
    return nil, ("%s: blob %s has %d bytes, its descriptor says %d"):format(where, d.digest, s.size, d.size), "BADSIZE"
  end
  return true
end

-- true when the manifest m (the document d, of `role`) of st is not an
-- image whose layers and config's diff_ids differ in number; else nil,
-- msg, code.
local function image_ok(st, d, role, m, where)
  if role ~= "manifest" or walk.role(m.config, "config") ~= "config" then return true end
  local c, err, code = st:read_doc(m.config, "config", where)
  if not c then return nil, err, code end
  local why = doc.image_mismatch(m, c)
  if why then return nil, ("%s: manifest %s has %s"):format(where, d.digest, why), "BADDOC" end
  return true
end

--- Checks the images d reaches in st (copied there from a layout) as an
-- archive's are checked: true, or nil, msg, code.
function M.check(st, d, where)
  return walk.new {
    read = function(x, role, at) return st:read_doc(x, role, at) end,
    done = function(x, role, m, at) return image_ok(st, x, role, m, at) end,
  }:run(d, where)
end

-- A walker checking that everything an entry reaches is in st (JSON
-- verified and parsed, other blobs present with the right size), one walk
-- for the whole archive. Records image manifests in `found` (digest ->
-- {config=, layers= (digests, joined)}).
local function checker(st, found)
  local function present(d, role, where)
    if not st:has_blob(d.digest) then
      return nil, ("%s: %s %s is not in the archive"):format(where, role, d.digest), "ENOENT"
    end
    return true
  end
  return walk.new {
    read = function(d, role, where)
      local ok, err, code = present(d, role, where)
      if not ok then return nil, err, code end
      return st:read_doc(d, role, where)
    end,
    blobs = function(list, where)
      for _, c in ipairs(list) do
        local ok, err, code
        if c.role == "config" then
          ok, err, code = present(c.desc, "config", where)
          if ok then ok, err, code = st:read_doc(c.desc, "config", where) end
        else
          ok, err, code = sized(st, c.desc, where)
        end
        if not ok then return nil, err, code end
      end
      return true
    end,
    done = function(d, role, m, where)
      local ok, err, code = image_ok(st, d, role, m, where)
      if not ok then return nil, err, code end
      if role == "manifest" then
        local layers = {}
        for i, l in ipairs(m.layers) do layers[i] = l.digest end
        found[d.digest] = { config = m.config.digest, layers = table.concat(layers, ",") }
      end
      return true
    end,
  }
end

--- A list of images {desc=, refs={parsed}, raw={ref.name values}, bad=
-- (why a name given to it is not a reference)} and add(desc, r, raw, bad),
-- which keeps the first descriptor of each digest.
function M.list()
  local list, by = {}, {}
  local function add(desc, r, raw, bad)
    local im = by[desc.digest]
    if not im then
      im = { desc = desc, refs = {}, raw = {}, seen = {} }
      by[desc.digest] = im
      list[#list + 1] = im
    end
    if r and not im.seen[r.normalized] then
      im.seen[r.normalized] = true
      im.refs[#im.refs + 1] = r
    end
    if raw then im.raw[#im.raw + 1] = raw end
    im.bad = im.bad or bad
  end
  return list, add
end

--- Adds the index.json entry d (found at `where`) to a list of M.list,
-- named by its annotations. A name that is not a reference is never
-- dropped quietly: it becomes the image's `bad`, which the import refuses
-- unless the image is named otherwise.
function M.add_entry(add, d, where)
  local _, r = index.name_of(d)
  local a = d.annotations or {}
  local bad
  for _, k in ipairs { index.REF_NAME, index.CONTAINERD_NAME } do
    local parsed, why = true, nil
    if a[k] then parsed, why = ref.parse(a[k]) end
    if not parsed and not bad then bad = ("%s: %s: %s"):format(where, k, why) end
  end
  add(index.untagged(d), r, a[index.REF_NAME], bad)
end

-- manifest.json, read strictly: a list of {Config=, RepoTags=, Layers=}.
local function docker_list(text, where)
  local list, err = json.decode(text, where)
  if list == nil then return nil, err, "BADDOC" end
  if not json.is_array(list) then return nil, where .. ": not a JSON array", "BADDOC" end
  for i, item in ipairs(list) do
    local at = ("%s[%d]"):format(where, i)
    if not json.is_object(item) or type(item.Config) ~= "string" or not json.is_array(item.Layers) then
      return nil, at .. ": needs Config (a string) and Layers (an array)", "BADDOC"
    end
    for j, l in ipairs(item.Layers) do
      if type(l) ~= "string" then return nil, ("%s: Layers[%d] is not a string"):format(at, j), "BADDOC" end
    end
    if item.RepoTags ~= nil and item.RepoTags ~= json.null then
      if not json.is_array(item.RepoTags) then return nil, at .. ": RepoTags is not an array", "BADDOC" end
      for j, t in ipairs(item.RepoTags) do
        if type(t) ~= "string" then return nil, ("%s: RepoTags[%d] is not a string"):format(at, j), "BADDOC" end
      end
    end
  end
  return list
end

local function parse_tags(item, at)
  local refs = {}
  if not json.is_array(item.RepoTags) then return refs end
  for j, t in ipairs(item.RepoTags) do
    local r, err = ref.parse(t)
    if not r then return nil, ("%s: RepoTags[%d]: %s"):format(at, j, err), "BADREF" end
    refs[#refs + 1] = r
  end
  return refs
end

local GZIP, ZSTD = "\31\139", "\40\181\47\253"

-- The media type of a docker archive's layer blob: the tar itself when it
-- is its diff_id, else gzip or zstd by its first bytes, holding a tar
-- whose digest is the diff_id (the only claim such an archive makes about
-- its layers).
local function layer_type(st, f, diff_id, at)
  if f.digest == diff_id then return media.LAYER.none end
  local h = io.open(assert(st:blob_path(f.digest)), "rb")
  local head = h and h:read(4) or ""
  if h then h:close() end
  local mt = head:sub(1, 2) == GZIP and media.LAYER.gzip or head == ZSTD and media.LAYER.zstd
  if not mt then
    return nil, ("%s: layer %s is neither its diff_id %s nor gzip or zstd"):format(at, f.digest, diff_id), "BADDOC"
  end
  local plain, err, code = st:tar_digest(f.digest)
  if not plain then return nil, ("%s: layer %s: %s"):format(at, f.digest, err), code end
  if plain ~= diff_id then
    return nil, ("%s: layer %s holds a tar of digest %s, but the config says diff_id %s"):format(at, f.digest,
      plain, diff_id), "BADDIGEST"
  end
  return mt
end

--- The images of a docker archive t (manifest.json) in the store st: a
-- manifest is made for each, from its config and layers as found.
function M.docker(st, t, src)
  local where = src .. ": manifest.json"
  local list, err, code = docker_list(t.meta["manifest.json"], where)
  if not list then return nil, err, code end
  local images, add = M.list()
  for i, item in ipairs(list) do
    local at = ("%s[%d]"):format(where, i)
    local cf = entries.lookup(t, item.Config)
    if not cf then return nil, ("%s: Config %s is not in the archive"):format(at, show(item.Config)), "ENOENT" end
    local named = item.Config:match("(%x+)%.json$")
    if named and #named == 64 and "sha256:" .. named ~= cf.digest then
      return nil, ("%s: Config %s holds %s"):format(at, show(item.Config), cf.digest), "BADDIGEST"
    end
    local text
    text, err, code = st:get_json(cf.digest)
    if not text then return nil, ("%s: %s"):format(at, err), code end
    local config
    config, err, code = doc.read_config(text, ("%s: config %s"):format(at, cf.digest))
    if not config then return nil, err, code end
    local diff_ids = config.rootfs.diff_ids
    if #item.Layers ~= #diff_ids then
      return nil, ("%s: %d layers, but its config lists %d diff_ids"):format(at, #item.Layers, #diff_ids), "BADDOC"
    end
    local layers = {}
    for j, p in ipairs(item.Layers) do
      local f = entries.lookup(t, p)
      if not f then return nil, ("%s: layer %s is not in the archive"):format(at, show(p)), "ENOENT" end
      local mt
      mt, err, code = layer_type(st, f, diff_ids[j], at)
      if not mt then return nil, err, code end
      layers[j] = doc.descriptor(mt, f.digest, f.size)
    end
    local mdigest, msize, mcode = st:put_blob(doc.encode(doc.manifest(doc.descriptor(media.CONFIG, cf.digest, cf.size),
      layers)))
    if not mdigest then return nil, msize, mcode end
    local refs
    refs, err, code = parse_tags(item, at)
    if not refs then return nil, err, code end
    local desc = doc.descriptor(media.MANIFEST, mdigest, msize, {
      platform = { os = config.os, architecture = config.architecture, variant = config.variant } })
    add(desc)
    for _, r in ipairs(refs) do add(desc, r) end
  end
  return images
end

--- The images of an OCI archive t in the store st: its index.json
-- entries, checked complete, named by their annotations and by
-- manifest.json's RepoTags when the archive has one (what `docker save`
-- and ocibuild write).
function M.oci(st, t, src, on_event)
  local text = t.meta["oci-layout"]
  if not text then return nil, ("%s: index.json but no oci-layout: not an OCI archive"):format(src), "BADARCHIVE" end
  if not t.meta["index.json"] then return nil, ("%s: oci-layout but no index.json"):format(src), "BADARCHIVE" end
  local lay, err = json.decode(text, src .. ": oci-layout")
  if lay == nil then return nil, err, "BADDOC" end
  if not json.is_object(lay) or type(lay.imageLayoutVersion) ~= "string"
    or not lay.imageLayoutVersion:match("^1%.") then
    return nil, ("%s: oci-layout: imageLayoutVersion 1.x expected"):format(src), "BADDOC"
  end
  local idx, code
  idx, err, code = doc.read_index(t.meta["index.json"], src .. ": index.json")
  if not idx then return nil, err, code end
  local images, add = M.list()
  local found = {}
  local check = checker(st, found)
  for i, d in ipairs(idx.manifests) do
    local kind = media.kind(d.mediaType)
    local where = ("%s: index.json manifests[%d]"):format(src, i)
    if kind == "manifest" or kind == "index" then
      local ok
      ok, err, code = check:run(d, where)
      if not ok then return nil, err, code end
      M.add_entry(add, d, where)
    else
      events.emit(on_event, { type = "warning", message = ("%s: left out: media type %s is not an image"):format(where,
        show(d.mediaType)) })
    end
  end
  if t.meta["manifest.json"] then
    local list
    list, err, code = docker_list(t.meta["manifest.json"], src .. ": manifest.json")
    if not list then return nil, err, code end
    for i, item in ipairs(list) do
      local at = ("%s: manifest.json[%d]"):format(src, i)
      local cf = entries.lookup(t, item.Config)
      local layers = {}
      for j, p in ipairs(item.Layers) do
        local f = entries.lookup(t, p)
        layers[j] = f and f.digest or "?"
      end
      local refs
      refs, err, code = parse_tags(item, at)
      if not refs then return nil, err, code end
      for _, im in ipairs(images) do
        local f = found[im.desc.digest]
        if cf and f and f.config == cf.digest and f.layers == table.concat(layers, ",") then
          for _, r in ipairs(refs) do add(im.desc, r) end
        end
      end
    end
  end
  return images
end

return M
