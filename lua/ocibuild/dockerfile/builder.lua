--- The stages of a planned Dockerfile (ocibuild.dockerfile.stages) built
-- into a store, when the target image is built: every needed stage's base
-- is loaded first (each image once per build) and its ONBUILD triggers
-- read, so that an inherited ONBUILD RUN is refused before any layer is
-- written; then the stages are dispatched in file order, each into an
-- ocibuild.build.image, the ones before the target built (untagged), and
-- the target's steps, config and history given to the image the caller
-- holds (what a script adds to it comes after).
-- Failures: nil, msg, code, where (FILE:LINE).
local config = require "ocibuild.build.config"
local dispatch = require "ocibuild.dockerfile.dispatch"
local image = require "ocibuild.build.image"
local instructions = require "ocibuild.dockerfile.instructions"
local json = require "ocibuild.oci.json"
local parser = require "ocibuild.dockerfile.parser"
local platform = require "ocibuild.oci.platform"
local stages_mod = require "ocibuild.dockerfile.stages"

local M = {}

M.DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

local function at(o, ins, msg, code)
  return nil, ("%s:%d: %s"):format(o.file, ins.line, msg), code or "BADDOCKERFILE", ("%s:%d"):format(o.file, ins.line)
end

local function clone_env(env)
  local e = { order = {}, values = {} }
  for i, k in ipairs(env.order) do
    e.order[i] = k
    e.values[k] = env.values[k]
  end
  return e
end

-- The ONBUILD triggers of an image config (strings), parsed.
local function triggers_of(list, o, from)
  local out = {}
  for _, t in ipairs(list or {}) do
    local tree, err = parser.parse(t, o.file)
    if not tree or #tree.nodes ~= 1 then
      return at(o, from, ("ONBUILD trigger %q of the base image: %s"):format(t, err or "not one instruction"))
    end
    local ins
    ins, err = instructions.instruction(tree.nodes[1])
    if not ins then return at(o, from, ("ONBUILD trigger %q of the base image: %s"):format(t, err)) end
    if ins.kind == "run" then
      return at(o, from, ("the base image has the trigger ONBUILD %s, which this stage would run: %s")
        :format(t, stages_mod.RUN_HINT), "USAGE")
    end
    if ins.kind == "onbuild" or ins.kind == "from" or ins.kind == "maintainer" then
      return at(o, from, ("%s isn't allowed as an ONBUILD trigger"):format(ins.cmd_name:upper()))
    end
    ins.line = from.line
    out[#out + 1] = ins
  end
  return out
end

-- What a stage starts from: its base stage's final state, nothing
-- (scratch), or an image loaded into the store. Returns {from=, config=,
-- env=, workdir=, user=, shell=, triggers=, annotation=, scratch=}.
local function base_of(s, store, ctx, o, want)
  if s.base_stage then
    local p = s.base_stage
    local t = {}
    for _, c in ipairs(p.cmds) do
      if c.kind == "onbuild" then
        local tree = parser.parse(c.expression, o.file)
        local ins = tree and instructions.instruction(tree.nodes[1])
        if ins then
          ins.line = s.from.line
          t[#t + 1] = ins
        end
      end
    end
    return { from = p.result.desc.digest, config = p.config, env = clone_env(p.final.env), workdir = p.final.workdir,
      user = p.final.user, shell = p.final.shell, triggers = t, annotation = p.annotation,
      platform = p.result.platform }
  end
  if s.base == "scratch" then
    return { scratch = true, env = { order = {}, values = {} }, workdir = "/", user = "", shell = {}, triggers = {},
      annotation = false }
  end
  local ref, err = o.reference(s.base)
  if not ref then return at(o, s.from, err, "USAGE") end
  local b, code
  b, err, code = image.load_base(ref, store, ctx, want, o.dir)
  if not b then return at(o, s.from, err, code) end
  local c = b.config.config or {}
  local base = { from = ref, config = c, env = { order = {}, values = {} }, workdir = type(c.WorkingDir) == "string"
    and c.WorkingDir or "", user = type(c.User) == "string" and c.User or "", annotation = { name = b.name,
    digest = b.digest }, shell = {} }
  for _, x in ipairs(json.is_array(c.Shell) and c.Shell or {}) do base.shell[#base.shell + 1] = x end
  for _, e in ipairs(json.is_array(c.Env) and c.Env or {}) do
    local k, v = tostring(e):match("^([^=]*)=?(.*)$")
    dispatch.set_env(base.env, k, v)
  end
  base.triggers, err, code = triggers_of(json.is_array(c.OnBuild) and c.OnBuild or nil, o, s.from)
  if not base.triggers then return nil, err, code, ("%s:%d"):format(o.file, s.from.line) end
  return base
end

-- Dispatches stage s (its base already loaded) into a new image record.
local function run_stage(s, base, o, plan, warn)
  -- a stage on a stage has its platform (as in BuildKit)
  local p = base.platform or s.platform or o.explicit
  local img = assert(image.new({ from = base.from, platform = p and platform.format(p) or nil }, o.dir))
  img.where = ("%s:%d"):format(o.file, s.from.line)
  img.base_annotation = base.annotation
  local d = { img = img, cfg = config.new(), labels = {}, env = base.env, workdir = base.workdir, user = base.user,
    shell = base.shell, args = {}, onbuild = {}, o = o, lex = plan.lex, file = o.file, global = plan.global,
    from_stages = s.from_stages, warn = warn }
  config.set(d.cfg, { onbuild = {} }, d.labels)
  if base.scratch or not base.env.values.PATH then
    dispatch.set_env(d.env, "PATH", d.env.values.PATH or M.DEFAULT_PATH)
    config.set(d.cfg, { default_env = { "PATH=" .. M.DEFAULT_PATH } }, d.labels)
  end
  if base.scratch then config.set(d.cfg, { workdir = "/" }, d.labels) end
  local cmds = table.move(base.triggers, 1, #base.triggers, 1, {})
  table.move(s.cmds, 1, #s.cmds, #cmds + 1, cmds)
  for _, c in ipairs(cmds) do
    local ok, err, code = dispatch.dispatch(d, c)
    if not ok then return at(o, c, err, code) end
  end
  s.final = { env = d.env, workdir = d.workdir, user = d.user, shell = d.shell }
  s.annotation = base.annotation
  local cc, err = config.merge(base.config, d.cfg, d.labels)
  if not cc then return at(o, s.from, ("base image %s: %s"):format(s.base, err)) end
  s.config, img.config_base = cc, cc
  return img
end

--- Builds what the target needs into st and fills the image record img
-- (the target's): its base, steps, config and author. ctx: the build's
-- (see ocibuild.build.image). o: {file=, dir= (the context: oci: paths
-- resolve there), context=, ignore=, args=, explicit= (the platform asked
-- for, or nil), build= (this machine's), reference= (function(ref) -> ref |
-- nil, msg: the sandbox's check of oci: and oci-archive: references)}.
function M.prepare(img, st, ctx, o, plan)
  local want = o.explicit or platform.host()
  local bases = {}
  for _, s in ipairs(plan.stages) do
    if plan.needed[s] and not s.base_stage then
      local b, err, code, where = base_of(s, st, ctx, o, s.platform or want)
      if not b then return nil, err, code, where end
      bases[s] = b
    end
  end
  for _, s in ipairs(plan.stages) do
    if plan.needed[s] then
      local b = bases[s]
      if not b then
        local err, code, where
        b, err, code, where = base_of(s, st, ctx, o, s.platform or want)
        if not b then return nil, err, code, where end
      end
      local sub, serr, code, where = run_stage(s, b, o, plan, ctx.warn)
      if not sub then return nil, serr, code, where end
      if s == plan.target then
        img.from, img.base_annotation, img.author = sub.from, sub.base_annotation, sub.author
        -- the target platform names the image, whatever the stage's base
        -- was built for (BuildKit's finalizeResultImage)
        img.base_platform = sub.platform
        img.platform = img.platform or sub.platform
        img.df_steps, img.config_base = sub.steps, s.config
        return true
      end
      local r, err
      r, err, code, where = sub:build(st, ctx)
      if not r then return nil, err, code, where end
      s.result = r
    end
  end
  return nil, "the target stage was not built", "BADDOCKERFILE"
end

return M
