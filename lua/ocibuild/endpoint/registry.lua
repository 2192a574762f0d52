--- A registry repository as a copy endpoint (see ocibuild.copy): push is
-- copy(layout, desc, registry) and pull is copy(registry, desc, layout).
-- As a target, a blob is HEADed, then mounted from another repository of
-- the same registry the store's records name, else uploaded from the
-- store; manifests already there (HEAD by tag or digest) are not sent
-- again, and the image being pushed is PUT by its tag, last. As a source,
-- manifests are read (and kept for the walk) and blobs downloaded into a
-- store, verified. `parallel` lets copy move one manifest's blobs side by
-- side through the client's scheduler.
local doc = require "ocibuild.oci.doc"

local M = {}
M.__index = M

--- The endpoint of repo (ocibuild.registry.repo). opts: {tag= (the tag
-- to PUT the image `root` by), root= (its digest), sources= (the
-- store's records, ocibuild.store.sources)}.
function M.new(repo, opts)
  opts = opts or {}
  return setmetatable({ repo = repo, client = repo.client, tag = opts.tag, root = opts.root,
    sources = opts.sources, docs = {}, tagged = {} }, M)
end

--- Runs the tasks (functions returning true or nil, msg, code) side by side.
function M:parallel(tasks)
  return self.client:run(tasks)
end

--- Reads the manifest or index a tag or digest names: its descriptor, and
-- its bytes are kept for the walk that follows.
function M:resolve(reference)
  local desc, body, code = self.repo:get_manifest(reference)
  if not desc then return nil, body, code end
  self.docs[desc.digest] = body
  return desc
end

function M:get_json(desc)
  local body = self.docs[desc.digest]
  if not body then
    local got, text, code = self.repo:get_manifest(desc.digest)
    if not got then return nil, text, code end
    body = text
    self.docs[desc.digest] = body
  end
  return doc.sized(desc, body)
end

function M:has_blob(desc)
  return self.repo:has_blob(desc)
end

function M:put_blob(desc, src)
  if not src.store then
    return nil, ("cannot copy %s from this source to a registry"):format(desc.digest), "ENOTSUP"
  end
  local host, path = self.repo.host, self.repo.path
  local loc
  if self.sources then
    for _, from in ipairs(self.sources:candidates(desc.digest, host, path)) do
      local r = self.repo:mount(desc, from)
      if r == "mounted" then
        self.sources:note(desc.digest, host, path)
        return true, "mounted"
      elseif r then
        loc = r.location
        break
      end
    end
  end
  local ok, err, code = self.repo:upload(desc, src.store, loc)
  if not ok then return nil, err, code end
  if self.sources then self.sources:note(desc.digest, host, path) end
  return true, "uploaded"
end

--- Downloads the blob into the core store `into`, verified.
function M:fetch_blob(desc, into)
  local ok, err, code = self.repo:download(desc, into)
  if not ok then return nil, err, code end
  if self.sources then self.sources:note(desc.digest, self.repo.host, self.repo.path) end
  return true, "downloaded"
end

function M:put_manifest(desc, text)
  local reference = (desc.digest == self.root and self.tag) or desc.digest
  local have, err, code = self.repo:head_manifest(reference)
  if have == nil then return nil, err, code end
  if have ~= desc.digest then
    local ok
    ok, err, code = self.repo:put_manifest(reference, text, desc.mediaType, desc.digest)
    if not ok then return nil, err, code end
  end
  self.docs[desc.digest] = text
  if reference ~= desc.digest then self.tagged[reference] = desc.digest end
  return true
end

--- PUTs desc by each tag of refs (parsed references of this repository)
-- not pushed yet.
function M:tag(desc, refs)
  local text = self.docs[desc.digest]
  for _, r in ipairs(refs) do
    if r.tag and self.tagged[r.tag] ~= desc.digest then
      if not text then return nil, ("no manifest bytes for %s"):format(desc.digest), "ENOENT" end
      local ok, err, code = self.repo:put_manifest(r.tag, text, desc.mediaType, desc.digest)
      if not ok then return nil, err, code end
      self.tagged[r.tag] = desc.digest
    end
  end
  return true
end

return M
