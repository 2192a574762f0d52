--- `ocibuild run FILE [name=value ...]`: runs a build script.
local check = require "ocibuild.build.check"
local getopt = require "ocibuild.cli.getopt"
local output = require "ocibuild.cli.output"
local script = require "ocibuild.script"

local M = {}

M.HELP = [[
usage: ocibuild run FILE [name=value ...] [--store DIR]

Runs the build script FILE. Each name=value pair arrives in the table
`args`; relative paths in the script resolve against FILE's folder.
When the script returns the result of img:save{...} (or oci.build{...}),
its tag, digest and size are printed. An error in the script prints
FILE:LINE: message and exits 1.
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, {}, "run")
  if not opts then return nil, rest, 2 end
  if #rest == 0 then return getopt.usage_error("run needs a build script", "run") end
  local args, err = script.parse_args(table.move(rest, 2, #rest, 1, {}))
  if not args then return getopt.usage_error(err, "run") end
  local result
  result, err = script.run(rest[1], args, { store = g.store })
  if not result then
    io.stderr:write(check.line(err), "\n")
    return nil, nil, 1
  end
  if type(result) == "table" and result.digest then output.result(result) end
  return true
end

return M
