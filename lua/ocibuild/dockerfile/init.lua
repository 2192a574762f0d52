--- Dockerfiles as a front end onto ocibuild's build objects: a
-- Dockerfile (or Containerfile) and its context become the image a build
-- script would describe (ocibuild.build.image), or an index of one image
-- per platform (ocibuild.build.index), built, tagged and pushed by the
-- same save. Everything in the file is read, planned and checked here,
-- before any work (RUN, a URL without a checksum, an unknown instruction,
-- a bad flag are refused with FILE:LINE); bases are loaded and the
-- stages built when the image is built.
--   dockerfile.load { file =, context =, args = {K = V}, target =,
--                     platforms = {"linux/amd64", ...}, display = }
-- Failures: nil, msg, code (BADDOCKERFILE and USAGE for what the file
-- asks; the CLI exits 2 on them).
local builder = require "ocibuild.dockerfile.builder"
local core = require "ocibuild.core"
local ignore = require "ocibuild.build.ignore"
local image = require "ocibuild.build.image"
local index = require "ocibuild.build.index"
local instructions = require "ocibuild.dockerfile.instructions"
local parser = require "ocibuild.dockerfile.parser"
local platform = require "ocibuild.oci.platform"
local stages = require "ocibuild.dockerfile.stages"

local M = {}

M.NAMES = { "Dockerfile", "Containerfile" }

-- The largest Dockerfile read.
local MAX_FILE = 16 << 20
M.MAX_FILE = MAX_FILE

--- The Dockerfile of the folder dir: the path of dir/Dockerfile or
-- dir/Containerfile, or nil.
function M.find(dir)
  for _, n in ipairs(M.NAMES) do
    local st = core.stat(dir .. "/" .. n)
    if st and st.type == "file" then return dir .. "/" .. n, n end
  end
end

--- The .dockerignore entries for a build: <file>.dockerignore beside the
-- Dockerfile when there is one, else the context's .dockerignore.
function M.ignore_entries(file, context)
  local own = file and file .. ".dockerignore"
  if own and core.stat(own) then return ignore.read(own) end
  return ignore.read(context .. "/.dockerignore", context)
end

-- A function checking the references of the file (ocibuild.locate)
-- that name a layout or an archive: their paths resolve against the
-- context and must lie in it.
local function references(context)
  local root = core.realpath(context) or context
  return function(ref)
    local loc, err = require("ocibuild.locate").parse(ref)
    if not loc then return nil, err, "BADDOCKERFILE" end
    if loc.kind ~= "oci" and loc.kind ~= "oci-archive" and loc.kind ~= "docker-archive" then return ref end
    local abs = require("ocibuild.util.path").abs(loc.path, context)
    local real = core.realpath(abs) or abs
    if real ~= root and real:sub(1, #root + 1) ~= root .. "/" then
      return nil, ("%s names %s, outside the build context %s: a Dockerfile reads only its context")
        :format(ref, abs, context), "BADDOCKERFILE"
    end
    return loc.kind .. ":" .. abs .. (loc.tag and (":" .. loc.tag) or "")
  end
end

--- Reads and plans a Dockerfile. o: {file= (absolute) or text= (the
-- Dockerfile itself; then CONTEXT/.dockerignore applies), display= (how
-- messages name it), context= (absolute folder), args=, target=,
-- platforms= (a list of "os/arch[/variant]", or nil for this machine's
-- or the base's)}. Returns an ocibuild.build.image (one platform) or an
-- ocibuild.build.index whose images build their stages when built.
function M.load(o)
  local display = o.display or o.file
  local text, err, code = o.text, nil, nil
  if not text then text, err, code = core.read_file(o.file, { max = MAX_FILE }) end
  if not text then return nil, ("%s: cannot read the Dockerfile: %s"):format(display, err), code end
  local tree
  tree, err, code = parser.parse(text, display)
  if not tree then return nil, err, code end
  local df
  df, err, code = instructions.parse(tree, display)
  if not df then return nil, err, code end
  local entries
  entries, err, code = M.ignore_entries(o.file, o.context)
  if not entries then return nil, err, code end
  local ok, cerr, ccode = ignore.compile(entries)
  if not ok then return nil, cerr, ccode end
  local plats = {}
  for i, p in ipairs(o.platforms or {}) do
    local parsed, perr = platform.parse(p)
    if not parsed then return nil, perr, "USAGE" end
    for j = 1, i - 1 do
      if platform.format(plats[j]) == platform.format(parsed) then
        return nil, ("platform %s is asked for twice"):format(p), "USAGE"
      end
    end
    plats[i] = parsed
  end
  local host = platform.host()
  local imgs = {}
  -- what the provenance of the image names as its definition
  local within = o.file and o.file:sub(1, #o.context + 1) == o.context .. "/"
  local def = { kind = "dockerfile", path = within and o.file:sub(#o.context + 2) or display,
    digest = core.sha256():update(text):digest(), args = o.args, target = o.target, context = o.context }
  for i = 1, math.max(#plats, 1) do
    local p = plats[i]
    local plan
    plan, err, code = stages.plan(df, { file = display, escape = tree.escape, args = o.args or {},
      target = o.target, platform = p or host, build = host })
    if not plan then return nil, err, code end
    local img
    img, err = image.new({ platform = p and platform.format(p) or nil }, o.context)
    if not img then return nil, err, "BADDOCKERFILE" end
    local bo = { file = display, dir = o.context, context = o.context, ignore = entries, args = o.args or {},
      explicit = p, build = host, reference = references(o.context) }
    img.where = display
    img.definition = def
    img.deferred = function(self, st, ctx) return builder.prepare(self, st, ctx, bo, plan) end
    imgs[i] = img
  end
  if #imgs == 1 then return imgs[1] end
  local idx
  idx, err = index.new(imgs)
  if idx then idx.definition = def end
  return idx, err
end

return M
