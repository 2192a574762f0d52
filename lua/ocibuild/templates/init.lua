--- Starting points for `ocibuild init`: one module per kind of project,
-- each a commented build.lua (and, when its layer is the project folder,
-- a .dockerignore) with @NAME@, @CONTEXT@ and @BASE@ filled in.
local core = require "ocibuild.core"

local M = {}

--- The templates, in the order `ocibuild init --help` lists them.
M.NAMES = { "static-site", "go-binary", "python-app", "scratch" }

--- The template called name: {summary=, build=, dockerignore=, next=,
-- base=, context=function(dir)}, or nil and why.
function M.get(name)
  for _, n in ipairs(M.NAMES) do
    if n == name then return require("ocibuild.templates." .. n) end
  end
  return nil, ("unknown template %q: expected one of %s"):format(name, table.concat(M.NAMES, ", ")), "BADVALUE"
end

local function exists(dir, name) return core.stat(dir .. "/" .. name) ~= nil end

--- The template that fits the project in dir: go.mod means go-binary,
-- Python packaging files python-app, an index.html (at the top or in a
-- site folder) static-site, anything else scratch.
function M.detect(dir)
  if exists(dir, "go.mod") then return "go-binary" end
  for _, f in ipairs { "pyproject.toml", "requirements.txt", "setup.py", "setup.cfg" } do
    if exists(dir, f) then return "python-app" end
  end
  if require("ocibuild.templates.static-site").context(dir) then return "static-site" end
  return "scratch"
end

--- A name for images of the project in dir: its folder's name, made a
-- valid repository name ("My App" -> "my-app"), "app" when nothing is left.
function M.image_name(dir)
  local n = (dir:match("([^/]+)/*$") or ""):lower():gsub("[^a-z0-9._-]+", "-"):gsub("^[._-]+", "")
    :gsub("[._-]+$", "")
  return n ~= "" and n or "app"
end

--- The template's files for the project in dir: build.lua's text and the
-- .dockerignore's (nil when the template has none for this project).
function M.render(t, dir)
  local context = t.context and t.context(dir) or "."
  local vars = { NAME = M.image_name(dir), CONTEXT = context, BASE = t.base or "" }
  local function fill(s) return (s:gsub("@(%u+)@", function(k) return vars[k] end)) end
  local ignore = context == "." and t.dockerignore and fill(t.dockerignore) or nil
  return fill(t.build), ignore, fill(t.next)
end

return M
