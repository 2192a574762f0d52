--- Importing images into a store from an OCI archive (plain, gzip or
-- zstd), a docker archive (`docker save`) or an OCI layout folder. An
-- archive is read once, in bounded memory: blobs go into the store as
-- they stream by, verified (ocibuild.import.entries), the small JSON files
-- wait for the end, when the images are checked complete and named
-- (ocibuild.import.images). Blobs are held against prune until named; a
-- failed import leaves only what prune removes.
-- Functions return nil, msg, code on failure.
local copy = require "ocibuild.copy"
local core = require "ocibuild.core"
local entries = require "ocibuild.import.entries"
local events = require "ocibuild.events"
local found = require "ocibuild.import.images"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local layout = require "ocibuild.endpoint.layout"
local media = require "ocibuild.oci.media"
local ref = require "ocibuild.oci.ref"
local store_mod = require "ocibuild.store"

local M = {}

local function show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

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
  if opts.index ~= false and not opts.tags and not opts.select then
    -- listed without its name, the image would be <none>, and gone at the next prune
    for _, im in ipairs(images) do
      if im.bad then return nil, im.bad .. "; give the image a name with --tag", "BADARCHIVE" end
    end
  end
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
  t, err, code = entries.read(r, st, src, o.on_event)
  if not t then return nil, err, code end
  local images
  if t.meta["oci-layout"] or t.meta["index.json"] then
    images, err, code = found.oci(st, t, src, o.on_event)
  elseif t.meta["manifest.json"] then
    images, err, code = found.docker(st, t, src)
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
  local images, add = found.list()
  for i, d in ipairs(idx.manifests) do
    local kind = media.kind(d.mediaType)
    if kind == "manifest" or kind == "index" then
      local ok
      ok, err, code = copy.copy(layout.new(from), d, layout.new(st), { on_event = o.on_event })
      if not ok then return nil, ("%s: %s"):format(from.dir, err), code end
      local where = ("%s: index.json manifests[%d]"):format(from.dir, i)
      ok, err, code = found.check(st, d, where)
      if not ok then return nil, err, code end
      found.add_entry(add, d, where)
    else
      events.emit(o.on_event, { type = "warning", message = ("%s: index.json manifests[%d]: left out: media type %s "
        .. "is not an image"):format(from.dir, i, show(tostring(d.mediaType))) })
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
