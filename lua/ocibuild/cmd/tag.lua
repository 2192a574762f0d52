--- `ocibuild tag SRC DST...`: more names for an image of the store.
local getopt = require "ocibuild.cli.getopt"
local images = require "ocibuild.store.images"
local store = require "ocibuild.store"

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
  if not opts then return nil, rest, 2 end
  if #rest < 2 then return getopt.usage_error("tag needs an image and at least one new name", "tag") end
  local st, err = store.locate(g.store)
  if not st then return nil, err, 1 end
  local desc, refs, code = images.tag(st, rest[1], table.move(rest, 2, #rest, 1, {}))
  if not desc then return getopt.fail(refs, code, "tag") end
  for _, r in ipairs(refs) do io.stdout:write("tagged: ", r.familiar, " -> ", desc.digest, "\n") end
  return true
end

return M
