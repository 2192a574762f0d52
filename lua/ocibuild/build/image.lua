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
-- caller). ctx: {jobs=, skip={paths}, on_event=, warn=, created={} (gets
-- the digest of each blob that was not in the store before, so that a
-- failure can take them back)}. Returns {desc=
-- (the manifest's descriptor, with platform), image_id=, size= (bytes of
-- every blob), layers={job results}}; on a layer's failure the third and
-- fourth results are the code and the layer's `where`.
function M:build(st, ctx)
  local layer_descs, history, results = {}, {}, {}
  local total = 0
  local lctx = { sde = self.sde, jobs = ctx.jobs, skip = ctx.skip, reuse = ctx.reuse,
    on_event = ctx.on_event }
  for i, l in ipairs(self.layers) do
    local r, err, code = layer.run(l, st, lctx)
    if not r then return nil, err, code, l.where end
    if r.created and ctx.created then ctx.created[#ctx.created + 1] = r.digest end
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
  local ctext = doc.encode(cdoc)
  local cdigest, csize, cnew = st:put_blob(ctext)
  if not cdigest then return nil, csize, cnew end
  if cnew and ctx.created then ctx.created[#ctx.created + 1] = cdigest end
  local mdoc = doc.manifest(doc.descriptor(media.CONFIG, cdigest, csize), layer_descs)
  local mtext = doc.encode(mdoc)
  local mdigest, msize, mnew = st:put_blob(mtext)
  if not mdigest then return nil, msize, mnew end
  if mnew and ctx.created then ctx.created[#ctx.created + 1] = mdigest end
  M.check_sizes(#ctext, #mtext, ctx.on_event)
  local p = self.platform
  local desc = doc.descriptor(media.MANIFEST, mdigest, msize, {
    platform = { os = p.os, architecture = p.architecture, variant = p.variant } })
  return { desc = desc, image_id = cdigest, size = total + csize + msize, layers = results }
end

return M
