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
local output = require "ocibuild.endpoint.output"
local path = require "ocibuild.path"
local prune = require "ocibuild.store.prune"
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

--- Builds img (ocibuild.build.image) and saves it. opts: {tag=, archive=};
-- ctx: {store= (a folder, else the default), warn=function(msg),
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
  if archive_path then
    -- again, now that the store exists: an output is never inside it
    ok, err, code = output.check(archive_path)
    if not ok then return nil, err, code end
  end
  -- index.json must be readable before any work, since tags go there last
  ok, err, code = st:read_index()
  if not ok then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end
  local created = {}
  local built, where
  built, err, code, where = img:build(st, { jobs = jobs, skip = { st.dir, archive_path },
    on_event = events.with_warnings(ctx.warn, ctx.on_event), created = created })
  if built and #refs > 0 then ok, err, code = st:tag(built.desc, refs) end
  if not built or not ok then
    -- a failed save leaves the store as it was
    prune.rollback(st, hold, created)
    return nil, err, code, where
  end
  local result = { image_id = built.image_id, digest = built.desc.digest, size = built.size,
    path = st.dir, tags = refs, manifest = built.desc, layers = built.layers }
  if out then
    ok, err, code = copy.copy(layout.new(st), built.desc, out)
    if ok then ok, err, code = out:tag(built.desc, refs) end
    if ok then ok, err, code = out:commit() end
    if not ok then return nil, err, code end
    result.archive = archive_path
  end
  return result
end

return M
