--- `ocibuild build -f FILE CONTEXT` (or a CONTEXT holding a Dockerfile):
-- the Dockerfile read and planned (every refusal before any work, exit
-- 2), then built, tagged, pushed and reported like a directory build.
-- Only the options that mean something for a Dockerfile are taken; the
-- others are usage errors naming --as-layer.
local dockerfile = require "ocibuild.dockerfile"
local getopt = require "ocibuild.cli.getopt"
local path = require "ocibuild.path"
local progress = require "ocibuild.cli.progress"
local results = require "ocibuild.cli.results"
local save = require "ocibuild.build.save"

local M = {}

-- The options of a directory build that a Dockerfile build does not take.
M.DIR_ONLY = { "dest", "from", "env", "entrypoint", "cmd", "workdir", "user", "expose", "volume", "stop-signal",
  "exclude", "compression", "level", "jobs", "mtime", "mode", "owner" }

-- What the CLI exits with: 2 for what the Dockerfile or the command line
-- asks that cannot be done, 1 for the rest.
local USAGE_CODES = { BADDOCKERFILE = true, USAGE = true, BADPLATFORM = true }

local function exit_code(code)
  return USAGE_CODES[code] and 2 or 1
end

--- The Dockerfile to build: -f's, or CONTEXT/Dockerfile (or
-- Containerfile) unless --as-layer. Returns path, display name, or nil
-- (build the folder), or nil, msg for a -f that cannot be read.
function M.choose(opts, context)
  if opts.file then return path.abs(opts.file), opts.file end
  if opts["as-layer"] then return nil end
  local found = dockerfile.find(context)
  if found then return found, path.join(context, found:match("[^/]+$")) end
end

--- Runs the build. opts: the parsed options; context: the operand; g:
-- the global options; reg: the registry options; file, display: the
-- Dockerfile; say: how results and warnings are reported (results.reporting);
-- cache: the shared cache ({from=, to=}).
function M.run(opts, context, g, reg, file, display, say, cache)
  for _, k in ipairs(M.DIR_ONLY) do
    if opts[k] ~= nil then
      return getopt.usage_error(("--%s builds a folder as one layer; with a Dockerfile it has no meaning "
        .. "(use --as-layer to build %s as a folder)"):format(k, context), "build")
    end
  end
  local args = {}
  for _, kv in ipairs(opts["build-arg"] or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then
      local env = os.getenv(kv)
      if env == nil then return getopt.usage_error(("bad --build-arg %q: expected KEY=VALUE"):format(kv), "build") end
      k, v = kv, env
    end
    args[k] = v
  end
  local platforms
  if opts.platform then
    platforms = {}
    for p in opts.platform:gmatch("[^,]+") do platforms[#platforms + 1] = p end
  end
  local labels, annotations = {}, {}
  for _, kv in ipairs(opts.label or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return getopt.usage_error(("bad --label %q: expected KEY=VALUE"):format(kv), "build") end
    labels[k] = v
  end
  for _, kv in ipairs(opts.annotation or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return getopt.usage_error(("bad --annotation %q: expected KEY=VALUE"):format(kv), "build") end
    annotations[k] = v
  end
  local ctx = path.abs(context)
  local rec, err, code = dockerfile.load { file = file, display = display, context = ctx, args = args,
    target = opts.target, platforms = platforms }
  if not rec then return nil, err, exit_code(code) end
  local images = rec.images or { rec }
  for _, img in ipairs(images) do
    local ok
    ok, err = img:set_labels(labels)
    if ok then ok, err = img:annotate(annotations) end
    if not ok then return getopt.usage_error(err, "build") end
  end
  return progress.run(opts.progress or (opts.quiet and "quiet"), "build", function(rep)
    local targets, terr = results.targets(opts)
    if not targets then return nil, terr, 1 end
    local r, serr, scode, where = save.save(rec, { tag = opts.tag, archive = opts.output and path.abs(opts.output),
      cache = not opts["no-cache"], push = opts.push or nil }, { store = g.store, warn = rep.warn,
      on_event = rep.on_event, registry = reg, shared_cache = cache })
    rep.finish()
    if not r then
      -- a failure of a Dockerfile's instruction names its line
      if where and serr:sub(1, #where + 2) ~= where .. ": " then serr = where .. ": " .. serr end
      return nil, serr, exit_code(scode)
    end
    return results.report(r, targets, opts.quiet)
  end, say)
end

return M
