--- Exporting images of a store into one OCI archive (see
-- ocibuild.endpoint.archive for its layout): each SRC (a name, a digest
-- or an ID prefix) picks an image; names given as SRC become the image's
-- names in the archive, in the order given, so several names of one image
-- make one image with several names. Everything is read from the store
-- verified, while the store is held against prune.
-- Functions return nil, msg, code on failure.
local archive = require "ocibuild.endpoint.archive"
local copy = require "ocibuild.copy"
local images = require "ocibuild.store.images"
local layout = require "ocibuild.endpoint.layout"

local M = {}

--- Writes the images srcs (strings) names from the store st into an
-- archive at dest (an absolute path, or "-" for standard output).
-- opts: {mtime= (of every tar entry, default 0), on_event=}. Returns
-- {images={ {descriptor=, names={familiar}} }, size=, digest=} (the tar's).
function M.archive(st, srcs, dest, opts)
  opts = opts or {}
  if #srcs == 0 then return nil, "nothing to export: name at least one image", "EINVAL" end
  local hold <close>, err, code = st:use()
  if not hold and code ~= "EACCES" and code ~= "EROFS" then return nil, err, code end
  local idx
  idx, err, code = st:read_index()
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
  local out
  out, err, code = archive.new(dest, { mtime = opts.mtime })
  if not out then return nil, err, code end
  local src = layout.new(st)
  local result = { images = {} }
  for i, p in ipairs(order) do
    local ok
    ok, err, code = copy.copy(src, p.desc, out, { on_event = opts.on_event })
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
  return result
end

return M
