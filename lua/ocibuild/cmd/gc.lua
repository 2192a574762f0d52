--- `ocibuild gc`: the former name of `ocibuild prune`, kept as an alias.
local prune = require "ocibuild.cmd.prune"

local M = {}

M.HELP = "usage: ocibuild gc [--dry-run] [--all] [--verify]\n\nThe same as `ocibuild prune` (see `ocibuild prune" ..
  " --help`).\n"

function M.run(argv, g) return prune.main(argv, g, "gc") end

return M
