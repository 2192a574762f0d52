--- copy: one image from any place to any other, as `skopeo copy` moves
-- them: the store, OCI layouts, OCI and docker archives, registries
-- (ocibuild.locate names them all). The image (a manifest, or an
-- index and all it holds) keeps its digest: every blob is verified on the
-- way, blobs the target has are skipped, children go before parents and
-- the name last. An archive or a registry it comes from is read through
-- the store (nothing named there; prune removes it). Events: a `copy`
-- stage (id: the destination as given; ref: the source), its blob events,
-- ended with the digest; a registry destination is the push verb's own
-- `push` stage.
local copy = require "ocibuild.copy"
local env = require "ocibuild.util.env"
local events = require "ocibuild.events"
local locate = require "ocibuild.locate"
local options = require "ocibuild.registry.options"

local M = {}

--- args: src, dst (places, see ocibuild.locate; a name without a
-- transport is the store's, or for dst a registry's when its first part
-- is a host), and the registry options.
M.OPTIONS = { "src", "dst", table.unpack(options.KEYS) }

-- The source, resolved, with the store held against prune when it is in
-- there: {endpoint=, desc=, name=, st=, hold=}.
local function source(ctx, loc, o, store)
  local got, err, code = locate.source(loc, { store = store, dir = ctx.base, registry = o, policy = ctx.policy,
    on_event = events.tagged(ctx:sink(), { stage = "copy", id = loc.text }) })
  if not got then return nil, err, code end
  -- a layout is read as it is; what the store holds is held there
  if loc.kind ~= "oci" then
    local hold
    hold, err, code = got.st:use()
    if not hold and code ~= "EACCES" and code ~= "EROFS" then return nil, err, code end
    got.hold = hold
  end
  return got
end

-- A registry destination: the push verb from the source's store.
local function to_registry(ctx, src, dst, args)
  local p = { src = { manifest = src.desc, path = src.st.dir }, dest = dst.ref.normalized }
  for _, k in ipairs(options.KEYS) do p[k] = args[k] end
  return require("ocibuild.ops.push").run(ctx, p)
end

--- Copies. Returns {digest=, mediaType=, size=, dst= (as given),
-- reference= (a registry's HOST/NAME@sha256:...)}, or nil, msg, code.
function M.run(ctx, a)
  local err, code
  if type(a.src) ~= "string" or type(a.dst) ~= "string" then return nil, "copy needs SRC and DST", "USAGE" end
  local sloc, dloc
  sloc, err, code = locate.parse(a.src)
  if not sloc then return nil, err, code end
  dloc, err, code = locate.parse(a.dst, { bare = "auto" })
  if not dloc then return nil, err, code end
  for _, loc in ipairs { sloc, dloc } do
    if loc.kind == "registry" then
      local ok
      ok, err, code = ctx:reach(loc.ref.domain, "copy " .. loc.text)
      if not ok then return nil, err, code end
    end
  end
  local o
  o, err, code = ctx:registry_options(a)
  if not o then return nil, err, code end
  local mtime
  mtime, err, code = env.source_date_epoch()
  if err then return nil, err, code end
  ctx:emit { type = "start", stage = "copy", id = dloc.text, ref = sloc.text }
  local store = ctx:opener()
  local src
  src, err, code = source(ctx, sloc, o, store)
  if not src then return nil, err, code end
  local result = { digest = src.desc.digest, mediaType = src.desc.mediaType, size = src.desc.size, dst = dloc.text }
  if dloc.kind == "registry" then
    local p
    p, err, code = to_registry(ctx, src, dloc, a)
    if not p then return nil, err, code end
    result.reference = p.reference
  else
    local t
    t, err, code = locate.target(dloc, { store = store, dir = ctx.base, mtime = mtime or 0 })
    if not t then return nil, err, code end
    local ok
    ok, err, code = copy.copy(src.endpoint, src.desc, t.endpoint,
      { on_event = events.tagged(ctx:sink(), { stage = "copy", id = dloc.text }) })
    if ok then ok, err, code = t.finish(src.desc) end
    if not ok then return nil, err, code end
  end
  ctx:emit { type = "end", stage = "copy", id = dloc.text, ref = result.reference or dloc.text, digest = result.digest }
  return result
end

return M
