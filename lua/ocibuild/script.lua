--- Runs build scripts. A script is loaded as text into its own
-- environment: the sandbox of ocibuild.sandbox (or, with `unsafe`, every
-- standard library), `args` (the name=value pairs of the command line),
-- and `require "ocibuild"` bound to the script's folder, so relative paths
-- work from any working directory. Every failure is one message whose
-- first part is FILE:LINE, the script's line at fault.
local core = require "ocibuild.core"
local ocibuild = require "ocibuild"
local path = require "ocibuild.path"
local sandbox = require "ocibuild.sandbox"

local M = {}

--- Parses "name=value" words into a table. Returns it or nil, msg.
function M.parse_args(words)
  local args = {}
  for _, w in ipairs(words) do
    local k, v = w:match("^([%a_][%w_.-]*)=(.*)$")
    if not k then return nil, ("bad argument %q: expected name=value"):format(w) end
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

-- Runs chunk, keeping the last line run in any of the script's files
-- (sources: chunk name -> the name as messages show it).
local function run_tracked(chunk, sources)
  local last
  local getinfo = debug.getinfo
  local old = table.pack(debug.gethook())
  debug.sethook(function(_, line)
    local shown = sources[getinfo(2, "S").source]
    if shown then last = shown .. ":" .. line end
  end, "l")
  local ok, result = pcall(chunk)
  if type(old[1]) == "function" then debug.sethook(table.unpack(old, 1, 3)) else debug.sethook() end
  return ok, result, last
end

--- Runs the script `file` with `args`. opts: {store=, warn=, on_event=,
-- unsafe=}. Returns {value= (the script's first result, true for none),
-- image= (what the CLI reports: the save result the script returned, else
-- the last one it made), saves= (every save result, in order)}, or nil
-- and "FILE[:LINE]: message".
function M.run(file, args, opts)
  opts = opts or {}
  local text, err, code = core.read_file(file)
  if not text then
    local why = err:match("^[%u%d]+: (.*): ") or err
    return nil, ("%s: cannot read the build script: %s"):format(file, why), code
  end
  local base = path.dirname(path.abs(file))
  local saves, by_table = {}, setmetatable({}, { __mode = "k" })
  local aopts = { store = opts.store, registry = opts.registry, warn = opts.warn, on_event = opts.on_event,
    -- the script gets a copy of each result: what the CLI reports is the
    -- original, which the script never sees
    on_save = function(r, given)
      saves[#saves + 1] = r
      by_table[given] = r
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
    api = ocibuild.new(base, aopts)
    env = sandbox.env { api = api, args = args, base = base, shown = path.dirname(file),
      allow = aopts.allow, on_chunk = on_chunk }
  end
  local chunk
  chunk, err = load(text, "@" .. file, "t", env)
  if not chunk then return nil, err end
  on_chunk("@" .. file)
  local ok, result, last = run_tracked(chunk, sources)
  if not ok then return nil, message(result, sources, last, sources["@" .. file]) end
  return { value = result == nil and true or result, image = by_table[result] or saves[#saves],
    saves = saves }
end

return M
