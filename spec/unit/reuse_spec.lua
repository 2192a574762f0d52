local core = require "ocibuild.core"
local reuse = require "ocibuild.reuse"
local T = require "support"

local MiB = 1024 * 1024

-- A tree of `n` files of ~700 KB of distinct text each: a tar of several
-- 1 MiB blocks, so that a change in the last file leaves the first blocks
-- as they were.
local function tree(dir, n, tag)
  for f = 1, n do
    local lines = {}
    for i = 1, 28000 do
      lines[i] = ("%s file %d line %d: %d\n"):format(tag or "v1", f, i, (i * 7919 + f) % 100003)
    end
    T.write(("%s/f%02d.txt"):format(dir, f), table.concat(lines))
  end
end

local function layer(ctx, store, opts)
  opts = opts or {}
  local kind, level = opts.kind or "gzip", opts.level or 6
  assert(core.layout_init(store))
  local dir = opts.dir
  if dir == nil then dir = reuse.dir(store, kind, level) end
  return assert(core.layer(ctx, nil, store, "", "ctx", 0, false, false, false, 0, 0, false,
    kind, level, opts.jobs or 2, {}, dir or nil))
end

local function ls(dir) return T.must("ls -A " .. T.q(dir)) end

describe("ocibuild.reuse", function()
  describe("dir()", function()
    it("keeps records per compression setting, outside blobs/", function()
      local a, b = reuse.dir("/s", "gzip", 6), reuse.dir("/s", "gzip", 5)
      assert.equal("/s/.ocibuild/reuse/" .. core.compression_key("gzip", 6), a)
      assert.not_equal(a, b)
      assert.not_equal(a, reuse.dir("/s", "zstd", 6))
    end)
  end)

  describe("layer builds", function()
    it("compress on a miss and take the earlier blob whole when nothing changed", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 5)
      local cold = layer(ctx, store)
      assert.is_false(cold.whole)
      assert.equal(0, cold.reused)
      assert.is_true(cold.blocks >= 3)
      assert.equal(1, #ls(reuse.dir(store, "gzip", 6)):gsub("[^\n]", ""))
      local blobs = ls(store .. "/blobs/sha256")

      local again = layer(ctx, store)
      assert.is_true(again.whole)
      assert.equal(cold.blocks, again.reused)
      for _, k in ipairs { "digest", "size", "diff_id", "tar_size", "entries" } do
        assert.equal(cold[k], again[k], k)
      end
      assert.equal(blobs, ls(store .. "/blobs/sha256"))
      assert.equal("", ls(store .. "/.ocibuild-tmp"))
    end)

    it("copy the unchanged leading blocks and give the bytes of a cold build", function()
      local dir = T.tmpdir(finally)
      local ctx, store, fresh = dir .. "/ctx", dir .. "/store", dir .. "/fresh"
      for _, jobs in ipairs { 1, 8 } do
        tree(ctx, 5)
        layer(ctx, store)
        T.write(ctx .. "/f05.txt", "the last file changed\n")
        local warm = layer(ctx, store, { jobs = jobs })
        local cold = layer(ctx, fresh .. jobs, { jobs = 3 })
        assert.is_false(warm.whole)
        assert.is_true(warm.reused >= 2 and warm.reused < warm.blocks)
        assert.equal(cold.digest, warm.digest)
        assert.equal(cold.diff_id, warm.diff_id)
      end
      -- gunzip and a tar reader take the patched blob back
      local r = layer(ctx, store)
      local tarfile = T.gunzip(store .. "/blobs/sha256/" .. r.digest:sub(8), dir .. "/layer.tar")
      assert.equal(r.diff_id, "sha256:" .. T.sha256_file(tarfile))
      assert.equal(5, #T.tar_entries(tarfile))
    end)

    it("compress everything when the first block changed", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 4)
      layer(ctx, store)
      T.write(ctx .. "/f01.txt", "first file changed\n")
      local r = layer(ctx, store)
      assert.equal(0, r.reused)
      assert.equal(layer(ctx, dir .. "/fresh").digest, r.digest)
    end)

    it("do not mix settings: another level or kind is a miss", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 3)
      layer(ctx, store)
      assert.equal(0, layer(ctx, store, { level = 5 }).reused)
      local z1 = layer(ctx, store, { kind = "zstd", level = 3 })
      local z2 = layer(ctx, store, { kind = "zstd", level = 3 })
      assert.equal(0, z1.reused)
      assert.is_true(z2.whole)
      assert.equal(z1.digest, z2.digest)
      local n1 = layer(ctx, store, { kind = "none" })
      local n2 = layer(ctx, store, { kind = "none" })
      assert.is_true(n2.whole)
      assert.equal(n1.diff_id, n1.digest)
      assert.equal(n1.digest, n2.digest)
    end)

    it("ignore a record whose blob is gone, or that is damaged", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 3)
      local cold = layer(ctx, store)
      local blob = store .. "/blobs/sha256/" .. cold.digest:sub(8)
      os.remove(blob)
      local r = layer(ctx, store)
      assert.equal(0, r.reused)
      assert.equal(cold.digest, r.digest)
      assert.equal(cold.digest, "sha256:" .. T.sha256_file(blob))

      local rdir = reuse.dir(store, "gzip", 6)
      local rec = rdir .. "/" .. ls(rdir):match("^(%S+)")
      local text = T.read(rec)
      for _, bad in ipairs {
        text:gsub("blocks (%d+)", function(n) return "blocks " .. (n + 1) end),
        text:sub(1, #text - 30),
        text:gsub("\n(%x%x)", "\nzz", 1),
        text:gsub("key gzip%-6", "key gzip-5"),
        "",
      } do
        T.write(rec, bad)
        local again = layer(ctx, store)
        assert.is_false(again.whole)
        assert.equal(cold.digest, again.digest)
      end
    end)

    it("neither read nor write records without a record folder", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 2)
      layer(ctx, store, { dir = false })
      local r = layer(ctx, store, { dir = false })
      assert.equal(0, r.reused)
      assert.is_false(T.exists(store .. "/.ocibuild"))
    end)

    it("are wired into image saves", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 2)
      local image = require "ocibuild.image"
      local function save()
        local img = assert(image.new { store = store, base = dir })
        assert(img:layer { context = "ctx", level = 6 })
        return assert(img:save { tag = "reuse:test" })
      end
      local a = save()
      assert.equal(1, #ls(reuse.dir(store, "gzip", 6)):gsub("[^\n]", ""))
      assert.equal(a.digest, save().digest)
    end)
  end)

  describe("prune()", function()
    it("removes the records whose blob is gone and keeps the others", function()
      local dir = T.tmpdir(finally)
      local store = dir .. "/store"
      tree(dir .. "/a", 1, "a")
      tree(dir .. "/b", 1, "b")
      local a = layer(dir .. "/a", store)
      layer(dir .. "/b", store)
      local rdir = reuse.dir(store, "gzip", 6)
      assert.equal(2, #ls(rdir):gsub("[^\n]", ""))
      assert.equal(0, reuse.prune(store))
      os.remove(store .. "/blobs/sha256/" .. a.digest:sub(8))
      assert.equal(1, reuse.prune(store))
      assert.equal(1, #ls(rdir):gsub("[^\n]", ""))
      assert.equal(0, reuse.prune(dir .. "/nothing-here"))
    end)
  end)
end)
