--- Where a base image comes from: the one place that turns a reference
-- (`FROM` text) into an endpoint holding it and the descriptor of its
-- manifest or index. One function per scheme:
--   oci:DIR[:TAG]           an OCI image layout folder
--   oci-archive:FILE[:TAG]  an OCI archive (tar of a layout)
--   docker://REF            a registry, always pulled
--   anything else           the store (a tag, a digest, a unique ID prefix),
--                           else the registry, pulled into the store
-- A scheme function is fn(rest, st, opts) -> {endpoint=, desc=, name=} | nil,
-- msg, code, with `st` the opened store (ocibuild.store) the image is built
-- in and opts {platform= (wanted, parsed), dir= (the folder relative paths
-- resolve against; default the current one), registry= (the registry
-- client's options), on_event=, policy=}. The caller copies
-- the chosen manifest from the endpoint into the store (ocibuild.copy),
-- verifying every blob. Functions return nil, msg, code on failure.
local digest = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local layout = require "ocibuild.endpoint.layout"
local media = require "ocibuild.oci.media"
local path = require "ocibuild.util.path"
local platform = require "ocibuild.oci.platform"
local ref = require "ocibuild.oci.ref"
local store_mod = require "ocibuild.store"

local M = {}

-- The shortest image ID prefix looked up in the store.
local MIN_PREFIX = 4

local function show(s) return ("%q"):format(s):gsub("\\\n", "\\n") end

-- The name an index entry gives its image, as a full reference, or nil.
local function entry_name(d)
  local a = d.annotations or {}
  local n = a[index.CONTAINERD_NAME] or a[index.REF_NAME]
  if n and (n:find("/", 1, true) or n:find(":", 1, true)) then
    local r = ref.parse(n)
    if r then return r.normalized end
  end
end

-- The entry of an index.json whose ref.name (or containerd name) is tag,
-- as written or normalized; nil, msg when none, or when tag is nil and
-- the layout holds more than one image.
local function pick_entry(idx, tag, where)
  local list = idx.manifests
  if tag == nil then
    if #list == 1 then return list[1] end
    local names = {}
    for _, d in ipairs(list) do
      names[#names + 1] = (d.annotations or {})[index.REF_NAME] or d.digest
    end
    if #list == 0 then return nil, ("%s holds no image"):format(where), "ENOENT" end
    return nil, ("%s holds %d images: name one as %s:TAG (%s)"):format(where, #list, where,
      table.concat(names, ", ")), "EAMBIGUOUS"
  end
  for _, d in ipairs(list) do
    if (d.annotations or {})[index.REF_NAME] == tag then return d end
  end
  local r = ref.parse(tag)
  local d = r and index.find(list, r)
  if d then return d end
  return nil, ("%s has no image named %s"):format(where, show(tag)), "ENOENT"
end

-- oci:DIR[:TAG]. The folder is read as any layout, never created.
local function from_layout(rest, _, opts)
  local dir, tag = rest:match("^([^:]*):(.*)$")
  dir = dir or rest
  if dir == "" then return nil, "oci: needs a folder, as oci:DIR[:TAG]", "BADREF" end
  local other, err, code = store_mod.open(path.abs(dir, opts.dir))
  if not other then return nil, ("base oci:%s: %s"):format(rest, err), code end
  local idx
  idx, err, code = other:read_index()
  if not idx then return nil, err, code end
  local d
  d, err, code = pick_entry(idx, tag ~= "" and tag or nil, "oci:" .. dir)
  if not d then return nil, err, code end
  return { endpoint = layout.new(other), desc = d, name = entry_name(d) }
end

-- oci-archive:FILE[:TAG]. The archive's image is imported into the store
-- (every blob verified as it streams by), without naming it there: the
-- caller holds the store against prune until the build names its result.
local function from_archive(rest, st, opts)
  local file, tag = rest:match("^([^:]*):(.*)$")
  file = file or rest
  if file == "" then return nil, "oci-archive: needs a file, as oci-archive:FILE[:TAG]", "BADREF" end
  local got, err, code = require("ocibuild.import").archive(path.abs(file, opts.dir), st,
    { select = tag ~= "" and tag or nil, index = false, on_event = opts.on_event })
  if not got then return nil, ("base oci-archive:%s: %s"):format(rest, err), code end
  if #got.images ~= 1 then
    local names = {}
    for _, im in ipairs(got.images) do names[#names + 1] = im.tags[1] or im.descriptor.digest end
    return nil, ("oci-archive:%s holds %d images: name one as oci-archive:%s:TAG (%s)"):format(file,
      #got.images, file, table.concat(names, ", ")), "EAMBIGUOUS"
  end
  local im = got.images[1]
  return { endpoint = layout.new(st), desc = im.descriptor, name = im.names[1] }
end

-- A registry reference: pulled into the store, every blob verified, with
-- the registry options the build was given (credentials, trust).
local function from_registry(rest, st, opts)
  local o = {}
  for k, v in pairs(opts.registry or {}) do o[k] = v end
  o.platform, o.on_event = opts.platform, opts.on_event
  local d, err, code = require("ocibuild.registry").pull(rest, st, o)
  if not d then return nil, err, code end
  return { endpoint = layout.new(st), desc = d }
end

--- Scheme functions, by name. "registry" is given the reference text
-- (without docker://) and must leave the image in the store.
M.SCHEMES = {
  oci = from_layout,
  ["oci-archive"] = from_archive,
  registry = from_registry,
}

-- Tagged manifests of the store whose manifest digest or image ID (config
-- digest) starts with hex.
local function by_prefix(st, list, hex)
  local found, seen = {}, {}
  for _, d in ipairs(list) do
    if not seen[d.digest] then
      seen[d.digest] = true
      local hit = d.digest:sub(8, 7 + #hex) == hex
      if not hit and media.kind(d.mediaType) == "manifest" then
        local text = st:get_json(d.digest)
        local m = text and doc.read_manifest(text, d.digest)
        hit = m ~= nil and m.config.digest:sub(8, 7 + #hex) == hex
      end
      if hit then found[#found + 1] = d end
    end
  end
  return found
end

-- A blob of the store as a base: its media type read from the document.
local function by_digest(st, list, dgst)
  for _, d in ipairs(list) do
    if d.digest == dgst then return d end
  end
  for _, d in ipairs(list) do
    if media.kind(d.mediaType) == "manifest" then
      local text = st:get_json(d.digest)
      local m = text and doc.read_manifest(text, d.digest)
      if m and m.config.digest == dgst then return d end
    end
  end
  if not st:has_blob(dgst) then return nil end
  local text, err, code = st:get_json(dgst)
  if not text then return nil, err, code end
  local v = json.decode(text, dgst)
  local mt = type(v) == "table" and v.mediaType
  if mt == nil and type(v) == "table" then
    mt = v.manifests and media.INDEX or v.config and media.MANIFEST
  end
  if not media.kind(mt) or (media.kind(mt) ~= "manifest" and media.kind(mt) ~= "index") then
    return nil, ("blob %s of the store is neither an image manifest nor an index"):format(dgst), "BADDOC"
  end
  return doc.descriptor(mt, dgst, #text)
end

-- The image s names in the store (a digest, a reference, an ID prefix):
-- {endpoint=, desc=, name=}, or nil (none), or nil, msg, code. opts:
-- as for M.resolve (its platform).
local function in_store(s, st, idx, opts)
  local here = layout.new(st)
  if digest.valid(s) then
    local d, err, code = by_digest(st, idx.manifests, s)
    if d then return { endpoint = here, desc = d, name = entry_name(d) } end
    return nil, err, code
  end
  local r = ref.parse(s)
  if r then
    local d = index.find(idx.manifests, r)
    -- a tag pulled for another platform of a multi-platform image is
    -- pulled again for this one
    if d and d.platform and opts.platform and not platform.matches(d.platform, opts.platform) and not r.digest
        and ref.names_registry(s) then
      d = nil
    end
    if not d and r.digest then d = by_digest(st, idx.manifests, r.digest) end
    if d then return { endpoint = here, desc = d, name = r.normalized } end
  end
  if s:match("^%x+$") and #s >= MIN_PREFIX and #s <= 64 then
    local found = by_prefix(st, idx.manifests, s)
    if #found == 1 then return { endpoint = here, desc = found[1], name = entry_name(found[1]) } end
    if #found > 1 then
      local ds = {}
      for i, d in ipairs(found) do ds[i] = digest.short(d.digest) end
      return nil, ("base image ID %s is ambiguous in the store %s: %s"):format(s, st.dir,
        table.concat(ds, ", ")), "EAMBIGUOUS"
    end
  end
  return nil
end

-- A registry reference, pulled unless the policy (a sandboxed script's,
-- ocibuild.ops.reach) refuses its registry.
local function pull(s, r, st, opts)
  if opts.policy then
    local ok, err, code = opts.policy.registry(r.domain, "base image " .. r.familiar)
    if not ok then return nil, err, code end
  end
  return M.SCHEMES.registry(s, st, opts)
end

-- A reference without a scheme: the store first, then the registry. A
-- sandboxed script gets from the store only what its policy allows;
-- another image there is pulled again when its registry is allowed.
local function from_store(s, st, opts)
  local idx, err, code = st:read_index()
  if not idx then return nil, err, code end
  local got
  got, err, code = in_store(s, st, idx, opts)
  if err then return nil, err, code end
  local r = ref.parse(s)
  local function lookup(x) return (in_store(x, st, idx, opts) or {}).desc end
  if got and opts.policy and not opts.policy.image(got.desc, lookup, st.dir) then
    if not (r and opts.policy.registry(r.domain, s)) then return nil, opts.policy.refused_image(s) end
    got = nil
  end
  if got then return got end
  if digest.valid(s) then return nil, ("base image %s is not in the store %s"):format(s, st.dir), "ENOENT" end
  if not r then
    local _, why = ref.parse(s)
    return nil, ("base image %s is not in the store %s, and is not a reference to pull: %s")
      :format(show(s), st.dir, why), "BADREF"
  end
  got, err, code = pull(s, r, st, opts)
  if not got then
    if code == "DENIED" then return nil, err, code end
    return nil, ("base image %s is not in the store %s, and pulling it failed: %s"):format(r.familiar,
      st.dir, err), code
  end
  got.name = got.name or r.normalized
  return got
end

--- Resolves the base reference s against the store st (opened).
-- opts: {platform=, on_event=, policy= (a sandboxed script's,
-- ocibuild.ops.reach)}. Returns {endpoint=, desc= (manifest or
-- index), name= (for org.opencontainers.image.base.name, or nil)}.
function M.resolve(s, st, opts)
  if type(s) ~= "string" or s == "" then return nil, "from must be a non-empty string", "BADREF" end
  opts = opts or {}
  local rest = s:match("^docker://(.*)$")
  if rest then
    local r, why = ref.parse(rest)
    if not r then return nil, ("base %s: %s"):format(show(s), why), "BADREF" end
    local got, err, code = pull(rest, r, st, opts)
    if not got then return nil, code == "DENIED" and err or ("base %s: %s"):format(s, err), code end
    got.name = got.name or r.normalized
    return got
  end
  for _, scheme in ipairs { "oci-archive", "oci" } do
    rest = s:sub(1, #scheme + 1) == scheme .. ":" and s:sub(#scheme + 2) or nil
    if rest then
      local got, err, code = M.SCHEMES[scheme](rest, st, opts)
      if not got then return nil, err, code end
      return got
    end
  end
  return from_store(s, st, opts)
end

return M
