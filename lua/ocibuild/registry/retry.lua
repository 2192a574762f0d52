--- The registry client's one retry policy. An outcome is worth another
-- try when it may pass: HTTP 408, 429 and 5xx (but 501 and 505), and
-- connections reset or timed out. The wait is the registry's Retry-After
-- (seconds or a date) when it gives one, else a backoff doubled each time
-- (with jitter, so that runners pushing at once spread out). A request
-- is tried at most 1 + `retries` times and never past its deadline (the
-- `timeout` option, retries included). Whether a request may be sent
-- again is its caller's business: bodies in memory and from store blobs
-- can be, a chunk after a partial transfer only once the upload's status
-- is known. Each retry is said in a warning event.
local events = require "ocibuild.events"
local url = require "ocibuild.registry.url"

local M = {}
local Retry = {}
Retry.__index = Retry

M.RETRIES = 4    -- tries after the first, by default
M.BACKOFF = 0.5  -- seconds, the first backoff's middle
M.TIMEOUT = 3600 -- seconds, a request's deadline by default

local CODES = { ECONNRESET = true, ETIMEDOUT = true, EPIPE = true }
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }

--- Whether an answer (res) or a failure (code) may pass when tried again.
-- Never fails.
function M.retryable(res, code)
  if res then
    local s = res.status
    return s == 408 or s == 429 or (s >= 500 and s <= 599 and s ~= 501 and s ~= 505)
  end
  return CODES[code] == true
end

-- Days from 1970-01-01 to y-m-d (proleptic Gregorian).
local function days(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

--- Seconds a Retry-After value asks for (delay-seconds, or an HTTP date
-- against `now`, seconds since the epoch), or nil when it is neither.
function M.after(value, now)
  if type(value) ~= "string" then return nil end
  local n = value:match("^%s*(%d+)%s*$")
  if n then return tonumber(n) end
  local d, mon, y, h, mi, s = value:match("^%s*%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
  if not d or not MONTHS[mon] then return nil end
  local at = days(tonumber(y), MONTHS[mon], tonumber(d)) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  return math.max(0, at - (now or os.time()))
end

--- A policy for one request of client (ocibuild.registry.client): what
-- (e.g. "PUT https://host/v2/..."), for the messages. opts: {retries=,
-- timeout=} (else the client's options, else the defaults).
function M.new(client, what, opts)
  opts = opts or {}
  local o = client.opts or {}
  local timeout = opts.timeout or o.timeout or M.TIMEOUT
  return setmetatable({ client = client, what = url.show(what), tries = 0,
    max = opts.retries or o.retries or M.RETRIES, deadline = client:now() + timeout, timeout = timeout }, Retry)
end

--- Whole seconds left before the deadline (at least 1, for curl's timeout).
function Retry:left()
  return math.max(1, math.ceil(self.deadline - self.client:now()))
end

local function why(res, msg)
  if res then return "HTTP " .. res.status end
  return (tostring(msg):gsub("^%u[%u%d]*: ", ""):gsub(": %a[%w+.-]*://%S*$", ""))
end

--- After an outcome (res, or msg and code): true once the pause before
-- the next try is over, or false (not worth it, or out of tries or time:
-- self.stop says which). always: worth it whatever the outcome.
function Retry:again(res, msg, code, always)
  -- a refused connection to a registry that has answered in this run is
  -- a restart (an ingress pod's) that the next tries may outlast
  local target = tostring(self.what):match("%a[%w+.-]*://%S+")
  local restarting = code == "ECONNREFUSED" and self.client.base ~= nil and target ~= nil
    and url.host(target) == url.host(self.client.base)
  if not (always or restarting or M.retryable(res, code)) then return false end
  if self.tries >= self.max then
    self.stop = self.tries > 0 and ("after %d retries"):format(self.tries) or nil
    return false
  end
  local wait = res and M.after(res.headers["retry-after"])
  local asked = wait ~= nil
  wait = wait or M.BACKOFF * 2 ^ self.tries * (0.5 + math.random())
  if self.client:now() + wait >= self.deadline then
    self.stop = asked and ("it asked to wait %.0f s, past the %.0f s deadline (--timeout)"):format(wait, self.timeout)
      or (self.tries > 0 and ("after %d retries, out of time"):format(self.tries) or nil)
    return false
  end
  self.tries = self.tries + 1
  events.emit(self.client.on_event, { type = "warning", message = ("%s: %s; retrying in %.1f s (%d of %d)")
    :format(self.what, why(res, msg), wait, self.tries, self.max) })
  self.client:sleep(wait)
  return true
end

--- msg with how the retries ended, when there were any. Never fails.
function Retry:say(msg)
  if not self.stop then return msg end
  return ("%s (%s)"):format(msg, self.stop)
end

return M
