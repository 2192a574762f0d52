--- Runs build scripts. A script is loaded as text into its own
-- environment: the standard libraries it needs, `args` (the name=value
-- pairs of the command line), and `require "ocibuild"` bound to the
-- script's folder, so relative paths work from any working directory.
local core = require "ocibuild.core"
local ocibuild = require "ocibuild"
local path = require "ocibuild.path"

local M = {}

local SAFE = { "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "rawequal",
  "rawget", "rawlen", "rawset", "select", "setmetatable", "getmetatable", "tonumber",
  "tostring", "type", "xpcall", "string", "table", "math", "utf8", "os", "io", "coroutine" }

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

--- Runs the script `file` with `args`. opts: {store=, warn=}. Returns the
-- script's first result, or nil and "FILE:LINE: message".
function M.run(file, args, opts)
  local text, err = core.read_file(file)
  if not text then return nil, ("cannot read build script: %s"):format(err) end
  local base = path.dirname(path.abs(file))
  local api = ocibuild.new(base, opts)
  local env = { args = args, oci = api }
  for _, k in ipairs(SAFE) do env[k] = _G[k] end
  env._G = env
  env.require = function(name)
    if name == "ocibuild" then return api end
    return require(name)
  end
  local chunk
  chunk, err = load(text, "@" .. file, "t", env)
  if not chunk then return nil, err end
  local ok, result = pcall(chunk)
  if not ok then
    local src = debug.getinfo(chunk, "S").short_src
    if type(result) ~= "string" then
      result = ("%s: error: %s"):format(file, tostring(result))
    elseif result:sub(1, #src + 1) ~= src .. ":" then
      -- Raised through a tail call (`return img:save {...}`), the error
      -- lost the script's line: it still names the script.
      result = ("%s: %s"):format(src, result)
    end
    return nil, result
  end
  return result == nil and true or result
end

return M
