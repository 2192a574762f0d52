local T = require "support"

describe("cmake --install", function()
  it("puts the program and the module where Debian's lua5.4 looks, and both work from there", function()
    local d = T.tmpdir(finally)
    local prefix = d .. "/prefix"
    T.must(("cmake --install %s --prefix %s"):format(T.q(T.build), T.q(prefix)))
    assert.is_true(T.exists(prefix .. "/bin/ocibuild"))
    assert.is_true(T.exists(prefix .. "/share/lua/5.4/ocibuild/init.lua"))
    assert.is_true(T.exists(prefix .. "/lib/lua/5.4/ocibuild/core.so"))
    -- With the default prefix these are on lua5.4's default search paths.
    local paths = T.must("lua5.4 -e 'print(package.path); print(package.cpath)'")
    assert.truthy(paths:find("/usr/local/share/lua/5.4/?/init.lua", 1, true))
    assert.truthy(paths:find("/usr/local/lib/lua/5.4/?.so", 1, true))

    -- The installed program finds its Lua side from its own place.
    T.write(d .. "/ctx/f", "installed")
    local out = T.must(("cd / && %s --store %s build %s -t inst:1"):format(T.q(prefix .. "/bin/ocibuild"),
      T.q(d .. "/s"), T.q(d .. "/ctx")))
    local digest = out:match("digest:%s+(sha256:%x+)")
    assert.equal(T.image(d .. "/s", "inst:1").desc.digest, digest)

    -- A plain lua5.4 program with the prefix's folders on its paths.
    T.write(d .. "/app.lua", 'print(require("ocibuild").build { context = "ctx", store = "s2" }.digest)')
    local got = T.must(("cd %s && LUA_PATH=%s LUA_CPATH=%s lua5.4 app.lua"):format(T.q(d),
      T.q(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"),
      T.q(prefix .. "/lib/lua/5.4/?.so;;")))
    assert.matches("^sha256:%x+\n$", got)
  end)
end)
