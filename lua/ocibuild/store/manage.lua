--- Managing a store from Lua: what `ocibuild images|tag|rm|inspect|
-- export|import|prune|fsck` do, as functions of a handle naming the store
-- (a folder, or nil for the default one). Only `import` creates a store
-- that does not exist. ocibuild (init.lua) wraps each in a method that
-- raises; here they return nil, msg, code.
local check = require "ocibuild.util.check"
local env = require "ocibuild.util.env"
local export = require "ocibuild.export"
local fsck = require "ocibuild.store.fsck"
local images = require "ocibuild.store.images"
local import = require "ocibuild.import"
local inspect = require "ocibuild.store.inspect"
local path = require "ocibuild.util.path"
local store = require "ocibuild.store"

local M = {}

M.METHODS = { "images", "tag", "rm", "inspect", "export", "import", "prune", "fsck" }

--- A handle on the store at dir (absolute; nil: `fallback`, the --store
-- of the command line, else $OCIBUILD_STORE, else the default); relative
-- paths given to its functions resolve against base.
function M.handle(dir, base, fallback)
  return { dir = dir, base = base, fallback = fallback }
end

local function open(h, create)
  if h.dir then return store.open(h.dir, { create = create }) end
  return store.locate(h.fallback, { create = create })
end

local function opts_of(o, known, what)
  if o == nil then return {} end
  if type(o) ~= "table" then return nil, what .. " options must be a table" end
  return check.keys(o, known, what)
end

local function strings(v, what)
  if type(v) == "string" then return { v } end
  return check.strings(v, what)
end

--- The images (see ocibuild.store.images.object), opts {repo=}.
function M.images(h, o)
  local opts, err = opts_of(o, { "repo" }, "images")
  if not opts then return nil, err end
  local st, code
  st, err, code = open(h)
  if not st then return nil, err, code end
  local list
  list, err, code = images.list(st, { repo = opts.repo })
  if not list then return nil, err, code end
  local out = {}
  for i, im in ipairs(list) do out[i] = images.object(im) end
  return out
end

--- Names the image src also each of the names that follow. Returns the
-- manifest digest tagged.
function M.tag(h, src, ...)
  local dsts = { ... }
  if type(src) ~= "string" or #dsts == 0 then return nil, "tag needs an image and at least one new name" end
  local ok, err = check.strings(dsts, "tag names")
  if not ok then return nil, err end
  local st, code
  st, err, code = open(h)
  if not st then return nil, err, code end
  local desc
  desc, err, code = images.tag(st, src, dsts)
  if not desc then return nil, err, code end
  return desc.digest
end

--- Removes names (a string or a list), opts {force=}. Returns
-- {untagged={...}, deleted={...}}.
function M.rm(h, names, o)
  local list, err = strings(names, "rm names")
  if not list then return nil, err end
  local opts
  opts, err = opts_of(o, { "force" }, "rm")
  if not opts then return nil, err end
  local st, code
  st, err, code = open(h)
  if not st then return nil, err, code end
  return images.remove(st, list, { force = opts.force })
end

--- An image as a table (or exact bytes with what="raw"/"config_raw"),
-- opts {what=, platform=}: see ocibuild.store.inspect.
function M.inspect(h, src, o)
  if type(src) ~= "string" then return nil, "inspect needs an image name, digest or ID" end
  local opts, err = opts_of(o, { "what", "platform" }, "inspect")
  if not opts then return nil, err end
  local what = opts.what or "image"
  if what ~= "image" and what ~= "manifest" and what ~= "raw" and what ~= "config" and what ~= "config_raw" then
    return nil, ("inspect: what must be image, manifest, raw, config or config_raw, got %s"):format(check.show(what))
  end
  local st, code
  st, err, code = open(h)
  if not st then return nil, err, code end
  return inspect.run(st, src, { what = what, platform = opts.platform })
end

--- Writes the images srcs (a string or a list) into an OCI archive at
-- dest ("-": standard output), opts {mtime=} (default SOURCE_DATE_EPOCH,
-- else 0). Returns what ocibuild.export.archive returns.
function M.export(h, srcs, dest, o)
  local list, err = strings(srcs, "export images")
  if not list then return nil, err end
  if type(dest) ~= "string" then return nil, "export needs a destination file (or \"-\")" end
  local opts
  opts, err = opts_of(o, { "mtime" }, "export")
  if not opts then return nil, err end
  local mtime, code = opts.mtime
  if mtime == nil then
    mtime, err, code = env.source_date_epoch()
    if err then return nil, err, code end
  end
  local st
  st, err, code = open(h)
  if not st then return nil, err, code end
  return export.archive(st, list, dest == "-" and "-" or path.abs(dest, h.base), { mtime = mtime or 0 })
end

--- Imports an archive, a layout folder or "-" (standard input), opts
-- {tags=, select=}; creates the store when missing. Returns what
-- ocibuild.import.archive returns.
function M.import(h, src, o)
  if type(src) ~= "string" then return nil, "import needs an archive, a folder or \"-\"" end
  local opts, err = opts_of(o, { "tags", "select" }, "import")
  if not opts then return nil, err end
  local tags
  if opts.tags ~= nil then
    tags, err = strings(opts.tags, "import tags")
    if not tags then return nil, err end
  end
  local st, code
  st, err, code = open(h, true)
  if not st then return nil, err, code end
  return import.any(src == "-" and "-" or path.abs(src, h.base), st, { tags = tags, select = opts.select })
end

--- Prunes, opts {dry_run=, all=}: see ocibuild.store.prune.
function M.prune(h, o)
  local opts, err = opts_of(o, { "dry_run", "all" }, "prune")
  if not opts then return nil, err end
  local st, code
  st, err, code = open(h)
  if not st then return nil, err, code end
  return st:prune(opts)
end

--- Checks the whole store: see ocibuild.store.fsck (problems are in the
-- report, not failures).
function M.fsck(h)
  local st, err, code = open(h)
  if not st then return nil, err, code end
  return fsck.run(st)
end

return M
