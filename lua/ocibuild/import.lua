--- Importing images into a store from an OCI archive (a tar of a layout,
-- plain, gzip or zstd), a docker archive (`docker save`: manifest.json with
-- `<id>/layer.tar` files or `blobs/sha256/` ones), or an OCI layout folder.
-- A tar cannot be read out of order, so an archive is read once, as it
-- comes, in bounded memory: every blob is written into the store as it
-- streams by (one under `blobs/sha256/<hex>` is checked against that
-- digest as it is copied and never appears under a wrong name; any other
-- file is stored under the digest of its bytes), and only the small JSON
-- files (index.json, oci-layout, manifest.json, at most 4 MiB each) are
-- held until the end, when the images are checked complete and named.
-- Entry names are never used as paths: a name that is absolute or holds
-- `..`, a link pointing out of the archive, a device, a FIFO, a socket or
-- a duplicate entry stops the import. Blobs are held against prune while
-- unnamed; an import that fails leaves only blobs nothing references and
-- temp files, both of which prune removes.
-- Functions return nil, msg, code on failure.
local copy = require "ocibuild.copy"
local core = require "ocibuild.core"
local digest_mod = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local events = require "ocibuild.events"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local layout = require "ocibuild.endpoint.layout"
local media = require "ocibuild.oci.media"
local ref = require "ocibuild.oci.ref"
local store_mod = require "ocibuild.store"

local M = {}

local META = { ["index.json"] = true, ["oci-layout"] = true, ["manifest.json"] = true }
local LINK_DEPTH = 16

local function show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

-- A tar entry's name made canonical ("./a//b/" -> "a/b"), or nil and why.
local function clean(name)
  if name:sub(1, 1) == "/" then return nil, "an absolute name" end
  local parts = {}
  for comp in name:gmatch("[^/]+") do
    if comp == ".." then return nil, "a name holding '..'" end
    if comp ~= "." then parts[#parts + 1] = comp end
  end
  return table.concat(parts, "/")
end

-- A symlink's target resolved against the link's folder, or nil when it
-- is absolute or climbs out of the archive.
local function resolve_symlink(name, target)
  if target:sub(1, 1) == "/" then return nil end
  local parts = {}
  for comp in name:gmatch("[^/]+") do parts[#parts + 1] = comp end
  parts[#parts] = nil
  for comp in target:gmatch("[^/]+") do
    if comp == ".." then
      if #parts == 0 then return nil end
      parts[#parts] = nil
    elseif comp ~= "." then
      parts[#parts + 1] = comp
    end
  end
  return table.concat(parts, "/")
end

-- ---- reading the tar ----

-- Reads every entry of the tar reader r into the store st. Returns
-- {meta={name=text}, files={name={digest=, size=}}, links={name=target}}.
local function read_entries(r, st, src, on_event)
  local seen, links, files, meta = {}, {}, {}, {}
  local function reject(name, why)
    return nil, ("%s: entry %s: %s: refusing to import"):format(src, show(name), why), "BADARCHIVE"
  end
  while true do
    local e, err, code = r:next()
    if not e then
      if err then return nil, ("%s: %s"):format(src, err), code end
      break
    end
    local name, why = clean(e.name)
    if not name then return reject(e.name, why) end
    if name ~= "" and seen[name] then return reject(e.name, "a duplicate entry") end
    seen[name] = true
    if e.type == "dir" then
      -- folders carry nothing
    elseif e.type == "symlink" then
      local target = resolve_symlink(name, e.target or "")
      if not target then return reject(e.name, ("a symlink out of the archive (to %s)"):format(show(e.target or ""))) end
      links[name] = target
    elseif e.type == "hardlink" then
      local target = clean(e.target or "")
      if not target or target == "" or not seen[target] then
        return reject(e.name, ("a hardlink to %s, which is not an earlier entry of the archive"):format(show(e.target or "")))
      end
      links[name] = target
    elseif e.type ~= "file" then
      return reject(e.name, ("a %s (only files, folders and links inside the archive are read)"):format(e.type))
    elseif name == "" then
      return reject(e.name, "a file without a name")
    elseif META[name] then
      if e.size > doc.MAX_JSON then
        return reject(e.name, ("%d bytes, more than the %d allowed for JSON"):format(e.size, doc.MAX_JSON))
      end
      meta[name], err, code = r:read(doc.MAX_JSON)
      if not meta[name] then return nil, ("%s: entry %s: %s"):format(src, show(e.name), err), code end
    elseif name:match("^blobs/") then
      local hex = name:match("^blobs/sha256/([^/]*)$")
      if not hex or not digest_mod.valid("sha256:" .. hex) then
        return reject(e.name, "a blob not named blobs/sha256/<64 lower-case hex digits>")
      end
      local dg, size, c = r:to_blob(st.core, "sha256:" .. hex, e.size)
      if not dg then return nil, ("%s: entry %s: %s"):format(src, show(e.name), size), c end
      files[name] = { digest = dg, size = size }
      events.emit(on_event, { type = "blob", digest = dg, size = size, action = "copied" })
    elseif name == "repositories" or name:match("/json$") or name:match("/VERSION$") then
      -- the legacy docker format's per-layer metadata: not needed
    else
      local dg, size, c = r:to_blob(st.core)
      if not dg then return nil, ("%s: entry %s: %s"):format(src, show(e.name), size), c end
      files[name] = { digest = dg, size = size }
      events.emit(on_event, { type = "blob", digest = dg, size = size, action = "copied" })
    end
  end
  local done, err, code = r:finish()
  if not done then return nil, ("%s: %s"):format(src, err), code end
  return { meta = meta, files = files, links = links }
end

-- The file a path of the archive names (links followed), or nil.
local function lookup(t, p)
  local name = clean(p)
  for _ = 1, LINK_DEPTH do
    if not name then return nil end
    if t.files[name] then return t.files[name] end
    name = t.links[name]
  end
end

-- ---- checking images ----

-- Checks that everything desc reaches is in st (JSON verified and parsed,
-- other blobs present with the right size). Records image manifests in
-- `found` (digest -> {config=, layers={digests}}).
local function complete(st, d, where, found, depth)
  local kind = media.kind(d.mediaType)
  if kind ~= "manifest" and kind ~= "index" and kind ~= "config" then
    local p = st:blob_path(d.digest)
    local s = p and core.stat(p, true)
    if not s then return nil, ("%s: blob %s is not in the archive"):format(where, d.digest), "ENOENT" end
    if s.size ~= d.size then
      return nil, ("%s: blob %s has %d bytes, its descriptor says %d"):format(where, d.digest, s.size, d.size), "BADSIZE"
    end
    return true
  end
  if not st:has_blob(d.digest) then
    return nil, ("%s: %s %s is not in the archive"):format(where, kind, d.digest), "ENOENT"
  end
  local text, err, code = st:get_json(d.digest)
  if not text then return nil, ("%s: %s"):format(where, err), code end
  if #text ~= d.size then
    return nil, ("%s: %s %s has %d bytes, its descriptor says %d"):format(where, kind, d.digest, #text, d.size), "BADSIZE"
  end
  local what = ("%s: %s %s"):format(where, kind, d.digest)
  if kind == "config" then return doc.read_config(text, what) end
  local m
  m, err, code = doc.read_any(text, d.mediaType, what)
  if not m then return nil, err, code end
  if kind == "index" then
    if depth > 8 then return nil, ("%s: indexes nested too deep"):format(where), "BADDOC" end
    for _, child in ipairs(m.manifests) do
      local ok
      ok, err, code = complete(st, child, where, found, depth + 1)
      if not ok then return nil, err, code end
    end
    return true
  end
  local layers = {}
  for i, l in ipairs(m.layers) do
    layers[i] = l.digest
    local ok
    ok, err, code = complete(st, l, where, found, depth + 1)
    if not ok then return nil, err, code end
  end
  local ok
  ok, err, code = complete(st, m.config, where, found, depth + 1)
  if not ok then return nil, err, code end
  found[d.digest] = { config = m.config.digest, layers = table.concat(layers, ",") }
  return true
end

-- A list of images {desc=, refs={parsed}, raw={ref.name values}} with
-- add(desc, r, raw) keeping the first descriptor of each digest.
local function image_list()
  local list, by = {}, {}
  local function add(desc, r, raw)
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
  end
  return list, add
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
-- is its diff_id, else gzip or zstd by its first bytes.
local function layer_type(st, f, diff_id, at)
  if f.digest == diff_id then return media.LAYER.none end
  local h = io.open(assert(st:blob_path(f.digest)), "rb")
  local head = h and h:read(4) or ""
  if h then h:close() end
  if head:sub(1, 2) == GZIP then return media.LAYER.gzip end
  if head == ZSTD then return media.LAYER.zstd end
  return nil, ("%s: layer %s is neither its diff_id %s nor gzip or zstd"):format(at, f.digest, diff_id), "BADDOC"
end

-- The images of a docker archive (manifest.json): a manifest is made for
-- each, from its config and layers as found in the archive.
local function docker_images(st, t, src)
  local where = src .. ": manifest.json"
  local list, err, code = docker_list(t.meta["manifest.json"], where)
  if not list then return nil, err, code end
  local images, add = image_list()
  for i, item in ipairs(list) do
    local at = ("%s[%d]"):format(where, i)
    local cf = lookup(t, item.Config)
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
      local f = lookup(t, p)
      if not f then return nil, ("%s: layer %s is not in the archive"):format(at, show(p)), "ENOENT" end
      local mt
      mt, err, code = layer_type(st, f, diff_ids[j], at)
      if not mt then return nil, err, code end
      layers[j] = doc.descriptor(mt, f.digest, f.size)
    end
    local mdigest, msize = st:put_blob(doc.encode(doc.manifest(doc.descriptor(media.CONFIG, cf.digest, cf.size), layers)))
    if not mdigest then return nil, msize end
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

-- The images of an OCI archive: its index.json entries, checked complete,
-- named by their annotations and by manifest.json's RepoTags when the
-- archive has one (what `docker save` and ocibuild write).
local function oci_images(st, t, src, on_event)
  local text = t.meta["oci-layout"]
  if not text then return nil, ("%s: index.json but no oci-layout: not an OCI archive"):format(src), "BADARCHIVE" end
  if not t.meta["index.json"] then return nil, ("%s: oci-layout but no index.json"):format(src), "BADARCHIVE" end
  local lay, err = json.decode(text, src .. ": oci-layout")
  if lay == nil then return nil, err, "BADDOC" end
  if not json.is_object(lay) or type(lay.imageLayoutVersion) ~= "string" or not lay.imageLayoutVersion:match("^1%.") then
    return nil, ("%s: oci-layout: imageLayoutVersion 1.x expected"):format(src), "BADDOC"
  end
  local idx, code
  idx, err, code = doc.read_index(t.meta["index.json"], src .. ": index.json")
  if not idx then return nil, err, code end
  local images, add = image_list()
  local found = {}
  for i, d in ipairs(idx.manifests) do
    local kind = media.kind(d.mediaType)
    local where = ("%s: index.json manifests[%d]"):format(src, i)
    if kind == "manifest" or kind == "index" then
      local ok
      ok, err, code = complete(st, d, where, found, 0)
      if not ok then return nil, err, code end
      local _, r = index.name_of(d)
      add(index.untagged(d), r, d.annotations and d.annotations[index.REF_NAME])
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
      local cf = lookup(t, item.Config)
      local layers = {}
      for j, p in ipairs(item.Layers) do
        local f = lookup(t, p)
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

-- ---- naming ----

-- Keeps the images opts.select names (a reference, or a ref.name as
-- written), then applies opts.tags, then lists them in st (unless
-- opts.index is false). Returns the result table.
local function finish(st, images, src, opts)
  if opts.select then
    local want = ref.parse(opts.select)
    local kept = {}
    for _, im in ipairs(images) do
      local hit = false
      for _, raw in ipairs(im.raw) do hit = hit or raw == opts.select end
      for _, r in ipairs(im.refs) do hit = hit or (want and r.normalized == want.normalized) end
      if hit then
        if want then im.refs = { want } end
        kept[#kept + 1] = im
      end
    end
    if #kept == 0 then return nil, ("no image %s in %s"):format(show(opts.select), src), "ENOENT" end
    images = { kept[1] }
  end
  if opts.tags then
    if #images ~= 1 then
      return nil, ("%s holds %d images: a tag given to the import names exactly one"):format(src, #images), "EINVAL"
    end
    images[1].refs = opts.tags
  end
  if #images == 0 then return nil, ("%s holds no image"):format(src), "ENOENT" end
  if opts.index ~= false then
    local ok, err, code = st:update_index(function(idx)
      for _, im in ipairs(images) do idx.manifests = index.set_tags(idx.manifests, im.desc, im.refs) end
      return true
    end)
    if not ok then return nil, err, code end
  end
  local result = { images = {}, descriptors = {}, names = {} }
  for i, im in ipairs(images) do
    local names, tags = {}, {}
    for j, r in ipairs(im.refs) do
      names[j], tags[j] = r.normalized, r.familiar
      result.names[#result.names + 1] = r.familiar
    end
    result.images[i] = { descriptor = im.desc, names = names, tags = tags }
    result.descriptors[i] = im.desc
  end
  return result
end

local function parse_opts(opts)
  opts = opts or {}
  if opts.tags then
    local refs = {}
    for i, s in ipairs(opts.tags) do
      local r, err = ref.parse(s)
      if not r then return nil, err, "BADREF" end
      if r.digest then return nil, ("cannot tag with a digest reference %s"):format(show(s)), "BADREF" end
      refs[i] = r
    end
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.tags = refs
    return o
  end
  return opts
end

--- Imports the archive at path ("-": standard input) into the opened
-- store st. opts: {tags= (names replacing the archive's; the archive must
-- then hold one image), select= (only the image with this name, as a
-- reference or as its ref.name is written), index= (false: list nothing
-- in index.json; the caller holds st:use() and keeps the descriptors),
-- on_event=}. Returns {images={ {descriptor=, names={full}, tags={familiar}} },
-- descriptors={...}, names={familiar, of every image}}.
function M.archive(path, st, opts)
  local o, err, code = parse_opts(opts)
  if not o then return nil, err, code end
  local src = path == "-" and "standard input" or path
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end
  local r <close>, rerr, rcode = core.tar_reader(path)
  if not r then return nil, ("cannot import %s: %s"):format(src, rerr), rcode end
  local t
  t, err, code = read_entries(r, st, src, o.on_event)
  if not t then return nil, err, code end
  local images
  if t.meta["oci-layout"] or t.meta["index.json"] then
    images, err, code = oci_images(st, t, src, o.on_event)
  elseif t.meta["manifest.json"] then
    images, err, code = docker_images(st, t, src)
  else
    return nil, ("%s is neither an OCI archive (oci-layout, index.json) nor a docker archive (manifest.json)")
      :format(src), "BADARCHIVE"
  end
  if not images then return nil, err, code end
  return finish(st, images, src, o)
end

--- Imports the images of the OCI layout folder dir into st, every blob
-- verified as it is copied. opts and result as M.archive.
function M.layout(dir, st, opts)
  local o, err, code = parse_opts(opts)
  if not o then return nil, err, code end
  local from
  from, err, code = store_mod.open(dir)
  if not from then return nil, err, code end
  local lay = from.core:read("oci-layout", 4096)
  local v = lay and json.decode(lay, dir .. "/oci-layout")
  if not json.is_object(v) or type(v.imageLayoutVersion) ~= "string" then
    return nil, ("%s is not an OCI layout: no readable oci-layout"):format(from.dir), "BADARCHIVE"
  end
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end
  local idx
  idx, err, code = from:read_index()
  if not idx then return nil, err, code end
  local images, add = image_list()
  for _, d in ipairs(idx.manifests) do
    local kind = media.kind(d.mediaType)
    if kind == "manifest" or kind == "index" then
      local ok
      ok, err, code = copy.copy(layout.new(from), d, layout.new(st), { on_event = o.on_event })
      if not ok then return nil, ("%s: %s"):format(from.dir, err), code end
      local _, r = index.name_of(d)
      add(index.untagged(d), r, d.annotations and d.annotations[index.REF_NAME])
    end
  end
  return finish(st, images, from.dir, o)
end

--- Imports path: a folder as an OCI layout, anything else (or "-") as an
-- archive. See M.archive.
function M.any(path, st, opts)
  if path ~= "-" then
    local s = core.stat(path)
    if s and s.type == "dir" then return M.layout(path, st, opts) end
  end
  return M.archive(path, st, opts)
end

return M
