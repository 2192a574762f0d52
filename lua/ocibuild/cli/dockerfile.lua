--- `ocibuild build -f FILE CONTEXT` (or a CONTEXT holding a Dockerfile):
-- which Dockerfile, and the build verb's args for it (ocibuild.ops.build
-- reads and plans it, every refusal before any work, then builds, tags,
-- pushes like a directory build). Only the options that mean something
-- for a Dockerfile are taken; the others are usage errors naming
-- --as-layer.
local dockerfile = require "ocibuild.dockerfile"
local getopt = require "ocibuild.cli.getopt"
local path = require "ocibuild.util.path"

local M = {}

-- The options of a directory build that a Dockerfile build does not take.
M.DIR_ONLY = { "dest", "from", "env", "entrypoint", "cmd", "workdir", "user", "expose", "volume", "stop-signal",
  "exclude", "compression", "level", "jobs", "mtime", "mode", "owner" }

--- How messages name a Dockerfile read from standard input (-f -).
M.STDIN = "<stdin>"

--- The Dockerfile to build: -f's ("-" for standard input), or
-- CONTEXT/Dockerfile (or Containerfile) unless --as-layer. Returns path,
-- display name, or nil (build the folder). shown: the context as messages
-- name it (default: the folder).
function M.choose(opts, context, shown)
  if opts.file == "-" then return "-", M.STDIN end
  if opts.file then return path.abs(opts.file), opts.file end
  if opts["as-layer"] then return nil end
  local found = dockerfile.find(context)
  if found then return found, path.join(shown or context, found:match("[^/]+$")) end
end


--- The build verb's args for a Dockerfile build (ocibuild.ops.build),
-- from the parsed options, the context operand and the Dockerfile chosen.
-- Returns them, or nil, msg, "USAGE".
function M.args(opts, context, file, display)
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
  local labels, err = getopt.pairs(opts.label, "label")
  if not labels then return getopt.usage_error(err, "build") end
  local annotations
  annotations, err = getopt.pairs(opts.annotation, "annotation")
  if not annotations then return getopt.usage_error(err, "build") end
  local text
  if file == "-" then
    file, text = nil, io.stdin:read(dockerfile.MAX_FILE + 1) or ""
    if #text > dockerfile.MAX_FILE then
      return nil, ("%s: the Dockerfile is larger than %d MiB"):format(display, dockerfile.MAX_FILE >> 20), "TOOBIG"
    end
  end
  return { dockerfile = { file = file, text = text, display = display, context = context, args = args,
    target = opts.target, platform = opts.platform }, labels = labels, annotations = annotations }
end

return M
