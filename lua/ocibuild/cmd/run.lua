--- `ocibuild run FILE [name=value ...]`: runs a build script, sandboxed
-- unless --unsafe.
local env = require "ocibuild.build.env"
local getopt = require "ocibuild.cli.getopt"
local path = require "ocibuild.path"
local progress = require "ocibuild.cli.progress"
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
and size. Any error prints `ocibuild: FILE:LINE: message` and exits 1.

Scripts run in a sandbox: the ocibuild API, Lua's pure libraries, a
read-only io, os.getenv/time/date, and require of Lua files beside the
script; every path they name must lie in the script's folder. The
registry options below apply to what the script pushes
(save { push = ... }) and pulls (bases from registries).

options:
  --unsafe               run with all of Lua's libraries and no path limits:
                         only for scripts you wrote or read
  -o, --output FILE.tar  also write the reported image as an OCI archive
  --store DIR            the image store
]] .. results.HELP .. progress.HELP .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec(results.options { unsafe = "flag", output = "value", progress = "value",
  ["chunk-size"] = "value", alias = { o = "output" } })

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
    r, err = script.run(rest[1], args, { store = g.store, registry = reg, warn = rep.warn,
      on_event = rep.on_event, unsafe = opts.unsafe })
    if not r then return nil, err, 1 end
    local img = r.image
    if not img then
      rep.finish()
      if opts.quiet or targets.iidfile or targets.metadata or dest then
        return nil, ("%s: the script saved no image to report"):format(rest[1]), 1
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
  end)
end

return M
