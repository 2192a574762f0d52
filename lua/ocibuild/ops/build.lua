--- build: an image (or an index) described by build objects
-- (ocibuild.build.image, ocibuild.build.index: from a script, from the
-- CLI's flags, from a Dockerfile) built into the store, tagged, written
-- into an archive when asked, then pushed: every tag and push target is
-- checked before any work. Events: the `image` stage of
-- ocibuild.build.save (its layers, its archive), then one `push` stage per
-- target, the push verb's own (ocibuild.ops.push).
local check = require "ocibuild.util.check"
local options = require "ocibuild.registry.options"
local ref = require "ocibuild.oci.ref"
local save = require "ocibuild.build.save"

local M = {}

--- The options of a save: tag (a string or a list), archive (a file),
-- cache (false: build every layer from scratch), push (true: to each tag;
-- a reference, or a list of them), registry (registry options, over the
-- context's).
M.SAVE_OPTIONS = { "tag", "archive", "cache", "push", "registry" }

--- Where `push` sends the image: a list of parsed references, or nil,
-- msg, "BADREF".
function M.push_targets(p, tags)
  if p == nil or p == false then return {} end
  local list = {}
  if p == true then
    if type(tags) == "string" then tags = { tags } end
    if type(tags) ~= "table" or #tags == 0 then return nil, "push = true needs a tag to push to", "BADREF" end
    for _, t in ipairs(tags) do
      if not ref.names_registry(t) then
        return nil, ("push = true: tag %q names no registry (use HOST/NAME:TAG, or push = \"HOST/NAME:TAG\")")
          :format(t), "BADREF"
      end
      list[#list + 1] = t
    end
  elseif type(p) == "string" then
    list[1] = p
  elseif type(p) == "table" then
    for i, t in ipairs(p) do
      if type(t) ~= "string" then return nil, ("push[%d] must be a reference string"):format(i), "BADREF" end
      list[#list + 1] = t
    end
  else
    return nil, "push must be true, a reference, or a list of references", "BADREF"
  end
  local refs = {}
  for _, t in ipairs(list) do
    local r, err = ref.parse(t)
    if not r then return nil, "push: " .. err, "BADREF" end
    refs[#refs + 1] = r
  end
  return refs
end

-- The save options o checked, before any work: {tag= (refs), archive=
-- (absolute, allowed), cache=, targets= (refs), registry= (merged)}.
local function checked(ctx, o)
  local ok, err = check.keys(o, M.SAVE_OPTIONS, "save")
  if not ok then return nil, err, "BADVALUE" end
  local t, code = { cache = o.cache }, nil
  t.tag, err, code = save.refs(o.tag)
  if not t.tag then return nil, err, code end
  if o.archive ~= nil and type(o.archive) ~= "string" then return nil, "archive must be a file path", "BADVALUE" end
  if o.cache ~= nil and type(o.cache) ~= "boolean" then return nil, "cache must be true or false", "BADVALUE" end
  t.targets, err, code = M.push_targets(o.push, o.tag)
  if not t.targets then return nil, err, code end
  for _, r in ipairs(t.targets) do
    ok, err, code = ctx:reach(r.domain, "push to " .. r.familiar)
    if not ok then return nil, err, code end
  end
  if o.registry ~= nil then
    ok, err, code = options.check(o.registry, "save: registry")
    if not ok then return nil, err, code end
  end
  t.registry, err, code = ctx:registry_options(o.registry)
  if not t.registry then return nil, err, code end
  if o.archive then
    t.archive, err, code = ctx:path(o.archive, "archive")
    if not t.archive then return nil, err, code end
  end
  return t
end

--- Builds img (an ocibuild.build.image or .index) and saves it, with the
-- save options o (M.SAVE_OPTIONS). Returns the result of
-- ocibuild.build.save with pushed= (a list of {reference=, digest=,
-- name=}), or nil, msg, code (and the failing layer's `where`).
function M.save(ctx, img, o)
  o = o or {}
  local t, err, code = checked(ctx, o)
  if not t then return nil, err, code end
  local r, where
  r, err, code, where = save.save(img, { tag = t.tag, archive = t.archive, cache = t.cache,
    registry = t.registry }, ctx)
  if not r then return nil, err, code, where end
  r.pushed = {}
  -- the registry client loads only for builds that push
  local push = #t.targets > 0 and require "ocibuild.ops.push"
  local pctx = ctx:with { registry = t.registry }
  for _, target in ipairs(t.targets) do
    local p
    p, err, code = push.run(pctx, { src = r, dest = target.familiar })
    if not p then return nil, err, code end
    r.pushed[#r.pushed + 1] = p
  end
  return r
end

return M
