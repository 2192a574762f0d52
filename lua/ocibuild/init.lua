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
-- This is the thin tier over the verbs (ocibuild.ops): it copies what
-- callers pass (plain tables, so a metatable cannot show one value to a
-- check and another to the work), calls a verb with the API's context,
-- and raises what the verb returns. Build scripts get an API made by
-- `new` with a sandbox: the context checks every host path a verb is
-- given (spec/cli/sandbox_spec.lua lists them all).
-- @module ocibuild
local build = require "ocibuild.ops.build"
local check = require "ocibuild.util.check"
local image = require "ocibuild.api.image"
local index = require "ocibuild.build.index"
local ops_context = require "ocibuild.ops.context"
local session = require "ocibuild.api.session"
local verbs = require "ocibuild.api.verbs"
local version = require "ocibuild.util.version"

local M = {}

--- The version of ocibuild.
M.VERSION = version

local plain, where, uncharged = session.plain, session.where, session.uncharged

local function stderr_warn(msg) io.stderr:write("ocibuild: warning: ", check.line(msg), "\n") end

-- What the module has that a build script's API has not.
local UNSANDBOXED = { store = true, new = true, run = true, run_unsafe = true, internal = true }

-- A table whose unknown keys raise "ocibuild has no function ..." (with
-- the nearest name), and say which are not for build scripts.
local function guarded(api, sandboxed)
  return setmetatable(api, {
    __index = function(t, k)
      if sandboxed and (UNSANDBOXED[k] or verbs.API[k]) then
        error(("oci.%s is not available in build scripts: a build script builds and saves, it does not "
          .. "manage the user's store or registries, nor run other scripts (use --unsafe to allow)"):format(k), 2)
      end
      local names = {}
      for n in pairs(t) do names[#names + 1] = n end
      local near = type(k) == "string" and check.suggest(k, names)
      error(("ocibuild has no function %s%s"):format(check.show(k), near and (" (did you mean %q?)"):format(near)
        or ""), 2)
    end,
    __metatable = "ocibuild",
  })
end

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
-- ocibuild.ops.reach), `definition` (what provenance names as the
-- definition of what is built: {kind=, path=, digest=, args=, context=}),
-- `attest` (the sbom, provenance and sign every save takes unless it says
-- otherwise).
-- @treturn table the API: `image`, `index`, `dockerfile`, `build`,
-- `ignorefile`, `VERSION`, and unsandboxed `store`, `push`, `pull`, `copy`
function M.new(base, opts)
  opts = opts or {}
  local ctx = ops_context.new { store = opts.store, base = base, warn = opts.warn or stderr_warn,
    on_event = opts.on_event, registry = opts.registry, cache = opts.cache, policy = opts.policy,
    allow = opts.allow, definition = opts.definition, attest = opts.attest }
  local s = session.new(ctx, opts.on_save)
  local api = { VERSION = M.VERSION }

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
    local img, err = build.new_image(ctx, plain(o) or {}, where(2))
    if not img then error(err, 2) end
    return image.image(s, img)
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
        l[k] = image.record(v) or false
      else
        l[k] = plain(v)
      end
      k, v = next(list, k)
    end
    local idx, err = index.new(l)
    if not idx then error(err, 2) end
    return image.index(s, idx)
  end

  --- The image a Dockerfile describes, built as BuildKit builds it but
  -- without running anything (RUN is refused). The result is an image
  -- (or, for several platforms, an index) a script can go on changing
  -- before `save`; the Dockerfile's stages are built when it is saved.
  -- @function dockerfile
  -- @tparam table o `context` (default: the script's folder), `file`
  -- (default: context/Dockerfile, else context/Containerfile) or `text`
  -- (the Dockerfile itself), `args` (ARG values), `target` (a stage),
  -- `platform` ("os/arch", a list, or "p1,p2")
  -- @return an image (one platform) or an index
  -- @raise on a Dockerfile that cannot be built (FILE:LINE: why), a path
  -- outside the sandbox, a bad option
  function api.dockerfile(o)
    local _ <close> = uncharged()
    if type(o) ~= "table" then error("dockerfile needs a table, like { context = \".\" }", 2) end
    local rec, err = build.dockerfile(ctx, plain(o))
    if not rec then error(err, 2) end
    return image.object(s, rec)
  end

  --- Reads a .dockerignore file into a list of patterns usable as a
  -- layer's `exclude` (it then replaces the context's own .dockerignore).
  -- @function ignorefile
  -- @tparam string p the file
  -- @treturn table the patterns
  -- @raise when the file cannot be read or holds a bad pattern
  function api.ignorefile(p)
    local _ <close> = uncharged()
    local t, err = build.ignorefile(ctx, p)
    if not t then error(err, 2) end
    return plain(t)
  end

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
    local img, err = build.directory(ctx, plain(o), where(2))
    local r
    if img then
      local so = {}
      for _, k in ipairs(build.SAVE_OPTIONS) do so[k] = plain(o[k]) end
      r, err = build.save(ctx, img, so)
    end
    if not r then error(err, 2) end
    return s:saved(r)
  end

  if opts.allow then return guarded(api, true) end
  -- Below: managing the store and moving images, for programs (and
  -- unsandboxed scripts), not for build scripts.

  --- The image store at dir (default: the one builds use).
  -- @function store
  -- @tparam[opt] string dir
  -- @return a store, whose methods (each raising on failure) are
  -- images{repo=}, tag(src, name...), rm(names, {force=}), inspect(src,
  -- {what=, platform=}), export(srcs, file, {mtime=}), import(file_or_dir,
  -- {tags=, select=}), prune{dry_run=, all=, verify=} and fsck(); only
  -- import creates a store that does not exist, and one that does not
  -- exist lists no images and has nothing to prune or to check
  -- @raise on a bad argument
  function api.store(dir)
    if dir ~= nil and type(dir) ~= "string" then error("store needs a folder path", 2) end
    local c = dir and ctx:with { store = require("ocibuild.util.path").abs(dir, base), store_from = "given to store()" }
    return verbs.store(c or ctx)
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

  --- Pulls an image from a registry into the store and tags it there.
  -- @function pull
  -- @tparam string reference
  -- @tparam[opt] table opts the options of push, and `platform`
  -- ("os/arch[/variant]", default this machine's)
  -- @treturn table `reference`, `digest`, `mediaType`, `size`, `path` (the store)
  -- @raise on failure

  --- Copies an image from one place to another, keeping its digest:
  -- the store, OCI layouts, OCI and docker archives, registries.
  -- @function copy
  -- @tparam string src a name of the store, oci:DIR[:TAG],
  -- oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or docker://REF
  -- @tparam string dst the same places (a name with a registry host
  -- alone is that registry's)
  -- @tparam[opt] table opts the options of push
  -- @treturn table `digest`, `mediaType`, `size`, `dst`, and `reference`
  -- for a registry
  -- @raise on failure
  verbs.add(api, ctx)

  return guarded(api, false)
end

-- Runs a script the way `ocibuild run` does.
local function run_script(file, args, opts, unsafe)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.unsafe = unsafe
  local r, err = require("ocibuild.api.script").run(file, args or {}, o)
  if not r then error(err, 0) end
  return r.value
end

--- The image behind an Image object (for ocibuild's own specs).
-- @param img an object made by `image`
-- @treturn table the ocibuild.build.image record
function M.internal(img)
  return image.record(img)
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

return guarded(M, false)
