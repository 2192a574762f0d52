--- `ocibuild build DIR -t TAG ...`: one directory into one image.
local getopt = require "ocibuild.cli.getopt"
local ocibuild = require "ocibuild"
local output = require "ocibuild.cli.output"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild build DIR [-t TAG]... [options]

Builds DIR into a one-layer image: DIR/.dockerignore applies as
`docker build` applies it, then each --exclude pattern after it.

options:
  -t, --tag TAG          name the image (repeatable), as name:tag
  --label KEY=VALUE      set a config label (repeatable)
  --exclude PATTERN      exclude more paths, .dockerignore syntax (repeatable)
  -o, --output FILE.tar  also write an OCI archive (skopeo/podman/docker load)
  --dest PATH            where DIR goes in the image (default /)
  --platform OS/ARCH     platform recorded in the image (default: this machine)
  --compression KIND     gzip (default), zstd or none
  --level N              compression level (gzip 1-9, default 5; zstd 1-19, default 3)
  --jobs N               compression threads (default: online cores)
  --mtime fixed|keep     every mtime fixed (default), or the files' own
  --mode keep|normalize  permission bits as on disk (default), or 0644/0755
  --owner UID:GID|keep   owner of every entry (default 0:0), or the files' own
  --push                 push the image to each tag's registry (every tag must
                         name one: HOST/NAME:TAG), as `ocibuild push` does
  --chunk-size SIZE      with --push: upload blobs larger than SIZE in chunks
  --store DIR            the image store
]] .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { tag = "list", label = "list", exclude = "list", output = "value", dest = "value",
  platform = "value", compression = "value", level = "value", jobs = "value", mtime = "value",
  mode = "value", owner = "value", push = "flag", ["chunk-size"] = "value", alias = { t = "tag", o = "output" } }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "build")
  if not opts then return nil, rest, 2 end
  if #rest ~= 1 then return getopt.usage_error("build needs exactly one directory", "build") end
  local labels = {}
  for _, kv in ipairs(opts.label or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return getopt.usage_error(("bad label %q: expected KEY=VALUE"):format(kv), "build") end
    labels[k] = v
  end
  local level, err = getopt.integer(opts.level, "level")
  if err then return getopt.usage_error(err, "build") end
  local jobs, code
  jobs, err = getopt.integer(opts.jobs, "jobs")
  if err then return getopt.usage_error(err, "build") end
  local reg
  reg, err, code = reg_cli.options({ creds = opts.creds, username = opts.username,
    ["password-stdin"] = opts["password-stdin"], authfile = opts.authfile, ["ca-file"] = opts["ca-file"],
    insecure = opts.insecure, ["plain-http"] = opts["plain-http"], ["chunk-size"] = opts["chunk-size"] }, "build")
  if not reg then return nil, err, code end
  local api = ocibuild.new(nil, { store = g.store, registry = reg, on_event = reg_cli.printer(io.stderr) })
  local ok, r = pcall(api.build, {
    context = rest[1], tag = opts.tag, labels = labels, exclusions = opts.exclude,
    archive = opts.output, dest = opts.dest, platform = opts.platform,
    compression = opts.compression, level = level, jobs = jobs, mtime = opts.mtime,
    mode = opts.mode, owner = opts.owner, push = opts.push or nil,
  })
  if not ok then return nil, r, 1 end
  output.result(r)
  return true
end

return M
