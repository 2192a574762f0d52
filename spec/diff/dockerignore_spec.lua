-- Differential spec: ocibuild's .dockerignore reading, matching and context
-- walk against Docker's own code (BuildKit's reader and moby/patternmatcher,
-- from Debian's Go packages, driven by spec/diff/dockerignore-ref). The bar
-- is zero differences; a Docker error must be an error for ocibuild too.
local cases = require "diff.cases"
local ignore = require "ocibuild.build.ignore"
local R = require "diff.dockerref"
local T = require "support"

local function need_ref()
  local bin, why = R.ref()
  if not bin then pending(why) end
  return bin
end

describe("dockerignore against Docker's code", function()
  describe("filepath.Clean and strings.TrimSpace", function()
    it("give what Go gives", function()
      local bin = need_ref()
      if not bin then return end
      local list = R.clean_inputs(7, 3000)
      local want, diffs = R.go_clean(bin, list), {}
      for i, s in ipairs(list) do
        local c, t = ignore.clean(s), ignore.trim_space(s)
        if c ~= want[i][1] then
          diffs[#diffs + 1] = ("Clean(%s) = %s, Go: %s"):format(R.show(s), R.show(c), R.show(want[i][1]))
        end
        if t ~= want[i][2] then
          diffs[#diffs + 1] = ("TrimSpace(%s) = %s, Go: %s"):format(R.show(s), R.show(t), R.show(want[i][2]))
        end
      end
      assert(#diffs == 0, R.report(diffs))
    end)
  end)

  describe("hand-written cases", function()
    it("read, rejected and matched as Docker does", function()
      local bin = need_ref()
      if not bin then return end
      local list = {}
      for _, c in ipairs(cases.cases) do
        local paths = {}
        for _, p in ipairs(c[2]) do paths[#paths + 1] = p end
        for _, p in ipairs(cases.pool) do paths[#paths + 1] = p end
        list[#list + 1] = { c[1], paths }
      end
      assert.is_true(#list >= 300)
      local diffs, n = R.compare(list, R.ask(bin, list))
      assert.is_true(n.paths > 10000 and n.errors > 30, "too little was compared")
      assert(#diffs == 0, R.report(diffs))
    end)
  end)

  describe("generated cases", function()
    it("agree on thousands of pattern/path pairs from a fixed seed", function()
      local bin = need_ref()
      if not bin then return end
      local list = R.generated(20240601, 800, 10)
      local diffs, n = R.compare(list, R.ask(bin, list))
      assert.is_true(n.paths >= 4000, "too few accepted cases: " .. n.paths)
      assert(#diffs == 0, R.report(diffs))
    end)
  end)

  describe("context trees", function()
    it("keep the entries BuildKit's context walk keeps", function()
      local bin = need_ref()
      if not bin then return end
      local diffs = {}
      for i, tree in ipairs(R.TREES) do
        local d = T.tmpdir(finally)
        R.make_tree(d, tree)
        local label = ("tree %d (%s)"):format(i, R.show(tree[1] or "no file"))
        for _, line in ipairs(R.compare_walks(bin, d, label, tree[1] or "")) do
          diffs[#diffs + 1] = line
        end
      end
      assert(#diffs == 0, R.report(diffs))
    end)

    it("keep the same entries for random trees from a fixed seed", function()
      local bin = need_ref()
      if not bin then return end
      local diffs = {}
      for seed = 1, 40 do
        local d = T.tmpdir(finally)
        local tree = R.random_tree(seed)
        R.make_tree(d, tree)
        local label = ("random tree %d (%s)"):format(seed, R.show(tree[1]))
        for _, line in ipairs(R.compare_walks(bin, d, label, tree[1])) do
          diffs[#diffs + 1] = line
        end
      end
      assert(#diffs == 0, R.report(diffs))
    end)
  end)
end)
