--- Runs build scripts. A script is loaded as text into its own
-- environment: the sandbox of ocibuild.api.sandbox (or, with `unsafe`, every
-- standard library), `args` (the name=value pairs of the command line),
-- and `require "ocibuild"` bound to the script's folder, so relative paths
-- work from any working directory. Every failure is one message whose
-- first part is FILE:LINE, the script's line at fault.
local core = require "ocibuild.core"
local ocibuild = require "ocibuild"
local path = require "ocibuild.util.path"
local reach = require "ocibuild.ops.reach"
local sandbox = require "ocibuild.api.sandbox"

local M = {}

--- Parses "name=value" words into a table. Returns it or nil, msg.
function M.parse_args(words)
  local args = {}
  for _, w in ipairs(words) do
    local k, v = w:match("^([%a_][%w_.-]*)=(.*)$")
    if not k then return nil, ("bad argument %q: expected name=value"):format(w), "USAGE" end
    args[k] = v
  end
  return args
end

local function unsafe_env(api, args)
  local env = setmetatable({ args = args, oci = api }, { __index = _G })
  env._G = env
  env.require = function(name)
    if name == "ocibuild" then return api end
    return require(name)
  end
  return env
end

-- The message for what the script raised: FILE:LINE: first. An error that
-- carries no position of a script file (raised by the API through a tail
-- call, `return img:save {...}`, or with level 0) gets the line the
-- script was running.
local function message(e, sources, last, file)
  if math.type(e) then e = tostring(e) end
  if type(e) ~= "string" then
    return ("%s: error object is a %s value"):format(last or file, type(e))
  end
  local src = e:match("^(.-):%d+: ")
  for _, shown in pairs(sources) do
    if src == shown then return e end
  end
  return ("%s: %s"):format(last or file, e)
end

--- The limits of a sandboxed script, unless the caller gives others
-- (opts.max_instructions, opts.max_memory; 0 for none): far above what a
-- build script needs (a script spends a few million instructions and
-- megabytes; ocibuild's own work during API calls is not counted), low
-- enough that a loop or a memory bomb stops in seconds.
M.MAX_INSTRUCTIONS = 500000000
M.MAX_MEMORY = 512 << 20
--- A single call of a C function (string.find on a long string) runs no
-- instruction the budget counts: it may take the CPU time of the budget's
-- instructions at this rate (a few times the rate Lua runs at: 10 s for
-- the default budget), then the process ends.
M.INSTRUCTIONS_PER_SECOND = 50000000

local function size(n)
  if n % (1 << 30) == 0 then return ("%d GiB"):format(n >> 30) end
  if n % (1 << 20) == 0 then return ("%d MiB"):format(n >> 20) end
  return ("%d bytes"):format(n)
end

local OVER = {
  instructions = function(l) return ("the build script ran more than %d instructions, its limit "
    .. "(--max-instructions N raises it)"):format(l.instructions) end,
  memory = function(l) return ("the build script needs more than %s of memory, its limit "
    .. "(--max-memory SIZE raises it)"):format(size(l.memory)) end,
}

-- The limits for opts: with `unsafe`, only those given.
local function limits_of(opts)
  local l = { instructions = opts.max_instructions, memory = opts.max_memory }
  if not opts.unsafe then
    l.instructions, l.memory = l.instructions or M.MAX_INSTRUCTIONS, l.memory or M.MAX_MEMORY
  end
  for k, v in pairs(l) do
    if math.type(v) ~= "integer" or v < 0 then
      return nil, ("max_%s must be an integer of at least 0"):format(k), "BADVALUE"
    end
  end
  return l
end

-- Runs chunk under the limits l, keeping the last line run in any of the
-- script's files (sources: chunk name -> the name as messages show it).
-- Returns its first result, or nil and the message.
local function run_limited(chunk, l, sources, file)
  -- a call no count hook can stop (a pattern on a long string) ends the
  -- process after about the time the budget's instructions take
  local stall = (l.instructions or 0) > 0 and math.max(1, l.instructions // M.INSTRUCTIONS_PER_SECOND) or 0
  local lim = core.limits { instructions = l.instructions, memory = l.memory, sources = sources, stall = stall,
    stalled = ("the build script spent more than %d s of CPU time in one call of a library function (a pattern "
      .. "on a long string?), its limit (--max-instructions N raises it)"):format(stall) }
  local ok, result = lim:run(chunk)
  if ok then return true, result end
  local over = lim:exceeded()
  if over then return nil, ("%s: %s"):format(lim:where() or file, OVER[over](l)), "LIMIT" end
  return nil, message(result, sources, lim:where(), file)
end

--- Runs the script `file` with `args`. opts: {store=, warn=, on_event=,
-- registry=, cache= (the shared cache of its saves, see ocibuild.new),
-- unsafe=, max_instructions=, max_memory= (bytes), and what a
-- sandboxed script may reach (ocibuild.ops.reach): allow_registry=,
-- allow_image=, env=; attest= (the sbom, provenance and sign of every
-- save that does not say)}. Returns {value= (the
-- script's first result, true for none), image= (what the CLI reports:
-- the save result the script returned, else the last one it made), saves=
-- (every save result, in order)}, or nil, "FILE[:LINE]: message", code
-- (SCRIPT when the script failed, BADVALUE for a bad limit or reach).
function M.run(file, args, opts)
  opts = opts or {}
  local l, err, code = limits_of(opts)
  if not l then return nil, err, code end
  local text
  text, err, code = core.read_file(file)
  if not text then
    local why = err:match("^[%u%d]+: (.*): ") or err
    return nil, ("%s: cannot read the build script: %s"):format(file, why), code
  end
  local base = path.dirname(path.abs(file))
  local saves, by_table = {}, setmetatable({}, { __mode = "k" })
  local policy
  local aopts = { store = opts.store, registry = opts.registry, cache = opts.cache, warn = opts.warn,
    on_event = opts.on_event,
    -- what the provenance of what it saves names as its definition
    definition = { kind = "script", path = file:match("[^/]*$"), digest = core.sha256():update(text):digest(),
      args = args, context = base }, attest = opts.attest,
    -- the script gets a copy of each result: what the CLI reports is the
    -- original, which the script never sees
    on_save = function(r, given)
      saves[#saves + 1] = r
      by_table[given] = r
      if policy then policy.saved(r) end
    end }
  local sources = {}
  local function on_chunk(name) sources[name] = debug.getinfo(load("", name), "S").short_src end
  local env, api
  if opts.unsafe then
    api = ocibuild.new(base, aopts)
    env = unsafe_env(api, args)
  else
    local root
    root, err, code = core.realpath(base)
    if not root then return nil, ("%s: %s"):format(file, err), code end
    aopts.allow = sandbox.policy(root)
    policy, err = reach.new(opts, function(p) return aopts.allow(p, "store") ~= nil end)
    if not policy then return nil, err, "BADVALUE" end
    aopts.policy = policy
    api = ocibuild.new(base, aopts)
    env = sandbox.env { api = api, args = args, base = base, shown = path.dirname(file),
      allow = aopts.allow, on_chunk = on_chunk, getenv = policy.getenv }
  end
  local chunk
  chunk, err = load(text, "@" .. file, "t", env)
  if not chunk then
    -- a syntax error names its line; a binary chunk's refusal names nothing
    if tostring(err):find("binary chunk", 1, true) then err = ("%s: %s"):format(file, err) end
    return nil, err, "SCRIPT"
  end
  on_chunk("@" .. file)
  local ok, result = run_limited(chunk, l, sources, sources["@" .. file])
  if not ok then return nil, result, "SCRIPT" end
  return { value = result == nil and true or result, image = by_table[result] or saves[#saves],
    saves = saves }
end

return M
