--- One repository of a registry, spoken to in the distribution protocol:
-- blobs checked with HEAD, mounted from another repository, uploaded
-- (POST, then one PUT, or ordered PATCH chunks with Content-Range and
-- Content-Length and a final PUT above the chunk size or after a 413,
-- halving down to 1 MiB; a broken chunk resumes from the upload's Range),
-- downloaded into the store verified; manifests read, checked and written.
-- Every Location is resolved against the request it answers, and the
-- latest one is always used. Functions return nil, msg, code on failure.
local auth = require "ocibuild.registry.auth"
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local errors = require "ocibuild.registry.errors"
local events = require "ocibuild.events"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local url = require "ocibuild.registry.url"

local M = {}
local Repo = {}
Repo.__index = Repo

M.MIN_CHUNK = 1 << 20
local ACCEPT = "Accept: " .. table.concat(media.ACCEPT, ", ")
local OCTETS = "Content-Type: application/octet-stream"

local function human(n)
  if n >= 1 << 20 then return ("%.1f MiB"):format(n / (1 << 20)) end
  if n >= 1 << 10 then return ("%.1f KiB"):format(n / (1 << 10)) end
  return ("%d B"):format(n)
end

--- Repository `path` through client (ocibuild.registry.client), for
-- action "push" (asks for pull,push) or "pull".
function M.new(client, path, action)
  return setmetatable({ client = client, path = path, action = action, host = client.domain,
    name = client.domain .. "/" .. path, scopes = auth.repo_scopes(path, action) }, Repo)
end

function Repo:req(spec)
  spec.scopes = spec.scopes or self.scopes
  spec.repo, spec.action = self.path, spec.action or self.action
  return self.client:request(spec)
end

local function at(self, reference)
  return self.name .. (reference:match("^sha256:") and "@" or ":") .. reference
end

-- ---- blobs ----

--- true when the registry has the blob, false when not (HEAD).
function Repo:has_blob(desc)
  local res, err, code = self:req { method = "HEAD", path = "/v2/" .. self.path .. "/blobs/" .. desc.digest, timeout = 120 }
  if not res then return nil, err, code end
  if res.status == 200 then return true end
  if res.status == 404 then return false end
  return errors.status(self.host, res, "HEAD " .. at(self, desc.digest))
end

--- Mounts the blob from repository `from` of the same registry:
-- "mounted", or {location=} (the registry opened an upload instead), or
-- false (refused: upload it), or nil, msg, code.
function Repo:mount(desc, from)
  local res = self:req { method = "POST", timeout = 120,
    path = ("/v2/%s/blobs/uploads/?mount=%s&from=%s"):format(self.path, url.escape(desc.digest), url.escape(from)),
    scopes = auth.union(self.scopes, auth.repo_scopes(from, "pull")) }
  if not res then return false end -- no access to `from`, or any trouble: a plain upload follows
  if res.status == 201 then return "mounted" end
  if res.status == 202 then
    local loc = url.resolve(res.url, res.headers.location or "")
    return loc and { location = loc } or false
  end
  return false
end

-- POST .../blobs/uploads/: the upload's Location and the smallest chunk it takes.
function Repo:start_upload()
  local res, err, code = self:req { method = "POST", path = "/v2/" .. self.path .. "/blobs/uploads/", timeout = 120 }
  if not res then return nil, err, code end
  if res.status ~= 202 then return errors.status(self.host, res, "starting an upload to " .. self.name) end
  local loc, why = url.resolve(res.url, res.headers.location or "")
  if not loc then return nil, ("%s opened an upload to %s without a usable Location: %s"):format(self.host, self.path, why), "HTTP202" end
  return loc, math.tointeger(tonumber(res.headers["oci-chunk-min-length"] or ""))
end

-- A 413: the request body limit is below n; chunks shrink to half of it
-- (said once per client). Returns the new chunk size, or nil at 1 MiB.
local function shrink(self, n)
  local c = self.client
  if n <= M.MIN_CHUNK then return nil end
  local chunk = math.max(M.MIN_CHUNK, (n // 2) & ~0xFFFF)
  c.body_limit = math.min(c.body_limit or math.huge, chunk)
  if not c.warned_413 then
    c.warned_413 = true
    events.emit(c.on_event, { type = "warning", message = ("%s refused a request body of %s with HTTP 413 (a proxy's "
      .. "body limit): uploading in chunks, halved until it takes them (1 MiB at the least)"):format(self.host, human(n)) })
  end
  return c.body_limit
end

local function too_large(self, n)
  return nil, ("%s refuses request bodies of %s (HTTP 413), even in chunks of 1 MiB: raise the body limit of "
    .. "the proxy in front of it (nginx: client_max_body_size)"):format(self.host, human(n)), "HTTP413"
end

local function damaged(desc, got)
  return nil, ("store blob %s is damaged: its bytes hash to %s (remove it from the store and build or pull "
    .. "the image again)"):format(desc.digest, got), "CORRUPT"
end

local function done_put(self, desc, res, what)
  if res.status == 201 or res.status == 204 or res.status == 200 then
    local got = res.headers["docker-content-digest"]
    if got and got ~= desc.digest then
      return nil, ("%s stored %s as %s"):format(self.host, what, got), "BADDIGEST"
    end
    return true
  end
  if res.status == 400 and res.sent_digest and res.sent_digest ~= desc.digest then return damaged(desc, res.sent_digest) end
  return errors.status(self.host, res, "uploading " .. what)
end

-- Where the registry's upload stands (GET <location>): offset, location,
-- or false when the upload is gone.
local function upload_status(self, loc)
  local res, err, code = self:req { method = "GET", url = loc, timeout = 120 }
  if not res then return nil, err, code end
  if res.status == 404 then return false end
  if res.status ~= 204 and res.status ~= 202 and res.status ~= 200 then
    return errors.status(self.host, res, "asking about an upload to " .. self.name)
  end
  local last = math.tointeger(tonumber((res.headers.range or ""):match("^%d+%-(%d+)$") or ""))
  local first = (res.headers.range or ""):match("^(%d+)%-")
  local offset = (last and not (first == "0" and last == 0)) and last + 1 or 0
  return offset, url.resolve(res.url, res.headers.location or "") or loc
end

-- Ordered PATCH chunks from offset 0 of an upload at loc, then the PUT.
-- The blob is hashed as its chunks go out, and checked before the PUT.
local function chunked(self, desc, st, loc, chunk)
  local size, offset, incidents = desc.size, 0, 0
  local what = self.name .. "@" .. desc.digest
  local hasher = core.sha256()
  while offset < size do
    local n = math.min(chunk, size - offset)
    local res, err, code = self:req { method = "PATCH", url = loc, retry = false,
      headers = { OCTETS, ("Content-Range: %d-%d"):format(offset, offset + n - 1) },
      blob = { store = st.core, digest = desc.digest, offset = offset, length = n, size = size, hasher = hasher },
      progress = { stage = "upload", digest = desc.digest, size = size, base = offset } }
    if res and res.status == 202 then
      loc = url.resolve(res.url, res.headers.location or "") or loc
      offset = offset + n
    elseif res and res.status == 413 then
      chunk = shrink(self, n)
      if not chunk then return too_large(self, n) end
    elseif incidents < 4 and ((not res and (code == "ECONNRESET" or code == "ETIMEDOUT"))
        or (res and (res.status >= 500 or res.status == 416 or res.status == 429))) then
      incidents = incidents + 1
      self.client:sleep(0.5 * 2 ^ (incidents - 1))
      local at_, new_loc = upload_status(self, loc)
      if at_ == nil then return nil, new_loc, code end
      if at_ == false then
        loc, err, code = self:start_upload()
        if not loc then return nil, err, code end
        offset = 0
      else
        offset, loc = math.min(at_, size), new_loc
      end
    elseif not res then
      return nil, err, code
    else
      return errors.status(self.host, res, "uploading " .. what)
    end
  end
  local got, hashed = hasher:digest()
  if hashed ~= size then
    -- a resume went past what had been hashed: the file itself is checked
    local ok, err, code = st:verify_blob(desc.digest, size)
    if not ok then return nil, err, code end
  elseif got ~= desc.digest then
    self:req { method = "DELETE", url = loc, timeout = 60, retry = false }
    return damaged(desc, got)
  end
  local res, err, code = self:req { method = "PUT", url = url.with_query(loc, "digest", desc.digest),
    headers = { OCTETS }, body = "", timeout = 600 }
  if not res then return nil, err, code end
  return done_put(self, desc, res, what)
end

--- Uploads the blob desc of the store st (an ocibuild.store) into an
-- upload session (loc, when a mount opened one) or a new one.
function Repo:upload(desc, st, loc)
  local c, what = self.client, self.name .. "@" .. desc.digest
  local err, code, min_chunk
  for attempt = 1, 3 do
    if not loc then
      loc, min_chunk, code = self:start_upload()
      if not loc then return nil, min_chunk, code end
    end
    local chunk = math.max(math.min(c.chunk_size, c.body_limit or math.huge), min_chunk or 0, M.MIN_CHUNK)
    if desc.size > chunk then return chunked(self, desc, st, loc, chunk) end
    local res
    res, err, code = self:req { method = "PUT", url = url.with_query(loc, "digest", desc.digest), retry = false,
      headers = { OCTETS }, blob = { store = st.core, digest = desc.digest, size = desc.size }, hash = true,
      timeout = 0, progress = { stage = "upload", digest = desc.digest, size = desc.size, base = 0 } }
    if res and res.status == 413 then
      -- rejected before the body was read: the same upload takes chunks
      local smaller = shrink(self, desc.size)
      if not smaller then return too_large(self, desc.size) end
      return chunked(self, desc, st, loc, smaller)
    end
    local again = attempt < 3 and ((not res and (code == "ECONNRESET" or code == "ETIMEDOUT"))
      or (res and (res.status >= 500 or res.status == 429)))
    if not again then
      if not res then return nil, err, code end
      return done_put(self, desc, res, what)
    end
    c:sleep(0.5 * 2 ^ (attempt - 1))
    loc = nil
  end
  return nil, err, code
end

--- Downloads the blob desc into the core store (published only when its
-- bytes are its digest).
function Repo:download(desc, core_store)
  local what = self.name .. "@" .. desc.digest
  local res, err, code = self:req { method = "GET", path = "/v2/" .. self.path .. "/blobs/" .. desc.digest,
    into = { store = core_store, digest = desc.digest }, follow = true, max = 64 << 10,
    progress = { stage = "download", digest = desc.digest, size = desc.size } }
  if not res then
    if code == "BADDIGEST" then return nil, ("%s sent other bytes for %s: %s"):format(self.host, what, errors.reason(err)), code end
    return nil, err, code
  end
  if res.status ~= 200 then return errors.status(self.host, res, "pulling " .. what) end
  if res.size ~= desc.size then
    return nil, ("%s: %d bytes, but its descriptor says %d"):format(what, res.size, desc.size), "BADSIZE"
  end
  return true
end

--- GETs a small blob (a signature's payload, a config) into memory: at
-- most max bytes, checked against the descriptor's size and digest.
function Repo:get_blob_bytes(desc, max)
  local what = self.name .. "@" .. desc.digest
  if desc.size > max then
    return nil, ("%s: %d bytes, more than the %d read into memory"):format(what, desc.size, max), "TOOBIG"
  end
  local res, err, code = self:req { method = "GET", path = "/v2/" .. self.path .. "/blobs/" .. desc.digest,
    follow = true, max = max, timeout = 120 }
  if not res then return nil, err, code end
  if res.status ~= 200 then return errors.status(self.host, res, "reading " .. what) end
  local got = core.sha256():update(res.body):digest()
  if got ~= desc.digest or #res.body ~= desc.size then
    return nil, ("%s sent other bytes for %s (%d bytes hashing to %s)"):format(self.host, what, #res.body, got), "BADDIGEST"
  end
  return res.body
end

--- Uploads a small blob held in memory (bytes, described by desc) in
-- one POST and one PUT.
function Repo:put_blob_bytes(desc, bytes)
  local loc, min_chunk, code = self:start_upload()
  if not loc then return nil, min_chunk, code end
  local res, err
  res, err, code = self:req { method = "PUT", url = url.with_query(loc, "digest", desc.digest),
    headers = { OCTETS }, body = bytes, timeout = 120 }
  if not res then return nil, err, code end
  return done_put(self, desc, res, self.name .. "@" .. desc.digest)
end

-- ---- manifests ----

--- GET a manifest or index by tag or digest. Returns its descriptor
-- {mediaType=, digest=, size=} and its bytes (checked against the digest
-- asked for and the one the registry names).
function Repo:get_manifest(reference)
  local res, err, code = self:req { method = "GET", path = "/v2/" .. self.path .. "/manifests/" .. reference,
    headers = { ACCEPT }, max = doc.MAX_JSON, timeout = 300 }
  if not res then return nil, err, code end
  if res.status == 404 then
    local detail = errors.registry_error(res.body)
    return nil, ("%s has no image %s%s"):format(self.host, at(self, reference), detail and (" (" .. detail .. ")") or ""), "HTTP404"
  end
  if res.status ~= 200 then return errors.status(self.host, res, "reading " .. at(self, reference)) end
  local body = res.body
  local digest = core.sha256():update(body):digest()
  local named = res.headers["docker-content-digest"]
  if (reference:match("^sha256:") and reference ~= digest) or (named and named:match("^sha256:") and named ~= digest) then
    return nil, ("%s sent a manifest for %s whose bytes hash to %s"):format(self.host, at(self, reference), digest), "BADDIGEST"
  end
  local mt = (res.headers["content-type"] or ""):match("^[^;%s]+") or ""
  if not media.kind(mt) then
    local t = json.decode(body)
    if type(t) == "table" and type(t.mediaType) == "string" then mt = t.mediaType end
  end
  local kind = media.kind(mt)
  if kind ~= "manifest" and kind ~= "index" then
    return nil, ("%s: %s is a %s, which ocibuild does not read (only OCI and Docker v2 images)"):format(at(self, reference),
      digest, mt ~= "" and mt or "document of no known type"), "BADDOC"
  end
  return { mediaType = mt, digest = digest, size = #body }, body
end

--- The digest a tag or digest names in the registry (HEAD), or false.
function Repo:head_manifest(reference)
  local res, err, code = self:req { method = "HEAD", path = "/v2/" .. self.path .. "/manifests/" .. reference,
    headers = { ACCEPT }, timeout = 120 }
  if not res then return nil, err, code end
  if res.status == 200 then return res.headers["docker-content-digest"] or "" end
  if res.status == 404 then return false end
  return errors.status(self.host, res, "HEAD " .. at(self, reference))
end

--- PUT a manifest or index (bytes, of media type mt and digest) by tag or digest.
function Repo:put_manifest(reference, body, mt, digest)
  local res, err, code = self:req { method = "PUT", path = "/v2/" .. self.path .. "/manifests/" .. reference,
    headers = { "Content-Type: " .. mt }, body = body, timeout = 300 }
  if not res then return nil, err, code end
  if res.status ~= 201 and res.status ~= 200 and res.status ~= 202 then
    return errors.status(self.host, res, "pushing the manifest of " .. at(self, reference))
  end
  local got = res.headers["docker-content-digest"]
  if got and got ~= digest then
    return nil, ("%s stored the manifest of %s as %s, not %s"):format(self.host, at(self, reference), got, digest), "BADDIGEST"
  end
  return true
end

return M
