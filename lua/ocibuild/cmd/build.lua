--- `ocibuild build DIR -t TAG ...`: one directory into one image, on a
-- base image or none, with the config set from flags; or, with -f FILE
-- or a Dockerfile in DIR, the Dockerfile's image (ocibuild.cli.dockerfile).
local check = require "ocibuild.util.check"
local config = require "ocibuild.build.config"
local dfcli = require "ocibuild.cli.dockerfile"
local getopt = require "ocibuild.cli.getopt"
local ignore = require "ocibuild.build.ignore"
local image = require "ocibuild.build.image"
local json = require "ocibuild.oci.json"
local layer = require "ocibuild.build.layer"
local ops = require "ocibuild.ops"
local platform = require "ocibuild.oci.platform"
local progress = require "ocibuild.cli.progress"
local reg_cli = require "ocibuild.cli.registry"
local results = require "ocibuild.cli.results"

local M = {}

M.HELP = [==[
usage: ocibuild build DIR [-t TAG]... [options]
       ocibuild build [-f FILE] [--build-arg K=V]... [--target STAGE]
                      [--platform P[,P...]] [-t TAG]... [--push] CONTEXT

Builds DIR into an image: one layer, on the base image --from names (or
on nothing). DIR/.dockerignore applies as `docker build` applies it, then
each --exclude pattern after it. The store and the -o archive are left
out when they sit inside DIR.

DIR (or CONTEXT) `-` reads the context as a tar stream on standard input
(plain, gzip, zstd, bzip2 or xz), as `docker build -` does: it is
unpacked into the store's temp folder (names checked: no absolute name,
no `..`, nothing written through a link, no devices) and built from
there, its .dockerignore and Dockerfile as in a folder; -f names a file
in it.

With -f FILE, or when CONTEXT holds a Dockerfile (or Containerfile) and
--as-layer is not given, the Dockerfile is built as BuildKit builds it,
without running anything: RUN is refused (as is ADD of a URL without
--checksum) before any work. CONTEXT is what COPY and ADD read, through
FILE.dockerignore beside the Dockerfile, else CONTEXT/.dockerignore.

Dockerfile options:
  -f, --file FILE        the Dockerfile (default CONTEXT/Dockerfile, then
                         CONTEXT/Containerfile); - reads it from standard
                         input (CONTEXT/.dockerignore applies)
  --build-arg K=V        a value for an ARG (repeatable; K alone takes $K)
  --target STAGE         build that stage (default: the last)
  --platform P[,P...]    one image per platform, in an index when several
  --as-layer             build CONTEXT as one layer even when it holds a
                         Dockerfile (the folder options below)
  -t, --tag, --push, --label, --annotation, -o, --no-cache, --store and
  the output, progress and registry options as below

options:
  -t, --tag TAG          name the image (repeatable), as name:tag; without
                         -t the image is kept untagged, listed as <none>
                         by `ocibuild images` (tag it by ID with
                         `ocibuild tag`) until `ocibuild prune` removes it
  --from REF             the base image: a tag, digest or ID prefix in the
                         store, oci:DIR[:TAG], oci-archive:FILE[:TAG], or a
                         registry reference
  --platform OS/ARCH     the platform (picked from a multi-platform base;
                         default: the base's, else this machine)
  --dest PATH            where DIR goes in the image (default /)
  --label KEY=VALUE      set a config label (repeatable)
  --env KEY=VALUE        set an environment variable (repeatable; kept in
                         the order given, after the base's others)
  --entrypoint CMD       the entrypoint: a JSON list ('["/bin/app","-v"]'),
                         or a string run by /bin/sh -c; '' for none
  --cmd CMD              the default arguments, the same way
  --workdir PATH         the working directory
  --user USER            the user (name, UID or UID:GID)
  --expose PORT          a port, as 80 or 53/udp (repeatable)
  --volume PATH          a volume (repeatable)
  --stop-signal SIGNAL   the signal that stops the container
  --annotation KEY=VALUE a manifest annotation (repeatable); short keys
                         (source, revision, version, title, created, ...)
                         mean org.opencontainers.image.KEY
  --exclude PATTERN      exclude more paths, .dockerignore syntax (repeatable)
  -o, --output FILE.tar  also write an OCI archive (skopeo/podman/docker load)
  --compression KIND     gzip (default), zstd or none
  --level N              compression level (gzip 1-9, default 5; zstd 1-19, default 3)
  --jobs N               compression threads (default: online cores)
  --mtime fixed|keep     every mtime fixed (default), or the files' own
  --mode keep|normalize  permission bits as on disk (default), or 0644/0755
  --owner UID:GID|keep   owner of every entry (default 0:0), or the files' own
  --no-cache             read every file and compress everything again (by
                         default a rebuild reads only the files whose stat
                         changed and reuses what the last build made)
  --push                 push the image to each tag's registry (every tag must
                         name one: HOST/NAME:TAG), as `ocibuild push` does
  --chunk-size SIZE      with --push: upload blobs larger than SIZE in chunks
  --store DIR            the image store
]==] .. results.HELP .. progress.HELP .. "\n" .. require("ocibuild.cli.attest").HELP .. "\n" .. reg_cli.HELP
  .. "\n" .. reg_cli.CACHE_HELP

local SPEC = reg_cli.spec(require("ocibuild.cli.attest").spec(results.options { tag = "list", label = "list",
  exclude = "list",
  output = "value", dest = "value", platform = "value", compression = "value", level = "value", jobs = "value",
  mtime = "value", mode = "value", owner = "value", from = "value", env = "list", entrypoint = "value", cmd = "value",
  workdir = "value", user = "value", expose = "list", volume = "list", annotation = "list",
  ["stop-signal"] = "value", ["no-cache"] = "flag", push = "flag", ["chunk-size"] = "value",
  progress = "value", file = "value", ["build-arg"] = "list", target = "value", ["as-layer"] = "flag",
  ["cache-from"] = "list", ["cache-to"] = "list", alias = { t = "tag", o = "output", f = "file" } }))


--- A command for --entrypoint or --cmd: a JSON list of strings, a string
-- for /bin/sh -c, or '' for none. Returns the list, or nil, msg.
function M.command(s, flag)
  if s == nil then return nil end
  if s == "" then return {} end
  if s:match("^%s*%[") then
    local v, err = json.decode(s, "--" .. flag)
    if v == nil then return nil, err, "USAGE" end
    local ok = json.is_array(v)
    for _, x in ipairs(ok and v or {}) do ok = ok and type(x) == "string" end
    if not ok then
      return nil, ("--%s %q: a JSON list must hold only strings, as [\"/bin/app\", \"-v\"]"):format(flag, s), "USAGE"
    end
    return table.move(v, 1, #v, 1, {})
  end
  return { "/bin/sh", "-c", s }
end

-- The checks of a folder build's flags, each with the checker the build
-- itself uses: {flag, function(value, opts) -> true | nil, why}.
local CHECKS = {
  { "dest", function(v) return layer.dest_prefix(v) end },
  { "owner", function(v)
    if v == "keep" then return true end
    return layer.check_owner(v)
  end },
  { "exclude", function(v) return ignore.compile({}, { v }) end },
  { "expose", function(v) return config.port(v) end },
  { "workdir", function(v) return config.set(config.new(), { workdir = v }, {}) end },
  { "volume", function(v) return config.set(config.new(), { volumes = { v } }, {}) end },
  { "annotation", function(v)
    local k, x = v:match("^([^=]+)=(.*)$")
    if not k then return nil, "expected KEY=VALUE", "USAGE" end
    return config.annotations({}, { [k] = x })
  end },
  { "platform", function(v)
    local p, why, code = platform.parse(v)
    if not p then return nil, why, code end
    return image.check_layer_os(p)
  end },
}
for _, k in ipairs { "mode", "mtime", "compression", "level", "jobs" } do
  CHECKS[#CHECKS + 1] = { k, function(v, opts)
    -- a level is checked against the compression given
    local l = { context = "/", ignorefile = false, compression = k == "level" and opts.compression or nil }
    l[k] = (k == "level" or k == "jobs") and math.tointeger(tonumber(v)) or v
    return layer.spec(l, "/")
  end }
end

-- Each flag's value, checked before any work: a usage mistake names the
-- flag and its value, never the field of the build's options it becomes
-- ("config.ports[1]", "exclude[1]"). Returns true, or nil, msg, "USAGE".
local function check_flags(opts)
  for _, c in ipairs(CHECKS) do
    local flag, fn = c[1], c[2]
    local values = opts[flag]
    if type(values) ~= "table" then values = { values } end
    for _, v in ipairs(values) do
      local ok, why = fn(v, opts)
      if not ok then
        why = why:gsub("^config%.[%w_]+%[?%d*%]?:? ", ""):gsub("^exclude%[%d+%]: ", ""):gsub("^annotations: ", "")
        return getopt.usage_error(("--%s %s: %s"):format(flag, check.show(v), why), "build")
      end
    end
  end
  return true
end

-- The build verb's args for a directory build from the parsed options
-- (ocibuild.ops.build), or nil, msg, "USAGE".
local function directory(opts, dir)
  for _, k in ipairs { "build-arg", "target" } do
    if opts[k] then return getopt.usage_error(("--%s needs a Dockerfile (-f FILE)"):format(k), "build") end
  end
  local labels, err = getopt.pairs(opts.label, "label")
  if not labels then return getopt.usage_error(err, "build") end
  -- env stays a list: the order given is the order in the config
  local ok, code
  ok, err = getopt.pairs(opts.env, "env")
  if not ok then return getopt.usage_error(err, "build") end
  local annotations
  annotations, err = getopt.pairs(opts.annotation, "annotation")
  if not annotations then return getopt.usage_error(err, "build") end
  ok, err, code = check_flags(opts)
  if not ok then return nil, err, code end
  local level, jobs, entrypoint, cmd
  level, err = getopt.integer(opts.level, "level")
  if err then return getopt.usage_error(err, "build") end
  jobs, err = getopt.integer(opts.jobs, "jobs")
  if err then return getopt.usage_error(err, "build") end
  entrypoint, err = M.command(opts.entrypoint, "entrypoint")
  if err then return getopt.usage_error(err, "build") end
  cmd, err = M.command(opts.cmd, "cmd")
  if err then return getopt.usage_error(err, "build") end
  local cfg = { env = opts.env, entrypoint = entrypoint, cmd = cmd,
    workdir = opts.workdir, user = opts.user, ports = opts.expose, volumes = opts.volume,
    stop_signal = opts["stop-signal"] }
  return { context = dir, labels = labels, exclusions = opts.exclude, dest = opts.dest, platform = opts.platform,
    from = opts.from, config = next(cfg) and cfg or nil, annotations = next(annotations) and annotations or nil,
    compression = opts.compression, level = level, jobs = jobs, mtime = opts.mtime, mode = opts.mode,
    owner = opts.owner }
end

local build

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "build")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("build needs exactly one directory", "build") end
  if opts.file and opts["as-layer"] then
    return getopt.usage_error("-f and --as-layer ask for two different builds: give one", "build")
  end
  local cache, cerr = reg_cli.cache(opts)
  if not cache then return getopt.usage_error(cerr, "build") end
  if opts.file == "-" and (rest[1] == "-" or opts["password-stdin"]) then
    return getopt.usage_error(("-f - reads the Dockerfile from standard input: %s cannot")
      :format(rest[1] == "-" and "the context -" or "--password-stdin"), "build")
  end
  if rest[1] ~= "-" then return build(opts, rest[1], cache, g) end
  if opts["password-stdin"] then
    return getopt.usage_error("build - reads the context from standard input: --password-stdin cannot", "build")
  end
  -- the context as a tar stream: unpacked, then built as any folder
  local ctx, err, code = require("ocibuild.build.tarctx").unpack(g.ctx, "-")
  if not ctx then return nil, err, code end
  if opts.file and opts.file:sub(1, 1) ~= "/" then opts.file = ctx.dir .. "/" .. opts.file end
  -- the unpacked folder goes however the build ends
  local _ <close> = setmetatable({}, { __close = function() ctx.close() end })
  return build(opts, ctx.dir, cache, g, "-")
end

-- shown: how the context is named in messages (the folder, or "-")
function build(opts, dir, cache, g, shown)
  local file, display = dfcli.choose(opts, dir, shown)
  local args, err, code
  if file then
    -- a notice, in the modes that show more than a result (json shows only JSON)
    local mode = g.progress or opts.progress or (opts.quiet and "quiet")
    if not opts.file and mode ~= "quiet" and mode ~= "json" then
      io.stderr:write(("ocibuild: building %s (--as-layer builds %s as one layer)\n"):format(display, shown or dir))
    end
    args, err, code = dfcli.args(opts, dir, file, display)
  else
    args, err, code = directory(opts, dir)
  end
  if not args then return nil, err, code end
  args.tag, args.archive, args.cache, args.push = opts.tag, opts.output, not opts["no-cache"], opts.push or nil
  local attest
  attest, err, code = require("ocibuild.cli.attest").options(opts)
  if not attest then return nil, err, code end
  args.sbom, args.provenance, args.sign = attest.sbom, attest.provenance, attest.sign
  -- the registry flags alone: build's --jobs is the codec's threads
  local rflags = { ["chunk-size"] = opts["chunk-size"] }
  for k in pairs(reg_cli.SPEC) do rflags[k] = opts[k] end
  local reg
  reg, err, code = reg_cli.options(rflags, "build")
  if not reg then return nil, err, code end
  local say
  say, err = results.reporting(opts)
  if not say then return getopt.usage_error(err, "build") end
  return progress.run(opts.progress or (opts.quiet and "quiet"), "build", function(rep)
    local targets
    targets, err, code = results.targets(opts)
    if not targets then return nil, err, code end
    local r
    r, err, code = ops.build(g.ctx:with { registry = reg, cache = cache, warn = rep.warn, on_event = rep.on_event },
      args)
    rep.finish()
    if not r then return nil, err, code end
    return results.report(r, targets, opts.quiet)
  end, say)
end

return M
