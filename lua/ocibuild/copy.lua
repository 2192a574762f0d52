--- Copying an image between endpoints (the store, OCI layouts, archives,
-- and registries): export, import, push and pull are all this walk. It
-- reads each manifest or index strictly from the source (verified against
-- its descriptor), copies the blobs the target lacks, children before
-- parents, and leaves naming the result (tags) to the caller, last.
-- Endpoints implement: get_json(desc) -> bytes; has_blob(desc) -> bool;
-- put_blob(desc, src) -> true; put_manifest(desc, bytes, src) -> true.
-- Functions return nil, msg, code on failure.
local doc = require "ocibuild.oci.doc"
local events = require "ocibuild.events"
local media = require "ocibuild.oci.media"

local M = {}

local function copy_blob(src, d, dst, on_event)
  if dst:has_blob(d) then
    events.emit(on_event, { type = "blob", digest = d.digest, size = d.size, action = "exists" })
    return true
  end
  local ok, err, code = dst:put_blob(d, src)
  if not ok then return nil, err, code end
  events.emit(on_event, { type = "blob", digest = d.digest, size = d.size, action = "copied" })
  return true
end

--- Copies the manifest or index desc (and everything it reaches) from src
-- to dst. opts: {on_event=}. Returns true.
function M.copy(src, desc, dst, opts)
  opts = opts or {}
  local kind = media.kind(desc.mediaType)
  if kind ~= "manifest" and kind ~= "index" then
    return nil, ("%s is a %s, not an image manifest or index"):format(desc.digest, desc.mediaType), "BADDOC"
  end
  local text, err, code = src:get_json(desc)
  if not text then return nil, err, code end
  local m
  m, err, code = doc.read_any(text, desc.mediaType, ("%s %s"):format(kind, desc.digest))
  if not m then return nil, err, code end
  if kind == "index" then
    for _, child in ipairs(m.manifests) do
      local k = media.kind(child.mediaType)
      local ok
      if k == "manifest" or k == "index" then
        ok, err, code = M.copy(src, child, dst, opts)
      else
        ok, err, code = copy_blob(src, child, dst, opts.on_event)
      end
      if not ok then return nil, err, code end
    end
  else
    for _, d in ipairs { m.config, table.unpack(m.layers) } do
      local ok
      ok, err, code = copy_blob(src, d, dst, opts.on_event)
      if not ok then return nil, err, code end
    end
  end
  return dst:put_manifest(desc, text, src)
end

return M
