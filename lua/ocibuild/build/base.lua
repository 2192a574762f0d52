--- The base image of a build: resolved (ocibuild.locate), the manifest for
-- the wanted platform chosen from an index, copied into the store with
-- every blob verified on the way, its config read strictly, and every
-- layer blob already in the store verified (size, then SHA-256) before
-- anything is built on it. The layers themselves are reused byte for
-- byte; their entries are read only when a build needs to know what the
-- base holds (ocibuild.build.view), each layer once per process.
-- Functions return nil, msg, code on failure.
local copy = require "ocibuild.copy"
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local layout = require "ocibuild.endpoint.layout"
local media = require "ocibuild.oci.media"
local platform = require "ocibuild.oci.platform"
local below = require("ocibuild.util.path").below
local locate = require "ocibuild.locate"

local M = {}

-- Entries of layers read in this process, by layer digest.
local read_cache = {}

local function platforms_of(list)
  local seen, out = {}, {}
  for _, d in ipairs(list) do
    local p = d.platform and platform.format(d.platform)
    if p and not seen[p] then
      seen[p] = true
      out[#out + 1] = p
    end
  end
  return out
end

-- The manifest of the index idx for the platform want.
local function choose(idx, want, what)
  for _, d in ipairs(idx.manifests) do
    local k = media.kind(d.mediaType)
    if (k == "manifest" or k == "index") and d.platform and platform.matches(d.platform, want) then
      return d
    end
  end
  local have = platforms_of(idx.manifests)
  return nil, ("base image %s has no image for %s; it has %s"):format(what, platform.format(want),
    #have > 0 and table.concat(have, ", ") or "no platforms listed"), "NOPLATFORM"
end

-- The manifest descriptor of the image `got.desc` names for want, reading
-- indexes from the endpoint (nested ones too).
local function manifest_for(got, want, what)
  local d = got.desc
  for _ = 1, 4 do
    if media.kind(d.mediaType) ~= "index" then return d end
    local text, err, code = got.endpoint:get_json(d)
    if not text then return nil, ("base image %s: %s"):format(what, err), code end
    local idx
    idx, err, code = doc.read_index(text, ("base image %s: index %s"):format(what, d.digest))
    if not idx then return nil, err, code end
    d, err, code = choose(idx, want, what)
    if not d then return nil, err, code end
  end
  return nil, ("base image %s: indexes nested too deep"):format(what), "BADDOC"
end

--- Loads the base `from` into the store st (opened, held with use()).
-- opts: {platform= (parsed; explicit), host= (parsed: the default), dir=
-- (the folder relative oci: and oci-archive: paths resolve against),
-- registry= (the registry client's options, for a base to pull), on_event=,
-- policy= (a sandboxed script's, see ocibuild.ops.reach)}. Returns {name=, digest= (what the reference resolved to),
-- desc= (the manifest), manifest=, config= (decoded), platform=,
-- layers= (descriptors), verified= {digest=true}}.
function M.load(from, st, opts)
  -- every blob the store reports on the way was verified: copied,
  -- downloaded, or there with the right bytes (ocibuild.endpoint.layout)
  local verified = {}
  local function on_event(ev)
    if ev.type == "blob" and (ev.action == "copied" or ev.action == "downloaded" or ev.action == "exists") then
      verified[ev.digest] = true
    end
    if opts.on_event then opts.on_event(ev) end
  end
  local loc, err, code = locate.parse(from)
  if not loc then return nil, ("base %s"):format(err), code end
  local got
  got, err, code = locate.source(loc, { store = function() return st end, dir = opts.dir, pull = true,
    platform = opts.platform or opts.host, registry = opts.registry, on_event = on_event, policy = opts.policy,
    what = "base image", label = "base " })
  if not got then return nil, err, code end
  local want = opts.platform or opts.host
  local d
  d, err, code = manifest_for(got, want, from)
  if not d then return nil, err, code end
  if media.kind(d.mediaType) ~= "manifest" then
    return nil, ("base image %s: %s is a %s, not an image manifest"):format(from, d.digest, d.mediaType), "BADDOC"
  end
  if got.endpoint.store ~= st then
    local ok
    ok, err, code = copy.copy(got.endpoint, d, layout.new(st), { on_event = on_event })
    if not ok then return nil, ("base image %s: %s"):format(from, err), code end
  end
  local m, c
  m, err, code = st:read_doc(d, "manifest", "base image " .. from)
  if not m then return nil, err, code end
  c, err, code = st:read_doc(m.config, "config", "base image " .. from)
  if not c then return nil, err, code end
  if #c.rootfs.diff_ids ~= #m.layers then
    return nil, ("base image %s: its config lists %d diff_ids for %d layers"):format(from, #c.rootfs.diff_ids,
      #m.layers), "BADDOC"
  end
  for i, l in ipairs(m.layers) do
    if media.kind(l.mediaType) ~= "layer" then
      return nil, ("base image %s: layers[%d] has media type %q, not a layer"):format(from, i, l.mediaType), "BADDOC"
    end
  end
  local p = { os = c.os, architecture = c.architecture, variant = type(c.variant) == "string" and c.variant or nil }
  if opts.platform and not platform.matches(p, opts.platform) then
    return nil, ("base image %s is %s, not %s"):format(from, platform.format(p), platform.format(opts.platform)),
      "NOPLATFORM"
  end
  return { name = got.name, digest = got.desc.digest, desc = d, manifest = m, config = c, platform = p,
    layers = m.layers, verified = verified, from = from }
end

-- A tar entry name as a clean relative path ("./usr/bin/" -> "usr/bin"),
-- or nil for the root and for names that climb out of it.
local function clean(name)
  local parts = below(name)
  return parts and table.concat(parts, "/")
end

local TYPES = { dir = "d", file = "f", hardlink = "f", symlink = "l" }

-- Reads the entries of one layer of st, verifying the blob's size and
-- digest, and the digest of its tar against diff_id, from the same bytes.
-- Returns {{p=, t=, target=}, ...}.
local function read_layer(st, l, what, diff_id)
  local r, err, code = core.tar_reader(st.core, l.digest)
  if not r then return nil, ("%s: %s"):format(what, err), code end
  local list = {}
  while true do
    local e
    e, err, code = r:next()
    if not e then
      if err then
        r:close()
        return nil, ("%s: %s"):format(what, err), code
      end
      break
    end
    if #list >= doc.MAX_LAYER_ENTRIES then
      r:close()
      return nil, doc.too_many_entries(what)
    end
    local bad, bcode = doc.bad_entry_name(what, e.name)
    if bad then
      r:close()
      return nil, bad, bcode
    end
    local p = clean(e.name)
    if p then
      local t = TYPES[e.type] or "o"
      list[#list + 1] = { p = p, t = t, target = t == "l" and e.target or nil }
    end
  end
  local dg, size, plain = r:finish()
  r:close()
  if not dg then return nil, ("%s: %s"):format(what, size), code end
  if size ~= l.size then
    return nil, ("%s: %d bytes, its descriptor says %d"):format(what, size, l.size), "BADSIZE"
  end
  if dg ~= l.digest then
    return nil, ("%s: its bytes hash to %s"):format(what, dg), "BADDIGEST"
  end
  if plain ~= diff_id then
    return nil, ("%s: its tar has digest %s, but the image's config says diff_id %s"):format(what, plain,
      tostring(diff_id)), "BADDIGEST"
  end
  return list
end

-- A layer's entries as a note of the store: a header (the blob's digest
-- and the diff_id its tar was found to have), then per entry its type
-- letter, path, NUL, symlink target, NUL.
local NOTE = "entries"
local HEAD = "ocibuild-entries 2 %s %s %d\n"

local function encode(l, diff_id, list)
  local out = { HEAD:format(l.digest, diff_id, #list) }
  for i, e in ipairs(list) do out[i + 1] = e.t .. e.p .. "\0" .. (e.target or "") .. "\0" end
  return table.concat(out)
end

-- The entries a note of st holds for layer l with diff_id, or nil (none,
-- not ours, or of a read that found another diff_id).
local function noted(st, l, diff_id)
  local data = st.core:note_read(NOTE, l.digest)
  if not data then return nil end
  local dg, di, n = data:match("^ocibuild%-entries 2 (%S+) (%S+) (%d+)\n")
  if dg ~= l.digest or di ~= diff_id then return nil end
  local list = {}
  for t, p, target in data:gmatch("([dflo])([^%z]*)%z([^%z]*)%z", #data:match("^[^\n]*\n") + 1) do
    list[#list + 1] = { p = p, t = t, target = t == "l" and target or nil }
  end
  if #list ~= tonumber(n) then return nil end
  return list
end

--- Verifies every layer blob of base b in st not verified yet (size,
-- then digest); with `entries`, also returns the entries of each layer
-- (a list per layer): known from this process, noted in the store by an
-- earlier build, or read from the blob (verified from the same bytes)
-- and noted for the next build.
function M.verify(b, st, entries)
  local out = {}
  for i, l in ipairs(b.layers) do
    local what = ("base image %s: layer %d (%s)"):format(b.from, i, l.digest)
    local diff_id = b.config.rootfs.diff_ids[i]
    local key = l.digest .. " " .. tostring(diff_id)
    if entries and not read_cache[key] then
      read_cache[key] = noted(st, l, diff_id)
    end
    if entries and not read_cache[key] then
      local list, err, code = read_layer(st, l, what, diff_id)
      if not list then return nil, err, code end
      read_cache[key] = list
      b.verified[l.digest] = true
      st.core:note_write(NOTE, l.digest, encode(l, diff_id, list)) -- a cache: a failure costs a read next time
    end
    if not b.verified[l.digest] then
      local ok, err, code = st:verify_blob(l.digest, l.size)
      if not ok then return nil, ("%s: %s"):format(what, err), code end
      b.verified[l.digest] = true
    end
    out[i] = read_cache[key]
  end
  return out
end

--- Takes the entries of layer l of st as read elsewhere from its blob
-- (an SBOM's one read of a base layer, ocibuild.attest.catalog, which
-- found its tar's digest to be diff_id), as verify would have read them:
-- kept for this process and noted. Returns true, or nil, msg, code for an
-- entry name verify refuses (what names the layer).
function M.remember(st, l, list, diff_id, what)
  for _, e in ipairs(list) do
    local bad, code = doc.bad_entry_name(what, e.p)
    if bad then return nil, bad, code end
    e.p = clean(e.p)
  end
  local kept = {}
  for _, e in ipairs(list) do
    if e.p then kept[#kept + 1] = e end
  end
  read_cache[l.digest .. " " .. diff_id] = kept
  st.core:note_write(NOTE, l.digest, encode(l, diff_id, kept)) -- a cache, as in verify
  return true
end

--- The layer descriptor to write in a manifest built on the base: the
-- same blob; Docker's gzip layer type becomes OCI's (the bytes are one).
function M.layer_desc(l)
  local d = doc.descriptor(l.mediaType == media.DOCKER_LAYER and media.LAYER.gzip or l.mediaType, l.digest, l.size)
  for k, v in pairs(l) do
    if k ~= "mediaType" and k ~= "digest" and k ~= "size" then d[k] = v end
  end
  return d
end

return M
