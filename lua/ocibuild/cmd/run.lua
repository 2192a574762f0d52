--- `ocibuild run FILE [name=value ...]`: runs a build script, sandboxed
-- unless --unsafe.
local env = require "ocibuild.build.env"
local getopt = require "ocibuild.cli.getopt"
local path = require "ocibuild.path"
local progress = require "ocibuild.cli.progress"
local reach = require "ocibuild.reach"
local reg_cli = require "ocibuild.cli.registry"
local results = require "ocibuild.cli.results"
local save = require "ocibuild.build.save"
local script = require "ocibuild.script"
local store = require "ocibuild.store"

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
]] .. results.HELP .. progress.HELP .. "\n" .. reg_cli.HELP .. "\n" .. reg_cli.CACHE_HELP

local SPEC = reg_cli.spec(results.options { unsafe = "flag", output = "value", progress = "value",
  ["chunk-size"] = "value", ["max-instructions"] = "value", ["max-memory"] = "value",
  ["allow-registry"] = "list", ["allow-image"] = "list", env = "list", ["cache-from"] = "list",
  ["cache-to"] = "list", alias = { o = "output" } })

-- What the script may reach (see ocibuild.reach), checked as usage.
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

-- Writes the image r (a save result) of the store as an OCI archive.
local function write_archive(r, dest, on_event)
  local sde, err, code = env.source_date_epoch()
  if err then return nil, err, code end
  local st
  st, err, code = store.open(r.path)
  if not st then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end
  local out
  out, err, code = require("ocibuild.endpoint.archive").new(dest, { mtime = sde or 0 })
  if not out then return nil, err, code end
  return save.write_archive(st, r.manifest, r.tags, out, on_event)
end

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "run")
  if not opts then return nil, rest, 2 end
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
  return progress.run(opts.progress or (opts.quiet and "quiet"), "run", function(rep)
    local targets
    targets, err = results.targets(opts)
    if not targets then return nil, err, 1 end
    local dest = opts.output and path.abs(opts.output)
    if dest then
      local ok
      ok, err = require("ocibuild.endpoint.archive").new(dest)
      if not ok then return nil, "--output: " .. err, 1 end
    end
    local r
    r, err = script.run(rest[1], args, { store = g.store, registry = reg, cache = cache, warn = rep.warn,
      on_event = rep.on_event, unsafe = opts.unsafe, max_instructions = lim.max_instructions,
      max_memory = lim.max_memory, allow_registry = allowed.allow_registry, allow_image = allowed.allow_image,
      env = allowed.env })
    if not r then return nil, err, 1 end
    local img = r.image
    if not img then
      rep.finish()
      if opts.quiet or targets.iidfile or targets.digestfile or targets.metadata or dest then
        return nil, ("%s: the script saved no image to report"):format(rest[1]), 1
      end
      -- Not a failure (a script may only check things), but a sandboxed
      -- script has no other effect than the images it saves: most likely
      -- a forgotten img:save {...}. A program (--unsafe) may have its own.
      if not opts.unsafe then
        rep.warn(("%s: the script saved no image (it called no save or build)"):format(rest[1]))
      end
      return true
    end
    if dest then
      local ok, code
      ok, err, code = write_archive(img, dest, rep.on_event)
      if not ok then return nil, err, code end
      img.archive = dest
    end
    rep.finish()
    return results.report(img, targets, opts.quiet)
  end, say)
end

return M
