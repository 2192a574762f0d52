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

    -- The man page and the bash completion, made at build time.
    local man = T.must("MANWIDTH=100 man -l " .. T.q(prefix .. "/share/man/man1/ocibuild.1")
      .. " 2>/dev/null | col -bx")
    for _, c in ipairs(require("ocibuild.cli").COMMANDS) do
      assert.truthy(man:find("ocibuild " .. c[1] .. "\n", 1, true), c[1])
    end
    local comp = prefix .. "/share/bash-completion/completions/ocibuild"
    assert.equal("diff\n", T.must(("bash -c 'source %s; COMP_WORDS=(ocibuild di); COMP_CWORD=1; _ocibuild; "
      .. "printf \"%%s\\n\" \"${COMPREPLY[@]}\"'"):format(T.q(comp):gsub("'", "'\\''"))))
  end)
end)

describe("luarocks make", function()
  it("builds the rockspec from a checkout and installs a working program and module into a tree", function()
    local d = T.tmpdir(finally)
    local src, tree = d .. "/src", d .. "/tree"
    -- a copy of the checkout: luarocks builds in build.luarocks/ inside it
    T.must(("mkdir %s && cd %s && tar --exclude='./build*' --exclude=./.git -cf - . | tar -C %s -xf -")
      :format(T.q(src), T.q(T.root), T.q(src)))
    local code, out, err = T.sh(("cd %s && CMAKE_BUILD_PARALLEL_LEVEL=%d luarocks --lua-version 5.4 make --tree %s "
      .. "ocibuild-dev-1.rockspec"):format(T.q(src), require("ocibuild.core").ncpu(), T.q(tree)))
    assert.equal(0, code, out .. err)
    assert.equal("ocibuild 0.1.0\n", T.must(T.q(tree .. "/bin/ocibuild") .. " --version"))
    T.write(d .. "/ctx/f", "rock")
    local digest = T.must(("cd / && %s --store %s build %s -t rock:1 -q"):format(T.q(tree .. "/bin/ocibuild"),
      T.q(d .. "/s"), T.q(d .. "/ctx")))
    assert.equal(T.image(d .. "/s", "rock:1").desc.digest .. "\n", digest)
    -- the module, found through the tree's paths
    local got = T.must(("cd %s && eval \"$(luarocks --lua-version 5.4 path --tree %s)\" && "
      .. "lua5.4 -e 'print(require(\"ocibuild\").build { context = \"ctx\", store = \"s2\" }.digest)'")
      :format(T.q(d), T.q(tree)))
    assert.equal(digest, got)
  end)
end)
