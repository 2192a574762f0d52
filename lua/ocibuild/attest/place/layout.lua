--- The store, or an OCI layout (oci:DIR[:TAG]), as a place whose images
-- are signed and verified (see ocibuild.attest.place). A signature
-- manifest is an index.json entry: in the store it is named
-- <repository>:sha256-<hex>.sig, as any store name; in a layout, whose
-- names are tags, sha256-<hex>.sig. An append reads, appends and writes
-- under the index lock, so signers never lose each other's signature;
-- the store is held against prune meanwhile.
local doc = require "ocibuild.oci.doc"
local images = require "ocibuild.store.images"
local index = require "ocibuild.store.index"
local path = require "ocibuild.util.path"
local ref = require "ocibuild.oci.ref"
local simplesign = require "ocibuild.attest.simplesign"
local store_mod = require "ocibuild.store"

local M = {}
local Place = {}
Place.__index = Place

local function show(s) return ("%q"):format(s):gsub("\\\n", "\\n") end

-- true when entry d names the signatures tag `tag` (in any repository).
local function names_tag(d, tag)
  local a = d.annotations or {}
  if a[index.REF_NAME] == tag then return true end
  local _, r = index.name_of(d)
  return r ~= nil and r.tag == tag
end

-- The repository ("host/path") an entry's name gives, when it is a full
-- reference (a layout's bare tags give none).
local function repo_of(d)
  local a = d.annotations or {}
  local n = a[index.CONTAINERD_NAME] or a[index.REF_NAME]
  if n and n:find("/", 1, true) then
    local r = ref.parse(n)
    if r then return r.name end
  end
end

-- The store image `s` names, with the repository its name gives.
local function in_store(st, s)
  local t, err, code = images.find(st, s)
  if not t then return nil, err, code end
  local identity = t.ref and t.ref.name
  for _, r in ipairs(not identity and (t.group or t.parent or {}).refs or {}) do
    if not r.tag or not r.tag:match("^sha256%-%x+%.sig$") then
      identity = r.name
      break
    end
  end
  return t.desc, identity
end

-- The entry of a layout that TAG (or, with no TAG, its one image) names.
local function in_layout(st, tag, where)
  local idx, err, code = st:read_index()
  if not idx then return nil, err, code end
  local list = {}
  for _, d in ipairs(idx.manifests) do
    local name = (d.annotations or {})[index.REF_NAME] or ""
    if not name:match("sha256%-%x+%.sig$") then list[#list + 1] = d end
  end
  if not tag then
    if #list == 1 then return list[1], repo_of(list[1]) end
    return nil, ("%s holds %d images: name one as %s:TAG"):format(where, #list, where),
      #list == 0 and "ENOENT" or "EAMBIGUOUS"
  end
  for _, d in ipairs(list) do
    if (d.annotations or {})[index.REF_NAME] == tag then return d, repo_of(d) end
  end
  local r = ref.parse(tag)
  local d = r and index.find(list, r)
  if d then return d, repo_of(d) end
  return nil, ("%s has no image named %s"):format(where, show(tag)), "ENOENT"
end

--- The image opts.image names in the store (opts.store: a function
-- opening it), or the image of the layout opts.layout (opts.tag:
-- its name there, or nil for its only image); opts.write: it will be
-- written.
function M.open(opts)
  local st, err, code
  if opts.layout then
    st, err, code = store_mod.open(path.abs(opts.layout))
    -- an existing layout gets the folders ocibuild writes blobs through
    if st and opts.write then st, err, code = store_mod.open(st.dir, { create = true }) end
    if not st then return nil, ("oci:%s: %s"):format(opts.layout, err), code end
  else
    st, err, code = opts.store()
    if not st then return nil, err, code end
  end
  local self = setmetatable({ kind = opts.layout and "layout" or "store", st = st,
    name = opts.layout and "oci:" .. opts.layout or "store " .. st.dir }, Place)
  local desc, identity
  if opts.layout then
    desc, identity, code = in_layout(st, opts.tag, self.name)
  else
    desc, identity, code = in_store(st, opts.image)
  end
  if not desc then return nil, identity, code end
  self.desc, self.identity = desc, identity
  -- what is signed or verified is the manifest itself, read and hashed
  local ok
  ok, err, code = self:get_json(desc)
  if not ok then return nil, ("%s: %s"):format(self.name, err), code end
  return self
end

function Place.close() end

function Place:where(digest)
  if self.kind == "layout" then return self.name .. "@" .. digest end
  return ("%s%s (%s)"):format(self.identity and self.identity .. "@" or "", digest, self.name)
end

-- A document of the store or layout: the store reads it checked against
-- its digest (a file there is never trusted for its name), then its size.
function Place:get_json(desc)
  return doc.sized(desc, self.st:get_json(desc.digest))
end

function Place:get_blob(desc, max)
  if desc.size > max then
    return nil, ("%s: %d bytes, more than the %d read into memory"):format(desc.digest, desc.size, max), "TOOBIG"
  end
  return self.st:get_blob(desc.digest, max)
end

local function read_entry(self, d)
  local text, err, code = self:get_json(d)
  if not text then return nil, err, code end
  local a = d.annotations or {}
  local name = a[index.REF_NAME] or d.digest
  local m
  m, err, code = simplesign.read_manifest(text, ("%s %s"):format(self.name, name))
  if not m then return nil, err, code end
  return { desc = d, text = text, manifest = m, name = name }
end

--- Every signature manifest of digest the index names (one per
-- repository in the store).
function Place:signatures(digest)
  local idx, err, code = self.st:read_index()
  if not idx then return nil, err, code end
  local tag, out = simplesign.tag(digest), {}
  for _, d in ipairs(idx.manifests) do
    if names_tag(d, tag) then
      local s
      s, err, code = read_entry(self, d)
      if not s then return nil, err, code end
      out[#out + 1] = s
    end
  end
  return out
end

-- The name of the signatures of digest here, and the entry it picks.
function Place:sig_ref(digest)
  local tag = simplesign.tag(digest)
  if self.kind == "layout" then return tag end
  return ref.parse(self.identity .. ":" .. tag)
end

local function named(self, d, r)
  if self.kind == "layout" then return (d.annotations or {})[index.REF_NAME] == r end
  return index.name_of(d) == r.normalized
end

-- Puts the manifest of plan under the name r in the list of entries.
local function set_entry(self, list, plan, r)
  if self.kind ~= "layout" then return index.set_tags(list, plan.desc, { r }) end
  local kept = {}
  for _, d in ipairs(list) do
    if not named(self, d, r) then kept[#kept + 1] = d end
  end
  local e = index.untagged(plan.desc)
  e.annotations = e.annotations or {}
  e.annotations[index.REF_NAME] = r
  kept[#kept + 1] = e
  return index.sort(kept)
end

--- Appends to the signatures of digest under the index lock (build as
-- for ocibuild.attest.place.registry). Returns "signed" or "present".
function Place:append(digest, build)
  local hold <close>, err, code = self.st:use()
  if not hold and code ~= "EACCES" and code ~= "EROFS" then return nil, err, code end
  local r = self:sig_ref(digest)
  local how = "present"
  local ok
  ok, err, code = self.st:update_index(function(idx)
    local cur
    for _, d in ipairs(idx.manifests) do
      if named(self, d, r) then
        local rerr, rcode
        cur, rerr, rcode = read_entry(self, d)
        if not cur then return nil, rerr, rcode end
      end
    end
    local plan = build(cur and cur.manifest)
    if not plan then return true end
    for _, b in ipairs(plan.blobs) do
      local dg, perr, pcode = self.st:put_blob(b.bytes)
      if not dg then return nil, perr, pcode end
    end
    local dg, perr, pcode = self.st:put_blob(plan.text)
    if not dg then return nil, perr, pcode end
    idx.manifests = set_entry(self, idx.manifests, plan, r)
    how = "signed"
    return true
  end)
  if not ok then return nil, err, code end
  return how
end

return M
