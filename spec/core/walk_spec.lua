local core = require "ocibuild.core"
local T = require "support"

local function walk(root, ...)
  local w, err, code = core.walk(root, ...)
  if not w then return nil, err, code end
  local list, info = {}, {}
  while true do
    local p, i, code2 = w:next()
    if not p then
      if i then return nil, i, code2 end
      break
    end
    list[#list + 1] = p
    info[p] = i
  end
  return list, info
end

describe("ocibuild.core", function()
  describe("walk()", function()
    it("goes depth first, each directory's names in byte order", function()
      local d = T.tmpdir(finally)
      for _, p in ipairs { "b", "a.txt", "a-b", "B", "a/z", "a/1/x", "a/Z", "_", "~", "é" } do
        T.write(d .. "/" .. p, p)
      end
      local list = assert(walk(d))
      assert.same({ "B", "_", "a", "a/1", "a/1/x", "a/Z", "a/z", "a-b", "a.txt", "b", "~", "é" }, list)
    end)

    it("reports lstat metadata and never follows symlinks", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/dir/f", "12345", 416) -- 0640
      T.must(("cd %s && ln -s dir link && ln -s missing dangling && ln -s loop loop && ln dir/f hard && mkfifo fifo")
        :format(T.q(d)))
      local list, info = assert(walk(d))
      assert.same({ "dangling", "dir", "dir/f", "fifo", "hard", "link", "loop" }, list)
      assert.equal("symlink", info.link.type)
      assert.equal("dir", info.link.target)
      assert.equal("missing", info.dangling.target)
      assert.equal("loop", info.loop.target)
      assert.equal("dir", info.dir.type)
      assert.equal("fifo", info.fifo.type)
      assert.equal("file", info["dir/f"].type)
      assert.equal(5, info["dir/f"].size)
      assert.equal(416, info["dir/f"].mode)
      assert.equal(2, info.hard.nlink)
      assert.equal(info.hard.ino, info["dir/f"].ino)
    end)

    it("walks the tree below a root given as a symlink", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/real/x", "x")
      T.must("ln -s real " .. T.q(d .. "/alias"))
      assert.same({ "x" }, (walk(d .. "/alias")))
    end)

    it("walks an empty directory to nothing", function()
      local d = T.tmpdir(finally)
      assert.same({}, (walk(d)))
    end)

    it("fails with nil, msg, code for a missing root or a file", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/file", "x")
      local ok, msg, code = walk(d .. "/missing")
      assert.same({ nil, "ENOENT: No such file or directory: " .. d .. "/missing", "ENOENT" }, { ok, msg, code })
      ok, msg, code = walk(d .. "/file")
      assert.same({ nil, "ENOTDIR: context is not a directory: " .. d .. "/file", "ENOTDIR" }, { ok, msg, code })
    end)

    it("walks deep trees without running out of descriptors or paths", function()
      local d = T.tmpdir(finally)
      -- 300 levels of 20-byte names: a 6 KB path, past PATH_MAX
      local rel = ("d234567890123456789/"):rep(300)
      T.must(("cd %s && python3 -c 'import os; os.chdir(\".\"); [ (os.mkdir(\"d234567890123456789\")," ..
        " os.chdir(\"d234567890123456789\")) for _ in range(300) ]; open(\"leaf\"," ..
          " \"w\").write(\"x\")'"):format(T.q(d)))
      local list = assert(walk(d))
      assert.equal(301, #list)
      assert.equal(rel .. "leaf", list[#list])
    end)

    it("walks a sub-folder as the matcher sees it in its tree (match_base)", function()
      local d = T.tmpdir(finally)
      for _, p in ipairs { "src/a/x.go", "src/a/y.txt", "src/b/z.go", "src/top.txt", "other/q" } do
        T.write(d .. "/" .. p, p)
      end
      -- patterns written for the whole tree: "src/a" excluded but one
      -- file of it, every .txt; a sub-folder walk sees the same answers
      local m = assert(core.matcher { "src/a", "!src/a/x.go", "**/*.txt", "b" })
      local list = assert(walk(d .. "/src", m, { match_base = "src" }))
      assert.same({ "a", "a/x.go", "b", "b/z.go" }, list)
      -- without the base, the same patterns read the folder as the top
      list = assert(walk(d .. "/src", m))
      assert.same({ "a", "a/x.go" }, list)
      -- a deeper base carries its parents' results down
      list = assert(walk(d .. "/src/a", m, { match_base = "src/a" }))
      assert.same({ "x.go" }, list)
      -- helper threads see the same
      assert.same({ "a", "a/x.go", "b", "b/z.go" }, assert(walk(d .. "/src", m, { match_base = "src", threads = 3 })))
      local _, msg = walk(d .. "/src/none", m, { match_base = "src/none" })
      assert.equal("ENOENT: No such file or directory: " .. d .. "/src/none", msg)
    end)

    it("gives the same entries on helper threads, whatever the folders' sizes and exclusions", function()
      local d = T.tmpdir(finally)
      -- folders of 0, 1, 15, 16, 17, 600 and 1500 entries (the helpers'
      -- chunks and window), subfolders among files, excluded ones with an
      -- exception below, links; written with one shell call per folder
      local dirs = { ["e"] = 0, ["one"] = 1, ["f15"] = 15, ["f16"] = 16, ["f17"] = 17, ["big"] = 600,
        ["big/sub"] = 1500, ["x"] = 40, ["x/keep"] = 3, ["x/y"] = 20 }
      for dir, n in pairs(dirs) do
        T.must(("mkdir -p %s && cd %s && for i in $(seq 1 %d); do echo $i > f$i; done")
          :format(T.q(d .. "/" .. dir), T.q(d .. "/" .. dir), n))
      end
      for i = 1, 30 do T.must(("mkdir -p %s/big/d%02d/inner && touch %s/big/d%02d/inner/z"):format(T.q(d), i, T.q(d),
        i)) end
      T.must(("cd %s && ln -s big link && ln one/f1 hard"):format(T.q(d)))
      local m = assert(core.matcher { "x", "!x/keep", "big/d1*", "**/f7" })
      local function listing(threads)
        local list, info = assert(walk(d, m, { excluded = true, threads = threads }))
        local out = {}
        for i, p in ipairs(list) do
          local e = info[p]
          out[i] = ("%s %s %s %d %d %s"):format(p, e.type, tostring(e.excluded), e.ino, e.size, tostring(e.why))
        end
        return out
      end
      local want = listing(1)
      assert.is_true(#want > 2200)
      for _, threads in ipairs { 2, 3, 9 } do assert.same(want, listing(threads)) end
      local kept = assert(walk(d, m, { threads = 4 }))
      assert.same(assert(walk(d, m)), kept)
    end)
  end)
end)
