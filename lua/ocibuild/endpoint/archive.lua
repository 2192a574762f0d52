--- An OCI archive as a copy target: a tar of an image layout which
-- skopeo, podman, umoci and both Docker image stores load. Besides
-- oci-layout, index.json and the blobs it carries Docker's manifest.json
-- (the graphdriver store needs it). Blobs are gathered while an image is
-- copied in, then written at `commit`, sorted, owned by 0:0 with a fixed
-- mtime, each copied from the store and verified against its digest on
-- the way; the file appears whole (temp file + rename) or not at all.
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local output = require "ocibuild.endpoint.output"
local store_mod = require "ocibuild.store"

local M = {}
M.__index = M

--- A new archive at dest (absolute; checked with ocibuild.endpoint.output).
-- opts: {mtime= (of every entry)}.
function M.new(dest, opts)
  local ok, err, code = output.check(dest)
  if not ok then return nil, err, code end
  return setmetatable({ dest = dest, mtime = (opts or {}).mtime or 0, blobs = {}, order = {},
    images = {}, entries = {} }, M)
end

function M:has_blob(desc)
  return self.blobs[desc.digest] ~= nil
end

function M:put_blob(desc, src)
  if not src.store then
    return nil, ("cannot copy %s from this source"):format(desc.digest), "ENOTSUP"
  end
  self.blobs[desc.digest] = { size = desc.size, store = src.store }
  self.order[#self.order + 1] = desc.digest
  return true
end

function M:put_manifest(desc, text, src)
  local ok, err, code = self:put_blob(desc, src)
  if not ok then return nil, err, code end
  if media.kind(desc.mediaType) == "manifest" then
    local m
    m, err, code = doc.read_manifest(text, desc.digest)
    if not m then return nil, err, code end
    self.images[desc.digest] = m
  end
  return true
end

--- Names desc in the archive's index.json (and Docker's manifest.json)
-- with the parsed references refs (none: the image is listed unnamed).
function M:tag(desc, refs)
  if #refs == 0 then
    self.entries[#self.entries + 1] = { desc = desc, refs = {} }
  else
    self.entries[#self.entries + 1] = { desc = desc, refs = refs }
  end
  return true
end

-- Docker's manifest.json: one entry per image manifest named at the top.
local function docker_manifest(self)
  local list = json.array {}
  for _, e in ipairs(self.entries) do
    local m = self.images[e.desc.digest]
    if m then
      local tags, layers = json.array {}, json.array {}
      for _, r in ipairs(e.refs) do tags[#tags + 1] = r.familiar end
      for _, l in ipairs(m.layers) do layers[#layers + 1] = "blobs/sha256/" .. l.digest:sub(8) end
      list[#list + 1] = json.object { Config = "blobs/sha256/" .. m.config.digest:sub(8),
        RepoTags = tags, Layers = layers }
    end
  end
  return json.encode(list)
end

local function index_json(self)
  local descs = {}
  for _, e in ipairs(self.entries) do
    if #e.refs == 0 then descs[#descs + 1] = e.desc end
    for _, r in ipairs(e.refs) do descs[#descs + 1] = index.tagged(e.desc, r) end
  end
  return doc.encode(doc.index(descs))
end

--- Writes the archive. Returns true.
function M:commit()
  local digests = {}
  for d in pairs(self.blobs) do digests[#digests + 1] = d end
  table.sort(digests)
  local w <close>, err, code = core.tar_writer(self.dest)
  if not w then return nil, ("cannot write %s: %s"):format(self.dest, err), code end
  local mt = self.mtime
  local function dir(name) return w:add { kind = "dir", name = name, mode = 493, mtime = mt } end
  local function data(name, bytes)
    return w:add { kind = "data", name = name, mode = 420, mtime = mt, data = bytes }
  end
  local ok
  ok, err, code = dir("blobs/")
  if ok then ok, err, code = dir("blobs/sha256/") end
  for _, digest in ipairs(digests) do
    if not ok then break end
    local b = self.blobs[digest]
    ok, err, code = w:add_blob(b.store.core, digest, b.size,
      { name = "blobs/sha256/" .. digest:sub(8), mode = 420, mtime = mt })
  end
  if ok then ok, err, code = data("index.json", index_json(self)) end
  if ok then ok, err, code = data("manifest.json", docker_manifest(self)) end
  if ok then ok, err, code = data("oci-layout", store_mod.LAYOUT) end
  if not ok then return nil, ("cannot write %s: %s"):format(self.dest, err), code end
  -- what the path is may have changed since new(): look again before replacing it
  ok, err, code = output.check(self.dest)
  if not ok then return nil, err, code end
  local size
  size, err, code = w:close()
  if not size then return nil, ("cannot write %s: %s"):format(self.dest, err), code end
  return true
end

return M
