--- A build's shared cache: the repositories it reads reuse records from
-- (`from`, in order: the first that has a record wins) and writes them to
-- (`to`), as ocibuild.registry.reuse stores them. Each repository is
-- reached once, when first needed, through one client; one that cannot be
-- reached (or refuses the credentials) is said in a warning and left out
-- for the rest of the build. Lookups never fail: a record that is missing,
-- foreign, damaged or names a blob that is gone is a miss (nil); every
-- blob taken is checked (its digest and size when downloaded whole, each
-- range against the record, piece by piece, by the layer job).
-- Functions return nil, msg, code on failure.
local copy = require "ocibuild.copy"
local events = require "ocibuild.events"
local layout = require "ocibuild.endpoint.layout"
local ref_mod = require "ocibuild.oci.ref"
local registry_ep = require "ocibuild.endpoint.registry"
local reuse = require "ocibuild.registry.reuse"
local sources = require "ocibuild.store.sources"

local M = {}
local Cache = {}
Cache.__index = Cache

--- Ranges of a blob are fetched in requests of at most this many bytes,
-- side by side.
M.RANGE = 16 << 20

--- Parses a cache reference: a repository, HOST/PATH, naming its registry
-- (a cache never goes to Docker Hub unasked), without tag or digest.
-- Returns the parsed reference, or nil, msg, "BADREF".
function M.parse(s, what)
  local r, err = ref_mod.parse(type(s) == "string" and s or "")
  if not r then return nil, ("%s: %s"):format(what, err or "a repository reference expected"), "BADREF" end
  if not ref_mod.names_registry(s) then
    return nil, ("%s %q names no registry: give HOST/PATH (the repository records go to)"):format(what, s), "BADREF"
  end
  if r.digest or s:match(":[%w][%w.-]*$") and s:match("^[^/]+/.*:") then
    return nil, ("%s %q: give a repository, without tag or digest (each record is tagged by its key)"):format(what, s),
      "BADREF"
  end
  return r
end

--- The references of a build's cache: those the caller gives (given:
-- {from=, to=}, the command line's --cache-from and --cache-to) then a
-- save's own (own: nil, or {from=, to=}, each a reference or a list; a
-- sandboxed script's must pass reach(domain, what), see
-- ocibuild.ops.context's reach). Returns {from=, to=} (parsed, each
-- repository once), or nil, msg, code.
function M.refs(given, own, reach)
  local lists, seen = { from = {}, to = {} }, {}
  local function add(which, v, script)
    if v == nil then return true end
    if type(v) == "string" then v = { v } end
    if type(v) ~= "table" then
      return nil, ("cache.%s must be a repository reference or a list of them"):format(which), "BADVALUE"
    end
    for _, s in ipairs(v) do
      local r, err, code = M.parse(s, script and "cache." .. which or "--cache-" .. which)
      if not r then return nil, err, code end
      if script then
        local ok
        ok, err, code = reach(r.domain, ("use the cache %s"):format(r.name))
        if not ok then return nil, err, code end
      end
      if not seen[which .. r.name] then table.insert(lists[which], r) end
      seen[which .. r.name] = true
    end
    return true
  end
  if own ~= nil then
    for k in pairs(own) do
      if k ~= "from" and k ~= "to" then return nil, ("cache: unknown option %s"):format(tostring(k)), "BADVALUE" end
    end
  end
  for _, which in ipairs { "from", "to" } do
    local ok, err, code = add(which, (given or {})[which], false)
    if ok then ok, err, code = add(which, (own or {})[which], true) end
    if not ok then return nil, err, code end
  end
  return lists
end

--- A cache reading from the references `from` and writing to `to`
-- (parsed, see M.parse), reached with the registry options opts
-- (ocibuild.registry's; on_event gets the warnings).
function M.new(from, to, opts)
  local self = setmetatable({ opts = opts or {}, repos = {}, from = {}, to = {}, said = {} }, Cache)
  local action = {}
  for _, r in ipairs(to) do action[r.name] = "push" end
  for _, r in ipairs(from) do
    action[r.name] = action[r.name] or "pull"
    self.from[#self.from + 1] = r
  end
  for _, r in ipairs(to) do self.to[#self.to + 1] = r end
  self.action = action
  return self
end

function Cache:warn(msg)
  if self.said[msg] then return end
  self.said[msg] = true
  events.emit(self.opts.on_event, { type = "warning", message = msg })
end

-- The repository of r, reached on first use; false when it cannot be.
function Cache:repo(r)
  local got = self.repos[r.name]
  if got ~= nil then return got end
  local repo, err = require("ocibuild.registry").repository(r, self.opts, self.action[r.name])
  if not repo then
    self:warn(("cache %s: %s; the build goes on without it"):format(r.name, err))
    repo = false
  end
  self.repos[r.name] = repo
  return repo
end

--- Closes the clients (also `local cache <close>`).
function Cache:close()
  for _, repo in pairs(self.repos) do
    if repo then repo.client:close() end
  end
  self.repos = {}
end
Cache.__close = Cache.close

-- The record a manifest's bytes name, read from repo and checked; or
-- nil, why, code.
local function record_of(repo, body, want)
  local rdesc, bdesc, code = reuse.read_manifest(body)
  if not rdesc then return nil, bdesc, code end
  local text, err
  text, err, code = repo:get_blob_bytes(rdesc, reuse.MAX_RECORD)
  if not text then return nil, err, code end
  local rec
  rec, err, code = reuse.read_record(text, want)
  if not rec then return nil, err, code end
  if rec.blob.digest ~= bdesc.digest or rec.blob.size ~= bdesc.size then return nil, "another blob", "BADDOC" end
  rec.text = text
  return rec
end

-- The record the tag names in repo, read and checked (want: see
-- reuse.read_record), or nil.
local function read(self, r, repo, tag, want)
  local have, err = repo:head_manifest(tag)
  if have == false then return nil end
  local desc, body, rec
  if have then
    desc, body = repo:get_manifest(have ~= "" and have or tag)
    if desc then rec, err = record_of(repo, body, want) else err = body end
  end
  if not rec then
    self:warn(("cache %s: %s: %s; not used"):format(r.name, tag, err))
    return nil
  end
  rec.repo, rec.name = repo, r.name
  return rec
end

-- The first record of the `from` repositories the tag names.
function Cache:lookup(tag, want)
  for _, r in ipairs(self.from) do
    local repo = self:repo(r)
    local rec = repo and read(self, r, repo, tag, want)
    if rec then return rec end
  end
  return nil
end

--- The record of the latest layer of codec_key whose first block's input
-- hashed to id0 (hex): a candidate for the layer being built, or nil.
function Cache:candidate(id0, codec_key)
  local rec = self:lookup(reuse.first_tag(id0, codec_key), { codec = codec_key })
  if rec and rec.blocks[1] and rec.blocks[1][1] == id0 then return rec end
  return nil
end

--- The record of the layer diff_id made by codec_key, whose blob its
-- repository still has with the recorded size; or nil.
function Cache:exact(diff_id, codec_key)
  local rec = self:lookup(reuse.key_tag(diff_id, codec_key), { codec = codec_key, diff_id = diff_id })
  if not rec then return nil end
  local size = rec.repo:blob_size(rec.blob)
  if size == rec.blob.size or size == -1 then return rec end
  self:warn(("cache %s: the record of %s names blob %s, which %s: ignored"):format(rec.name, diff_id,
    rec.blob.digest, size == false and "is gone" or "has another size"))
  return nil
end

--- Downloads the blob of rec (a record Cache:candidate or Cache:exact
-- gave) into the store st (an ocibuild.store), verified (digest and
-- size); nothing when the store has it. Returns the bytes fetched, and
-- whether the blob is new in the store; or nil, msg, code.
function M.download(rec, st)
  if st:has_blob(rec.blob.digest) then return 0, false end
  local ok, err, code = rec.repo:download(rec.blob, st.core)
  if not ok then return nil, err, code end
  return rec.blob.size, true
end

--- Notes where the blob of rec came from (its repository), once the
-- layer has taken it: a push there mounts it instead of uploading.
function M.note_source(rec, st)
  local src = sources.load(st)
  src:note(rec.blob.digest, rec.repo.host, rec.repo.path)
  src:save()
end

--- Fetches the pieces a layer job's holes (LayerJob:holes()) take from
-- the blob of rec, with range requests side by side. Returns the bytes
-- fetched, or nil, msg, code (NORANGE: the registry serves no ranges).
function M.fetch(rec, holes)
  local tasks, total = {}, 0
  for _, run in ipairs(holes.runs) do
    for from = run.from, run.to - 1, M.RANGE do
      local to, at = math.min(run.to, from + M.RANGE), run.at + (from - run.from)
      tasks[#tasks + 1] = function() return rec.repo:get_range(rec.blob, from, to, holes.path, at) end
      total = total + (to - from)
    end
  end
  local ok, err, code = rec.repo.client:run(tasks)
  if not ok then return nil, err, code end
  return total
end

--- Writes the record rec (see reuse.record_text: codec, diff_id,
-- tar_size, blob, head, blocks) to each `to` repository that lacks it:
-- its documents go into the store st first, then the record is copied
-- as an image is pushed (blobs there skipped, the layer's mounted from
-- where the store's records say, else uploaded), tagged by its first
-- block's key, then by its own (a repository that has the latter has the
-- record whole). Returns true, or nil, msg, code (the first repository
-- that failed).
function Cache:put(st, rec)
  if #self.to == 0 then return true end
  local key_tag = reuse.key_tag(rec.diff_id, rec.codec)
  local text = reuse.record_text(rec)
  local rdigest, rsize, rcode = st:put_blob(text)
  if not rdigest then return nil, rsize, rcode end
  local ok, err, code = st:put_blob("{}")
  if not ok then return nil, err, code end
  local mtext = reuse.manifest_text({ digest = rdigest, size = rsize }, rec)
  local mdigest, msize, mcode = st:put_blob(mtext)
  if not mdigest then return nil, msize, mcode end
  local mdesc = { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = mdigest, size = msize }
  local src = sources.load(st)
  for _, r in ipairs(self.to) do
    local repo = self:repo(r)
    if repo then
      local have
      have, err, code = repo:head_manifest(key_tag)
      if have == nil then return nil, err, code end
      if not have then
        -- the first block's tag first: the key's, last, says the record is whole
        local first = rec.blocks[1] and reuse.first_tag(rec.blocks[1][1], rec.codec)
        local ep = registry_ep.new(repo, { tag = first or key_tag, root = mdigest, sources = src })
        ok, err, code = copy.copy(layout.new(st), mdesc, ep, {})
        if ok and first then ok, err, code = repo:put_manifest(key_tag, mtext, mdesc.mediaType, mdigest) end
        if not ok then
          src:save()
          return nil, ("cache %s: %s"):format(r.name, err), code
        end
        src:note(rec.blob.digest, repo.host, repo.path)
      end
    end
  end
  src:save()
  return true
end

-- The record of a layer built (m: an entry of ocibuild.build.layer's
-- made list): its blocks from the store's reuse record, else the cache's
-- record it came from, else none (a record of the blob only: found by
-- its key alone).
local function layer_record(st, m)
  local r = m.result
  local blob = { mediaType = m.media_type, digest = r.digest, size = r.size }
  local rr = st.core:reuse_record(m.codec, r.digest)
  if rr and rr.diff_id == r.diff_id then
    return { codec = m.codec:key(), diff_id = r.diff_id, tar_size = rr.tar_size, blob = blob, head = rr.head,
      blocks = rr.blocks }
  end
  if m.record and m.record.blob.digest == r.digest then return m.record end
  return { codec = m.codec:key(), diff_id = r.diff_id, tar_size = r.tar_size, blob = blob, head = 0, blocks = {} }
end

--- Records the layers built (the made list of ocibuild.build.layer, their
-- blobs in the store st) in the `to` repositories. A failure is said through
-- warn (the image is built and saved: only the cache misses it); never fails.
function Cache:record(st, layers, warn)
  for _, m in ipairs(layers) do
    local ok, err = self:put(st, layer_record(st, m))
    if not ok then
      warn(("the layer %s is not recorded in the cache: %s"):format(m.result.digest, err))
      return
    end
  end
end

return M
