-- valgrind memcheck over one representative build: a context with a
-- .dockerignore, symlinks, a hardlink and a file of several compression
-- blocks, two compression threads, an archive output, then a rebuild that
-- reuses the earlier blob, `images` and `gc`. Any invalid access,
-- uninitialised read or definite leak fails it. (Not under a Sanitize
-- build, whose ASan does that job and cannot run under valgrind.)
local T = require "support"

local VALGRIND = "valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect "
  .. "--errors-for-leak-kinds=definite,indirect "

describe("ocibuild under valgrind", function()
  it("builds, rebuilds, lists and collects with no memory error or leak", function()
    if T.SANITIZE then return pending("a Sanitize build: ASan checks memory instead") end
    if T.sh("command -v valgrind") ~= 0 then return pending("valgrind is not installed") end
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    T.write(ctx .. "/sub/text", ("line of text\n"):rep(200000))
    T.write(ctx .. "/.dockerignore", "*.log\n!keep.log\n")
    T.write(ctx .. "/a.log", "left out\n")
    T.write(ctx .. "/keep.log", "kept\n")
    T.must(("cd %s && head -c 2500000 /dev/urandom > big && ln -s big link && ln big hard"):format(T.q(ctx)))
    local function vg(...)
      local words = {}
      for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
      local code, out, err = T.sh(VALGRIND .. T.q(T.bin) .. " --store " .. T.q(d .. "/s") .. " " .. table.concat(words,
        " "))
      assert.equal(0, code, out .. err)
      return out
    end
    vg("build", ctx, "-t", "v:1", "-o", d .. "/v.tar", "--jobs", "2")
    vg("build", ctx, "-t", "v:2", "--jobs", "2")
    assert.matches("\nv +2 ", vg("images"))
    assert.matches("^removed 0 untagged images, 0 blobs", vg("gc"))
  end)
end)
