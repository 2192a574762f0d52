--- Images as build scripts describe them: a base (or none), layers from
-- directories, files and removals, labels, config, annotations; then
-- `build` loads the base, plans every layer on what the image holds
-- (ocibuild.build.plan: every conflict is found before a layer is
-- written), writes the layers, the config and the manifest into a store
-- and returns the manifest's descriptor. Tagging, pushing and exporting
-- are the caller's (ocibuild.build.save).
-- Internal: functions return nil, msg, code; ocibuild (init.lua) raises.
local check = require "ocibuild.build.check"
local config = require "ocibuild.build.config"
local doc = require "ocibuild.oci.doc"
local env = require "ocibuild.build.env"
local events = require "ocibuild.events"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local path = require "ocibuild.path"
local plan = require "ocibuild.build.plan"
local platform = require "ocibuild.oci.platform"
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
-- from= (a base reference, see ocibuild.source), annotations=};
-- base: the folder relative paths resolve against; where: the script's
-- line, for errors about the base.
function M.new(opts, base, where)
  opts = opts or {}
  local ok, err = check.keys(opts, M.OPTIONS, "image")
  if not ok then return nil, err end
  local p
  if opts.platform ~= nil then
    p, err = platform.parse(opts.platform)
    if not p then return nil, err end
  end
  local sde, code
  sde, err, code = env.source_date_epoch()
  if err then return nil, err, code end
  if opts.created ~= nil and (math.type(opts.created) ~= "integer" or opts.created < 0 or opts.created > env.MAX_TIME) then
    return nil, ("created must be an integer of seconds from 0 to %d"):format(env.MAX_TIME)
  end
  if opts.store ~= nil and type(opts.store) ~= "string" then return nil, "store must be a path" end
  if opts.from ~= nil and (type(opts.from) ~= "string" or opts.from == "") then
    return nil, ("from must be an image reference, got %s"):format(check.show(opts.from))
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
    if not ok then return nil, err end
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
  if not rs then return nil, err end
  local s = generated(self, where)
  for _, r in ipairs(rs) do
    r.where = where
    s.removes[#s.removes + 1] = r
  end
  return self
end

--- Sets one label.
function M:label(k, v)
  local ok, err = config.label(self.labels, k, v)
  if not ok then return nil, err end
  return self
end

--- Sets several labels from a table.
function M:set_labels(t)
  local ok, err = config.set_labels(self.labels, t)
  if not ok then return nil, err end
  return self
end

--- Sets config fields (see ocibuild.build.config).
function M:config(t)
  local ok, err = config.set(self.cfg, t, self.labels)
  if not ok then return nil, err end
  return self
end

--- Sets manifest annotations (see ocibuild.build.config.annotations).
function M:annotate(t)
  local ok, err = config.annotations(self.annotations, t)
  if not ok then return nil, err end
  return self
end

-- The manifest's annotations: the base's name and digest, then the script's.
function M:manifest_annotations(b)
  local a = {}
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
local function load_base(self, st, ctx)
  local v = view.new()
  if not self.from then return false, v end
  local b, err, code = base_mod().load(self.from, st, { platform = self.platform, host = platform.host(),
    dir = self.base, registry = ctx.registry, on_event = ctx.on_event })
  if not b then return nil, err, code end
  local need = false
  for _, s in ipairs(self.steps) do need = need or plan.needs_view(s) end
  local lists
  lists, err, code = base_mod().verify(b, st, need)
  if not lists then return nil, err, code end
  for _, list in ipairs(need and lists or {}) do v:add_base_layer(list) end
  return b, v
end

-- Sizes past which some registries refuse a document (E40): a config
-- over 1 MiB, a manifest over 4 MiB (the distribution spec's guidance).
M.MAX_CONFIG = 1 << 20
M.MAX_MANIFEST = 4 << 20

--- Warns through on_event about a config or manifest (sizes in bytes)
-- that registries may refuse. Never fails.
function M.check_sizes(config_size, manifest_size, on_event)
  local function warn(what, n, max)
    events.emit(on_event, { type = "warning", message = ("the image %s has %d bytes, more than %d MiB: "
      .. "registries may refuse it"):format(what, n, max >> 20) })
  end
  if config_size > M.MAX_CONFIG then warn("config", config_size, M.MAX_CONFIG) end
  if manifest_size > M.MAX_MANIFEST then warn("manifest", manifest_size, M.MAX_MANIFEST) end
end

--- Builds the image into the store st (held with st:use() by the
-- caller). ctx: {jobs=, skip={paths}, cache=, registry=, on_event=, warn=,
-- created={} (gets the digest of each blob that was not in the store
-- before, so that a failure can take them back)}: each layer is a stage
-- (start, progress, end events; see ocibuild.events). Returns {desc=
-- (the manifest's descriptor, with platform), image_id=, size= (bytes of
-- every blob), layers={job results}, platform=}; on failure the third and
-- fourth results are the code and the `where` of the call at fault.
function M:build(st, ctx)
  local b, v, code = load_base(self, st, ctx)
  if not b and b ~= false then return nil, v, code, self.where end
  local plans, err, where
  plans, err, code, where = plan.plan(self.steps, v, { sde = self.sde, warn = ctx.warn })
  if not plans then return nil, err, code, where end
  local p = self.platform or (b and b.platform) or platform.host()
  local cc
  cc, err = config.merge(b and b.config.config, self.cfg, self.labels)
  if not cc then return nil, ("base image %s: %s"):format(self.from, err), "BADDOC", self.where end
  local layer_descs, history, results = {}, {}, {}
  local total = 0
  for _, l in ipairs(b and b.layers or {}) do
    layer_descs[#layer_descs + 1] = base_mod().layer_desc(l)
    total = total + l.size
  end
  local lctx = { sde = self.sde, jobs = ctx.jobs, skip = ctx.skip, cache = ctx.cache }
  local n = #self.steps
  for i, s in ipairs(self.steps) do
    local id = ("layer %d/%d"):format(i, n)
    events.emit(ctx.on_event, { type = "start", stage = "layer", id = id, index = i, count = n,
      context = not s.l.generated and s.l.context or nil, dest = s.l.dest })
    lctx.on_event = events.tagged(ctx.on_event, { stage = "layer", id = id })
    local r
    r, err, code = layer().run(s.l, st, lctx, plans[i].items)
    if not r then return nil, err, code, s.where end
    if r.created and ctx.created then ctx.created[#ctx.created + 1] = r.digest end
    events.emit(ctx.on_event, { type = "end", stage = "layer", id = id, index = i, digest = r.digest,
      diff_id = r.diff_id, size = r.size, bytes = r.tar_size, entries = r.entries, reused = r.reused,
      whole = r.whole })
    results[i] = r
    history[i] = { diff_id = r.diff_id, created_by = plans[i].created_by }
    layer_descs[#layer_descs + 1] = doc.descriptor(media.LAYER[s.l.compression], r.digest, r.size)
    total = total + r.size
  end
  local ok, ctext = pcall(doc.encode, doc.config {
    platform = p, created = self.created, config = cc, base = b and b.config, layers = history,
  })
  if not ok then return nil, ("base image %s: its config cannot be written back: %s"):format(self.from, ctext),
    "BADDOC", self.where end
  local cdigest, csize, cnew = st:put_blob(ctext)
  if not cdigest then return nil, csize, cnew end
  if cnew and ctx.created then ctx.created[#ctx.created + 1] = cdigest end
  local mdoc = doc.manifest(doc.descriptor(media.CONFIG, cdigest, csize), json.array(layer_descs),
    self:manifest_annotations(b))
  local mtext = doc.encode(mdoc)
  local mdigest, msize, mnew = st:put_blob(mtext)
  if not mdigest then return nil, msize, mnew end
  if mnew and ctx.created then ctx.created[#ctx.created + 1] = mdigest end
  M.check_sizes(#ctext, #mtext, ctx.on_event)
  local desc = doc.descriptor(media.MANIFEST, mdigest, msize, {
    platform = json.object { os = p.os, architecture = p.architecture, variant = p.variant } })
  return { desc = desc, image_id = cdigest, size = total + csize + msize, layers = results, platform = p }
end

return M
