--- ls: what a directory puts into a layer, in layer order, and with
-- `why` every path left out with the pattern (file and line) that left it
-- out: the "why is my file missing?" question. The store and the archive
-- a build would write are left out, as the build leaves them out.
local build_save = require "ocibuild.build.save"
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local ignore = require "ocibuild.build.ignore"

local M = {}

--- args: context (the directory), why (also what is left out), exclude
-- (more patterns), ignorefile (instead of context/.dockerignore), output
-- (the archive a build would write), each (function(path, info, why):
-- told of every entry; why, for an entry left out, says by what).
M.OPTIONS = { "context", "why", "exclude", "ignorefile", "output", "each" }

-- Names come from the context (a cloned repository): each is quoted as
-- errors quote them (check.name), on one line, whatever bytes it holds.
local function describe(explain, why)
  local info = why and explain and explain(why)
  if not info then return "excluded" end
  local from = info.file and (info.line and ("%s:%d"):format(check.name(info.file), info.line)
    or check.name(info.file)) or "--exclude"
  return ("excluded by %s (%s)"):format(check.line(check.show(info.pattern)), from)
end

-- The exclusion matcher of the args, and its explainer.
local function matcher(ctx, a, dir)
  local list, err, code
  if a.ignorefile then
    local file
    file, err, code = ctx:path(a.ignorefile, "ignorefile")
    if not file then return nil, err, code end
    list, err, code = ignore.read(file)
  else
    list, err, code = ignore.read(dir .. "/.dockerignore", dir)
  end
  if not list then return nil, err, code end
  return ignore.compile(list, a.exclude or {})
end

--- Lists, calling args.each for every entry. Returns true, or nil, msg,
-- code.
function M.run(ctx, a)
  local err, code
  if type(a.context) ~= "string" then return nil, "ls needs a directory", "BADVALUE" end
  if type(a.each) ~= "function" then return nil, "ls: each must be a function", "BADVALUE" end
  local dir
  dir, err, code = ctx:path(a.context, "context")
  if not dir then return nil, err, code end
  local st
  st, err, code = core.stat(dir)
  if not st then return nil, ("context %s: %s"):format(dir, err), code end
  if st.type ~= "dir" then return nil, ("context %s is not a directory"):format(dir), "ENOTDIR" end
  local m, explain
  m, explain, code = matcher(ctx, a, dir)
  if not m then return nil, explain, code end
  local store_dir = ctx:store_dir()
  local output
  if a.output then
    output, err, code = ctx:path(a.output, "output")
    if not output then return nil, err, code end
  end
  local w
  w, err, code = core.walk(dir, m, { excluded = a.why or false, skip = build_save.skip(store_dir, output) })
  if not w then return nil, err, code end
  while true do
    local p, info, wcode = w:next()
    if not p then
      if info then return nil, info, wcode end
      return true
    end
    a.each(p, info, info.excluded and describe(explain, info.why) or nil)
  end
end

return M
