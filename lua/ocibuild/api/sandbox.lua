--- The sandbox build scripts run in: a repository's build script is data
-- its reader may not have written, so by default it gets the ocibuild
-- API, Lua's pure libraries, a read-only `io`, `os.time`/`date`, an
-- `os.getenv` that sees only what the user passed (ocibuild.ops.reach),
-- and `require` of Lua files beside it, and every path it names (contexts,
-- ignore files, archives, stores, files it opens or requires) must lie in
-- its own folder, symlinks resolved. Anything else is a function that
-- fails with "NAME is not available in build scripts (use --unsafe to
-- allow)" at the script's line. The script runs under limits (see
-- ocibuild.api.script) that no pcall, coroutine or finalizer gets around.
local core = require "ocibuild.core"
local path = require "ocibuild.util.path"

local M = {}

M.HINT = "use --unsafe to allow"

local BASE = { "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "rawequal", "rawget",
  "rawlen", "rawset", "select", "tonumber", "tostring", "type", "xpcall" }

-- The largest file a script may read whole (a module, dofile).
local MAX_SOURCE = 16 << 20

local function refused(what) return ("%s is not available in build scripts (%s)"):format(what, M.HINT) end

--- A function that raises "`name` is not available in build scripts" at
-- its caller's line.
function M.forbidden(name)
  return function() error(refused(name), 2) end
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- p (absolute) with every symlink resolved, as far as it exists.
local function resolve(p)
  local real = core.realpath(p)
  if real then return real end
  local dir = path.dirname(p)
  if dir == p then return p end
  local above = resolve(dir)
  return (above == "/" and "" or above) .. "/" .. p:match("[^/]*$")
end

--- The path policy for root (absolute, symlinks resolved): a function
-- allow(p, what) returning p (absolute) when it lies in root, else nil and
-- "<what> <p> is outside the build script's folder <root> (...)".
function M.policy(root)
  local prefix = root == "/" and "/" or root .. "/"
  return function(p, what)
    local real = resolve(p)
    if real == root or real:sub(1, #prefix) == prefix then return p end
    return nil, ("%s %s is outside the build script's folder %s: a build script reads and writes only there (%s)")
      :format(what, p, root, M.HINT), "DENIED"
  end
end

-- The file p names, relative to base, when the policy allows it.
local function checked(allow, base, p, what)
  if type(p) ~= "string" then
    return nil, ("bad argument #1 (a file name expected, got %s)"):format(type(p)), "BADVALUE"
  end
  local file, err = allow(path.abs(p, base), what)
  if not file then return nil, err, "DENIED" end
  return file
end

local function read_source(allow, base, p)
  local file, err, code = checked(allow, base, p, "file")
  if not file then return nil, err, code end
  local text
  text, err, code = core.read_file(file, { max = MAX_SOURCE })
  if not text then return nil, err, code end
  return text, file
end

-- The results of a protected call, unless the script's limits (see
-- ocibuild.api.script) were exceeded meanwhile: then the error goes on, so
-- that no pcall, coroutine or load reader lets a script past its limits.
local function unless_over(ok, ...)
  if not ok then
    local over = core.limits_exceeded()
    if over then error(over, 0) end
  end
  return ok, ...
end

-- What a function of coroutine.wrap returns or raises, as Lua's own does
-- (a failed coroutine is closed, a string error gets the caller's line),
-- unless a limit stopped it.
local function wrapped(co, ok, ...)
  if ok then return ... end
  local over = core.limits_exceeded()
  if over then error(over, 0) end
  local err = ...
  coroutine.close(co)
  error(err, 2)
end

--- The environment of a sandboxed script. o: {api=, args=, base= (the
-- script's folder), shown= (that folder as the user named it, for
-- messages), allow= (M.policy), on_chunk=function(source) (told of each
-- chunk loaded from a file, for error positions), getenv=function(name)
-- (what os.getenv answers; default: nil for every name)}.
function M.env(o)
  local env, allow, base = {}, o.allow, o.base
  local function chunkname(p)
    if p:sub(1, 1) == "/" or not o.shown or o.shown == "." then return "@" .. p end
    return "@" .. path.join(o.shown, p)
  end
  for _, k in ipairs(BASE) do env[k] = _G[k] end
  env._VERSION = _VERSION
  env._G = env
  env.args = o.args
  env.oci = o.api

  -- A script sees only the metatables it set itself: those of strings,
  -- files, the API's objects and whatever else ocibuild made are ocibuild's
  -- (a protected one shows its name). It may not replace one either, nor
  -- set a `__gc`, whose finalizer would run after the script, unbounded.
  local own = setmetatable({}, { __mode = "k" })
  env.getmetatable = function(v)
    local mt = type(v) == "table" and debug.getmetatable(v)
    if not mt then return nil end
    local shown = getmetatable(v)
    if own[mt] or type(shown) ~= "table" then return shown end
    return nil
  end
  env.setmetatable = function(t, mt)
    local cur = type(t) == "table" and debug.getmetatable(t)
    if cur and not own[cur] then error("cannot change a protected metatable", 2) end
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error(refused("a metatable with __gc"), 2)
    end
    setmetatable(t, mt)
    if mt then own[mt] = true end
    return t
  end
  local GC_OK = { collect = true, count = true, step = true, isrunning = true }
  env.collectgarbage = function(opt, ...)
    if opt == nil or GC_OK[opt] then return collectgarbage(opt, ...) end
    error(("collectgarbage(%q) is not available in build scripts (%s)"):format(tostring(opt), M.HINT), 2)
  end
  env.load = function(chunk, name, mode, ...)
    if mode ~= nil and mode ~= "t" then
      error(("load with mode %q is not available in build scripts: binary chunks could break out (%s)")
        :format(tostring(mode), M.HINT), 2)
    end
    -- a reader function is the script's code, and load catches its errors
    if select("#", ...) > 0 then return unless_over(load(chunk, name, "t", (...))) end
    return unless_over(load(chunk, name, "t", env))
  end
  env.loadfile = function(p, mode, ...)
    if p == nil then error(refused("loadfile without a file name"), 2) end
    if mode ~= nil and mode ~= "t" then error(refused("loadfile with mode " .. tostring(mode)), 2) end
    local text, file = read_source(allow, base, p)
    if not text then error(file, 2) end
    if o.on_chunk then o.on_chunk(chunkname(p)) end
    return load(text, chunkname(p), "t", select("#", ...) > 0 and (...) or env)
  end
  env.dofile = function(p)
    if p == nil then error(refused("dofile without a file name"), 2) end
    local text, file = read_source(allow, base, p)
    if not text then error(file, 2) end
    if o.on_chunk then o.on_chunk(chunkname(p)) end
    local chunk, err = load(text, chunkname(p), "t", env)
    if not chunk then error(err, 2) end
    return chunk()
  end

  env.string, env.table, env.math = copy(string), copy(table), copy(math)
  env.utf8, env.coroutine = copy(utf8), copy(coroutine)
  env.pcall = function(...) return unless_over(pcall(...)) end
  -- After an error raised by the limits' hook, Lua runs the message
  -- handler with hooks off: a handler that loops would then run forever.
  env.xpcall = function(f, msgh, ...)
    if type(msgh) ~= "function" then return xpcall(f, msgh, ...) end
    return unless_over(xpcall(f, function(...)
      if core.limits_exceeded() then return ... end
      return msgh(...)
    end, ...))
  end
  env.coroutine.resume = function(...) return unless_over(coroutine.resume(...)) end
  -- Closing a coroutine that the hook stopped would run its pending
  -- __close handlers with hooks off (Lua leaves them off in a coroutine
  -- that died so): once a limit is reached, none runs.
  env.coroutine.close = function(co)
    local over = core.limits_exceeded()
    if over then error(over, 0) end
    return unless_over(coroutine.close(co))
  end
  env.coroutine.wrap = function(f)
    local co = coroutine.create(f)
    return function(...)
      return wrapped(co, coroutine.resume(co, ...))
    end
  end
  env.string.dump = M.forbidden("string.dump")
  -- ("").dump reaches what strings' metatable indexes: a private copy
  -- without dump, which no script can reach to change
  local smt = debug.getmetatable("")
  if smt.__index == string then
    local methods = copy(string)
    methods.dump = env.string.dump
    smt.__index = methods
  end
  local getenv = o.getenv or function() end
  env.os = { time = os.time, date = os.date, clock = os.clock, difftime = os.difftime,
    -- only the variables the user passed (--env): the others may hold secrets
    getenv = function(name)
      if type(name) ~= "string" then
        error(("bad argument #1 to 'getenv' (string expected, got %s)"):format(type(name)), 2)
      end
      return getenv(name)
    end }
  for _, k in ipairs { "execute", "exit", "remove", "rename", "tmpname", "setlocale" } do
    env.os[k] = M.forbidden("os." .. k)
  end
  env.io = {
    type = io.type,
    open = function(p, mode)
      if mode ~= nil and mode ~= "r" and mode ~= "rb" then
        error(("io.open with mode %q is not available in build scripts: files open read-only (%s)")
          :format(tostring(mode), M.HINT), 2)
      end
      local file, err = checked(allow, base, p, "file")
      if not file then error(err, 2) end
      return io.open(file, mode or "r")
    end,
    lines = function(p, ...)
      if p == nil then error(refused("io.lines without a file name"), 2) end
      local file, err = checked(allow, base, p, "file")
      if not file then error(err, 2) end
      return io.lines(file, ...)
    end,
    close = function(f)
      if f == nil then error(refused("io.close without a file"), 2) end
      return f:close()
    end,
  }
  for _, k in ipairs { "popen", "write", "read", "input", "output", "tmpfile" } do
    env.io[k] = M.forbidden("io." .. k)
  end
  env.debug = setmetatable({}, {
    __index = function(_, k) return M.forbidden("debug." .. tostring(k)) end,
    __metatable = false,
  })

  local loaded = { ocibuild = o.api, string = env.string, table = env.table, math = env.math,
    utf8 = env.utf8, coroutine = env.coroutine, os = env.os, io = env.io, _G = env }
  local loading = {}
  env.package = { loaded = loaded, preload = {}, config = package.config,
    loadlib = M.forbidden("package.loadlib"), searchpath = M.forbidden("package.searchpath") }
  env.require = function(name)
    if type(name) ~= "string" then error("bad argument #1 to 'require' (string expected)", 2) end
    if loaded[name] ~= nil then return loaded[name] end
    local rel = name:match("^[%w_-]+$") and name or name:match("^[%w_-]+[%w_.-]*[%w_-]$")
    if rel and not rel:find("..", 1, true) then
      rel = rel:gsub("%.", "/")
      for _, cand in ipairs { rel .. ".lua", rel .. "/init.lua" } do
        local file = path.abs(cand, base)
        -- allowed or not before found or not: a refusal tells nothing of
        -- what lies outside
        local ok, err = allow(file, "module")
        if not ok then error(err, 2) end
        if core.stat(file) then
          if loading[name] then error(("module %q requires itself"):format(name), 2) end
          local text
          text, err = core.read_file(file, { max = MAX_SOURCE })
          if not text then error(err, 2) end
          if o.on_chunk then o.on_chunk(chunkname(cand)) end
          local chunk
          chunk, err = load(text, chunkname(cand), "t", env)
          if not chunk then error(err, 2) end
          loading[name] = true
          local r = chunk(name, file)
          loading[name] = nil
          if loaded[name] == nil then loaded[name] = r == nil and true or r end
          return loaded[name], file
        end
      end
    end
    error(("module %q is not available in build scripts: only Lua files in the script's folder can be required (%s)")
      :format(name, M.HINT), 2)
  end
  return env
end

return M
