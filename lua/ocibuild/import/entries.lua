--- Reading an archive's tar entries for import, once and as they come,
-- in memory that does not grow with their number: names are made
-- canonical and checked (never absolute, never holding `..`), and each
-- must be one an OCI archive (oci-layout, index.json, blobs/sha256/<hex>)
-- or a docker archive (manifest.json, repositories, <id>/layer.tar,
-- <id>/json, <id>/VERSION, <id>.json, <id>.tar[.gz], sha256:<hex>) holds:
-- the first that is not decides "neither" at once. Links are kept as
-- names inside the archive (a link pointing out of it, a device, a FIFO, a
-- socket or a second oci-layout, index.json or manifest.json stops the
-- read); bodies go straight into the store as blobs (verified against
-- their name under `blobs/sha256/`, else stored under the digest of their
-- bytes) except those three JSON files, held in memory (4 MiB at most).
-- Only a docker archive's own names are remembered (MAX_NAMES at most): a
-- blob's is its digest, and a repeated one is verified again.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local digest_mod = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local events = require "ocibuild.events"

local M = {}

local META = { ["index.json"] = true, ["oci-layout"] = true, ["manifest.json"] = true }
local LINK_DEPTH = 16
--- Files and links of a docker archive remembered by name (about 600
-- bytes each): more than `docker save` writes for a hundred images of a
-- hundred layers each.
M.MAX_NAMES = 16384

local HEX = ("%x"):rep(64)
-- The names of a docker archive ("<id>" is 64 hex digits): how each kind
-- of entry is read ("file": a body kept as a blob; "skip": legacy
-- metadata, not needed; "dir": carries nothing).
local DOCKER = {
  { "^" .. HEX .. "$", "dir" }, { "^" .. HEX .. "/layer%.tar$", "file" }, { "^" .. HEX .. "/json$", "skip" },
  { "^" .. HEX .. "/VERSION$", "skip" }, { "^" .. HEX .. "%.json$", "file" }, { "^" .. HEX .. "%.tar$", "file" },
  { "^" .. HEX .. "%.tar%.gz$", "file" }, { "^sha256:" .. HEX .. "$", "file" },
}

-- What the entry `name` (clean) is in an OCI or docker archive: "meta",
-- "blob", "file", "skip" or "dir", or nil when neither holds it.
local function kind_of(name)
  if META[name] then return "meta" end
  if name == "repositories" then return "skip" end
  if name == "" or name == "blobs" or name == "blobs/sha256" then return "dir" end
  if name:match("^blobs/") then return "blob" end
  for _, d in ipairs(DOCKER) do
    if name:match(d[1]) then return d[2] end
  end
end

local function show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

-- A tar entry's name made canonical ("./a//b/" -> "a/b"), or nil and why.
local function clean(name)
  if name:sub(1, 1) == "/" then return nil, "an absolute name", "REJECT" end
  local parts = {}
  for comp in name:gmatch("[^/]+") do
    if comp == ".." then return nil, "a name holding '..'", "REJECT" end
    if comp ~= "." then parts[#parts + 1] = comp end
  end
  return table.concat(parts, "/")
end

-- A symlink's target resolved against the link's folder, or nil when it
-- is absolute or climbs out of the archive.
local function resolve_symlink(name, target)
  if target:sub(1, 1) == "/" then return nil end
  local parts = {}
  for comp in name:gmatch("[^/]+") do parts[#parts + 1] = comp end
  parts[#parts] = nil
  for comp in target:gmatch("[^/]+") do
    if comp == ".." then
      if #parts == 0 then return nil end
      parts[#parts] = nil
    elseif comp ~= "." then
      parts[#parts + 1] = comp
    end
  end
  return table.concat(parts, "/")
end

-- Reads the body of the file entry e named `name` (of kind `kind`) into
-- st as a blob. Returns {digest=, size=}.
local function body(r, st, e, name, kind, src)
  local want
  if kind == "blob" then
    local hex = name:match("^blobs/sha256/([^/]*)$")
    if not hex or not digest_mod.valid("sha256:" .. hex) then
      return nil, "a blob not named blobs/sha256/<64 lower-case hex digits>", "REJECT"
    end
    want = "sha256:" .. hex
  end
  local dg, size, c = r:to_blob(st.core, want, want and e.size or nil)
  if not dg then return nil, ("%s: entry %s: %s"):format(src, show(e.name), size), c end
  return { digest = dg, size = size }
end

-- The target of the link entry e named `name` in the archive read so far
-- (t), or nil, why.
local function link_target(e, name, t)
  local target
  if e.type == "symlink" then
    target = resolve_symlink(name, e.target or "")
    if not target then return nil, ("a symlink out of the archive (to %s)"):format(show(e.target or "")), "REJECT" end
    return target
  end
  target = clean(e.target or "")
  if not target or target == "" or not (t.meta[target] or M.lookup(t, target)) then
    return nil, ("a hardlink to %s, which is not an earlier entry of the archive"):format(show(e.target or "")),
      "REJECT"
  end
  return target
end

-- Whether the entry e named `name` can be what kind_of says; nil, why if not.
local function fits(e, name, kind)
  if not kind then return nil, "no OCI or docker archive holds such an entry", "REJECT" end
  if e.type == "dir" then
    if kind ~= "dir" then return nil, "a folder where an OCI or docker archive has a file", "REJECT" end
  elseif kind == "dir" then
    if name == "" then return nil, "a file without a name", "REJECT" end
    return nil, ("a %s where an OCI or docker archive has a folder"):format(e.type), "REJECT"
  end
  return true
end

-- Counts one more name of a docker archive kept in t. Returns true, or
-- nil, why.
local function remember(t, name)
  if t.files[name] or t.links[name] then return nil, "a duplicate entry", "REJECT" end
  t.named = t.named + 1
  if t.named > M.MAX_NAMES then
    return nil, ("more than %d files and links of a docker archive: none holds so many"):format(M.MAX_NAMES), "REJECT"
  end
  return true
end

-- Reads the entry e of r into t (and st). Returns true, or nil, why,
-- "REJECT" (the entry is refused), or nil, msg, code.
local function entry(r, t, e, src, on_event)
  local name, why = clean(e.name)
  if not name then return nil, why, "REJECT" end
  local target
  if e.type == "symlink" or e.type == "hardlink" then
    target, why = link_target(e, name, t)
    if not target then return nil, why, "REJECT" end
  elseif e.type ~= "file" and e.type ~= "dir" then
    return nil, ("a %s (only files, folders and links inside the archive are read)"):format(e.type), "REJECT"
  end
  local kind = kind_of(name)
  local ok, err, code = fits(e, name, kind)
  if not ok or e.type == "dir" or kind == "skip" then return ok, err, code end
  if target or kind == "file" then
    ok, err = remember(t, name)
    if not ok then return nil, err, "REJECT" end
    if target then
      t.links[name] = target
      return true
    end
  end
  if kind == "meta" then
    if t.meta[name] then return nil, "a duplicate entry", "REJECT" end
    if e.size > doc.MAX_JSON then
      return nil, ("%d bytes, more than the %d allowed for JSON"):format(e.size, doc.MAX_JSON), "REJECT"
    end
    t.meta[name], err, code = r:read(doc.MAX_JSON)
    if not t.meta[name] then return nil, ("%s: entry %s: %s"):format(src, show(e.name), err), code end
    return true
  end
  local f
  f, err, code = body(r, t.st, e, name, kind, src)
  if not f then return nil, err, code end
  if kind == "file" then t.files[name] = f end
  events.emit(on_event, { type = "blob", digest = f.digest, size = f.size, action = "copied" })
  return true
end

--- Reads every entry of the tar reader r (see core.tar_reader) into the
-- store st; src names the archive in messages. Returns {meta={name=text},
-- files={name={digest=, size=}}, links={name=target}, st=}.
function M.read(r, st, src, on_event)
  local t = { meta = {}, files = {}, links = {}, st = st, named = 0 }
  while true do
    local e, err, code = r:next()
    if not e then
      if err then return nil, ("%s: %s"):format(src, err), code end
      break
    end
    local ok
    ok, err, code = entry(r, t, e, src, on_event)
    if not ok then
      -- an entry no archive holds: said with the archive and the entry
      if code ~= "REJECT" then return nil, err, code end
      return nil, ("%s: entry %s: %s: refusing to import"):format(src, show(e.name), err), "BADARCHIVE"
    end
  end
  local done, err, code = r:finish()
  if not done then return nil, ("%s: %s"):format(src, err), code end
  return t
end

-- The blob blobs/sha256/<hex> names, when the store has it.
local function blob_named(st, name)
  local hex = name:match("^blobs/sha256/(" .. HEX .. ")$")
  local p = hex and st:blob_path("sha256:" .. hex)
  local s = p and core.stat(p, true)
  if s and s.type == "file" then return { digest = "sha256:" .. hex, size = s.size } end
end

--- The file {digest=, size=} a path of the archive t (from M.read)
-- names, links followed, or nil.
function M.lookup(t, p)
  local name = clean(p)
  for _ = 1, LINK_DEPTH do
    if not name then return nil end
    local f = t.files[name] or blob_named(t.st, name)
    if f then return f end
    name = t.links[name]
  end
end

return M
