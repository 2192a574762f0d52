--- A small scheduler over one HTTP client (core.http): tasks (Lua
-- functions) run as coroutines, up to `jobs` at once; a request made in a
-- task yields until its transfer ends, so several transfers go on side by
-- side while their bytes stay in C; outside a task, a request simply
-- waits. Progress of the transfers under way is reported at most every
-- TICK seconds as {type="progress", stage="push"|"pull", id=digest, total=, bytes=}.
local events = require "ocibuild.events"

local M = {}
local Sched = {}
Sched.__index = Sched

M.TICK = 0.1

--- A scheduler of http's transfers. opts: {jobs= (default 4), on_event=}.
function M.new(http, opts)
  opts = opts or {}
  return setmetatable({ http = http, jobs = opts.jobs or 4, on_event = opts.on_event,
    tasks = {}, pending = {}, sleepers = {}, busy = {}, last_tick = 0 }, Sched)
end

function Sched:resume(co, ...)
  local ok, a, b, c = coroutine.resume(co, ...)
  local on_end = self.tasks[co]
  if on_end and coroutine.status(co) == "dead" then on_end(co, ok, a, b, c) end
end

-- Waits up to `timeout` for transfers, resumes the tasks whose request
-- ended or whose sleep is over, and reports progress at most every TICK.
function Sched:pump(timeout)
  local now = self.http:now()
  for _, t in pairs(self.sleepers) do timeout = math.max(0, math.min(timeout, t - now)) end
  local done = assert(self.http:wait(timeout))
  for _, req in ipairs(done) do
    local e = self.pending[req]
    if e then
      e.done = true
      if e.co then self:resume(e.co) end
    end
  end
  now = self.http:now()
  local wake = {}
  for co, t in pairs(self.sleepers) do
    if t <= now then wake[#wake + 1] = co end
  end
  for _, co in ipairs(wake) do
    self.sleepers[co] = nil
    self:resume(co)
  end
  if self.on_event and now - self.last_tick >= M.TICK then
    self.last_tick = now
    for req, e in pairs(self.pending) do
      local p = e.progress
      if p and not e.done then
        local i = req:info()
        events.emit(self.on_event, { type = "progress", stage = p.stage == "download" and "pull" or "push",
          id = p.digest, total = p.size, bytes = (p.base or 0) + (p.stage == "download" and i.received or i.sent) })
      end
    end
  end
end

-- Stops a task: its requests are cancelled, its to-be-closed variables closed.
function Sched:cancel(co)
  for req, e in pairs(self.pending) do
    if e.co == co then
      self.pending[req] = nil
      req:close()
    end
  end
  for key, owner in pairs(self.busy) do
    if owner == co then self.busy[key] = nil end
  end
  self.sleepers[co] = nil
  self.tasks[co] = nil
  coroutine.close(co)
end

--- Runs the functions of fns side by side, at most `jobs` at a time;
-- each returns true or nil, msg, code. The first failure stops the
-- others (their transfers cancelled, their temp files removed) and is
-- returned; an error raised by one (an on_event callback stopping the
-- work) is raised again here after the others are stopped.
function Sched:run(fns)
  local next_i, live, failure, raised = 1, 0, nil, nil
  local mine = {}
  local function on_end(co, ok, r1, msg, code)
    self.tasks[co] = nil
    mine[co] = nil
    live = live - 1
    if not ok then
      raised = raised or { r1 }
      coroutine.close(co)
    elseif not r1 and not failure then
      failure = { msg, code }
    end
  end
  local ok, err = pcall(function()
    while true do
      while not failure and not raised and live < self.jobs and next_i <= #fns do
        local co = coroutine.create(fns[next_i])
        next_i = next_i + 1
        self.tasks[co], mine[co] = on_end, true
        live = live + 1
        self:resume(co)
      end
      if live == 0 or failure or raised then break end
      self:pump(M.TICK)
    end
  end)
  if not ok then raised = raised or { err } end
  for co in pairs(mine) do self:cancel(co) end
  if raised then error(raised[1], 0) end
  if failure then return nil, failure[1], failure[2] end
  return true
end

--- Waits s seconds (inside a task, the others go on meanwhile).
function Sched:sleep(s)
  local co = coroutine.running()
  local until_ = self.http:now() + s
  if self.tasks[co] then
    self.sleepers[co] = until_
    coroutine.yield()
    return
  end
  while self.http:now() < until_ do self:pump(math.min(M.TICK, until_ - self.http:now())) end
end

--- One HTTP exchange (see core.http's start for spec). progress:
-- {stage=, digest=, size=, base=} for progress events. Returns the
-- result (with .info), or nil, msg, code, info.
function Sched:send(spec, progress)
  local req, err, code = self.http:start(spec)
  if not req then return nil, err, code end
  local co = coroutine.running()
  local e = { progress = progress }
  self.pending[req] = e
  if self.tasks[co] then
    e.co = co
    repeat coroutine.yield() until e.done
  else
    while not e.done do self:pump(M.TICK) end
  end
  self.pending[req] = nil
  local res
  res, err, code = req:result()
  local info = req:info()
  req:close()
  if not res then return nil, err, code, info end
  res.info = info
  return res
end

-- Runs fn alone: a task that finds another one inside waits for it to
-- finish, then reports false (so that it looks again at what it left).
function Sched:alone(key, fn)
  if self.busy[key] then
    while self.busy[key] do self:sleep(0.005) end
    return false
  end
  self.busy[key] = coroutine.running()
  local ok, a, b, c = pcall(fn)
  self.busy[key] = nil
  if not ok then error(a, 0) end
  return true, a, b, c
end

return M
