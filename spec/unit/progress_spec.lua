-- The event schema and the renderers, driven with events and a clock of
-- our own: what each mode writes, how often the live lines are redrawn,
-- and that they are gone when the work is done.
local events = require "ocibuild.events"
local progress = require "ocibuild.cli.progress"
local tty = require "ocibuild.cli.tty"

-- A stream that keeps what is written.
local function sink()
  local s = { parts = {} }
  function s:write(...)
    for _, x in ipairs { ... } do self.parts[#self.parts + 1] = x end
    return self
  end
  function s:flush() return self end
  function s:text() return table.concat(self.parts) end
  return s
end

local LAYER = { type = "start", stage = "layer", id = "layer 1/1", index = 1, count = 1, context = "/src/site",
  dest = "/usr/share/site/" }

describe("ocibuild.events", function()
  it("checks events against the schema", function()
    assert.is_true(events.check(LAYER))
    assert.is_true(events.check { type = "progress", stage = "push", id = "sha256:ab", bytes = 5, total = 10 })
    assert.is_true(events.check { type = "blob", digest = "sha256:ab", size = 3, action = "mounted", stage = "push" })
    assert.is_true(events.check { type = "end", stage = "image", id = "a:1", tags = { "a:1" }, digest = "sha256:ab" })
    for _, case in ipairs {
      { { type = "bogus" }, "unknown event type bogus" },
      { { type = "start", stage = "layer" }, "start event: id is missing" },
      { { type = "start", stage = "layer", id = "x", colour = "red" }, "start event: unknown field colour" },
      { { type = "progress", stage = "layer", id = "x", bytes = 1.5 }, "progress event: bytes must be integer" },
      { { type = "end", stage = "image", id = "x", tags = { 1 } }, "end event: tags must be strings" },
      { { type = "start", stage = "dance", id = "x" }, "start event: unknown stage dance" },
      { { type = "blob", digest = "d", size = 1, action = "teleported" }, "blob event: unknown action teleported" },
    } do
      assert.same({ nil, case[2], "BADEVENT" }, { events.check(case[1]) })
    end
  end)

  it("tags the events it passes on, and costs nothing without a callback", function()
    local got
    local cb = events.tagged(function(ev) got = ev end, { stage = "layer", id = "layer 1/2" })
    cb { type = "progress", bytes = 1, entries = 1, out = 0 }
    assert.same({ type = "progress", bytes = 1, entries = 1, out = 0, stage = "layer", id = "layer 1/2" }, got)
    assert.is_nil(events.tagged(nil, { stage = "layer" }))
  end)
end)

describe("ocibuild.cli.tty", function()
  it("draws a line per running stage once it is a redraw old, and removes it when it ends", function()
    local out = sink()
    local live = tty.new(out, { columns = 120 })
    live:event(LAYER, 0)
    assert.equal("", out:text()) -- younger than a redraw interval: not drawn
    live:event({ type = "progress", stage = "layer", id = "layer 1/1", entries = 12, bytes = 4 << 20, out = 1 << 20 },
      1)
    assert.equal("layer 1/1  12 files  4.0 MiB -> 1.0 MiB  4.0 MiB/s  1.0s  /src/site -> /usr/share/site/\27[K",
      out:text())
    live:event({ type = "end", stage = "layer", id = "layer 1/1" }, 1.2)
    assert.equal("\r\27[J", out.parts[#out.parts])
    assert.equal(0, live.drawn)
  end)

  it("redraws at most ten times a second, however many events come", function()
    local out = sink()
    local live = tty.new(out, { columns = 80 })
    live:event({ type = "start", stage = "push", id = "sha256:aa", total = 1000 }, 0)
    local draws = 0
    for i = 1, 1000 do
      local before = #out.parts
      live:event({ type = "progress", stage = "push", id = "sha256:aa", bytes = i, total = 1000 }, i / 1000)
      if #out.parts > before then draws = draws + 1 end
    end
    assert.is_true(draws <= 10, draws)
    assert.is_true(draws >= 9, draws)
  end)

  it("shows a blob's short digest, share, rate and ETA first, and keeps lines to the terminal's width", function()
    local digest = "sha256:" .. ("0123456789abcdef"):rep(4)
    local out = sink()
    local live = tty.new(out, { columns = 80 })
    live:event({ type = "progress", stage = "push", id = digest, bytes = 0, total = 300 << 20 }, 0)
    live:event({ type = "progress", stage = "push", id = digest, bytes = 100 << 20, total = 300 << 20 }, 10)
    assert.equal("push 0123456789ab  33%  10.0 MiB/s  ETA 20s  100.0 MiB/300.0 MiB  10.0s\27[K",
      out:text():match("([^\r]*)$"))
    out = sink()
    live = tty.new(out, { columns = 40 })
    live:event({ type = "progress", stage = "push", id = digest, bytes = 250, total = 1000 }, 0)
    live:event({ type = "progress", stage = "push", id = digest, bytes = 500, total = 1000 }, 1)
    local line = out:text():match("([^\r]*)\27%[K$")
    assert.equal(39, utf8.len(line))
    assert.equal("push 0123456789ab  50%  500 B/s  ETA 1…", line)
    -- a width that changes (a resized terminal) is followed at the next redraw
    local cols = 200
    out = sink()
    live = tty.new(out, { columns = 30, width = function() return cols end })
    live:event({ type = "progress", stage = "push", id = "d", bytes = 500, total = 1000 }, 0)
    live:event({ type = "progress", stage = "push", id = "d", bytes = 500, total = 1000 }, 1)
    assert.truthy(out:text():find("push d  50%  500 B/s  ETA 1s  500 B/1000 B  1.0s\27[K", 1, true))
    cols = 25
    live:event({ type = "progress", stage = "push", id = "d", bytes = 600, total = 1000 }, 2)
    assert.equal(24, utf8.len(out:text():match("([^\r]*)\27%[K$")))
  end)

  it("ends a blob's line with its blob event when the event names no stage (as copies send it)", function()
    local out = sink()
    local live = tty.new(out, { columns = 80 })
    live:event({ type = "progress", stage = "push", id = "sha256:aa", bytes = 1, total = 2 }, 0)
    live:event({ type = "progress", stage = "push", id = "sha256:aa", bytes = 1, total = 2 }, 0.2)
    assert.equal(1, live.drawn)
    live:event({ type = "blob", digest = "sha256:aa", size = 2, action = "uploaded" }, 0.4)
    assert.equal(0, live.drawn)
    assert.equal(0, #live.lines)
  end)

  it("prints a line of another stream above the live lines: cleared, printed, drawn again", function()
    local err, std = sink(), sink()
    local order = {}
    function err:write(...) order[#order + 1] = "err"; return sink().write(self, ...) end
    function std:write(...) order[#order + 1] = "out"; return sink().write(self, ...) end
    local live = tty.new(err, { columns = 80 })
    live:event({ type = "progress", stage = "push", id = "sha256:aa", bytes = 1, total = 2 }, 0)
    live:event({ type = "progress", stage = "push", id = "sha256:bb", bytes = 1, total = 2 }, 0)
    live:event({ type = "progress", stage = "push", id = "sha256:bb", bytes = 1, total = 2 }, 0.2)
    assert.equal(2, live.drawn)
    err.parts, order = {}, {}
    live:print("uploaded   sha256:cc 1 B", std)
    assert.same({ "err", "out", "err" }, order)
    assert.equal("\r\27[1A\27[J", err.parts[1])
    assert.equal("uploaded   sha256:cc 1 B\n", std:text())
    assert.truthy(err:text():find("push sha256:bb", 1, true))
    assert.equal(2, live.drawn)
  end)

  it("redraws several lines in place, and ends a blob's line with its blob event", function()
    local out = sink()
    local live = tty.new(out, { columns = 80 })
    live:event({ type = "progress", stage = "pull", id = "sha256:aa", bytes = 1, total = 2 }, 0)
    live:event({ type = "progress", stage = "pull", id = "sha256:bb", bytes = 1, total = 2 }, 0)
    live:event({ type = "progress", stage = "pull", id = "sha256:bb", bytes = 2, total = 2 }, 0.2)
    assert.equal(2, live.drawn)
    out.parts = {}
    live:event({ type = "blob", stage = "pull", digest = "sha256:aa", size = 2, action = "downloaded" }, 0.4)
    local text = out:text()
    assert.equal("\r\27[1A", text:sub(1, 5)) -- back to the first line
    assert.is_nil(text:find("sha256:aa", 1, true))
    assert.truthy(text:find("sha256:bb", 1, true))
    assert.equal("\27[J", text:sub(-3)) -- the second line's old text cleared
    assert.equal(1, live.drawn)
  end)

  it("prints warnings above the live lines, and never a control character of a name", function()
    local out = sink()
    local live = tty.new(out, { columns = 80 })
    live:event({ type = "start", stage = "layer", id = "layer 1/1", context = "/a\nb\27[2J", dest = "/" }, 0)
    live:event({ type = "progress", stage = "layer", id = "layer 1/1", bytes = 1, entries = 1, out = 1 }, 0.5)
    out.parts = {}
    live:print("ocibuild: warning: skipping socket /a/s")
    local text = out:text()
    assert.equal("\r\27[J", text:sub(1, 4))
    assert.truthy(text:find("ocibuild: warning: skipping socket /a/s\n", 1, true))
    assert.truthy(text:find("/a?b?[2J -> /", 1, true))
  end)
end)

describe("ocibuild.cli.progress", function()
  local function rep(mode)
    local out = sink()
    local r = assert(progress.new(mode, { stream = out, terminal = false }))
    return r, out
  end

  it("auto is quiet when standard error is not a terminal, tty when it is", function()
    local r = rep("auto")
    assert.equal("quiet", r.mode)
    -- quiet still follows layers (to say their warnings once per change), but -q listens to nothing
    assert.is_function(r.on_event)
    assert.is_nil(progress.new("quiet", { stream = sink(), terminal = false, quiet = true }).on_event)
    local out = sink()
    assert.equal("tty", progress.new(nil, { stream = out, terminal = 100 }).mode)
  end)

  it("refuses a mode it does not know", function()
    assert.same({ nil, 'bad --progress "fancy": expected auto, tty, plain, json, quiet', "USAGE" },
      { progress.new("fancy", { stream = sink(), terminal = false }) })
  end)

  it("plain: one line per finished stage, and per pushed or pulled blob", function()
    local r, out = rep("plain")
    r.on_event(LAYER)
    r.on_event { type = "progress", stage = "layer", id = "layer 1/1", entries = 3, bytes = 3072, out = 100 }
    r.on_event { type = "end", stage = "layer", id = "layer 1/1", entries = 3, bytes = 3072, size = 100 }
    r.on_event(LAYER)
    r.on_event { type = "end", stage = "layer", id = "layer 1/1", entries = 3, bytes = 3072, size = 100,
      cache = "reg.example/team/cache", saved = 3072, fetched = 100 }
    r.on_event { type = "blob", stage = "archive", digest = "sha256:aa", size = 1, action = "copied" }
    r.on_event { type = "blob", stage = "push", digest = "sha256:bb", size = 2048, action = "uploaded" }
    r.on_event { type = "end", stage = "image", id = "a:1", digest = "sha256:cc", size = 5000 }
    r.warn("careful")
    local lines = {}
    for l in out:text():gmatch("[^\n]+") do lines[#lines + 1] = l:gsub("%d+%.%ds$", "Ns"):gsub("%d+%.%ds;", "Ns;") end
    assert.same({ "layer 1/1: 3 entries, 3.0 KiB -> 100 B, Ns",
      "layer 1/1: 3 entries, 3.0 KiB -> 100 B, Ns; from cache reg.example/team/cache: 3.0 KiB not compressed, "
        .. "100 B fetched", "push sha256:bb: uploaded, 2.0 KiB",
      "image a:1: sha256:cc, 4.9 KiB, Ns", "ocibuild: warning: careful" }, lines)
  end)

  it("json: one object per event, with ms since the start, warnings and failures as events", function()
    local r, out = rep("json")
    r.on_event(LAYER)
    r.warn("careful")
    assert.is_nil(r.fail("it broke"))
    local lines = {}
    for l in out:text():gmatch("[^\n]+") do lines[#lines + 1] = require("cjson").decode(l) end
    assert.equal(3, #lines)
    assert.is_true(lines[1].ms >= 0 and lines[1].ms % 1 == 0)
    assert.truthy(out:text():find('^{"context":"/src/site","count":1,"dest":"/usr/share/site/","id":"layer' ..
      ' 1/1","index":1,"ms":%d+,'))
    lines[1].ms, lines[2].ms, lines[3].ms = nil, nil, nil
    assert.same({ type = "start", stage = "layer", id = "layer 1/1", index = 1, count = 1, context = "/src/site",
      dest = "/usr/share/site/" }, lines[1])
    assert.same({ type = "warning", message = "careful" }, lines[2])
    assert.same({ type = "error", message = "it broke" }, lines[3])
  end)

  it("json: names that are not UTF-8 are still valid JSON", function()
    local r, out = rep("json")
    r.on_event { type = "start", stage = "layer", id = "layer 1/1", context = "/a\255b" }
    assert.equal("/a\239\191\189b", require("cjson").decode(out:text()).context)
  end)

  it("holds a layer's warnings to its end: one line per kind, none when the layer is unchanged", function()
    local function run(opts, whole, mode)
      local out = sink()
      local r = assert(progress.new(mode or "quiet", { stream = out, terminal = false, verbose = opts.verbose,
        quiet = opts.quiet }))
      r.warn("before the layer")
      if r.on_event then r.on_event(LAYER) end
      for i = 1, 3 do r.warn(("/c/x%d and its sibling X%d differ only in case: they collide"):format(i, i)) end
      r.warn("more names that differ only in case are not reported")
      r.warn("/c/su keeps its setuid bit (mode 4755)")
      r.warn("skipping socket /c/s")
      r.warn("skipping socket /c/t")
      if r.on_event then r.on_event { type = "end", stage = "layer", id = "layer 1/1", whole = whole } end
      r.finish()
      return out:text()
    end
    local said = table.concat({
      "ocibuild: warning: before the layer",
      "ocibuild: warning: /c/x1 and its sibling X1 differ only in case: they collide (and 2+ more like it in "
        .. "layer 1/1; -v lists them)",
      "ocibuild: warning: /c/su keeps its setuid bit (mode 4755)",
      "ocibuild: warning: skipping socket /c/s",
      "ocibuild: warning: skipping socket /c/t", "" }, "\n")
    assert.equal(said, run({}, false))
    assert.equal(said, (run({}, false, "plain"):gsub("layer 1/1: 0 entries[^\n]*\n", "")))
    assert.equal("ocibuild: warning: before the layer\n", run({}, true))
    assert.equal(8, select(2, run({ verbose = true }, true):gsub("\n", "")))
    assert.equal("", run({ quiet = true }, false))
    -- json: every warning, as events
    assert.equal(8, select(2, run({}, true, "json"):gsub('"type":"warning"', "")))
  end)

  it("run: clears the live lines and passes the command's result on", function()
    assert.same({ nil, "bad --progress \"x\": expected auto, tty, plain, json, quiet (see 'ocibuild push --help')",
      "USAGE" },
      { progress.run("x", "push", function() end) })
    assert.same({ true }, { progress.run("quiet", "push", function() return true end) })
    assert.same({ nil, "failed", "ENOENT" }, { progress.run("quiet", "push", function() return nil, "failed",
      "ENOENT" end) })
    local ok, err = pcall(progress.run, "quiet", "push", function() error("boom") end)
    assert.is_false(ok)
    assert.truthy(err:find("boom", 1, true) and err:find("traceback", 1, true), err)
  end)
end)
