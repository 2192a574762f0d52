-- Writes the man page and the bash completion of ocibuild.cli.manual for
-- the build (CMakeLists.txt runs it with the ocibuild just built):
--   ocibuild run --unsafe scripts/gendoc.lua man=FILE completion=FILE
local core = require "ocibuild.core"
local manual = require "ocibuild.cli.manual"

assert(args.man and args.completion, "usage: gendoc.lua man=FILE completion=FILE")
assert(core.replace_file(args.man, manual.man(require("ocibuild").VERSION)))
assert(core.replace_file(args.completion, manual.bash()))
