--- The state of one API (ocibuild.new): a program's, or one build
-- script's. It holds the verbs' context (ocibuild.ops.context: store,
-- registry options, sinks, the sandbox), the folder relative paths
-- resolve against, and who is told of each saved result; the API's
-- functions and objects (ocibuild.api.image) reach it through this
-- object, never through upvalues. Also the helpers every raising
-- function uses: plain copies of what callers pass, the caller's line,
-- and leaving a script's limits while ocibuild works for it.
local core = require "ocibuild.core"

local M = {}
local Session = {}
Session.__index = Session

--- A session: ctx (an ocibuild.ops.context), on_save (function(result,
-- given) or nil: told of each save result and the copy the caller got).
function M.new(ctx, on_save)
  return setmetatable({ ctx = ctx, base = ctx.base, on_save = on_save }, Session)
end

--- Tables nested deeper than this are copied as a string saying so (no
-- value the API takes nests half as deep): its checks then refuse it.
M.MAX_DEPTH = 64

--- A copy of v in which every table is a plain one, read with `next`: no
-- metamethod of the caller's runs while the copy is made or used.
function M.plain(v, seen, depth)
  if type(v) ~= "table" then return v end
  seen, depth = seen or {}, depth or 0
  if seen[v] then return seen[v] end
  if depth >= M.MAX_DEPTH then return ("(a table nested more than %d deep)"):format(M.MAX_DEPTH) end
  local t = {}
  seen[v] = t
  local k, x = next(v)
  while k ~= nil do
    rawset(t, M.plain(k, seen, depth + 1), M.plain(x, seen, depth + 1))
    k, x = next(v, k)
  end
  return t
end

--- "FILE:LINE" of the caller `level` frames up, or nil.
function M.where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return ("%s:%d"):format(info.short_src, info.currentline)
  end
end

-- A script runs under limits (ocibuild.api.script: instructions, memory,
-- and a hook keeping its current line); ocibuild's own work for it is not
-- counted: `local _ <close> = session.uncharged()` first in each API
-- function.
local RESUME = setmetatable({}, { __close = function() core.limits_resume() end, __metatable = false })

--- A to-be-closed value that keeps the script's limits paused until it
-- goes out of scope (nil when no limits run).
function M.uncharged()
  if core.limits_pause() then return RESUME end
end

--- The copy of the save result r the caller gets: no table ocibuild
-- keeps or made with a metatable (JSON marks) ever reaches a script.
function Session:saved(r)
  local given = M.plain(r)
  if self.on_save then self.on_save(r, given) end
  return given
end

return M
