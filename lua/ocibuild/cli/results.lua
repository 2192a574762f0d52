--- A build's result for people and programs: the summary on standard
-- output, or with -q the manifest digest alone; --iidfile (the image ID,
-- as `docker build --iidfile` writes it), --digestfile (the manifest
-- digest alone, the one pushed, as podman's --digestfile: a Tekton
-- result) and --metadata-file (JSON with the keys `docker buildx build
-- --metadata-file` writes, and ocibuild's own, the references pushed
-- among them). Output files are checked (ocibuild.endpoint.output) before
-- any work and written atomically after it.
local core = require "ocibuild.core"
local json = require "ocibuild.oci.json"
local output = require "ocibuild.cli.output"
local outfile = require "ocibuild.endpoint.output"
local path = require "ocibuild.util.path"

local M = {}

--- The options' lines for a command's HELP text.
M.HELP = [[
  -q, --quiet            print only the manifest digest (no progress, no warnings)
  -v, --verbose          every warning in full, at every build (by default a
                         layer's are said when it changed: a line per kind)
  --iidfile FILE         write the image ID (the config digest) to FILE
  --digestfile FILE      write the manifest digest (the one pushed) to FILE,
                         alone, as podman does (a Tekton IMAGE_DIGEST)
  --metadata-file FILE   write the result as JSON to FILE: digests, tags, size
]]

--- The options, for a command's getopt spec (with aliases q and v).
M.SPEC = { quiet = "flag", verbose = "flag", iidfile = "value", digestfile = "value",
  ["metadata-file"] = "value" }

--- Adds M.SPEC to a command's spec; returns it.
function M.options(spec)
  for k, v in pairs(M.SPEC) do spec[k] = v end
  spec.alias = spec.alias or {}
  spec.alias.q = "quiet"
  spec.alias.v = "verbose"
  return spec
end

--- What the progress reporter takes of the options (quiet, verbose), or
-- nil and a usage message when they contradict each other.
function M.reporting(opts)
  if opts.quiet and opts.verbose then return nil, "-q and -v exclude each other", "USAGE" end
  return { quiet = opts.quiet, verbose = opts.verbose }
end

--- The output files opts name, absolute and checked before any work:
-- {iidfile=, digestfile=, metadata=}, or nil, why, code.
function M.targets(opts)
  local t = {}
  for _, o in ipairs { { "iidfile", "iidfile" }, { "digestfile", "digestfile" },
      { "metadata", "metadata-file" } } do
    local key, opt = o[1], o[2]
    if opts[opt] then
      local p, err, code = outfile.check(path.abs(opts[opt]), true)
      if not p then return nil, ("--%s: %s"):format(opt, err), code end
      t[key] = p
    end
  end
  return t
end

local function strings(list)
  local a = json.array {}
  for i, s in ipairs(list or {}) do a[i] = s end
  return a
end

--- The metadata document of a save result r: buildx's keys
-- (containerimage.digest, containerimage.config.digest,
-- containerimage.descriptor, image.name) and ocibuild.tags, ocibuild.size,
-- ocibuild.store, ocibuild.archive and ocibuild.pushed when they apply.
function M.metadata(r)
  local names, familiar = {}, {}
  for i, t in ipairs(r.tags or {}) do names[i], familiar[i] = t.normalized, t.familiar end
  local m = r.manifest or {}
  local doc = json.object {
    ["containerimage.digest"] = r.digest,
    ["containerimage.config.digest"] = r.image_id,
    ["containerimage.descriptor"] = json.object { mediaType = m.mediaType, digest = r.digest, size = m.size },
    ["ocibuild.tags"] = strings(familiar),
    ["ocibuild.size"] = r.size,
    ["ocibuild.store"] = r.path,
    ["ocibuild.archive"] = r.archive,
  }
  if #names > 0 then doc["image.name"] = table.concat(names, ",") end
  -- What was pushed: each reference as HOST/NAME@sha256:... .
  local pushed = {}
  for _, p in ipairs(r.pushed or {}) do pushed[#pushed + 1] = type(p) == "table" and p.reference or p end
  if #pushed > 0 then doc["ocibuild.pushed"] = strings(pushed) end
  return doc
end

--- Reports the save result r: the files of targets, then standard output.
-- Returns true, or nil, msg, code.
function M.report(r, targets, quiet)
  if targets.iidfile then
    local ok, err, code = core.replace_file(targets.iidfile, r.image_id)
    if not ok then return nil, ("--iidfile: cannot write %s: %s"):format(targets.iidfile, err), code end
  end
  if targets.digestfile then
    local ok, err, code = core.replace_file(targets.digestfile, r.digest)
    if not ok then return nil, ("--digestfile: cannot write %s: %s"):format(targets.digestfile, err), code end
  end
  if targets.metadata then
    local ok, err, code = core.replace_file(targets.metadata, json.encode(M.metadata(r)) .. "\n")
    if not ok then return nil, ("--metadata-file: cannot write %s: %s"):format(targets.metadata, err), code end
  end
  if quiet then
    io.stdout:write(r.digest, "\n")
  else
    output.result(r)
  end
  return true
end

return M
