--- One repository of a registry, spoken to in the distribution protocol:
-- blobs checked with HEAD, mounted from another repository, uploaded
-- (POST, then one PUT, or ordered PATCH chunks with Content-Range and
-- Content-Length and a final PUT above the chunk size or after a 413,
-- halving down to 1 MiB), every byte verified as it goes (a damaged store
-- blob stops before its end); after a failed transfer the upload's status
-- says where to go on (a chunk is never sent again blind); downloaded into
-- the store, cut off past their size and verified; manifests read, checked
-- and written (a 5xx whose manifest is there anyway, as Gitea answers two
-- runners putting the same one, is success). Every Location is resolved
-- against the request it answers, and the latest one is always used.
-- Functions return nil, msg, code on failure.
local auth = require "ocibuild.registry.auth"
local check = require "ocibuild.util.check"
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
  local res, err, code = self:req { method = "HEAD", path = "/v2/" .. self.path .. "/blobs/" .. desc.digest,
    timeout = 120 }
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
  if not loc then
    return nil, ("%s opened an upload to %s without a usable Location: %s"):format(self.host, self.path, why), "HTTP202"
  end
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
      .. "body limit): uploading in chunks, halved until it takes them (1 MiB at the least)")
      :format(self.host, human(n)) })
  end
  return c.body_limit
end

local function too_large(self, n)
  return nil, ("%s refuses request bodies of %s (HTTP 413), even in chunks of 1 MiB: raise the body limit of "
    .. "the proxy in front of it (nginx: client_max_body_size)"):format(self.host, human(n)), "HTTP413"
end

-- The transfer stopped a store blob whose bytes are not its digest.
local function damaged(self, desc, err)
  local got = tostring(err):match("hash to (sha256:%x+)") or "other bytes"
  return nil, ("store blob %s is damaged: its bytes hash to %s (the upload to %s stopped before its end; run "
    .. "'ocibuild fsck' to see the images it breaks, then pull or build them again)"):format(desc.digest, got,
      self.host), "CORRUPT"
end

local function done_put(self, desc, res, what)
  if res.status == 201 or res.status == 204 or res.status == 200 then
    local got = res.headers["docker-content-digest"]
    if got and got ~= desc.digest then
      return nil, ("%s stored %s as %s"):format(self.host, what, got), "BADDIGEST"
    end
    return true
  end
  -- a PUT sent again after its answer was lost finds the upload closed
  if res.status == 404 and res.retried == nil and self:has_blob(desc) == true then return true end
  return errors.status(self.host, res, "uploading " .. what)
end

-- Where the registry's upload stands (GET <location>): offset, location,
-- or false when the upload is gone.
local function upload_status(self, loc)
  local res, err, code = self:req { method = "GET", url = loc }
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

-- After a failed transfer to an upload at loc, and a retry granted:
-- where to go on (offset, location), starting a new upload when the
-- registry forgot this one.
local function resume(self, loc)
  local offset, new_loc, code = upload_status(self, loc)
  if offset == nil then return nil, new_loc, code end
  if offset == false then
    local fresh, err
    fresh, err, code = self:start_upload()
    if not fresh then return nil, err, code end
    return 0, fresh
  end
  return offset, new_loc
end

-- A failure the policy would not retry (or no longer): its message.
local function give_up(self, policy, res, err, code, what)
  if not res then return nil, policy:say(err), code end
  res.retried = policy.stop
  return errors.status(self.host, res, "uploading " .. what)
end

-- Ordered PATCH chunks from offset of an upload at loc, then the PUT. The
-- blob is verified as its chunks go out; the registry's status says where
-- to go on after a chunk failed (416, Gitea's answer to a chunk out of
-- order, is one of those). Gitea's status counts the bytes received where
-- the protocol gives the last one's offset ("0-N" for N bytes, not N+1):
-- a chunk resumed from a status and refused 416 goes again one byte
-- earlier (alt) before the status is asked again.
local function chunked(self, desc, st, loc, chunk, offset, alt)
  local size, what = desc.size, self.name .. "@" .. desc.digest
  local hasher = core.sha256()
  local policy = self.client:retrier("PATCH " .. loc)
  offset = offset or 0
  while offset < size do
    local n = math.min(chunk, size - offset)
    local res, err, code = self:req { method = "PATCH", url = loc, retry = false,
      headers = { OCTETS, ("Content-Range: %d-%d"):format(offset, offset + n - 1) },
      blob = { store = st.core, digest = desc.digest, offset = offset, length = n, size = size, hasher = hasher },
      progress = { stage = "upload", digest = desc.digest, size = size, base = offset } }
    if res and res.status == 202 then
      loc = url.resolve(res.url, res.headers.location or "") or loc
      offset, alt = offset + n, nil
      policy = self.client:retrier("PATCH " .. loc)
    elseif res and res.status == 413 then
      chunk = shrink(self, n)
      if not chunk then return too_large(self, n) end
    elseif code == "CORRUPT" then
      return damaged(self, desc, err)
    elseif not policy:again(res, err, code, res ~= nil and res.status == 416) then
      return give_up(self, policy, res, err, code, what)
    elseif res and res.status == 416 and alt then
      offset, alt = alt, nil
    else
      local pos
      pos, loc, code = resume(self, loc)
      if not pos then return nil, loc, code end
      offset = math.min(pos, size)
      alt = pos > 0 and offset - 1 or nil
    end
  end
  local _, hashed = hasher:digest()
  if hashed ~= size then
    -- the registry had the last bytes already (an answer lost): the file is checked
    local ok, err, code = st:verify_blob(desc.digest, size)
    if not ok then return nil, err, code end
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
  local min_chunk, err, code
  if not loc then
    loc, min_chunk, code = self:start_upload()
    if not loc then return nil, min_chunk, code end
  end
  local chunk = math.max(math.min(c.chunk_size, c.body_limit or math.huge), min_chunk or 0, M.MIN_CHUNK)
  if desc.size > chunk then return chunked(self, desc, st, loc, chunk) end
  local policy = c:retrier("PUT " .. loc)
  while true do
    local res
    res, err, code = self:req { method = "PUT", url = url.with_query(loc, "digest", desc.digest), retry = false,
      headers = { OCTETS }, blob = { store = st.core, digest = desc.digest, size = desc.size },
      progress = { stage = "upload", digest = desc.digest, size = desc.size, base = 0 } }
    if res and res.status == 413 then
      -- refused before the body was read: the same upload takes chunks
      local smaller = shrink(self, desc.size)
      if not smaller then return too_large(self, desc.size) end
      return chunked(self, desc, st, loc, smaller)
    end
    if code == "CORRUPT" then return damaged(self, desc, err) end
    if not policy:again(res, err, code) then
      if not res then return nil, policy:say(err), code end
      res.retried = policy.stop
      return done_put(self, desc, res, what)
    end
    -- part of the body may have arrived: go on from where the upload stands
    local pos
    pos, loc, code = resume(self, loc)
    if not pos then return nil, loc, code end
    if pos > 0 then
      pos = math.min(pos, desc.size)
      return chunked(self, desc, st, loc, chunk, pos, pos - 1)
    end
  end
end

--- Downloads the blob desc into the core store (published only when its
-- bytes are its digest).
function Repo:download(desc, core_store)
  local what = self.name .. "@" .. desc.digest
  local res, err, code = self:req { method = "GET", path = "/v2/" .. self.path .. "/blobs/" .. desc.digest,
    into = { store = core_store, digest = desc.digest, size = desc.size }, follow = true, max = 64 << 10,
    progress = { stage = "download", digest = desc.digest, size = desc.size } }
  if not res then
    if code == "BADDIGEST" then
      return nil, ("%s sent other bytes for %s: %s"):format(self.host, what, errors.reason(err)), code
    end
    if code == "TOOBIG" then
      return nil, ("%s sent more than the %d bytes of %s (stopped there)"):format(self.host, desc.size, what), code
    end
    return nil, err, code
  end
  if res.status ~= 200 then return errors.status(self.host, res, "pulling " .. what) end
  if res.size ~= desc.size then
    return nil, ("%s: %d bytes, but its descriptor says %d"):format(what, res.size, desc.size), "BADSIZE"
  end
  return true
end

--- The size the registry gives the blob (HEAD: its Content-Length), or
-- false when it has none.
function Repo:blob_size(desc)
  local res, err, code = self:req { method = "HEAD", path = "/v2/" .. self.path .. "/blobs/" .. desc.digest,
    timeout = 120 }
  if not res then return nil, err, code end
  if res.status == 404 then return false end
  if res.status ~= 200 then return errors.status(self.host, res, "HEAD " .. at(self, desc.digest)) end
  local named = res.headers["docker-content-digest"]
  if named and named ~= desc.digest then
    return nil, ("%s names %s %s"):format(self.host, at(self, desc.digest), named), "BADDIGEST"
  end
  return math.tointeger(tonumber(res.headers["content-length"] or "")) or -1
end

--- GETs bytes [from, to) of the blob desc into the file `path` at offset
-- `at` (a range request: 206, exactly those bytes of a blob of desc's
-- size, else a failure; NORANGE when the registry sends something else).
-- Their checks are the caller's.
function Repo:get_range(desc, from, to, path, offset)
  local what = ("%s bytes %d-%d"):format(at(self, desc.digest), from, to - 1)
  local res, err, code = self:req { method = "GET", path = "/v2/" .. self.path .. "/blobs/" .. desc.digest,
    headers = { ("Range: bytes=%d-%d"):format(from, to - 1) }, follow = true, max = 64 << 10,
    into_file = { path = path, offset = offset, size = to - from } }
  if not res then
    if code == "TOOBIG" then return nil, ("%s: the registry sends more than asked for"):format(what), "NORANGE" end
    return nil, err, code
  end
  if res.status ~= 206 then
    if res.status == 200 or res.status == 416 then
      return nil, ("%s: the registry answers HTTP %d, not the range"):format(what, res.status), "NORANGE"
    end
    return errors.status(self.host, res, "reading " .. what)
  end
  local a, b, total = (res.headers["content-range"] or ""):match("^bytes (%d+)%-(%d+)/(%d+)$")
  if tonumber(a) ~= from or tonumber(b) ~= to - 1 or tonumber(total) ~= desc.size or res.written ~= to - from then
    return nil, ("%s: the registry sends another range (%s, %d bytes)"):format(what,
      tostring(res.headers["content-range"]), res.written), "NORANGE"
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
    return nil, ("%s sent other bytes for %s (%d bytes hashing to %s)"):format(self.host, what, #res.body, got),
      "BADDIGEST"
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

-- ---- tags ----

M.TAG_PAGE = 1000     -- tags asked for per page
M.MAX_TAG_PAGES = 100 -- pages followed at most

-- The next page a tags list answer links to (Link: <u>; rel="next"),
-- resolved against the request, or nil.
local function next_page(res)
  for part in (res.headers.link or ""):gmatch("[^,]+") do
    local u, params = part:match("^%s*<([^>]*)>(.*)$")
    if u and params:match(';%s*rel="?next"?') then return url.resolve(res.url, u) end
  end
end

--- The repository's tags that start with prefix, sorted (GET tags/list,
-- asked to start after after_tag, page by page as the Link headers lead:
-- a registry may ignore both, and answer every tag in any order, as
-- distribution 2.8 does); none from a registry that lists no tags.
function Repo:tags(prefix, after_tag)
  local what = "listing the tags of " .. self.name
  local first = url.with_query(url.with_query("/v2/" .. self.path .. "/tags/list", "n", tostring(M.TAG_PAGE)),
    "last", after_tag)
  local u, out, seen = nil, {}, {}
  for _ = 1, M.MAX_TAG_PAGES do
    local res, err, code = self:req { method = "GET", path = not u and first or nil, url = u, max = 4 << 20,
      timeout = 120 }
    if not res then return nil, err, code end
    -- none yet, or a registry that lists no tags
    if res.status == 404 or res.status == 405 or res.status == 501 then return out end
    if res.status ~= 200 then return errors.status(self.host, res, what) end
    local t = json.decode(res.body)
    local tags = type(t) == "table" and t.tags
    if tags == json.null or tags == nil then tags = {} end
    if type(tags) ~= "table" then return nil, ("%s: %s sent no tags list"):format(what, self.host), "BADDOC" end
    for _, tag in ipairs(tags) do
      if type(tag) == "string" and tag:sub(1, #prefix) == prefix and not seen[tag] then
        seen[tag] = true
        out[#out + 1] = tag
      end
    end
    u = next_page(res)
    if not u then
      table.sort(out)
      return out
    end
  end
  return nil, ("%s: %s links more than %d pages of tags"):format(what, self.host, M.MAX_TAG_PAGES), "BADDOC"
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
    return nil, ("%s has no image %s%s"):format(self.host, at(self, reference),
      detail and (" (" .. detail .. ")") or ""), "HTTP404"
  end
  if res.status ~= 200 then return errors.status(self.host, res, "reading " .. at(self, reference)) end
  local body = res.body
  local digest = core.sha256():update(body):digest()
  local named = res.headers["docker-content-digest"]
  local other = named and named:match("^sha256:") and named ~= digest
  if reference:match("^sha256:") and reference ~= digest then
    return nil, ("%s sent a manifest for %s whose bytes hash to %s"):format(self.host, at(self, reference), digest),
      "BADDIGEST"
  end
  if other then
    return nil, ("%s names the manifest of %s %s (Docker-Content-Digest), but its bytes hash to %s")
      :format(self.host, at(self, reference), check.show(named), digest), "BADDIGEST"
  end
  local mt = (res.headers["content-type"] or ""):match("^[^;%s]+") or ""
  if not media.kind(mt) then
    local t = json.decode(body)
    if type(t) == "table" and type(t.mediaType) == "string" then mt = t.mediaType end
  end
  local kind = media.kind(mt)
  if kind ~= "manifest" and kind ~= "index" then
    return nil, ("%s: %s is a %s, which ocibuild does not read (only OCI and Docker v2 images)")
      :format(at(self, reference), digest, mt ~= "" and mt or "document of no known type"), "BADDOC"
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

-- A manifest the registry refused: why, said as plainly as it can be.
local function refused(self, res, where, body, mt)
  if res.status == 413 then
    return nil, ("%s refuses the manifest of %s: at %s it is over the registry's size limit (HTTP 413; Gitea takes "
      .. "at most 10 MiB)"):format(self.host, where, human(#body)), "HTTP413"
  end
  if res.status == 400 and media.kind(mt) == "index" then
    local idx = json.decode(body)
    for i, d in ipairs(type(idx) == "table" and type(idx.manifests) == "table" and idx.manifests or {}) do
      if type(d) == "table" and media.kind(d.mediaType) ~= "manifest" then
        return nil, ("%s refuses the index of %s: its entry %d (%s) is not an image manifest, and this registry "
          .. "takes only image manifests in an index (as Gitea does)"):format(self.host, where, i,
            tostring(d.mediaType)), "HTTP400"
      end
    end
  end
  return errors.status(self.host, res, "pushing the manifest of " .. where)
end

--- PUT a manifest or index (bytes, of media type mt and digest) by tag or
-- digest. A 5xx answer while the reference names this very manifest is
-- success: another runner put the same one at the same time (Gitea then
-- answers one of them 500 "package version already exists").
-- A refusal that another client's upload of the same blob can cause in a
-- registry that links blobs into a repository without an atomic write
-- (distribution's filesystem driver reads a half-written link as a bad
-- digest or a missing blob): worth another try, as a 5xx is.
local function racy(res)
  local e = res and res.status == 400 and errors.registry_error(res.body)
  return e ~= nil and e ~= false and (e:match("^DIGEST_INVALID:") or e:match("^MANIFEST_BLOB_UNKNOWN:")) ~= nil
end

function Repo:put_manifest(reference, body, mt, digest)
  local where = at(self, reference)
  local policy = self.client:retrier("PUT " .. where)
  while true do
    local res, err, code = self:req { method = "PUT", path = "/v2/" .. self.path .. "/manifests/" .. reference,
      headers = { "Content-Type: " .. mt }, body = body, timeout = 300, retry = false }
    if res and (res.status == 201 or res.status == 200 or res.status == 202) then
      local got = res.headers["docker-content-digest"]
      if got and got ~= digest then
        return nil, ("%s stored the manifest of %s as %s, not %s"):format(self.host, where, got, digest), "BADDIGEST"
      end
      return true
    end
    if res and res.status >= 500 and self:head_manifest(reference) == digest then return true end
    if not policy:again(res, err, code, racy(res)) then
      if not res then return nil, policy:say(err), code end
      res.retried = policy.stop
      return refused(self, res, where, body, mt)
    end
  end
end

return M
