--- Layers from directories: a layer spec is checked once, when a script
-- calls `layer` (so a mistake points at that line), into a record holding
-- the compiled exclusion matcher; `run` turns it into core objects (a tar
-- policy, a codec) and runs the core's layer job into a store.
-- Functions return nil, msg, code on failure.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local events = require "ocibuild.events"
local ignore = require "ocibuild.build.ignore"
local media = require "ocibuild.oci.media"
local path = require "ocibuild.util.path"
local rules = require "ocibuild.build.rules"
local version = require "ocibuild.util.version"

local M = {}

--- The options a layer takes, for checks, `--help` and the CLI.
M.OPTIONS = { "context", "dest", "exclude", "ignorefile", "mode", "mtime", "owner",
  "compression", "level", "jobs", "rules", "replace" }

-- gzip level 5: as small as `gzip -6` (0.5% smaller on a tar of /usr, 0.3%
-- larger on the bench's mixed tree) for 10-20% less CPU than level 6;
-- level 4 is faster still but 1.8% larger than `gzip -6` on /usr.
M.GZIP_LEVEL = 5
M.ZSTD_LEVEL = 3

local function enum(v, name, allowed, default)
  if v == nil then return default end
  for _, a in ipairs(allowed) do
    if v == a then return v end
  end
  return nil, ("%s must be one of %s, got %s"):format(name, table.concat(allowed, ", "), check.show(v)), "BADVALUE"
end

--- Cleans a destination inside the image: "/usr/share/site/" ->
-- "usr/share/site/", "/" -> "". Returns it, or nil and why.
function M.dest_prefix(dest)
  if not check.abs_path(dest) then
    return nil, ("dest must be an absolute path in the image, got %s"):format(check.show(dest)), "BADVALUE"
  end
  local parts = {}
  for comp in dest:gmatch("[^/]+") do
    if comp == ".." then return nil, ("dest must not contain '..', got %s"):format(check.show(dest)), "BADVALUE" end
    if comp:sub(1, 4) == ".wh." then
      return nil, ("dest %s has a component starting with .wh., which would be read as a whiteout")
        :format(check.show(dest)), "BADVALUE"
    end
    if comp ~= "." then parts[#parts + 1] = comp end
  end
  if #parts == 0 then return "" end
  return table.concat(parts, "/") .. "/"
end

--- "UID:GID" or "keep" checked: each id below 4294967295 (-1 means "no
-- change" to the kernel). Returns the string, or nil and why.
function M.check_owner(owner)
  if owner == "keep" then return owner end
  local u, g = tostring(owner):match("^(%d+):(%d+)$")
  local uid, gid = u and #u <= 10 and tonumber(u), g and #g <= 10 and tonumber(g)
  if not uid or not gid or uid > 4294967294 or gid > 4294967294 then
    return nil, ("owner must be \"keep\" or \"UID:GID\" with ids from 0 to 4294967294, got %s")
      :format(check.show(owner)), "BADVALUE"
  end
  return ("%d:%d"):format(uid, gid)
end

-- Patterns for a layer: the ignore file (default <context>/.dockerignore,
-- `false` for none; a list from ocibuild.ignorefile replaces it), then the
-- `exclude` patterns.
local function patterns(context, spec, base)
  local list, extra = {}, spec.exclude or {}
  if type(extra) ~= "table" then return nil, "exclude must be a list of patterns", "BADVALUE" end
  if extra.entries then
    list, extra = extra.entries, {}
  else
    local file = spec.ignorefile
    if file == nil then file = context .. "/.dockerignore" end
    if file then
      if type(file) ~= "string" then return nil, "ignorefile must be a path or false", "BADVALUE" end
      local err, code
      list, err, code = ignore.read(path.abs(file, base), file == context .. "/.dockerignore" and context)
      if not list then return nil, err, code end
    end
  end
  local ok, err = check.strings(extra, "exclude")
  if not ok then return nil, err, "BADVALUE" end
  return ignore.compile(list, extra)
end

--- Checks a layer spec (see OPTIONS) against base, the folder relative
-- paths resolve against. Returns the layer record.
function M.spec(spec, base, where)
  if type(spec) ~= "table" then return nil, "layer needs a table with context = <directory>", "BADVALUE" end
  local ok, err = check.keys(spec, M.OPTIONS, "layer")
  if not ok then return nil, err, "BADVALUE" end
  local code
  if type(spec.context) ~= "string" then return nil, "layer needs a table with context = <directory>", "BADVALUE" end
  local context = path.abs(spec.context, base)
  local st
  st, err, code = core.stat(context)
  if not st then
    if code == "ENOENT" then return nil, ("context %s does not exist"):format(context), code end
    return nil, ("context %s: %s"):format(context, err), code
  end
  if st.type ~= "dir" then return nil, ("context %s is not a directory"):format(context), "ENOTDIR" end
  local l = { context = context, where = where }
  l.prefix, err = M.dest_prefix(spec.dest or "/")
  if not l.prefix then return nil, err, "BADVALUE" end
  l.dest = "/" .. l.prefix
  l.mode, err = enum(spec.mode, "mode", { "keep", "normalize" }, "keep")
  if err then return nil, err, "BADVALUE" end
  l.mtime, err = enum(spec.mtime, "mtime", { "fixed", "keep" }, "fixed")
  if err then return nil, err, "BADVALUE" end
  l.compression, err = enum(spec.compression, "compression", { "gzip", "zstd", "none" }, "gzip")
  if err then return nil, err, "BADVALUE" end
  local maxlevel = l.compression == "zstd" and 19 or 9
  l.level = spec.level or (l.compression == "zstd" and M.ZSTD_LEVEL or M.GZIP_LEVEL)
  if math.type(l.level) ~= "integer" or l.level < 1 or l.level > maxlevel then
    return nil, ("level must be an integer from 1 to %d for %s, got %s"):format(maxlevel, l.compression,
      check.show(spec.level)), "BADVALUE"
  end
  l.owner, err = M.check_owner(spec.owner or "0:0")
  if not l.owner then return nil, err, "BADVALUE" end
  if spec.jobs ~= nil and (math.type(spec.jobs) ~= "integer" or spec.jobs < 1 or spec.jobs > 256) then
    return nil, ("jobs must be an integer from 1 to 256, got %s"):format(check.show(spec.jobs)), "BADVALUE"
  end
  l.jobs = spec.jobs
  if spec.rules ~= nil then
    l.rules, err = rules.check(spec.rules, "layer")
    if not l.rules then return nil, err, "BADVALUE" end
  end
  if spec.replace ~= nil and type(spec.replace) ~= "boolean" then
    return nil, ("replace must be true or false, got %s"):format(check.show(spec.replace)), "BADVALUE"
  end
  l.replace = spec.replace or false
  local m, pats
  m, err, pats = patterns(context, spec, base)
  if not m then return nil, err, pats end
  l.matcher, l.patterns = m, pats
  return l
end

--- The core objects for a layer record l. ctx: {sde= (SOURCE_DATE_EPOCH or
-- nil), jobs=}.
function M.objects(l, ctx)
  local policy, err, code = core.tar_policy {
    prefix = l.prefix, display = l.display or l.context, mtime = ctx.sde or 0,
    keep_mtime = l.mtime == "keep", clamp = l.mtime == "keep" and ctx.sde ~= nil,
    owner = l.owner, mode = l.mode, rules = l.rules,
  }
  if not policy then return nil, err, code end
  local codec = core.codec { kind = l.compression, level = l.level, threads = l.jobs or ctx.jobs }
  return policy, codec
end

--- A layer record for generated entries only (files, whiteouts), with
-- the default compression. where: the script line that made it.
function M.generated(where)
  return { generated = true, prefix = "", context = "(generated)", mode = "keep", mtime = "fixed",
    owner = "0:0", compression = "gzip", level = M.GZIP_LEVEL, where = where }
end

-- Bumped whenever a layer's bytes come to depend on something new.
local STATE_FORMAT = 2

-- A canonical text for v (any mix of keys), for the state's description.
local function canon(v)
  if type(v) ~= "table" then return ("%s:%s"):format(type(v), tostring(v)) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y)
    if type(x) ~= type(y) then return type(x) < type(y) end
    return x < y
  end)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = ("%q=%s"):format(tostring(k), canon(v[k])) end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- The name of a layer's state in the store (what its last build saw, so a
-- rebuild reads only what changed): a digest of everything the layer's
-- bytes depend on besides the files themselves, so that another context,
-- destination, exclusion list, header policy, rules, generated entries,
-- codec or library version never uses a state it does not match. nil when
-- the layer has no context, or takes a file's bytes from outside it.
function M.state_id(l, ctx, codec, items)
  if l.generated then return nil end
  local root = core.realpath(l.context) or l.context
  -- a context unpacked from a tar stream (ocibuild.build.tarctx) is a new
  -- folder each time: a state of it would never be read
  if root:match("/%.ocibuild%-tmp/context%-[^/]*$") then return nil end
  for _, it in ipairs(items or {}) do
    if it.path then return nil end
  end
  local v = core.versions()
  local desc = canon {
    format = STATE_FORMAT, root = root, prefix = l.prefix, base = l.match_base,
    mtime = ctx.sde or 0, mtime_mode = l.mtime, owner = l.owner, mode = l.mode,
    patterns = l.patterns or {}, rules = l.rules or {}, items = items or {}, codec = codec:key(),
    libarchive = v.libarchive, ocibuild = version,
  }
  return (core.sha256():update(desc):digest():sub(8))
end

--- Builds layer l into the store st. ctx: {sde=, jobs=, skip={paths the
-- walk leaves out}, cache= (false: read no reuse record or layer state,
-- build everything), cache_from= (an ocibuild.registry.cache: a layer
-- from a context may come from it, see ocibuild.build.cache), made= (a
-- list that gets, for each layer from a context, {result=, codec=,
-- media_type=, record= (the shared cache's, when the blob is its)}),
-- catalog= (an ocibuild.attest.catalog settings: the layer's analysis is
-- learnt from the same pass), on_event=}; items: the entries written
-- before the walk (ocibuild.build.plan), or nil for every folder of the
-- destination. A record without a context writes only its items. Returns
-- the job's result (plain data): {diff_id=, digest=, size=, tar_size=,
-- made=, entries=, blocks=, reused=, whole=, cache=, analysis=}.
function M.run(l, st, ctx, items)
  local policy, codec, code = M.objects(l, ctx)
  if not policy then return nil, codec, code end
  local cat, c = ctx.catalog, nil
  local on_event = ctx.on_event
  if cat then
    -- what the layer holds, learnt from the same pass (ocibuild.attest.catalog)
    on_event = function(ev)
      if ev.type == "capture" then return c.add(ev) end
      if ctx.on_event then ctx.on_event(ev) end
    end
  end
  -- fresh: nothing taken from an earlier build (every file read again)
  local function make_job(fresh)
    if cat then c = require("ocibuild.attest.detect").collector() end
    return core.layer_job { root = not l.generated and l.context or nil, matcher = l.matcher,
      match_base = not l.generated and l.match_base or nil,
      store = st.core, policy = policy, codec = codec, reuse = not fresh and ctx.cache ~= false,
      skip = not fresh and not l.generated and ctx.skip or nil, items = items,
      state = M.state_id(l, ctx, codec, items), catalog = cat and cat.spec, catalog_key = cat and cat.key }
  end
  local r, err, rec
  -- generated layers (files, folders) are small: cheaper made than looked up
  if ctx.cache_from and ctx.cache ~= false and not l.generated then
    r, err, code = require("ocibuild.build.cache").run(make_job, { cache_from = ctx.cache_from,
      on_event = on_event }, codec, st)
    if r then rec, err = err, nil end
  else
    r, err, code = make_job():run(on_event)
  end
  if not r then return nil, err, code end
  if cat then
    local catalog = require "ocibuild.attest.catalog"
    r.analysis, err, code = catalog.layer(st, r, c, cat)
    if not r.analysis and code == "ENOENT" then
      -- entries were kept from an earlier build whose catalog is gone (a
      -- build stopped between the two): this one reads every file again
      events.emit(on_event, { type = "warning", message = err .. "; the layer is read again whole" })
      r, err, code = make_job(true):run(on_event)
      if not r then return nil, err, code end
      rec = nil -- the cache's record was of the first run's blob
      r.analysis, err, code = catalog.layer(st, r, c, cat)
    end
    if not r.analysis then return nil, err, code end
  end
  if ctx.made and not l.generated then
    ctx.made[#ctx.made + 1] = { result = r, codec = codec, media_type = media.LAYER[l.compression],
      record = rec }
  end
  return r
end

return M
