--- template (the `init` command): a commented build.lua for a kind of
-- project written into a folder, with a .dockerignore when the template
-- needs one and none exists; an existing build.lua is never replaced.
local core = require "ocibuild.core"
local outfile = require "ocibuild.endpoint.output"
local templates = require "ocibuild.templates"

local M = {}

--- args: dir (the folder; default the current one), template (a name of
-- ocibuild.templates; default: what the folder holds decides).
M.OPTIONS = { "dir", "template" }

local function write_new(file, text)
  local st = core.stat(file, true)
  if st then return nil, ("%s already exists: refusing to overwrite it"):format(file), "EEXIST" end
  local ok, err, code = outfile.check(file)
  if not ok then return nil, err, code end
  ok, err, code = core.replace_file(file, text)
  if not ok then return nil, ("cannot write %s: %s"):format(file, err), code end
  return true
end

--- Writes. Returns {name=, summary=, ignore= ("wrote" | "kept" | nil),
-- next_steps=}, or nil, msg, code.
function M.run(ctx, a)
  local err, code
  local dir
  dir, err, code = ctx:path(a.dir or ".", "folder")
  if not dir then return nil, err, code end
  local name = a.template or templates.detect(dir)
  local t
  t, err = templates.get(name)
  if not t then return nil, err, "USAGE" end
  local build, ignore, next_steps = templates.render(t, dir)
  local ok
  ok, err, code = write_new(dir .. "/build.lua", build)
  if not ok then return nil, err, code end
  local r = { name = name, summary = t.summary, next_steps = next_steps }
  if ignore then
    if core.stat(dir .. "/.dockerignore", true) then
      r.ignore = "kept"
    else
      ok, err, code = write_new(dir .. "/.dockerignore", ignore)
      if not ok then return nil, err, code end
      r.ignore = "wrote"
    end
  end
  return r
end

return M
