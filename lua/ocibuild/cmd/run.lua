--- `ocibuild run FILE [name=value ...]`: runs a build script, sandboxed
-- unless --unsafe.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local progress = require "ocibuild.cli.progress"
local reach = require "ocibuild.ops.reach"
local reg_cli = require "ocibuild.cli.registry"
local results = require "ocibuild.cli.results"
local script = require "ocibuild.api.script"

local M = {}

M.HELP = [[
usage: ocibuild run FILE [name=value ...] [options]

Runs the build script FILE. Each name=value pair arrives in the table
`args`; relative paths in the script resolve against FILE's folder.
The image the script returns (the result of img:save{...} or
oci.build{...}; else the last one it saved) is reported: tag, digest
and size; a sandboxed script that saved none is warned about. Any error
prints `ocibuild: FILE:LINE: message` and exits 1.

Scripts run in a sandbox: the ocibuild API, Lua's pure libraries, a
read-only io, os.time/date, and require of Lua files beside the script;
every path they name must lie in the script's folder. Beyond it, a
script reaches only what you name here; anything else is refused before
any request, saying which flag allows it:

  --allow-registry HOST[:PORT]  a registry the script may pull bases from
                         and push to, with your credentials (repeatable;
                         docker.io for Docker Hub)
  --allow-image REF      an image of the store the script may build on
                         (repeatable); it may always use what it saved
  --env NAME[=VALUE]     a variable its os.getenv sees: VALUE, or NAME's
                         value here (repeatable); it sees no other

A sandboxed script stops with an error when it runs more instructions
or holds more memory than its limits allow (ocibuild's own work for it
does not count):

  --max-instructions N   default 500000000 (0: no limit)
  --max-memory SIZE      default 512M (0: no limit)

The registry options below apply to what the script pushes
(save { push = ... }) and pulls (bases from allowed registries).

options:
  --unsafe               run with all of Lua's libraries, no path limits,
                         and no limits but the --max-* given: only for
                         scripts you wrote or read
  -o, --output FILE.tar  also write the reported image as an OCI archive
  --store DIR            the image store
]] .. results.HELP .. progress.HELP .. "\n" .. require("ocibuild.cli.attest").HELP
  .. "(for every image the script saves, unless its save says otherwise)\n\n" .. reg_cli.HELP .. "\n"
  .. reg_cli.CACHE_HELP

local SPEC = reg_cli.spec(require("ocibuild.cli.attest").spec(results.options { unsafe = "flag",
  output = "value", progress = "value", ["chunk-size"] = "value", ["max-instructions"] = "value",
  ["max-memory"] = "value", ["allow-registry"] = "list", ["allow-image"] = "list", env = "list",
  ["cache-from"] = "list", ["cache-to"] = "list", alias = { o = "output" } }))

-- What the script may reach (see ocibuild.ops.reach), checked as usage.
local function reaches(opts)
  local r = { allow_registry = opts["allow-registry"], allow_image = opts["allow-image"], env = opts.env }
  if opts.unsafe and (r.allow_registry or r.allow_image or r.env) then
    return getopt.usage_error("--unsafe gives a script everything: --allow-registry, --allow-image and --env "
      .. "are for sandboxed scripts", "run")
  end
  for _, c in ipairs { { r.allow_registry, reach.parse_host }, { r.allow_image, reach.parse_image },
      { r.env, reach.parse_env } } do
    for _, v in ipairs(c[1] or {}) do
      local ok, err = c[2](v)
      if not ok then return getopt.usage_error(err, "run") end
    end
  end
  return r
end

-- The script's limits from the flags: {max_instructions=, max_memory=}.
local function limits(opts)
  local l = {}
  if opts["max-instructions"] then
    local n = math.tointeger(tonumber(opts["max-instructions"]))
    if not n or n < 0 or not opts["max-instructions"]:match("^%d+$") then
      return getopt.usage_error(("--max-instructions needs a count such as 100000000, got %q")
        :format(opts["max-instructions"]), "run")
    end
    l.max_instructions = n
  end
  if opts["max-memory"] then
    local n, err = reg_cli.size(opts["max-memory"], "max-memory")
    if not n then return getopt.usage_error(err, "run") end
    l.max_memory = n
  end
  return l
end

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "run")
  if not opts then return nil, rest, "USAGE" end
  local reg, rerr, rcode = reg_cli.options(opts, "run")
  if not reg then return nil, rerr, rcode end
  if #rest == 0 then return getopt.usage_error("run needs a build script", "run") end
  local args, err = script.parse_args(table.move(rest, 2, #rest, 1, {}))
  if not args then return getopt.usage_error(err, "run") end
  local lim, lerr, lcode = limits(opts)
  if not lim then return nil, lerr, lcode end
  local allowed
  allowed, lerr, lcode = reaches(opts)
  if not allowed then return nil, lerr, lcode end
  local say
  say, err = results.reporting(opts)
  if not say then return getopt.usage_error(err, "run") end
  local cache
  cache, err = reg_cli.cache(opts)
  if not cache then return getopt.usage_error(err, "run") end
  local attest
  attest, lerr, lcode = require("ocibuild.cli.attest").options(opts, "run")
  if not attest then return nil, lerr, lcode end
  return progress.run(opts.progress or (opts.quiet and "quiet"), "run", function(rep)
    local targets, code
    targets, err, code = results.targets(opts)
    if not targets then return nil, err, code end
    local ctx = g.ctx:with { registry = reg, cache = cache, warn = rep.warn, on_event = rep.on_event }
    local r
    r, err, code = ops.run(ctx, { file = rest[1], args = args, unsafe = opts.unsafe, output = opts.output,
      max_instructions = lim.max_instructions, max_memory = lim.max_memory,
      allow_registry = allowed.allow_registry, allow_image = allowed.allow_image, env = allowed.env,
      attest = attest })
    if not r then return nil, err, code end
    rep.finish()
    if not r.image then
      if opts.quiet or targets.iidfile or targets.digestfile or targets.metadata then
        return nil, ("%s: the script saved no image to report"):format(rest[1]), "NOIMAGE"
      end
      -- Not a failure (a script may only check things), but a sandboxed
      -- script has no other effect than the images it saves: most likely
      -- a forgotten img:save {...}. A program (--unsafe) may have its own.
      if not opts.unsafe then
        rep.warn(("%s: the script saved no image (it called no save or build)"):format(rest[1]))
      end
      return true
    end
    return results.report(r.image, targets, opts.quiet)
  end, say)
end

return M
