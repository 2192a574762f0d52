--- The verbs: one module per verb under ocibuild.ops, below both the
-- command line (ocibuild.cmd.*) and the Lua API (ocibuild). Each is
-- `ops.VERB(ctx, args)`: ctx from ocibuild.ops.context, args a table of
-- named values (what the API's callers pass, what the CLI parsed). A verb
-- checks its args once, before any work, sends its own stage events
-- through ctx, and returns its result, or nil, msg, code (never raises
-- for a failure of the environment or a bad argument).
--
-- Adding a verb: write ocibuild/ops/VERB.lua (`M.run(ctx, args)`, its
-- OPTIONS, its stage events), list it in M.VERBS; then a command
-- (ocibuild/cmd/VERB.lua, listed in ocibuild.cli.COMMANDS) that parses
-- into args and reports, and, when programs need it, a raising function
-- in ocibuild.api.verbs.
local M = {}

--- The verbs, as ops.VERB functions.
M.VERBS = { "build", "run", "push", "pull", "copy", "export", "import", "tag", "rm", "images", "inspect",
  "diff", "prune", "fsck", "login", "logout", "sign", "verify", "keygen", "ls", "template" }

local IS_VERB = {}
for _, v in ipairs(M.VERBS) do IS_VERB[v] = true end

--- The module of verb `name` (its run, OPTIONS and help for the API).
function M.module(name)
  if not IS_VERB[name] then error(("no verb %q"):format(tostring(name)), 2) end
  return require("ocibuild.ops." .. name)
end

return setmetatable(M, {
  __index = function(t, k)
    if not IS_VERB[k] then return nil end
    local mod = require("ocibuild.ops." .. k)
    local f = function(...) return mod.run(...) end
    rawset(t, k, f)
    return f
  end,
})
