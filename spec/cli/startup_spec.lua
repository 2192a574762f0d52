-- What a start of ocibuild loads: its Lua modules come compiled in the
-- program (src/lua/embed.c), used only while their sources are the ones they
-- were compiled from, and libarchive is loaded when a tar is first written.
local T = require "support"

-- A copy of the Lua folder the program reads, changed by edit(dir).
local function lua_copy(d, edit)
  T.must(("cp -r %s %s"):format(T.q(T.root .. "/lua"), T.q(d .. "/lua")))
  edit(d .. "/lua/ocibuild")
  return d .. "/lua"
end

local function run(dir, ...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return T.sh(("OCIBUILD_LUA_DIR=%s %s %s"):format(T.q(dir), T.q(T.bin), table.concat(words, " ")))
end

describe("ocibuild's start", function()
  it("runs the modules compiled into the program when their sources are gone", function()
    local d = T.tmpdir(finally)
    local dir = lua_copy(d, function(o)
      T.must(("rm %s %s"):format(T.q(o .. "/cli/init.lua"), T.q(o .. "/util/version.lua")))
    end)
    local code, out, err = run(dir, "--version")
    assert.equal(0, code, err)
    assert.matches("^ocibuild %d+%.%d+%.%d+\n$", out)
  end)

  it("never runs a compiled module older than its source, even one of the same size", function()
    local d = T.tmpdir(finally)
    local dir = lua_copy(d, function(o)
      local p = o .. "/cli/init.lua"
      local s = T.read(p)
      local edited = s:gsub("Build OCI images from directories, without a daemon%.",
        "BUILD OCI IMAGES FROM DIRECTORIES, WITHOUT A DAEMON.")
      assert.equal(#s, #edited)
      assert.not_equal(s, edited)
      T.write(p, edited)
      T.write(o .. "/util/version.lua", 'return "9.9.9"\n')
    end)
    local code, out, err = run(dir, "--help")
    assert.equal(0, code, err)
    assert.matches("BUILD OCI IMAGES FROM DIRECTORIES, WITHOUT A DAEMON.", out, 1, true)
    code, out, err = run(dir, "--version")
    assert.equal(0, code, err)
    assert.equal("ocibuild 9.9.9\n", out)
    -- and the unchanged sources next to them still match what was compiled
    code, out = run(T.root .. "/lua", "--version")
    assert.equal(0, code)
    assert.equal("ocibuild " .. require "ocibuild.util.version" .. "\n", out)
  end)

  it("loads the modules of the Dockerfile front end, attestations and the registry only when a build uses them",
    function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/f", "x")
      T.write(d .. "/mods.lua", [[
oci.image {}:layer { context = "ctx" }:save { tag = "m:1" }
local t = {}
for k in pairs(package.loaded) do
  if k:match("^ocibuild%.dockerfile") or k:match("^ocibuild%.attest") or k:match("^ocibuild%.registry%.")
    and k ~= "ocibuild.registry.options" then t[#t + 1] = k end
end
table.sort(t)
print(table.concat(t, " "))
]])
      local code, out, err = T.ocibuild("--store", d .. "/s", "run", "--unsafe", d .. "/mods.lua")
      assert.equal(0, code, err)
      assert.equal("", out:match("^[^\n]*"))
      -- and a save that asks for an SBOM loads what makes it
      T.write(d .. "/sbom.lua", 'oci.image {}:layer { context = "ctx" }:save { tag = "m:2", sbom = true }\n'
        .. 'print(package.loaded["ocibuild.attest.build"] ~= nil)\n')
      code, out, err = T.ocibuild("--store", d .. "/s", "run", "--unsafe", d .. "/sbom.lua")
      assert.equal(0, code, err)
      assert.equal("true", out:match("^[^\n]*"))
    end)

  it("does not link libarchive: it is loaded when a tar is first written or read", function()
    assert.is_nil(T.must("ldd " .. T.q(T.bin)):find("libarchive", 1, true))
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/f", "x")
    assert.equal(0, (T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "s:1")))
  end)
end)
