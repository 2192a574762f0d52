--- One Dockerfile instruction at a time, as BuildKit's dockerfile2llb
-- dispatches it, turned into calls on a build/ image: the instruction's
-- words expanded with the stage's environment as it was before it (one
-- snapshot per instruction), then config settings (ocibuild.build.config),
-- layers (copy, mkdir) and history entries as BuildKit writes them
-- (`created_by` text, comment "buildkit.dockerfile.v0", empty_layer for
-- what makes no layer; " # buildkit" after COPY and ADD).
-- A stage state d: {img= (ocibuild.build.image), cfg=, labels=, env=
-- {order=, values=} (what expansions see: the image's env and the ARGs),
-- workdir=, user=, shell=, args= (ARGs declared), o= (the build's
-- options), lex=, file=, stages=}. Each function returns true, or nil,
-- msg, code (the caller adds FILE:LINE).
local config = require "ocibuild.build.config"
local fetch = require "ocibuild.build.fetch"
local shell = require "ocibuild.dockerfile.shell"
local text = require "ocibuild.dockerfile.text"

local M = {}

M.COMMENT = "buildkit.dockerfile.v0"

-- ---- Go's formatting of values in history entries ----

local function go_list(list, quote)
  local out = {}
  for i, x in ipairs(list or {}) do out[i] = quote and text.quote(x) or x end
  return "[" .. table.concat(out, " ") .. "]"
end

--- Go's time.Duration.String for nanoseconds n.
function M.duration(n)
  if n == 0 then return "0s" end
  local neg = n < 0
  if neg then n = -n end
  local function frac(v, unit)
    local whole, rest = v // unit, v % unit
    local s = tostring(whole)
    if rest > 0 then
      local digits = ("%0" .. #tostring(unit - 1) .. "d"):format(rest):gsub("0+$", "")
      s = s .. "." .. digits
    end
    return s
  end
  local out
  if n < 1000 then
    out = n .. "ns"
  elseif n < 1000000 then
    out = frac(n, 1000) .. "\194\181s"
  elseif n < 1000000000 then
    out = frac(n, 1000000) .. "ms"
  else
    local h, m = n // 3600000000000, (n // 60000000000) % 60
    local s = frac(n % 60000000000, 1000000000) .. "s"
    if h > 0 then
      out = ("%dh%dm%s"):format(h, m, s)
    elseif m > 0 then
      out = ("%dm%s"):format(m, s)
    else
      out = s
    end
  end
  return (neg and "-" or "") .. out
end

-- A value as BuildKit's Go code writes it into the config's JSON: bytes
-- that are not UTF-8 become U+FFFD (and d.replaced says so, for a warning).
local function go_value(d, v)
  if type(v) == "string" then
    local s, changed = text.go_json(v)
    d.replaced = d.replaced or changed
    return s
  elseif type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do out[go_value(d, k)] = go_value(d, x) end
    return out
  end
  return v
end

-- Config settings t of the instruction: true, or nil, msg, code.
local function set(d, t)
  local ok, err = config.set(d.cfg, go_value(d, t), d.labels)
  if not ok then return nil, err, "BADDOCKERFILE" end
  return true
end

local function history(d, created_by)
  d.img:history { created_by = go_value(d, created_by), comment = M.COMMENT }
end

-- ---- the environment ----

local function set_env(env, k, v)
  if env.values[k] == nil then env.order[#env.order + 1] = k end
  env.values[k] = v
end

local function expand(d, word)
  return d.lex:word(word, d.env.values)
end

-- Expands every string of list (in place). Returns true or nil, msg.
local function expand_all(d, list)
  for i, w in ipairs(list) do
    local v, err = expand(d, w)
    if not v then return nil, err, "BADDOCKERFILE" end
    list[i] = v
  end
  return true
end

-- A KEY=VALUE pair of ENV or LABEL, both sides expanded: k, v, or nil,
-- msg, code.
local function expand_pair(d, p)
  local k, err = expand(d, p.key)
  if not k then return nil, err, "BADDOCKERFILE" end
  local v
  v, err = expand(d, p.value)
  if not v then return nil, err, "BADDOCKERFILE" end
  return k, v
end

-- ---- instructions ----

local D = {}

function D.env(d, c)
  local parts, env = {}, {}
  for _, p in ipairs(c.pairs) do
    local k, v, code = expand_pair(d, p)
    if not k then return nil, v, code end
    env[#env + 1] = { k, v }
  end
  for _, kv in ipairs(env) do
    if kv[1] == "" or kv[1]:find("=", 1, true) then
      return nil, ("ENV names can not be blank or hold '=': %q"):format(kv[1]), "BADDOCKERFILE"
    end
    set_env(d.env, kv[1], kv[2])
    local ok, err, code = set(d, { env = { kv[1] .. "=" .. kv[2] } })
    if not ok then return nil, err, code end
    parts[#parts + 1] = kv[1] .. "=" .. kv[2]
  end
  history(d, "ENV " .. table.concat(parts, " "))
  return true
end

function D.label(d, c)
  local parts = {}
  for _, p in ipairs(c.pairs) do
    local k, v, code = expand_pair(d, p)
    if not k then return nil, v, code end
    local ok, err = config.label(d.labels, go_value(d, k), go_value(d, v))
    if not ok then return nil, err, "BADDOCKERFILE" end
    parts[#parts + 1] = k .. "=" .. v
  end
  history(d, "LABEL " .. table.concat(parts, " "))
  return true
end

function D.maintainer(d, c)
  d.img.author = go_value(d, c.value)
  history(d, "MAINTAINER " .. c.value)
  return true
end

-- Go's path.Clean of an absolute path.
local function clean_abs(p)
  local parts = {}
  for x in p:gmatch("[^/]+") do
    if x == ".." then parts[#parts] = nil elseif x ~= "." then parts[#parts + 1] = x end
  end
  return "/" .. table.concat(parts, "/")
end

function D.workdir(d, c)
  local p, err = expand(d, c.path)
  if not p then return nil, err, "BADDOCKERFILE" end
  if p == "" then return nil, "normalizing workdir: cannot normalize empty path", "BADDOCKERFILE" end
  if not utf8.len(p) then
    return nil, ("WORKDIR %s is not valid UTF-8, which a layer's file names must be"):format(text.quote(p)),
      "BADDOCKERFILE"
  end
  local wd = p:sub(1, 1) == "/" and clean_abs(p) or clean_abs((d.workdir ~= "" and d.workdir or "/") .. "/" .. p)
  d.workdir = wd
  local ok, code
  ok, err, code = set(d, { workdir = wd })
  if not ok then return nil, err, code end
  if wd == "/" then
    history(d, "WORKDIR " .. wd)
    return true
  end
  return d.img:mkdir({ path = wd, user = d.user ~= "" and d.user or nil, created_by = "WORKDIR " .. wd,
    comment = M.COMMENT }, d.where)
end

function D.user(d, c)
  local u, err = expand(d, c.user)
  if not u then return nil, err, "BADDOCKERFILE" end
  d.user = u
  local ok, code
  ok, err, code = set(d, { user = u })
  if not ok then return nil, err, code end
  history(d, "USER " .. u)
  return true
end

-- EXPOSE's [ip:][host:]port[-end][/proto] into "port/proto" strings.
local function ports_of(raw)
  local parts = {}
  for x in (raw .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = x end
  local cport = parts[#parts]
  local port, proto = cport:match("^([^/]*)/?(.*)$")
  if port == "" then return nil, ("invalid port: %q: no port specified"):format(raw), "BADDOCKERFILE" end
  local lp = proto:lower()
  if lp == "" then proto = "tcp" elseif lp ~= "tcp" and lp ~= "udp" and lp ~= "sctp" then
    return nil, ("invalid port: %q: invalid proto: %s"):format(raw, proto), "BADDOCKERFILE"
  end
  local s, e = port:match("^(%d+)%-(%d+)$")
  s = s or port:match("^%d+$") and port
  e = e or s
  local a, b = s and tonumber(s), e and tonumber(e)
  if not a or a > 65535 or b > 65535 or b < a then return nil, "invalid containerPort: " .. port, "BADDOCKERFILE" end
  local out = {}
  for n = a, b do out[#out + 1] = ("%d/%s"):format(n, proto:lower()) end
  return out
end

function D.expose(d, c)
  local all = {}
  for _, p in ipairs(c.ports) do
    local words, err = d.lex:words(p, d.env.values)
    if not words then return nil, err, "BADDOCKERFILE" end
    for _, w in ipairs(words) do
      local list
      list, err = ports_of(w)
      if not list then return nil, err, "BADDOCKERFILE" end
      table.move(list, 1, #list, #all + 1, all)
    end
  end
  local ok, err, code = set(d, { ports = all })
  if not ok then return nil, err, code end
  history(d, "EXPOSE " .. go_list(all))
  return true
end

function D.volume(d, c)
  local ok, err = expand_all(d, c.volumes)
  if not ok then return nil, err, "BADDOCKERFILE" end
  for _, v in ipairs(c.volumes) do
    if v == "" then return nil, "VOLUME specified can not be an empty string", "BADDOCKERFILE" end
  end
  local code
  ok, err, code = set(d, { volumes = c.volumes })
  if not ok then return nil, err, code end
  history(d, "VOLUME " .. go_list(c.volumes))
  return true
end

function D.stopsignal(d, c)
  local s, err = expand(d, c.signal)
  if not s then return nil, err, "BADDOCKERFILE" end
  if not config.signal_ok(s) then return nil, "Invalid signal: " .. s, "BADDOCKERFILE" end
  local ok, code
  ok, err, code = set(d, { stop_signal = s })
  if not ok then return nil, err, code end
  history(d, "STOPSIGNAL " .. s)
  return true
end

local function with_shell(d, args)
  local sh = #d.shell > 0 and d.shell or { "/bin/sh", "-c" }
  local out = table.move(sh, 1, #sh, 1, {})
  out[#out + 1] = table.concat(args, " ")
  return out
end

function D.cmd(d, c)
  local args = c.shell and with_shell(d, c.cmd) or c.cmd
  local ok, err, code = set(d, { cmd = #args > 0 and args or false, args_escaped = true })
  if not ok then return nil, err, code end
  d.cmd_set = true
  history(d, "CMD " .. go_list(args, true))
  return true
end

function D.entrypoint(d, c)
  -- a bare ENTRYPOINT is the shell form of nothing, as in BuildKit
  local args = c.shell and with_shell(d, c.cmd or {}) or c.cmd
  local ok, err, code = set(d, { entrypoint = args or false })
  if not ok then return nil, err, code end
  history(d, "ENTRYPOINT " .. go_list(args, true))
  return true
end

function D.healthcheck(d, c)
  local ok, err, code = set(d, { healthcheck = { test = c.test, interval = c.interval, timeout = c.timeout,
    start_period = c.start_period, start_interval = c.start_interval, retries = c.retries } })
  if not ok then return nil, err, code end
  history(d, ("HEALTHCHECK {Test:%s Interval:%s Timeout:%s StartPeriod:%s StartInterval:%s Retries:%d}"):format(
    go_list(c.test), M.duration(c.interval or 0), M.duration(c.timeout or 0), M.duration(c.start_period or 0),
    M.duration(c.start_interval or 0), c.retries or 0))
  return true
end

function D.shell(d, c)
  d.shell = c.shell
  local ok, err, code = set(d, { shell = c.shell })
  if not ok then return nil, err, code end
  history(d, "SHELL " .. go_list(c.shell))
  return true
end

function D.onbuild(d, c)
  d.onbuild[#d.onbuild + 1] = c.expression
  return set(d, { onbuild = d.onbuild })
end

function D.arg(d, c)
  local parts = {}
  for _, a in ipairs(c.args) do
    local v = d.o.args[a.key]
    if v == nil and a.value == nil then
      v = d.global[a.key]
    elseif v == nil then
      local err
      v, err = expand(d, a.value)
      if not v then return nil, err, "BADDOCKERFILE" end
    end
    if v ~= nil then set_env(d.env, a.key, v) end
    d.args[#d.args + 1] = a.key
    parts[#parts + 1] = v ~= nil and (a.key .. "=" .. v) or a.key
  end
  history(d, "ARG " .. table.concat(parts, " "))
  return true
end

-- ---- COPY and ADD ----

-- The destination as BuildKit makes it: relative to the working folder,
-- a trailing slash kept.
local function dest_path(d, p)
  local slash = p:sub(-1) == "/" or p == "." or p == "" or p:sub(-2) == "/."
  local full = p:sub(1, 1) == "/" and p or (d.workdir ~= "" and d.workdir or "/") .. "/" .. p
  local out = clean_abs(full)
  if slash and out ~= "/" then out = out .. "/" end
  return out
end

local function copy(d, c, add)
  local name = add and "ADD" or "COPY"
  local chown, err = expand(d, c.chown)
  if not chown then return nil, err, "BADDOCKERFILE" end
  local chmod
  chmod, err = expand(d, c.chmod)
  if not chmod then return nil, err, "BADDOCKERFILE" end
  local checksum = ""
  if add then
    checksum, err = expand(d, c.checksum)
    if not checksum then return nil, err, "BADDOCKERFILE" end
  end
  local srcs = table.move(c.srcs, 1, #c.srcs, 1, {})
  local ok
  ok, err = expand_all(d, srcs)
  if not ok then return nil, err, "BADDOCKERFILE" end
  local dest
  dest, err = expand(d, c.dest)
  if not dest then return nil, err, "BADDOCKERFILE" end
  for i = 0, #srcs do
    local p = i == 0 and dest or srcs[i]
    if not utf8.len(p) then
      return nil, ("%s %s is not valid UTF-8, which a layer's file names must be"):format(name, text.quote(p)),
        "BADDOCKERFILE"
    end
  end
  local spec = { dest = dest_path(d, dest), chown = chown, chmod = chmod, exclude = c.excludes, parents = c.parents,
    link = c.link and chmod == "", unpack = add and c.unpack ~= false, sources = {}, urls = {}, contents = {},
    comment = M.COMMENT }
  if checksum ~= "" then
    if #srcs ~= 1 then return nil, "checksum can't be specified for multiple sources", "USAGE" end
    if not srcs[1]:match("^https?://") then return nil, "checksum requires HTTP(S) or Git sources", "USAGE" end
    ok, err = fetch.check(checksum)
    if not ok then return nil, err, "USAGE" end
  end
  local msg = { name }
  if c.parents then msg[#msg + 1] = "--parents" end
  if chown ~= "" then msg[#msg + 1] = "--chown=" .. chown end
  if chmod ~= "" then msg[#msg + 1] = "--chmod=" .. chmod end
  for _, s in ipairs(srcs) do
    msg[#msg + 1] = s
    if s:match("^https?://") then
      if not add then return nil, "source can't be a URL for COPY", "USAGE" end
      if s:match("%.git$") or s:match("%.git#") then
        return nil, ("ADD %s: git sources are not supported: clone the repository beforehand and COPY it"):format(s),
          "USAGE"
      end
      if checksum == "" then
        return nil, ("ADD %s needs --checksum=sha256:...: ocibuild builds reproducibly and fetches nothing it "
          .. "cannot verify"):format(s), "USAGE"
      end
      spec.urls[#spec.urls + 1] = { url = s, checksum = checksum, name = fetch.name(s) }
    elseif s:match("^git@") or s:match("^git://") then
      return nil, ("%s %s: git sources are not supported: clone the repository beforehand and COPY it")
        :format(name, s), "USAGE"
    else
      spec.sources[#spec.sources + 1] = s
    end
  end
  for _, h in ipairs(c.contents) do
    msg[#msg + 1] = "<<" .. h.path
    local data = h.data
    if h.expand then
      local lex = shell.new("\\")
      lex.skip_quotes = true
      data, err = lex:word(data, d.env.values)
      if not data then return nil, err, "BADDOCKERFILE" end
    end
    spec.contents[#spec.contents + 1] = { name = h.path, data = data }
  end
  msg[#msg + 1] = dest
  spec.created_by = go_value(d, table.concat(msg, " ") .. " # buildkit")
  local from_stage = d.from_stages[c]
  if from_stage then
    spec.from, spec.platform = from_stage.result.desc.digest, require("ocibuild.oci.platform").format(
      from_stage.result.platform)
  elseif (c.from or "") ~= "" then
    spec.from = c.from
    local allowed
    allowed, err = d.o.reference(c.from)
    if not allowed then return nil, err, "BADDOCKERFILE" end
    spec.from = allowed
  elseif #spec.sources > 0 then
    spec.context, spec.ignore = d.o.context, d.o.ignore
  end
  return d.img:copy(spec, d.where)
end

function D.copy(d, c) return copy(d, c, false) end
function D.add(d, c) return copy(d, c, true) end

function D.run()
  return nil, "RUN is not supported", "USAGE"
end

--- Dispatches the instruction c on the stage state d.
function M.dispatch(d, c)
  local fn = D[c.kind]
  if not fn then return nil, ("%s cannot be used here"):format(c.cmd_name), "BADDOCKERFILE" end
  d.where = ("%s:%d"):format(d.file, c.line)
  d.replaced = false
  local ok, err, code = fn(d, c)
  if ok and d.replaced and d.warn then
    d.warn(("%s: %s holds bytes that are not UTF-8: each is written as U+FFFD, as BuildKit writes it"):format(
      d.where, c.cmd_name))
  end
  return ok, err, code
end

M.set_env = set_env

return M
