--- `ocibuild ls DIR [--why]`: what a directory puts into a layer and,
-- with --why, every path left out with the pattern (file and line) that
-- left it out: the "why is my file missing?" question.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local getopt = require "ocibuild.cli.getopt"
local ignore = require "ocibuild.build.ignore"
local path = require "ocibuild.util.path"
local save = require "ocibuild.build.save"
local store = require "ocibuild.store"

local M = {}

M.HELP = [[
usage: ocibuild ls DIR [--why] [--exclude PATTERN]... [--ignorefile FILE] [-o FILE.tar]

Lists, in layer order, the paths of DIR that `ocibuild build DIR` puts into
the layer (directories end in /). Control bytes, DEL and bytes that are not
UTF-8 in a name are printed as \xNN, and a backslash as \\. DIR/.dockerignore applies as docker build
applies it, then each --exclude pattern. Like build, it leaves out the
store (--store, $OCIBUILD_STORE or the default) and the archive -o names
when they sit inside DIR.

  --why      also list what is left out, each line starting with "-" and
             naming the deciding pattern and where it comes from; kept paths
             then start with "+"
  -o, --output FILE.tar  the archive a build would write (left out as build leaves it out)
  --store DIR            the image store (left out as build leaves it out)
]]

-- Names come from the context (a cloned repository): each is quoted as
-- errors quote names (check.name), on one line, whatever bytes it holds.
local function describe(explain, why)
  local info = why and explain and explain(why)
  if not info then return "excluded" end
  local from = info.file and (info.line and ("%s:%d"):format(check.name(info.file), info.line)
    or check.name(info.file)) or "--exclude"
  return ("excluded by %s (%s)"):format(check.line(check.show(info.pattern)), from)
end

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, { why = "flag", exclude = "list", ignorefile = "value", output = "value",
    alias = { o = "output" } }, "ls")
  if not opts then return nil, rest, 2 end
  if #rest ~= 1 then return getopt.usage_error("ls needs exactly one directory", "ls") end
  local dir = path.abs(rest[1])
  local st, err = core.stat(dir)
  if not st then return nil, ("context %s: %s"):format(dir, err), 1 end
  if st.type ~= "dir" then return nil, ("context %s is not a directory"):format(dir), 1 end
  local list
  if opts.ignorefile then
    list, err = ignore.read(path.abs(opts.ignorefile))
  else
    list, err = ignore.read(dir .. "/.dockerignore", dir)
  end
  if not list then return nil, err, 1 end
  local matcher, explain = ignore.compile(list, opts.exclude or {})
  if not matcher then return nil, explain, 1 end
  local w
  local store_dir = store.default_dir(g.store)
  local skip = save.skip(store_dir and path.abs(store_dir), opts.output and path.abs(opts.output))
  w, err = core.walk(dir, matcher, { excluded = opts.why or false, skip = skip })
  if not w then return nil, err, 1 end
  local out = io.stdout
  while true do
    local p, info = w:next()
    if not p then
      if info then return nil, info, 1 end
      break
    end
    local name = check.name(info.type == "dir" and (p .. "/") or p)
    if info.excluded then
      out:write("- ", name, "  ", describe(explain, info.why), "\n")
    elseif info.type == "socket" then
      if opts.why then out:write("- ", name, "  socket: left out, as docker build does\n") end
    else
      out:write(opts.why and "+ " or "", name, "\n")
    end
  end
  return true
end

return M
