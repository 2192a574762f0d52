--- Saving an image: the tags (and push targets) are checked first (before
-- any work), the store is opened (created when missing) and held against
-- prune while the layers, config and manifest are written, then the tags
-- move, with `archive` the image is also copied into an OCI archive, and
-- with `push` it goes to registries: `push = true` sends it to each tag
-- (which must all name their registry), `push = "REF"` (or a list) there.
-- With a shared cache (`cache = {from=, to=}`, see ocibuild.registry.cache)
-- layers come from its records, and records of the layers built go to it
-- last (a failure to write them is a warning: the image is saved).
-- Returns nil, msg, code (and the failing layer's `where`) on failure.
local check = require "ocibuild.build.check"
local env = require "ocibuild.build.env"
local events = require "ocibuild.events"
local output = require "ocibuild.endpoint.output"
local path = require "ocibuild.path"
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
-- scratch, reading no shared cache; {from=, to=}: a shared cache, see
-- M.cache_refs), push=, registry= (see ocibuild.registry's options)}; ctx:
-- {store= (a folder, else the default), warn=function(msg), on_event=,
-- registry=, shared_cache=, policy= (a sandboxed script's: where it may
-- push, see ocibuild.reach)}.
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

--- The shared cache of a save: the context's (ctx.shared_cache: {from=,
-- to=}, the command line's --cache-from and --cache-to) then save's own
-- `cache = {from=, to=}` (each a repository reference or a list of them;
-- a sandboxed script's must name registries it may reach). Returns {from=,
-- to=} (parsed references, each repository once), or nil, msg, code.
function M.cache_refs(opt, ctx)
  local cache_mod = require "ocibuild.registry.cache"
  local lists, seen = { from = {}, to = {} }, {}
  local function add(which, v, script)
    if v == nil then return true end
    if type(v) == "string" then v = { v } end
    if type(v) ~= "table" then
      return nil, ("cache.%s must be a repository reference or a list of them"):format(which)
    end
    for _, s in ipairs(v) do
      local r, err, code = cache_mod.parse(s, script and "cache." .. which or "--cache-" .. which)
      if not r then return nil, err, code end
      if script and ctx.policy then
        local ok
        ok, err, code = ctx.policy.registry(r.domain, ("use the cache %s"):format(r.name))
        if not ok then return nil, err, code end
      end
      if not seen[which .. r.name] then table.insert(lists[which], r) end
      seen[which .. r.name] = true
    end
    return true
  end
  local own = type(opt) == "table" and opt or {}
  if type(opt) == "table" then
    local ok, err = check.keys(opt, { "from", "to" }, "save: cache")
    if not ok then return nil, err end
  end
  for _, which in ipairs { "from", "to" } do
    local ok, err, code = add(which, (ctx.shared_cache or {})[which], false)
    if ok then ok, err, code = add(which, own[which], true) end
    if not ok then return nil, err, code end
  end
  return lists
end

-- The record of a layer built (a result of ocibuild.build.layer), for
-- the shared cache: its blocks from the store's reuse record, else the
-- cache's record it came from, else none (a record of the blob only).
local function record(st, r)
  local blob = { mediaType = r.media_type, digest = r.digest, size = r.size }
  local rr = st.core:reuse_record(r.codec, r.digest)
  if rr and rr.diff_id == r.diff_id then
    return { codec = r.codec:key(), diff_id = r.diff_id, tar_size = rr.tar_size, blob = blob, head = rr.head,
      blocks = rr.blocks }
  end
  if r.record and r.record.blob.digest == r.digest then return r.record end
  return { codec = r.codec:key(), diff_id = r.diff_id, tar_size = r.tar_size, blob = blob, head = 0, blocks = {} }
end

-- Writes the records of the layers built to the cache's `to` repositories.
local function record_layers(st, cache, made, warn)
  for _, r in ipairs(made) do
    local ok, err = cache:put(st, record(st, r))
    if not ok then
      if warn then warn(("the layer %s is not recorded in the cache: %s"):format(r.digest, err)) end
      return
    end
  end
end

--- Writes the image desc of the store st into the OCI archive `out` (an
-- ocibuild.endpoint.archive), naming it with refs: an `archive` stage.
function M.write_archive(st, desc, refs, out, on_event)
  local id = out.dest
  events.emit(on_event, { type = "start", stage = "archive", id = id, path = out.dest })
  local copy, layout = require "ocibuild.copy", require "ocibuild.endpoint.layout"
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
  if opts.cache ~= nil and type(opts.cache) ~= "boolean" and type(opts.cache) ~= "table" then
    return nil, "cache must be true, false or {from = REF, to = REF}"
  end
  local crefs
  crefs, err, code = M.cache_refs(opts.cache, ctx)
  if not crefs then return nil, err, code end
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
  -- each registry is asked first, so that credentials it refuses fail
  -- before the build rather than after it
  for _, r in ipairs(targets) do
    ok, err, code = require("ocibuild.registry").check_push(r, reg_opts)
    if not ok then return nil, err, code end
  end
  local archive_path = opts.archive and path.abs(opts.archive, img.base)
  local out
  if archive_path then
    out, err, code = require("ocibuild.endpoint.archive").new(archive_path, { mtime = img.sde or 0 })
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
  local created, made = {}, {}
  local cache <close> = (#crefs.from > 0 or #crefs.to > 0) and require("ocibuild.registry.cache").new(
    opts.cache ~= false and crefs.from or {}, crefs.to, reg_opts) or nil
  local built, where
  built, err, code, where = img:build(st, { jobs = jobs, skip = M.skip(st.dir, archive_path),
    cache = opts.cache ~= false, registry = reg_opts, policy = ctx.policy, created = created,
    cache_from = cache and #cache.from > 0 and cache or nil, made = made,
    on_event = events.with_warnings(ctx.warn, ctx.on_event) })
  -- No tag: the image is listed untagged (`<none>`) until prune.
  if built then ok, err, code = st:tag(built.desc, refs) end
  if not built or not ok then
    -- a failed save leaves the store as it was
    require("ocibuild.store.prune").rollback(st, hold, created)
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
    if not p then
      return nil, ("%s; the image is stored as %s (%s)"):format(err, #tags > 0 and table.concat(tags, ", ")
        or "an untagged image", result.digest), code
    end
    events.emit(ctx.on_event, { type = "end", stage = "push", id = r.familiar, ref = p.reference,
      digest = p.digest })
    result.pushed[#result.pushed + 1] = p
  end
  -- records last: their layers' blobs are mounted from where the image went
  if cache and #cache.to > 0 then record_layers(st, cache, made, ctx.warn) end
  events.emit(ctx.on_event, { type = "end", stage = "image", id = id, digest = result.digest,
    image_id = result.image_id, size = result.size, tags = tags, store = st.dir, path = result.archive })
  return result
end

return M
