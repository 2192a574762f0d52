--- The stages of a Dockerfile for one target platform, as BuildKit plans
-- them before building anything: the ARGs before the first FROM (with the
-- predefined platform ARGs and --build-arg values) expanded into the
-- global scope, which only FROM lines see; each stage's base (a previous
-- stage, scratch or an image) and platform expanded with it; COPY --from
-- resolved to a stage (by name or index) or an image; the target stage
-- (--target, else the last); the stages it needs (its base chain and what
-- it copies from). Everything that cannot be built is found here, before
-- any work: RUN in a needed stage, ONBUILD RUN of a needed stage's base
-- stage, ADD of a URL without a checksum, unknown targets, bad names.
-- Failures: nil, "FILE:LINE: msg", code ("USAGE" for what the Dockerfile
-- asks that ocibuild refuses).
local fetch = require "ocibuild.build.fetch"
local platform = require "ocibuild.oci.platform"
local shell = require "ocibuild.dockerfile.shell"
local text = require "ocibuild.dockerfile.text"

local M = {}

M.RUN_HINT = "ocibuild builds without running anything: build what RUN makes beforehand (in CI, "
  .. "or in another image) and COPY it in, or use a build.lua (ocibuild init)"

--- The predefined platform ARGs for build platform bp and target tp.
function M.default_args(bp, tp, target)
  local function fmt(p) return platform.format(p) end
  return {
    BUILDPLATFORM = fmt(bp), BUILDOS = bp.os, BUILDOSVERSION = "", BUILDARCH = bp.architecture,
    BUILDVARIANT = bp.variant or "", TARGETPLATFORM = fmt(tp), TARGETOS = tp.os, TARGETOSVERSION = "",
    TARGETARCH = tp.architecture, TARGETVARIANT = tp.variant or "", TARGETSTAGE = target ~= "" and target or "default",
  }
end

local function at(file, ins, msg, code)
  return nil, ("%s:%d: %s"):format(file, ins.line, msg), code or "BADDOCKERFILE"
end

local function is_url(s)
  return s:match("^https?://") ~= nil
end

--- Plans df (ocibuild.dockerfile.instructions' parse) for one platform.
-- o: {file=, escape=, args= {K = V} (--build-arg), target=, platform=
-- (the target platform, parsed), build= (this machine's)}. Returns
-- {stages=, target=, needed= {stage = true}, global= {K = V}}.
function M.plan(df, o)
  local file = o.file
  local lex = shell.new(o.escape)
  local last = df.stages[#df.stages]
  local target_name = o.target or ""
  if target_name == "" then target_name = last.from.name end
  local global = M.default_args(o.build, o.platform, target_name)
  for k, v in pairs(o.args) do
    if global[k] ~= nil then global[k] = v end
  end
  for _, ins in ipairs(df.meta) do
    for _, a in ipairs(ins.args) do
      local v = o.args[a.key]
      if v == nil and a.value ~= nil then
        local err
        v, err = lex:word(a.value, global)
        if not v then return at(file, ins, err) end
      end
      if v ~= nil then global[a.key] = v end
    end
  end
  local stages, by_name = {}, {}
  for i, s in ipairs(df.stages) do
    local f = s.from
    local base, err = lex:word(f.base, global)
    if not base then return at(file, f, err) end
    if base == "" then return at(file, f, ("base name (%s) should not be blank"):format(f.base)) end
    local st = { index = i - 1, name = f.name, from = f, cmds = s.cmds, base = base, deps = {}, from_stages = {} }
    if f.platform ~= "" then
      local p
      p, err = lex:word(f.platform, global)
      if not p then return at(file, f, ("failed to process arguments for platform %s: %s"):format(f.platform, err)) end
      if p == "" then return at(file, f, ("empty platform value from expression %s"):format(f.platform)) end
      st.platform, err = platform.parse(p)
      if not st.platform then return at(file, f, ("failed to parse platform %s: %s"):format(f.platform, err)) end
    end
    st.base_stage = by_name[base]
    stages[i] = st
    if f.name ~= "" then by_name[f.name] = st end
  end
  local target = stages[#stages]
  if o.target and o.target ~= "" then
    local t = by_name[o.target:lower()]
    if not t then
      local names = {}
      for _, s in ipairs(stages) do
        if s.name ~= "" then names[#names + 1] = s.name end
      end
      return nil, ("%s: target stage %q could not be found (stages: %s)"):format(file, o.target,
        #names > 0 and table.concat(names, ", ") or "none named"), "USAGE"
    end
    target = t
  end
  for _, st in ipairs(stages) do
    for _, c in ipairs(st.cmds) do
      if c.kind == "copy" and c.from ~= "" then
        local same = lex:word(c.from, {})
        if same ~= c.from then
          return at(file, c, "variable expansion is not supported for --from, define a new stage with FROM "
            .. "using ARG from global scope as a workaround")
        end
        local dep
        if c.from:match("^%d+$") then
          dep = stages[tonumber(c.from) + 1]
          if not dep then return at(file, c, ("invalid stage index %s"):format(c.from)) end
        else
          dep = by_name[c.from:lower()]
        end
        if dep then
          if dep.index >= st.index then
            return at(file, c, ("cannot copy from stage %q, it needs to be defined before current stage %q")
              :format(c.from, st.name ~= "" and st.name or ("stage-" .. st.index)))
          end
          st.from_stages[c] = dep
          st.deps[#st.deps + 1] = dep
        end
      end
    end
  end
  local needed = {}
  local function need(st)
    if needed[st] then return end
    needed[st] = true
    if st.base_stage then need(st.base_stage) end
    for _, d in ipairs(st.deps) do need(d) end
  end
  need(target)
  for _, st in ipairs(stages) do
    if needed[st] then
      local ok, err, code = M.check(st, file)
      if not ok then return nil, err, code end
    end
  end
  return { stages = stages, target = target, needed = needed, global = global, lex = lex }
end

--- Refuses what a needed stage cannot build: RUN (its own, or an ONBUILD
-- RUN of the stage it is based on), ADD of a URL without --checksum.
function M.check(st, file)
  for _, c in ipairs(st.cmds) do
    if c.kind == "run" then
      return at(file, c, ("RUN is not supported: %s"):format(M.RUN_HINT), "USAGE")
    end
    if c.kind == "add" or c.kind == "copy" then
      for _, s in ipairs(c.srcs) do
        if s:match("^git@") or s:match("^git://") or (is_url(s) and (s:match("%.git$") or s:match("%.git#"))) then
          return at(file, c, ("%s %s: git sources are not supported: clone the repository beforehand and COPY it")
            :format(c.kind:upper(), s), "USAGE")
        end
        if is_url(s) and c.kind == "copy" then return at(file, c, "source can't be a URL for COPY", "USAGE") end
        if is_url(s) and c.checksum == "" then
          return at(file, c, ("ADD %s needs --checksum=sha256:...: ocibuild builds reproducibly and fetches "
            .. "nothing it cannot verify"):format(s), "USAGE")
        end
      end
      if (c.checksum or "") ~= "" and not c.checksum:find("$", 1, true) then
        local ok, err = fetch.check(c.checksum)
        if not ok then return at(file, c, err, "USAGE") end
      end
    end
  end
  if st.base_stage then
    for _, c in ipairs(st.base_stage.cmds) do
      if c.kind == "onbuild" and c.trigger == "RUN" then
        return at(file, st.from, ("stage %q has the trigger ONBUILD %s (line %d), which this stage would run: %s")
          :format(st.base_stage.name, text.trim(c.expression), c.line, M.RUN_HINT), "USAGE")
      end
    end
  end
  return true
end

return M
