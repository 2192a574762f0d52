--- Images as build scripts describe them: a base (or none), layers from
-- directories, files and removals, labels, config, annotations; then
-- `build` loads the base, plans every layer on what the image holds
-- (ocibuild.build.plan: every conflict is found before a layer is
-- written), writes the layers, the config and the manifest into a store
-- and returns the manifest's descriptor. Tagging, pushing and exporting
-- are the caller's (ocibuild.build.save).
-- Internal: functions return nil, msg, code; ocibuild (init.lua) raises.
local check = require "ocibuild.util.check"
local config = require "ocibuild.build.config"
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local env = require "ocibuild.util.env"
local events = require "ocibuild.events"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local path = require "ocibuild.util.path"
local perm = require "ocibuild.build.perm"
local plan = require "ocibuild.build.plan"
local platform = require "ocibuild.oci.platform"
local srcfs = require "ocibuild.build.srcfs"
local view = require "ocibuild.build.view"

-- Loaded only when an image has a base, files or layers.
local function base_mod() return require "ocibuild.build.base" end
local function files() return require "ocibuild.build.files" end
local function layer() return require "ocibuild.build.layer" end

local M = {}
M.__index = M

M.OPTIONS = { "platform", "store", "created", "from", "annotations" }

M.BASE_NAME = "org.opencontainers.image.base.name"
M.BASE_DIGEST = "org.opencontainers.image.base.digest"

--- A new image. opts: {platform=, store=, created= (epoch seconds),
-- from= (a base reference, see ocibuild.locate), annotations=};
-- base: the folder relative paths resolve against; where: the script's
-- line, for errors about the base.
function M.new(opts, base, where)
  opts = opts or {}
  local ok, err = check.keys(opts, M.OPTIONS, "image")
  if not ok then return nil, err, "BADVALUE" end
  local p
  if opts.platform ~= nil then
    p, err = platform.parse(opts.platform)
    if not p then return nil, err, "BADPLATFORM" end
  end
  local sde, code
  sde, err, code = env.source_date_epoch()
  if err then return nil, err, code end
  if opts.created ~= nil and (math.type(opts.created) ~= "integer" or opts.created < 0
    or opts.created > env.MAX_TIME) then
    return nil, ("created must be an integer of seconds from 0 to %d"):format(env.MAX_TIME), "BADVALUE"
  end
  if opts.store ~= nil and type(opts.store) ~= "string" then return nil, "store must be a path", "BADVALUE" end
  if opts.from ~= nil and (type(opts.from) ~= "string" or opts.from == "") then
    return nil, ("from must be an image reference, got %s"):format(check.show(opts.from)), "BADVALUE"
  end
  local img = setmetatable({
    base = base or path.cwd(),
    platform = p,
    from = opts.from,
    where = where,
    created = opts.created or sde or 0,
    sde = sde,
    store_dir = opts.store,
    steps = {},
    labels = {},
    annotations = {},
    cfg = config.new(),
  }, M)
  if opts.annotations ~= nil then
    ok, err = config.annotations(img.annotations, opts.annotations)
    if not ok then return nil, err, "BADVALUE" end
  end
  return img
end

--- Adds a layer from a directory (see ocibuild.build.layer for the spec).
function M:layer(spec, where)
  local l, err, code = layer().spec(spec, self.base, where)
  if not l then return nil, err, code end
  self.steps[#self.steps + 1] = { kind = "context", l = l, where = where }
  return self
end

-- The layer of files and removals that calls go to: the last step when it
-- is one, else a new one.
local function generated(self, where)
  local s = self.steps[#self.steps]
  if not s or s.kind ~= "generated" then
    s = { kind = "generated", files = {}, removes = {}, where = where, l = layer().generated(where) }
    self.steps[#self.steps + 1] = s
  end
  return s
end

--- Adds a single file (see ocibuild.build.files).
function M:file(spec, where)
  local f, err, code = files().file(spec, self.base)
  if not f then return nil, err, code end
  f.where = where
  table.insert(generated(self, where).files, f)
  return self
end

--- Removes paths of the base (see ocibuild.build.files).
function M:remove(list, where)
  local rs, err = files().remove(list)
  if not rs then return nil, err, "BADVALUE" end
  local s = generated(self, where)
  for _, r in ipairs(rs) do
    r.where = where
    s.removes[#s.removes + 1] = r
  end
  return self
end

--- Adds a layer of selected sources (see ocibuild.build.copy): files of
-- a context folder or of another image, fetched files, given contents.
function M:copy(spec, where)
  local c, err, code = require("ocibuild.build.copy").spec(spec, where) -- Dockerfile COPY and ADD only
  if not c then return nil, err, code end
  self.steps[#self.steps + 1] = { kind = "copy", copy = c, where = where }
  return self
end

--- Adds a layer holding the folder spec.path and the parents the image
-- lacks, 0755, owned by spec.user ("user[:group]", names looked up in the
-- image; an unknown name is id 0, with a warning, as BuildKit does).
-- spec.created_by and spec.comment: its history entry.
function M:mkdir(spec, where)
  if type(spec) ~= "table" or type(spec.path) ~= "string" or spec.path:sub(1, 1) ~= "/" then
    return nil, "mkdir needs { path = <absolute path> }", "BADVALUE"
  end
  local bad = config.utf8_check(spec.path, "mkdir") or config.utf8_check(spec.created_by, "mkdir: created_by")
    or config.utf8_check(spec.comment, "mkdir: comment")
  if bad then return nil, bad, "BADVALUE" end
  local comps = view.split(spec.path)
  for _, c in ipairs(comps) do
    if c == ".." or c:sub(1, 4) == ".wh." then
      return nil, ("mkdir: bad path %s"):format(check.show(spec.path)), "BADVALUE"
    end
  end
  self.steps[#self.steps + 1] = { kind = "mkdir", path = spec.path, comps = comps, user = spec.user,
    created_by = spec.created_by, comment = spec.comment, where = where }
  return self
end

--- Adds a history entry of no layer ({created_by=, comment=}), after
-- what the image has so far.
function M:history(h)
  if type(h) ~= "table" or (h.created_by ~= nil and type(h.created_by) ~= "string")
      or (h.comment ~= nil and type(h.comment) ~= "string") then
    return nil, "history needs { created_by = \"...\", comment = \"...\" }", "BADVALUE"
  end
  local bad = config.utf8_check(h.created_by, "history: created_by") or config.utf8_check(h.comment, "history: comment")
  if bad then return nil, bad, "BADVALUE" end
  self.steps[#self.steps + 1] = { kind = "history", created_by = h.created_by, comment = h.comment }
  return self
end

-- The setters of ocibuild.build.config, as methods: label(k, v) sets one
-- label, set_labels(t) several, config(t) config fields, annotate(t)
-- manifest annotations. Each returns the image, or nil, msg, "BADVALUE".
for name, set in pairs {
  label = function(self, k, v) return config.label(self.labels, k, v) end,
  set_labels = function(self, t) return config.set_labels(self.labels, t) end,
  config = function(self, t) return config.set(self.cfg, t, self.labels) end,
  annotate = function(self, t) return config.annotations(self.annotations, t) end,
} do
  M[name] = function(self, ...)
    local ok, err = set(self, ...)
    if not ok then return nil, err, "BADVALUE" end
    return self
  end
end

-- The manifest's annotations: the base's name and digest, then the script's.
function M:manifest_annotations(b)
  local a = {}
  if self.base_annotation ~= nil then b = self.base_annotation or nil end
  if b then
    a[M.BASE_NAME] = b.name
    a[M.BASE_DIGEST] = b.digest
  end
  for k, v in pairs(self.annotations) do
    a[k] = v == true and doc.rfc3339(self.created) or v
  end
  return a
end

-- The base (loaded and verified) and the view of what it holds, when a
-- layer needs it. Returns base (or false), view.
--- The base from (loaded once per build: ctx.bases caches them by
-- reference and platform). Returns base.load's record.
function M.load_base(from, st, ctx, want, dir)
  ctx.bases = ctx.bases or {}
  local key = from .. "|" .. (want and platform.format(want) or "")
  if ctx.bases[key] then return ctx.bases[key] end
  local b, err, code = base_mod().load(from, st, { platform = want, host = platform.host(), dir = dir,
    registry = ctx.registry, on_event = ctx.on_event, policy = ctx.policy })
  if not b then return nil, err, code end
  ctx.bases[key] = b
  return b
end

-- Notes the base b as one the image being built uses (its provenance
-- lists them).
local function used(ctx, b)
  local list = ctx.used_bases
  for _, x in ipairs(list or {}) do
    if x == b then return b end
  end
  if list then list[#list + 1] = b end
  return b
end

local function load_base(self, st, ctx, steps)
  local v = view.new()
  if not self.from then return false, v end
  local b, err, code = M.load_base(self.from, st, ctx, self.base_platform or self.platform, self.base)
  if not b then return nil, err, code end
  used(ctx, b)
  if ctx.attest then
    -- what the base holds, from one read of each layer (or the store's
    -- notes), which verifies the blob too
    local ok
    ok, err, code = require("ocibuild.attest.build").base(b, st, ctx.attest)
    if not ok then return nil, err, code end
  end
  local need = false
  for _, s in ipairs(steps) do need = need or plan.needs_view(s) end
  local lists
  lists, err, code = base_mod().verify(b, st, need)
  if not lists then return nil, err, code end
  for i, list in ipairs(need and lists or {}) do v:add_base_layer(list, b.layers[i].digest) end
  return b, v
end

-- The size past which some registries refuse a config (E40): 1 MiB.
-- (Documents over 4 MiB are never written: see doc.fits.)
M.MAX_CONFIG = 1 << 20

--- Warns through on_event about a config (its size in bytes) that
-- registries may refuse. Never fails.
function M.check_size(config_size, on_event)
  if config_size > M.MAX_CONFIG then
    events.emit(on_event, { type = "warning", message = ("the image config has %d bytes, more than %d MiB: "
      .. "registries may refuse it"):format(config_size, M.MAX_CONFIG >> 20) })
  end
end

-- The systems whose images take the layers ocibuild writes (plain tars
-- of a root file system): Linux, and FreeBSD, whose container runtimes
-- read the same layers. A Windows layer is another format.
M.LAYER_OS = { linux = true, freebsd = true }

--- Checks that ocibuild may write layers for the platform p. Returns
-- true, or nil, why (naming the platform), "LAYEROS".
function M.check_layer_os(p)
  if M.LAYER_OS[p.os] then return true end
  return nil, ("platform %s: ocibuild writes Linux-style tar layers%s: build for linux or freebsd"):format(
    platform.format(p), p.os == "windows" and " (a Windows layer keeps its files under Files/ and needs registry hives)"
    or ""), "LAYEROS"
end

--- Builds the image into the store st (held with st:use() by the
-- caller). ctx: {jobs=, skip={paths}, cache=, registry=, on_event=, warn=,
-- created={} (gets the digest of each blob that was not in the store
-- before, so that a failure can take them back)}: each layer is a stage
-- (start, progress, end events; see ocibuild.events). Returns {desc=
-- (the manifest's descriptor, with platform), image_id=, size= (bytes of
-- every blob), layers={job results}, platform=}; on failure the third and
-- fourth results are the code and the `where` of the call at fault.
-- A temp folder for the files a build extracts (made when first needed)
-- in the store's temp folder, flock'ed while the build runs: a killed
-- build's folder is removed by the next build's or prune's sweep. path()
-- names a new file in it, add(p [, forget]) records one (and a function
-- clean calls: a source fs kept for a later build of the same ctx, the
-- next stage's, must not take the file for there), clean() removes all.
local function scratch(st)
  local t = { files = {}, forget = {} }
  function t:path()
    if not self.dir then
      self.dir, self.lock = assert(st.core:temp_dir("build-"))
    end
    self.n = (self.n or 0) + 1
    return ("%s/%d"):format(self.dir, self.n)
  end
  function t:add(p, forget)
    self.files[#self.files + 1] = p
    self.forget[#self.forget + 1] = forget
  end
  function t:clean()
    for _, p in ipairs(self.files) do core.unlink(p) end
    for _, f in ipairs(self.forget) do f() end
    self.forget = {}
    if self.dir then
      core.rmdir(self.dir)
      self.lock:close()
    end
    self.files, self.dir, self.lock = {}, nil, nil
  end
  return t
end

-- The source file system of a copy step: its context, or the image it
-- names (loaded once per build).
local function source_fs(self, s, st, ctx)
  local c = s.copy
  if c.context then return srcfs.host(c.context, c.matcher, ctx.skip) end
  if not c.from then return nil end
  ctx.fss = ctx.fss or {}
  local want = c.platform or self.platform or platform.host()
  local key = c.from .. "|" .. platform.format(want)
  if ctx.fss[key] then
    used(ctx, ctx.fss[key].from_base)
    return ctx.fss[key]
  end
  local b, err, code = M.load_base(c.from, st, ctx, want, self.base)
  if not b then return nil, err, code end
  used(ctx, b)
  local ok
  ok, err, code = base_mod().verify(b, st, false)
  if not ok then return nil, err, code end
  local fs
  fs, err, code = srcfs.image(st, b.layers, "image " .. c.from)
  if not fs then return nil, err, code end
  fs.from_base = b
  ctx.fss[key] = fs
  return fs
end

-- What plan() needs to plan copy and mkdir steps.
local function plan_ctx(self, st, ctx, v, tmp)
  local function read(comps) return v:read(comps, st) end
  local warn = ctx.warn or function() end
  return {
    sde = self.sde, warn = ctx.warn,
    copy = function(s)
      local fs, err, code = source_fs(self, s, st, ctx)
      if err then return nil, err, code end
      return { mt = self.sde or 0, warn = warn, fs = fs, tmp = tmp, read = read,
        fetch = function(url, checksum)
          return require("ocibuild.build.fetch").fetch(st, url, checksum, ctx.registry, ctx.policy and ctx.policy.fetch)
        end }
    end,
    owner = function(s)
      if not s.user or s.user == "" then return 0, 0 end
      local uid, gid = perm.owner(s.user, function(kind) return read({ "etc", kind }) end, false,
        function(msg) warn(("%s: %s %s: %s"):format(s.where or "mkdir", "user", s.user, msg)) end)
      return uid or 0, gid or 0
    end,
  }
end

-- The layer record for a copy step: a folder walked by the core, or
-- only the planned entries.
local function copy_layer(p)
  local f = p.fast
  if not f then return layer().generated() end
  return { context = f.root, match_base = f.match_base, matcher = f.matcher, patterns = f.patterns,
    prefix = f.prefix, dest = "/" .. f.prefix, mode = "keep", mtime = "fixed", owner = f.owner,
    rules = f.rules and assert(require("ocibuild.build.rules").check(f.rules, "copy")), compression = "gzip",
    level = layer().GZIP_LEVEL, display = f.display }
end

--- Builds the image into the store st (held with st:use() by the
-- caller). ctx: {jobs=, skip={paths}, cache=, cache_from=, made= (see
-- ocibuild.build.layer), registry=, policy=, on_event=, warn=,
-- created={} (gets the digest of each blob that was not in the store
-- before, so that a failure can take them back)}: each layer is a stage
-- (start, progress, end events; see ocibuild.events). Returns {desc=
-- (the manifest's descriptor, with platform), image_id=, size= (bytes of
-- every blob), layers={job results}, platform=}; on failure the third and
-- fourth results are the code and the `where` of the call at fault.
function M:build(st, ctx)
  local tmp = scratch(st)
  local r = table.pack(self:build_in(st, ctx, tmp))
  tmp:clean()
  return table.unpack(r, 1, r.n)
end

function M:build_in(st, ctx, tmp)
  if self.deferred then
    local ok, err, code, where = self:deferred(st, ctx)
    if not ok then return nil, err, code, where end
  end
  ctx.used_bases = {}
  local steps = self.steps
  if self.df_steps then
    steps = table.move(self.df_steps, 1, #self.df_steps, 1, {})
    table.move(self.steps, 1, #self.steps, #steps + 1, steps)
  end
  local b, v, code = load_base(self, st, ctx, steps)
  if not b and b ~= false then return nil, v, code, self.where end
  local p = self.platform or (b and b.platform) or platform.host()
  if #steps > 0 then
    local ok, why = M.check_layer_os(p)
    if not ok then return nil, why, "LAYEROS", steps[1].where or self.where end
  end
  local plans, err, where
  plans, err, code, where = plan.plan(steps, v, plan_ctx(self, st, ctx, v, tmp))
  if not plans then return nil, err, code, where end
  for _, fs in pairs(ctx.fss or {}) do
    local ok
    ok, err, code = fs:extract(tmp)
    if not ok then return nil, err, code, self.where end
  end
  local cc
  local base_cfg = self.config_base or (b and b.config.config)
  if not self.config_base and type(base_cfg) == "table" and json.is_array(base_cfg.OnBuild) and #base_cfg.OnBuild > 0
      and self.cfg.onbuild == nil then
    -- a base's ONBUILD triggers run in a Dockerfile build FROM it, then go
    -- (BuildKit); passed on from a build that does not run them, they
    -- would never run where they were meant to
    if ctx.warn then
      ctx.warn(("base image %s has %d ONBUILD trigger%s, which only a Dockerfile build runs: this image does not "
        .. "carry them"):format(self.from, #base_cfg.OnBuild, #base_cfg.OnBuild == 1 and "" or "s"))
    end
    local without = {}
    for k, x in pairs(base_cfg) do without[k] = x end
    without.OnBuild = nil
    base_cfg = without
  end
  cc, err = config.merge(base_cfg, self.cfg, self.labels)
  if not cc then return nil, ("base image %s: %s"):format(self.from, err), "BADDOC", self.where end
  local layer_descs, history, results = {}, {}, {}
  local total = 0
  for _, l in ipairs(b and b.layers or {}) do
    layer_descs[#layer_descs + 1] = base_mod().layer_desc(l)
    total = total + l.size
  end
  local lctx = { sde = self.sde, jobs = ctx.jobs, skip = ctx.skip, cache = ctx.cache, cache_from = ctx.cache_from,
    made = ctx.made, catalog = ctx.attest and ctx.attest.settings }
  local n = 0
  for _, s in ipairs(steps) do
    if s.kind ~= "history" then n = n + 1 end
  end
  local i = 0
  for k, s in ipairs(steps) do
    if s.kind == "history" then
      history[#history + 1] = { created_by = s.created_by, comment = s.comment }
    else
      i = i + 1
      local l = s.l
      if s.kind == "copy" then
        l = copy_layer(plans[k])
      elseif s.kind == "mkdir" then
        l = layer().generated(s.where)
      end
      for _, it in ipairs(plans[k].items) do
        if it.want then it.path, it.want = it.want.path, nil end
      end
      local id = ("layer %d/%d"):format(i, n)
      events.emit(ctx.on_event, { type = "start", stage = "layer", id = id, index = i, count = n,
        context = not l.generated and l.context or nil, dest = l.dest })
      lctx.on_event = events.tagged(ctx.on_event, { stage = "layer", id = id })
      local r
      r, err, code = layer().run(l, st, lctx, plans[k].items)
      if not r then return nil, err, code, s.where end
      if r.created and ctx.created then ctx.created[#ctx.created + 1] = r.digest end
      events.emit(ctx.on_event, { type = "end", stage = "layer", id = id, index = i, digest = r.digest,
        diff_id = r.diff_id, size = r.size, bytes = r.tar_size, entries = r.entries, reused = r.reused,
        whole = r.whole, cache = r.cache and r.cache.ref, saved = r.cache and r.cache.saved,
        fetched = r.cache and r.cache.fetched })
      results[#results + 1] = r
      history[#history + 1] = { diff_id = r.diff_id, created_by = plans[k].created_by or s.created_by,
        comment = plans[k].comment or s.comment }
      layer_descs[#layer_descs + 1] = doc.descriptor(media.LAYER[l.compression], r.digest, r.size)
      total = total + r.size
    end
  end
  local cdoc = doc.config { platform = p, created = self.created, config = cc, base = b and b.config,
    layers = history, author = self.author }
  local ok, ctext = pcall(doc.encode, cdoc)
  if not ok then return nil, ("the image config cannot be written: %s"):format(ctext), "BADDOC", self.where end
  -- what its own reader (and a registry) would refuse is never stored
  ok, err, code = doc.fits("config", cdoc, ctext)
  if not ok then return nil, err, code, self.where end
  local cdigest, csize, cnew = st:put_blob(ctext)
  if not cdigest then return nil, csize, cnew end
  if cnew and ctx.created then ctx.created[#ctx.created + 1] = cdigest end
  local mdoc = doc.manifest(doc.descriptor(media.CONFIG, cdigest, csize), json.array(layer_descs),
    self:manifest_annotations(b))
  local mtext = doc.encode(mdoc)
  ok, err, code = doc.fits("manifest", mdoc, mtext)
  if not ok then return nil, err, code, self.where end
  local mdigest, msize, mnew = st:put_blob(mtext)
  if not mdigest then return nil, msize, mnew end
  if mnew and ctx.created then ctx.created[#ctx.created + 1] = mdigest end
  M.check_size(#ctext, ctx.on_event)
  local desc = doc.descriptor(media.MANIFEST, mdigest, msize, {
    platform = json.object { os = p.os, architecture = p.architecture, variant = p.variant } })
  return { desc = desc, image_id = cdigest, size = total + csize + msize, layers = results, platform = p,
    base = b or nil, bases = ctx.used_bases }
end

return M
