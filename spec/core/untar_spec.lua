local core = require "ocibuild.core"
local T = require "support"

local function entries(r)
  local list = {}
  while true do
    local e, err = r:next()
    if not e then
      assert.is_nil(err)
      break
    end
    list[#list + 1] = e
  end
  return list
end

describe("ocibuild.core", function()
  describe("tar_reader()", function()
    for _, kind in ipairs { "gzip", "zstd", "none" } do
      it("reads back a " .. kind .. " layer ocibuild wrote, the digest of what it read and of its tar", function()
        local d = T.tmpdir(finally)
        T.write(d .. "/ctx/a.txt", "alpha\n")
        T.write(d .. "/ctx/sub/b.bin", ("b"):rep(100000))
        T.must("ln -s a.txt " .. T.q(d .. "/ctx/link"))
        local r = assert(T.layer(d .. "/ctx", d .. "/s", { kind = kind, level = kind == "zstd" and 3 or 5 }))
        local st = assert(core.store(d .. "/s"))
        local rd = assert(core.tar_reader(st, r.digest))
        local e = assert(rd:next())
        assert.same({ name = "a.txt", type = "file", mode = 420, uid = 0, gid = 0, mtime = 0, size = 6 }, e)
        assert.equal("alpha\n", rd:read())
        e = assert(rd:next())
        assert.same({ name = "link", type = "symlink", mode = 511, uid = 0, gid = 0, mtime = 0, size = 0,
          target = "a.txt" }, e)
        assert.equal("sub/", assert(rd:next()).name)
        assert.equal("sub/b.bin", assert(rd:next()).name)
        assert.equal("sha256:" .. T.sha256_file(d .. "/ctx/sub/b.bin"), rd:sha256())
        assert.is_nil(rd:next())
        -- the tar's digest is the diff_id the layer job computed as it wrote
        assert.same({ r.digest, r.size, r.diff_id }, { rd:finish() })
      end)
    end

    it("hashes a gzip layer's whole tar stream, past its end-of-archive blocks, but not 65 MiB of them", function()
      local d = T.tmpdir(finally)
      local st = assert(core.store(d .. "/s", { create = true }))
      -- a tar of one file, then 1 MiB or 65 MiB of zero blocks after the
      -- two that end it, each compressed whole; the tar's digest by zlib
      local out = T.must(("/usr/bin/python3 -c %s %s"):format(T.q([[
import gzip, hashlib, io, sys, tarfile
b = io.BytesIO()
with tarfile.open(fileobj=b, mode="w") as t:
    i = tarfile.TarInfo("x"); i.size = 5; t.addfile(i, io.BytesIO(b"body\n"))
for n, name in ((1 << 20, "/one.gz"), (65 << 20, "/big.gz")):
    open(sys.argv[1] + name, "wb").write(gzip.compress(b.getvalue() + bytes(n), mtime=0))
print("sha256:" + hashlib.sha256(gzip.decompress(open(sys.argv[1] + "/one.gz", "rb").read())).hexdigest())
]]), T.q(d)))
      local blob = T.put_blob(st, T.read(d .. "/one.gz"))
      local rd = assert(core.tar_reader(st, blob))
      assert.equal("x", assert(rd:next()).name)
      assert.is_nil(rd:next())
      assert.same({ blob, #T.read(d .. "/one.gz"), out:match("^(%S+)\n$") }, { rd:finish() })
      blob = T.put_blob(st, T.read(d .. "/big.gz"))
      rd = assert(core.tar_reader(st, blob))
      assert.equal("x", assert(rd:next()).name)
      assert.is_nil(rd:next())
      assert.same({ nil, "TOOBIG: more than 64 MiB after the end of the archive: " .. blob, "TOOBIG" }, { rd:finish() })
    end)

    it("copies an entry into a store as a blob, refusing one that is not the digest it should be", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/in/x", "blob body")
      T.must(("cd %s && tar --format=pax -cf ../in.tar x"):format(T.q(d .. "/in")))
      local st = assert(core.store(d .. "/s", { create = true }))
      local good = "sha256:" .. T.sha256_file(d .. "/in/x")
      local rd = assert(core.tar_reader(d .. "/in.tar"))
      assert(rd:next())
      assert.same({ good, 9 }, { rd:to_blob(st, good, 9) })
      assert.equal("blob body", st:blob_read(good))
      rd = assert(core.tar_reader(d .. "/in.tar"))
      assert(rd:next())
      local wrong = "sha256:" .. ("0"):rep(64)
      local ok, msg, code = rd:to_blob(st, wrong)
      assert.is_nil(ok)
      assert.equal("BADDIGEST", code)
      assert.equal(("BADDIGEST: expected %s, got %s"):format(wrong, good), msg)
      assert.is_false(T.exists(d .. "/s/blobs/sha256/" .. ("0"):rep(64)))
      assert.equal("", T.must("ls -A " .. T.q(d .. "/s/.ocibuild-tmp")))
      rd = assert(core.tar_reader(d .. "/in.tar"))
      assert(rd:next())
      assert.equal("TOOBIG", select(3, rd:read(4)))
    end)

    it("returns names as stored, for the caller to judge", function()
      local d = T.tmpdir(finally)
      T.must(("python3 -c 'import tarfile,io,sys\nt=tarfile.open(sys.argv[1],\"w\")\n" ..
        "i=tarfile.TarInfo(\"../../escape\"); i.size=2; t.addfile(i, io.BytesIO(b\"hi\"))\n" ..
        "i=tarfile.TarInfo(\"/abs\"); i.type=tarfile.SYMTYPE; i.linkname=\"/etc/passwd\"; t.addfile(i)\n" ..
        "i=tarfile.TarInfo(\"dev\"); i.type=tarfile.CHRTYPE; i.devmajor=1; i.devminor=3; t.addfile(i)\n" ..
        "t.close()' %s"):format(T.q(d .. "/evil.tar")))
      local list = entries(assert(core.tar_reader(d .. "/evil.tar")))
      assert.equal("../../escape", list[1].name)
      assert.equal("/abs", list[2].name)
      assert.equal("/etc/passwd", list[2].target)
      assert.equal("chardev", list[3].type)
      assert.equal(1, list[3].devmajor)
    end)

    it("fails with nil, msg, code on what is not a tar", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/junk", ("not a tar at all "):rep(100))
      local rd, msg, code = core.tar_reader(d .. "/junk")
      if rd then rd, msg, code = rd:next() end
      assert.is_nil(rd)
      assert.equal("ARCHIVE", code)
      assert.equal("ARCHIVE: Unrecognized archive format: " .. d .. "/junk", msg)
      assert.same({ nil, "ENOENT: No such file or directory: " .. d .. "/none", "ENOENT" },
        { core.tar_reader(d .. "/none") })
    end)

    it("writes an entry's body into a new file, never over an existing one", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/in/x", ("body"):rep(50000))
      T.must(("cd %s && tar --format=pax -cf ../in.tar x"):format(T.q(d .. "/in")))
      local rd = assert(core.tar_reader(d .. "/in.tar"))
      assert(rd:next())
      assert.equal(200000, rd:to_file(d .. "/out"))
      assert.equal(T.sha256_file(d .. "/in/x"), T.sha256_file(d .. "/out"))
      assert.equal("600", T.must("stat -c %a " .. T.q(d .. "/out")):match("%d+"))
      rd = assert(core.tar_reader(d .. "/in.tar"))
      assert(rd:next())
      assert.same({ nil, "EEXIST: File exists: " .. d .. "/out", "EEXIST" }, { rd:to_file(d .. "/out") })
    end)

    it("reads bzip2 and xz archives only when asked to (any = true)", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/in/x", "compressed\n")
      for _, c in ipairs { { "bzip2", "-j" }, { "xz", "-J" } } do
        local tar = d .. "/in." .. c[1]
        T.must(("cd %s && tar --format=pax %s -cf %s x"):format(T.q(d .. "/in"), c[2], T.q(tar)))
        local rd, msg, code = core.tar_reader(tar)
        if rd then rd, msg, code = rd:next() end
        assert.is_nil(rd, c[1])
        assert.equal("ARCHIVE", code, msg)
        rd = assert(core.tar_reader(tar, { any = true }))
        assert.equal("x", assert(rd:next()).name)
        assert.equal("compressed\n", rd:read())
      end
    end)

    it("makes and removes private temp folders", function()
      local d = T.tmpdir(finally)
      local t = assert(core.mkdtemp(d .. "/x-"))
      assert.matches("^" .. d:gsub("%p", "%%%0") .. "/x%-......$", t)
      assert.equal("700", T.must("stat -c %a " .. T.q(t)):match("%d+"))
      T.write(t .. "/f", "f")
      assert.equal("ENOTEMPTY", select(3, core.rmdir(t)))
      assert(core.unlink(t .. "/f"))
      assert.is_true(core.rmdir(t))
      assert.equal("ENOENT", select(3, core.mkdtemp(d .. "/none/x-")))
    end)
  end)
end)
