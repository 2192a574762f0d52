--- export: images of the store into one OCI archive (FILE,
-- oci-archive:FILE) or docker archive (docker-archive:FILE; see
-- ocibuild.endpoint.archive for both layouts), or onto standard output.
-- Each source (a name, a digest or an ID prefix) picks an image; names
-- given as sources become the image's names in the archive, in the order
-- given, so several names of one image make one image with several names.
-- Everything is read from the store verified, while the store is held
-- against prune. Events: an `archive` stage (id and path: the file), its
-- blob events.
local archive = require "ocibuild.endpoint.archive"
local check = require "ocibuild.util.check"
local copy = require "ocibuild.copy"
local env = require "ocibuild.util.env"
local events = require "ocibuild.events"
local images = require "ocibuild.store.images"
local layout = require "ocibuild.endpoint.layout"
local locate = require "ocibuild.locate"

local M = {}

--- args: srcs (a string or a list), dest (FILE or oci-archive:FILE,
-- docker-archive:FILE, or "-": standard output), mtime (of every tar
-- entry; default SOURCE_DATE_EPOCH, else 0).
M.OPTIONS = { "srcs", "dest", "mtime" }

-- The images srcs name in st: a list of {desc=, refs=}, each image once.
local function pick(st, srcs)
  local idx, err, code = st:read_index()
  if not idx then return nil, err, code end
  local picked, order = {}, {}
  for _, s in ipairs(srcs) do
    local t
    t, err, code = images.resolve(st, idx, s)
    if not t then return nil, err, code end
    local p = picked[t.desc.digest]
    if not p then
      p = { desc = t.desc, refs = {} }
      picked[t.desc.digest] = p
      order[#order + 1] = p
    end
    if t.ref then p.refs[#p.refs + 1] = t.ref end
  end
  return order
end

-- The args checked: the sources, the destination (absolute, allowed) and
-- the mtime.
local function checked(ctx, a)
  local err, code
  local t = {}
  t.srcs, err, code = check.list(a.srcs or {}, "export images")
  if not t.srcs then return nil, err, code end
  if #t.srcs == 0 then return nil, "nothing to export: name at least one image", "USAGE" end
  if type(a.dest) ~= "string" then return nil, "export needs a destination file (or \"-\")", "BADVALUE" end
  if a.dest == "-" then
    t.dest = "-"
  else
    local loc
    loc, err, code = locate.parse(a.dest, { bare = "file" })
    if not loc then return nil, err, code end
    if loc.kind ~= "oci-archive" and loc.kind ~= "docker-archive" or loc.tag then
      return nil, ("%s: export writes an archive, FILE, oci-archive:FILE or docker-archive:FILE (copy writes the "
        .. "other places)"):format(check.show(a.dest)), "BADREF"
    end
    t.docker = loc.kind == "docker-archive"
    t.dest, err, code = ctx:path(loc.path, "archive")
    if not t.dest then return nil, err, code end
  end
  t.mtime = a.mtime
  if t.mtime == nil then
    t.mtime, err, code = env.source_date_epoch()
    if err then return nil, err, code end
  elseif math.type(t.mtime) ~= "integer" or t.mtime < 0 then
    return nil, "export: mtime must be an integer of seconds", "BADVALUE"
  end
  return t
end

--- Exports. Returns {images={ {descriptor=, names={familiar}} }, size=,
-- digest= (the tar's), path=}, or nil, msg, code.
function M.run(ctx, a)
  local t, err, code = checked(ctx, a)
  if not t then return nil, err, code end
  local st
  st, err, code = ctx:open_store { image = t.srcs[1] }
  if not st then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold and hcode ~= "EACCES" and hcode ~= "EROFS" then return nil, herr, hcode end
  local order
  order, err, code = pick(st, t.srcs)
  if not order then return nil, err, code end
  local out
  out, err, code = archive.new(t.dest, { mtime = t.mtime or 0, docker = t.docker })
  if not out then return nil, err, code end
  ctx:emit { type = "start", stage = "archive", id = out.shown, path = out.dest }
  local on_event = events.tagged(ctx:sink(), { stage = "archive", id = out.shown })
  local result = { images = {}, path = t.dest }
  for i, p in ipairs(order) do
    local ok
    ok, err, code = copy.copy(layout.new(st), p.desc, out, { on_event = on_event })
    if ok then ok, err, code = out:tag(p.desc, p.refs) end
    if not ok then return nil, err, code end
    local names = {}
    for j, r in ipairs(p.refs) do names[j] = r.familiar end
    result.images[i] = { descriptor = p.desc, names = names }
  end
  local done
  done, err, code = out:commit()
  if not done then return nil, err, code end
  result.size, result.digest = done.size, done.digest
  ctx:emit { type = "end", stage = "archive", id = out.shown, path = out.dest }
  return result
end

return M
