--- Why two images' digests differ, as diffoci tells it: the manifests'
-- fields and annotations, the configs' fields (labels, env, created,
-- history, ...), the layer count, and per layer the entries added,
-- removed or changed (type, mode, owner, mtime, size, content, link
-- target), read from the store's blobs with core.tar_reader. Layers with
-- the same digest are not read; layers with the same diff_id differ only
-- in compression. Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"

local M = {}

-- JSON documents flattened to {path = shown value}: objects by key,
-- arrays of objects by index, other arrays whole (as JSON).
local function flatten(v, prefix, out)
  if type(v) == "table" and next(v) == nil then
    out[prefix] = json.is_array(v) and "[]" or "{}"
  elseif json.is_object(v) or (type(v) == "table" and not json.is_array(v)) then
    for k, x in pairs(v) do flatten(x, prefix == "" and k or (prefix .. "." .. k), out) end
  elseif type(v) == "table" then
    local objects = false
    for _, x in ipairs(v) do objects = objects or json.is_object(x) end
    if objects then
      for i, x in ipairs(v) do flatten(x, ("%s[%d]"):format(prefix, i), out) end
    else
      out[prefix] = json.encode(json.array(v))
    end
  else
    out[prefix] = type(v) == "string" and json.encode(v) or tostring(v)
  end
  return out
end

-- An empty object or array on one side where the other has members is
-- shown through those members alone.
local function has_below(t, k)
  for x in pairs(t) do
    local c = x:sub(#k + 1, #k + 1)
    if x:sub(1, #k) == k and (c == "." or c == "[") then return true end
  end
  return false
end

local function skipped(k, skip)
  for _, p in ipairs(skip) do
    local c = k:sub(#p + 1, #p + 1)
    if k:sub(1, #p) == p and (c == "" or c == "." or c == "[") then return true end
  end
  return false
end

local function compare_fields(section, a, b, skip, items)
  local fa, fb = flatten(a or json.object {}, "", {}), flatten(b or json.object {}, "", {})
  local keys, seen = {}, {}
  for _, t in ipairs { fa, fb } do
    local other = t == fa and fb or fa
    for k, v in pairs(t) do
      if not seen[k] and not skipped(k, skip) and not ((v == "{}" or v == "[]") and has_below(other, k)) then
        seen[k] = true
        keys[#keys + 1] = k
      end
    end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if fa[k] ~= fb[k] then items[#items + 1] = { section = section, field = k, a = fa[k], b = fb[k] } end
  end
end

local function read_doc(st, desc, reader, what)
  local text, err, code = st:get_json(desc.digest)
  if not text then return nil, err, code end
  return reader(text, ("%s %s"):format(what, desc.digest))
end

-- The entries of a layer blob: name -> attributes, and the names in order.
local function entries(st, digest)
  local r, err, code = core.tar_reader(st.core, digest)
  if not r then return nil, err, code end
  local byname, order = {}, {}
  while true do
    local e
    e, err, code = r:next()
    if not e then
      if err then return nil, err, code end
      break
    end
    local name = e.name:gsub("^%./", ""):gsub("/$", "")
    local a = { type = e.type, mode = e.mode, uid = e.uid, gid = e.gid, mtime = e.mtime, size = e.size,
      target = e.target }
    if e.type == "file" then
      a.content, err, code = r:sha256()
      if not a.content then return nil, err, code end
    end
    byname[name] = a
    order[#order + 1] = name
    if #order > doc.MAX_LAYER_ENTRIES then return nil, doc.too_many_entries(digest) end
  end
  return byname, order
end

--- What is compared of each entry (content: the SHA-256 of a file's bytes).
M.ENTRY_FIELDS = { "type", "mode", "uid", "gid", "mtime", "size", "content", "target" }

local function compare_layer(st, i, da, db)
  local l = { index = i, a = da, b = db, added = {}, removed = {}, changed = {}, entries = {} }
  if not da or not db or da.digest == db.digest then return l end
  local ea, oa, code = entries(st, da.digest)
  if not ea then return nil, oa, code end
  local eb, ob
  eb, ob, code = entries(st, db.digest)
  if not eb then return nil, ob, code end
  for _, name in ipairs(ob) do
    if not ea[name] then l.added[#l.added + 1] = { name = name, attrs = eb[name] } end
  end
  for _, name in ipairs(oa) do
    local a, b = ea[name], eb[name]
    if not b then
      l.removed[#l.removed + 1] = { name = name, attrs = a }
    else
      local fields = {}
      for _, f in ipairs(M.ENTRY_FIELDS) do
        if a[f] ~= b[f] then fields[#fields + 1] = { field = f, a = a[f], b = b[f] } end
      end
      if #fields > 0 then l.changed[#l.changed + 1] = { name = name, fields = fields } end
    end
  end
  for kind, list in pairs { ["+"] = l.added, ["-"] = l.removed, ["~"] = l.changed } do
    for _, e in ipairs(list) do l.entries[#l.entries + 1] = { kind = kind, name = e.name, attrs = e.attrs,
      fields = e.fields } end
  end
  table.sort(l.entries, function(x, y) return x.name < y.name end)
  if #l.entries == 0 then
    local same_order = #oa == #ob
    for j = 1, #oa do same_order = same_order and oa[j] == ob[j] end
    l.reordered = not same_order
  end
  return l
end

--- Compares the image manifests da and db (descriptors) of the store st.
-- Returns {same=, items={{section=, field=, a=, b=}} (manifest and config
-- fields, values shown as JSON), layers={{index=, a=, b= (descriptors, nil
-- where one image has fewer layers), diff_a=, diff_b=, added=, removed=,
-- changed= ({name=, fields={{field=, a=, b=}}}), entries= (all three by
-- name, each with kind "+", "-" or "~"), reordered=}}, count= (differences
-- found)}.
function M.compare(st, da, db)
  local r = { same = da.digest == db.digest, items = {}, layers = {}, count = 0 }
  if r.same then return r end
  local ma, err, code = read_doc(st, da, doc.read_manifest, "manifest")
  if not ma then return nil, err, code end
  local mb
  mb, err, code = read_doc(st, db, doc.read_manifest, "manifest")
  if not mb then return nil, err, code end
  local ca
  ca, err, code = read_doc(st, ma.config, doc.read_config, "config")
  if not ca then return nil, err, code end
  local cb
  cb, err, code = read_doc(st, mb.config, doc.read_config, "config")
  if not cb then return nil, err, code end
  -- The config and layer descriptors differ when what they point at
  -- does: shown below, from the documents themselves.
  compare_fields("manifest", ma, mb, { "config", "layers" }, r.items)
  if #ma.layers ~= #mb.layers then
    r.items[#r.items + 1] = { section = "manifest", field = "layers", a = tostring(#ma.layers),
      b = tostring(#mb.layers) }
  end
  compare_fields("config", ca, cb, { "rootfs.diff_ids" }, r.items)
  r.count = #r.items
  for i = 1, math.max(#ma.layers, #mb.layers) do
    local l
    l, err, code = compare_layer(st, i, ma.layers[i], mb.layers[i])
    if not l then return nil, err, code end
    l.diff_a, l.diff_b = ca.rootfs.diff_ids[i], cb.rootfs.diff_ids[i]
    if not l.a or not l.b or l.a.digest ~= l.b.digest then
      r.layers[#r.layers + 1] = l
      r.count = r.count + math.max(1, #l.added + #l.removed + #l.changed)
    end
  end
  return r
end

return M
