-- A sandboxed build script runs under an instruction budget and a memory
-- ceiling: a loop or a memory bomb ends in one line naming the script's
-- line and the limit, exit 1, whatever the script does to catch it
-- (pcall, xpcall, coroutines, a load reader); ocibuild's own work for the
-- script (a build, JSON of a big config) is neither counted nor refused.
-- A call of a C function the count cannot see into (a pattern on a long
-- string) ends the process once it has taken the budget's time.
local T = require "support"

local project, run = T.script_project, T.run_script

local function over_instructions(n)
  return ("the build script ran more than %d instructions, its limit (--max-instructions N raises it)"):format(n)
end

local function over_memory(what)
  return ("the build script needs more than %s of memory, its limit (--max-memory SIZE raises it)"):format(what)
end

-- The script stops at `line` with exactly `why`, exit 1, nothing on stdout.
local function stops(p, text, line, why, ...)
  local code, out, err = run(p, text, ...)
  assert.equal(1, code, out .. err)
  assert.equal("", out)
  assert.equal(("ocibuild: %s/build.lua:%d: %s\n"):format(p.proj, line, why), err)
end

describe("ocibuild run (limits)", function()
  describe("the instruction budget", function()
    local cases = {
      { "a plain loop", "local x = 0\nwhile true do x = x + 1 end\n", 2 },
      { "a loop in a coroutine.wrap", "local f = coroutine.wrap(function()\n  while true do end\nend)\nf()\n", 2 },
      { "a loop in a coroutine.resume, caught",
        "local co = coroutine.create(function()\n  while true do end\nend)\nprint(coroutine.resume(co))\n"
          .. "print('after')\n", 2 },
      { "pcall around the loop, again and again",
        "while true do\n  pcall(function() while true do end end)\nend\n", 2 },
      { "xpcall whose handler loops", "xpcall(error, function()\n  while true do end\nend)\n", 2 },
      { "a load reader that loops", "local n = 0\nprint(load(function()\n  while true do n = n + 1 end\nend))\n", 3 },
      -- Lua runs these with hooks off after the hook raised: they must not run
      { "a __close handler that loops, in a coroutine.wrap the budget stopped",
        "local f = coroutine.wrap(function()\n  local x <close> = setmetatable({}, { __close = function() while "
          .. "true do end end })\n  while true do end\nend)\nf()\n", 3 },
      { "a __close handler that loops, closed after the budget stopped its coroutine",
        "local co = coroutine.create(function()\n  local x <close> = setmetatable({}, { __close = function() while "
          .. "true do end end })\n  while true do end\nend)\npcall(coroutine.resume, co)\ncoroutine.close(co)\n", 3 },
      { "a loop in a required file",
        "local x = 1\nrequire 'lib'\n", 2, { ["lib.lua"] = "local y = 0\nwhile true do\n  y = y + 1\nend\n" } },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local p = project(finally)
        for name, text in pairs(c[4] or {}) do T.write(p.proj .. "/" .. name, text) end
        local code, out, err = run(p, c[2], "--max-instructions", "2000000")
        assert.equal(1, code, out .. err)
        assert.equal("", out:gsub("false\t[^\n]*\n", ""))
        local file = c[4] and "lib.lua" or "build.lua"
        local line = c[4] and 3 or c[3]
        -- the line of the loop: the hook sees every line the script runs
        assert.matches(("^ocibuild: %s/%s:%%d+: %s\n$"):format(p.proj, file, over_instructions(2000000))
          :gsub("[%.%-%(%)]", "%%%0"):gsub("%%%%d%+", "%%d+"), err)
        assert.is_truthy(err:find((":%d: "):format(line), 1, true) or c[4], err)
        assert.is_false(T.exists(p.store))
      end)
    end

    it("coroutine.wrap behaves as Lua's own", function()
      local p = project(finally)
      local text = [[
local f = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); return b * 2 end)
print(f(1), f(5))
print(pcall(f))
print(pcall(coroutine.wrap(function() error("boom") end)))
print(select("#", pcall(coroutine.wrap(function() error({}) end))))
local closed = false
print((pcall(coroutine.wrap(function()
  local x <close> = setmetatable({}, { __close = function() closed = true end })
  error("inner")
end))), closed)
]]
      local code, out, err = run(p, text)
      assert.equal(0, code, err)
      T.write(p.dir .. "/plain.lua", text)
      local want = T.must(("cd %s && lua5.4 plain.lua"):format(T.q(p.dir)))
      assert.equal(want:gsub("plain%.lua", p.proj .. "/build.lua"), out)
      assert.matches("boom", out)
    end)

    it("counts what a script does, and leaves it alone under the budget", function()
      local p = project(finally)
      local code, out, err = run(p, "local x = 0\nfor i = 1, 100000 do x = x + i end\nprint(x)\n",
        "--max-instructions", "2000000")
      assert.equal(0, code, err)
      assert.equal("5000050000\n", out)
      stops(p, "local x = 0\nfor i = 1, 10000000 do x = x + i end\nprint(x)\n", 2, over_instructions(2000000),
        "--max-instructions", "2000000")
    end)
  end)

  describe("the memory ceiling", function()
    local cases = {
      { "string.rep", 'local s = ("x"):rep(200 << 20)\n', 1 },
      { "doubling a string", 'local s = "x"\nwhile true do\n  s = s .. s\nend\n', 3 },
      { "table.concat", 'local t = {}\nfor i = 1, 20 do t[i] = ("y"):rep(1 << 20) end\nlocal s = table.concat(t)\n'
        .. "local u = table.concat({ s, s, s })\n", 4 },
      { "a growing table", "local t = {}\nlocal i = 0\nwhile true do\n  i = i + 1\n  t[i] = { i }\nend\n", 5 },
      { "pcall catching the refusals",
        'local t = {}\nwhile true do\n  pcall(function() t[#t + 1] = ("z"):rep(16 << 20) .. #t end)\nend\n', 3 },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local p = project(finally)
        stops(p, c[2], c[3], over_memory("128 MiB"), "--max-memory", "128M", "--max-instructions", "0")
      end)
    end

    it("a script under the ceiling makes garbage freely", function()
      local p = project(finally)
      local code, out, err = run(p, 'local n = 0\nfor i = 1, 200 do n = n + #(("x"):rep(1 << 20) .. i) end\nprint(n)\n',
        "--max-memory", "32M")
      assert.equal(0, code, err)
      assert.equal(tostring(200 * (1 << 20) + 9 + 90 * 2 + 101 * 3) .. "\n", out)
    end)
  end)

  describe("ocibuild's own work", function()
    it("is neither counted nor refused: a build far above the script's limits saves", function()
      local p = project(finally)
      for i = 1, 300 do T.write(("%s/many/d%d/f%d.txt"):format(p.proj, i % 7, i), ("file %d\n"):format(i)) end
      -- the script holds a 300 KB label; the config's JSON holds several
      -- copies of it at once, more than the script's ceiling
      local code, out, err = run(p, [[
local img = oci.image {}
img:layer { context = "many" }
img:layer { context = "site", dest = "/www" }
img:labels { note = ("n"):rep(300000) }
local r = img:save { tag = "big:1" }
print(#r.digest)
]], "--max-instructions", "20000", "--max-memory", "1M")
      assert.equal(0, code, out .. err)
      assert.matches("^71\n", out)
      local img = T.image(p.store, "big:1")
      assert.equal(("n"):rep(300000), img.config.config.Labels.note)
    end)
  end)

  describe("a call no count can stop", function()
    it("a pattern on a long string ends the process after the budget's time: one line naming the script's line, "
      .. "exit 1, the store as it was", function()
      local p = project(finally)
      local code, out, err = run(p, 'oci.image {}:layer { context = "site" }:save { tag = "kept:1" }\n')
      assert.equal(0, code, out .. err)
      local before = T.fingerprint(p.store)
      code, out, err = run(p, [[
local s = ("a"):rep(100000)
oci.image {}:layer { context = "site" }
return s:find(".-.-.-.-b")
]], "--max-instructions", "50000000")
      assert.same({ 1, "", "ocibuild: " .. p.proj .. "/build.lua:3: the build script spent more than 1 s of CPU "
        .. "time in one call of a library function (a pattern on a long string?), its limit (--max-instructions N "
        .. "raises it)\n" }, { code, out, err })
      assert.equal(before, T.fingerprint(p.store))
    end)
  end)

  describe("flags and opts", function()
    it("refuses a bad limit as a usage error", function()
      local p = project(finally)
      T.write(p.proj .. "/build.lua", "print(1)\n")
      for _, c in ipairs {
        { "--max-memory", "lots", '--max-memory needs a size such as 64M, got "lots"' },
        { "--max-instructions", "-5", '--max-instructions needs a count such as 100000000, got "-5"' },
        { "--max-instructions", "1e6", '--max-instructions needs a count such as 100000000, got "1e6"' },
      } do
        local code, out, err = T.ocibuild("run", p.proj .. "/build.lua", c[1], c[2])
        assert.same({ 2, "", ("ocibuild: %s (see 'ocibuild run --help')\n"):format(c[3]) }, { code, out, err })
      end
    end)

    it("--unsafe has no limits but those given", function()
      local p = project(finally)
      local code, out, err = run(p, "local x = 0\nfor i = 1, 3000000 do x = x + 1 end\nprint(x)\n", "--unsafe")
      assert.equal(0, code, err)
      assert.equal("3000000\n", out)
      stops(p, "local x = 0\nfor i = 1, 3000000 do x = x + 1 end\nprint(x)\n", 2, over_instructions(100000),
        "--unsafe", "--max-instructions", "100000")
    end)

    it("oci.run from plain Lua: the same limits in opts, and the state's allocator back after", function()
      local p = project(finally)
      local oci = require "ocibuild"
      T.write(p.proj .. "/bomb.lua", "local t = {}\nwhile true do\n  t[#t + 1] = ('b'):rep(1 << 20)\nend\n")
      T.write(p.proj .. "/loop.lua", "while true do end\n")
      local ok, err = pcall(oci.run, p.proj .. "/bomb.lua", {}, { store = p.store, max_memory = 64 << 20 })
      assert.is_false(ok)
      assert.equal(("%s/bomb.lua:3: %s"):format(p.proj, over_memory("64 MiB")), err)
      ok, err = pcall(oci.run, p.proj .. "/loop.lua", {}, { store = p.store, max_instructions = 100000 })
      assert.is_false(ok)
      assert.equal(("%s/loop.lua:1: %s"):format(p.proj, over_instructions(100000)), err)
      -- this state is busted's: it allocates past the ceiling and runs long loops again
      local big = ("q"):rep(100 << 20)
      assert.equal(100 << 20, #big)
      big = nil -- luacheck: ignore 311
      collectgarbage()
      local n = 0
      for _ = 1, 300000 do n = n + 1 end
      assert.equal(300000, n)
      assert.is_nil(debug.gethook())
      ok, err = pcall(oci.run, p.proj .. "/loop.lua", {}, { max_instructions = -1 })
      assert.is_false(ok)
      assert.equal("max_instructions must be an integer of at least 0", err)
    end)
  end)
end)
