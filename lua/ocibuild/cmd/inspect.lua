--- `ocibuild inspect NAME|DIGEST`: an image of the store as JSON.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local reg_cli = require "ocibuild.cli.registry"
local show = require "ocibuild.cli.show"

local M = {}

M.HELP = [[
usage: ocibuild inspect IMAGE [--config | --manifest] [--raw] [--platform OS/ARCH] [options]

Prints an image as JSON: IMAGE is a name, digest or ID prefix of the
store, oci:DIR[:TAG] (a layout) or docker://REF (a registry, read there,
nothing pulled). By default a summary like
`skopeo inspect` gives (Id, Digest, Names, RepoTags, Created, Os,
Architecture, Labels, Env, Config, Layers, LayersData, RootFS, Size);
for a multi-platform index, its images and platforms.

  --config             the image config
  --manifest           the manifest (or index)
  --raw                the exact bytes instead of indented JSON (the
                       manifest's, or the config's with --config)
  --platform OS/ARCH   the image of an index for that platform

Every blob read is checked against its digest. The store is never created.
]] .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { config = "flag", manifest = "flag", raw = "flag", platform = "value" }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "inspect")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("inspect needs exactly one image", "inspect") end
  if opts.config and opts.manifest then
    return getopt.usage_error("--config and --manifest exclude each other", "inspect")
  end
  local what = opts.config and "config" or (opts.manifest or opts.raw) and "manifest" or "image"
  if opts.raw then what = what == "config" and "config_raw" or "raw" end
  local o, err, code = reg_cli.options(opts, "inspect")
  if not o then return nil, err, code end
  local v
  v, err, code = ops.inspect(g.ctx:with { registry = o }, { src = rest[1], what = what, platform = opts.platform })
  if not v then return nil, err, code end
  io.stdout:write(type(v) == "string" and v or show.json(v))
  return true
end

return M
