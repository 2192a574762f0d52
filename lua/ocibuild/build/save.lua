--- Saving an image: the tags are checked first (before any work), the
-- store is opened (created when missing) and held against prune while the
-- layers, config and manifest are written, then the tags move, and with
-- `archive` the image is also copied into an OCI archive.
-- Returns nil, msg, code (and the failing layer's `where`) on failure.
local archive = require "ocibuild.endpoint.archive"
local check = require "ocibuild.build.check"
local copy = require "ocibuild.copy"
local env = require "ocibuild.build.env"
local events = require "ocibuild.events"
local layout = require "ocibuild.endpoint.layout"
local path = require "ocibuild.path"
local ref = require "ocibuild.oci.ref"
local store_mod = require "ocibuild.store"

local M = {}

M.OPTIONS = { "tag", "archive" }

--- Parses tags (a string or a list). Returns a list of parsed references.
function M.refs(tags)
  if type(tags) == "string" then tags = { tags } end
  if tags ~= nil and type(tags) ~= "table" then return nil, "tag must be a string or a list of strings" end
  local refs = {}
  for _, t in ipairs(tags or {}) do
    local r, err = ref.parse(t)
    if not r then return nil, err, "BADREF" end
    if r.digest then return nil, ("cannot tag with a digest reference %q"):format(t), "BADREF" end
    refs[#refs + 1] = r
  end
  return refs
end

--- The paths a build's walk leaves out: the store and the archive, when
-- they sit inside a context. `ocibuild ls` passes the same list, so that
-- it lists exactly what a build puts in.
function M.skip(store_dir, archive_path)
  local list = {}
  for _, p in ipairs { store_dir or false, archive_path or false } do
    if p then list[#list + 1] = p end
  end
  return list
end

--- Writes the image desc of the store st into the OCI archive `out` (an
-- ocibuild.endpoint.archive), naming it with refs: an `archive` stage.
function M.write_archive(st, desc, refs, out, on_event)
  local id = out.dest
  events.emit(on_event, { type = "start", stage = "archive", id = id, path = out.dest })
  local ok, err, code = copy.copy(layout.new(st), desc, out,
    { on_event = events.tagged(on_event, { stage = "archive", id = id }) })
  if ok then ok, err, code = out:tag(desc, refs) end
  if ok then ok, err, code = out:commit() end
  if not ok then return nil, err, code end
  events.emit(on_event, { type = "end", stage = "archive", id = id, path = out.dest })
  return true
end

local function familiar(refs)
  local t = {}
  for i, r in ipairs(refs) do t[i] = r.familiar end
  return t
end

--- Builds img (ocibuild.build.image) and saves it: an `image` stage,
-- holding a stage per layer and one for the archive. opts: {tag=,
-- archive=}; ctx: {store= (a folder, else the default), warn=function(msg),
-- on_event=}. Returns {image_id=, digest=, size=, path=, tags=,
-- manifest=, archive=, layers=}.
function M.save(img, opts, ctx)
  opts = opts or {}
  local ok, err, code = check.keys(opts, M.OPTIONS, "save")
  if not ok then return nil, err end
  local refs
  refs, err, code = M.refs(opts.tag)
  if not refs then return nil, err, code end
  if opts.archive ~= nil and type(opts.archive) ~= "string" then return nil, "archive must be a file path" end
  local archive_path = opts.archive and path.abs(opts.archive, img.base)
  local out
  if archive_path then
    out, err, code = archive.new(archive_path, { mtime = img.sde or 0 })
    if not out then return nil, err, code end
  end
  local jobs
  jobs, err, code = env.default_jobs()
  if not jobs then return nil, err, code end
  local dir = img.store_dir and path.abs(img.store_dir, img.base) or ctx.store
  local source
  dir, source = store_mod.default_dir(dir)
  if not dir then return nil, source end
  local st
  st, err, code = store_mod.open(dir, { create = true, source = source })
  if not st then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end
  local tags = familiar(refs)
  local id = tags[1] or "image"
  events.emit(ctx.on_event, { type = "start", stage = "image", id = id, tags = tags })
  local built, where
  built, err, code, where = img:build(st, { jobs = jobs, skip = M.skip(st.dir, archive_path),
    on_event = events.with_warnings(ctx.warn, ctx.on_event) })
  if not built then return nil, err, code, where end
  if #refs > 0 then
    ok, err, code = st:tag(built.desc, refs)
    if not ok then return nil, err, code end
  end
  local result = { image_id = built.image_id, digest = built.desc.digest, size = built.size,
    path = st.dir, tags = refs, manifest = built.desc, layers = built.layers }
  if out then
    ok, err, code = M.write_archive(st, built.desc, refs, out, ctx.on_event)
    if not ok then return nil, err, code end
    result.archive = archive_path
  end
  events.emit(ctx.on_event, { type = "end", stage = "image", id = id, digest = result.digest,
    image_id = result.image_id, size = result.size, tags = tags, store = st.dir, path = result.archive })
  return result
end

return M
