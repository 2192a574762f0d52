--- `ocibuild init [--template NAME]`: writes a commented build.lua (and a
-- .dockerignore where none exists) for a kind of project into the current
-- folder, never over an existing build.lua.
local core = require "ocibuild.core"
local getopt = require "ocibuild.cli.getopt"
local outfile = require "ocibuild.endpoint.output"
local path = require "ocibuild.util.path"
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

local function write_new(file, text)
  local st = core.stat(file, true)
  if st then return nil, ("%s already exists: refusing to overwrite it"):format(file), "EEXIST" end
  local ok, err, code = outfile.check(file)
  if not ok then return nil, err, code end
  ok, err, code = core.replace_file(file, text)
  if not ok then return nil, ("cannot write %s: %s"):format(file, err), code end
  return true
end

function M.run(argv, _)
  local opts, rest = getopt.parse(argv, { template = "value" }, "init")
  if not opts then return nil, rest, 2 end
  if #rest > 0 then return getopt.usage_error("init takes no operands (it writes into the current folder)", "init") end
  local dir = path.cwd()
  local name = opts.template or templates.detect(dir)
  local t, err = templates.get(name)
  if not t then return getopt.usage_error(err, "init") end
  local build, ignore, next_steps = templates.render(t, dir)
  local ok, code
  ok, err, code = write_new(dir .. "/build.lua", build)
  if not ok then return nil, err, code end
  io.stdout:write(("wrote build.lua (template %s: %s)\n"):format(name, t.summary))
  if ignore then
    if core.stat(dir .. "/.dockerignore", true) then
      io.stdout:write("kept the existing .dockerignore\n")
    else
      ok, err, code = write_new(dir .. "/.dockerignore", ignore)
      if not ok then return nil, err, code end
      io.stdout:write("wrote .dockerignore\n")
    end
  end
  io.stdout:write(next_steps, "\n")
  return true
end

return M
