--- OCI documents: descriptors, image config, image manifest, image index:
-- made as tables shaped for the canonical encoder (arrays and objects
-- marked; `M.encode` gives the bytes that get hashed), and read back
-- strictly: what is not the right type, size or form is an error naming
-- the document and the field, never something to guess about.
local check = require "ocibuild.util.check"
local digest = require "ocibuild.oci.digest"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"

local M = {}

M.encode = json.encode

-- Blobs over this are refused as descriptors claim them (a sanity bound,
-- not a policy: 1 TiB).
local MAX_BLOB = 1 << 40
-- JSON documents ocibuild reads whole.
M.MAX_JSON = 4 << 20

--- The most entries of one layer ocibuild holds in memory (a base's files
-- under COPY --from, --dest or a diff): about 1 KiB each.
M.MAX_LAYER_ENTRIES = 1000000

--- nil, or why a layer (named by what) is refused for its entry `name`:
-- a `..` component, which no layer writer puts there (Docker refuses the
-- ones that climb out of the root; kept, the others would be read one way
-- here and another by a runtime).
function M.bad_entry_name(what, name)
  for comp in name:gmatch("[^/]+") do
    if comp == ".." then
      return ("%s: entry %s has a .. component: refused"):format(what, check.name(name)), "BADLAYER"
    end
  end
  return nil
end

--- The message for a layer (named by what) past M.MAX_LAYER_ENTRIES.
function M.too_many_entries(what)
  return ("%s: more than %d entries, the most ocibuild reads of one layer"):format(what, M.MAX_LAYER_ENTRIES),
    "TOOBIG"
end

--- RFC 3339 UTC time for epoch seconds.
function M.rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

--- A descriptor (extra: more fields, such as platform or annotations).
function M.descriptor(media_type, dgst, size, extra)
  local d = json.object { mediaType = media_type, digest = dgst, size = size }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

--- The image config document.
-- spec: {platform=, created= (epoch seconds), config= (the `config`
-- object, see ocibuild.build.config.merge), base= (the base image's
-- config, decoded, or nil), layers = { {diff_id=, created_by=, comment=},
-- ... } (an entry without diff_id is a history entry of no layer:
-- empty_layer), author= (or the base's)}. With a base, its diff_ids and
-- history come first, kept as they are (padded when its history has fewer
-- layer entries than layers), and its author and os.version/os.features
-- are kept.
function M.config(spec)
  local created = M.rfc3339(spec.created)
  local diff_ids, history = json.array {}, json.array {}
  local b = spec.base
  if b then
    local filled = 0
    for _, h in ipairs(json.is_array(b.history) and b.history or {}) do
      history[#history + 1] = h
      if not (json.is_object(h) and h.empty_layer == true) then filled = filled + 1 end
    end
    for i, d in ipairs(b.rootfs.diff_ids) do
      diff_ids[i] = d
      if i > filled then history[#history + 1] = json.object { comment = "a layer of the base image" } end
    end
  end
  for _, l in ipairs(spec.layers) do
    if l.diff_id then diff_ids[#diff_ids + 1] = l.diff_id end
    history[#history + 1] = json.object { created = created, created_by = l.created_by, comment = l.comment,
      empty_layer = not l.diff_id or nil }
  end
  local p = spec.platform
  local c = json.object {
    architecture = p.architecture,
    os = p.os,
    variant = p.variant,
    created = created,
    config = spec.config,
    rootfs = json.object { type = "layers", diff_ids = diff_ids },
    history = history,
  }
  if b and b.os == p.os and b.architecture == p.architecture then
    for _, k in ipairs { "author", "os.version", "os.features" } do
      if b[k] ~= nil and b[k] ~= json.null then c[k] = b[k] end
    end
  end
  c.author = spec.author or c.author
  return c
end

--- The image manifest document.
function M.manifest(config_desc, layer_descs, annotations)
  local m = json.object {
    schemaVersion = 2,
    mediaType = media.MANIFEST,
    config = config_desc,
    layers = json.array(layer_descs),
  }
  if annotations and next(annotations) then m.annotations = json.object(annotations) end
  return m
end

--- An image index document listing descriptors; `extra` holds other
-- top-level fields to keep (what other tools wrote into an index.json).
function M.index(descs, extra)
  local idx = json.object {}
  for k, v in pairs(extra or {}) do idx[k] = v end
  idx.schemaVersion = 2
  idx.mediaType = media.INDEX
  idx.manifests = json.array(descs)
  return idx
end

-- The path to the part of t holding most of its `size` bytes (more than
-- half at each step), and that part's size.
local function largest(t, size)
  local path, v = {}, t
  while type(v) == "table" do
    local bk, bv, bs = nil, nil, 0
    for k, c in pairs(v) do
      local ok, text = pcall(json.encode, c)
      if ok and #text > bs then bk, bv, bs = k, c, #text end
    end
    if bk == nil or bs * 2 <= size then break end
    if math.type(bk) == "integer" then
      path[#path + 1] = ("[%d]"):format(bk)
    elseif bk:match("^[%a_][%w_]*$") then
      path[#path + 1] = "." .. bk
    else
      path[#path + 1] = ("[%q]"):format(bk)
    end
    v, size = bv, bs
  end
  local where = table.concat(path):gsub("^%.", "")
  if type(v) == "table" and json.is_array(v) then where = ("%s (%d entries)"):format(where, #v) end
  return where, size
end

--- Checks that the document t of `kind` ("config", "manifest", "index"),
-- encoded as text, is one readers take (M.MAX_JSON bytes at most).
-- Returns true, or nil, msg (naming the part that crossed the limit),
-- "TOOBIG".
function M.fits(kind, t, text)
  if #text <= M.MAX_JSON then return true end
  local where, size = largest(t, #text)
  return nil, ("the image %s would have %d bytes, more than the %d (4 MiB) that ocibuild and registries read%s")
    :format(kind, #text, M.MAX_JSON, where ~= "" and (": %s holds %d of them"):format(where, size) or ""), "TOOBIG"
end

-- ---- reading ----

local function bad(where, fmt, ...)
  return nil, where .. ": " .. fmt:format(...), "BADDOC"
end

local function strings_object(t)
  if not json.is_object(t) then return false end
  for k, v in pairs(t) do
    if type(k) ~= "string" or type(v) ~= "string" then return false end
  end
  return true
end

--- Checks a descriptor read from a document. Returns d, or nil, msg,
-- "BADDOC" | "BADDIGEST".
function M.check_descriptor(d, where)
  if not json.is_object(d) then return bad(where, "descriptor is not an object") end
  if type(d.mediaType) ~= "string" or d.mediaType == "" then return bad(where, "mediaType must be a string") end
  local ok, err, code = digest.check(d.digest, where)
  if not ok then return nil, err, code end
  if math.type(d.size) ~= "integer" or d.size < 0 or d.size > MAX_BLOB then
    return bad(where, "size must be an integer from 0 to %d, got %s", MAX_BLOB, tostring(d.size))
  end
  if d.annotations ~= nil and not strings_object(d.annotations) then
    return bad(where, "annotations must be an object of strings")
  end
  if d.platform ~= nil and (not json.is_object(d.platform) or type(d.platform.os) ~= "string"
      or type(d.platform.architecture) ~= "string") then
    return bad(where, "platform must be an object with os and architecture")
  end
  if d.urls ~= nil and not json.is_array(d.urls) then return bad(where, "urls must be an array") end
  return d
end

local function decode(text, where)
  if #text > M.MAX_JSON then return bad(where, "larger than %d bytes", M.MAX_JSON) end
  local v, err = json.decode(text, where)
  if v == nil then return nil, err, "BADDOC" end
  if not json.is_object(v) then return bad(where, "not a JSON object") end
  return v
end

-- The document in text, decoded: an object with schemaVersion 2 and, when
-- it says a mediaType, one of kind ("index" or "manifest", named as what).
local function open(text, where, kind, what)
  local t, err, code = decode(text, where)
  if not t then return nil, err, code end
  if t.schemaVersion ~= 2 then return bad(where, "schemaVersion must be 2") end
  if t.mediaType ~= nil and media.kind(t.mediaType) ~= kind then
    return bad(where, "mediaType %q is not an %s", tostring(t.mediaType), what)
  end
  return t
end

-- t, when t[field] is an array of good descriptors; else nil, msg, code.
local function descriptors(t, field, where)
  if not json.is_array(t[field]) then return bad(where, "%s must be an array", field) end
  for i, d in ipairs(t[field]) do
    local ok, err, code = M.check_descriptor(d, ("%s: %s[%d]"):format(where, field, i))
    if not ok then return nil, err, code end
  end
  return t
end

--- Reads an image index (or index.json). Returns the document with every
-- descriptor checked, or nil, msg, code.
function M.read_index(text, where)
  local idx, err, code = open(text, where, "index", "image index")
  if idx then idx, err, code = descriptors(idx, "manifests", where) end
  return idx, err, code
end

--- Reads an image manifest. Returns it, or nil, msg, code.
function M.read_manifest(text, where)
  local m, err, code = open(text, where, "manifest", "image manifest")
  if not m then return nil, err, code end
  local ok
  ok, err, code = M.check_descriptor(m.config, where .. ": config")
  if ok then ok, err, code = descriptors(m, "layers", where) end
  if not ok then return nil, err, code end
  if m.annotations ~= nil and not strings_object(m.annotations) then
    return bad(where, "annotations must be an object of strings")
  end
  return m
end

--- text, when it is as long as desc says; else nil, "DIGEST: N bytes,
-- but its descriptor says M", "BADSIZE" (or nil, err, code as given when
-- text is nil: a read's failure passes through).
function M.sized(desc, text, err, code)
  if text == nil then return nil, err, code end
  if #text ~= desc.size then
    return nil, ("%s: %d bytes, but its descriptor says %d"):format(desc.digest, #text, desc.size), "BADSIZE"
  end
  return text
end

--- Reads a manifest or an index by its media type. Returns the document
-- and its kind ("manifest" or "index"), or nil, msg, code.
function M.read_any(text, media_type, where)
  local kind = media.kind(media_type)
  if kind == "index" then
    local d, err, code = M.read_index(text, where)
    return d, err or kind, code
  elseif kind == "manifest" then
    local d, err, code = M.read_manifest(text, where)
    return d, err or kind, code
  end
  return bad(where, "media type %q is neither an image manifest nor an index", tostring(media_type))
end

--- Reads an image config. Returns it, or nil, msg, code.
function M.read_config(text, where)
  local c, err, code = decode(text, where)
  if not c then return nil, err, code end
  if type(c.architecture) ~= "string" or type(c.os) ~= "string" then
    return bad(where, "architecture and os must be strings")
  end
  if c.config == json.null then c.config = nil end
  if c.config ~= nil and not json.is_object(c.config) then return bad(where, "config must be an object") end
  if not json.is_object(c.rootfs) or c.rootfs.type ~= "layers" or not json.is_array(c.rootfs.diff_ids) then
    return bad(where, "rootfs must be {type: \"layers\", diff_ids: [...]}")
  end
  for i, d in ipairs(c.rootfs.diff_ids) do
    local ok, err2 = digest.check(d, ("%s: rootfs.diff_ids[%d]"):format(where, i))
    if not ok then return nil, err2, "BADDOC" end
  end
  return c
end

--- nil, or what is wrong between an image manifest m and its image config
-- c (both decoded): a layer count other than its diff_ids'. (Signatures
-- and attestations have an image config too, and layers of their own
-- media types.)
function M.image_mismatch(m, c)
  if #c.rootfs.diff_ids ~= #m.layers then
    return ("%d layers, its config %s lists %d diff_ids"):format(#m.layers, m.config.digest, #c.rootfs.diff_ids)
  end
  return nil
end

return M
