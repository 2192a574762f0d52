--- What the CLI says of warnings. A layer's warnings (the walk's notes:
-- names that differ only in case, mount points, setuid files) are held
-- until the layer ends and then said once per change: not at all when the
-- layer's blob is the last build's (`whole`: nothing changed, so they were
-- said then), else one line per kind, the first in full with how many
-- more; verbose, every one, every time. Other warnings are said at once;
-- quiet, none at all (they are not errors).
local M = {}

-- The kinds of the walk's warnings, by the core's wording (src/layer/notes.c),
-- each with the "more ... are not reported" line that ends its count.
local KINDS = {
  { "case", { "differ only in case" } },
  { "mount", { "is a mount point", "crossings into other file systems" } },
  { "setid", { "keeps its setuid", "keeps its setgid", "setuid or setgid bit are not reported" } },
}

local function kind(msg)
  for _, k in ipairs(KINDS) do
    for _, p in ipairs(k[2]) do
      if msg:find(p, 1, true) then return k[1] end
    end
  end
end

--- The lines that say list (a layer's warnings, in order) for the layer
-- named id: one per kind, its first warning with "(and N more like it in
-- ID; -v lists them)" (N+ when the core stopped counting); a warning of
-- no known kind as it is. Never fails.
function M.summary(list, id)
  local groups, by_kind = {}, {}
  for _, msg in ipairs(list) do
    local k = kind(msg)
    local g = k and by_kind[k]
    if not g then
      g = { more = 0 }
      groups[#groups + 1] = g
      if k then by_kind[k] = g end
    end
    if k and msg:match("^more .* are not reported$") then
      g.capped = true
    elseif not g.first then
      g.first = msg
    else
      g.more = g.more + 1
    end
  end
  local lines = {}
  for _, g in ipairs(groups) do
    if g.first and (g.more > 0 or g.capped) then
      lines[#lines + 1] = ("%s (and %d%s more like it in %s; -v lists them)"):format(g.first, g.more,
        g.capped and "+" or "", id)
    elseif g.first then
      lines[#lines + 1] = g.first
    end
  end
  return lines
end

--- Puts the policy between the warnings and events of a command and
-- say(msg) (how a warning is printed) and next_cb (the renderer's
-- on_event, or nil). opts: {verbose=, quiet=}. Returns warn(msg),
-- on_event(ev) (nil when quiet and nothing listens) and flush() (says what
-- a layer that never ended held).
function M.filter(say, next_cb, opts)
  if opts.quiet then return function() end, next_cb, function() end end
  local held, id
  local function flush(whole)
    local list = held
    held = nil
    if not list then return end
    if opts.verbose then
      for _, m in ipairs(list) do say(m) end
    elseif not whole then
      for _, line in ipairs(M.summary(list, id)) do say(line) end
    end
  end
  local function warn(msg)
    if held then held[#held + 1] = msg else say(msg) end
  end
  local function on_event(ev)
    if ev.stage == "layer" and ev.type == "start" then
      flush(false)
      held, id = {}, ev.id
    elseif ev.stage == "layer" and ev.type == "end" then
      flush(ev.whole)
    end
    if next_cb then next_cb(ev) end
  end
  return warn, on_event, function() flush(false) end
end

return M
