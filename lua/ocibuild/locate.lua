--- The one grammar of the places an image is named, and its resolver:
-- every verb that names an image (--from, copy, push, pull, inspect,
-- export, import, sign, verify, a Dockerfile's FROM) reads it here.
--   NAME | store:NAME       the store: a name, a digest, NAME@DIGEST, or
--                           a prefix of an image ID or manifest digest
--   oci:DIR[:TAG]           an OCI image layout folder
--   oci-archive:FILE[:TAG]  an OCI archive (a tar of a layout)
--   docker-archive:FILE[:REF]  a docker archive (docker save's tar)
--   docker://REF            a registry
--   HOST/NAME[:TAG]         a registry, where a registry is meant (a
--                           name whose first part is a host)
-- A `word:` before anything else that is none of these is refused with the
-- list of the known ones, never taken as a file or an image name.
-- Sources resolve to {endpoint=, desc=, name=} (ocibuild.copy's
-- endpoints); an archive or a registry is first brought into the store
-- (every blob verified, nothing named), where the caller holds it against
-- prune. Targets are endpoints with tag() and commit().
-- Functions return nil, msg, code on failure.
local check = require "ocibuild.util.check"
local digest = require "ocibuild.oci.digest"
local index = require "ocibuild.store.index"
local layout = require "ocibuild.endpoint.layout"
local path = require "ocibuild.util.path"
local platform = require "ocibuild.oci.platform"
local ref = require "ocibuild.oci.ref"
local store_mod = require "ocibuild.store"

local M = {}

--- The transports, as `word:` prefixes.
M.PREFIXES = { "store:", "oci:", "oci-archive:", "docker-archive:", "docker://" }

local TRANSPORT = { store = "store", oci = "oci", ["oci-archive"] = "oci-archive",
  ["docker-archive"] = "docker-archive", docker = "registry" }

-- The shortest image ID prefix a base names in the store.
local MIN_PREFIX = 4

local show = check.show

local function known_list() return table.concat(M.PREFIXES, ", ") end

local function bad(s, why) return nil, ("%s: %s"):format(show(s), why), "BADREF" end

-- word:rest where word could only be a transport: rest is no port of a
-- host (localhost:5000/x), and no tag of a name (site:dev) unless word is
-- close to a transport's name (oci-archiv:x.tar).
local function unknown_prefix(word, rest, s, file)
  if not word:match("^[a-z][a-z0-9-]*$") then return nil end
  if rest:match("^%d+/") or rest:match("^%d+$") then return nil end
  local near = check.suggest(word, { "store", "oci", "oci-archive", "docker-archive", "docker" })
  if not file and not near and not rest:find("/", 1, true) and ref.parse(s) then return nil end
  return bad(s, ("unknown transport %q%s: the known ones are %s"):format(word .. ":",
    near and (" (did you mean %q?)"):format(near .. (near == "docker" and "://" or ":")) or "", known_list()))
end

-- DIR[:TAG] of a layout or archive, for transport t.
local function split(rest, t, s)
  local p, tag = rest:match("^([^:]*):(.*)$")
  p = p or rest
  if p == "" then return bad(s, ("%s: needs a %s, as %s:%s[:TAG]"):format(t, t == "oci" and "folder" or "file", t,
    t == "oci" and "DIR" or "FILE")) end
  if tag == "" then tag = nil end
  return p, tag
end

--- Parses s, a place an image is named. opts: {bare= what a name without
-- a transport is: "store" (default), "registry", "auto" (the store, or a
-- registry when its first part is a host: for copy's destination), or
-- "file" (an OCI archive's file: export's and import's)}. Returns {kind=
-- ("store", "oci", "oci-archive", "docker-archive", "registry"),
-- text= s, path= (a folder or file), tag=, name= (the store's name as
-- given), ref= (a registry's reference, parsed)}, or nil, msg, "BADREF".
function M.parse(s, opts)
  opts = opts or {}
  if type(s) ~= "string" or s == "" then return nil, "an image location is needed", "BADREF" end
  local rest = s:match("^docker://(.*)$")
  if rest then
    local r, err = ref.parse(rest)
    if not r then return bad(s, err) end
    return { kind = "registry", text = s, ref = r }
  end
  local word
  word, rest = s:match("^([%w][%w%-%.]*):(.*)$")
  local t = word and TRANSPORT[word]
  if t == "registry" then return bad(s, "docker: needs //, as docker://HOST/NAME[:TAG]") end
  if t == "store" then
    if rest == "" then return bad(s, "store: needs a name, as store:NAME[:TAG]") end
    return { kind = "store", text = s, name = rest }
  elseif t then
    local p, tag = split(rest, t, s)
    if not p then return nil, tag, "BADREF" end
    return { kind = t, text = s, path = p, tag = tag }
  end
  if word then
    local ok, err, code = unknown_prefix(word, rest, s, opts.bare == "file")
    if err then return ok, err, code end
  end
  local bare = opts.bare or "store"
  if bare == "file" then return { kind = "oci-archive", text = s, path = s } end
  if bare == "registry" or (bare == "auto" and ref.names_registry(s)) then
    local r, err = ref.parse(s)
    if not r then return nil, err, "BADREF" end
    return { kind = "registry", text = s, ref = r }
  end
  return { kind = "store", text = s, name = s }
end

-- ---- sources ----

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
local function from_layout(loc, opts)
  local other, err, code = store_mod.open(path.abs(loc.path, opts.dir))
  if not other then return nil, ("%s%s: %s"):format(opts.label or "", loc.text, err), code end
  local idx
  idx, err, code = other:read_index()
  if not idx then return nil, err, code end
  local d
  d, err, code = pick_entry(idx, loc.tag, "oci:" .. loc.path)
  if not d then return nil, err, code end
  return { endpoint = layout.new(other), desc = d, name = entry_name(d), st = other }
end

-- oci-archive:FILE[:TAG], docker-archive:FILE[:REF]: the archive's image is
-- imported into the store (every blob verified as it streams by), without
-- naming it there: the caller holds the store against prune until it is
-- done with it.
local function from_archive(loc, opts)
  local st, err, code = opts.store()
  if not st then return nil, err, code end
  local got
  got, err, code = require("ocibuild.import").archive(path.abs(loc.path, opts.dir), st,
    { select = loc.tag, index = false, on_event = opts.on_event })
  if not got then return nil, ("%s%s: %s"):format(opts.label or "", loc.text, err), code end
  if #got.images ~= 1 then
    local names = {}
    for _, im in ipairs(got.images) do names[#names + 1] = im.tags[1] or im.descriptor.digest end
    return nil, ("%s holds %d images: name one as %s:%s:TAG (%s)"):format(loc.text, #got.images, loc.kind,
      loc.path, table.concat(names, ", ")), "EAMBIGUOUS"
  end
  local im = got.images[1]
  return { endpoint = layout.new(st), desc = im.descriptor, name = im.names[1], st = st }
end

-- A registry reference: pulled into the store, every blob verified, with
-- the registry options given (credentials, trust); opts.platform picks an
-- index's image, else the whole index comes.
local function from_registry(loc, opts)
  local r = loc.ref
  if opts.policy then
    local ok, err, code = opts.policy.registry(r.domain, (opts.what or "image") .. " " .. r.familiar)
    if not ok then return nil, err, code end
  end
  local st, err, code = opts.store()
  if not st then return nil, err, code end
  local o = {}
  for k, v in pairs(opts.registry or {}) do o[k] = v end
  -- a base pulled is named in the store; what a copy brings in is not
  o.on_event, o.tag, o.all = opts.on_event, opts.pull == true, opts.platform == nil
  o.platform = opts.platform
  local d
  d, err, code = require("ocibuild.registry").pull(r, st, o)
  if not d then return nil, err, code end
  return { endpoint = layout.new(st), desc = d, name = r.normalized, st = st }
end

-- The image s names in the store st, as every verb of the store finds it
-- (ocibuild.store.images): {endpoint=, desc=, name=, st=}, or nil (none),
-- or nil, msg, code. A hex prefix names an image from MIN_PREFIX digits.
local function in_store(s, st, idx, opts)
  if s:match("^%x+$") and #s < MIN_PREFIX then return nil end
  local t, err, code = require("ocibuild.store.images").resolve(st, idx, s)
  if not t then
    -- a name that cannot be one is said as it is, unless a base may be
    -- pulled instead (which says it then)
    if code == "ENOENT" or (code == "BADREF" and opts.pull) then return nil end
    return nil, err, code
  end
  local d = t.desc
  -- a tag pulled for another platform of a multi-platform image is pulled
  -- again for this one
  if t.by == "name" and d.platform and opts.platform and not platform.matches(d.platform, opts.platform)
      and opts.pull and ref.names_registry(s) then
    return nil
  end
  -- the base's name as given (NAME@DIGEST keeps its digest), else the entry's
  local r = not digest.valid(s) and t.by ~= "id" and ref.parse(s)
  return { endpoint = layout.new(st), desc = d, name = r and r.normalized or entry_name(d), st = st }
end

-- A name without a transport: the store first; then, with opts.pull, the
-- registry its first part names. A sandboxed script gets from the store
-- only what its policy allows; another image there is pulled again when
-- its registry is allowed.
local function from_store(loc, opts)
  local s, what = loc.name, opts.what or "image"
  local st, err, code = opts.store(true)
  if st == false and not opts.pull then return nil, ("no %s %s: %s"):format(what, show(s), err), "ENOENT" end
  if not st and st ~= false then return nil, err, code end
  local got
  if st then
    local idx
    idx, err, code = st:read_index()
    if not idx then return nil, err, code end
    got, err, code = in_store(s, st, idx, opts)
    if err then return nil, err, code end
    local function lookup(x) return (in_store(x, st, idx, opts) or {}).desc end
    local r = ref.parse(s)
    if got and opts.policy and not opts.policy.image(got.desc, lookup, st.dir) then
      if not (r and opts.policy.registry(r.domain, s)) then return nil, opts.policy.refused_image(s) end
      got = nil
    end
    if got then return got end
  end
  if not opts.pull then
    return nil, ("no %s %s%s"):format(what, show(s), st and (" in store " .. st.dir) or ""), "ENOENT"
  end
  if digest.valid(s) then
    return nil, ("%s %s is not in the store%s"):format(what, s, st and (" " .. st.dir) or ""), "ENOENT"
  end
  local r, why = ref.parse(s)
  if not r then
    return nil, ("%s %s is not in the store%s, and is not a reference to pull: %s")
      :format(what, show(s), st and (" " .. st.dir) or "", why), "BADREF"
  end
  got, err, code = from_registry({ kind = "registry", text = s, ref = r }, opts)
  if not got then
    if code == "DENIED" then return nil, err, code end
    return nil, ("%s %s is not in the store%s, and pulling it failed: %s"):format(what, r.familiar,
      st and (" " .. st.dir) or "", err), code
  end
  return got
end

--- Resolves the place loc (from M.parse) as a source. opts: {label=
-- (before a place in messages: "base "), store=
-- (function(may_be_missing) -> the opened store, created when missing
-- unless may_be_missing: then false and why when there is none), dir= (the folder relative paths resolve against),
-- pull= (a name not in the store is pulled from its registry: a base),
-- platform= (parsed: the image of an index a registry's pull takes; nil:
-- the whole index), registry= (the registry client's options), on_event=,
-- policy= (a sandboxed script's, ocibuild.ops.reach), what= ("base
-- image", for messages)}. Returns {endpoint=, desc= (manifest or index),
-- name= (normalized, or nil), st= (the store or layout it is in)}.
function M.source(loc, opts)
  if loc.kind == "store" then return from_store(loc, opts) end
  if loc.kind == "oci" then return from_layout(loc, opts) end
  if loc.kind ~= "registry" then return from_archive(loc, opts) end
  local got, err, code = from_registry(loc, opts)
  if not got and code ~= "DENIED" then return nil, ("%s%s: %s"):format(opts.label or "", loc.text, err), code end
  return got, err, code
end

-- ---- targets ----

-- A name of a layout or an OCI archive as skopeo writes it (ref.name,
-- exactly as given), as a reference for the archive writer.
local function raw_name(tag)
  local r = ref.parse(tag)
  return { familiar = tag, normalized = r and r.normalized or tag }
end

--- The place loc (from M.parse) as a copy target. opts: {store= (as for
-- source), dir=, mtime= (of an archive's entries)}. Returns {endpoint=,
-- name= (what it is tagged), finish= function(desc) -> true | nil, msg,
-- code (tags and, for an archive, writes it)}. A registry target is the
-- push verb's: not made here.
function M.target(loc, opts)
  if loc.kind == "store" then
    local r, err = ref.parse(loc.name)
    if not r then return nil, err, "BADREF" end
    if r.digest then
      return nil, ("cannot name an image with a digest reference %s"):format(show(loc.name)), "BADREF"
    end
    local st, code
    st, err, code = opts.store()
    if not st then return nil, err, code end
    return { endpoint = layout.new(st), name = r.familiar, finish = function(desc) return st:tag(desc, { r }) end }
  elseif loc.kind == "oci" then
    local st, err, code = store_mod.open(path.abs(loc.path, opts.dir), { create = true })
    if not st then return nil, ("%s: %s"):format(loc.text, err), code end
    local ep = layout.new(st)
    return { endpoint = ep, name = loc.tag, finish = function(desc) return ep:name(desc, loc.tag) end }
  end
  local docker = loc.kind == "docker-archive"
  local names = {}
  if loc.tag then
    if docker then
      local r, err = ref.parse(loc.tag)
      if not r or r.digest then return nil, err or ("%s: a docker archive names images by tag"):format(loc.text),
        "BADREF" end
      names[1] = r
    else
      names[1] = raw_name(loc.tag)
    end
  end
  local out, err, code = require("ocibuild.endpoint.archive").new(path.abs(loc.path, opts.dir),
    { mtime = opts.mtime, docker = docker })
  if not out then return nil, err, code end
  return { endpoint = out, name = loc.tag, finish = function(desc)
    local ok, terr, tcode = out:tag(desc, names)
    if not ok then return nil, terr, tcode end
    return out:commit()
  end }
end

return M
