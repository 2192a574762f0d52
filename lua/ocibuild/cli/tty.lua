--- Live progress lines on a terminal: one line per running stage (a layer,
-- a blob being pushed), each saying what it has done so far, its rate and,
-- when the total is known, its share and ETA. A blob's line starts with
-- its short digest and those figures, so that a narrow terminal cuts the
-- rest. The block of lines is redrawn in place at most ten times a second,
-- a stage's line leaves when the stage ends (a blob's with its blob event),
-- and `print` writes a line, to any stream, above the block (cleared,
-- written, redrawn), so that nothing printed lands inside it. Stages
-- younger than a redraw interval are not drawn, so quick commands print
-- nothing.
local output = require "ocibuild.cli.output"

local M = {}
M.__index = M

M.INTERVAL = 0.1

--- A live area on stream (a file) of the given width in columns. opts:
-- {columns=, width= (a function giving the width now, asked at each
-- redraw, so that a resized terminal is followed; 0 or false: unknown)}.
function M.new(stream, opts)
  return setmetatable({ out = stream, columns = math.max(20, opts.columns or 80), width = opts.width,
    lines = {}, byid = {}, drawn = 0, last = nil }, M)
end

-- What a line shows: no control characters, at most `width` characters.
local function fit(s, width)
  s = s:gsub("[%c\127]", "?")
  if (utf8.len(s) or #s) <= width then return s end
  local cut = utf8.offset(s, width) or width
  return s:sub(1, cut - 1) .. "…"
end

-- What names a line: a digest as its first 12 hex digits, after the
-- stage unless the id starts with it ("layer 1/2").
local function label(l)
  local id = l.id
  local hex = id:match("^sha256:(%x+)$")
  if hex and #hex == 64 then id = hex:sub(1, 12) end
  if l.stage and id:sub(1, #l.stage) ~= l.stage then id = l.stage .. " " .. id end
  return id
end

-- A transfer of known size: the share, rate and ETA first.
local function transfer_text(l, took)
  local parts = { label(l), ("%d%%"):format(l.bytes * 100 // l.total) }
  if took > 0.5 then
    local rate = l.bytes / took
    parts[#parts + 1] = output.human(math.floor(rate)) .. "/s"
    if rate > 0 and l.total > l.bytes then
      parts[#parts + 1] = ("ETA %ds"):format(math.ceil((l.total - l.bytes) / rate))
    end
  end
  parts[#parts + 1] = ("%s/%s"):format(output.human(l.bytes), output.human(l.total))
  parts[#parts + 1] = ("%.1fs"):format(took)
  return table.concat(parts, "  ")
end

local function text(l, now)
  local took = now - l.t0
  if l.bytes and l.total and l.total > 0 then return transfer_text(l, took) end
  local parts = { label(l) }
  if l.entries then parts[#parts + 1] = ("%d files"):format(l.entries) end
  if l.bytes then
    parts[#parts + 1] = output.human(l.bytes) .. (l.out and (" -> " .. output.human(l.out)) or "")
    if took > 0.5 then parts[#parts + 1] = output.human(math.floor(l.bytes / took)) .. "/s" end
  end
  parts[#parts + 1] = ("%.1fs"):format(took)
  -- last, so that a narrow terminal cuts the path rather than the figures
  if l.context then parts[#parts + 1] = ("%s -> %s"):format(l.context, l.dest or "/") end
  return table.concat(parts, "  ")
end

function M:draw(now)
  local w = self.width and self.width()
  if w and w > 0 then self.columns = math.max(20, w) end
  local buf = {}
  if self.drawn > 0 then
    buf[1] = "\r"
    if self.drawn > 1 then buf[2] = ("\27[%dA"):format(self.drawn - 1) end
  end
  local n = 0
  for _, l in ipairs(self.lines) do
    if now - l.t0 >= M.INTERVAL then
      if n > 0 then buf[#buf + 1] = "\n" end
      buf[#buf + 1] = fit(text(l, now), self.columns - 1) .. "\27[K"
      n = n + 1
    end
  end
  if n < self.drawn then buf[#buf + 1] = "\27[J" end
  if #buf > 0 then
    self.out:write(table.concat(buf))
    self.out:flush()
  end
  self.drawn = n
  self.last = now
end

local function key(stage, id) return (stage or "") .. "\0" .. (id or "") end

function M:remove(k)
  local l = self.byid[k]
  if not l then return end
  self.byid[k] = nil
  for i, x in ipairs(self.lines) do
    if x == l then
      table.remove(self.lines, i)
      break
    end
  end
end

--- Takes one event at time now (seconds); redraws when the last redraw
-- is at least INTERVAL old.
function M:event(ev, now)
  local k = key(ev.stage, ev.id)
  if ev.type == "start" or ev.type == "progress" then
    local l = self.byid[k]
    if not l then
      l = { stage = ev.stage, id = ev.id or ev.stage or "?", t0 = now }
      self.byid[k] = l
      self.lines[#self.lines + 1] = l
    end
    for _, f in ipairs { "context", "dest", "entries", "bytes", "out", "total" } do
      if ev[f] ~= nil then l[f] = ev[f] end
    end
  elseif ev.type == "end" then
    self:remove(k)
  elseif ev.type == "blob" then
    -- a copy's blob events may carry no stage: any transfer of the digest ends
    if ev.stage then
      self:remove(key(ev.stage, ev.digest))
    else
      for _, stage in ipairs { "push", "pull" } do self:remove(key(stage, ev.digest)) end
    end
  end
  if not self.last or now - self.last >= M.INTERVAL then self:draw(now) end
end

--- Removes the lines from the screen (they come back with the next event).
function M:clear()
  if self.drawn > 0 then
    self.out:write("\r" .. (self.drawn > 1 and ("\27[%dA"):format(self.drawn - 1) or "") .. "\27[J")
    self.out:flush()
    self.drawn = 0
  end
end

--- Prints a line above the live ones, on stream (default: the area's
-- own; standard output when it is the same terminal is the case that
-- matters): the area is cleared first and drawn again after.
function M:print(line, stream)
  local drawn = self.drawn
  self:clear()
  stream = stream or self.out
  stream:write(line, "\n")
  stream:flush()
  if drawn > 0 and self.last then self:draw(self.last) end
end

return M
