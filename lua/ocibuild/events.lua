--- Events: what long operations (builds, layer jobs, copies, pushes and
-- pulls) report while they run, as tables passed to an `on_event(ev)`
-- callback on the caller's thread. `M.SCHEMA` lists every type and field;
-- the CLI's renderers (ocibuild.cli.progress) draw them, `--progress=json`
-- prints them, and the README documents them from the same list.
-- A callback that raises stops the operation; what it had written is
-- removed and the error is raised again to the caller.
-- @module ocibuild.events
local M = {}

--- Every event type with its fields: "string", "integer", "boolean",
-- "strings" (a list of strings); a trailing "?" marks a field that may be
-- absent. `stage` is one of M.STAGES; `id` names the stage's instance,
-- unique among the stages running at the same time, and is what people
-- see ("layer 1/2", a tag, a path, a digest).
M.SCHEMA = {
  start = { stage = "string", id = "string", index = "integer?", count = "integer?",
    context = "string?", dest = "string?", tags = "strings?", path = "string?", ref = "string?" },
  progress = { stage = "string", id = "string", bytes = "integer", entries = "integer?",
    out = "integer?", total = "integer?" },
  ["end"] = { stage = "string", id = "string", index = "integer?", digest = "string?",
    diff_id = "string?", image_id = "string?", size = "integer?", bytes = "integer?",
    entries = "integer?", reused = "integer?", whole = "boolean?", tags = "strings?",
    store = "string?", path = "string?", ref = "string?", cache = "string?", saved = "integer?",
    fetched = "integer?" },
  blob = { digest = "string", size = "integer", action = "string", stage = "string?",
    id = "string?" },
  warning = { message = "string" },
  error = { message = "string", code = "string" },
}

--- The stages: an image build from start to tags (image), one layer
-- (layer), writing an OCI archive (archive: a build's, an export),
-- registry transfers (push, pull: one stage per image, with a progress
-- line per blob whose `id` is the blob's digest, ended by its `blob`
-- event), importing an archive or a layout (import), and copying an
-- image from one place to another (copy).
M.STAGES = { image = true, layer = true, archive = true, push = true, pull = true, import = true, copy = true }

--- What a `blob` event's action says: the target had it (exists), it
-- was copied between local endpoints (copied), mounted from another
-- repository of the registry (mounted), sent (uploaded) or fetched
-- (downloaded).
M.ACTIONS = { exists = true, copied = true, mounted = true, uploaded = true, downloaded = true }

local function type_ok(v, want)
  if want == "strings" then
    if type(v) ~= "table" then return false end
    for k, s in pairs(v) do
      if math.type(k) ~= "integer" or type(s) ~= "string" then return false end
    end
    return true
  elseif want == "integer" then
    return math.type(v) == "integer"
  end
  return type(v) == want
end

--- Checks ev against the schema. Returns true, or nil and what is wrong
-- (an unknown type or field, a missing field, a value of the wrong type).
function M.check(ev)
  if type(ev) ~= "table" then return nil, "event is not a table", "BADEVENT" end
  local schema = M.SCHEMA[ev.type]
  if not schema then return nil, ("unknown event type %s"):format(tostring(ev.type)), "BADEVENT" end
  for k, v in pairs(ev) do
    if k ~= "type" and k ~= "ms" then
      local want = schema[k]
      if not want then return nil, ("%s event: unknown field %s"):format(ev.type, tostring(k)), "BADEVENT" end
      if not type_ok(v, want:gsub("%?$", "")) then
        return nil, ("%s event: %s must be %s"):format(ev.type, k, want:gsub("%?$", "")), "BADEVENT"
      end
    end
  end
  for k, want in pairs(schema) do
    if want:sub(-1) ~= "?" and ev[k] == nil then
      return nil, ("%s event: %s is missing"):format(ev.type, k), "BADEVENT"
    end
  end
  if ev.stage ~= nil and not M.STAGES[ev.stage] then
    return nil, ("%s event: unknown stage %s"):format(ev.type, ev.stage), "BADEVENT"
  end
  if ev.type == "blob" and not M.ACTIONS[ev.action] then
    return nil, ("blob event: unknown action %s"):format(ev.action), "BADEVENT"
  end
  return true
end

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

--- A callback that adds the fields of `extra` to each event it passes on
-- to next (nil when next is nil: no callback, no cost); warnings pass
-- as they are.
function M.tagged(next_cb, extra)
  if not next_cb then return nil end
  return function(ev)
    if ev.type ~= "warning" then
      for k, v in pairs(extra) do
        if ev[k] == nil then ev[k] = v end
      end
    end
    next_cb(ev)
  end
end

return M
