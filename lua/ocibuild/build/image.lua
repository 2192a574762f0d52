--- Images as build scripts describe them: layers from directories,
-- labels, config; then `build` writes the layers, the config and the
-- manifest into a store and returns the manifest's descriptor. Tagging,
-- pushing and exporting are the caller's (ocibuild.build.save).
-- Internal: functions return nil, msg, code; ocibuild (init.lua) raises.
local check = require "ocibuild.build.check"
local config = require "ocibuild.build.config"
local doc = require "ocibuild.oci.doc"
local env = require "ocibuild.build.env"
local events = require "ocibuild.events"
local layer = require "ocibuild.build.layer"
local media = require "ocibuild.oci.media"
local path = require "ocibuild.path"
local platform = require "ocibuild.oci.platform"

local M = {}
M.__index = M

M.OPTIONS = { "platform", "store", "created" }

--- A new image. opts: {platform=, store=, created= (epoch seconds)};
-- base: the folder relative paths resolve against.
function M.new(opts, base)
  opts = opts or {}
  local ok, err = check.keys(opts, M.OPTIONS, "image")
  if not ok then return nil, err end
  local p = platform.host()
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
  return setmetatable({
    base = base or path.cwd(),
    platform = p,
    created = opts.created or sde or 0,
    sde = sde,
    store_dir = opts.store,
    layers = {},
    labels = {},
    cfg = {},
  }, M)
end

--- Adds a layer (see ocibuild.build.layer for the spec).
function M:layer(spec, where)
  local l, err, code = layer.spec(spec, self.base, where)
  if not l then return nil, err, code end
  self.layers[#self.layers + 1] = l
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
  if type(t) ~= "table" then return nil, "labels needs a table of strings" end
  for k, v in pairs(t) do
    local ok, err = config.label(self.labels, k, v)
    if not ok then return nil, err end
  end
  return self
end

--- Sets config fields (see ocibuild.build.config).
function M:config(t)
  local ok, err = config.set(self.cfg, t)
  if not ok then return nil, err end
  return self
end

--- Builds the image into the store st (held with st:use() by the
-- caller). ctx: {jobs=, skip={paths}, on_event=}: each layer is a stage
-- (start, progress, end events; see ocibuild.events). Returns {desc=
-- (the manifest's descriptor, with platform), image_id=, size= (bytes of
-- every blob), layers={job results}}; on a layer's failure the third and
-- fourth results are the code and the layer's `where`.
function M:build(st, ctx)
  local layer_descs, history, results = {}, {}, {}
  local total = 0
  local lctx = { sde = self.sde, jobs = ctx.jobs, skip = ctx.skip, reuse = ctx.reuse }
  local n = #self.layers
  for i, l in ipairs(self.layers) do
    local id = ("layer %d/%d"):format(i, n)
    events.emit(ctx.on_event, { type = "start", stage = "layer", id = id, index = i, count = n,
      context = l.context, dest = l.dest })
    lctx.on_event = events.tagged(ctx.on_event, { stage = "layer", id = id })
    local r, err, code = layer.run(l, st, lctx)
    if not r then return nil, err, code, l.where end
    events.emit(ctx.on_event, { type = "end", stage = "layer", id = id, index = i, digest = r.digest,
      diff_id = r.diff_id, size = r.size, bytes = r.tar_size, entries = r.entries, reused = r.reused,
      whole = r.whole })
    results[i] = r
    history[i] = { diff_id = r.diff_id, created_by = "ocibuild layer " .. l.dest }
    layer_descs[i] = doc.descriptor(media.LAYER[l.compression], r.digest, r.size)
    total = total + r.size
  end
  local c = self.cfg
  local cdoc = doc.config {
    platform = self.platform, created = self.created, labels = self.labels,
    env = c.env, entrypoint = c.entrypoint, cmd = c.cmd, workdir = c.workdir, user = c.user,
    ports = c.ports, volumes = c.volumes, stopsignal = c.stopsignal, layers = history,
  }
  local cdigest, csize = st:put_blob(doc.encode(cdoc))
  if not cdigest then return nil, csize end
  local mdoc = doc.manifest(doc.descriptor(media.CONFIG, cdigest, csize), layer_descs)
  local mdigest, msize = st:put_blob(doc.encode(mdoc))
  if not mdigest then return nil, msize end
  local p = self.platform
  local desc = doc.descriptor(media.MANIFEST, mdigest, msize, {
    platform = { os = p.os, architecture = p.architecture, variant = p.variant } })
  return { desc = desc, image_id = cdigest, size = total + csize + msize, layers = results }
end

return M
