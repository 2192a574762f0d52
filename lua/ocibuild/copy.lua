--- Copying an image between endpoints (the store, OCI layouts, archives,
-- and registries): export, import, push and pull are all this walk. It
-- reads each manifest or index strictly from the source (verified against
-- its descriptor), copies the blobs the target lacks, children before
-- parents, and leaves naming the result (tags) to the caller, last.
-- Endpoints implement: get_json(desc) -> bytes; has_blob(desc) -> bool;
-- put_blob(desc, src) -> true [, action]; put_manifest(desc, bytes, src)
-- -> true. An endpoint with parallel(tasks) (a registry) runs the blob
-- copies of one manifest as tasks side by side through it; each blob's
-- event is emitted when its copy ends. Functions return nil, msg, code on
-- failure.
local doc = require "ocibuild.oci.doc"
local events = require "ocibuild.events"
local media = require "ocibuild.oci.media"
local walk = require "ocibuild.oci.walk"

local M = {}

-- A failure about blob d: a bare one of the C core ("BADSIZE: expected
-- ...") gets what the blob is (at: "config of manifest ...").
local function failed(at, err, code)
  if tostring(err):match("^%u[%u%d]*: ") then err = ("%s: %s"):format(at, err) end
  return nil, err, code
end

-- d: the descriptor; at: what it is, for messages.
local function copy_blob(src, d, dst, on_event, at)
  local have, err, code = dst:has_blob(d)
  if have == nil and err then return failed(at, err, code) end
  if have then
    events.emit(on_event, { type = "blob", digest = d.digest, size = d.size, action = "exists" })
    return true
  end
  local ok, action
  ok, action, code = dst:put_blob(d, src)
  if not ok then return failed(at, action, code) end
  events.emit(on_event, { type = "blob", digest = d.digest, size = d.size, action = action or "copied" })
  return true
end

-- The blobs of one manifest (or the non-manifest children of an index):
-- list of {desc=, role=}, found in `where`.
local function copy_blobs(src, list, dst, on_event, where)
  local runner = (dst.parallel and dst) or (src.parallel and src)
  if runner and #list > 1 then
    -- the first blob (an image's config) first, then the largest: the
    -- biggest transfer is the longest path, so it must not start last
    local order = table.move(list, 2, #list, 1, {})
    table.sort(order, function(a, b) return a.desc.size > b.desc.size end)
    table.insert(order, 1, list[1])
    local tasks = {}
    for i, c in ipairs(order) do
      tasks[i] = function() return copy_blob(src, c.desc, dst, on_event, ("%s of %s"):format(c.role, where)) end
    end
    return runner:parallel(tasks)
  end
  for _, c in ipairs(list) do
    local ok, err, code = copy_blob(src, c.desc, dst, on_event, ("%s of %s"):format(c.role, where))
    if not ok then return nil, err, code end
  end
  return true
end

--- Copies the manifest or index desc (and everything it reaches) from src
-- to dst, through the one bounded walk (ocibuild.oci.walk): each
-- document and blob once. opts: {on_event=}. Returns true.
function M.copy(src, desc, dst, opts)
  opts = opts or {}
  local kind = media.kind(desc.mediaType)
  if kind ~= "manifest" and kind ~= "index" then
    return nil, ("%s is a %s, not an image manifest or index"):format(desc.digest, desc.mediaType), "BADDOC"
  end
  local texts = {}
  local w = walk.new {
    read = function(d, role)
      local text, err, code = src:get_json(d)
      if not text then return nil, err, code end
      texts[d.digest] = text
      return doc.read_any(text, d.mediaType, ("%s %s"):format(role, d.digest))
    end,
    blobs = function(list, where, parent)
      return copy_blobs(src, list, dst, opts.on_event,
        parent and ("%s %s"):format(media.kind(parent.mediaType) or "document", parent.digest) or where)
    end,
    done = function(d)
      local text = texts[d.digest]
      texts[d.digest] = nil
      return dst:put_manifest(d, text, src)
    end,
  }
  return w:run(desc, ("%s %s"):format(kind, desc.digest))
end

return M
