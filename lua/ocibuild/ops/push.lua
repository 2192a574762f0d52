--- push: an image to a registry: one of the store, or of any place
-- ocibuild.locate names (read through the store when it is an
-- archive or another registry). Blobs the registry has are
-- skipped, blobs another repository of the same registry has are mounted,
-- the rest uploaded; the tag moves last (ocibuild.registry.push).
-- Events: a `push` stage (id: the destination, familiar; ref: normalized),
-- its progress and blob events, ended with ref = HOST/NAME@sha256:...;
-- the same whoever pushes: the CLI, the API, a build that pushes.
local check = require "ocibuild.util.check"
local locate = require "ocibuild.locate"
local options = require "ocibuild.registry.options"
local ref = require "ocibuild.oci.ref"
local registry = require "ocibuild.registry"
local store_mod = require "ocibuild.store"

local M = {}

--- args: src (a place: a name of the store, oci:DIR[:TAG], an archive,
-- docker://REF; or what a build returned: {manifest=, path=, tags=}), dest
-- (a registry: HOST/NAME[:TAG] or docker://REF; default: src, when it
-- names its registry), and the registry options (ocibuild.registry.options).
M.OPTIONS = { "src", "dest", table.unpack(options.KEYS) }

-- The destination: dest, else src's own name when it names a registry.
local function destination(args)
  if args.dest ~= nil then
    if type(args.dest) ~= "string" then return nil, "push: dest must be a reference", "BADVALUE" end
    return args.dest
  end
  local src = args.src
  local name = type(src) == "string" and src or (type(src) == "table" and src.tags and src.tags[1]
    and src.tags[1].familiar)
  if not ref.names_registry(name) then
    return nil, ("%s names no registry: give DEST, as HOST/NAME:TAG"):format(name and check.show(name)
      or "the image"), "USAGE"
  end
  return name
end

-- The store (or layout) and the manifest descriptor of src.
local function source(ctx, src, o)
  if type(src) == "table" then
    local st, err, code = store_mod.open(src.path)
    if not st then return nil, err, code end
    return st, src.manifest
  end
  local loc, err, code = locate.parse(src)
  if not loc then return nil, err, code end
  local got
  got, err, code = locate.source(loc, { store = ctx:opener(), dir = ctx.base, registry = o, policy = ctx.policy,
    on_event = ctx:sink() })
  if not got then return nil, err, code end
  return got.st, got.desc
end

--- Pushes. Returns {reference= ("HOST/NAME@sha256:..."), digest=, name=
-- (HOST/NAME)}, or nil, msg, code.
function M.run(ctx, args)
  local ok, err
  local src = args.src
  if type(src) ~= "string" and not (type(src) == "table" and src.manifest and src.path) then
    return nil, "push needs an image of the store (a name or NAME@DIGEST), or what a build returned", "BADVALUE"
  end
  local dest, code
  dest, err, code = destination(args)
  if not dest then return nil, err, code end
  local loc
  loc, err, code = locate.parse(dest, { bare = "registry" })
  if loc and loc.kind ~= "registry" then
    loc, err, code = nil, ("%s is not a registry: push sends images to one (copy writes the other places)")
      :format(check.show(dest)), "BADREF"
  end
  if not loc then return nil, err, code end
  local r
  r, err, code = registry.reference(loc.ref)
  if not r then return nil, err, code end
  ok, err, code = ctx:reach(r.domain, "push to " .. r.familiar)
  if not ok then return nil, err, code end
  local o
  o, err, code = ctx:registry_options(args)
  if not o then return nil, err, code end
  local st, desc
  st, desc, code = source(ctx, src, o)
  if not st then return nil, desc, code end
  ctx:emit { type = "start", stage = "push", id = r.familiar, ref = r.normalized }
  local p
  p, err, code = registry.push(st, desc, r, o)
  if not p then return nil, err, code end
  ctx:emit { type = "end", stage = "push", id = r.familiar, ref = p.reference, digest = p.digest }
  return { reference = p.reference, digest = p.digest, name = p.name }
end

return M
