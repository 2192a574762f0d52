--- The options of every registry transfer (push, pull, login, a build's
-- base or push, sign, verify), defined once: what the command line's
-- registry flags set, what a program's or a script's `registry` table may
-- hold, and how the two are merged (the given over the defaults). The
-- client (ocibuild.registry.client) reads them; a sandboxed script's
-- policy (ocibuild.ops.reach) may refuse some of them.
-- Functions return nil, msg, code on failure.
local check = require "ocibuild.util.check"

local M = {}

--- Every registry option: creds ("USER:PASSWORD" or {username=,
-- password=}), authfile, ca_file, insecure, plain_http, jobs (transfers at
-- once), chunk_size (bytes), timeout (seconds), min_speed (bytes a
-- second), speed_time (seconds), retries.
M.KEYS = { "creds", "authfile", "ca_file", "insecure", "plain_http", "jobs", "chunk_size", "timeout",
  "min_speed", "speed_time", "retries" }

--- The options that name files on the host (made absolute, and checked
-- by a sandbox, where they are given).
M.PATHS = { "authfile", "ca_file" }

local IS_KEY = {}
for _, k in ipairs(M.KEYS) do IS_KEY[k] = true end

--- true when k is a registry option.
function M.is_key(k)
  return IS_KEY[k] == true
end

--- The registry options of `given` (a table that may hold other keys
-- too: only the registry options are taken) over `defaults`; policy (a
-- sandboxed script's, or nil) may refuse what `given` sets; host(p, what)
-- makes the paths given absolute (and may refuse them). Returns a new
-- table, or nil, msg, code.
function M.merge(defaults, given, policy, host)
  local o = {}
  for k, v in pairs(defaults or {}) do o[k] = v end
  local mine = {}
  for k, v in pairs(given or {}) do
    if IS_KEY[k] then mine[k] = v end
  end
  for _, k in ipairs(M.PATHS) do
    if type(mine[k]) == "string" and host then
      local p, err, code = host(mine[k], k)
      if not p then return nil, err, code end
      mine[k] = p
    end
  end
  if policy and next(mine) then
    local ok, err, code = policy.registry_options(mine)
    if not ok then return nil, err, code end
  end
  for k, v in pairs(mine) do o[k] = v end
  return o
end

--- Checks that t (a `registry` table) holds only registry options.
-- Returns t, or nil, msg ("WHAT: unknown option ...", with a suggestion),
-- "BADVALUE".
function M.check(t, what)
  if type(t) ~= "table" then return nil, ("%s must be a table"):format(what), "BADVALUE" end
  local ok, err = check.keys(t, M.KEYS, what)
  if not ok then return nil, err, "BADVALUE" end
  return t
end

return M
