--- Per-path rules of a layer: `rules = { { "bin/**", mode = "0755" },
-- { "data/**", owner = "1000:1000", mtime = 0 } }`. A rule's pattern is a
-- .dockerignore line relative to the layer's context, and a rule applies
-- to exactly the paths that line would exclude; for each attribute the
-- last matching rule wins. Checked here once, compiled and applied by the
-- core's tar policy (no Lua runs per file). Functions return nil, msg.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local env = require "ocibuild.util.env"
local ignore = require "ocibuild.build.ignore"

local M = {}

--- What a rule may set: mode (files), dir_mode (folders), owner, mtime.
M.ATTRIBUTES = { "mode", "dir_mode", "owner", "mtime" }

local EXAMPLE = '{ "bin/**", mode = "0755" }'

--- Permission bits from an octal string ("0755", "755", "4755"): the
-- value, or nil and why. A number is refused: in Lua 0755 is 755.
function M.mode(v, what)
  if type(v) == "string" and v:match("^[0-7][0-7][0-7][0-7]?$") then return tonumber(v, 8) end
  local hint = ""
  if math.type(v) == "integer" and v >= 0 and v <= 7777 then
    local digits = tostring(v)
    hint = (' (a Lua number: write "%s")'):format(digits:match("^[0-7]+$") and ("%04d"):format(v)
      or ("%04o"):format(v & 4095))
  end
  return nil, ('%s must be an octal string from "0000" to "7777", got %s%s'):format(what, check.show(v), hint),
    "BADVALUE"
end

local function owner(v, what)
  local u, g
  if type(v) == "string" then u, g = v:match("^(%d+):(%d+)$") end
  if u and #u <= 10 and #g <= 10 and tonumber(u) <= 4294967294 and tonumber(g) <= 4294967294 then
    return ("%d:%d"):format(tonumber(u), tonumber(g))
  end
  return nil, ('%s must be "UID:GID" with ids from 0 to 4294967294, got %s'):format(what, check.show(v)), "BADVALUE"
end

local function mtime(v, what)
  if math.type(v) == "integer" and v >= 0 and v <= env.MAX_TIME then return v end
  return nil, ("%s must be an integer of seconds from 0 to %d, got %s"):format(what, env.MAX_TIME, check.show(v)),
    "BADVALUE"
end

local function one(r, i, call)
  local what = ("%s: rules[%d]"):format(call, i)
  if type(r) ~= "table" then return nil, ("%s must be a table like %s"):format(what, EXAMPLE), "BADVALUE" end
  local known = { [1] = true }
  for _, a in ipairs(M.ATTRIBUTES) do known[a] = true end
  local bad = {}
  for k in pairs(r) do
    if not known[k] then bad[#bad + 1] = tostring(k) end
  end
  if #bad > 0 then
    table.sort(bad)
    local s = check.suggest(bad[1], M.ATTRIBUTES)
    return nil, ("%s: unknown attribute %q%s; a rule sets %s"):format(what, bad[1],
      s and (" (did you mean %q?)"):format(s) or "", table.concat(M.ATTRIBUTES, ", ")), "BADVALUE"
  end
  if type(r[1]) ~= "string" then
    return nil, ("%s needs a pattern first, as in %s"):format(what, EXAMPLE), "BADVALUE"
  end
  local p = ignore.clean_pattern(r[1])
  if not p or p == "" then return nil, ("%s: empty pattern"):format(what), "BADVALUE" end
  if p:sub(1, 1) == "!" then
    return nil, ("%s: %s: a rule cannot be an exception ('!'); order the rules instead"):format(what, check.show(r[1])),
      "BADVALUE"
  end
  local m, err = core.matcher { p }
  if not m then return nil, ("%s: %s"):format(what, err), "BADPATTERN" end
  local out = { p }
  local err2
  if r.mode ~= nil then out.mode, err2 = M.mode(r.mode, what .. ".mode") end
  if not err2 and r.dir_mode ~= nil then out.dir_mode, err2 = M.mode(r.dir_mode, what .. ".dir_mode") end
  if not err2 and r.owner ~= nil then out.owner, err2 = owner(r.owner, what .. ".owner") end
  if not err2 and r.mtime ~= nil then out.mtime, err2 = mtime(r.mtime, what .. ".mtime") end
  if err2 then return nil, err2, "BADVALUE" end
  if out.mode == nil and out.dir_mode == nil and out.owner == nil and out.mtime == nil then
    return nil, ("%s (%s) sets nothing: give %s"):format(what, check.show(r[1]), table.concat(M.ATTRIBUTES, ", ")),
      "BADVALUE"
  end
  return out
end

--- Checks a rules list for the call `call` ("layer"). Returns the rules
-- as the core's tar policy takes them, or nil, msg.
function M.check(rules, call)
  if type(rules) ~= "table" or (next(rules) ~= nil and #rules == 0) then
    return nil, ("%s: rules must be a list of tables like %s"):format(call, EXAMPLE), "BADVALUE"
  end
  local out = {}
  for k in pairs(rules) do
    if math.type(k) ~= "integer" or k < 1 or k > #rules then
      return nil, ("%s: rules must be a list of tables like %s"):format(call, EXAMPLE), "BADVALUE"
    end
  end
  for i, r in ipairs(rules) do
    local x, err = one(r, i, call)
    if not x then return nil, err, "BADVALUE" end
    out[i] = x
  end
  return out
end

return M
