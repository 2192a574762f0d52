--- Events: what long operations (layer jobs, copies) report while they
-- run, as tables passed to an `on_event(ev)` callback on the caller's
-- thread. Every event has `type`:
--   {type="progress", stage="layer", entries=, bytes=, out=}   at most 10/s
--   {type="warning", message=}
--   {type="layer", index=, digest=, size=, diff_id=, reused=, whole=}
--   {type="blob", digest=, size=, action=}   when a blob's copy ends; action:
--       "exists" (the target had it), "copied" (between layouts),
--       "mounted" (from another repository of the same registry),
--       "uploaded" (to a registry), "downloaded" (from a registry)
--   {type="progress", stage="upload"|"download", digest=, size=, bytes=}
--       bytes of a blob moved so far, for each transfer under way, at
--       most 10 times a second
-- A callback that raises stops the operation; what it had written is
-- removed and the error is raised again to the caller.
local M = {}

--- Calls on_event(ev) when there is a callback.
function M.emit(on_event, ev)
  if on_event then on_event(ev) end
end

--- A callback that hands warnings to warn(msg) and the rest to next.
function M.with_warnings(warn, next_cb)
  return function(ev)
    if ev.type == "warning" then
      if warn then warn(ev.message) end
    elseif next_cb then
      next_cb(ev)
    end
  end
end

return M
