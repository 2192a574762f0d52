--- The images of a store, as people name them: index.json entries grouped
-- by the manifest (or index) they point at, each with its names, image ID
-- (the config digest; an index's own digest), platforms, size and
-- creation time read from the verified blobs; and what `images`, `tag`
-- and `rm` do with them (`inspect`: ocibuild.store.inspect). A SRC is a name, a digest
-- (`sha256:<64 hex>`, `name@sha256:...`) or a unique prefix of an image ID.
-- Functions return nil, msg, code on failure.
local digest_mod = require "ocibuild.oci.digest"
local doc = require "ocibuild.oci.doc"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local platform = require "ocibuild.oci.platform"
local ref = require "ocibuild.oci.ref"
local walk = require "ocibuild.oci.walk"

local M = {}

--- index.json's entries grouped by digest, in the order they first
-- appear: {digest=, desc= (the first entry), entries={...}, refs={parsed
-- names, sorted}}.
function M.group(idx)
  local list, by = {}, {}
  for _, d in ipairs(idx.manifests) do
    local g = by[d.digest]
    if not g then
      g = { digest = d.digest, desc = d, entries = {}, refs = {} }
      by[d.digest] = g
      list[#list + 1] = g
    end
    g.entries[#g.entries + 1] = d
    local _, r = index.name_of(d)
    if r then g.refs[#g.refs + 1] = r end
  end
  for _, g in ipairs(list) do
    table.sort(g.refs, function(a, b) return a.normalized < b.normalized end)
  end
  return list, by
end

--- What the image desc is made of: {kind=, id=, platforms={"os/arch"...},
-- size= (bytes of its distinct blobs), created= (newest config time,
-- RFC 3339), manifests={ {desc=, manifest=, config=} ... } (one per image
-- manifest, an index's children included)}. Every JSON blob on the way
-- is verified; layers are not read. The walk is ocibuild.oci.walk's.
function M.info(st, desc, where)
  where = where or desc.digest
  local info = { kind = media.kind(desc.mediaType), platforms = {}, size = 0, manifests = {} }
  local w = walk.new {
    read = function(d, role) return st:read_doc(d, role, where) end,
    done = function(d, role, m)
      if role ~= "manifest" then return true end
      local entry = { desc = d, manifest = m }
      local p = d.platform
      if walk.role(m.config, "config") == "config" then
        local c, err, code = st:read_doc(m.config, "config", where)
        if not c then return nil, err, code end
        entry.config = c
        p = p or c
        if type(c.created) == "string" and (not info.created or c.created > info.created) then
          info.created = c.created
        end
      end
      if p then info.platforms[#info.platforms + 1] = platform.format(p) end
      info.manifests[#info.manifests + 1] = entry
      return true
    end,
  }
  local ok, err, code = w:run(desc, where)
  if not ok then return nil, err, code end
  for _, size in pairs(w.reached) do info.size = info.size + size end
  if info.kind == "manifest" then info.id = info.manifests[1].manifest.config.digest else info.id = desc.digest end
  return info
end

local function show(s) return ("%q"):format(s):gsub("\\\n", "\\n") end

local function not_found(st, s)
  return nil, ("no image %s in store %s"):format(show(s), st.dir), "ENOENT"
end

-- The child manifest `digest` of an index entry of groups, with its
-- platform, or nil.
local function child_of(st, groups, digest)
  for _, g in ipairs(groups) do
    if media.kind(g.desc.mediaType) == "index" then
      local info = M.info(st, g.desc)
      for _, e in ipairs(info and info.manifests or {}) do
        if e.desc.digest == digest then return e.desc, g end
      end
    end
  end
end

-- The group whose image ID or manifest digest starts with hex (as
-- `images` prints both).
local function by_id(st, groups, hex, s)
  local found = {}
  for _, g in ipairs(groups) do
    local info = M.info(st, g.desc)
    local id = info and info.id or g.digest
    if id:sub(8, 7 + #hex) == hex or g.digest:sub(8, 7 + #hex) == hex then found[#found + 1] = g end
  end
  if #found == 1 then return found[1] end
  if #found > 1 then
    local ids = {}
    for i, g in ipairs(found) do ids[i] = g.digest end
    return nil, ("%s is ambiguous: it starts the IDs or digests of %d images (%s)"):format(show(s), #found,
      table.concat(ids, ", ")), "EAMBIGUOUS"
  end
end

-- A manifest or index of the store that index.json does not reach (an
-- image pulled by digest and untagged since): its descriptor, or nil.
local function unlisted(st, dg)
  if not st:has_blob(dg) then return nil end
  local text = st:get_json(dg)
  local v = text and json.decode(text)
  local mt = type(v) == "table" and v.mediaType
  if mt == nil and type(v) == "table" then mt = v.manifests and media.INDEX or v.config and media.MANIFEST end
  local kind = media.kind(mt)
  if kind == "manifest" or kind == "index" then return doc.descriptor(mt, dg, #text) end
end

--- Finds what SRC s names in the store st, whose index document is idx:
-- a name, a digest or NAME@DIGEST (of an image listed, of an image an
-- index lists, or of a manifest the store holds unlisted), or a prefix of
-- an image ID or manifest digest that only one image starts with.
-- Returns {desc= (an index.json entry, or a child manifest of a listed
-- index, or an unlisted manifest), group= (the entries of that image,
-- when it has any), parent= (the listed index holding a child), ref= (the
-- parsed name, when s was a name), by= "name"|"digest"|"id"}.
function M.resolve(st, idx, s)
  if type(s) ~= "string" or s == "" then return nil, "an image name, digest or ID is needed", "BADVALUE" end
  local groups, by = M.group(idx)
  local function by_digest(dg, how)
    if by[dg] then return { desc = by[dg].desc, group = by[dg], by = how } end
    local child, parent = child_of(st, groups, dg)
    if child then return { desc = child, parent = parent, by = how } end
    local g = by_id(st, groups, dg:sub(8), s)
    if g then return { desc = g.desc, group = g, by = "id" } end
    local d = unlisted(st, dg)
    if d then return { desc = d, by = how } end
  end
  local r = not digest_mod.valid(s) and ref.parse(s)
  if digest_mod.valid(s) or (r and r.digest) then
    local t = by_digest(r and r.digest or s, "digest")
    if t then return t end
    return not_found(st, s)
  end
  if r then
    local d = index.find(idx.manifests, r)
    if d then return { desc = by[d.digest].desc, group = by[d.digest], ref = r, by = "name" } end
  end
  local hex = s:match("^sha256:([0-9a-f]+)$") or s:match("^([0-9a-f]+)$")
  if hex and #hex <= 64 then
    local g, err, code = by_id(st, groups, hex, s)
    if err then return nil, err, code end
    if g then return { desc = g.desc, group = g, by = "id" } end
  end
  if not r and not hex then return nil, select(2, ref.parse(s)), "BADREF" end
  return not_found(st, s)
end

--- Reads index.json and resolves s (see M.resolve).
function M.find(st, s)
  local idx, err, code = st:read_index()
  if not idx then return nil, err, code end
  return M.resolve(st, idx, s)
end

--- Every image of the store (opts.repo: only those with a name in that
-- repository, and that tag when it names one). Returns a list of {digest=,
-- desc=, refs=, info= | error=} sorted by name then tag, unnamed last.
function M.list(st, opts)
  opts = opts or {}
  local want
  if opts.repo then
    local r, err = ref.parse(opts.repo)
    if not r or r.digest then return nil, err or ("%s is not a repository name"):format(show(opts.repo)), "BADREF" end
    want = { name = r.name, tag = opts.repo:match(":[^/]*$") and r.tag or nil }
  end
  local idx, err, code = st:read_index()
  if not idx then return nil, err, code end
  local out = {}
  for _, g in ipairs((M.group(idx))) do
    local keep = not want
    if want then
      local refs = {}
      for _, r in ipairs(g.refs) do
        if r.name == want.name and (not want.tag or r.tag == want.tag) then refs[#refs + 1] = r end
      end
      keep = #refs > 0
      g.refs = refs
    end
    if keep then
      local info, ierr = M.info(st, g.desc, g.refs[1] and g.refs[1].familiar or g.digest)
      out[#out + 1] = { digest = g.digest, desc = g.desc, refs = g.refs, info = info, error = ierr }
    end
  end
  return out
end

--- The image im (an element of M.list) as one JSON object: stable keys
-- (created, digest, error, id, mediaType, names, platforms, size, tags),
-- full digests, null for what could not be read.
function M.object(im)
  local info = im.info or {}
  local names, tags = json.array {}, json.array {}
  for i, r in ipairs(im.refs) do
    names[i] = r.normalized
    tags[i] = r.familiar
  end
  return json.object {
    id = info.id or json.null, digest = im.digest, mediaType = im.desc.mediaType,
    names = names, tags = tags, platforms = json.array(info.platforms or {}),
    size = info.size or json.null, created = info.created or json.null, error = im.error or json.null,
  }
end

--- Points each name in dsts (strings) at the image SRC src names. The
-- lookup and the change happen under the index lock. Returns the
-- descriptor tagged and the parsed names.
function M.tag(st, src, dsts)
  local refs = {}
  for i, s in ipairs(dsts) do
    local r, err = ref.parse(s)
    if not r then return nil, err, "BADREF" end
    if r.digest then return nil, ("cannot tag with a digest reference %s"):format(show(s)), "BADREF" end
    refs[i] = r
  end
  local target
  local ok, err, code = st:update_index(function(idx)
    local t, rerr, rcode = M.resolve(st, idx, src)
    if not t then return nil, rerr, rcode end
    target = t.desc
    idx.manifests = index.set_tags(idx.manifests, t.desc, refs)
    return true
  end)
  if not ok then return nil, err, code end
  return target, refs
end

local function familiar_list(refs)
  local t = {}
  for i, r in ipairs(refs) do t[i] = r.familiar end
  return table.concat(t, ", ")
end

-- The listed indexes (other than the group g) that reach g's digest.
local function parents(st, groups, g)
  local found = {}
  for _, other in ipairs(groups) do
    if other ~= g and media.kind(other.desc.mediaType) == "index" then
      local info = M.info(st, other.desc)
      for _, e in ipairs(info and info.manifests or {}) do
        if e.desc.digest == g.digest then
          found[#found + 1] = other.refs[1] and other.refs[1].familiar or other.digest
          break
        end
      end
    end
  end
  return found
end

--- Removes names from the store: each of names (strings) is a name (that
-- name goes) or a digest or ID (every name of that image goes, which
-- needs opts.force when it has more than one, or when a listed index
-- also holds it). An image left with no name leaves index.json; its blobs
-- go at the next prune. All or nothing: when one cannot go, nothing does.
-- Returns {untagged={familiar names}, deleted={digests}}.
function M.remove(st, names, opts)
  opts = opts or {}
  local result = { untagged = {}, deleted = {} }
  local ok, err, code = st:update_index(function(idx)
    local groups = M.group(idx)
    local drop_name, drop_digest = {}, {}
    for _, s in ipairs(names) do
      local t, rerr, rcode = M.resolve(st, idx, s)
      if not t then return nil, rerr, rcode end
      if t.parent then
        return nil, ("%s is part of the image %s, not an image of its own: remove that"):format(show(s),
          t.parent.refs[1] and t.parent.refs[1].familiar or t.parent.digest), "EBUSY"
      end
      if not t.group then
        return nil, ("%s is not listed in the store: it has no name to remove (`ocibuild prune` removes it)")
          :format(show(s)), "ENOENT"
      end
      if t.by == "name" then
        drop_name[t.ref.normalized] = true
      else
        local g = t.group
        if not opts.force then
          if #g.refs > 1 then
            return nil, ("image %s has several names (%s): use -f to remove them all, or remove each name")
              :format(g.digest, familiar_list(g.refs)), "EBUSY"
          end
          local held = parents(st, groups, g)
          if #held > 0 then
            return nil, ("image %s is also held by the index %s: use -f to remove its own entries")
              :format(g.digest, table.concat(held, ", ")), "EBUSY"
          end
        end
        drop_digest[g.digest] = true
      end
    end
    local kept, left = {}, {}
    for _, d in ipairs(idx.manifests) do
      local name, r = index.name_of(d)
      if drop_digest[d.digest] or (name and drop_name[name]) then
        if r then result.untagged[#result.untagged + 1] = r.familiar end
      else
        kept[#kept + 1] = d
        left[d.digest] = true
      end
    end
    for _, g in ipairs(groups) do
      if not left[g.digest] then result.deleted[#result.deleted + 1] = g.digest end
    end
    idx.manifests = kept
    return true
  end)
  if not ok then return nil, err, code end
  return result
end

return M
