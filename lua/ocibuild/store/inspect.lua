--- `inspect`: what an image of the store is made of, as `skopeo inspect`
-- and `docker image inspect` show it (a summary), or its manifest or
-- config as tables or exact bytes; an index's images by platform. Every
-- blob read is verified against its digest.
-- Functions return nil, msg, code on failure.
local doc = require "ocibuild.oci.doc"
local images = require "ocibuild.store.images"
local json = require "ocibuild.oci.json"
local platform = require "ocibuild.oci.platform"

local M = {}

local function show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

local function or_null(v) return v == nil and json.null or v end

-- The summary `inspect` prints for one image manifest entry e (from
-- M.info) named refs.
local function summary(e, refs, size)
  local m, c = e.manifest, e.config or {}
  local names, tags = json.array {}, json.array {}
  for i, r in ipairs(refs) do
    names[i] = r.normalized
    tags[i] = r.familiar
  end
  local layers, data = json.array {}, json.array {}
  for i, l in ipairs(m.layers) do
    layers[i] = l.digest
    data[i] = json.object { Digest = l.digest, MIMEType = l.mediaType, Size = l.size,
      Annotations = or_null(l.annotations) }
  end
  local cc = c.config or {}
  return json.object {
    Id = m.config.digest, Digest = e.desc.digest, MediaType = e.desc.mediaType, Names = names,
    RepoTags = tags, Created = or_null(c.created), Architecture = or_null(c.architecture),
    Os = or_null(c.os), Variant = or_null(c.variant), Size = size, Labels = or_null(cc.Labels),
    Env = or_null(cc.Env), Config = c.config or json.object {}, Layers = layers, LayersData = data,
    RootFS = c.rootfs and json.object { Type = c.rootfs.type, DiffIDs = c.rootfs.diff_ids } or json.null,
    Annotations = or_null(m.annotations),
  }
end

local INSPECT = { image = true, manifest = true, raw = true, config = true, config_raw = true }

--- What `inspect` shows of SRC s (see ocibuild.store.images.resolve). opts: {what= "image" (a summary, as
-- skopeo inspect gives: a table), "manifest" (the manifest or index, a
-- table), "raw" (its exact bytes), "config" (a table) or "config_raw"
-- (the config's exact bytes); platform= "os/arch[/variant]" picks an
-- index's image (needed for a config when the index has several)}.
-- Everything read is verified against its digest. Returns a table or a
-- string.
function M.run(st, s, opts)
  local t, err, code = images.find(st, s)
  if not t then return nil, err, code end
  return M.show(st, t.desc, t.group and t.group.refs or {}, s, opts)
end

--- What `inspect` shows of the image desc (named refs) that src s names
-- in st: anything that reads documents as a store does (read_doc,
-- get_json: the store, a layout, a registry's reader). opts as M.run.
function M.show(st, desc, refs, s, opts)
  opts = opts or {}
  local what = opts.what or "image"
  if not INSPECT[what] then error("inspect: unknown what " .. tostring(what), 2) end
  local t = { desc = desc }
  local info, err, code = images.info(st, desc, s)
  if not info then return nil, err, code end
  local entry
  if info.kind == "manifest" then
    entry = info.manifests[1]
  elseif opts.platform or what == "config" or what == "config_raw" then
    local want
    if opts.platform then
      want, err, code = platform.parse(opts.platform)
      if not want then return nil, err, code end
    end
    local found = {}
    for _, e in ipairs(info.manifests) do
      if not want or platform.matches(e.desc.platform or e.config or {}, want) then found[#found + 1] = e end
    end
    if #found ~= 1 then
      return nil, ("%s is an index of %s: %s"):format(show(s), table.concat(info.platforms, ", "),
        #found == 0 and "no image for that platform" or "pick one with --platform"), #found == 0 and "ENOENT"
          or "EINVAL"
    end
    entry, desc, refs = found[1], found[1].desc, {}
  end
  if what == "raw" or what == "manifest" then
    local text
    text, err, code = st:get_json(desc.digest)
    if not text then return nil, err, code end
    if what == "raw" then return text end
    return doc.read_any(text, desc.mediaType, desc.digest)
  elseif what == "config" or what == "config_raw" then
    if not entry.config then
      return nil, ("%s: config %s is not an image config (%s)"):format(show(s), entry.manifest.config.digest,
        entry.manifest.config.mediaType), "BADDOC"
    end
    if what == "config" then return entry.config end
    return st:get_json(entry.manifest.config.digest)
  end
  if entry then
    local einfo = entry.desc == t.desc and info or images.info(st, entry.desc, s)
    return summary(entry, refs, einfo and einfo.size or json.null)
  end
  local manifests = json.array {}
  for i, e in ipairs(info.manifests) do
    manifests[i] = json.object { Digest = e.desc.digest, MediaType = e.desc.mediaType, Size = e.desc.size,
      Platform = or_null(e.desc.platform), Id = e.manifest.config.digest }
  end
  local names, tags = json.array {}, json.array {}
  for i, r in ipairs(refs) do
    names[i] = r.normalized
    tags[i] = r.familiar
  end
  return json.object { Digest = desc.digest, MediaType = desc.mediaType, Names = names, RepoTags = tags,
    Created = or_null(info.created), Size = info.size, Manifests = manifests }
end

return M
