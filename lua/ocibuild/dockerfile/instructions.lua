--- Parse-tree nodes into typed instructions, as BuildKit's
-- frontend/dockerfile/instructions makes them: each instruction's flags
-- checked (unknown, repeated, missing values, booleans), its arguments
-- counted and shaped (key=value pairs, sources and destination with
-- heredocs, exec or shell form, HEALTHCHECK's options), every mistake a
-- message naming the instruction's line. Nothing is expanded here: that
-- happens when a stage is built, with the environment of that moment.
--   instructions.parse(tree, file) --> { meta = {arg...}, stages = {
--     {from = <from>, cmds = {...}}, ... } }
-- Each instruction is {kind = "copy"|..., line=, end_line=, code= (its
-- text, trimmed), ...fields}. Failures: nil, "FILE:LINE: msg", code.
local check = require "ocibuild.util.check"
local parser = require "ocibuild.dockerfile.parser"
local text = require "ocibuild.dockerfile.text"

local M = {}

M.NAMES = { "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
  "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR" }

local function fail(msg) error({ msg = msg }, 0) end

-- ---- flags (BuildKit's BFlags) ----

-- Parses node.flags against spec {name = "bool"|"string"|"strings"}.
-- Returns {name = value} (strings: a list; bool: true/false).
local function flags(node, spec)
  local out, used = {}, {}
  for _, a in ipairs(node.flags) do
    if a == "--" then break end
    if a:sub(1, 2) ~= "--" then fail(("arg should start with -- : %s"):format(a)) end
    local name, value = a:match("^([^=]*)=(.*)$")
    name = name or a
    local arg = name:sub(3)
    local kind = spec[arg]
    if not kind then
      local known = {}
      for k in pairs(spec) do known[#known + 1] = k end
      table.sort(known)
      local s = check.suggest(arg, known)
      fail(("unknown flag: %s%s"):format(name, s and (" (did you mean %s?)"):format(s) or ""))
    end
    if used[arg] and kind ~= "strings" then fail(("duplicate flag specified: %s"):format(name)) end
    used[arg] = true
    if kind == "bool" then
      if value == "" then fail(("missing a value on flag: %s"):format(name)) end
      local v = (value or "true"):lower()
      if v ~= "true" and v ~= "false" then
        fail(("expecting boolean value for flag %s, not: %s"):format(name, value))
      end
      out[arg] = v == "true"
    else
      if value == nil then fail(("missing a value on flag: %s"):format(name)) end
      if kind == "strings" then
        out[arg] = out[arg] or {}
        table.insert(out[arg], value)
      else
        out[arg] = value
      end
    end
  end
  return out, used
end

local function strings_of(node)
  local out = {}
  for i, a in ipairs(node.args) do
    if type(a) == "table" then fail("an instruction inside this one is only allowed in ONBUILD") end
    out[i] = a
  end
  return out
end

local function exactly_one(node, name)
  local args = strings_of(node)
  if #args ~= 1 then fail(("%s requires exactly one argument"):format(name)) end
  return args[1]
end

local function at_least_one(args, name)
  if #args == 0 then fail(("%s requires at least one argument"):format(name)) end
end

-- The one argument of an instruction that takes no flags.
local function one_plain(node, name)
  local v = exactly_one(node, name)
  flags(node, {})
  return v
end

-- The arguments (at least one) of an instruction that takes no flags.
local function some_plain(node, name)
  local args = strings_of(node)
  at_least_one(args, name)
  flags(node, {})
  return args
end

-- KEY VALUE "sep" triples into {{key=, value=, nodelim=}}.
local function pairs_of(node, name)
  local args = strings_of(node)
  at_least_one(args, name)
  if #args % 3 ~= 0 then fail(("Bad input to %s, too many arguments"):format(name)) end
  local out = {}
  for j = 1, #args, 3 do
    if args[j] == "" then fail(("%s names can not be blank"):format(name)) end
    out[#out + 1] = { key = args[j], value = args[j + 1], nodelim = args[j + 2] == "" }
  end
  return out
end

-- The command line of CMD, ENTRYPOINT, RUN, SHELL: exec form as it is,
-- shell form joined into one string.
local function cmdline(node, empty_as_nil)
  local args = strings_of(node)
  if not node.json and #args > 0 then args = { table.concat(args, " ") } end
  if empty_as_nil and #args == 0 then args = nil end
  return args, not node.json
end

-- ---- durations (Go's time.ParseDuration) ----

local UNITS = { ns = 1, us = 1e3, ["\194\181s"] = 1e3, ["\206\188s"] = 1e3, ms = 1e6, s = 1e9, m = 60e9, h = 3600e9 }

--- Go's time.ParseDuration, in whole nanoseconds; nil, msg when bad.
function M.duration(s)
  local orig, neg = s, false
  local c = s:sub(1, 1)
  if c == "-" or c == "+" then
    neg, s = c == "-", s:sub(2)
  end
  if s == "0" then return 0 end
  if s == "" then return nil, ("time: invalid duration %s"):format(text.quote(orig)), "BADDOCKERFILE" end
  local total = 0
  while s ~= "" do
    local num, rest = s:match("^([%d]*%.?[%d]*)(.*)$")
    if num == "" or num == "." then
      return nil, ("time: invalid duration %s"):format(text.quote(orig)), "BADDOCKERFILE"
    end
    local unit = rest:match("^([^%d%.]+)")
    if not unit then return nil, ("time: missing unit in duration %s"):format(text.quote(orig)), "BADDOCKERFILE" end
    local scale = UNITS[unit]
    if not scale then
      return nil, ("time: unknown unit %s in duration %s"):format(text.quote(unit), text.quote(orig)), "BADDOCKERFILE"
    end
    total = total + tonumber(num) * scale
    s = rest:sub(#unit + 1)
  end
  if total > 9.2e18 then return nil, ("time: invalid duration %s"):format(text.quote(orig)), "BADDOCKERFILE" end
  total = math.floor(total + 0.5)
  return math.tointeger(neg and -total or total)
end

local function interval(v, name)
  if v == nil or v == "" then return nil end
  local d, err = M.duration(v)
  if not d then fail(err) end
  if d == 0 then return nil end
  if d < 1e6 then fail(('Interval "%s" cannot be less than 1ms'):format(name)) end
  return d
end

-- ---- one parser per instruction ----

local P = {}

function P.env(node)
  flags(node, {})
  return { pairs = pairs_of(node, "ENV") }
end

function P.label(node)
  flags(node, {})
  return { pairs = pairs_of(node, "LABEL") }
end

function P.maintainer(node)
  local v = one_plain(node, "MAINTAINER")
  return { value = v }
end

-- Sources and destination, heredocs taken apart (parseSourcesAndDest).
local function sources(node, name)
  local args = strings_of(node)
  if #args < 2 then
    fail(("%s requires at least two arguments, but only one was provided. Destination could not be determined")
      :format(name))
  end
  local dest = table.remove(args)
  if parser.heredoc(dest) then fail(("%s cannot accept a heredoc as a destination"):format(name)) end
  local docs = {}
  for _, h in ipairs(node.heredocs) do docs[h.name] = h end
  local srcs, contents = {}, {}
  for _, src in ipairs(args) do
    local h = parser.heredoc(src)
    if h then
      local content = docs[h.name] and docs[h.name].content or ""
      if h.chomp then content = parser.chomp(content) end
      contents[#contents + 1] = { path = h.name, data = content, expand = h.expand }
    else
      srcs[#srcs + 1] = src
    end
  end
  return { dest = dest, srcs = srcs, contents = contents }
end

function P.add(node)
  local f, used = flags(node, { chown = "string", chmod = "string", link = "bool", ["keep-git-dir"] = "bool",
    checksum = "string", unpack = "bool", exclude = "strings" })
  local c = sources(node, "ADD")
  c.chown, c.chmod, c.link, c.checksum = f.chown or "", f.chmod or "", f.link or false, f.checksum or ""
  c.excludes = f.exclude or {}
  if used.unpack then c.unpack = f.unpack end
  if used["keep-git-dir"] then c.keep_git_dir = f["keep-git-dir"] end
  return c
end

function P.copy(node)
  local f = flags(node, { chown = "string", from = "string", chmod = "string", link = "bool",
    exclude = "strings", parents = "bool" })
  local c = sources(node, "COPY")
  c.chown, c.chmod, c.link, c.from = f.chown or "", f.chmod or "", f.link or false, f.from or ""
  c.parents, c.excludes = f.parents or false, f.exclude or {}
  return c
end

local STAGE_NAME = "^[a-z][a-z0-9%-_.]*$"

function P.from(node)
  local args = strings_of(node)
  local name = ""
  if #args == 3 and args[2]:lower() == "as" then
    name = args[3]:lower()
    if not name:match(STAGE_NAME) then
      fail(("invalid name for build stage: %s, name can't start with a number or contain symbols")
        :format(text.quote(args[3])))
    end
  elseif #args ~= 1 then
    fail("FROM requires either one or three arguments")
  end
  local f = flags(node, { platform = "string" })
  return { base = args[1], name = name, platform = f.platform or "" }
end

function P.onbuild(node)
  if #node.args == 0 then fail("ONBUILD requires at least one argument") end
  flags(node, {})
  local sub = type(node.args[1]) == "table" and node.args[1].sub
  local trigger = text.trim(sub and sub.cmd or ""):upper()
  if trigger == "ONBUILD" then fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed") end
  if trigger == "MAINTAINER" or trigger == "FROM" then
    fail(("%s isn't allowed as an ONBUILD trigger"):format(trigger))
  end
  local expr = node.original:gsub("^%s*[Oo][Nn][Bb][Uu][Ii][Ll][Dd]%s*", "")
  for _, h in ipairs(node.heredocs) do expr = expr .. "\n" .. h.content .. h.name end
  return { expression = expr, trigger = trigger }
end

function P.workdir(node)
  local p = one_plain(node, "WORKDIR")
  return { path = p }
end

function P.run(node)
  return { cmd = (cmdline(node, false)) }
end

function P.cmd(node)
  flags(node, {})
  local args, shell = cmdline(node, false)
  return { cmd = args, shell = shell }
end

function P.entrypoint(node)
  flags(node, {})
  local args, shell = cmdline(node, true)
  return { cmd = args, shell = shell }
end

function P.healthcheck(node)
  local args = strings_of(node)
  at_least_one(args, "HEALTHCHECK")
  local f = flags(node, { interval = "string", timeout = "string", ["start-period"] = "string",
    ["start-interval"] = "string", retries = "string" })
  local typ = args[1]:upper()
  local rest = table.move(args, 2, #args, 1, {})
  if typ == "NONE" then
    if #rest ~= 0 then fail("HEALTHCHECK NONE takes no arguments") end
    return { test = { "NONE" } }
  end
  if typ ~= "CMD" then fail(('Unknown type "%s" in HEALTHCHECK (try CMD)'):format(typ)) end
  if not node.json and #rest > 0 then rest = { table.concat(rest, " ") } end
  if #rest == 0 then fail("Missing command after HEALTHCHECK CMD") end
  local h = { test = { node.json and "CMD" or "CMD-SHELL", table.unpack(rest) } }
  h.interval = interval(f.interval, "interval")
  h.timeout = interval(f.timeout, "timeout")
  h.start_period = interval(f["start-period"], "start-period")
  h.start_interval = interval(f["start-interval"], "start-interval")
  if f.retries and f.retries ~= "" then
    local n = f.retries:match("^[+-]?%d+$") and math.tointeger(tonumber(f.retries))
    if not n or n > 2147483647 or n < -2147483648 then
      fail(('strconv.ParseInt: parsing %s: invalid syntax'):format(text.quote(f.retries)))
    end
    if n < 0 then fail(("--retries cannot be negative (%d)"):format(n)) end
    h.retries = n ~= 0 and n or nil
  end
  return h
end

function P.expose(node)
  local args = some_plain(node, "EXPOSE")
  table.sort(args)
  return { ports = args }
end

function P.user(node)
  local u = one_plain(node, "USER")
  return { user = u }
end

function P.volume(node)
  local args = some_plain(node, "VOLUME")
  local out = {}
  for _, v in ipairs(args) do
    v = text.trim(v)
    if v == "" then fail("VOLUME specified can not be an empty string") end
    out[#out + 1] = v
  end
  return { volumes = out }
end

function P.stopsignal(node)
  local s = one_plain(node, "STOPSIGNAL")
  return { signal = s }
end

function P.arg(node)
  local args = some_plain(node, "ARG")
  local out = {}
  for _, a in ipairs(args) do
    local k, v = a:match("^([^=]*)=(.*)$")
    if k == "" then fail("ARG names can not be blank") end
    out[#out + 1] = { key = k or a, value = v }
  end
  return { args = out }
end

function P.shell(node)
  flags(node, {})
  local args = cmdline(node, false)
  if #args == 0 then fail("SHELL requires at least one argument") end
  if not node.json then fail("SHELL requires the arguments to be in JSON form") end
  return { shell = args }
end

--- One node as an instruction, or nil, msg (without the location).
function M.instruction(node)
  local kind = node.cmd:lower()
  local fn = P[kind]
  if not fn then
    local s = check.suggest(node.cmd:upper(), M.NAMES)
    return nil, ("unknown instruction: %s%s"):format(node.cmd, s and (" (did you mean %s?)"):format(s:lower()) or ""),
      "BADDOCKERFILE"
  end
  local ok, r = pcall(fn, node)
  if not ok then
    if type(r) == "table" then return nil, r.msg, "BADDOCKERFILE" end
    error(r, 0)
  end
  r.kind, r.line, r.end_line, r.code, r.cmd_name = kind, node.line, node.end_line, text.trim(node.original), node.cmd
  return r
end

--- The stages of a parsed file: ARGs before the first FROM (`meta`), then
-- each FROM with the instructions up to the next. file names the
-- Dockerfile in messages.
function M.parse(tree, file)
  local meta, stages = {}, {}
  for _, node in ipairs(tree.nodes) do
    local ins, err = M.instruction(node)
    if not ins then return nil, ("%s:%d: %s"):format(file, node.line, err), parser.CODE end
    if ins.kind == "from" then
      stages[#stages + 1] = { from = ins, cmds = {} }
    elseif #stages == 0 then
      if ins.kind ~= "arg" then
        return nil, ("%s:%d: no build stage in current context (%s comes before the first FROM)")
          :format(file, node.line, node.cmd:upper()), parser.CODE
      end
      meta[#meta + 1] = ins
    else
      table.insert(stages[#stages].cmds, ins)
    end
  end
  if #stages == 0 then
    return nil, ("%s:%d: dockerfile contains no stages to build"):format(file, tree.nodes[#tree.nodes].line),
      parser.CODE
  end
  return { meta = meta, stages = stages }
end

return M
