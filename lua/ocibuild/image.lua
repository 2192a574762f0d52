--- Images as build scripts describe them: layers from directories, labels,
-- config, then save into the store (and optionally an OCI archive).
-- Layer options are checked when `layer` is called, so a mistake points at
-- its line; the bytes are produced by `save`, one C call per layer.
-- Internal: functions return nil, msg, code; ocibuild (init.lua) raises.
local archive = require "ocibuild.archive"
local core = require "ocibuild.core"
local ignore = require "ocibuild.ignore"
local oci = require "ocibuild.oci"
local path = require "ocibuild.path"
local ref = require "ocibuild.ref"
local reuse = require "ocibuild.reuse"
local store_mod = require "ocibuild.store"

local M = {}
M.__index = M

-- gzip level 5: as small as `gzip -6` (0.5% smaller on a tar of /usr, 0.3%
-- larger on the bench's mixed tree) for 10-20% less CPU than level 6;
-- level 4 is faster still but 1.8% larger than `gzip -6` on /usr.
local LEVEL_DEFAULT = 5

--- SOURCE_DATE_EPOCH as an integer, nil when unset, or nil, msg when it
-- is not a decimal integer.
function M.source_date_epoch()
  local s = os.getenv("SOURCE_DATE_EPOCH")
  if s == nil or s == "" then return nil end
  if not s:match("^%d+$") or #s > 15 then
    return nil, ("SOURCE_DATE_EPOCH must be a decimal integer of seconds, got %q"):format(s)
  end
  return math.tointeger(tonumber(s))
end

--- The number of compression threads: $OCIBUILD_JOBS or the online cores.
function M.default_jobs()
  local env = os.getenv("OCIBUILD_JOBS")
  if env and env ~= "" then
    local n = math.tointeger(tonumber(env))
    if not n or n < 1 or n > 256 then return nil, ("OCIBUILD_JOBS must be an integer from 1 to 256, got %q"):format(env) end
    return n
  end
  return core.ncpu()
end

local function check_enum(v, name, allowed, default)
  if v == nil then return default end
  for _, a in ipairs(allowed) do
    if v == a then return v end
  end
  return nil, ("%s must be one of %s, got %q"):format(name, table.concat(allowed, ", "), tostring(v))
end

--- A new image. opts: {platform=, store=, base=(folder relative paths
-- resolve against), created=(epoch seconds)}.
function M.new(opts)
  opts = opts or {}
  local platform = oci.host_platform()
  if opts.platform then
    local p, err = oci.parse_platform(opts.platform)
    if not p then return nil, err end
    platform = p
  end
  local sde, err = M.source_date_epoch()
  if err then return nil, err end
  local self = setmetatable({
    base = opts.base or path.cwd(),
    platform = platform,
    created = opts.created or sde or 0,
    sde = sde,
    store_dir = opts.store,
    layers = {},
    labels = {},
    cfg = {},
    annotations = {},
  }, M)
  return self
end

-- Patterns for a layer: the ignore file (default <context>/.dockerignore,
-- `false` for none; a list from ocibuild.ignorefile replaces it), then the
-- `exclude` patterns.
local function layer_patterns(self, context, spec)
  local list, extra = {}, spec.exclude or {}
  if type(extra) ~= "table" then return nil, "exclude must be a list of patterns" end
  if extra.entries then
    list, extra = extra.entries, {}
  else
    local file = spec.ignorefile
    if file == nil then file = context .. "/.dockerignore" end
    if file then
      local err, code
      list, err, code = ignore.read(path.abs(file, self.base))
      if not list then return nil, err, code end
    end
  end
  for i, p in ipairs(extra) do
    if type(p) ~= "string" then return nil, ("exclude[%d] must be a string"):format(i) end
  end
  return ignore.compile(list, extra)
end

--- Adds a layer from a directory. spec: {context=, dest="/", exclude={...},
-- ignorefile=, mode="keep"|"normalize", mtime="fixed"|"keep",
-- owner="0:0"|"keep"|"UID:GID", compression="gzip"|"zstd"|"none",
-- level=1..9 (gzip) or 1..19 (zstd), jobs=}.
function M:layer(spec, where)
  if type(spec) ~= "table" or type(spec.context) ~= "string" then
    return nil, "layer needs a table with context = <directory>"
  end
  local context = path.abs(spec.context, self.base)
  local st, err, code = core.stat(context)
  if not st then
    if code == "ENOENT" then return nil, ("context %s does not exist"):format(context), code end
    return nil, ("context %s: %s"):format(context, err), code
  end
  if st.type ~= "dir" then return nil, ("context %s is not a directory"):format(context), "ENOTDIR" end
  local prefix
  prefix, err = path.dest_prefix(spec.dest or "/")
  if not prefix then return nil, err end
  local l = { context = context, prefix = prefix, where = where, dest = "/" .. prefix }
  l.mode, err = check_enum(spec.mode, "mode", { "keep", "normalize" }, "keep")
  if err then return nil, err end
  l.mtime, err = check_enum(spec.mtime, "mtime", { "fixed", "keep" }, "fixed")
  if err then return nil, err end
  l.compression, err = check_enum(spec.compression, "compression", { "gzip", "zstd", "none" }, "gzip")
  if err then return nil, err end
  local maxlevel = l.compression == "zstd" and 19 or 9
  l.level = spec.level or (l.compression == "zstd" and 3 or LEVEL_DEFAULT)
  if math.type(l.level) ~= "integer" or l.level < 1 or l.level > maxlevel then
    return nil, ("level must be an integer from 1 to %d for %s"):format(maxlevel, l.compression)
  end
  local owner = spec.owner or "0:0"
  if owner == "keep" then
    l.keep_owner = true
    l.uid, l.gid = 0, 0
  else
    local u, g = tostring(owner):match("^(%d+):(%d+)$")
    if not u then return nil, ("owner must be \"keep\" or \"UID:GID\", got %q"):format(tostring(owner)) end
    l.uid, l.gid = math.tointeger(tonumber(u)), math.tointeger(tonumber(g))
  end
  if spec.jobs ~= nil then
    if math.type(spec.jobs) ~= "integer" or spec.jobs < 1 or spec.jobs > 256 then
      return nil, "jobs must be an integer from 1 to 256"
    end
    l.jobs = spec.jobs
  end
  l.matcher, err, code = layer_patterns(self, context, spec)
  if not l.matcher then return nil, err, code end
  l.explain = err
  self.layers[#self.layers + 1] = l
  return self
end

--- Sets one label.
function M:label(k, v)
  if type(k) ~= "string" or type(v) ~= "string" then return nil, "label keys and values must be strings" end
  if k == "" then return nil, "label key must not be empty" end
  self.labels[k] = v
  return self
end

--- Sets several labels from a table.
function M:set_labels(t)
  if type(t) ~= "table" then return nil, "labels needs a table of strings" end
  for k, v in pairs(t) do
    local ok, err = self:label(k, v)
    if not ok then return nil, err end
  end
  return self
end

local CONFIG_KEYS = { entrypoint = "list", cmd = "list", env = "env", workdir = "string",
  user = "string", ports = "list", volumes = "list", stopsignal = "string" }

--- Sets config fields: entrypoint, cmd (lists), env (map or KEY=VALUE list),
-- workdir, user, stopsignal (strings), ports ("80/tcp"), volumes (lists).
function M:config(t)
  if type(t) ~= "table" then return nil, "config needs a table" end
  for k, v in pairs(t) do
    local kind = CONFIG_KEYS[k]
    if not kind then return nil, ("unknown config field %q"):format(tostring(k)) end
    if kind == "string" and type(v) ~= "string" then return nil, ("config.%s must be a string"):format(k) end
    if kind ~= "string" and type(v) ~= "table" then return nil, ("config.%s must be a table"):format(k) end
    if kind == "list" then
      for i, x in ipairs(v) do
        if type(x) ~= "string" then return nil, ("config.%s[%d] must be a string"):format(k, i) end
      end
    end
    if kind == "env" then
      for ek, ev in pairs(v) do
        if math.type(ek) == "integer" then
          if type(ev) ~= "string" or not ev:find("=", 1, true) then
            return nil, ("config.env[%d] must be a KEY=VALUE string"):format(ek)
          end
        elseif type(ek) ~= "string" or type(ev) ~= "string" or ek:find("=", 1, true) then
          return nil, "config.env keys and values must be strings, keys without '='"
        end
      end
    end
    if k == "ports" then
      for _, p in ipairs(v) do
        if not p:match("^%d+$") and not p:match("^%d+/%a+$") then
          return nil, ("config.ports: bad port %q (expected 80 or 80/tcp)"):format(p)
        end
      end
    end
    self.cfg[k] = v
  end
  return self
end

local function build_layer(self, st, l, jobs)
  local r, err, code = core.layer(l.context, l.matcher, st.dir, l.prefix, l.context,
    self.sde or 0, l.mtime == "keep", l.mtime == "keep" and self.sde ~= nil,
    l.keep_owner or false, l.uid, l.gid, l.mode == "normalize", l.compression, l.level,
    l.jobs or jobs, { st.dir, self.archive_path }, reuse.dir(st.dir, l.compression, l.level))
  if not r then return nil, err, code end
  return r
end

--- Builds the layers, writes config and manifest, tags the image in the
-- store and, with `archive`, writes an OCI archive. opts: {tag= (string or
-- list), archive=, warn=function(msg)}. Returns {image_id=, digest=,
-- size=, path=, tags=, layers=}.
function M:save(opts)
  opts = opts or {}
  local tags = opts.tag
  if type(tags) == "string" then tags = { tags } end
  if tags ~= nil and type(tags) ~= "table" then return nil, "tag must be a string or a list of strings" end
  local refs = {}
  for _, t in ipairs(tags or {}) do
    local r, err = ref.parse(t)
    if not r then return nil, err, "BADREF" end
    if r.digest then return nil, ("cannot tag with a digest reference %q"):format(t), "BADREF" end
    refs[#refs + 1] = r
  end
  if opts.archive ~= nil and type(opts.archive) ~= "string" then return nil, "archive must be a file path" end
  self.archive_path = opts.archive and path.abs(opts.archive, self.base)
  local jobs, err, code = M.default_jobs()
  if not jobs then return nil, err end
  local dir
  dir, err, code = store_mod.default_dir(self.store_dir and path.abs(self.store_dir, self.base))
  if not dir then return nil, err, code end
  local st
  st, err, code = store_mod.open(dir)
  if not st then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end

  local layer_descs, built = {}, {}
  local total = 0
  for i, l in ipairs(self.layers) do
    local r
    r, err, code = build_layer(self, st, l, jobs)
    if not r then return nil, err, code, l.where end
    for _, w in ipairs(r.warnings) do
      if opts.warn then opts.warn(w) end
    end
    built[i] = { diff_id = r.diff_id, created_by = "ocibuild layer " .. l.dest }
    layer_descs[i] = oci.descriptor(oci.LAYER[l.compression], r.digest, r.size)
    total = total + r.size
  end
  local config = oci.config {
    platform = self.platform, created = self.created, labels = self.labels,
    env = self.cfg.env, entrypoint = self.cfg.entrypoint, cmd = self.cfg.cmd,
    workdir = self.cfg.workdir, user = self.cfg.user, ports = self.cfg.ports,
    volumes = self.cfg.volumes, stopsignal = self.cfg.stopsignal, layers = built,
  }
  local cdigest, csize = st:put_blob(oci.encode(config))
  if not cdigest then return nil, csize end
  local mdoc = oci.manifest(oci.descriptor(oci.CONFIG, cdigest, csize), layer_descs)
  local mdigest, msize = st:put_blob(oci.encode(mdoc))
  if not mdigest then return nil, msize end
  total = total + csize + msize
  local p = self.platform
  local mdesc = oci.descriptor(oci.MANIFEST, mdigest, msize, {
    platform = { os = p.os, architecture = p.architecture, variant = p.variant } })
  if #refs > 0 then
    local ok
    ok, err, code = st:tag(mdesc, refs)
    if not ok then return nil, err, code end
  end
  local result = { image_id = cdigest, digest = mdigest, size = total, path = st.dir,
    tags = refs, manifest = mdesc }
  if self.archive_path then
    local ok
    ok, err, code = archive.write(st, mdesc, refs, self.archive_path, self.sde or 0)
    if not ok then return nil, err, code end
    result.archive = self.archive_path
  end
  return result
end

return M
