-- Build scripts run sandboxed: every escape we could think of fails with
-- "ocibuild: FILE:LINE: NAME is not available in build scripts (use
-- --unsafe to allow)" (or names the path outside the script's folder),
-- and leaves nothing behind; --unsafe and run_unsafe lift the sandbox.
local T = require "support"

local HINT = "(use --unsafe to allow)"

-- A project folder holding a context, and a folder outside it holding a
-- secret and a target a script must not be able to write.
local function project(finally)
  return T.script_project(finally, { ["outside/secret.txt"] = "secret\n",
    ["outside/lib.lua"] = "return { evil = true }\n" })
end

local run = T.run_script

-- The script's line `line` fails with exactly `why`, exit 1.
local function fails(p, text, line, why)
  local code, out, err = run(p, text)
  assert.equal(1, code, out .. err)
  assert.equal(("ocibuild: %s/build.lua:%d: %s\n"):format(p.proj, line, why), err)
  return out
end

local function forbidden(name) return ("%s is not available in build scripts %s"):format(name, HINT) end

local function outside(p, what, at)
  return ("%s %s is outside the build script's folder %s: a build script reads and writes only there %s")
    :format(what, at, p.proj, HINT)
end

describe("ocibuild run (the sandbox)", function()
  describe("forbidden functions fail at the script's line", function()
    local cases = {
      { 'os.execute("touch EVIL")', "os.execute" },
      { 'return os.execute("touch EVIL")', "os.execute" },
      { 'io.popen("touch EVIL")', "io.popen" },
      { 'os.remove("site/index.html")', "os.remove" },
      { 'os.rename("site", "gone")', "os.rename" },
      { "os.exit(0)", "os.exit" },
      { "os.tmpname()", "os.tmpname" },
      { 'os.setlocale("C")', "os.setlocale" },
      { 'io.write("x")', "io.write" },
      { "io.read()", "io.read" },
      { 'io.output("EVIL")', "io.output" },
      { 'io.input("site/index.html")', "io.input" },
      { "io.tmpfile()", "io.tmpfile" },
      { "io.lines()", "io.lines without a file name" },
      { "io.close()", "io.close without a file" },
      { 'package.loadlib("/lib/x86_64-linux-gnu/libc.so.6", "*")', "package.loadlib" },
      { 'package.searchpath("x", "?.lua")', "package.searchpath" },
      { "debug.getinfo(1)", "debug.getinfo" },
      { "debug.getupvalue(oci.image, 1)", "debug.getupvalue" },
      { "debug.getregistry()", "debug.getregistry" },
      { "debug.sethook(print, 'l')", "debug.sethook" },
      { "debug.getmetatable('')", "debug.getmetatable" },
      { "local f = debug.setmetatable; f(1, {})", "debug.setmetatable" },
      { "string.dump(print)", "string.dump" },
      { "dofile()", "dofile without a file name" },
      { "loadfile()", "loadfile without a file name" },
      { "local _, e = coroutine.resume(coroutine.create(function() os.execute('touch EVIL') end)) error(e, 0)",
        "os.execute" },
      { "pcall(error) ; local ok = os.execute('touch EVIL')", "os.execute" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local p = project(finally)
        local out = fails(p, "local x = 1\n" .. c[1] .. "\n", 2, forbidden(c[2]))
        assert.equal("", out)
        assert.is_false(T.exists(p.proj .. "/EVIL"))
        assert.is_true(T.exists(p.proj .. "/site/index.html"))
        assert.is_false(T.exists(p.store))
      end)
    end

    it("collectgarbage: what changes the collector is refused, counting is fine", function()
      local p = project(finally)
      fails(p, 'assert(collectgarbage("count") > 0)\ncollectgarbage("stop")\n', 2,
        'collectgarbage("stop") is not available in build scripts ' .. HINT)
      fails(p, 'collectgarbage()\ncollectgarbage("generational")\n', 2,
        'collectgarbage("generational") is not available in build scripts ' .. HINT)
    end)

    it("load takes text only: binary chunks could break out of the VM", function()
      local p = project(finally)
      fails(p, 'local x\nload("\\27LuaT", "x", "b")\n', 2,
        'load with mode "b" is not available in build scripts: binary chunks could break out ' .. HINT)
      fails(p, 'local x\nload("\\27LuaT", "x", "bt")\n', 2,
        'load with mode "bt" is not available in build scripts: binary chunks could break out ' .. HINT)
      local code, out, err = run(p, 'print(load("\\27LuaT\\0"))\n')
      assert.equal(0, code, err)
      local _, n = out:gsub("attempt to load a binary chunk %(mode is 't'%)", "")
      assert.equal(1, n, out)
      -- nor can a script make one: string.dump is refused as a string's method too
      fails(p, 'local x\nlocal d = ("").dump(function() end)\n', 2, forbidden("string.dump"))
      fails(p, 'local x\nlocal d = string.dump(function() end)\n', 2, forbidden("string.dump"))
    end)

    it("a chunk loaded with a custom environment gets only what the script gives it", function()
      local p = project(finally)
      fails(p, 'local f = load("os.execute(\'touch EVIL\') return 1", "=x", "t", { os = os })\nf()\n', 2,
        "x:1: " .. forbidden("os.execute"))
      local code, out, err = run(p, 'print(load("return _G")() == _G, load("return debug.x")() ~= nil)\n')
      assert.equal(0, code, err)
      assert.equal("true\ttrue\n", out)
      assert.is_false(T.exists(p.proj .. "/EVIL"))
    end)
  end)

  describe("what the script can reach", function()
    it("sees no metatable of strings, files or the API's objects", function()
      local p = project(finally)
      local code, out, err = run(p, [[
local img = oci.image {}
local f = io.open("site/index.html")
print(getmetatable(""), getmetatable(f), getmetatable(img), getmetatable(print))
print(pcall(setmetatable, img, {}))
print(rawget(img, "_img"), next(img))
print(package.loaded["ocibuild.core"], package.loaded.debug, package.loaded.ocibuild == oci)
for _, k in ipairs { "new", "run", "run_unsafe", "internal" } do
  local ok, e = pcall(function() return oci[k] end)
  print(ok, (e:match("oci%.[%w_]+ is not available in build scripts")))
end
f:close()
]])
      assert.equal(0, code, err)
      assert.equal("nil\tnil\tocibuild.Image\tnil\n"
        .. "false\tcannot change a protected metatable\n"
        .. "nil\tnil\n"
        .. "nil\tnil\ttrue\n"
        .. "false\toci.new is not available in build scripts\n"
        .. "false\toci.run is not available in build scripts\n"
        .. "false\toci.run_unsafe is not available in build scripts\n"
        .. "false\toci.internal is not available in build scripts\n", out)
    end)

    it("changing its string library changes nothing of ocibuild's", function()
      local p = project(finally)
      local code, out, err = run(p, [[
string.format = function() error("hijacked") end
string.rep, string.gsub, string.match = nil, nil, nil
table.concat, table.sort = nil, nil
local img = oci.image {}
img:layer { context = "site" }
return img:save { tag = "fine:1" }
]])
      assert.equal(0, code, out .. err)
      assert.equal(T.image(p.store, "fine:1").desc.digest, out:match("digest:%s+(sha256:%x+)"))
    end)

    it("requires only Lua files in its folder, never a C module or ocibuild's internals", function()
      local p = project(finally)
      T.write(p.proj .. "/lib/util.lua", "return { twice = function(x) return 2 * x end }\n")
      local code, out, err = run(p,
        'local u = require "lib.util"\nprint(u.twice(21), require("lib.util") == u, require("string") == string)\n')
      assert.equal(0, code, err)
      assert.equal("42\ttrue\ttrue\n", out)
      for _, name in ipairs { "ocibuild.core", "ocibuild.api.script", "cjson", "debug", "lfs" } do
        fails(p, ('local x\nrequire "%s"\n'):format(name), 2, ('module "%s" is not available in build scripts: '
          .. "only Lua files in the script's folder can be required %s"):format(name, HINT))
      end
      fails(p, 'local x\nrequire "../outside/lib"\n', 2, ('module "../outside/lib" is not available in build scripts: '
        .. "only Lua files in the script's folder can be required %s"):format(HINT))
      T.must(("ln -s %s %s"):format(T.q(p.outside .. "/lib.lua"), T.q(p.proj .. "/sneaky.lua")))
      fails(p, 'local x\nrequire "sneaky"\n', 2, outside(p, "module", p.proj .. "/sneaky.lua"))
      -- through a symlinked folder: the same refusal whether the file
      -- exists out there or not, so a script cannot probe the host
      T.must(("ln -s %s %s"):format(T.q(p.outside), T.q(p.proj .. "/out")))
      for _, name in ipairs { "lib", "nothere" } do
        fails(p, ('local x\nrequire "out.%s"\n'):format(name), 2,
          outside(p, "module", p.proj .. "/out/" .. name .. ".lua"))
      end
    end)

    it("a required file is sandboxed too, with errors at its own line", function()
      local p = project(finally)
      T.write(p.proj .. "/lib/bad.lua", "local y = 1\nos.execute('touch EVIL')\n")
      local code, _, err = run(p, 'require "lib.bad"\n')
      assert.equal(1, code)
      assert.equal(("ocibuild: %s/lib/bad.lua:2: %s\n"):format(p.proj, forbidden("os.execute")), err)
    end)

    it("reads files in its folder only, read-only, symlinks resolved", function()
      local p = project(finally)
      local code, out, err = run(p,
        'print(io.open("site/index.html"):read("a"))\nfor l in io.lines("site/index.html") do print(#l) end\n')
      assert.equal(0, code, err)
      assert.equal("<p>hi</p>\n\n9\n", out)
      fails(p, 'local x\nio.open("site/index.html", "w")\n', 2,
        'io.open with mode "w" is not available in build scripts: files open read-only ' .. HINT)
      fails(p, 'local x\nio.open("site/index.html", "r+")\n', 2,
        'io.open with mode "r+" is not available in build scripts: files open read-only ' .. HINT)
      fails(p, 'local x\nio.open("/etc/passwd")\n', 2, outside(p, "file", "/etc/passwd"))
      fails(p, 'local x\nio.lines("../outside/secret.txt")\n', 2, outside(p, "file", p.outside .. "/secret.txt"))
      fails(p, 'local x\ndofile("/etc/passwd")\n', 2, outside(p, "file", "/etc/passwd"))
      fails(p, 'local x\nloadfile("../outside/lib.lua")\n', 2, outside(p, "file", p.outside .. "/lib.lua"))
      T.must(("ln -s %s %s"):format(T.q(p.outside .. "/secret.txt"), T.q(p.proj .. "/link.txt")))
      fails(p, 'local x\nio.open("link.txt")\n', 2, outside(p, "file", p.proj .. "/link.txt"))
      assert.equal("<p>hi</p>\n", T.read(p.proj .. "/site/index.html"))
    end)

    it("names no context, ignore file, archive, store or signing key outside its folder", function()
      local p = project(finally)
      T.must(("ln -s %s %s && mkdir %s"):format(T.q(p.outside), T.q(p.proj .. "/out-link"), T.q(p.proj .. "/ok")))
      local cases = {
        { 'img:layer { context = "/etc" }', outside(p, "context", "/etc") },
        { 'img:layer { context = "../outside" }', outside(p, "context", p.outside) },
        { 'img:layer { context = "out-link" }', outside(p, "context", p.proj .. "/out-link") },
        { 'img:layer { context = "site", ignorefile = "../outside/secret.txt" }',
          outside(p, "ignorefile", p.outside .. "/secret.txt") },
        { 'oci.ignorefile("/etc/passwd")', outside(p, "ignore file", "/etc/passwd") },
        { 'img:save { archive = "../outside/x.tar" }', outside(p, "archive", p.outside .. "/x.tar") },
        { 'img:save { archive = "out-link/x.tar" }', outside(p, "archive", p.proj .. "/out-link/x.tar") },
        { 'oci.image { store = "../outside/store" }', outside(p, "store", p.outside .. "/store") },
        { 'oci.image { store = "out-link/new/store" }', outside(p, "store", p.proj .. "/out-link/new/store") },
        { 'oci.build { context = "/etc" }', outside(p, "context", "/etc") },
        { 'oci.build { context = "site", store = "/tmp/x" }', outside(p, "store", "/tmp/x") },
        { 'oci.build { context = "site", archive = "/tmp/x.tar" }', outside(p, "archive", "/tmp/x.tar") },
        { 'img:file { path = "/x", source = "../outside/secret.txt" }',
          outside(p, "file source", p.outside .. "/secret.txt") },
        { 'img:file { path = "/x", source = "out-link/secret.txt" }',
          outside(p, "file source", p.proj .. "/out-link/secret.txt") },
        { 'oci.image { from = "oci:../outside" }', outside(p, "base image", p.outside) },
        { 'oci.image { from = "oci-archive:/tmp/x.tar:a:1" }', outside(p, "base image", "/tmp/x.tar") },
        { 'oci.build { context = "site", from = "oci:/etc" }', outside(p, "base image", "/etc") },
        { 'oci.index { img }:save { archive = "../outside/i.tar" }', outside(p, "archive", p.outside .. "/i.tar") },
        { 'img:save { tag = "a:1", sign = { key = "../outside/secret.txt" } }',
          outside(p, "signing key", p.outside .. "/secret.txt") },
        { 'oci.build { context = "site", tag = "a:1", sign = { key = "/etc/passwd" } }',
          outside(p, "signing key", "/etc/passwd") },
        { 'oci.dockerfile { context = "/etc" }', outside(p, "context", "/etc") },
        { 'oci.dockerfile { context = "out-link" }', outside(p, "context", p.proj .. "/out-link") },
        { 'oci.dockerfile { context = "ok", file = "../outside/secret.txt" }',
          outside(p, "Dockerfile", p.outside .. "/secret.txt") },
      }
      for _, c in ipairs(cases) do
        fails(p, "local img = oci.image {}\n" .. c[1] .. "\n", 2, c[2])
      end
      -- A context's own .dockerignore may not lead outside either.
      T.must(("ln -s %s %s"):format(T.q(p.outside .. "/secret.txt"), T.q(p.proj .. "/site/.dockerignore")))
      fails(p, 'local img = oci.image {}\nimg:layer { context = "site" }\n', 2,
        outside(p, "ignore file", p.proj .. "/site/.dockerignore"))
      assert.same({ ["lib.lua"] = "f", ["secret.txt"] = "f" }, T.tree(p.outside))
      assert.is_false(T.exists(p.store))
    end)

    it("reads a Dockerfile's context only: its ignore file, and oci: references in FROM and COPY --from", function()
      local p = project(finally)
      T.write(p.proj .. "/ctx/a.txt", "a\n")
      T.must(("ln -s %s %s"):format(T.q(p.outside .. "/secret.txt"), T.q(p.proj .. "/ctx/.dockerignore")))
      T.write(p.proj .. "/ctx/Dockerfile", "FROM scratch\nCOPY a.txt /\n")
      fails(p, 'local img = oci.dockerfile { context = "ctx" }\n', 1,
        outside(p, "ignore file", p.proj .. "/ctx/.dockerignore"))
      os.remove(p.proj .. "/ctx/.dockerignore")
      for _, text in ipairs { "FROM oci:../../outside\n", "FROM scratch\nCOPY --from=oci-archive:/tmp/x.tar / /\n" } do
        T.write(p.proj .. "/ctx/Dockerfile", text)
        local code, out, err = run(p, 'return oci.dockerfile { context = "ctx" }:save { tag = "x:1" }\n')
        assert.equal(1, code, out)
        assert.matches("outside the build context " .. (p.proj .. "/ctx"):gsub("%p", "%%%0")
          .. ": a Dockerfile reads only its context", err)
      end
      assert.same({ ["lib.lua"] = "f", ["secret.txt"] = "f" }, T.tree(p.outside))
    end)

    it("shows the checks one value and the work another: never (option tables are copied raw)", function()
      local p = project(finally)
      fails(p, [[
local calls = 0
local spec = setmetatable({}, { __index = function(_, k)
  calls = calls + 1
  if k == "context" then return calls == 1 and "site" or "/etc" end
end, __pairs = function() return next, { context = "/etc" } end })
local img = oci.image {}
img:layer(spec)
]], 7, "layer needs a table with context = <directory>")
    end)

    it("an error object's __tostring never runs in ocibuild", function()
      local p = project(finally)
      local code, out, err = run(p,
        'local x\nerror(setmetatable({}, { __tostring = function() return "INJECTED" end }))\n')
      assert.equal(1, code)
      assert.equal("", out)
      assert.equal(("ocibuild: %s/build.lua:2: error object is a table value\n"):format(p.proj), err)
    end)

    it("gets from the API only plain data and the API's own functions", function()
      local p = project(finally)
      local code, out, err = run(p, [[
local img = oci.image {}
img:layer { context = "site" }
local r = img:save { tag = "data:1" }
local bad = {}
local seen = {}
local function scan(v, at)
  if seen[v] then return end
  local t = type(v)
  if t == "table" then
    seen[v] = true
    for k, x in pairs(v) do scan(x, at .. "." .. tostring(k)) end
  elseif t ~= "string" and t ~= "number" and t ~= "boolean" then
    bad[#bad + 1] = at .. ":" .. t
  end
end
scan(r, "result")
scan(oci.ignorefile("site/index.html"), "ignorefile")
for k, v in pairs(oci) do if type(v) ~= "string" then assert(type(v) == "function", k) end end
print(#bad == 0 and "plain" or table.concat(bad, " "))
]])
      assert.equal(0, code, err)
      assert.equal("plain\n", out:match("^[^\n]*\n"))
    end)
  end)

  describe("metatables: a script reaches none of ocibuild's", function()
    -- Every table a script gets from the API, and the metatables it can
    -- reach from there, spied on with __index and __newindex; then a base
    -- is pulled from a registry that answers 401, so that the user's
    -- ~/.docker/config.json is decoded while the script's spies wait.
    local SPY = [[
local seen, spied, got = {}, {}, {}
local function spy(v)
  if type(v) ~= "table" or seen[v] then return end
  seen[v] = true
  local mt = getmetatable(v)
  if type(mt) == "table" and not spied[mt] then
    spied[mt] = true
    spied[#spied + 1] = mt
    mt.__newindex = function(t, k, x) got[#got + 1] = tostring(k) .. "=" .. tostring(x); rawset(t, k, x) end
  end
  for k, x in next, v do spy(k); spy(x) end
end
local img = oci.image {}
img:layer { context = "site" }
local r = img:save { tag = "mine:1" }
spy(r)
spy(oci.ignorefile("site/index.html"))
spy(oci)
spy(args)
print("metatables reached: " .. #spied)
local ok, e = pcall(function()
  return oci.image { from = args.base }:save { tag = "other:1" }
end)
print("pull: " .. tostring(e))
print("seen: " .. table.concat(got, " "))
]]

    it("a secret of ~/.docker/config.json never passes through anything the script can observe", function()
      local R = require "support.registry"
      local ok, why = R.available { auth = "basic" }
      if not ok then return pending(why) end
      local reg <close> = R.start { auth = "basic", users = { giteaAdmin = "S3CRET-pw" } }
      local p = project(finally)
      local home = p.dir .. "/home"
      local auth = T.must("printf %s 'giteaAdmin:S3CRET-pw' | base64"):gsub("%s+$", "")
      T.write(home .. "/.docker/config.json", ('{"auths":{"%s":{"auth":"%s"}}}'):format(reg.host, auth))
      T.write(p.proj .. "/build.lua", SPY)
      local code, out, err = T.sh(("HOME=%s %s --store %s run %s base=%s --allow-registry %s"):format(T.q(home),
        T.q(T.bin), T.q(p.store), T.q(p.proj .. "/build.lua"), T.q(reg.host .. "/team/base:1"), T.q(reg.host)))
      assert.equal(0, code, out .. err)
      assert.matches("metatables reached: 0\n", out)
      -- the registry was asked with the user's credentials: it knows no such image
      assert.matches("pull: [^\n]*has no image [^\n]*team/base:1 %(MANIFEST_UNKNOWN", out)
      assert.matches("seen: \n", out)
      assert.falsy(out:find(auth, 1, true), out)
      assert.falsy(out:find("S3CRET", 1, true), out)
      assert.falsy(err:find("S3CRET", 1, true), err)
    end)

    it("getmetatable shows only what the script set; setmetatable replaces none of ocibuild's, and no __gc", function()
      local p = project(finally)
      local code, out, err = run(p, [[
local mt = { __index = function() return 42 end }
local t = setmetatable({}, mt)
print(getmetatable(t) == mt, t.x, getmetatable(setmetatable({}, { __metatable = "mine" })))
local r = oci.image {}:save {}
print(getmetatable(r), getmetatable(r.manifest), getmetatable(oci.image {}), getmetatable(oci))
print(pcall(setmetatable, oci.image {}, {}))
print(pcall(setmetatable, {}, { __gc = function() while true do end end }))
print(pcall(setmetatable, t, { __gc = true }))
print(getmetatable(setmetatable(t, nil)))
]])
      assert.equal(0, code, err)
      assert.equal("true\t42\tmine\n"
        .. "nil\tnil\tocibuild.Image\tocibuild\n"
        .. "false\tcannot change a protected metatable\n"
        .. "false\ta metatable with __gc is not available in build scripts " .. HINT .. "\n"
        .. "false\ta metatable with __gc is not available in build scripts " .. HINT .. "\n"
        .. "nil\n", out:match("^(.-)digest:"))
    end)
  end)

  describe("the API tables", function()
    -- A new function or method must check its path options (init.lua's
    -- `allow`) and get a case above before it is added here.
    it("are exactly the ones the sandbox was checked against", function()
      local api = require("ocibuild").new(nil, { allow = function(p) return p end })
      local names = {}
      for k in pairs(api) do names[#names + 1] = k end
      table.sort(names)
      assert.same({ "VERSION", "build", "dockerfile", "ignorefile", "image", "index" }, names)
      local methods = {}
      for k in pairs(debug.getmetatable(api.image()).__index) do methods[#methods + 1] = k end
      table.sort(methods)
      assert.same({ "__index", "__metatable", "annotations", "config", "file", "label", "labels", "layer",
        "remove", "save" }, methods)
      methods = {}
      for k in pairs(debug.getmetatable(api.index { api.image() }).__index) do methods[#methods + 1] = k end
      table.sort(methods)
      assert.same({ "__index", "__metatable", "save" }, methods)
      -- managing the store and moving images are for programs, not build scripts
      local full = require("ocibuild").new(nil, {})
      assert.is_function(full.store)
      assert.is_function(full.push)
      assert.is_function(full.pull)
    end)
  end)

  describe("--unsafe and run_unsafe", function()
    it("give a script the whole of Lua, and paths anywhere", function()
      local p = project(finally)
      local code, out, err = run(p, [[
os.execute("touch " .. args.dir .. "/proj/MADE")
local f = assert(io.open(args.dir .. "/outside/written.txt", "w")); f:write("w"); f:close()
local img = oci.image {}
img:layer { context = args.dir .. "/outside" }
return img:save { tag = "unsafe:1" }
]], "--unsafe", "dir=" .. p.dir)
      assert.equal(0, code, out .. err)
      assert.is_true(T.exists(p.proj .. "/MADE"))
      assert.equal("w", T.read(p.outside .. "/written.txt"))
      assert.truthy(out:find(T.image(p.store, "unsafe:1").desc.digest, 1, true))
    end)

    it("from Lua: ocibuild.run sandboxes, ocibuild.run_unsafe does not", function()
      local p = project(finally)
      T.write(p.proj .. "/b.lua", 'os.execute("true")\nreturn "ran"\n')
      local oci = require "ocibuild"
      local ok, err = pcall(oci.run, p.proj .. "/b.lua")
      assert.is_false(ok)
      assert.equal(("%s/b.lua:1: %s"):format(p.proj, forbidden("os.execute")), err)
      assert.equal("ran", oci.run_unsafe(p.proj .. "/b.lua", {}, { store = p.store }))
    end)
  end)
end)
