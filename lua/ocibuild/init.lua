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
local store_mod = require "ocibuild.store"

-- The registry client is loaded when a script first pushes or pulls: a
-- build that does neither starts faster without it.
local function registry() return require "ocibuild.registry" end

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
-- opts: {store=, warn=function(msg), on_event=function(ev), registry=
-- (default registry options: creds, authfile, ca_file, insecure, ...)}.
function M.new(base, opts)
  opts = opts or {}
  local api = { VERSION = M.VERSION }
  local ctx = { store = opts.store, warn = opts.warn or stderr_warn, on_event = opts.on_event,
    registry = opts.registry }

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
  -- (false: from scratch, reading no earlier build's records), push=
  -- (true: to each tag, which must name its registry; or a reference or a
  -- list of them), registry= (options, see oci.push)}. Returns
  -- {image_id=, digest=, size=, path=, tags=, archive=, pushed=}. Raises
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
    "annotations", "rules", "replace", "cache", "push", "registry" }

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
    r, err = save.save(img, { tag = o.tag, archive = o.archive, cache = o.cache, push = o.push,
      registry = o.registry }, ctx)
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

  local REGISTRY_KEYS = { "creds", "authfile", "ca_file", "insecure", "plain_http", "jobs", "chunk_size",
    "on_event", "store" }

  -- The registry options of o over the API's defaults, and the store.
  local function registry_args(o, what, extra)
    if o ~= nil and type(o) ~= "table" then return nil, what .. " options must be a table" end
    o = o or {}
    local known = { table.unpack(REGISTRY_KEYS) }
    for _, k in ipairs(extra or {}) do known[#known + 1] = k end
    local ok, err = check.keys(o, known, what)
    if not ok then return nil, err end
    local r = {}
    for k, v in pairs(ctx.registry or {}) do r[k] = v end
    for k, v in pairs(o) do r[k] = v end
    r.on_event = r.on_event or ctx.on_event
    local dir = o.store and path.abs(o.store, base) or ctx.store
    local source
    dir, source = store_mod.default_dir(dir)
    if not dir then return nil, source end
    r.store = nil
    return r, dir, source
  end

  --- Pushes an image of the store to a registry. src: a tag or
  -- NAME@DIGEST in the store, or what `save` returned; dest: a reference
  -- (default: src, when it names its registry). opts: {creds= ("USER:PASS"
  -- or {username=, password=}), authfile=, ca_file=, insecure=,
  -- plain_http=, jobs=, chunk_size=, store=, on_event=}. Returns
  -- {reference= ("HOST/NAME@sha256:..."), digest=, name=}. Raises on failure.
  function api.push(src, dest, opts)
    local o, dir, source = registry_args(opts, "push")
    if not o then error(dir, 2) end
    local st, err
    if type(src) == "table" and src.manifest and src.path then
      dir, source = src.path, nil
    elseif type(src) ~= "string" then
      error("push needs a reference of the store, or what save returned", 2)
    end
    if dest == nil then
      local first = type(src) == "table" and src.tags and src.tags[1]
      dest = type(src) == "string" and src or (first and first.familiar)
      if not registry().names_registry(dest) then
        error(("push: %s names no registry: give a destination"):format(dest or "the image"), 2)
      end
    end
    local r
    r, err = require("ocibuild.oci.ref").parse(dest)
    if not r then error(err, 2) end
    st, err = store_mod.open(dir, { source = source })
    if not st then error(err, 2) end
    local desc = type(src) == "table" and src.manifest
    if not desc then
      desc, err = registry().local_image(st, src)
      if not desc then error(err, 2) end
    end
    local res
    res, err = registry().push(st, desc, r, o)
    if not res then error(err, 2) end
    return { reference = res.reference, digest = res.digest, name = res.name }
  end

  --- Pulls an image from a registry into the store and tags it there.
  -- opts: the options of push, and platform= ("os/arch[/variant]", default
  -- this machine's). Returns {reference=, digest=, mediaType=, size=,
  -- path= (the store)}. Raises on failure.
  function api.pull(reference, opts)
    if type(reference) ~= "string" then error("pull needs a reference", 2) end
    local o, dir, source = registry_args(opts, "pull", { "platform" })
    if not o then error(dir, 2) end
    local r, err = require("ocibuild.oci.ref").parse(reference)
    if not r then error(err, 2) end
    local st
    st, err = store_mod.open(dir, { create = true, source = source })
    if not st then error(err, 2) end
    local desc
    desc, err = registry().pull(r, st, o)
    if not desc then error(err, 2) end
    return { reference = r.name .. "@" .. desc.digest, digest = desc.digest, mediaType = desc.mediaType,
      size = desc.size, path = st.dir }
  end

  return api
end

local default = M.new(nil)
for k, v in pairs(default) do M[k] = v end

return M
