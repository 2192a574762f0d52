--- The one walk of an image graph: a manifest or index and everything it
-- reaches. prune's mark, a failed build's rollback, fsck, copy (export,
-- import, push, pull), the archive importer, images and inspect all walk
-- through it. A descriptor's role is where it is found: an index's
-- children are manifests or indexes by their media type (anything else a
-- "blob"), a manifest's config is a "config" (a "blob" when its type is
-- not an image config) and its layers "layer"s. Each (digest, role) is
-- visited once: bytes reached as a layer are still read and descended into
-- when they are reached as a manifest or an index. The walk is bounded:
-- indexes nest at most MAX_DEPTH deep, and one walk looks at no more than
-- MAX_DESCRIPTORS descriptors; either bound ends it with one line.
-- Functions return nil, msg, code on failure.
local media = require "ocibuild.oci.media"

local M = {}

--- Indexes inside indexes, counting the outermost.
M.MAX_DEPTH = 8
--- Descriptors one walk looks at. No real image comes near: Docker stops
-- an image at 127 layers and the largest multi-platform indexes list a
-- few hundred manifests, while one 4 MiB manifest holds at most about
-- 44,000 descriptors; the bound leaves room for two of those.
M.MAX_DESCRIPTORS = 100000

--- The role of descriptor d found in `field` ("layers", "config"; nil for
-- a root or an index's child). Never fails.
function M.role(d, field)
  local kind = media.kind(d.mediaType)
  if field == "layers" then return "layer" end
  if field == "config" then return kind == "config" and "config" or "blob" end
  if kind == "manifest" or kind == "index" then return kind end
  return "blob"
end

local Walker = {}
Walker.__index = Walker

--- A walker. hooks: {read= function(d, role, where) -> the manifest or
-- index, parsed (false: skip it, the hook has said why; nil, msg, code:
-- stop), blobs= function(list, where, parent) (optional: the descriptors
-- {desc=, role=} a document reaches that are not manifests or indexes,
-- those not visited yet, in document order), done= function(d, role, doc,
-- where) (optional: a document, after everything it reaches)}. A walker
-- may run from several roots; what one run visited the next skips.
-- `reached` maps every digest visited, in any role, to its size.
function M.new(hooks)
  return setmetatable({ hooks = hooks, seen = {}, reached = {}, count = 0 }, Walker)
end

-- Counts d against the bound, then records (d, role): returns its record
-- and whether it is new.
local function enter(self, d, role, where)
  self.count = self.count + 1
  if self.count > M.MAX_DESCRIPTORS then
    return nil, ("%s: more than %d descriptors, at %s %s: no image has so many; stopped"):format(where,
      M.MAX_DESCRIPTORS, role, d.digest), "BADDOC"
  end
  local key = role .. " " .. d.digest
  local rec = self.seen[key]
  if rec then
    if rec.size ~= d.size then
      return nil, ("%s: %s %s: one descriptor says %d bytes, another %d"):format(where, role, d.digest, rec.size,
        d.size), "BADSIZE"
    end
    return rec, false
  end
  rec = { size = d.size, height = 0 }
  self.seen[key] = rec
  self.reached[d.digest] = self.reached[d.digest] or d.size
  return rec, true
end

local function too_deep(d, where)
  return nil, ("%s: index %s: indexes nested more than %d deep"):format(where, d.digest, M.MAX_DEPTH), "BADDOC"
end

-- The children of the document m: manifests and indexes, then the rest.
local function children(m, role)
  local docs, blobs = {}, {}
  if role == "index" then
    for _, c in ipairs(m.manifests) do
      local r = M.role(c)
      local list = r == "blob" and blobs or docs
      list[#list + 1] = { desc = c, role = r }
    end
  else
    blobs[1] = { desc = m.config, role = M.role(m.config, "config") }
    for _, l in ipairs(m.layers) do blobs[#blobs + 1] = { desc = l, role = "layer" } end
  end
  return docs, blobs
end

-- Walks the document d (role "manifest" or "index") below `above`
-- indexes; rec is its record, whose height (indexes from d down) it sets.
local function walk_doc(self, d, role, above, rec, where)
  local level = above + (role == "index" and 1 or 0)
  if level > M.MAX_DEPTH then return too_deep(d, where) end
  local m, err, code = self.hooks.read(d, role, where)
  if m == false then return true end
  if not m then return nil, err, code end
  local docs, blobs = children(m, role)
  local height = 0
  for _, c in ipairs(docs) do
    local crec, new, ecode = enter(self, c.desc, c.role, where)
    if not crec then return nil, new, ecode end
    if new then
      local ok
      ok, err, code = walk_doc(self, c.desc, c.role, level, crec, where)
      if not ok then return nil, err, code end
    elseif level + crec.height > M.MAX_DEPTH then
      return too_deep(c.desc, where)
    end
    if crec.height > height then height = crec.height end
  end
  local fresh = {}
  for _, c in ipairs(blobs) do
    local crec, new, ecode = enter(self, c.desc, c.role, where)
    if not crec then return nil, new, ecode end
    if new then fresh[#fresh + 1] = c end
  end
  if #fresh > 0 and self.hooks.blobs then
    local ok
    ok, err, code = self.hooks.blobs(fresh, where, d)
    if not ok then return nil, err, code end
  end
  rec.height = height + (role == "index" and 1 or 0)
  if self.hooks.done then return self.hooks.done(d, role, m, where) end
  return true
end

--- Walks from the descriptor d (an index.json entry, or any descriptor
-- to copy), `where` starting every message. Returns true.
function Walker:run(d, where)
  self.count = 0
  local role = M.role(d)
  local rec, new, code = enter(self, d, role, where)
  if not rec then return nil, new, code end
  if not new then
    if rec.height > M.MAX_DEPTH then return too_deep(d, where) end
    return true
  end
  if role == "blob" then
    if not self.hooks.blobs then return true end
    return self.hooks.blobs({ { desc = d, role = role } }, where)
  end
  return walk_doc(self, d, role, 0, rec, where)
end

return M
