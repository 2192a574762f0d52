--- index.json entries: which references an entry names, and the rules
-- for moving a tag onto another image. Entries written by other tools
-- (skopeo writes only `org.opencontainers.image.ref.name`, in whatever form
-- it was given) are matched in both the familiar and the full form. An
-- entry with neither annotation is an untagged image (`<none>`): a build
-- without a tag, an unnamed import; prune removes those.
local doc = require "ocibuild.oci.doc"
local ref = require "ocibuild.oci.ref"

local M = {}

M.REF_NAME = "org.opencontainers.image.ref.name"
M.CONTAINERD_NAME = "io.containerd.image.name"

--- The normalized reference an entry names, or nil (untagged, or a name
-- that is not a reference). Never fails.
function M.name_of(d)
  local a = d.annotations or {}
  if a[M.CONTAINERD_NAME] then
    local r = ref.parse(a[M.CONTAINERD_NAME])
    if r then return r.normalized, r end
  end
  if a[M.REF_NAME] then
    local r = ref.parse(a[M.REF_NAME])
    if r then return r.normalized, r end
  end
end

--- A copy of the manifest descriptor desc naming the reference r (parsed):
-- ref.name holds the familiar form, io.containerd.image.name the full one.
function M.tagged(desc, r)
  local d = doc.descriptor(desc.mediaType, desc.digest, desc.size)
  for k, v in pairs(desc) do
    if k ~= "annotations" then d[k] = v end
  end
  d.annotations = { [M.REF_NAME] = r.familiar, [M.CONTAINERD_NAME] = r.normalized }
  for k, v in pairs(desc.annotations or {}) do
    if k ~= M.REF_NAME and k ~= M.CONTAINERD_NAME then d.annotations[k] = v end
  end
  return d
end

--- true when the entry carries a name annotation (parsable or not).
function M.named(d)
  local a = d.annotations
  return a ~= nil and (a[M.REF_NAME] ~= nil or a[M.CONTAINERD_NAME] ~= nil)
end

--- A copy of the descriptor desc without name annotations.
function M.untagged(desc)
  local d = doc.descriptor(desc.mediaType, desc.digest, desc.size)
  for k, v in pairs(desc) do
    if k ~= "annotations" then d[k] = v end
  end
  for k, v in pairs(desc.annotations or {}) do
    if k ~= M.REF_NAME and k ~= M.CONTAINERD_NAME then
      d.annotations = d.annotations or {}
      d.annotations[k] = v
    end
  end
  return d
end

local function sort_key(d)
  return M.name_of(d) or ""
end

--- Sorts entries by name, then digest, so index.json does not depend on
-- the order tags were set in.
function M.sort(list)
  table.sort(list, function(a, b)
    local na, nb = sort_key(a), sort_key(b)
    if na ~= nb then return na < nb end
    return a.digest < b.digest
  end)
  return list
end

--- Moves each reference in refs (parsed) onto desc in list (the
-- manifests of an index): entries naming one of them, in either form,
-- are replaced, and an untagged entry of desc goes. With no refs, desc
-- gets an untagged entry unless some entry already lists it. Returns the
-- new list.
function M.set_tags(list, desc, refs)
  local taken = {}
  for _, r in ipairs(refs) do taken[r.normalized] = true end
  local kept, listed = {}, false
  for _, d in ipairs(list) do
    local name = M.name_of(d)
    local unnamed_self = #refs > 0 and d.digest == desc.digest and not M.named(d)
    if not (name and taken[name]) and not unnamed_self then
      kept[#kept + 1] = d
      if d.digest == desc.digest then listed = true end
    end
  end
  for _, r in ipairs(refs) do kept[#kept + 1] = M.tagged(desc, r) end
  if #refs == 0 and not listed then kept[#kept + 1] = M.untagged(desc) end
  return M.sort(kept)
end

--- The entry of list naming r (parsed), or nil.
function M.find(list, r)
  for _, d in ipairs(list) do
    if M.name_of(d) == r.normalized then return d end
  end
end

return M
