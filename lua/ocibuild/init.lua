--- ocibuild: build OCI images from directories, from Lua.
--
--     local oci = require "ocibuild"
--     local img = oci.image { platform = "linux/amd64" }
--     img:layer { context = "site", dest = "/usr/share/site" }
--     img:labels { ["org.opencontainers.image.source"] = "https://example.com/site" }
--     local r = img:save { tag = "site:dev", archive = "site.tar" }
--     print(r.digest)
--
-- Every function here raises on failure, with the message pointing at the
-- caller's line (a layer that fails while saving points at its `layer`
-- call). Relative paths resolve against the folder of the build script
-- (`ocibuild run`), or the current directory for plain Lua programs.
local check = require "ocibuild.build.check"
local ignore = require "ocibuild.build.ignore"
local image = require "ocibuild.build.image"
local index = require "ocibuild.build.index"
local layer = require "ocibuild.build.layer"
local manage = require "ocibuild.store.manage"
local path = require "ocibuild.path"
local save = require "ocibuild.build.save"

local M = {}

M.VERSION = "0.1.0"

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return ("%s:%d"):format(info.short_src, info.currentline)
  end
end

local function stderr_warn(msg) io.stderr:write("ocibuild: warning: ", msg, "\n") end

--- An API bound to `base` (the folder relative paths resolve against).
-- opts: {store=, warn=function(msg), on_event=function(ev)}.
function M.new(base, opts)
  opts = opts or {}
  local api = { VERSION = M.VERSION }
  local ctx = { store = opts.store, warn = opts.warn or stderr_warn, on_event = opts.on_event }

  local Image = {}
  Image.__index = Image

  --- Adds a layer: {context=, dest=, exclude=, ignorefile=, mode=, mtime=,
  -- owner=, rules=, replace=, compression=, level=, jobs=}. Raises on a
  -- bad option.
  function Image:layer(spec)
    local ok, err = self._img:layer(spec, where(2))
    if not ok then error(err, 2) end
    return self
  end

  --- Adds one file: {path=, content= | source=, mode=, owner=}; files and
  -- removals called one after the other make one layer. Raises on a bad
  -- option or a missing source.
  function Image:file(spec)
    local ok, err = self._img:file(spec, where(2))
    if not ok then error(err, 2) end
    return self
  end

  --- Removes paths of the image below: { "/etc/motd", "/usr/share/doc/**" }
  -- (whiteouts). Raises on a bad path or pattern.
  function Image:remove(list)
    local ok, err = self._img:remove(list, where(2))
    if not ok then error(err, 2) end
    return self
  end

  --- Sets manifest annotations: full keys, or short names for the
  -- org.opencontainers.image.* ones (source, revision, version, title,
  -- created = true for the build time, ...). Raises on a bad one.
  function Image:annotations(t)
    local ok, err = self._img:annotate(t)
    if not ok then error(err, 2) end
    return self
  end

  --- Sets one label. Raises unless both are strings.
  function Image:label(k, v)
    local ok, err = self._img:label(k, v)
    if not ok then error(err, 2) end
    return self
  end

  --- Sets labels from a table of strings. Raises on another value.
  function Image:labels(t)
    local ok, err = self._img:set_labels(t)
    if not ok then error(err, 2) end
    return self
  end

  --- Sets config fields: entrypoint, cmd, env, workdir, user, ports,
  -- volumes, stop_signal, labels. Raises on an unknown field or a bad value.
  function Image:config(t)
    local ok, err = self._img:config(t)
    if not ok then error(err, 2) end
    return self
  end

  --- Builds and saves the image: {tag= (string or list), archive=, cache=
  -- (false: from scratch, reading no earlier build's records)}.
  -- Returns {image_id=, digest=, size=, path=, tags=, archive=}. Raises
  -- on failure; a layer's failure points at its `layer` call.
  function Image:save(o)
    if o ~= nil and type(o) ~= "table" then error("save needs a table", 2) end
    local r, err, _, layer_where = save.save(self._img, o or {}, ctx)
    if not r then
      if layer_where then error(layer_where .. ": " .. err, 0) end
      error(err, 2)
    end
    return r
  end

  --- A new image: {from=, platform="os/arch[/variant]", store=, created=,
  -- annotations=}. Raises on an unknown option or a bad value; a base
  -- that cannot be used fails `save`, pointing at this call.
  function api.image(o)
    if o ~= nil and type(o) ~= "table" then error("image needs a table", 2) end
    local img, err = image.new(o, base, where(2))
    if not img then error(err, 2) end
    return setmetatable({ _img = img }, Image)
  end

  local Index = {}
  Index.__index = Index

  --- Builds every image and saves the index: {tag=, archive=}. Returns
  -- what Image:save returns, with `images` (each image's result).
  function Index:save(o)
    if o ~= nil and type(o) ~= "table" then error("save needs a table", 2) end
    local r, err, _, at = save.save(self._idx, o or {}, ctx)
    if not r then
      if at then error(at .. ": " .. err, 0) end
      error(err, 2)
    end
    return r
  end

  --- A multi-platform image: { img_amd64, img_arm64, annotations= }.
  -- Raises on something that is not an image or an unknown option.
  function api.index(list)
    local idx, err = index.new(list)
    if not idx then error(err, 2) end
    return setmetatable({ _idx = idx }, Index)
  end

  --- Reads a .dockerignore file into a list of patterns usable as a
  -- layer's `exclude` (it then replaces the context's own .dockerignore).
  -- Raises when the file cannot be read or holds a bad pattern.
  function api.ignorefile(p)
    if type(p) ~= "string" then error("ignorefile needs a path", 2) end
    local file = path.abs(p, base)
    local list, err = ignore.read(file)
    if not list then error(err, 2) end
    local t = { file = file, entries = list }
    for i, e in ipairs(list) do t[i] = e.pattern end
    return t
  end

  local BUILD_OPTIONS = { "context", "tag", "exclusions", "labels", "store", "archive", "dest",
    "platform", "config", "compression", "level", "jobs", "mode", "mtime", "owner", "from",
    "annotations", "rules", "replace", "cache" }

  --- Builds one directory into an image in one call: {context=, tag=,
  -- from=, exclusions=, labels=, config=, annotations=, store=, archive=,
  -- dest=, platform=, and the layer options}. Returns what `save`
  -- returns. Raises on failure.
  function api.build(o)
    if type(o) ~= "table" then error("build needs a table", 2) end
    local ok, err = check.keys(o, BUILD_OPTIONS, "build")
    if not ok then error(err, 2) end
    local img
    img, err = image.new({ platform = o.platform, store = o.store, from = o.from,
      annotations = o.annotations }, base)
    if not img then error(err, 2) end
    local spec = { context = o.context, exclude = o.exclusions }
    for _, k in ipairs(layer.OPTIONS) do
      if o[k] ~= nil and spec[k] == nil then spec[k] = o[k] end
    end
    ok, err = img:layer(spec, where(2))
    if ok and o.labels then ok, err = img:set_labels(o.labels) end
    if ok and o.config then ok, err = img:config(o.config) end
    if not ok then error(err, 2) end
    local r
    r, err = save.save(img, { tag = o.tag, archive = o.archive, cache = o.cache }, ctx)
    if not r then error(err, 2) end
    return r
  end

  local Store = {}
  Store.__index = Store
  for _, name in ipairs(manage.METHODS) do
    Store[name] = function(self, ...)
      local r, err = manage[name](self._h, ...)
      if r == nil then error(err, 2) end
      return r
    end
  end

  --- The image store at dir (default: the one builds use). Methods, each
  -- raising on failure: images{repo=}, tag(src, name...), rm(names,
  -- {force=}), inspect(src, {what=, platform=}), export(srcs, file,
  -- {mtime=}), import(file_or_dir, {tags=, select=}), prune{dry_run=,
  -- all=}, fsck(). Only import creates a store that does not exist.
  function api.store(dir)
    if dir ~= nil and type(dir) ~= "string" then error("store needs a folder path", 2) end
    return setmetatable({ _h = manage.handle(dir and path.abs(dir, base), base, ctx.store) }, Store)
  end

  return api
end

local default = M.new(nil)
for k, v in pairs(default) do M[k] = v end

return M
