--- SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance): the
-- predicate of an in-toto statement about an image, saying what built it
-- (builder id and version), from what (the script or Dockerfile and its
-- SHA-256, args, target, platforms), on what (bases with their digests,
-- and the context's git commit when it is a checkout), and when (start
-- and finish, both SOURCE_DATE_EPOCH when that fixes time). Never fails.
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"
local purl = require "ocibuild.attest.purl"

local M = {}

M.PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
-- ocibuild's own names until the project has a public home; a CI system
-- that runs ocibuild gives its own builder id.
M.BUILD_TYPE = "urn:ocibuild:buildtype:v1"
M.BUILDER = "urn:ocibuild:builder"

local function digest_set(d)
  local alg, hex = d:match("^(%w+):(%x+)$")
  return json.object { [alg] = hex }
end

local function strings(t)
  local o = json.object {}
  for k, v in pairs(t or {}) do o[k] = tostring(v) end
  return o
end

local function dependencies(spec)
  local deps = json.array {}
  for _, b in ipairs(spec.bases or {}) do
    deps[#deps + 1] = json.object { name = b.ref, digest = digest_set(b.digest),
      uri = purl.oci(b.repository, b.digest, { tag = b.tag }) }
  end
  local git = spec.context and spec.context.git
  if git then
    local d = json.object { name = "context", digest = json.object { gitCommit = git.commit } }
    if git.remote then d.uri = "git+" .. git.remote end
    deps[#deps + 1] = d
  end
  return deps
end

--- The predicate. spec: {version= (ocibuild's), builder_id=, definition=
-- {kind= ("script", "dockerfile", "flags"), path=, digest= ("sha256:..")},
-- args= (name = value), target=, platforms= {"os/arch"}, bases= { {ref=,
-- repository=, tag=, digest=} }, context= {git= {commit=, remote=}},
-- started=, finished= (epoch seconds), epoch= (SOURCE_DATE_EPOCH)}.
function M.predicate(spec)
  local def = spec.definition or {}
  local d = json.object { kind = def.kind or "flags" }
  if def.path then d.path = def.path end
  if def.digest then d.digest = digest_set(def.digest) end
  local ext = json.object { definition = d, args = strings(spec.args) }
  if spec.target then ext.target = spec.target end
  if spec.platforms and #spec.platforms > 0 then ext.platforms = json.array(spec.platforms) end
  local started, finished = spec.epoch or spec.started, spec.epoch or spec.finished or spec.started
  local meta = json.object {}
  if started then meta.startedOn = doc.rfc3339(started) end
  if finished then meta.finishedOn = doc.rfc3339(finished) end
  return json.object {
    buildDefinition = json.object { buildType = M.BUILD_TYPE, externalParameters = ext,
      resolvedDependencies = dependencies(spec) },
    runDetails = json.object {
      builder = json.object { id = spec.builder_id or (M.BUILDER .. "@" .. spec.version),
        version = json.object { ocibuild = spec.version } },
      metadata = meta,
    },
  }
end

return M
