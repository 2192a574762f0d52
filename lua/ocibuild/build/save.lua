--- Saving an image: the store is opened (created when missing) and held
-- against prune while the layers, config and manifest are written, then
-- the tags move, and with `archive` the image is also copied into an OCI
-- archive. Pushing what was saved is the build verb's (ocibuild.ops.build).
-- Returns nil, msg, code (and the failing layer's `where`) on failure.
local env = require "ocibuild.util.env"
local events = require "ocibuild.events"
local output = require "ocibuild.endpoint.output"
local path = require "ocibuild.util.path"
local ref = require "ocibuild.oci.ref"
local store_mod = require "ocibuild.store"

local M = {}

--- Parses tags (a string or a list). Returns a list of parsed references.
function M.refs(tags)
  if type(tags) == "string" then tags = { tags } end
  if tags ~= nil and type(tags) ~= "table" then return nil, "tag must be a string or a list of strings", "BADVALUE" end
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
  local copy, layout = require("ocibuild.copy"), require("ocibuild.endpoint.layout")
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

--- Builds img (ocibuild.build.image or ocibuild.build.index) and saves
-- it: an `image` stage, holding a stage per layer and one for the
-- archive. opts (checked by the caller): {tag= (refs from M.refs),
-- archive= (absolute), cache= (false: build every layer from scratch),
-- cache_from= (an ocibuild.registry.cache layers may come from), made= (a
-- list that gets the result of each layer from a context, see
-- ocibuild.build.layer), registry= (the registry options for a base to
-- pull), attest= (what ocibuild.attest.build.check made of sbom,
-- provenance and sign, the key loaded), definition= (what provenance names
-- as the build's definition, see ocibuild.attest.build.attach)}; ctx: an
-- ocibuild.ops.context (store, sinks, policy). Returns {image_id=,
-- digest=, size=, path=, tags=, manifest=, archive=, layers=, images=,
-- attestations=, signed=}.
function M.save(img, opts, ctx)
  local refs = opts.tag or {}
  local err, code, ok
  local archive_path = opts.archive
  local out
  if archive_path then
    out, err, code = require("ocibuild.endpoint.archive").new(archive_path, { mtime = img.sde or 0 })
    if not out then return nil, err, code end
  end
  local jobs
  jobs, err, code = env.default_jobs()
  if not jobs then return nil, err, code end
  local st
  if img.store_dir then
    st, err, code = store_mod.open(path.abs(img.store_dir, img.base), { create = true })
  else
    st, err, code = ctx:open_store { create = true }
  end
  if not st then return nil, err, code end
  if archive_path and archive_path ~= "-" then
    -- again, now that the store exists: an output is never inside it
    ok, err, code = output.check(archive_path, true)
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
  local built, where, actx
  local aspec = opts.attest
  local attest = aspec and require("ocibuild.attest.build") -- only for saves that ask
  local started = os.time()
  if aspec then
    actx, err, code = attest.context(aspec)
    if aspec.sbom and not actx then return nil, err, code end
  end
  built, err, code, where = img:build(st, { jobs = jobs, skip = M.skip(st.dir, archive_path),
    cache = opts.cache, cache_from = opts.cache_from, made = opts.made, registry = opts.registry,
    policy = ctx.policy, created = created, attest = actx,
    on_event = ctx:sink(), warn = function(msg) ctx:say(msg) end })
  if built and aspec then
    built, err, code = attest.attach(st, built, aspec, { tags = refs, started = started, finished = os.time(),
      epoch = img.sde, definition = opts.definition or img.definition or { kind = "flags", context = img.base } },
      created)
  end
  -- The archive before the tags: a save that fails to write it leaves
  -- the store as it was.
  ok = built ~= nil
  if built and out then ok, err, code = M.write_archive(st, built.desc, refs, out, ctx.on_event) end
  -- No tag: the image is listed untagged (`<none>`) until prune.
  if ok then
    ok, err, code = st:tag(built.desc, refs)
    if not ok and out and archive_path ~= "-" then os.remove(archive_path) end
  end
  if not built or not ok then
    -- a failed save leaves the store as it was
    require("ocibuild.store.prune").rollback(st, hold, created)
    return nil, err, code, where
  end
  local result = { image_id = built.image_id, digest = built.desc.digest, size = built.size,
    path = st.dir, tags = refs, manifest = built.desc, layers = built.layers, images = built.images,
    attestations = built.attestations }
  for _, w in ipairs(built.warnings or {}) do ctx:say(w) end
  if aspec and aspec.sign and #refs > 0 then
    result.signed, err, code = attest.sign_store(st, built.desc, refs, aspec)
    if not result.signed then return nil, err, code end
  end
  if out then result.archive = archive_path end
  events.emit(ctx.on_event, { type = "end", stage = "image", id = id, digest = result.digest,
    image_id = result.image_id, size = result.size, tags = tags, store = st.dir, path = result.archive })
  return result
end

return M
