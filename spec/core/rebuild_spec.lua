-- Rebuilds that read no unchanged file: every way a file can change that
-- its size does not show, each rebuild's digest checked against a cold
-- build of the same tree in a fresh store.
local T = require "support"

local oci = require "ocibuild"

local function build(ctx, store, opts)
  opts = opts or {}
  local r = oci.new(nil, { warn = function() end }).build { context = ctx, store = store,
    tag = "rb:1", cache = opts.cache, exclusions = opts.exclude }
  return r, r.layers[1]
end

-- A tree of 12 folders of 40 text files (about 6 MiB of tar, several
-- 1 MiB blocks), with a symlink and a pair of hardlinks.
local function tree(ctx)
  local dirs = {}
  for d = 1, 12 do dirs[d] = T.q(("%s/d%02d"):format(ctx, d)) end
  T.must("mkdir -p " .. table.concat(dirs, " "))
  for d = 1, 12 do
    for f = 1, 40 do
      local lines = {}
      for i = 1, 250 + (d * 40 + f) % 97 * 3 do lines[i] = ("d%02d f%02d line %d %d\n"):format(d, f, i,
        (i * 7919 + f) % 1009) end
      local h = assert(io.open(("%s/d%02d/f%02d.txt"):format(ctx, d, f), "wb"))
      h:write(table.concat(lines))
      h:close()
    end
  end
  T.must(("cd %s && ln -s d01/f01.txt link && ln d02/f02.txt hard"):format(T.q(ctx)))
end

-- Waits until files written now are older than the racy margin of the
-- next build's state (2 s, see src/layer/skip.c).
local function settle() T.must("sleep 2.2") end

local function cold(ctx, dir)
  local fresh = T.must("mktemp -d " .. T.q(dir .. "/fresh.XXXXXX")):gsub("%s+$", "")
  return (build(ctx, fresh))
end

describe("ocibuild rebuilds", function()
  it("read nothing when nothing changed, and give the same digests", function()
    local d = T.tmpdir(finally)
    local ctx, s = d .. "/ctx", d .. "/s"
    tree(ctx)
    settle()
    local first, l1 = build(ctx, s)
    assert.equal(l1.tar_size, l1.made)
    local again, l2 = build(ctx, s)
    assert.equal(first.digest, again.digest)
    assert.equal(0, l2.made)
    assert.is_true(l2.whole)
    assert.same({ l1.diff_id, l1.digest, l1.size, l1.tar_size, l1.entries },
      { l2.diff_id, l2.digest, l2.size, l2.tar_size, l2.entries })
    -- and with --no-cache everything is read again, to the same bytes
    local full, l3 = build(ctx, s, { cache = false })
    assert.equal(first.digest, full.digest)
    assert.equal(l1.tar_size, l3.made)
  end)

  it("reuse a layer whose blob is smaller than a SHA-256 block (an empty folder) whole", function()
    local d = T.tmpdir(finally)
    local ctx, s = d .. "/ctx", d .. "/s"
    T.must("mkdir -p " .. T.q(ctx))
    local first, l1 = build(ctx, s)
    assert.is_true(l1.size < 64)
    local again, l2 = build(ctx, s)
    assert.equal(first.digest, again.digest)
    assert.is_true(l2.whole)
    assert.equal(0, l2.made)
  end)

  it("resume from the last block before the first change, reading only from there", function()
    local d = T.tmpdir(finally)
    local ctx, s = d .. "/ctx", d .. "/s"
    tree(ctx)
    settle()
    build(ctx, s)
    T.write(ctx .. "/d10/f20.txt", "changed near the end\n")
    local r, l = build(ctx, s)
    assert.equal(cold(ctx, d).digest, r.digest)
    assert.is_true(l.made < l.tar_size / 3, ("made %d of %d"):format(l.made, l.tar_size))
    assert.is_true(l.reused >= 3)
  end)

  local changes = {
    { "same size, other bytes, mtime put back with touch -r (ctime still moves)", function(ctx)
      T.must(("cd %s && cp -p d05/f05.txt /tmp/ref.$$ && printf X | dd of=d05/f05.txt bs=1 seek=3 conv=notrunc" ..
        " status=none && touch -r /tmp/ref.$$ d05/f05.txt && rm /tmp/ref.$$"):format(T.q(ctx)))
    end },
    { "a file replaced by rename", function(ctx)
      T.must(("cd %s && cp d05/f06.txt new && printf Y >> new && mv new d05/f06.txt"):format(T.q(ctx)))
    end },
    { "a hardlink added", function(ctx)
      T.must(("cd %s && ln d06/f01.txt d06/zz-link"):format(T.q(ctx)))
    end },
    { "a hardlink added to a file earlier in the tree", function(ctx)
      T.must(("cd %s && ln d01/f03.txt d11/zz-link"):format(T.q(ctx)))
    end },
    { "a mode change", function(ctx)
      T.must(("chmod 600 %s/d07/f07.txt"):format(T.q(ctx)))
    end },
    { "a symlink retargeted", function(ctx)
      T.must(("cd %s && ln -sfn d02/f01.txt link"):format(T.q(ctx)))
    end },
    { "a file removed", function(ctx)
      T.must(("rm %s/d08/f08.txt"):format(T.q(ctx)))
    end },
    { "a file added at the very end", function(ctx)
      T.write(ctx .. "/zzz-last", "new at the end\n")
    end },
    { "a change in the first block", function(ctx)
      T.write(ctx .. "/d01/f01.txt", "the first file\n")
    end },
    { "the last file removed", function(ctx)
      T.must(("rm %s/link"):format(T.q(ctx)))
    end },
  }
  for _, c in ipairs(changes) do
    it("give a cold build's digest after " .. c[1], function()
      local d = T.tmpdir(finally)
      local ctx, s = d .. "/ctx", d .. "/s"
      tree(ctx)
      build(ctx, s)
      build(ctx, s)
      c[2](ctx)
      local r = build(ctx, s)
      assert.equal(cold(ctx, d).digest, r.digest)
      -- and a further rebuild agrees
      assert.equal(r.digest, (build(ctx, s)).digest)
    end)
  end

  -- Edits at the start, middle and end of the tar, insertions and
  -- deletions: the blocks after each line up again with the earlier ones,
  -- so a rebuild reads the changed file alone and compresses a block or
  -- two, wherever the edit is.
  local edits = {
    { "the first file edited", function(ctx) T.must("echo more >> " .. T.q(ctx .. "/d01/f01.txt")) end },
    { "a file edited in the middle", function(ctx) T.must("echo more >> " .. T.q(ctx .. "/d06/f20.txt")) end },
    { "the last file edited", function(ctx) T.must("echo more >> " .. T.q(ctx .. "/d12/f40.txt")) end },
    { "a file inserted at the start", function(ctx) T.write(ctx .. "/d01/a00.txt", "first\n") end },
    { "a file inserted in the middle", function(ctx) T.write(ctx .. "/d06/f20b.txt", "middle\n") end },
    { "a file inserted at the end", function(ctx) T.write(ctx .. "/zzz-last", "last\n") end },
    { "the first file deleted", function(ctx) os.remove(ctx .. "/d01/f01.txt") end },
    { "a file deleted in the middle", function(ctx) os.remove(ctx .. "/d06/f21.txt") end },
    { "the last file deleted", function(ctx) os.remove(ctx .. "/link") end },
  }
  it("read only the changed file and make a block or two after each edit, wherever it is", function()
    local d = T.tmpdir(finally)
    local ctx, s = d .. "/ctx", d .. "/s"
    tree(ctx)
    settle()
    local _, before = build(ctx, s)
    assert.is_true(before.blocks >= 6)
    for _, c in ipairs(edits) do
      c[2](ctx)
      local r, l = build(ctx, s)
      assert.equal(cold(ctx, d).digest, r.digest, c[1])
      -- the files edited within the last build's racy window are read again too
      assert.is_true(l.made < 64 * 1024, ("%s: made %d of %d"):format(c[1], l.made, l.tar_size))
      assert.is_true(l.blocks - l.reused <= 2, ("%s: %d of %d blocks made"):format(c[1], l.blocks - l.reused, l.blocks))
    end
  end)

  it("follow a .dockerignore edit that brings an excluded file in", function()
    local d = T.tmpdir(finally)
    local ctx, s = d .. "/ctx", d .. "/s"
    tree(ctx)
    T.write(ctx .. "/.dockerignore", "d03/f1*\n")
    build(ctx, s)
    T.write(ctx .. "/.dockerignore", "d03/f11.txt\n")
    local r = build(ctx, s)
    assert.equal(cold(ctx, d).digest, r.digest)
  end)

  it("read a file modified in the same moment the last build began (racy timestamps)", function()
    local d = T.tmpdir(finally)
    local ctx, s = d .. "/ctx", d .. "/s"
    tree(ctx)
    settle()
    build(ctx, s)
    -- same size, right after the build, mtime and all: only the racy rule catches it
    T.must(("cd %s && printf Z | dd of=d04/f04.txt bs=1 seek=0 conv=notrunc status=none"):format(T.q(ctx)))
    local r, l = build(ctx, s)
    assert.is_true(l.made > 0)
    assert.equal(cold(ctx, d).digest, r.digest)
  end)

  it("ignore a damaged or foreign layer state and build whole", function()
    local d = T.tmpdir(finally)
    local ctx, s = d .. "/ctx", d .. "/s"
    tree(ctx)
    settle()
    local first = build(ctx, s)
    local state = T.must("ls " .. T.q(s .. "/.ocibuild/layers")):gsub("%s+$", "")
    local path = s .. "/.ocibuild/layers/" .. state
    local text = T.read(path)
    for _, bad in ipairs {
      text:sub(1, 100) .. "X" .. text:sub(102), -- an entry's bytes
      text:gsub("\nend %d+", "\nend 99999999999"), -- the summary
      text:sub(1, #text - 20),
      "",
    } do
      T.write(path, bad)
      local r, l = build(ctx, s)
      assert.equal(first.digest, r.digest)
      assert.is_true(l.made > 0)
    end
    -- a state for another destination is another file altogether
    local other = oci.new(nil, { warn = function() end }).build { context = ctx, store = s, dest = "/app" }
    assert.equal(2, #T.must("ls " .. T.q(s .. "/.ocibuild/layers")):gsub("[^\n]", ""))
    assert.is_true(other.layers[1].made > 0)
  end)
end)

describe("ocibuild prune and layer states", function()
  it("drops the states of layers that are gone, and all of them with --all", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/a/f", "a")
    T.write(d .. "/b/f", "b")
    local api = oci.new(nil, { warn = function() end })
    api.build { context = d .. "/a", store = d .. "/s", tag = "a:1" }
    api.build { context = d .. "/b", store = d .. "/s", tag = "a:1" } -- a's layer is now unreachable
    local st = assert(require("ocibuild.store").open(d .. "/s"))
    local function states() return select(2, T.must("ls " .. T.q(d .. "/s/.ocibuild/layers")):gsub("\n", "")) end
    assert.equal(2, states())
    assert(st:prune())
    assert.equal(1, states())
    assert(st:prune { all = true })
    assert.equal(0, states())
  end)
end)
