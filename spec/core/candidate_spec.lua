-- A layer job's candidate (an output elsewhere, known by its blocks): the
-- blocks it has are not compressed but left as holes, filled afterwards
-- with the candidate's pieces (here copied from its blob, as a registry's
-- ranges would be), each checked against the block it stands for.
local core = require "ocibuild.core"
local T = require "support"

local tree = T.text_tree

local function codec(kind) return core.codec { kind = kind, level = kind == "zstd" and 3 or 5, threads = 2 } end

local function job(ctx, store, kind, reuse)
  local st = assert(core.store(store, { create = true }))
  local policy = core.tar_policy { display = ctx }
  return core.layer_job { root = ctx, store = st, policy = policy, codec = codec(kind), reuse = reuse ~= false }, st
end

-- A cold build of ctx into store, and the record of its blocks.
local function source(ctx, store, kind)
  local j, st = job(ctx, store, kind)
  local r = assert(j:run())
  local rec = assert(st:reuse_record(codec(kind), r.digest))
  return r, rec, store .. "/blobs/sha256/" .. r.digest:sub(8)
end

-- Copies each run's bytes of the candidate's blob into the holes' file.
local function fill_from(blob, holes, tamper)
  local src = assert(io.open(blob, "rb"))
  local dst = assert(io.open(holes.path, "r+b"))
  for i, run in ipairs(holes.runs) do
    src:seek("set", run.from)
    local bytes = src:read(run.to - run.from)
    if tamper and i == #holes.runs then bytes = bytes:sub(1, -2) .. string.char((bytes:byte(-1) + 1) % 256) end
    dst:seek("set", run.at)
    dst:write(bytes)
  end
  src:close()
  dst:close()
end

local function ls(dir) return T.must("ls -A " .. T.q(dir)) end

describe("ocibuild.core layer job candidates", function()
  for _, kind in ipairs { "gzip", "zstd" } do
    it(kind .. ": an unchanged tree leaves every block a hole; filled, it is the candidate's blob", function()
      local dir = T.tmpdir(finally)
      tree(dir .. "/ctx", 5)
      local cold, rec, blob = source(dir .. "/ctx", dir .. "/a", kind)
      local asked
      local j = job(dir .. "/ctx", dir .. "/b", kind)
      local r = assert(j:run(nil, function(id0)
        asked = id0
        return rec
      end))
      assert.equal(rec.blocks[1][1], asked)
      assert.equal(cold.diff_id, r.diff_id)
      assert.equal("", r.digest)
      assert.equal(#rec.blocks, r.holes)
      assert.equal(#rec.blocks, r.reused)
      local holes = j:holes()
      -- every piece in one range, where the candidate has it
      assert.same({ { from = rec.head, to = rec.blocks[#rec.blocks][3], at = rec.head } }, holes.runs)
      fill_from(blob, holes)
      local f = assert(j:fill())
      assert.equal(cold.digest, f.digest)
      assert.equal(cold.size, f.size)
      assert.equal(0, f.holes)
      assert.equal(cold.digest, "sha256:" .. T.sha256_file(dir .. "/b/blobs/sha256/" .. f.digest:sub(8)))
      assert.equal("", ls(dir .. "/b/.ocibuild-tmp"))
      -- its own record now: the next build takes the blob whole
      local again = assert(job(dir .. "/ctx", dir .. "/b", kind):run())
      assert.is_true(again.whole)
      assert.equal(cold.digest, again.digest)
    end)
  end

  it("compresses only the changed block; the rest comes from the candidate, checked", function()
    local dir = T.tmpdir(finally)
    tree(dir .. "/ctx", 6)
    local _, rec, blob = source(dir .. "/ctx", dir .. "/a", "gzip")
    T.write(dir .. "/ctx/f03.txt", "the third file changed\n")
    local want = assert(job(dir .. "/ctx", dir .. "/c", "gzip"):run())
    local j = job(dir .. "/ctx", dir .. "/b", "gzip")
    local r = assert(j:run(nil, function() return rec end))
    assert.equal(want.diff_id, r.diff_id)
    assert.is_true(r.holes > 0 and r.holes < r.blocks, ("%d holes of %d"):format(r.holes, r.blocks))
    local holes = j:holes()
    assert.is_true(#holes.runs >= 2)
    fill_from(blob, holes)
    local f = assert(j:fill())
    assert.equal(want.digest, f.digest)
    local tarfile = T.gunzip(dir .. "/b/blobs/sha256/" .. f.digest:sub(8), dir .. "/layer.tar")
    assert.equal(want.diff_id, "sha256:" .. T.sha256_file(tarfile))
  end)

  it("refuses a piece that is not its block, and publishes nothing", function()
    local dir = T.tmpdir(finally)
    tree(dir .. "/ctx", 4)
    local _, rec, blob = source(dir .. "/ctx", dir .. "/a", "gzip")
    local j = job(dir .. "/ctx", dir .. "/b", "gzip")
    assert(j:run(nil, function() return rec end))
    fill_from(blob, j:holes(), true)
    local ok, err, code = j:fill()
    assert.is_nil(ok)
    assert.equal("BADPIECE", code)
    assert.matches("^BADPIECE: the piece of block %d+ %(bytes %d+%-%d+%) is not the bytes the cache's record names$",
      err)
    assert.equal("", ls(dir .. "/b/blobs/sha256"))
    assert.equal("", ls(dir .. "/b/.ocibuild-tmp"))

    -- a record that lies about a block: its id, length and CRC those of
    -- this tree's block (a file changed, its size kept), its piece the
    -- other tree's, with that piece's own CRC: only decompressing tells
    T.write(dir .. "/ctx/f02.txt", (T.read(dir .. "/ctx/f02.txt"):gsub("v1 file", "v2 file")))
    local _, mine = source(dir .. "/ctx", dir .. "/c", "gzip")
    local lied = 0
    for i, b in ipairs(rec.blocks) do
      local m = mine.blocks[i]
      if b[1] ~= m[1] and b[2] == m[2] then
        b[1], b[4] = m[1], m[4]
        lied = lied + 1
      end
    end
    assert.is_true(lied > 0)
    j = job(dir .. "/ctx", dir .. "/b", "gzip", false)
    local r = assert(j:run(nil, function() return rec end))
    assert.equal(#rec.blocks, r.holes)
    fill_from(blob, j:holes())
    _, err, code = j:fill()
    assert.equal("BADPIECE", code)
    assert.matches("decompresses into other bytes than the block's$", err)
    assert.equal("", ls(dir .. "/b/blobs/sha256"))
  end)

  it("takes no candidate that does not add up, nor one for another first block", function()
    local dir = T.tmpdir(finally)
    tree(dir .. "/ctx", 3)
    local cold, rec = source(dir .. "/ctx", dir .. "/a", "gzip")
    local bad = {
      function(c) c.blocks[1][1] = ("0"):rep(64) end,
      function(c) c.blocks[2][2] = c.blocks[1][2] end,
      function(c) c.blocks[#c.blocks][3] = c.size + 1 end,
      function(c) c.blob = "sha256:nothex" end,
      function(c) c.head = 33 end,
      function(c) c.blocks[1][4] = -1 end,
      function(c) c.blocks = {} end,
    }
    for i, spoil in ipairs(bad) do
      local c = T.json(require("cjson").encode(rec))
      spoil(c)
      local r = assert(job(dir .. "/ctx", dir .. "/b" .. i, "gzip", false):run(nil, function() return c end))
      assert.equal(0, r.holes, i)
      assert.equal(cold.digest, r.digest, i)
    end
  end)

  it("raises what the candidate function raises, and leaves nothing behind", function()
    local dir = T.tmpdir(finally)
    tree(dir .. "/ctx", 2)
    local j = job(dir .. "/ctx", dir .. "/b", "gzip", false)
    local ok, err = pcall(j.run, j, nil, function() error("lookup broke") end)
    assert.is_false(ok)
    assert.matches("lookup broke", err)
    assert.equal("", ls(dir .. "/b/.ocibuild-tmp"))
  end)

  it("drops a job waiting for its fill on close", function()
    local dir = T.tmpdir(finally)
    tree(dir .. "/ctx", 2)
    local _, rec = source(dir .. "/ctx", dir .. "/a", "gzip")
    local j = job(dir .. "/ctx", dir .. "/b", "gzip", false)
    assert(j:run(nil, function() return rec end))
    assert.is_true(T.exists(j:holes().path))
    j:close()
    assert.equal("", ls(dir .. "/b/.ocibuild-tmp"))
    assert.equal("", ls(dir .. "/b/blobs/sha256"))
  end)
end)
