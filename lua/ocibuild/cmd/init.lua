--- `ocibuild init [--template NAME]`: writes a commented build.lua (and a
-- .dockerignore where none exists) for a kind of project into the current
-- folder, never over an existing build.lua.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local templates = require "ocibuild.templates"

local M = {}

local function list()
  local lines = {}
  for _, n in ipairs(templates.NAMES) do
    lines[#lines + 1] = ("  %-13s %s"):format(n, templates.get(n).summary)
  end
  return table.concat(lines, "\n")
end

M.HELP = ([[
usage: ocibuild init [--template static-site|go-binary|python-app|scratch]

Writes build.lua, a commented build script for this kind of project, into
the current folder, and a .dockerignore when the template needs one and
none exists. An existing build.lua is never replaced. Without --template,
the project decides: go.mod means go-binary, pyproject.toml or
requirements.txt python-app, an index.html static-site, else scratch.

templates:
%s
]]):format(list())

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, { template = "value" }, "init")
  if not opts then return nil, rest, "USAGE" end
  if #rest > 0 then return getopt.usage_error("init takes no operands (it writes into the current folder)", "init") end
  local r, err, code = ops.template(g.ctx, { template = opts.template })
  if not r then return nil, err, code end
  io.stdout:write(("wrote build.lua (template %s: %s)\n"):format(r.name, r.summary))
  if r.ignore == "kept" then io.stdout:write("kept the existing .dockerignore\n") end
  if r.ignore == "wrote" then io.stdout:write("wrote .dockerignore\n") end
  io.stdout:write(r.next_steps, "\n")
  return true
end

return M
