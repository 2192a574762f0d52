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
local ignore = require "ocibuild.build.ignore"
local image = require "ocibuild.build.image"
local layer = require "ocibuild.build.layer"
local path = require "ocibuild.path"
local save = require "ocibuild.build.save"

local M = {}

--- The version of ocibuild.
M.VERSION = "0.1.0"

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return ("%s:%d"):format(info.short_src, info.currentline)
  end
end

-- The script runner keeps the script's current line with a line hook;
-- while ocibuild's own code runs the hook is off (it would cost per line):
-- `local _ <close> = hook_off()` first in each API function.
local function hook_off()
  local h, m, c = debug.gethook()
  if not h then return nil end
  debug.sethook()
  return setmetatable({}, { __close = function() debug.sethook(h, m, c) end })
end

local function stderr_warn(msg) io.stderr:write("ocibuild: warning: ", msg, "\n") end

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
-- (function(ev), see ocibuild.events), `on_save` (function(result), called
-- with each result before the caller sees it), `allow` (function(path,
-- what) -> path | nil, msg: the sandbox's check of every host path).
-- @treturn table the API: `image`, `build`, `ignorefile`, `VERSION`
function M.new(base, opts)
  opts = opts or {}
  local api = { VERSION = M.VERSION }
  local ctx = { store = opts.store, warn = opts.warn or stderr_warn, on_event = opts.on_event }
  local allow = opts.allow or function(p) return p end

  -- p (relative to base) checked by the sandbox policy, made absolute.
  local function host_path(p, what)
    if type(p) ~= "string" then return p end
    return allow(path.abs(p, base), what)
  end

  local function saved(r)
    if opts.on_save then opts.on_save(r) end
    return r
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
  -- `compression`, `level`, `jobs`
  -- @return the image
  -- @raise on an unknown option, a bad value, a missing context
  function Image:layer(spec)
    local _ <close> = hook_off()
    local img = img_of(self)
    local s = plain(spec)
    local ok, err = layer_paths(s)
    if ok then ok, err = img:layer(s, where(2)) end
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
    local _ <close> = hook_off()
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
    local _ <close> = hook_off()
    local ok, err = img_of(self):set_labels(plain(t))
    if not ok then error(err, 2) end
    return self
  end

  --- Sets config fields: entrypoint, cmd, env, workdir, user, ports,
  -- volumes, stopsignal.
  -- @function Image:config
  -- @tparam table t
  -- @return the image
  -- @raise on an unknown field or a bad value
  function Image:config(t)
    local _ <close> = hook_off()
    local ok, err = img_of(self):config(plain(t))
    if not ok then error(err, 2) end
    return self
  end

  --- Builds the image and saves it in the store, tagged.
  -- @function Image:save
  -- @tparam[opt] table o `tag` (a string or a list), `archive` (also write
  -- an OCI archive there)
  -- @treturn table `image_id`, `digest`, `size`, `path` (the store),
  -- `tags`, `archive`
  -- @raise on failure; a layer's failure points at its `layer` call
  function Image:save(o)
    local _ <close> = hook_off()
    local img = img_of(self)
    if o ~= nil and type(o) ~= "table" then error("save needs a table", 2) end
    o = plain(o) or {}
    local err
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

  -- The image options with the store's path checked.
  local function image_opts(o)
    local err
    o.store, err = host_path(o.store, "store")
    if err then return nil, err end
    return o
  end

  --- A new image, empty until layers are added.
  -- @function image
  -- @tparam[opt] table o `platform` ("os/arch[/variant]", default: this
  -- machine), `store` (a folder), `created` (epoch seconds)
  -- @return an image, whose methods are `layer`, `label`, `labels`,
  -- `config` and `save`
  -- @raise on an unknown option or a bad value
  function api.image(o)
    local _ <close> = hook_off()
    if o ~= nil and type(o) ~= "table" then error("image needs a table", 2) end
    local opts_, err = image_opts(plain(o) or {})
    local img
    if opts_ then img, err = image.new(opts_, base) end
    if not img then error(err, 2) end
    local self = setmetatable({}, Image)
    inner[self] = img
    return self
  end

  --- Reads a .dockerignore file into a list of patterns usable as a
  -- layer's `exclude` (it then replaces the context's own .dockerignore).
  -- @function ignorefile
  -- @tparam string p the file
  -- @treturn table the patterns
  -- @raise when the file cannot be read or holds a bad pattern
  function api.ignorefile(p)
    local _ <close> = hook_off()
    if type(p) ~= "string" then error("ignorefile needs a path", 2) end
    local file, err = host_path(p, "ignore file")
    if err then error(err, 2) end
    local list
    list, err = ignore.read(file)
    if not list then error(err, 2) end
    local t = { file = file, entries = list }
    for i, e in ipairs(list) do t[i] = e.pattern end
    return t
  end

  local BUILD_OPTIONS = { "context", "tag", "exclusions", "labels", "store", "archive", "dest",
    "platform", "config", "compression", "level", "jobs", "mode", "mtime", "owner" }

  --- Builds one directory into an image in one call.
  -- @function build
  -- @tparam table o `context`, `tag`, `exclusions`, `labels`, `config`,
  -- `store`, `archive`, `dest`, `platform`, and the layer options
  -- @treturn table what `save` returns
  -- @raise on failure
  function api.build(o)
    local _ <close> = hook_off()
    if type(o) ~= "table" then error("build needs a table", 2) end
    o = plain(o)
    local ok, err = check.keys(o, BUILD_OPTIONS, "build")
    if not ok then error(err, 2) end
    local io_, img
    io_, err = image_opts({ platform = o.platform, store = o.store })
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
    local r
    r, err = save.save(img, { tag = o.tag, archive = o.archive }, ctx)
    if not r then error(err, 2) end
    return saved(r)
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
-- @tparam[opt] table opts `store`, `warn`, `on_event` (as for `new`)
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
