--- inspect: what an image of the store is made of (ocibuild.store.inspect):
-- a summary as `skopeo inspect` gives it, its manifest or config as a
-- table or as exact bytes; an index's image by platform. Every blob read
-- is verified against its digest. The store is never created.
local check = require "ocibuild.util.check"
local inspect = require "ocibuild.store.inspect"

local M = {}

--- args: src (a name, digest or ID), what ("image" (default),
-- "manifest", "raw", "config" or "config_raw"), platform.
M.OPTIONS = { "src", "what", "platform" }

local WHAT = { image = true, manifest = true, raw = true, config = true, config_raw = true }

--- Inspects. Returns a table (image, manifest, config) or a string (raw,
-- config_raw), or nil, msg, code.
function M.run(ctx, args)
  local a, err, code = check.args(args, M.OPTIONS, "inspect")
  if not a then return nil, err, code end
  if type(a.src) ~= "string" then return nil, "inspect needs an image name, digest or ID", "BADVALUE" end
  local what = a.what or "image"
  if not WHAT[what] then
    return nil, ("inspect: what must be image, manifest, raw, config or config_raw, got %s"):format(check.show(what)),
      "BADVALUE"
  end
  local st
  st, err, code = ctx:open_store { image = a.src }
  if not st then return nil, err, code end
  return inspect.run(st, a.src, { what = what, platform = a.platform })
end

return M
