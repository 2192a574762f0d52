--- Reading an archive's tar entries for import, once and as they come:
-- names are made canonical and checked (never absolute, never holding
-- `..`), links are kept as names inside the archive (a link pointing out
-- of it, a device, a FIFO, a socket or a duplicate entry stops the read),
-- and bodies go straight into the store as blobs (verified against their
-- name under `blobs/sha256/`, else stored under the digest of their
-- bytes) except the small JSON files, held in memory (4 MiB at most).
-- Functions return nil, msg, code on failure.
local digest_mod = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local events = require "ocibuild.events"

local M = {}

local META = { ["index.json"] = true, ["oci-layout"] = true, ["manifest.json"] = true }
local LINK_DEPTH = 16

local function show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

-- A tar entry's name made canonical ("./a//b/" -> "a/b"), or nil and why.
local function clean(name)
  if name:sub(1, 1) == "/" then return nil, "an absolute name" end
  local parts = {}
  for comp in name:gmatch("[^/]+") do
    if comp == ".." then return nil, "a name holding '..'" end
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

--- Reads every entry of the tar reader r (see core.tar_reader) into the
-- store st; src names the archive in messages. Returns {meta={name=text},
-- files={name={digest=, size=}}, links={name=target}}.
function M.read(r, st, src, on_event)
  local seen, links, files, meta = {}, {}, {}, {}
  local function reject(name, why)
    return nil, ("%s: entry %s: %s: refusing to import"):format(src, show(name), why), "BADARCHIVE"
  end
  while true do
    local e, err, code = r:next()
    if not e then
      if err then return nil, ("%s: %s"):format(src, err), code end
      break
    end
    local name, why = clean(e.name)
    if not name then return reject(e.name, why) end
    if name ~= "" and seen[name] then return reject(e.name, "a duplicate entry") end
    seen[name] = true
    if e.type == "dir" then
      -- folders carry nothing
    elseif e.type == "symlink" then
      local target = resolve_symlink(name, e.target or "")
      if not target then return reject(e.name, ("a symlink out of the archive (to %s)"):format(show(e.target or ""))) end
      links[name] = target
    elseif e.type == "hardlink" then
      local target = clean(e.target or "")
      if not target or target == "" or not seen[target] then
        return reject(e.name, ("a hardlink to %s, which is not an earlier entry of the archive"):format(show(e.target or "")))
      end
      links[name] = target
    elseif e.type ~= "file" then
      return reject(e.name, ("a %s (only files, folders and links inside the archive are read)"):format(e.type))
    elseif name == "" then
      return reject(e.name, "a file without a name")
    elseif META[name] then
      if e.size > doc.MAX_JSON then
        return reject(e.name, ("%d bytes, more than the %d allowed for JSON"):format(e.size, doc.MAX_JSON))
      end
      meta[name], err, code = r:read(doc.MAX_JSON)
      if not meta[name] then return nil, ("%s: entry %s: %s"):format(src, show(e.name), err), code end
    elseif name:match("^blobs/") then
      local hex = name:match("^blobs/sha256/([^/]*)$")
      if not hex or not digest_mod.valid("sha256:" .. hex) then
        return reject(e.name, "a blob not named blobs/sha256/<64 lower-case hex digits>")
      end
      local dg, size, c = r:to_blob(st.core, "sha256:" .. hex, e.size)
      if not dg then return nil, ("%s: entry %s: %s"):format(src, show(e.name), size), c end
      files[name] = { digest = dg, size = size }
      events.emit(on_event, { type = "blob", digest = dg, size = size, action = "copied" })
    elseif name == "repositories" or name:match("/json$") or name:match("/VERSION$") then
      -- the legacy docker format's per-layer metadata: not needed
    else
      local dg, size, c = r:to_blob(st.core)
      if not dg then return nil, ("%s: entry %s: %s"):format(src, show(e.name), size), c end
      files[name] = { digest = dg, size = size }
      events.emit(on_event, { type = "blob", digest = dg, size = size, action = "copied" })
    end
  end
  local done, err, code = r:finish()
  if not done then return nil, ("%s: %s"):format(src, err), code end
  return { meta = meta, files = files, links = links }
end

--- The file {digest=, size=} a path of the archive t (from M.read)
-- names, links followed, or nil.
function M.lookup(t, p)
  local name = clean(p)
  for _ = 1, LINK_DEPTH do
    if not name then return nil end
    if t.files[name] then return t.files[name] end
    name = t.links[name]
  end
end

return M
