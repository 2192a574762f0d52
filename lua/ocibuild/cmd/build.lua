--- `ocibuild build DIR -t TAG ...`: one directory into one image, on a
-- base image or none, with the config set from flags; or, with -f FILE
-- or a Dockerfile in DIR, the Dockerfile's image (ocibuild.cli.dockerfile).
local config_mod = require "ocibuild.build.config"
local dfcli = require "ocibuild.cli.dockerfile"
local getopt = require "ocibuild.cli.getopt"
local image = require "ocibuild.build.image"
local json = require "ocibuild.oci.json"
local layer = require "ocibuild.build.layer"
local ocibuild = require "ocibuild"
local platform = require "ocibuild.oci.platform"
local progress = require "ocibuild.cli.progress"
local reg_cli = require "ocibuild.cli.registry"
local results = require "ocibuild.cli.results"
local save = require "ocibuild.build.save"

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
                         CONTEXT/Containerfile)
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
]==] .. results.HELP .. progress.HELP .. "\n" .. reg_cli.HELP .. "\n" .. reg_cli.CACHE_HELP

local SPEC = reg_cli.spec(results.options { tag = "list", label = "list", exclude = "list",
  output = "value", dest = "value", platform = "value", compression = "value", level = "value", jobs = "value", mtime = "value",
  mode = "value", owner = "value", from = "value", env = "list", entrypoint = "value", cmd = "value",
  workdir = "value", user = "value", expose = "list", volume = "list", annotation = "list",
  ["stop-signal"] = "value", ["no-cache"] = "flag", push = "flag", ["chunk-size"] = "value",
  progress = "value", file = "value", ["build-arg"] = "list", target = "value", ["as-layer"] = "flag",
  ["cache-from"] = "list", ["cache-to"] = "list", alias = { t = "tag", o = "output", f = "file" } })

-- KEY=VALUE words into a table (later wins). Returns it, or nil, msg.
local function pairs_of(list, flag)
  local t = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return nil, ("bad --%s %q: expected KEY=VALUE"):format(flag, kv) end
    t[k] = v
  end
  return t
end

--- A command for --entrypoint or --cmd: a JSON list of strings, a string
-- for /bin/sh -c, or '' for none. Returns the list, or nil, msg.
function M.command(s, flag)
  if s == nil then return nil end
  if s == "" then return {} end
  if s:match("^%s*%[") then
    local v, err = json.decode(s, "--" .. flag)
    if v == nil then return nil, err end
    local ok = json.is_array(v)
    for _, x in ipairs(ok and v or {}) do ok = ok and type(x) == "string" end
    if not ok then
      return nil, ("--%s %q: a JSON list must hold only strings, as [\"/bin/app\", \"-v\"]"):format(flag, s)
    end
    return table.move(v, 1, #v, 1, {})
  end
  return { "/bin/sh", "-c", s }
end

-- The flags' values, checked before any work by the functions the build
-- checks them with, so that a bad value is a usage mistake (exit 2).
-- Returns true, or nil and why.
local function check_values(opts, v)
  local l = { context = "/", ignorefile = false, exclude = opts.exclude, dest = opts.dest, mode = opts.mode,
    mtime = opts.mtime, owner = opts.owner, compression = opts.compression, level = v.level, jobs = v.jobs }
  local ok, err = layer.spec(l, "/")
  if ok and v.config then ok, err = config_mod.set(config_mod.new(), v.config, {}) end
  if ok then ok, err = config_mod.set_labels({}, v.labels) end
  if ok then ok, err = config_mod.annotations({}, v.annotations) end
  if ok then ok, err = save.refs(opts.tag) end
  if ok then ok, err = save.push_targets(opts.push or nil, opts.tag) end
  if ok and opts.platform then
    ok, err = platform.parse(opts.platform)
    if ok then ok, err = image.check_layer_os(ok) end
  end
  return ok ~= nil, err
end

local run

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "build")
  if not opts then return nil, rest, 2 end
  if #rest ~= 1 then return getopt.usage_error("build needs exactly one directory", "build") end
  if rest[1] ~= "-" then return run(opts, rest, g) end
  if opts["password-stdin"] then
    return getopt.usage_error("build - reads the context from standard input: --password-stdin cannot", "build")
  end
  local ctx, err = require("ocibuild.build.tarctx").unpack(g.store, "-")
  if not ctx then return nil, err, 1 end
  if opts.file and opts.file:sub(1, 1) ~= "/" then opts.file = ctx.dir .. "/" .. opts.file end
  rest[1] = ctx.dir
  local r = table.pack(pcall(run, opts, rest, g))
  ctx.close()
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

function run(opts, rest, g)
  if opts.file and opts["as-layer"] then
    return getopt.usage_error("-f and --as-layer ask for two different builds: give one", "build")
  end
  local cache, cerr = reg_cli.cache(opts)
  if not cache then return getopt.usage_error(cerr, "build") end
  local file, display = dfcli.choose(opts, rest[1])
  if file then
    if not opts.file then io.stderr:write(("ocibuild: building %s (--as-layer builds %s as one layer)\n")
      :format(display, rest[1])) end
    local reg, err, code = reg_cli.options({ creds = opts.creds, username = opts.username,
      ["password-stdin"] = opts["password-stdin"], authfile = opts.authfile, ["ca-file"] = opts["ca-file"],
      insecure = opts.insecure, ["plain-http"] = opts["plain-http"], ["chunk-size"] = opts["chunk-size"],
      timeout = opts.timeout, ["min-speed"] = opts["min-speed"], retry = opts.retry }, "build")
    if not reg then return nil, err, code end
    local say
    say, err = results.reporting(opts)
    if not say then return getopt.usage_error(err, "build") end
    return dfcli.run(opts, rest[1], g, reg, file, display, say, cache)
  end
  for _, k in ipairs { "build-arg", "target" } do
    if opts[k] then return getopt.usage_error(("--%s needs a Dockerfile (-f FILE)"):format(k), "build") end
  end
  local labels, err = pairs_of(opts.label, "label")
  if not labels then return getopt.usage_error(err, "build") end
  -- env stays a list: the order given is the order in the config
  local ok_env
  ok_env, err = pairs_of(opts.env, "env")
  if not ok_env then return getopt.usage_error(err, "build") end
  local annotations
  annotations, err = pairs_of(opts.annotation, "annotation")
  if not annotations then return getopt.usage_error(err, "build") end
  local level
  level, err = getopt.integer(opts.level, "level")
  if err then return getopt.usage_error(err, "build") end
  local jobs, code
  jobs, err = getopt.integer(opts.jobs, "jobs")
  if err then return getopt.usage_error(err, "build") end
  local entrypoint, cmd
  entrypoint, err = M.command(opts.entrypoint, "entrypoint")
  if err then return getopt.usage_error(err, "build") end
  cmd, err = M.command(opts.cmd, "cmd")
  if err then return getopt.usage_error(err, "build") end
  local config = { env = opts.env, entrypoint = entrypoint, cmd = cmd,
    workdir = opts.workdir, user = opts.user, ports = opts.expose, volumes = opts.volume,
    stop_signal = opts["stop-signal"] }
  local valid
  valid, err = check_values(opts, { level = level, jobs = jobs, labels = labels, annotations = annotations,
    config = next(config) and config or nil })
  if not valid then return getopt.usage_error(err, "build") end
  local reg
  reg, err, code = reg_cli.options({ creds = opts.creds, username = opts.username,
    ["password-stdin"] = opts["password-stdin"], authfile = opts.authfile, ["ca-file"] = opts["ca-file"],
    insecure = opts.insecure, ["plain-http"] = opts["plain-http"], ["chunk-size"] = opts["chunk-size"],
    timeout = opts.timeout, ["min-speed"] = opts["min-speed"], retry = opts.retry }, "build")
  if not reg then return nil, err, code end
  local say
  say, err = results.reporting(opts)
  if not say then return getopt.usage_error(err, "build") end
  return progress.run(opts.progress or (opts.quiet and "quiet"), "build", function(rep)
    local targets, terr = results.targets(opts)
    if not targets then return nil, terr, 1 end
    local api = ocibuild.new(nil, { store = g.store, registry = reg, cache = cache, warn = rep.warn,
      on_event = rep.on_event })
    local ok, r = pcall(api.build, {
      context = rest[1], tag = opts.tag, labels = labels, exclusions = opts.exclude,
      archive = opts.output, dest = opts.dest, platform = opts.platform, from = opts.from,
      config = next(config) and config or nil, annotations = next(annotations) and annotations or nil,
      compression = opts.compression, level = level, jobs = jobs, mtime = opts.mtime,
      mode = opts.mode, owner = opts.owner, cache = not opts["no-cache"], push = opts.push or nil,
    })
    rep.finish()
    if not ok then return nil, r, 1 end
    return results.report(r, targets, opts.quiet)
  end, say)
end

return M
