--- The verbs: one module per verb under ocibuild.ops, below both the
-- command line (ocibuild.cmd.*) and the Lua API (ocibuild). Each is
-- `ops.VERB(ctx, args)`: ctx from ocibuild.ops.context, args a table of
-- named values (what the API's callers pass, what the CLI parsed), their
-- names checked here against the verb's OPTIONS. A verb checks its args'
-- values once, before any work, sends its own stage events through ctx,
-- and returns its result, or nil, msg, code (never raises for a failure of
-- the environment or a bad argument). Verbs call each other through here.
--
-- Adding a verb: write ocibuild/ops/VERB.lua (its OPTIONS, `M.run(ctx,
-- args)` with args checked against them, its stage events), list it in
-- M.VERBS; then a command
-- (ocibuild/cmd/VERB.lua, listed in ocibuild.cli.COMMANDS) that parses
-- into args and reports, and, when programs need it, a raising function
-- in ocibuild.api.verbs.
local check = require "ocibuild.util.check"

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
    -- a verb's args are checked here, once, against its OPTIONS (a verb
    -- without them checks its own)
    local f = function(ctx, args, ...)
      if mod.OPTIONS then
        local a, err, code = check.args(args, mod.OPTIONS, k)
        if not a then return nil, err, code end
        args = a
      end
      return mod.run(ctx, args, ...)
    end
    rawset(t, k, f)
    return f
  end,
})
