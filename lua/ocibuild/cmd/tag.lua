--- `ocibuild tag SRC DST...`: more names for an image of the store.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild tag SRC DST...

Names the image SRC also DST (each DST a name such as site:1.0 or
registry.example.com/team/site:1.0). SRC is a name, a digest
(sha256:<64 hex>, or name@sha256:...), or a prefix of an image ID that
only one image starts with. A DST that names another image moves to SRC.
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, {}, "tag")
  if not opts then return nil, rest, "USAGE" end
  if #rest < 2 then return getopt.usage_error("tag needs an image and at least one new name", "tag") end
  local r, err, code = ops.tag(g.ctx, { src = rest[1], names = table.move(rest, 2, #rest, 1, {}) })
  if not r then return nil, err, code end
  for _, n in ipairs(r.refs) do io.stdout:write("tagged: ", n.familiar, " -> ", r.desc.digest, "\n") end
  return true
end

return M
