--- The local store: one OCI image layout shared by every image built.
-- Blobs are shared between images; index.json holds one descriptor per tag,
-- named by `org.opencontainers.image.ref.name` (the familiar reference, as
-- `skopeo inspect oci:STORE:site:dev` expects) and `io.containerd.image.name`
-- (the normalized one, the key lookups use). index.json is replaced
-- atomically under an flock on `.ocibuild.lock`.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local json = require "ocibuild.json"
local path = require "ocibuild.path"

local M = {}
M.__index = M

local LAYOUT = '{"imageLayoutVersion":"1.0.0"}'
local INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
local REF_NAME = "org.opencontainers.image.ref.name"
local CONTAINERD_NAME = "io.containerd.image.name"

M.REF_NAME, M.CONTAINERD_NAME, M.LAYOUT = REF_NAME, CONTAINERD_NAME, LAYOUT

--- The store folder to use: `explicit`, else $OCIBUILD_STORE, else
-- ${XDG_DATA_HOME:-$HOME/.local/share}/ocibuild/store.
function M.default_dir(explicit)
  if explicit and explicit ~= "" then return explicit end
  local env = os.getenv("OCIBUILD_STORE")
  if env and env ~= "" then return env end
  local data = os.getenv("XDG_DATA_HOME")
  if not data or data == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil, "cannot place the store: set HOME, XDG_DATA_HOME or OCIBUILD_STORE", "ENOENT" end
    data = home .. "/.local/share"
  end
  return data .. "/ocibuild/store"
end

local function read_file(p)
  local f, err, code = io.open(p, "rb")
  if not f then return nil, err, code end
  local data = f:read("a")
  f:close()
  return data
end

--- Opens (creating when needed) the layout at dir. Returns the store.
function M.open(dir)
  dir = path.abs(dir)
  local ok, err, code = core.layout_init(dir)
  if not ok then return nil, ("store %s is not usable: %s"):format(dir, err), code end
  local self = setmetatable({ dir = dir, tmp = dir .. "/.ocibuild-tmp" }, M)
  if not core.stat(dir .. "/oci-layout") then
    ok, err, code = core.replace_file(dir .. "/oci-layout", LAYOUT, self.tmp)
    if not ok then return nil, err, code end
  end
  if not core.stat(dir .. "/index.json") then
    local lock <close> = assert(core.lock(dir .. "/.ocibuild.lock"))
    if not core.stat(dir .. "/index.json") then
      ok, err, code = self:write_index({})
      if not ok then return nil, err, code end
    end
  end
  return self
end

--- Writes bytes as a blob. Returns digest, size.
function M:put_blob(data)
  local w, err, code = core.blob_writer(self.dir)
  if not w then return nil, err, code end
  local ok
  ok, err, code = w:write(data)
  if not ok then
    w:close()
    return nil, err, code
  end
  return w:close()
end

--- Reads a blob, verified against its digest.
function M:get_blob(digest, max)
  return core.blob_read(self.dir, digest, max)
end

--- Path of a blob (the digest is validated first).
function M:blob_path(digest)
  if type(digest) ~= "string" or not digest:match("^sha256:%x+$") or #digest ~= 71 or digest:lower() ~= digest then
    return nil, ("not a sha256 digest: %q"):format(tostring(digest)), "BADDIGEST"
  end
  return self.dir .. "/blobs/sha256/" .. digest:sub(8)
end

local function check_descriptor(d, where)
  if type(d) ~= "table" or type(d.digest) ~= "string" or math.type(d.size) ~= "integer"
      or type(d.mediaType) ~= "string" then
    return nil, where .. ": descriptor without mediaType, digest or integer size"
  end
  if not d.digest:match("^sha256:[0-9a-f]+$") or #d.digest ~= 71 then
    return nil, ("%s: bad digest %q"):format(where, d.digest)
  end
  return true
end

--- The descriptors of index.json (a list), as stored.
function M:read_index()
  local where = self.dir .. "/index.json"
  local text, err, code = read_file(where)
  if not text then return nil, err, code end
  local idx
  idx, err = json.decode(text, where)
  if not idx then return nil, err, "BADINDEX" end
  if type(idx) ~= "table" or idx.schemaVersion ~= 2 or (idx.manifests ~= nil and type(idx.manifests) ~= "table") then
    return nil, where .. ": not an OCI image index", "BADINDEX"
  end
  local list = idx.manifests or {}
  for i, d in ipairs(list) do
    local ok, why = check_descriptor(d, ("%s: manifests[%d]"):format(where, i))
    if not ok then return nil, why, "BADINDEX" end
  end
  return list
end

-- Restores the object/array marks the canonical encoder needs.
local function mark_descriptor(d)
  json.object(d)
  if d.annotations then json.object(d.annotations) end
  if d.platform then
    json.object(d.platform)
    if d.platform["os.features"] then json.array(d.platform["os.features"]) end
  end
  if d.urls then json.array(d.urls) end
  return d
end

--- The canonical bytes of an image index listing the descriptors in list.
function M.encode_index(list)
  for _, d in ipairs(list) do mark_descriptor(d) end
  return json.encode { schemaVersion = 2, mediaType = INDEX_TYPE, manifests = json.array(list) }
end

--- A copy of the manifest descriptor desc naming the reference r (parsed):
-- ref.name holds the familiar form, io.containerd.image.name the full one.
function M.tagged(desc, r)
  local d = {}
  for k, v in pairs(desc) do d[k] = v end
  d.annotations = { [REF_NAME] = r.familiar, [CONTAINERD_NAME] = r.normalized }
  return d
end

function M:write_index(list)
  local text = M.encode_index(list)
  if read_file(self.dir .. "/index.json") == text then return true end -- nothing moved
  return core.replace_file(self.dir .. "/index.json", text, self.tmp)
end

--- Points each reference in refs (parsed, see ocibuild.ref) at the manifest
-- descriptor desc; a tag that names another image moves.
function M:tag(desc, refs)
  local lock, err, code = core.lock(self.dir .. "/.ocibuild.lock")
  if not lock then return nil, err, code end
  local list
  list, err, code = self:read_index()
  if not list then
    lock:close()
    return nil, err, code
  end
  local taken = {}
  for _, r in ipairs(refs) do taken[r.normalized] = true end
  local kept = {}
  for _, d in ipairs(list) do
    local name = d.annotations and d.annotations[CONTAINERD_NAME]
    if not (name and taken[name]) then kept[#kept + 1] = d end
  end
  for _, r in ipairs(refs) do kept[#kept + 1] = M.tagged(desc, r) end
  table.sort(kept, function(a, b)
    local na = a.annotations and a.annotations[CONTAINERD_NAME] or ""
    local nb = b.annotations and b.annotations[CONTAINERD_NAME] or ""
    if na ~= nb then return na < nb end
    return a.digest < b.digest
  end)
  local ok
  ok, err, code = self:write_index(kept)
  lock:close()
  if not ok then return nil, err, code end
  return true
end

--- Holds the store against `gc` while a build writes blobs that nothing
-- references yet. Returns a lock to close when the build is done.
function M:use()
  return core.lock(self.dir .. "/.ocibuild-gc.lock", true)
end

local MANIFEST_TYPES = {
  ["application/vnd.oci.image.manifest.v1+json"] = "manifest",
  ["application/vnd.docker.distribution.manifest.v2+json"] = "manifest",
  ["application/vnd.oci.image.index.v1+json"] = "index",
  ["application/vnd.docker.distribution.manifest.list.v2+json"] = "index",
}

-- Adds to `live` every blob reachable from descriptor d.
local function mark(self, d, live)
  if live[d.digest] then return true end
  live[d.digest] = true
  local kind = MANIFEST_TYPES[d.mediaType]
  if not kind then return true end
  local text = self:get_blob(d.digest)
  if not text then return true end -- a missing blob is allowed in a layout
  local doc = json.decode(text, d.digest)
  if type(doc) ~= "table" then return nil, ("%s: manifest %s is not JSON"):format(self.dir, d.digest) end
  local children = kind == "index" and (doc.manifests or {}) or { doc.config, table.unpack(doc.layers or {}) }
  for _, c in ipairs(children) do
    if type(c) == "table" and type(c.digest) == "string" then
      local ok, err = mark(self, c, live)
      if not ok then return nil, err end
    end
  end
  return true
end

--- Removes blobs no tag reaches, temp files nobody writes and the reuse
-- records of removed blobs. Waits for builds in progress. Returns
-- {blobs=, bytes=, temps=, records=}.
function M:gc()
  local hold, err, code = core.lock(self.dir .. "/.ocibuild-gc.lock")
  if not hold then return nil, err, code end
  local lock <close> = hold
  local index_lock <close>, err2, code2 = core.lock(self.dir .. "/.ocibuild.lock")
  if not index_lock then return nil, err2, code2 end
  local list
  list, err, code = self:read_index()
  if not list then return nil, err, code end
  local live = {}
  for _, d in ipairs(list) do
    local ok
    ok, err = mark(self, d, live)
    if not ok then return nil, err end
  end
  local names
  names, err, code = core.list_dir(self.dir .. "/blobs/sha256")
  if not names then return nil, err, code end
  local stats = { blobs = 0, bytes = 0 }
  for _, name in ipairs(names) do
    local digest = "sha256:" .. name
    if not live[digest] then
      local p = self.dir .. "/blobs/sha256/" .. name
      local st = core.stat(p)
      local ok
      ok, err, code = core.unlink(p)
      if not ok then return nil, err, code end
      stats.blobs = stats.blobs + 1
      stats.bytes = stats.bytes + (st and st.size or 0)
    end
  end
  stats.temps, err, code = core.gc_temps(self.tmp)
  if not stats.temps then return nil, err, code end
  stats.records, err, code = require("ocibuild.reuse").prune(self.dir)
  if not stats.records then return nil, err, code end
  return stats
end

--- The manifest descriptor a reference (parsed) points at, or nil, msg.
function M:resolve(r)
  local list, err, code = self:read_index()
  if not list then return nil, err, code end
  for _, d in ipairs(list) do
    local a = d.annotations or {}
    if a[CONTAINERD_NAME] == r.normalized or (not a[CONTAINERD_NAME] and a[REF_NAME] == r.familiar) then
      return d
    end
  end
  return nil, ("no image %s in store %s"):format(r.familiar, self.dir), "ENOENT"
end

return M
