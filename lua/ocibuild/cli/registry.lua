--- The registry flags push, pull, login, build and run share, their help
-- text, turning them into ocibuild.registry options, and what the CLI
-- prints while images move (one line per blob, warnings on stderr).
local getopt = require "ocibuild.cli.getopt"
local output = require "ocibuild.cli.output"

local M = {}

M.SPEC = { creds = "value", username = "value", ["password-stdin"] = "flag", authfile = "value",
  ["ca-file"] = "value", insecure = "flag", ["plain-http"] = "flag", timeout = "value", ["min-speed"] = "value",
  retry = "value" }

M.HELP = [[
registry options:
  --creds USER:PASSWORD  credentials for the registry; without them, the
                         first of --authfile FILE, $REGISTRY_AUTH_FILE,
                         $XDG_RUNTIME_DIR/containers/auth.json and
                         $DOCKER_CONFIG/config.json (~/.docker/config.json,
                         with its credential helpers) that knows the host
  -u, --username USER    with --password-stdin: the password is read from
  --password-stdin       standard input (so it is in no process list)
  --authfile FILE        a credentials file (docker config.json or
                         containers auth.json format)
  --ca-file FILE         trust the CA certificates in FILE (PEM) for the
                         registry's TLS; else certs.d/HOST:PORT/*.crt under
                         /etc/containers, ~/.config/containers, /etc/docker;
                         else $SSL_CERT_FILE, else the system's CAs
  --insecure             do not verify the registry's TLS certificate
  --plain-http           speak plain HTTP (HTTPS is always tried first, and
                         a loopback host that does not speak TLS at all is
                         reached over HTTP without this flag)
  --timeout SECONDS      give up on a registry request (its retries
                         included) after SECONDS (default 3600)
  --min-speed RATE[/SECONDS]  give up on a transfer slower than RATE bytes
                         a second (1k, 2M) for SECONDS (default 1k/60)
  --retry N              try a request that failed for a passing reason
                         (HTTP 408, 429, 5xx, a reset or timed-out
                         connection) up to N more times (default 4)
Client certificates come from certs.d/HOST:PORT/*.cert with the matching
*.key; mirrors, blocked and insecure registries from containers'
registries.conf ($CONTAINERS_REGISTRIES_CONF, else
~/.config/containers/registries.conf, else /etc/containers/registries.conf,
with the registries.conf.d/*.conf beside them).
]]

--- The shared cache flags of build and run: their spec and help.
M.CACHE_SPEC = { ["cache-from"] = "list", ["cache-to"] = "list" }
M.CACHE_HELP = [[
shared cache options (the registry options above apply):
  --cache-from HOST/PATH a registry repository holding reuse records of
                         other runners' builds (repeatable; the first that
                         has a layer's record wins): a layer whose files
                         are the same is not compressed, its blob taken
                         from there; a changed layer takes the compressed
                         pieces of its unchanged blocks (range requests)
  --cache-to HOST/PATH   record each layer built there (repeatable), for
                         --cache-from: one tag per record (reuse-<hash>),
                         never overwritten, its blob kept by the registry
]]

--- The cache flags of opts as ocibuild's `cache` option ({from=, to=}),
-- each reference checked; or nil and a usage message.
function M.cache(opts)
  local t = { from = opts["cache-from"], to = opts["cache-to"] }
  for _, which in ipairs { "from", "to" } do
    for _, s in ipairs(t[which] or {}) do
      local ok, err = require("ocibuild.registry.cache").parse(s, "--cache-" .. which)
      if not ok then return nil, err, "USAGE" end
    end
  end
  return t
end

--- Adds the registry flags (and extra) to a getopt spec; returns it.
function M.spec(extra)
  local s = { alias = {} }
  for k, v in pairs(M.SPEC) do s[k] = v end
  for k, v in pairs(extra or {}) do
    if k == "alias" then
      for a, n in pairs(v) do s.alias[a] = n end
    else
      s[k] = v
    end
  end
  s.alias.u = "username"
  return s
end

--- A size: bytes, or with k, m, g (powers of 1024; "64M", "1MiB").
function M.size(v, name)
  if v == nil then return nil end
  local n, unit = tostring(v):match("^(%d+)%s*([kKmMgG]?)i?[bB]?$")
  local mult = { [""] = 1, k = 1 << 10, m = 1 << 20, g = 1 << 30 }
  n = n and math.tointeger(tonumber(n))
  if not n or not mult[unit:lower()] then
    return nil, ("--%s needs a size such as 64M, got %q"):format(name, v), "USAGE"
  end
  return n * mult[unit:lower()]
end

-- --timeout, --min-speed, --retry into o: true, or nil, msg, 2.
function M.limits(opts, o, cmd)
  if opts.timeout then
    local n = tonumber(opts.timeout)
    if not n or n < 1 or n > 1e6 then
      return getopt.usage_error("--timeout needs seconds from 1, got " .. opts.timeout, cmd)
    end
    o.timeout = n
  end
  if opts["min-speed"] then
    local rate, secs = opts["min-speed"]:match("^([^/]+)/?(%d*)$")
    local n = rate and M.size(rate, "min-speed")
    secs = secs ~= "" and math.tointeger(tonumber(secs)) or nil
    if not n or (secs and secs < 1) then
      return getopt.usage_error(("--min-speed needs RATE[/SECONDS] such as 1k/60, got %q")
        :format(opts["min-speed"]), cmd)
    end
    o.min_speed, o.speed_time = n, secs
  end
  if opts.retry then
    local n = math.tointeger(tonumber(opts.retry))
    if not n or n < 0 or n > 100 then return getopt.usage_error("--retry needs a count from 0 to 100", cmd) end
    o.retries = n
  end
  return true
end

--- The ocibuild.registry options from parsed flags (reads the password
-- from stdin for --password-stdin). Returns them, or nil, msg, 2.
function M.options(opts, cmd)
  local o = { authfile = opts.authfile, ca_file = opts["ca-file"], insecure = opts.insecure or nil,
    plain_http = opts["plain-http"] or nil }
  if opts.creds and (opts.username or opts["password-stdin"]) then
    return getopt.usage_error("--creds and --username/--password-stdin exclude each other", cmd)
  end
  if opts.creds then
    local user, pass = opts.creds:match("^([^:]+):(.*)$")
    if not user then return getopt.usage_error("--creds needs USER:PASSWORD", cmd) end
    o.creds = { username = user, password = pass, source = "--creds" }
  elseif opts["password-stdin"] then
    if not opts.username then return getopt.usage_error("--password-stdin needs --username USER", cmd) end
    local pass = io.stdin:read("a") or ""
    pass = pass:gsub("\r?\n$", "")
    o.creds = { username = opts.username, password = pass, source = "--password-stdin" }
  elseif opts.username then
    return getopt.usage_error("--username needs --password-stdin (a password is never an argument)", cmd)
  end
  if opts.jobs then
    local n, err = getopt.integer(opts.jobs, "jobs")
    if not n or n < 1 or n > 64 then return getopt.usage_error(err or "--jobs must be from 1 to 64", cmd) end
    o.jobs = n
  end
  local ok, lerr, lcode = M.limits(opts, o, cmd)
  if not ok then return nil, lerr, lcode end
  if opts["chunk-size"] then
    local n, err = M.size(opts["chunk-size"], "chunk-size")
    if not n or n < (1 << 20) then return getopt.usage_error(err or "--chunk-size must be at least 1M", cmd) end
    o.chunk_size = n
  end
  return o
end

--- The options' lines of push's and pull's HELP text for -q.
M.QUIET_HELP = "  -q, --quiet            print only HOST/NAME@sha256:... (no line per blob,\n"
  .. "                         no progress, no warnings)\n"

--- The run(argv, g) of a command that moves an image (push, pull,
-- copy): argv parsed with spec, its operands turned into the verb's args by
-- operands(rest, opts) (-> args | nil, msg, code), the verb called with
-- the registry flags' options and a reporter, its result printed by
-- say(r). o: {blobs = false: no line per blob}.
function M.transfer(verb, spec, operands, say, o)
  o = o or {}
  return function(argv, g)
    local opts, rest = getopt.parse(argv, spec, verb)
    if not opts then return nil, rest, "USAGE" end
    local args, err, code = operands(rest, opts)
    if not args then return nil, err, code end
    local reg
    reg, err, code = M.options(opts, verb)
    if not reg then return nil, err, code end
    return require("ocibuild.cli.progress").run(opts.progress or (opts.quiet and "quiet"), verb, function(rep)
      local ctx = g.ctx:with { registry = reg, on_event = M.reporter(rep, opts.quiet, o.blobs == false),
        warn = rep.warn }
      local r, verr, vcode = require("ocibuild.ops")[verb](ctx, args)
      if not r then return nil, verr, vcode end
      rep.finish()
      say(r, rest)
      return true
    end, { quiet = opts.quiet })
  end
end

--- The on_event of push and pull, reporting to rep (ocibuild.cli.progress):
-- a line per blob on standard output ("uploaded   sha256:... 1.2 MiB"),
-- printed through rep so that it never lands inside the live lines;
-- warnings to rep.warn; every other event, and blob events except in
-- plain mode (whose own line per blob would say each twice), to the
-- renderer. quiet: no blob lines and no warnings.
function M.reporter(rep, quiet, no_blobs)
  return function(ev)
    if ev.type == "warning" then
      if not quiet then rep.warn(ev.message) end
      return
    end
    if ev.type == "blob" and not quiet and not no_blobs then
      rep.print(("%-10s %s %s"):format(ev.action, ev.digest, output.human(ev.size)), io.stdout)
      if rep.mode == "plain" then return end
    end
    if rep.on_event then rep.on_event(ev) end
  end
end

return M
