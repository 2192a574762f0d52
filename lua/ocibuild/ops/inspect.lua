--- inspect: what an image is made of (ocibuild.store.inspect): a summary
-- as `skopeo inspect` gives it, its manifest or config as a table or as
-- exact bytes; an index's image by platform. The image is one of the
-- store (never created), of a layout (oci:DIR[:TAG]) or of a registry
-- (docker://REF), read where it is; every document read is verified
-- against its digest.
local check = require "ocibuild.util.check"
local doc = require "ocibuild.oci.doc"
local inspect = require "ocibuild.store.inspect"
local locate = require "ocibuild.locate"
local store_mod = require "ocibuild.store"
local util_path = require "ocibuild.util.path"

local M = {}

--- args: src (a name, digest or ID of the store, oci:DIR[:TAG],
-- docker://REF), what ("image" (default), "manifest", "raw", "config" or
-- "config_raw"), platform, and the registry options for a registry.
M.OPTIONS = { "src", "what", "platform", table.unpack(require("ocibuild.registry.options").KEYS) }

local WHAT = { image = true, manifest = true, raw = true, config = true, config_raw = true }

-- A registry repository read as inspect reads a store: read_doc, get_json
-- (of what was read).
local function remote(repo)
  local self = { texts = {} }
  local texts = self.texts
  function self.read_doc(_, d, kind, where)
    local what = ("%s: %s %s"):format(where, kind, d.digest)
    local text, err, code
    if kind == "config" then
      text, err, code = repo:get_blob_bytes(d, doc.MAX_JSON)
    else
      local _
      _, text, code = repo:get_manifest(d.digest)
      if not _ then text, err = nil, text end
    end
    if not text then return nil, ("%s: %s"):format(what, err), code end
    if #text ~= d.size then
      return nil, ("%s has %d bytes, its descriptor says %d"):format(what, #text, d.size), "BADSIZE"
    end
    texts[d.digest] = text
    if kind == "config" then return doc.read_config(text, what) end
    return doc.read_any(text, d.mediaType, what)
  end
  function self.get_json(_, digest)
    if texts[digest] then return texts[digest] end
    return nil, ("%s was not read"):format(digest), "ENOENT"
  end
  return self
end

-- Inspects the image a registry reference names, where it is.
local function from_registry(ctx, loc, opts, a)
  local ok, err, code = ctx:reach(loc.ref.domain, "inspect " .. loc.text)
  if not ok then return nil, err, code end
  local o
  o, err, code = ctx:registry_options(a)
  if not o then return nil, err, code end
  local repo, r
  repo, r, code = require("ocibuild.registry").repository(loc.ref, o, "pull")
  if not repo then return nil, r, code end
  local desc, body
  desc, body, code = repo:get_manifest(r.digest or r.tag)
  local v
  if desc then
    local reader = remote(repo)
    reader.texts[desc.digest] = body
    v, err, code = inspect.show(reader, desc, { r }, loc.text, opts)
  else
    err = body
  end
  repo.client:close()
  if v == nil then return nil, err, code end
  return v
end

--- Inspects. Returns a table (image, manifest, config) or a string (raw,
-- config_raw), or nil, msg, code.
function M.run(ctx, a)
  local err, code
  if type(a.src) ~= "string" then return nil, "inspect needs an image name, digest or ID", "BADVALUE" end
  local what = a.what or "image"
  if not WHAT[what] then
    return nil, ("inspect: what must be image, manifest, raw, config or config_raw, got %s"):format(check.show(what)),
      "BADVALUE"
  end
  local loc
  loc, err, code = locate.parse(a.src)
  if not loc then return nil, err, code end
  local opts = { what = what, platform = a.platform }
  if loc.kind == "registry" then return from_registry(ctx, loc, opts, a) end
  if loc.kind == "oci" then
    local st
    st, err, code = store_mod.open(util_path.abs(loc.path, ctx.base))
    if not st then return nil, ("%s: %s"):format(loc.text, err), code end
    local got
    got, err, code = locate.source(loc, { store = function() return st end, dir = ctx.base })
    if not got then return nil, err, code end
    return inspect.show(st, got.desc, {}, loc.text, opts)
  end
  if loc.kind ~= "store" then
    return nil, ("%s: inspect reads the store, a layout (oci:DIR) or a registry (docker://REF): import an archive "
      .. "first"):format(check.show(a.src)), "BADREF"
  end
  local st
  st, err, code = ctx:open_store { image = loc.name }
  if not st then return nil, err, code end
  return inspect.run(st, loc.name, opts)
end

return M
