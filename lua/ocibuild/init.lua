--- Build OCI images from directories, from Lua.
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
--
-- Build scripts get an API made by `new` with a sandbox policy: every
-- option naming a host path goes through `ctx.allow` before use, and
-- option tables are copied raw first (so a metatable cannot show one value
-- to a check and another to the work). A function added here that takes a
-- path must do the same; spec/cli/sandbox_spec.lua lists them all.
-- @module ocibuild
local check = require "ocibuild.build.check"
local core = require "ocibuild.core"
local dockerfile = require "ocibuild.dockerfile"
local ignore = require "ocibuild.build.ignore"
local image = require "ocibuild.build.image"
local index = require "ocibuild.build.index"
local layer = require "ocibuild.build.layer"
local manage = require "ocibuild.store.manage"
local path = require "ocibuild.path"
local save = require "ocibuild.build.save"
local store_mod = require "ocibuild.store"
local version = require "ocibuild.version"

-- The registry client loads only when something pushes or pulls.
local function registry() return require "ocibuild.registry" end

local M = {}

--- The version of ocibuild.
M.VERSION = version

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return ("%s:%d"):format(info.short_src, info.currentline)
  end
end

-- A script runs under limits (ocibuild.script: instructions, memory, and
-- a hook keeping its current line); ocibuild's own work for it is not
-- counted: `local _ <close> = uncharged()` first in each API function.
local RESUME = setmetatable({}, { __close = function() core.limits_resume() end, __metatable = false })
local function uncharged()
  if core.limits_pause() then return RESUME end
end

local function stderr_warn(msg) io.stderr:write("ocibuild: warning: ", check.line(msg), "\n") end

-- A copy of v in which every table is a plain one, read with `next`: no
-- metamethod of the caller's runs while the copy is made or used.
local function plain(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local t = {}
  seen[v] = t
  local k, x = next(v)
  while k ~= nil do
    rawset(t, plain(k, seen), plain(x, seen))
    k, x = next(v, k)
  end
  return t
end

-- The image behind each Image object, out of the script's reach.
local inner = setmetatable({}, { __mode = "k" })

--- An API bound to `base`, the folder relative paths resolve against.
-- @tparam[opt] string base default: the current directory
-- @tparam[opt] table opts `store` (the default store folder), `warn`
-- (function(msg) for warnings; default: standard error), `on_event`
-- (function(ev), see ocibuild.events), `on_save` (function(result, given),
-- called with each result and the copy the caller gets), `registry` (default
-- registry options: creds, authfile, ca_file, insecure, ...), `cache` (a
-- shared cache every save uses: {from = {REF...}, to = {REF...}}), `allow`
-- (function(path, what) -> path | nil, msg: the sandbox's check of every
-- host path; with it the API has no `store`, `push` or `pull`: a build
-- script builds and saves, it does not manage the user's store), `policy`
-- (what a sandboxed script may reach: registries, store images; see
-- ocibuild.reach).
-- @treturn table the API: `image`, `index`, `build`, `ignorefile`,
-- `VERSION`, and unsandboxed `store`, `push`, `pull`
function M.new(base, opts)
  opts = opts or {}
  local api = { VERSION = M.VERSION }
  local ctx = { store = opts.store, warn = opts.warn or stderr_warn, on_event = opts.on_event,
    registry = opts.registry, policy = opts.policy, shared_cache = opts.cache }
  local allow = opts.allow or function(p) return p end

  -- p (relative to base) checked by the sandbox policy, made absolute.
  local function host_path(p, what)
    if type(p) ~= "string" then return p end
    return allow(path.abs(p, base), what)
  end

  -- The paths of a registry options table (a script's own credentials
  -- file and CA), checked and made absolute in place. Returns true, or
  -- nil and why.
  local function registry_paths(reg)
    if type(reg) ~= "table" then return true end
    local err
    for _, k in ipairs { "authfile", "ca_file" } do
      reg[k], err = host_path(reg[k], k)
      if err then return nil, err end
    end
    return true
  end

  -- The caller gets a plain copy of each result: no table ocibuild keeps
  -- or made with a metatable (JSON marks) ever reaches a script.
  local function saved(r)
    local given = plain(r)
    if opts.on_save then opts.on_save(r, given) end
    return given
  end

  local Image = { __metatable = "ocibuild.Image" }
  Image.__index = Image

  local function img_of(self)
    local img = inner[self]
    if not img then error("expected an image made by oci.image (call methods with ':')", 3) end
    return img
  end

  -- Checks the paths of the layer spec s (the default ignore file too),
  -- making them absolute in place. Returns true, or nil and why.
  local function layer_paths(s)
    if type(s) ~= "table" then return true end
    local err
    s.context, err = host_path(s.context, "context")
    if err then return nil, err end
    if type(s.context) == "string" and s.ignorefile == nil and core.stat(s.context .. "/.dockerignore") then
      local ok
      ok, err = allow(s.context .. "/.dockerignore", "ignore file")
      if not ok then return nil, err end
    end
    s.ignorefile, err = host_path(s.ignorefile, "ignorefile")
    if err then return nil, err end
    return true
  end

  --- Adds a layer: a directory's files, as `docker build` would `COPY` them.
  -- @function Image:layer
  -- @tparam table spec `context` (the directory), `dest` (where it goes,
  -- default /), `exclude` (patterns, or what `ignorefile` returns),
  -- `ignorefile` (a path, or false for none), `mode`, `mtime`, `owner`,
  -- `rules` (per-path mode, dir_mode, owner, mtime), `replace` (the
  -- destination replaces what the base has there), `compression`,
  -- `level`, `jobs`
  -- @return the image
  -- @raise on an unknown option, a bad value, a missing context
  function Image:layer(spec)
    local _ <close> = uncharged()
    local img = img_of(self)
    local s = plain(spec)
    local ok, err = layer_paths(s)
    if ok then ok, err = img:layer(s, where(2)) end
    if not ok then error(err, 2) end
    return self
  end

  --- Adds one file: generated (`content`) or copied (`source`). Files and
  -- removals called one after the other make one layer of their own.
  -- @function Image:file
  -- @tparam table spec `path` (in the image), `content` | `source`,
  -- `mode`, `owner`
  -- @return the image
  -- @raise on a bad option, both or neither of content and source
  function Image:file(spec)
    local _ <close> = uncharged()
    local img = img_of(self)
    local s = plain(spec)
    local err
    if type(s) == "table" then
      s.source, err = host_path(s.source, "file source")
      if err then error(err, 2) end
    end
    local ok
    ok, err = img:file(s, where(2))
    if not ok then error(err, 2) end
    return self
  end

  --- Removes paths of the image below (OCI whiteouts).
  -- @function Image:remove
  -- @tparam table list paths or patterns: { "/etc/motd", "/usr/share/doc/**" }
  -- @return the image
  -- @raise on a bad path or pattern
  function Image:remove(list)
    local _ <close> = uncharged()
    local ok, err = img_of(self):remove(plain(list), where(2))
    if not ok then error(err, 2) end
    return self
  end

  --- Sets manifest annotations: full keys, or short names for the
  -- org.opencontainers.image.* ones (source, revision, version, title,
  -- created = true for the build time, ...).
  -- @function Image:annotations
  -- @tparam table t
  -- @return the image
  -- @raise on a bad key or value
  function Image:annotations(t)
    local _ <close> = uncharged()
    local ok, err = img_of(self):annotate(plain(t))
    if not ok then error(err, 2) end
    return self
  end

  --- Sets one label of the image config.
  -- @function Image:label
  -- @tparam string k
  -- @tparam string v
  -- @return the image
  -- @raise unless both are strings
  function Image:label(k, v)
    local _ <close> = uncharged()
    local ok, err = img_of(self):label(k, v)
    if not ok then error(err, 2) end
    return self
  end

  --- Sets labels from a table of strings.
  -- @function Image:labels
  -- @tparam table t
  -- @return the image
  -- @raise on a value that is not a string
  function Image:labels(t)
    local _ <close> = uncharged()
    local ok, err = img_of(self):set_labels(plain(t))
    if not ok then error(err, 2) end
    return self
  end

  --- Sets config fields: entrypoint, cmd, env, workdir, user, ports,
  -- volumes, stop_signal, labels; env merges with the base's per key.
  -- @function Image:config
  -- @tparam table t
  -- @return the image
  -- @raise on an unknown field or a bad value
  function Image:config(t)
    local _ <close> = uncharged()
    local ok, err = img_of(self):config(plain(t))
    if not ok then error(err, 2) end
    return self
  end

  --- Builds the image and saves it in the store, tagged.
  -- @function Image:save
  -- @tparam[opt] table o `tag` (a string or a list), `archive` (also write
  -- an OCI archive there), `cache` (false: build from scratch, reading no
  -- earlier build's records), `push` (true: to each tag, which must name
  -- its registry; or a reference, or a list of them), `registry` (options,
  -- see `push`)
  -- @treturn table `image_id`, `digest`, `size`, `path` (the store),
  -- `tags`, `archive`, `pushed`
  -- @raise on failure; a layer's failure points at its `layer` call
  function Image:save(o)
    local _ <close> = uncharged()
    local img = img_of(self)
    if o ~= nil and type(o) ~= "table" then error("save needs a table", 2) end
    o = plain(o) or {}
    local ok, err = registry_paths(o.registry)
    if not ok then error(err, 2) end
    o.archive, err = host_path(o.archive, "archive")
    if err then error(err, 2) end
    local r, _, layer_where
    r, err, _, layer_where = save.save(img, o, ctx)
    if not r then
      if layer_where then error(layer_where .. ": " .. err, 0) end
      error(err, 2)
    end
    return saved(r)
  end

  -- A base reference whose oci: or oci-archive: path is checked and
  -- made absolute.
  local function from_path(from)
    if type(from) ~= "string" then return from end
    for _, scheme in ipairs { "oci-archive:", "oci:" } do
      if from:sub(1, #scheme) == scheme then
        local rest = from:sub(#scheme + 1)
        local p, tag = rest:match("^([^:]*)(:.*)$")
        local abs, err = host_path(p or rest, "base image")
        if not abs then return nil, err end
        return scheme .. abs .. (tag or "")
      end
    end
    return from
  end

  -- The image options with the store's and the base's paths checked.
  local function image_opts(o)
    local err
    o.store, err = host_path(o.store, "store")
    if err then return nil, err end
    o.from, err = from_path(o.from)
    if err then return nil, err end
    return o
  end

  --- A new image, empty until layers are added.
  -- @function image
  -- @tparam[opt] table o `from` (a base image: a tag, digest or ID prefix
  -- in the store, oci:DIR[:TAG], oci-archive:FILE[:TAG] or a registry
  -- reference), `platform` ("os/arch[/variant]", default: the base's, else
  -- this machine), `store` (a folder), `created` (epoch seconds),
  -- `annotations`
  -- @return an image, whose methods are `layer`, `file`, `remove`,
  -- `label`, `labels`, `config`, `annotations` and `save`
  -- @raise on an unknown option or a bad value; a base that cannot be used
  -- fails `save`, pointing at this call
  function api.image(o)
    local _ <close> = uncharged()
    if o ~= nil and type(o) ~= "table" then error("image needs a table", 2) end
    local opts_, err = image_opts(plain(o) or {})
    local img
    if opts_ then img, err = image.new(opts_, base, where(2)) end
    if not img then error(err, 2) end
    local self = setmetatable({}, Image)
    inner[self] = img
    return self
  end

  local Index = { __metatable = "ocibuild.Index" }
  Index.__index = Index
  local inner_idx = setmetatable({}, { __mode = "k" })

  --- Builds every image of the index and saves the index under its tags.
  -- @function Index:save
  -- @tparam[opt] table o as for Image:save
  -- @treturn table what Image:save returns, with `images` (each image's)
  -- @raise on failure; a layer's failure points at its `layer` call
  function Index:save(o)
    local _ <close> = uncharged()
    local idx = inner_idx[self]
    if not idx then error("expected an index made by oci.index (call methods with ':')", 2) end
    if o ~= nil and type(o) ~= "table" then error("save needs a table", 2) end
    o = plain(o) or {}
    local ok, err = registry_paths(o.registry)
    if not ok then error(err, 2) end
    o.archive, err = host_path(o.archive, "archive")
    if err then error(err, 2) end
    local r, _, at
    r, err, _, at = save.save(idx, o, ctx)
    if not r then
      if at then error(at .. ": " .. err, 0) end
      error(err, 2)
    end
    return saved(r)
  end

  --- A multi-platform image: one image per platform, saved under one tag.
  -- @function index
  -- @tparam table list the images, and `annotations`: { img_amd64, img_arm64 }
  -- @return an index, whose method is `save`
  -- @raise on something that is not an image, or an unknown option
  function api.index(list)
    local _ <close> = uncharged()
    if type(list) ~= "table" then error("index needs a list of images, like { img_amd64, img_arm64 }", 2) end
    local l = {}
    local k, v = next(list)
    while k ~= nil do
      if math.type(k) == "integer" then
        l[k] = inner[v] or false
      else
        l[k] = plain(v)
      end
      k, v = next(list, k)
    end
    local idx, err = index.new(l)
    if not idx then error(err, 2) end
    local self = setmetatable({}, Index)
    inner_idx[self] = idx
    return self
  end

  local DOCKERFILE_OPTIONS = { "file", "context", "args", "target", "platform" }

  --- The image a Dockerfile describes, built as BuildKit builds it but
  -- without running anything (RUN is refused). The result is an image
  -- (or, for several platforms, an index) a script can go on changing
  -- before `save`; the Dockerfile's stages are built when it is saved.
  -- @function dockerfile
  -- @tparam table o `context` (default: the script's folder), `file`
  -- (default: context/Dockerfile, else context/Containerfile), `args`
  -- (ARG values), `target` (a stage), `platform` ("os/arch", a list, or
  -- "p1,p2")
  -- @return an image (one platform) or an index
  -- @raise on a Dockerfile that cannot be built (FILE:LINE: why), a path
  -- outside the sandbox, a bad option
  function api.dockerfile(o)
    local _ <close> = uncharged()
    if type(o) ~= "table" then error("dockerfile needs a table, like { context = \".\" }", 2) end
    o = plain(o)
    local ok, err = check.keys(o, DOCKERFILE_OPTIONS, "dockerfile")
    if not ok then error(err, 2) end
    if o.context ~= nil and type(o.context) ~= "string" then error("dockerfile: context must be a folder", 2) end
    local context
    context, err = host_path(o.context or ".", "context")
    if not context then error(err, 2) end
    local st = core.stat(context)
    if not st or st.type ~= "dir" then error(("dockerfile: context %s is not a folder"):format(context), 2) end
    local file, display
    if o.file ~= nil then
      if type(o.file) ~= "string" then error("dockerfile: file must be a path", 2) end
      file, err = host_path(o.file, "Dockerfile")
      display = o.file
    else
      file, display = dockerfile.find(context)
      if not file then error(("dockerfile: %s holds no Dockerfile or Containerfile"):format(context), 2) end
      file, err = allow(file, "Dockerfile")
    end
    if not file then error(err, 2) end
    for _, ig in ipairs { file .. ".dockerignore", context .. "/.dockerignore" } do
      if core.stat(ig) then
        ok, err = allow(ig, "ignore file")
        if not ok then error(err, 2) end
        break
      end
    end
    if o.args ~= nil then
      if type(o.args) ~= "table" then error("dockerfile: args must be a table of strings", 2) end
      for k, v in pairs(o.args) do
        if type(k) ~= "string" or type(v) ~= "string" then error("dockerfile: args must be a table of strings", 2) end
      end
    end
    local plats = o.platform
    if type(plats) == "string" then
      local list = {}
      for p in plats:gmatch("[^,]+") do list[#list + 1] = p end
      plats = list
    elseif plats ~= nil and not check.strings(plats, "platform") then
      error("dockerfile: platform must be \"os/arch\", a list of them or \"p1,p2\"", 2)
    end
    if o.target ~= nil and type(o.target) ~= "string" then error("dockerfile: target must be a stage name", 2) end
    local rec
    rec, err = dockerfile.load { file = file, display = display, context = context, args = o.args,
      target = o.target, platforms = plats }
    if not rec then error(err, 2) end
    if rec.images then
      local self = setmetatable({}, Index)
      inner_idx[self] = rec
      return self
    end
    local self = setmetatable({}, Image)
    inner[self] = rec
    return self
  end

  --- Reads a .dockerignore file into a list of patterns usable as a
  -- layer's `exclude` (it then replaces the context's own .dockerignore).
  -- @function ignorefile
  -- @tparam string p the file
  -- @treturn table the patterns
  -- @raise when the file cannot be read or holds a bad pattern
  function api.ignorefile(p)
    local _ <close> = uncharged()
    if type(p) ~= "string" then error("ignorefile needs a path", 2) end
    local file, err = host_path(p, "ignore file")
    if err then error(err, 2) end
    local list
    list, err = ignore.read(file)
    if not list then error(err, 2) end
    local t = { file = file, entries = list }
    for i, e in ipairs(list) do t[i] = e.pattern end
    return plain(t)
  end

  local BUILD_OPTIONS = { "context", "tag", "exclusions", "labels", "store", "archive", "dest",
    "platform", "config", "compression", "level", "jobs", "mode", "mtime", "owner", "from",
    "annotations", "rules", "replace", "cache", "push", "registry" }

  --- Builds one directory into an image in one call.
  -- @function build
  -- @tparam table o `context`, `tag`, `from`, `exclusions`, `labels`,
  -- `config`, `annotations`, `store`, `archive`, `dest`, `platform`,
  -- `cache`, `push`, `registry`, and the layer options
  -- @treturn table what `save` returns
  -- @raise on failure
  function api.build(o)
    local _ <close> = uncharged()
    if type(o) ~= "table" then error("build needs a table", 2) end
    o = plain(o)
    local ok, err = check.keys(o, BUILD_OPTIONS, "build")
    if not ok then error(err, 2) end
    local io_, img
    io_, err = image_opts({ platform = o.platform, store = o.store, from = o.from,
      annotations = o.annotations })
    if io_ then img, err = image.new(io_, base) end
    if not img then error(err, 2) end
    local spec = { context = o.context, exclude = o.exclusions }
    for _, k in ipairs(layer.OPTIONS) do
      if o[k] ~= nil and spec[k] == nil then spec[k] = o[k] end
    end
    ok, err = layer_paths(spec)
    if ok then ok, err = img:layer(spec, where(2)) end
    if ok and o.labels then ok, err = img:set_labels(o.labels) end
    if ok and o.config then ok, err = img:config(o.config) end
    if not ok then error(err, 2) end
    o.archive, err = host_path(o.archive, "archive")
    if err then error(err, 2) end
    ok, err = registry_paths(o.registry)
    if not ok then error(err, 2) end
    local r
    r, err = save.save(img, { tag = o.tag, archive = o.archive, cache = o.cache, push = o.push,
      registry = o.registry }, ctx)
    if not r then error(err, 2) end
    return saved(r)
  end

  if opts.allow then return api end
  -- Below: managing the store and moving images, for programs (and
  -- unsandboxed scripts), not for build scripts.

  local Store = {}
  Store.__index = Store
  for _, name in ipairs(manage.METHODS) do
    Store[name] = function(self, ...)
      local r, err = manage[name](self._h, ...)
      if r == nil then error(err, 2) end
      return r
    end
  end

  --- The image store at dir (default: the one builds use).
  -- @function store
  -- @tparam[opt] string dir
  -- @return a store, whose methods (each raising on failure) are
  -- images{repo=}, tag(src, name...), rm(names, {force=}), inspect(src,
  -- {what=, platform=}), export(srcs, file, {mtime=}), import(file_or_dir,
  -- {tags=, select=}), prune{dry_run=, all=} and fsck(); only import
  -- creates a store that does not exist
  -- @raise on a bad argument
  function api.store(dir)
    if dir ~= nil and type(dir) ~= "string" then error("store needs a folder path", 2) end
    return setmetatable({ _h = manage.handle(dir and path.abs(dir, base), base, ctx.store) }, Store)
  end

  local REGISTRY_KEYS = { "creds", "authfile", "ca_file", "insecure", "plain_http", "jobs", "chunk_size",
    "timeout", "min_speed", "speed_time", "retries", "on_event", "store" }

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

  --- Pushes an image of the store to a registry.
  -- @function push
  -- @param src a tag or NAME@DIGEST in the store, or what `save` returned
  -- @tparam[opt] string dest a reference (default: src, when it names its
  -- registry)
  -- @tparam[opt] table opts `creds` ("USER:PASS" or {username=,
  -- password=}), `authfile`, `ca_file`, `insecure`, `plain_http`, `jobs`,
  -- `chunk_size`, `store`, `on_event`
  -- @treturn table `reference` ("HOST/NAME@sha256:..."), `digest`, `name`
  -- @raise on failure
  function api.push(src, dest, opts_)
    local o, dir, source = registry_args(opts_, "push")
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
  -- @function pull
  -- @tparam string reference
  -- @tparam[opt] table opts the options of push, and `platform`
  -- ("os/arch[/variant]", default this machine's)
  -- @treturn table `reference`, `digest`, `mediaType`, `size`, `path` (the store)
  -- @raise on failure
  function api.pull(reference, opts_)
    if type(reference) ~= "string" then error("pull needs a reference", 2) end
    local o, dir, source = registry_args(opts_, "pull", { "platform" })
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

local function run_script(file, args, opts, unsafe)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.unsafe = unsafe
  local r, err = require("ocibuild.script").run(file, args or {}, o)
  if not r then error(err, 0) end
  return r.value
end

--- The image behind an Image object (for ocibuild's own specs).
-- @param img an object made by `image`
-- @treturn table the ocibuild.build.image record
function M.internal(img)
  return inner[img]
end

--- Runs a build script in the sandbox, as `ocibuild run` does.
-- @tparam string file the script
-- @tparam[opt] table args its `args` table
-- @tparam[opt] table opts `store`, `warn`, `on_event` (as for `new`),
-- `registry` (options for the registries allowed), `allow_registry`
-- ({"HOST[:PORT]", ...}: the registries the script may pull from and push
-- to), `allow_image` ({REF, ...}: images of the store it may build on,
-- besides those it saves), `env` ({"NAME" or "NAME=VALUE", ...}: what its
-- os.getenv sees), `max_instructions`, `max_memory` (bytes; 0 for no
-- limit; the defaults are those of `ocibuild run`)
-- @return the script's first result
-- @raise the script's error, as FILE:LINE: message
function M.run(file, args, opts)
  return run_script(file, args, opts, false)
end

--- Runs a build script with all of Lua's libraries: for scripts you wrote.
-- @tparam string file the script
-- @tparam[opt] table args its `args` table
-- @tparam[opt] table opts as for `run`
-- @return the script's first result
-- @raise the script's error, as FILE:LINE: message
function M.run_unsafe(file, args, opts)
  return run_script(file, args, opts, true)
end

local default = M.new(nil)
for k, v in pairs(default) do M[k] = v end

return M
