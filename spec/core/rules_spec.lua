-- The tar policy's per-path rules (compiled by the matcher, applied per
-- file in C, the last matching rule winning per attribute) and the layer
-- job's items (entries written before the walk, or alone), read back by
-- Python's tarfile.
local core = require "ocibuild.core"
local T = require "support"

local function by_name(entries)
  local t = {}
  for _, e in ipairs(entries) do t[e.name] = e end
  return t
end

-- Runs a layer job over ctx (or none) with the policy options and items
-- given; returns the result and the tar's entries.
local function run(dir, ctx, popts, items)
  local st = assert(core.store(dir .. "/s", { create = true }))
  local policy = assert(core.tar_policy(popts or {}))
  local job = core.layer_job { root = ctx, store = st, policy = policy, codec = core.codec { kind = "none" },
    reuse = false, items = items }
  local r, err, code = job:run()
  if not r then return nil, err, code end
  return r, T.tar_entries(dir .. "/s/blobs/sha256/" .. r.digest:sub(8))
end

describe("ocibuild.core", function()
  describe("tar_policy{rules=}", function()
    it("sets mode, dir_mode, owner and mtime per path, the last matching rule winning", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/bin/run.sh", "#!/bin/sh\n", 420)
      T.write(d .. "/ctx/bin/tool", "t", 420)
      T.write(d .. "/ctx/data/sub/x", "x", 420)
      T.write(d .. "/ctx/top.sh", "t", 420)
      T.must("ln -s top.sh " .. T.q(d .. "/ctx/link.sh"))
      local _, entries = assert(run(d, d .. "/ctx", { mtime = 100, rules = {
        { "bin/**", mode = 493 },
        { "data", owner = "1000:1000", mtime = 5, dir_mode = 448 },
        { "**/*.sh", mode = 320 },
        { "data/sub/x", owner = "7:8" },
      } }))
      local e = by_name(entries)
      assert.same({ 320, 0, 100 }, { e["bin/run.sh"].mode, e["bin/run.sh"].uid, e["bin/run.sh"].mtime })
      assert.equal(493, e["bin/tool"].mode)
      assert.equal(493, e.bin.mode) -- a rule's mode is for files, dir_mode for folders
      assert.same({ 448, 1000, 1000, 5 }, { e.data.mode, e.data.uid, e.data.gid, e.data.mtime })
      assert.same({ 448, 1000, 5 }, { e["data/sub"].mode, e["data/sub"].uid, e["data/sub"].mtime })
      assert.same({ 420, 7, 8, 5 }, { e["data/sub/x"].mode, e["data/sub/x"].uid, e["data/sub/x"].gid,
        e["data/sub/x"].mtime })
      assert.equal(320, e["top.sh"].mode)
      assert.equal(511, e["link.sh"].mode) -- symlinks keep theirs
    end)

    it("returns a bad pattern with the rule's index", function()
      local p, err, code, idx = core.tar_policy { rules = { { "a", mode = 420 }, { "b[", owner = "1:1" } } }
      assert.same({ nil, "bad pattern 'b[': syntax error in pattern: unterminated character class", "BADPATTERN", 2 },
        { p, err, code, idx })
    end)

    it("raises on a rule it cannot read", function()
      assert.has_error(function() core.tar_policy { rules = { { "a", mod = 420 } } } end,
        "option rules[1]: unknown key mod")
      assert.has_error(function() core.tar_policy { rules = { { mode = 420 } } } end,
        "option rules[1]: pattern expected")
      assert.has_error(function() core.tar_policy { rules = { { "a", mode = 8192 } } } end,
        "option rules[1].mode: integer from 0 to 4095 expected")
    end)
  end)

  describe("layer_job{items=}", function()
    it("writes the items first, in order, then the walk", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/f", "f", 420)
      T.write(d .. "/src.conf", "from a file\n", 384)
      local r, entries = assert(run(d, d .. "/ctx", { prefix = "opt/app/" }, {
        { kind = "dir", name = "opt/app/", mode = 493, mtime = 3 },
        { kind = "data", name = "opt/app/.wh..wh..opq", mode = 0, data = "" },
        { kind = "file", name = "opt/app/conf", path = d .. "/src.conf", mode = 416, uid = 1, gid = 2 },
      }))
      local names = {}
      for i, e in ipairs(entries) do names[i] = e.name end
      assert.same({ "opt/app", "opt/app/.wh..wh..opq", "opt/app/conf", "opt/app/f" }, names)
      assert.equal(4, r.entries)
      assert.same({ 416, 1, 2, T.sha256_file(d .. "/src.conf") },
        { entries[3].mode, entries[3].uid, entries[3].gid, entries[3].sha256 })
    end)

    it("writes only the items without a root", function()
      local d = T.tmpdir(finally)
      local _, entries = assert(run(d, nil, {}, { { kind = "data", name = "etc/v", data = "1\n", mode = 292 } }))
      assert.equal(1, #entries)
      assert.same({ "etc/v", 292 }, { entries[1].name, entries[1].mode })
    end)

    it("fails on a file item that is missing, naming it", function()
      local d = T.tmpdir(finally)
      local r, err, code = run(d, nil, {}, { { kind = "file", name = "x", path = d .. "/nope" } })
      assert.same({ nil, "ENOENT: No such file or directory: " .. d .. "/nope", "ENOENT" }, { r, err, code })
    end)

    it("writes no folder of the prefix when given an empty list", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/f", "f")
      local _, entries = assert(run(d, d .. "/ctx", { prefix = "usr/share/" }, {}))
      assert.same({ "usr/share/f" }, { entries[1].name, entries[2] and entries[2].name })
    end)
  end)
end)
