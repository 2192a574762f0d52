--- build: an image (or an index) described by build objects
-- (ocibuild.build.image, ocibuild.build.index) built into the store,
-- tagged, written into an archive when asked, then pushed. The objects
-- come from one of three front ends, each ending in the same save: a
-- script's calls (args.image), one directory with the CLI's flags or
-- oci.build's options (args.context), or a Dockerfile (args.dockerfile).
-- Every tag and push target, and every host path (checked by the
-- context's sandbox), is checked before any work. Events: the `image`
-- stage of ocibuild.build.save (its layers, its archive), then one `push`
-- stage per target, the push verb's own (ocibuild.ops.push). With a
-- shared cache (the context's, the save's: ocibuild.registry.cache),
-- layers come from its records and the layers made are recorded last.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local ignore = require "ocibuild.build.ignore"
local image = require "ocibuild.build.image"
local layer = require "ocibuild.build.layer"
local locate = require "ocibuild.locate"
local options = require "ocibuild.registry.options"
local ref = require "ocibuild.oci.ref"
local save = require "ocibuild.build.save"

local M = {}

--- The options of a save: tag (a string or a list), archive (a file),
-- cache (false: build every layer from scratch, reading no shared cache;
-- {from=, to=}: a shared cache, each a repository reference or a list,
-- besides the context's), push (true: to each tag; a reference, or a list
-- of them), registry (registry options, over the context's), sbom,
-- provenance and sign (attestations and signatures, see
-- ocibuild.attest.build; the context's `attest` gives those a save does
-- not).
M.SAVE_OPTIONS = { "tag", "archive", "cache", "push", "registry", "sbom", "provenance", "sign" }

--- The options of a one-directory build (oci.build, `ocibuild build
-- DIR`): the directory (`context`), the image's, the layer's and the
-- save's.
M.DIRECTORY_OPTIONS = { "context", "tag", "exclusions", "labels", "store", "archive", "dest", "platform", "config",
  "compression", "level", "jobs", "mode", "mtime", "owner", "from", "annotations", "rules", "replace", "cache",
  "push", "registry", "sbom", "provenance", "sign" }

--- The options of a Dockerfile build (oci.dockerfile, `ocibuild build
-- -f`): context (default: the folder relative paths resolve against),
-- file, or text (the Dockerfile itself), args (ARG values), target (a
-- stage), platform ("os/arch", a list, or "p1,p2").
M.DOCKERFILE_OPTIONS = { "file", "text", "context", "args", "target", "platform" }

--- Where `push` sends the image: a list of parsed references, or nil,
-- msg, "BADREF".
function M.push_targets(p, tags)
  if p == nil or p == false then return {} end
  local list = {}
  if p == true then
    if type(tags) == "string" then tags = { tags } end
    if type(tags) ~= "table" or #tags == 0 then return nil, "push = true needs a tag to push to", "BADREF" end
    for _, t in ipairs(tags) do
      if not ref.names_registry(t) then
        return nil, ("push = true: tag %q names no registry (use HOST/NAME:TAG, or push = \"HOST/NAME:TAG\")")
          :format(t), "BADREF"
      end
      list[#list + 1] = t
    end
  elseif type(p) == "string" then
    list[1] = p
  elseif type(p) == "table" then
    for i, t in ipairs(p) do
      if type(t) ~= "string" then return nil, ("push[%d] must be a reference string"):format(i), "BADREF" end
      list[#list + 1] = t
    end
  else
    return nil, "push must be true, a reference, or a list of references", "BADREF"
  end
  local refs = {}
  for _, t in ipairs(list) do
    local r, err = ref.parse(t)
    if not r then return nil, "push: " .. err, "BADREF" end
    refs[#refs + 1] = r
  end
  return refs
end

-- ---- host paths, through the context's sandbox ----

--- The paths of a layer spec s (context, ignorefile, and the context's
-- own .dockerignore) made absolute and allowed, in place. Returns true,
-- or nil, msg, code.
function M.layer_paths(ctx, s)
  if type(s) ~= "table" then return true end
  local err, code
  if type(s.context) == "string" then
    s.context, err, code = ctx:path(s.context, "context")
    if not s.context then return nil, err, code end
    if s.ignorefile == nil and ctx.allow and core.stat(s.context .. "/.dockerignore") then
      local ok
      ok, err, code = ctx:path(s.context .. "/.dockerignore", "ignore file")
      if not ok then return nil, err, code end
    end
  end
  if type(s.ignorefile) == "string" then
    s.ignorefile, err, code = ctx:path(s.ignorefile, "ignorefile")
    if not s.ignorefile then return nil, err, code end
  end
  return true
end

--- The path of a file spec's `source`, made absolute and allowed, in
-- place. Returns true, or nil, msg, code.
function M.file_paths(ctx, s)
  if type(s) ~= "table" or type(s.source) ~= "string" then return true end
  local err, code
  s.source, err, code = ctx:path(s.source, "file source")
  if not s.source then return nil, err, code end
  return true
end

-- A base reference whose layout's or archive's path is made absolute and
-- allowed (ocibuild.locate reads it).
local function from_path(ctx, from)
  if type(from) ~= "string" then return from end
  local loc, err, code = locate.parse(from)
  if not loc then return nil, err, code end
  if loc.kind ~= "oci" and loc.kind ~= "oci-archive" and loc.kind ~= "docker-archive" then return from end
  local abs
  abs, err, code = ctx:path(loc.path, "base image")
  if not abs then return nil, err, code end
  return loc.kind .. ":" .. abs .. (loc.tag and (":" .. loc.tag) or "")
end

--- A new image (ocibuild.build.image) from the image options o
-- (platform, store, created, from, annotations), its paths checked;
-- where: the caller's line. Returns it, or nil, msg, code.
function M.new_image(ctx, o, where)
  local err, code
  if type(o.store) == "string" then
    o.store, err, code = ctx:path(o.store, "store")
    if not o.store then return nil, err, code end
  end
  o.from, err, code = from_path(ctx, o.from)
  if err then return nil, err, code end
  return image.new(o, ctx.base, where)
end

--- The patterns of the ignore file p, as a layer's `exclude` takes them:
-- {file=, entries=, [i] = pattern}. Returns it, or nil, msg, code.
function M.ignorefile(ctx, p)
  if type(p) ~= "string" then return nil, "ignorefile needs a path", "BADVALUE" end
  local file, err, code = ctx:path(p, "ignore file")
  if not file then return nil, err, code end
  local list
  list, err, code = ignore.read(file)
  if not list then return nil, err, code end
  local t = { file = file, entries = list }
  for i, e in ipairs(list) do t[i] = e.pattern end
  return t
end

-- ---- the three front ends ----

--- The image (or index) a Dockerfile describes, read and planned, not
-- built: o as M.DOCKERFILE_OPTIONS. Returns it, or nil, msg, code
-- (BADDOCKERFILE, USAGE for what the file asks).
function M.dockerfile(ctx, o)
  -- the front end loads only for Dockerfile builds
  local dockerfile = require "ocibuild.dockerfile"
  -- display: how messages name the file (the CLI's operand)
  local ok, err = check.keys(o, { "display", table.unpack(M.DOCKERFILE_OPTIONS) }, "dockerfile")
  if not ok then return nil, err, "BADVALUE" end
  if o.context ~= nil and type(o.context) ~= "string" then
    return nil, "dockerfile: context must be a folder", "BADVALUE"
  end
  local context, code
  context, err, code = ctx:path(o.context or ".", "context")
  if not context then return nil, err, code end
  local st = core.stat(context)
  if not st or st.type ~= "dir" then
    return nil, ("dockerfile: context %s is not a folder"):format(context), "ENOTDIR"
  end
  local file, display
  if o.text ~= nil then
    if o.file ~= nil then return nil, "dockerfile: give file or text, not both", "BADVALUE" end
    if type(o.text) ~= "string" then return nil, "dockerfile: text must be a string", "BADVALUE" end
    if #o.text > dockerfile.MAX_FILE then
      return nil, ("dockerfile: text is larger than %d MiB"):format(dockerfile.MAX_FILE >> 20), "TOOBIG"
    end
    display = o.display or "<text>"
  elseif o.file ~= nil then
    if type(o.file) ~= "string" then return nil, "dockerfile: file must be a path", "BADVALUE" end
    file, err, code = ctx:path(o.file, "Dockerfile")
    display = o.display or o.file
  else
    file, display = dockerfile.find(context)
    if not file then
      return nil, ("dockerfile: %s holds no Dockerfile or Containerfile"):format(context), "ENOENT"
    end
    display = o.display or display
    file, err, code = ctx:path(file, "Dockerfile")
  end
  if not file and o.text == nil then return nil, err, code end
  if ctx.allow then
    for _, ig in ipairs { file and file .. ".dockerignore" or "", context .. "/.dockerignore" } do
      if core.stat(ig) then
        ok, err, code = ctx:path(ig, "ignore file")
        if not ok then return nil, err, code end
        break
      end
    end
  end
  if o.args ~= nil then
    local bad = type(o.args) ~= "table"
    for k, v in pairs(bad and {} or o.args) do bad = bad or type(k) ~= "string" or type(v) ~= "string" end
    if bad then return nil, "dockerfile: args must be a table of strings", "BADVALUE" end
  end
  local plats = o.platform
  if type(plats) == "string" then
    local list = {}
    for p in plats:gmatch("[^,]+") do list[#list + 1] = p end
    plats = list
  elseif plats ~= nil and not check.strings(plats, "platform") then
    return nil, "dockerfile: platform must be \"os/arch\", a list of them or \"p1,p2\"", "BADVALUE"
  end
  if o.target ~= nil and type(o.target) ~= "string" then
    return nil, "dockerfile: target must be a stage name", "BADVALUE"
  end
  return dockerfile.load { file = file, text = o.text, display = display, context = context, args = o.args,
    target = o.target, platforms = plats }
end

--- The image of one directory built in one call: args as
-- M.DIRECTORY_OPTIONS;
-- where: the caller's line. Returns it, or nil, msg, code.
function M.directory(ctx, args, where)
  local ok, err = check.keys(args, M.DIRECTORY_OPTIONS, "build")
  if not ok then return nil, err, "BADVALUE" end
  local img, code
  img, err, code = M.new_image(ctx, { platform = args.platform, store = args.store, from = args.from,
    annotations = args.annotations }, where)
  if not img then return nil, err, code end
  local spec = { context = args.context, exclude = args.exclusions }
  for _, k in ipairs(layer.OPTIONS) do
    if args[k] ~= nil and spec[k] == nil then spec[k] = args[k] end
  end
  ok, err, code = M.layer_paths(ctx, spec)
  if ok then ok, err, code = img:layer(spec, where) end
  img.definition = { kind = "flags", context = spec.context }
  if ok and args.labels then ok, err, code = img:set_labels(args.labels) end
  if ok and args.config then ok, err, code = img:config(args.config) end
  if not ok then return nil, err, code end
  return img
end

-- ---- saving ----

-- The attestations and signatures a save asks for (its own sbom,
-- provenance and sign, else the context's), checked, the key read (a
-- save's own key file allowed by the sandbox): the spec of
-- ocibuild.attest.build, or false, or nil, msg, code.
local function attested(ctx, o, t)
  local asked = false
  for _, k in ipairs { "sbom", "provenance", "sign" } do
    asked = asked or (o[k] ~= nil and o[k] ~= false) or ((ctx.attest or {})[k] or false) ~= false
  end
  -- the attestation modules load only for saves that ask for them
  if not asked then return false end
  local attest = require "ocibuild.attest.build"
  local want = {}
  for _, k in ipairs(attest.OPTIONS) do
    if o[k] ~= nil then want[k] = o[k] else want[k] = (ctx.attest or {})[k] end
  end
  local spec, err, code = attest.check(want)
  if not spec or not spec.sign then return spec, err, code end
  if o.sign ~= nil then
    spec.sign.key, err, code = ctx:path(spec.sign.key, "signing key")
    if not spec.sign.key then return nil, err, code end
  end
  if #t.tag == 0 and #t.targets == 0 then
    return nil, "sign needs a tag or a push: a signature names the image's repository", "BADVALUE"
  end
  local ok
  ok, err, code = attest.load_key(spec)
  if not ok then return nil, err, code end
  return spec
end

-- The save options o checked, before any work: {tag= (refs), archive=
-- (absolute, allowed), cache=, targets= (refs), registry= (merged),
-- attest= (see attested)}.
local function checked(ctx, o)
  local ok, err = check.keys(o, M.SAVE_OPTIONS, "save")
  if not ok then return nil, err, "BADVALUE" end
  local t = { cache = o.cache ~= false }
  local code
  t.tag, err, code = save.refs(o.tag)
  if not t.tag then return nil, err, code end
  if o.archive ~= nil and type(o.archive) ~= "string" then return nil, "archive must be a file path", "BADVALUE" end
  if o.cache ~= nil and type(o.cache) ~= "boolean" and type(o.cache) ~= "table" then
    return nil, "cache must be true, false or {from = REF, to = REF}", "BADVALUE"
  end
  t.shared = { from = {}, to = {} }
  local function named(v) return v ~= nil and (type(v) ~= "table" or next(v) ~= nil) end
  if (ctx.cache and (named(ctx.cache.from) or named(ctx.cache.to))) or type(o.cache) == "table" then
    -- the shared cache's client loads only for builds that use one
    t.shared, err, code = require("ocibuild.registry.cache").refs(ctx.cache, type(o.cache) == "table" and o.cache
      or nil, function(domain, what) return ctx:reach(domain, what) end)
    if not t.shared then return nil, err, code end
  end
  t.targets, err, code = M.push_targets(o.push, o.tag)
  if not t.targets then return nil, err, code end
  for _, r in ipairs(t.targets) do
    ok, err, code = ctx:reach(r.domain, "push to " .. r.familiar)
    if not ok then return nil, err, code end
  end
  if o.registry ~= nil then
    ok, err, code = options.check(o.registry, "save: registry")
    if not ok then return nil, err, code end
  end
  t.registry, err, code = ctx:registry_options(o.registry)
  if not t.registry then return nil, err, code end
  -- each registry is asked first, so that credentials it refuses fail
  -- before the build rather than after it
  for _, r in ipairs(t.targets) do
    ok, err, code = require("ocibuild.registry").check_push(r, t.registry)
    if not ok then return nil, err, code end
  end
  if o.archive then
    t.archive, err, code = ctx:path(o.archive, "archive")
    if not t.archive then return nil, err, code end
  end
  t.attest, err, code = attested(ctx, o, t)
  if t.attest == nil then return nil, err, code end
  return t
end

-- Records the layers made in the shared cache (their blobs in the store
-- at dir, held against prune meanwhile); a failure is a warning.
local function record(ctx, cache, dir, made)
  local st = require("ocibuild.store").open(dir)
  local hold <close> = st and st:use()
  if hold then cache:record(st, made, function(m) ctx:say(m) end) end
end

--- Builds img (an ocibuild.build.image or .index) and saves it, with the
-- save options o (M.SAVE_OPTIONS). Returns the result of
-- ocibuild.build.save with pushed= (a list of {reference=, digest=,
-- name=}), or nil, msg, code (and the failing layer's `where`).
function M.save(ctx, img, o)
  o = o or {}
  local t, err, code = checked(ctx, o)
  if not t then return nil, err, code end
  -- the shared cache: records read while the layers are built (not with
  -- cache = false), written last, their blobs mounted from where the image went
  local made = {}
  local cache <close> = (#t.shared.from > 0 or #t.shared.to > 0) and
    require("ocibuild.registry.cache").new(t.cache and t.shared.from or {}, t.shared.to, t.registry) or nil
  local r, where
  r, err, code, where = save.save(img, { tag = t.tag, archive = t.archive, cache = t.cache,
    cache_from = cache and #cache.from > 0 and cache or nil, made = made, registry = t.registry,
    attest = t.attest, definition = ctx.definition }, ctx)
  if not r then return nil, err, code, where end
  r.pushed = {}
  -- the registry client loads only for builds that push
  local push = #t.targets > 0 and require "ocibuild.ops.push"
  local pctx = ctx:with { registry = t.registry }
  for _, target in ipairs(t.targets) do
    local p
    p, err, code = push.run(pctx, { src = r, dest = target.familiar, sign = t.attest and t.attest.sign or nil })
    if not p then
      local tags = {}
      for i, tr in ipairs(r.tags) do tags[i] = tr.familiar end
      return nil, ("%s; the image is stored as %s (%s)"):format(err, #tags > 0 and table.concat(tags, ", ")
        or "an untagged image", r.digest), code
    end
    r.pushed[#r.pushed + 1] = p
  end
  if cache and #cache.to > 0 then record(ctx, cache, r.path, made) end
  return r
end

-- The save options of args, and the rest.
local function split(args)
  local o, rest = {}, {}
  for k, v in pairs(args) do
    local is_save = false
    for _, s in ipairs(M.SAVE_OPTIONS) do is_save = is_save or s == k end
    if is_save then o[k] = v else rest[k] = v end
  end
  return o, rest
end

--- Builds and saves. args: image= (build objects, with the save
-- options), or dockerfile= (M.DOCKERFILE_OPTIONS, with labels=,
-- annotations= for each image, and the save options), or a directory
-- build's options (M.DIRECTORY_OPTIONS); where: the caller's line. Returns what
-- M.save returns.
function M.run(ctx, args, where)
  if type(args) ~= "table" then return nil, "build needs a table of options", "BADVALUE" end
  if args.image ~= nil then
    local o, rest = split(args)
    rest.image = nil
    local ok, err = check.keys(rest, {}, "save")
    if not ok then return nil, err, "BADVALUE" end
    return M.save(ctx, args.image, o)
  end
  if args.dockerfile ~= nil then
    local o, rest = split(args)
    local ok, err = check.keys(rest, { "dockerfile", "labels", "annotations" }, "build")
    if not ok then return nil, err, "BADVALUE" end
    local rec, code
    rec, err, code = M.dockerfile(ctx, args.dockerfile)
    if not rec then return nil, err, code end
    for _, img in ipairs(rec.images or { rec }) do
      ok, err, code = img:set_labels(args.labels or {})
      if ok then ok, err, code = img:annotate(args.annotations or {}) end
      if not ok then return nil, err, code end
    end
    local r, serr, scode, at = M.save(ctx, rec, o)
    -- a failure of a Dockerfile's instruction names its line
    if not r and at and serr:sub(1, #at + 2) ~= at .. ": " then serr = at .. ": " .. serr end
    return r, serr, scode, at
  end
  local img, err, code = M.directory(ctx, args, where)
  if not img then return nil, err, code end
  local o = split(args)
  return M.save(ctx, img, o)
end

return M
