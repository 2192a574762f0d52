--- Saving an image: the tags (and push targets) are checked first (before
-- any work), the store is opened (created when missing) and held against
-- prune while the layers, config and manifest are written, then the tags
-- move, with `archive` the image is also copied into an OCI archive, and
-- with `push` it goes to registries: `push = true` sends it to each tag
-- (which must all name their registry), `push = "REF"` (or a list) there.
-- Returns nil, msg, code (and the failing layer's `where`) on failure.
local archive = require "ocibuild.endpoint.archive"
local check = require "ocibuild.util.check"
local copy = require "ocibuild.copy"
local env = require "ocibuild.util.env"
local events = require "ocibuild.events"
local layout = require "ocibuild.endpoint.layout"
local output = require "ocibuild.endpoint.output"
local path = require "ocibuild.util.path"
local prune = require "ocibuild.store.prune"
local ref = require "ocibuild.oci.ref"
local store_mod = require "ocibuild.store"

local M = {}

M.OPTIONS = { "tag", "archive", "cache", "push", "registry" }

-- The registry options save's `registry` table may hold.
local REGISTRY_OPTIONS = { "creds", "authfile", "ca_file", "insecure", "plain_http", "jobs", "chunk_size", "timeout",
  "min_speed", "speed_time", "retries" }

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

--- Where `push` sends the image: a list of parsed references, or nil, msg.
function M.push_targets(push, tags)
  if push == nil or push == false then return {} end
  local list = {}
  if push == true then
    if type(tags) == "string" then tags = { tags } end
    if type(tags) ~= "table" or #tags == 0 then return nil, "push = true needs a tag to push to", "BADREF" end
    for _, t in ipairs(tags) do
      if not require("ocibuild.registry").names_registry(t) then
        return nil, ("push = true: tag %q names no registry (use HOST/NAME:TAG, or push = \"HOST/NAME:TAG\")"):format(t), "BADREF"
      end
      list[#list + 1] = t
    end
  elseif type(push) == "string" then
    list[1] = push
  elseif type(push) == "table" then
    for i, t in ipairs(push) do
      if type(t) ~= "string" then return nil, ("push[%d] must be a reference string"):format(i), "BADREF" end
      list[#list + 1] = t
    end
  else
    return nil, "push must be true, a reference, or a list of references", "BADREF"
  end
  local refs = {}
  for _, t in ipairs(list) do
    local r, err = ref.parse(t)
    if not r then return nil, "push: " .. err, "BADREF" end
    refs[#refs + 1] = r
  end
  return refs
end

-- The registry options: ctx.registry (the command line's), then save's own.
local function registry_options(opts, ctx)
  local o = {}
  for k, v in pairs(ctx.registry or {}) do o[k] = v end
  if opts.registry ~= nil then
    if type(opts.registry) ~= "table" then return nil, "registry must be a table" end
    local ok, err, code = check.keys(opts.registry, REGISTRY_OPTIONS, "save: registry")
    if ok and ctx.policy then ok, err, code = ctx.policy.registry_options(opts.registry) end
    if not ok then return nil, err, code end
    for k, v in pairs(opts.registry) do o[k] = v end
  end
  o.on_event = ctx.on_event
  return o
end

--- Builds img (ocibuild.build.image or ocibuild.build.index) and saves
-- it: an `image` stage, holding a stage per layer, one for the archive and
-- one per push. opts: {tag=, archive=, cache= (false: build every layer from
-- scratch), push=, registry= (see ocibuild.registry's options)}; ctx: {store= (a
-- folder, else the default), warn=function(msg), on_event=, registry=,
-- policy= (a sandboxed script's: where it may push, see ocibuild.reach)}.
-- Returns {image_id=, digest=, size=, path=, tags=, manifest=, archive=,
-- layers=, pushed= (list of {reference=, digest=, name=})}.

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

function M.save(img, opts, ctx)
  opts = opts or {}
  local ok, err, code = check.keys(opts, M.OPTIONS, "save")
  if not ok then return nil, err end
  local refs
  refs, err, code = M.refs(opts.tag)
  if not refs then return nil, err, code end
  if opts.archive ~= nil and type(opts.archive) ~= "string" then return nil, "archive must be a file path" end
  if opts.cache ~= nil and type(opts.cache) ~= "boolean" then return nil, "cache must be true or false" end
  local targets
  targets, err, code = M.push_targets(opts.push, opts.tag)
  if not targets then return nil, err, code end
  for _, r in ipairs(ctx.policy and targets or {}) do
    ok, err, code = ctx.policy.registry(r.domain, "push to " .. r.familiar)
    if not ok then return nil, err, code end
  end
  local reg_opts
  reg_opts, err, code = registry_options(opts, ctx)
  if not reg_opts then return nil, err, code end
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
  local tags = familiar(refs)
  local id = tags[1] or "image"
  events.emit(ctx.on_event, { type = "start", stage = "image", id = id, tags = tags })
  local created = {}
  local built, where
  built, err, code, where = img:build(st, { jobs = jobs, skip = M.skip(st.dir, archive_path),
    cache = opts.cache, registry = reg_opts, policy = ctx.policy, created = created,
    on_event = events.with_warnings(ctx.warn, ctx.on_event) })
  -- No tag: the image is listed untagged (`<none>`) until prune.
  if built then ok, err, code = st:tag(built.desc, refs) end
  if not built or not ok then
    -- a failed save leaves the store as it was
    prune.rollback(st, hold, created)
    return nil, err, code, where
  end
  local result = { image_id = built.image_id, digest = built.desc.digest, size = built.size,
    path = st.dir, tags = refs, manifest = built.desc, layers = built.layers, images = built.images }
  if out then
    ok, err, code = M.write_archive(st, built.desc, refs, out, ctx.on_event)
    if not ok then return nil, err, code end
    result.archive = archive_path
  end
  result.pushed = {}
  for _, r in ipairs(targets) do
    -- the registry client loads only for builds that push
    local p
    events.emit(ctx.on_event, { type = "start", stage = "push", id = r.familiar, ref = r.normalized })
    p, err, code = require("ocibuild.registry").push(st, built.desc, r, reg_opts)
    if not p then return nil, err, code end
    events.emit(ctx.on_event, { type = "end", stage = "push", id = r.familiar, ref = p.reference,
      digest = p.digest })
    result.pushed[#result.pushed + 1] = p
  end
  events.emit(ctx.on_event, { type = "end", stage = "image", id = id, digest = result.digest,
    image_id = result.image_id, size = result.size, tags = tags, store = st.dir, path = result.archive })
  return result
end

return M
