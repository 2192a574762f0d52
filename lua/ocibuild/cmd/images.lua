--- `ocibuild images`: the tagged images of the store.
local cli = require "ocibuild.cli"
local store = require "ocibuild.store"

local M = {}

M.HELP = [[
usage: ocibuild images [--store DIR]

Lists the tagged images in the store: name, manifest digest, platform.
]]

function M.run(argv, g)
  local opts, rest = cli.getopt(argv, { store = "value" }, "images")
  if not opts then return nil, rest, 2 end
  if #rest > 0 then return cli.usage_error("images takes no operands", "images") end
  local dir, err, code = store.default_dir(opts.store or g.store)
  if not dir then return nil, err, code end
  local st
  st, err, code = store.open(dir)
  if not st then return nil, err, code end
  local list
  list, err, code = st:read_index()
  if not list then return nil, err, code end
  for _, d in ipairs(list) do
    local a = d.annotations or {}
    local p = d.platform or {}
    local plat = p.os and (p.os .. "/" .. (p.architecture or "?") .. (p.variant and ("/" .. p.variant) or "")) or "-"
    io.stdout:write(("%-40s %s %s\n"):format(a[store.REF_NAME] or "<none>", d.digest, plat))
  end
  return true
end

return M
