--- pull: an image from a registry into the store, tagged there by its
-- reference once every blob is in, each checked against its digest
-- (ocibuild.registry.pull: registries.conf's mirrors first). A
-- multi-platform image resolves to the image for `platform`. Events: a
-- `pull` stage (id: the reference, familiar; ref: normalized), its
-- progress and blob events, ended with ref = HOST/NAME@sha256:... and the
-- store.
local check = require "ocibuild.util.check"
local locate = require "ocibuild.locate"
local options = require "ocibuild.registry.options"
local platform = require "ocibuild.oci.platform"
local registry = require "ocibuild.registry"

local M = {}

--- args: ref (a registry: HOST/NAME[:TAG], HOST/NAME@DIGEST, docker://REF), platform ("os/arch[/variant]",
-- default this machine's), and the registry options.
M.OPTIONS = { "ref", "platform", table.unpack(options.KEYS) }

--- Pulls. Returns {reference= ("HOST/NAME@sha256:..."), digest=,
-- mediaType=, size=, path= (the store)}, or nil, msg, code.
function M.run(ctx, args)
  local ok, err
  if type(args.ref) ~= "string" then return nil, "pull needs a reference", "BADVALUE" end
  local loc, code
  loc, err, code = locate.parse(args.ref, { bare = "registry" })
  if loc and loc.kind ~= "registry" then
    loc, err, code = nil, ("%s is not a registry: pull takes images from one (copy reads the other places)")
      :format(check.show(args.ref)), "BADREF"
  end
  if not loc then return nil, err, code end
  local r
  r, err, code = registry.reference(loc.ref)
  if not r then return nil, err, code end
  if args.platform ~= nil then
    if type(args.platform) ~= "string" then return nil, "pull: platform must be \"os/arch[/variant]\"", "BADVALUE" end
    ok, err, code = platform.parse(args.platform)
    if not ok then return nil, err, code or "BADPLATFORM" end
  end
  ok, err, code = ctx:reach(r.domain, "pull " .. r.familiar)
  if not ok then return nil, err, code end
  local o
  o, err, code = ctx:registry_options(args)
  if not o then return nil, err, code end
  o.platform = args.platform
  local st
  st, err, code = ctx:open_store { create = true }
  if not st then return nil, err, code end
  ctx:emit { type = "start", stage = "pull", id = r.familiar, ref = r.normalized }
  local desc
  desc, err, code = registry.pull(r, st, o)
  if not desc then return nil, err, code end
  local reference = r.name .. "@" .. desc.digest
  ctx:emit { type = "end", stage = "pull", id = r.familiar, ref = reference, digest = desc.digest, store = st.dir }
  return { reference = reference, digest = desc.digest, mediaType = desc.mediaType, size = desc.size, path = st.dir }
end

return M
