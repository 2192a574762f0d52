--- `ocibuild images`: the tagged images of the store.
local getopt = require "ocibuild.cli.getopt"
local index = require "ocibuild.store.index"
local platform = require "ocibuild.oci.platform"
local store = require "ocibuild.store"

local M = {}

M.HELP = [[
usage: ocibuild images [--store DIR]

Lists the tagged images in the store: name, manifest digest, platform.
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, {}, "images")
  if not opts then return nil, rest, 2 end
  if #rest > 0 then return getopt.usage_error("images takes no operands", "images") end
  local dir, source = store.default_dir(g.store)
  if not dir then return nil, source, 1 end
  local st, err = store.open(dir, { source = source })
  if not st then return nil, err, 1 end
  local idx
  idx, err = st:read_index()
  if not idx then return nil, err, 1 end
  for _, d in ipairs(idx.manifests) do
    local a = d.annotations or {}
    local plat = d.platform and platform.format(d.platform) or "-"
    io.stdout:write(("%-40s %s %s\n"):format(a[index.REF_NAME] or "<none>", d.digest, plat))
  end
  return true
end

return M
