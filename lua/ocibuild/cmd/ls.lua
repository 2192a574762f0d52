--- `ocibuild ls DIR [--why]`: what a directory puts into a layer and,
-- with --why, every path left out with the pattern (file and line) that
-- left it out: the "why is my file missing?" question.
local check = require "ocibuild.util.check"
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild ls DIR [--why] [--exclude PATTERN]... [--ignorefile FILE] [-o FILE.tar]

Lists, in layer order, the paths of DIR that `ocibuild build DIR` puts into
the layer (directories end in /). Control bytes, DEL and bytes that are not
UTF-8 in a name are printed as \xNN, and a backslash as \\. DIR/.dockerignore applies as docker build
applies it, then each --exclude pattern. Like build, it leaves out the
store (--store, $OCIBUILD_STORE or the default) and the archive -o names
when they sit inside DIR.

  --why                  also list what is left out, each line starting
                         with "-" and naming the deciding pattern and where
                         it comes from; kept paths then start with "+"
  --exclude PATTERN      exclude more paths, .dockerignore syntax (repeatable)
  --ignorefile FILE      read the patterns from FILE instead of
                         DIR/.dockerignore (as a script's ignorefile =)
  -o, --output FILE.tar  the archive a build would write (left out as build leaves it out)
  --store DIR            the image store (left out as build leaves it out)
]]

M.SPEC = { why = "flag", exclude = "list", ignorefile = "value", output = "value", alias = { o = "output" } }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, M.SPEC, "ls")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("ls needs exactly one directory", "ls") end
  local out = io.stdout
  local function each(p, info, why)
    local name = check.name(info.type == "dir" and (p .. "/") or p)
    if info.excluded then
      out:write("- ", name, "  ", why, "\n")
    elseif info.type == "socket" then
      if opts.why then out:write("- ", name, "  socket: left out, as docker build does\n") end
    else
      out:write(opts.why and "+ " or "", name, "\n")
    end
  end
  return ops.ls(g.ctx, { context = rest[1], why = opts.why, exclude = opts.exclude, ignorefile = opts.ignorefile,
    output = opts.output, each = each })
end

return M
