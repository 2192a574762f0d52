--- What a build takes from its environment: SOURCE_DATE_EPOCH (the
-- time written into layers and config) and OCIBUILD_JOBS (compression
-- threads), each checked, with a message naming the variable.
local core = require "ocibuild.core"

local M = {}

-- The latest time RFC 3339 (and skopeo, umoci) can write: 9999-12-31T23:59:59Z.
M.MAX_TIME = 253402300799

--- SOURCE_DATE_EPOCH as an integer, nil when unset, or nil, msg when it
-- is not a decimal integer of seconds up to the year 9999.
function M.source_date_epoch()
  local s = os.getenv("SOURCE_DATE_EPOCH")
  if s == nil or s == "" then return nil end
  local n = s:match("^%d+$") and #s <= 15 and math.tointeger(tonumber(s))
  if not n or n > M.MAX_TIME then
    return nil, ("SOURCE_DATE_EPOCH must be a decimal integer of seconds up to %d (9999-12-31), got %q")
      :format(M.MAX_TIME, s), "BADENV"
  end
  return n
end

--- The number of compression threads: $OCIBUILD_JOBS or the online cores.
function M.default_jobs()
  local env = os.getenv("OCIBUILD_JOBS")
  if env and env ~= "" then
    local n = math.tointeger(tonumber(env))
    if not n or n < 1 or n > 256 then
      return nil, ("OCIBUILD_JOBS must be an integer from 1 to 256, got %q"):format(env), "BADENV"
    end
    return n
  end
  return core.ncpu()
end

return M
