local core = require "ocibuild.core"
local T = require "support"

local tree = T.text_tree

-- The record folder of a store for a codec.
local function rdir_of(store, kind, level)
  return store .. "/.ocibuild/reuse/" .. core.codec { kind = kind, level = level }:key()
end

local function layer(ctx, store, opts)
  opts = opts or {}
  return assert(T.layer(ctx, store, { kind = opts.kind or "gzip", level = opts.level or 6,
    jobs = opts.jobs or 2, reuse = opts.reuse ~= false }))
end

local function ls(dir) return T.must("ls -A " .. T.q(dir)) end

local reseal = T.reseal_reuse

-- How many records a record folder holds (each with an index entry f-<hex>
-- naming it by its first block).
local function records(dir) return #ls(dir):gsub("f%-%x+\n", ""):gsub("[^\n]", "") end

describe("ocibuild.core reuse records", function()
  describe("layer builds", function()
    it("compress on a miss and take the earlier blob whole when nothing changed", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 5)
      local cold = layer(ctx, store)
      assert.is_false(cold.whole)
      assert.equal(0, cold.reused)
      assert.is_true(cold.blocks >= 3)
      assert.equal(1, records(rdir_of(store, "gzip", 6)))
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
        -- the leading pieces, copied behind the rest, are where they belong
        assert.equal(warm.digest, "sha256:" .. T.sha256_file(store .. "/blobs/sha256/" .. warm.digest:sub(8)))
      end
      -- gunzip and a tar reader take the patched blob back
      local r = layer(ctx, store)
      local tarfile = T.gunzip(store .. "/blobs/sha256/" .. r.digest:sub(8), dir .. "/layer.tar")
      assert.equal(r.diff_id, "sha256:" .. T.sha256_file(tarfile))
      assert.equal(5, #T.tar_entries(tarfile))
    end)

    it("share the unchanged leading pieces' extents where the file system can (xfs), checked", function()
      local dir = T.tmpdir(finally)
      if T.must("id -u"):match("%d+") ~= "0" then return pending("needs root to mount a file system") end
      if T.sh("command -v mkfs.xfs >/dev/null") ~= 0 then return pending("mkfs.xfs is not installed") end
      local img, mnt = dir .. "/xfs.img", dir .. "/mnt"
      T.must(("truncate -s 320M %s && mkfs.xfs -q %s && mkdir %s"):format(T.q(img), T.q(img), T.q(mnt)))
      if T.sh(("mount -o loop %s %s"):format(T.q(img), T.q(mnt))) ~= 0 then
        return pending("cannot mount a loop device here")
      end
      T.finally(finally, function() T.sh("umount " .. T.q(mnt) .. "; rm -rf " .. T.q(dir)) end)
      local ctx, store = dir .. "/ctx", mnt .. "/store"
      tree(ctx, 5)
      layer(ctx, store)
      T.write(ctx .. "/f05.txt", "the last file changed\n")
      local warm = layer(ctx, store)
      assert.is_true(warm.reused >= 2 and warm.reused < warm.blocks)
      assert.equal(layer(ctx, dir .. "/fresh").digest, warm.digest)
      local blob = store .. "/blobs/sha256/" .. warm.digest:sub(8)
      assert.equal(warm.digest, "sha256:" .. T.sha256_file(blob))
      -- the new blob's first extent is the earlier blob's
      assert.matches("shared", T.must("filefrag -v " .. T.q(blob)))
      -- a shared piece is checked as a written one is: damage the blob the
      -- next rebuild shares from, its record's file identity forged
      local rec = rdir_of(store, "gzip", 6) .. "/" .. warm.digest:sub(8)
      T.must(("printf 'XXXX' | dd of=%s bs=1 seek=100 conv=notrunc status=none"):format(T.q(blob)))
      local size, ino, ms, mn, cs, cn = T.must("stat -c '%s %i %.9Y %.9Z' " .. T.q(blob))
        :match("(%d+) (%d+) (%d+)%.(%d+) (%d+)%.(%d+)")
      T.write(rec, reseal(T.read(rec):gsub("\nblob (sha256:%x+) %d+ %d+ %d+ %d+\n", function(d)
        return ("\nblob %s %s %s %s%s %s%s\n"):format(d, size, ino, ms, mn, cs, cn)
      end)))
      T.write(ctx .. "/f05.txt", "the last file changed again\n")
      local r, msg, code = T.layer(ctx, store, { kind = "gzip", level = 6, jobs = 2, reuse = true })
      assert.is_nil(r, msg)
      assert.equal("CORRUPT", code)
      assert.is_false(T.exists(rec))
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

      local rec = rdir_of(store, "gzip", 6) .. "/" .. cold.digest:sub(8)
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

    it("never take a hash state the record's CRC does not vouch for", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 4)
      local cold = layer(ctx, store)
      local rec = rdir_of(store, "gzip", 6) .. "/" .. cold.digest:sub(8)
      local text = T.read(rec)
      assert.matches("\ncrc %x%x%x%x%x%x%x%x\n$", text)
      -- every blob hash state altered by one digit: still a well-formed record
      local states = 0
      local bad = text:gsub(" (%x)(" .. ("%x"):rep(63) .. " %d+\n)", function(c, rest)
        states = states + 1
        return " " .. (c == "0" and "1" or "0") .. rest
      end)
      assert.equal(cold.blocks, states)
      T.write(rec, bad)
      T.write(ctx .. "/f04.txt", "the last file changed\n")
      local r = layer(ctx, store)
      assert.equal(0, r.reused)
      assert.equal(layer(ctx, dir .. "/fresh").digest, r.digest)
    end)

    it("never reuse a blob changed since it was recorded, even with its mtime restored", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 4)
      local cold = layer(ctx, store)
      local blob = store .. "/blobs/sha256/" .. cold.digest:sub(8)
      -- one byte flipped in the middle, size and mtime as they were
      T.must(("cp -p %s %s/ref && printf 'X' | dd of=%s bs=1 seek=%d conv=notrunc status=none && touch -r %s/ref %s")
        :format(T.q(blob), T.q(dir), T.q(blob), cold.size // 2, T.q(dir), T.q(blob)))
      local again = layer(ctx, store)
      assert.is_false(again.whole)
      assert.equal(0, again.reused)
      assert.equal(cold.digest, again.digest)
      -- the damaged file was replaced by good bytes
      assert.equal(cold.digest, "sha256:" .. T.sha256_file(blob))
      T.must("gzip -t " .. T.q(blob))
    end)

    it("check the pieces they copy, drop the record of a damaged blob and build whole next", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 5)
      local cold = layer(ctx, store)
      local blob = store .. "/blobs/sha256/" .. cold.digest:sub(8)
      local rec = rdir_of(store, "gzip", 6) .. "/" .. cold.digest:sub(8)
      -- Damage the start of the blob, then forge the record's file identity so
      -- that only the checksums of the copied pieces can tell.
      T.must(("printf 'XXXX' | dd of=%s bs=1 seek=100 conv=notrunc status=none"):format(T.q(blob)))
      local ident = T.must("stat -c '%s %i %Y %y %Z %z' " .. T.q(blob))
      local size, ino = ident:match("^(%d+) (%d+)")
      local function ns(sec, human) return sec .. (human:match("%.(%d+)") or "000000000") end
      local msec, mh, csec, ch = ident:match("^%d+ %d+ (%d+) (%S+ %S+) %S+ (%d+) (%S+ %S+)")
      local text = T.read(rec):gsub("\nblob (sha256:%x+) %d+ %d+ %d+ %d+\n", function(d)
        return ("\nblob %s %s %s %s %s\n"):format(d, size, ino, ns(msec, mh), ns(csec, ch))
      end)
      T.write(rec, reseal(text))
      T.write(ctx .. "/f05.txt", "the last file changed\n")
      local r, msg, code = T.layer(ctx, store, { kind = "gzip", level = 6, jobs = 2, reuse = true })
      assert.is_nil(r)
      assert.equal("CORRUPT", code)
      assert.equal(("CORRUPT: blob %s in the store changed since it was written; its reuse record is dropped," ..
        " build again")
        :format(cold.digest), msg)
      assert.is_false(T.exists(rec))
      assert.equal("", ls(store .. "/.ocibuild-tmp"))
      local next_build = layer(ctx, store)
      assert.equal(0, next_build.reused)
      assert.equal(layer(ctx, dir .. "/fresh").digest, next_build.digest)
    end)

    it("neither read nor write records without a record folder", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 2)
      layer(ctx, store, { reuse = false })
      local r = layer(ctx, store, { reuse = false })
      assert.equal(0, r.reused)
      assert.is_false(T.exists(store .. "/.ocibuild"))
    end)

    it("are wired into image saves", function()
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      tree(ctx, 2)
      local image = require "ocibuild.build.image"
      local build = require "ocibuild.ops.build"
      local context = require "ocibuild.ops.context"
      local function save()
        local img = assert(image.new({ store = store }, dir))
        assert(img:layer { context = "ctx", level = 6 })
        return assert(build.save(context.new {}, img, { tag = "reuse:test" }))
      end
      local a = save()
      assert.equal(1, records(rdir_of(store, "gzip", 6)))
      assert.equal(a.digest, save().digest)
    end)
  end)

  describe("blocks", function()
    -- A tree that starts with a large file (its first block never changes),
    -- then medium files and a folder of small ones.
    local function shifty(dir)
      local lines = {}
      for i = 1, 100000 do lines[i] = ("big line %d: %d\n"):format(i, (i * 7919) % 100003) end
      T.write(dir .. "/a.big", table.concat(lines))
      tree(dir .. "/m", 6)
      T.must("mkdir " .. T.q(dir .. "/s"))
      for i = 1, 300 do
        local f = assert(io.open(("%s/s/%03d.txt"):format(dir, i), "wb"))
        f:write(("small %d\n"):format(i):rep(i % 37 + 1))
        f:close()
      end
    end

    local edits = {
      { "a file inserted early", function(ctx) T.write(ctx .. "/m/f01b.txt", "inserted\n") end },
      { "a file deleted in the middle", function(ctx) os.remove(ctx .. "/m/f03.txt") end },
      { "a file appended to near the end", function(ctx) T.must("echo tail >> " .. T.q(ctx .. "/s/290.txt")) end },
      { "the large file edited in its middle", function(ctx)
        T.must("printf ZZ | dd of=" .. T.q(ctx .. "/a.big") .. " bs=1 seek=1500000 conv=notrunc status=none")
      end },
    }
    for _, e in ipairs(edits) do
      it("are found by their input wherever they moved to, after " .. e[1], function()
        local dir = T.tmpdir(finally)
        local ctx, store = dir .. "/ctx", dir .. "/store"
        shifty(ctx)
        local before = layer(ctx, store)
        e[2](ctx)
        local warm = layer(ctx, store, { jobs = 3 })
        local cold = layer(ctx, dir .. "/fresh", { jobs = 1 })
        assert.equal(cold.digest, warm.digest)
        assert.equal(cold.diff_id, warm.diff_id)
        -- every block but those around the edit is taken from the earlier blob
        local made = warm.blocks - warm.reused
        assert.is_true(made <= 3, ("%d of %d blocks made"):format(made, warm.blocks))
        assert.is_true(before.blocks >= 8)
      end)
    end

    -- Checks a record against its blob with Python and the zstd tool, by
    -- themselves: every block's tar range, piece range, input SHA-256 and
    -- CRC-32s; every piece decompressed alone gives its block's input; every
    -- block ends where an entry begins, at a large file's slice, or at the end.
    local CHECK = [[
import hashlib, subprocess, sys, tarfile, io, zlib
rec, blob, kind = sys.argv[1:4]
lines = open(rec).read().split("\n")
assert lines[0] == "ocibuild-reuse 5", lines[0]
head, n = int(lines[4].split()[1]), int(lines[5].split()[1])
data = open(blob, "rb").read()
def unz(b):
    return subprocess.run(["zstd", "-dcq"], input=b, capture_output=True, check=True).stdout
tar = zlib.decompress(data, 31) if kind == "gzip" else unz(data)
cuts = {len(tar)}
for m in tarfile.open(fileobj=io.BytesIO(tar)):
    cuts.add(m.offset)
    for k in range(1, m.size // (1 << 20) + 1):
        cuts.add(m.offset + k * (1 << 20))
ts, at = 0, head
for line in lines[6:6 + n]:
    f = line.split()
    te, oe = int(f[1]), int(f[2])
    piece, want = data[at:oe], tar[ts:te]
    assert zlib.crc32(piece) == int(f[4], 16)
    got = zlib.decompressobj(-15).decompress(piece + b"\x03\x00") if kind == "gzip" else unz(piece)
    assert got == want, "block ending at %d" % te
    assert hashlib.sha256(want).hexdigest() == f[0] and zlib.crc32(want) == int(f[3], 16)
    assert te in cuts, "cut at %d" % te
    ts, at = te, oe
assert ts == len(tar) and lines[6 + n].startswith("crc ") and lines[7 + n] == ""
text = open(rec).read()
assert zlib.crc32(text[:text.rindex("crc ")].encode()) == int(lines[6 + n][4:], 16)
print(n)
]]
    for _, kind in ipairs { "gzip", "zstd" } do
      it("are recorded by tar range, piece range and input digest, each piece usable alone (" .. kind .. ")", function()
        local dir = T.tmpdir(finally)
        local ctx, store = dir .. "/ctx", dir .. "/store"
        shifty(ctx)
        local r = layer(ctx, store, { kind = kind, level = 3 })
        local rec = rdir_of(store, kind, 3) .. "/" .. r.digest:sub(8)
        local n = T.must(("python3 -c %s %s %s %s"):format(T.q(CHECK), T.q(rec),
          T.q(store .. "/blobs/sha256/" .. r.digest:sub(8)), kind))
        assert.equal(r.blocks, tonumber(n))
      end)
    end
  end)

  describe("store:prune_reuse()", function()
    it("removes the records whose blob is gone and keeps the others", function()
      local dir = T.tmpdir(finally)
      local store = dir .. "/store"
      tree(dir .. "/a", 1, "a")
      tree(dir .. "/b", 1, "b")
      local a = layer(dir .. "/a", store)
      layer(dir .. "/b", store)
      local rdir = rdir_of(store, "gzip", 6)
      local st = assert(core.store(store))
      assert.equal(2, records(rdir))
      assert.equal(0, st:prune_reuse())
      os.remove(store .. "/blobs/sha256/" .. a.digest:sub(8))
      assert.equal(1, st:prune_reuse())
      assert.equal(1, records(rdir))
      assert.equal(2, #ls(rdir):gsub("[^\n]", "")) -- and the index entry of the gone record too
      assert.equal(1, st:prune_reuse(true))
      assert.is_false(T.exists(rdir))
      assert.equal(0, assert(core.store(dir .. "/nothing", { create = true })):prune_reuse())
    end)
  end)
end)
