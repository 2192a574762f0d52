--- What the CLI shows while it works, from the events of ocibuild.events,
-- on standard error: `tty` (a live line per running stage, redrawn at most
-- ten times a second, gone when done), `plain` (one line per finished
-- stage), `json` (one JSON object per event), `quiet` (nothing), `auto`
-- (tty when standard error is a terminal, else nothing). Warnings are
-- printed in every mode (as events in json mode), a layer's once per change
-- (ocibuild.cli.warnings), none with -q. A command plugs in with
-- `progress.run(opts.progress, "push", function(rep) ... end)` and prints
-- the lines it prints while the work goes on (a pushed blob) with
-- rep.print(line, io.stdout), which keeps them out of the live lines.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local getopt = require "ocibuild.cli.getopt"
local json = require "ocibuild.oci.json"
local output = require "ocibuild.cli.output"
local tty = require "ocibuild.cli.tty"
local warnings = require "ocibuild.cli.warnings"

local M = {}

M.MODES = { "auto", "tty", "plain", "json", "quiet" }

--- The option's line for a command's HELP text.
M.HELP = "  --progress MODE        auto|tty|plain|json|quiet: what standard error shows while\n"
  .. "                         it works (default auto: live lines on a terminal)\n"

local function seconds(t) return ("%.1fs"):format(t) end

local function plain_line(ev, took)
  if ev.type == "end" then
    if ev.stage == "layer" then
      return ("%s: %d entries, %s -> %s, %s%s"):format(ev.id, ev.entries or 0, output.human(ev.bytes or 0),
        output.human(ev.size or 0), seconds(took), ev.cache and ("; from cache %s: %s not compressed, %s fetched")
          :format(ev.cache, output.human(ev.saved or 0), output.human(ev.fetched or 0)) or "")
    elseif ev.stage == "image" then
      return ("image %s: %s, %s, %s"):format(ev.id, ev.digest or "", output.human(ev.size or 0), seconds(took))
    end
    return ("%s %s: done, %s"):format(ev.stage, ev.id, seconds(took))
  elseif ev.type == "blob" and ev.stage ~= "archive" then
    return ("%s%s: %s, %s"):format(ev.stage and (ev.stage .. " ") or "", ev.digest, ev.action, output.human(ev.size))
  end
end

-- Strings for JSON: invalid UTF-8 (a path on disk) becomes U+FFFD.
local function utf8_clean(s)
  if utf8.len(s) then return s end
  return (s:gsub("[\128-\255]+", function(run)
    return utf8.len(run) and run or ("\239\191\189"):rep(#run)
  end))
end

local function to_json(ev, ms)
  local o = json.object { ms = ms }
  for k, v in pairs(ev) do
    if type(k) == "string" then
      if type(v) == "string" then
        o[k] = utf8_clean(v)
      elseif type(v) == "table" then
        local a = json.array {}
        for i, x in ipairs(v) do a[i] = type(x) == "string" and utf8_clean(x) or x end
        o[k] = a
      elseif math.type(v) == "integer" or type(v) == "boolean" then
        o[k] = v
      end
    end
  end
  return json.encode(o)
end

--- A reporter for mode (nil: auto; -q makes the caller pass "quiet").
-- opts: {stream= (default io.stderr), terminal= (columns, or false: not a
-- terminal; default asks core.terminal(2), again at each redraw),
-- verbose= (every warning in full, every time), quiet= (no warnings:
-- -q)}. Returns {mode=, on_event= (nil when nothing listens), warn=,
-- print=, finish=, fail=}, or nil and a usage message.
function M.new(mode, opts)
  opts = opts or {}
  mode = mode or "auto"
  local known = false
  for _, m in ipairs(M.MODES) do known = known or m == mode end
  if not known then
    return nil, ("bad --progress %q: expected %s"):format(mode, table.concat(M.MODES, ", ")), "USAGE"
  end
  local out = opts.stream or io.stderr
  local term, width = opts.terminal, nil
  if term == nil then
    term = core.terminal(2)
    width = function() return core.terminal(2) end
  end
  if mode == "auto" then
    local dumb = os.getenv("TERM") == "dumb"
    mode = (term and not dumb) and "tty" or "quiet"
  end
  local rep = { mode = mode }
  local t0 = core.clock()
  local started = {}

  function rep.warn(msg) out:write("ocibuild: warning: ", check.line(msg), "\n") end
  --- Prints a line on stream (a result, while the work goes on).
  function rep.print(line, stream)
    stream:write(line, "\n")
    stream:flush()
  end
  function rep.finish() end
  --- The message for the CLI to print, or nil when it was reported here
  -- (code: the failure's code).
  function rep.fail(msg) return msg end

  if mode == "tty" then
    local live = tty.new(out, { columns = term and term > 0 and term or tonumber(os.getenv("COLUMNS")) or 80,
      width = width })
    rep.on_event = function(ev) live:event(ev, core.clock()) end
    rep.warn = function(msg) live:print("ocibuild: warning: " .. check.line(msg)) end
    rep.print = function(line, stream) live:print(line, stream) end
    rep.finish = function() live:clear() end
  elseif mode == "plain" then
    rep.on_event = function(ev)
      local key = (ev.stage or "") .. "\0" .. (ev.id or "")
      if ev.type == "start" then
        started[key] = core.clock()
      else
        local took = started[key] and core.clock() - started[key] or 0
        local line = plain_line(ev, took)
        if ev.type == "end" then started[key] = nil end
        if line then out:write(line, "\n") end
      end
    end
  elseif mode == "json" then
    local function emit(ev)
      out:write(to_json(ev, math.floor((core.clock() - t0) * 1000)), "\n")
      out:flush()
    end
    rep.on_event = emit
    rep.warn = function(msg) emit { type = "warning", message = msg } end
    rep.fail = function(msg, code)
      emit { type = "error", message = msg, code = code }
      return nil
    end
    return rep
  end
  local finish = rep.finish
  local warn, on_event, flush = warnings.filter(rep.warn, rep.on_event, opts)
  rep.warn, rep.on_event = warn, on_event
  rep.finish = function()
    flush()
    finish()
  end
  return rep
end

-- The reporter of the run going on (the global --progress's), which a
-- command's own run reuses.
local active

--- Runs fn(rep) with a reporter for mode and returns what fn returns (a
-- command's true | nil, msg, code), the live lines cleared whatever
-- happens (fn calls rep.finish() itself before printing results). A bad
-- mode is a usage error of command cmd; in json mode a failure is
-- reported as an `error` event (with its code) instead of a text line.
-- opts: those of new (verbose=, quiet=). Inside another run (the global
-- --progress's), fn gets that run's reporter.
function M.run(mode, cmd, fn, opts)
  if active then return fn(active) end
  local rep, err = M.new(mode, opts)
  if not rep then return getopt.usage_error(err, cmd) end
  active = rep
  local ok, a, b, c = xpcall(fn, debug.traceback, rep)
  active = nil
  rep.finish()
  if not ok then error(a, 0) end
  if not a and b then b = rep.fail(b, c) end
  return a, b, c
end

return M
