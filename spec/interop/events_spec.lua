-- One verb, one set of events (ocibuild.ops): a push sends the same
-- `push` stage and the same blobs whoever asks for it, the CLI, the Lua
-- API or a build that pushes, and every event fits the schema.
local R = require "support.registry"
local T = require "support"
local events = require "ocibuild.events"

-- The push stage's events of a list, the repository named REPO, without
-- what differs between runs (ms, the actions a registry's own blobs get):
-- the start and end events whole, and the digests of the blob events.
local function push_events(list, repo)
  local stage, blobs = {}, {}
  for _, ev in ipairs(list) do
    assert.is_true(events.check(ev))
    if ev.stage == "push" and (ev.type == "start" or ev.type == "end") then
      local e = {}
      for k, v in pairs(ev) do
        if k ~= "ms" then e[k] = type(v) == "string" and v:gsub(repo:gsub("%p", "%%%0"), "REPO") or v end
      end
      stage[#stage + 1] = e
    elseif ev.type == "blob" then
      blobs[ev.digest] = true
    end
  end
  return { stage = stage, blobs = blobs }
end

-- The JSON events of a command's output (numbers read back as the
-- integers they were).
local function json_lines(text)
  local list = {}
  for l in text:gmatch("[^\n]+") do
    local ev = T.json(l)
    for k, v in pairs(ev) do
      if type(v) == "number" then ev[k] = math.tointeger(v) or v end
    end
    list[#list + 1] = ev
  end
  return list
end

describe("ocibuild.ops events", function()
  local reg, why
  R.serve({}, function(r, w) reg, why = r, w end)

  it("are the same for a push from the CLI, from the Lua API and from a build that pushes", function()
    if not reg then return pending(why) end
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/ctx/a.txt", "the same image three times\n")
    local repos = { cli = reg.host .. "/cli/app", api = reg.host .. "/api/app", build = reg.host .. "/build/app" }
    -- a build that pushes: the image, then its push
    local code, out, err = T.ocibuild("--store", s, "--progress", "json", "build", d .. "/ctx", "-t",
      repos.build .. ":v1", "--push")
    assert.equal(0, code, out .. err)
    local got = { build = push_events(json_lines(err), repos.build) }
    -- the CLI's push of that image
    code, out, err = T.ocibuild("--store", s, "--progress", "json", "push", repos.build .. ":v1", repos.cli .. ":v1")
    assert.equal(0, code, out .. err)
    got.cli = push_events(json_lines(err), repos.cli)
    -- the API's
    T.write(d .. "/push.lua", ([[
local oci = require "ocibuild"
local seen = {}
oci.push(%q, %q, { store = %q, on_event = function(ev) seen[#seen + 1] = ev end })
local json = require "ocibuild.oci.json"
for _, ev in ipairs(seen) do
  local o = json.object {}
  for k, v in pairs(ev) do o[k] = type(v) == "table" and json.array(v) or v end
  print(json.encode(o))
end
]]):format(repos.build .. ":v1", repos.api .. ":v1", s))
    code, out, err = T.ocibuild("--store", s, "run", "--unsafe", d .. "/push.lua")
    assert.equal(0, code, out .. err)
    got.api = push_events(json_lines(out), repos.api)
    assert.equal(2, #got.build.stage)
    assert.equal("start", got.build.stage[1].type)
    assert.same({ type = "end", stage = "push", id = "REPO:v1", ref = got.build.stage[2].ref,
      digest = got.build.stage[2].digest }, got.build.stage[2])
    assert.matches("^REPO@sha256:%x+$", got.build.stage[2].ref)
    assert.same(got.build, got.cli)
    assert.same(got.build, got.api)
  end)
end)
