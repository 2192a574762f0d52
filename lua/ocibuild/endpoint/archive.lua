--- An OCI archive as a copy target: a tar of an image layout which
-- skopeo, podman, umoci and both Docker image stores load. Besides
-- oci-layout, index.json and the blobs it carries Docker's manifest.json
-- (the graphdriver store needs it). Each image is one index.json entry,
-- however many names it has: skopeo (`oci-archive:FILE` with no name) and
-- podman load only an index.json of one entry as OCI, keeping digests. The
-- entry carries the image's first name (ref.name in the familiar form,
-- io.containerd.image.name in the full one: what podman and containerd
-- apply); manifest.json's RepoTags carry every name (what Docker's
-- graphdriver store applies, and what `ocibuild import` reads back).
-- Blobs are gathered while an image is copied in, then written at
-- `commit`, sorted, owned by 0:0 with a fixed mtime, each copied from the
-- store and verified against its digest on the way; the file appears
-- whole (temp file + rename) or not at all; "-" streams to standard
-- output instead. A docker archive (`docker-archive:`) is the same layout,
-- as `docker save` writes it since Docker 25, but for index.json, which
-- lists an image once per name, as Docker does: docker load, podman load
-- and skopeo's docker-archive: read its manifest.json, ocibuild import its
-- index.json (the image's own manifest, so its digest comes back).
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local output = require "ocibuild.endpoint.output"
local store_mod = require "ocibuild.store"

local M = {}
M.__index = M

--- A new archive at dest (absolute; checked with ocibuild.endpoint.output),
-- or "-" for standard output. opts: {mtime= (of every entry), docker=
-- (true: a docker archive)}.
function M.new(dest, opts)
  if dest ~= "-" then
    local ok, err, code = output.check(dest)
    if not ok then return nil, err, code end
  end
  return setmetatable({ dest = dest, shown = dest == "-" and "standard output" or dest,
    mtime = (opts or {}).mtime or 0, docker = (opts or {}).docker or false, blobs = {}, order = {}, images = {},
    entries = {}, by_digest = {} }, M)
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

--- Lists desc in the archive, adding the parsed references refs to its
-- names (none: listed unnamed). Images keep the order they were first
-- tagged in; names the order they were given in.
function M:tag(desc, refs)
  local e = self.by_digest[desc.digest]
  if not e then
    e = { desc = desc, refs = {}, seen = {} }
    self.by_digest[desc.digest] = e
    self.entries[#self.entries + 1] = e
  end
  for _, r in ipairs(refs) do
    if not e.seen[r.normalized] then
      e.seen[r.normalized] = true
      e.refs[#e.refs + 1] = r
    end
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
    -- an OCI archive names an image once (readers take one entry per
    -- image), a docker archive once per name
    local names = self.docker and e.refs or { e.refs[1] }
    for _, r in ipairs(names) do descs[#descs + 1] = index.tagged(e.desc, r) end
    if #names == 0 then descs[#descs + 1] = index.untagged(e.desc) end
  end
  return doc.encode(doc.index(descs))
end

--- Writes the archive. Returns {size=, digest=} of the tar.
function M:commit()
  if self.docker then
    -- its manifest.json names images, one per name: an index has none to give
    for _, e in ipairs(self.entries) do
      if not self.images[e.desc.digest] then
        local name = e.refs[1] and e.refs[1].familiar or e.desc.digest
        return nil, ("%s: %s is a multi-platform index, and a docker archive holds one image per name: copy one "
          .. "of its images (by digest: `ocibuild inspect %s` lists them), or write an OCI archive (oci-archive:)")
          :format(self.shown, name, name), "BADREF"
      end
    end
  end
  local digests = {}
  for d in pairs(self.blobs) do digests[#digests + 1] = d end
  table.sort(digests)
  local w <close>, err, code = core.tar_writer(self.dest)
  if not w then return nil, ("cannot write %s: %s"):format(self.shown, err), code end
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
  if not ok then return nil, ("cannot write %s: %s"):format(self.shown, err), code end
  -- what the path is may have changed since new(): look again before replacing it
  if self.dest ~= "-" then
    ok, err, code = output.check(self.dest)
    if not ok then return nil, err, code end
  end
  local size, digest
  size, digest, code = w:close()
  if not size then return nil, ("cannot write %s: %s"):format(self.shown, digest), code end
  return { size = size, digest = digest }
end

return M
