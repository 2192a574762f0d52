--- A line counter for Lua code (Debian 12 packages no luacov): loaded
-- first in a Lua state (LUA_INIT for lua5.4, coverage/lua/ocibuild/cli.lua
-- for the ocibuild program), it counts the lines run in files under
-- $OCIBUILD_LUA_COV_ROOT and, when the state closes, appends them as
-- "file<TAB>line<TAB>count" lines to $OCIBUILD_LUA_COV_DIR/<random>.cov.
local root = os.getenv("OCIBUILD_LUA_COV_ROOT")
local outdir = os.getenv("OCIBUILD_LUA_COV_DIR")
if not root or not outdir or rawget(_G, "__ocibuild_lcount") then return end

local counts, known = {}, {}
local cwd = os.getenv("PWD") or "."

local function hook(_, line)
  local info = debug.getinfo(2, "S")
  local src = info.source
  local file = known[src]
  if file == nil then
    file = false
    if src:sub(1, 1) == "@" then
      local p = src:sub(2):gsub("^%./", "")
      if p:sub(1, 1) ~= "/" then p = cwd .. "/" .. p end
      if p:sub(1, #root + 1) == root .. "/" then file = p end
    end
    known[src] = file
  end
  if file then
    local t = counts[file]
    if not t then t = {}; counts[file] = t end
    t[line] = (t[line] or 0) + 1
  end
end

local function flush()
  local name = ("%s/%d-%d.cov"):format(outdir, os.time(), math.random(1, 1 << 30))
  local f = io.open(name, "w")
  if not f then return end
  for file, t in pairs(counts) do
    for line, n in pairs(t) do f:write(file, "\t", line, "\t", n, "\n") end
  end
  f:close()
end

-- Written when the state closes (lua_close runs every __gc).
rawset(_G, "__ocibuild_lcount", setmetatable({}, { __gc = flush }))
math.randomseed()
debug.sethook(hook, "l")
-- coroutines have hooks of their own
local create, wrap = coroutine.create, coroutine.wrap
coroutine.create = function(f)
  local co = create(f)
  debug.sethook(co, hook, "l")
  return co
end
coroutine.wrap = function(f)
  local co = coroutine.create(f)
  return function(...)
    local r = table.pack(coroutine.resume(co, ...))
    if not r[1] then error(r[2], 0) end
    return table.unpack(r, 2, r.n)
  end
end
