--- `ocibuild build DIR -t TAG ...`: one directory into one image.
local core = require "ocibuild.core"
local getopt = require "ocibuild.cli.getopt"
local ocibuild = require "ocibuild"
local path = require "ocibuild.path"
local progress = require "ocibuild.cli.progress"
local results = require "ocibuild.cli.results"

local M = {}

M.HELP = [[
usage: ocibuild build DIR [-t TAG]... [options]

Builds DIR into a one-layer image: DIR/.dockerignore applies as
`docker build` applies it, then each --exclude pattern after it. The
store and the -o archive are left out when they sit inside DIR. A
Dockerfile in DIR is not read (it is a file like any other): for a
build script, see `ocibuild init`.

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
  --store DIR            the image store
]] .. results.HELP .. progress.HELP

local SPEC = results.options { tag = "list", label = "list", exclude = "list", output = "value",
  dest = "value", platform = "value", compression = "value", level = "value", jobs = "value",
  mtime = "value", mode = "value", owner = "value", progress = "value", alias = { t = "tag", o = "output" } }

-- ocibuild does not read Dockerfiles: say so once when DIR has one.
local function dockerfile_warning(dir, warn)
  for _, name in ipairs { "Dockerfile", "Containerfile" } do
    local f = path.join(dir, name)
    if core.stat(f) then
      warn(("%s: ocibuild does not read Dockerfiles; %s is built as plain files (for a build script, see 'ocibuild init')")
        :format(f, dir))
      return
    end
  end
end

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
  local jobs
  jobs, err = getopt.integer(opts.jobs, "jobs")
  if err then return getopt.usage_error(err, "build") end
  return progress.run(opts.progress or (opts.quiet and "quiet"), "build", function(rep)
    local targets, terr = results.targets(opts)
    if not targets then return nil, terr, 1 end
    dockerfile_warning(rest[1], rep.warn)
    local api = ocibuild.new(nil, { store = g.store, warn = rep.warn, on_event = rep.on_event })
    local ok, r = pcall(api.build, {
      context = rest[1], tag = opts.tag, labels = labels, exclusions = opts.exclude,
      archive = opts.output, dest = opts.dest, platform = opts.platform,
      compression = opts.compression, level = level, jobs = jobs, mtime = opts.mtime,
      mode = opts.mode, owner = opts.owner,
    })
    rep.finish()
    if not ok then return nil, r, 1 end
    return results.report(r, targets, opts.quiet)
  end)
end

return M
