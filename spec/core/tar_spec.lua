local core = require "ocibuild.core"
local T = require "support"

-- Builds ctx into an uncompressed layer in a new store; returns the job's
-- result and the path of the tar blob.
local function layer(ctx, opts)
  return T.layer(ctx, T.tmpdir(finally), opts)
end

local function by_name(entries)
  local t = {}
  for _, e in ipairs(entries) do t[e.name] = e end
  return t
end

describe("ocibuild.core", function()
  describe("layer() tar stream", function()
    it("writes an empty context as exactly two zero blocks", function()
      local ctx = T.tmpdir(finally)
      local r, blob = assert(layer(ctx))
      assert.equal(1024, r.tar_size)
      assert.equal("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", r.diff_id)
      assert.equal(r.diff_id, r.digest) -- uncompressed: the blob is the tar
      assert.equal(("\0"):rep(1024), T.read(blob))
    end)

    it("normalises headers: relative clean names, 0:0, no owner names, fixed mtime, no atime/ctime", function()
      local ctx = T.tmpdir(finally)
      T.write(ctx .. "/dir/file.txt", "hello\n", 420)
      T.must(("cd %s && touch -d '2001-02-03 04:05:06.789' dir/file.txt && chmod 750 dir"):format(T.q(ctx)))
      local _, blob = assert(layer(ctx, { mtime = 1700000000 }))
      local entries = T.tar_entries(blob)
      assert.same({ "dir", "dir/file.txt" }, { entries[1].name, entries[2].name })
      for _, e in ipairs(entries) do
        assert.equal(0, e.uid)
        assert.equal(0, e.gid)
        assert.equal("", e.uname)
        assert.equal("", e.gname)
        assert.equal(1700000000, e.mtime)
        assert.is_nil(e.pax.atime)
        assert.is_nil(e.pax.ctime)
        assert.is_nil(e.pax.mtime)
      end
      assert.equal(488, entries[1].mode) -- 0750 kept from disk
      assert.equal(420, entries[2].mode)
      assert.equal(T.must("printf 'hello\\n' | sha256sum"):match("^%x+"), entries[2].sha256)
      -- directories end in '/' in the raw header, no "./" prefix
      local raw = T.read(blob)
      assert.equal("dir/", raw:sub(1, 4))
      assert.equal("\0", raw:sub(5, 5))
    end)

    it("keeps whole-second mtimes clamped to SOURCE_DATE_EPOCH when asked", function()
      local ctx = T.tmpdir(finally)
      T.write(ctx .. "/old", "o")
      T.write(ctx .. "/new", "n")
      T.must(("cd %s && touch -d '@1000000000.5' old && touch -d '@2000000000.25' new"):format(T.q(ctx)))
      local _, blob = assert(layer(ctx, { mtime = 1500000000, keep_mtime = true, clamp = true }))
      local e = by_name(T.tar_entries(blob))
      assert.equal(1000000000, e.old.mtime)
      assert.equal(1500000000, e.new.mtime)
      _, blob = assert(layer(ctx, { mtime = 0, keep_mtime = true }))
      e = by_name(T.tar_entries(blob))
      assert.equal(2000000000, e.new.mtime)
      assert.is_nil(e.new.pax.mtime) -- never a fractional pax mtime
    end)

    it("stores symlinks, hardlinks (first path carries the data) and FIFOs", function()
      local ctx = T.tmpdir(finally)
      T.write(ctx .. "/a/data", "payload")
      T.must(("cd %s && ln a/data b && ln a/data z && ln -s ../a/data a/rel && ln -s /etc/passwd abs && ln -s" ..
        " nowhere dangling && mkfifo pipe")
        :format(T.q(ctx)))
      local _, blob = assert(layer(ctx))
      local e = by_name(T.tar_entries(blob))
      assert.equal("0", e["a/data"].type)
      assert.equal(7, e["a/data"].size)
      assert.equal("1", e.b.type)
      assert.equal("a/data", e.b.linkname)
      assert.equal(0, e.b.size)
      assert.equal("1", e.z.type)
      assert.equal("2", e["a/rel"].type)
      assert.equal("../a/data", e["a/rel"].linkname)
      assert.equal("/etc/passwd", e.abs.linkname)
      assert.equal("nowhere", e.dangling.linkname)
      assert.equal("6", e.pipe.type)
    end)

    it("puts the destination's parent directories first", function()
      local ctx = T.tmpdir(finally)
      T.write(ctx .. "/index.html", "<p>")
      local _, blob = assert(layer(ctx, { prefix = "usr/share/site/", owner = "101:102" }))
      local entries = T.tar_entries(blob)
      local names = {}
      for i, x in ipairs(entries) do names[i] = x.name end
      assert.same({ "usr", "usr/share", "usr/share/site", "usr/share/site/index.html" }, names)
      assert.equal(493, entries[1].mode)
      assert.equal(101, entries[4].uid)
      assert.equal(102, entries[4].gid)
    end)

    it("writes long and non-ASCII names as UTF-8 pax records, without hdrcharset", function()
      local ctx = T.tmpdir(finally)
      local long = ("x"):rep(120) .. "/" .. ("y"):rep(150) .. "/" .. ("z"):rep(200)
      T.write(ctx .. "/" .. long, "deep")
      T.write(ctx .. "/café/日本.txt", "unicode")
      local _, blob = assert(layer(ctx))
      local e = by_name(T.tar_entries(blob))
      assert.equal(4, e[long].size)
      assert.equal(7, e["café/日本.txt"].size)
      assert.is_nil(e["café/日本.txt"].pax.hdrcharset)
      assert.equal("café/日本.txt", e["café/日本.txt"].pax.path)
    end)

    it("normalises modes on request", function()
      local ctx = T.tmpdir(finally)
      T.write(ctx .. "/exe", "#!", 488) -- 0750
      T.write(ctx .. "/doc", "d", 384)  -- 0600
      T.must("chmod 700 " .. T.q(ctx .. "/") .. " && mkdir -m 0700 " .. T.q(ctx .. "/d"))
      local _, blob = assert(layer(ctx, { mode = "normalize" }))
      local e = by_name(T.tar_entries(blob))
      assert.equal(493, e.exe.mode)
      assert.equal(420, e.doc.mode)
      assert.equal(493, e.d.mode)
    end)

    it("rejects names that are not UTF-8 and names that would be whiteouts", function()
      local ctx = T.tmpdir(finally)
      T.must(("cd %s && touch \"$(printf 'bad\\377name')\""):format(T.q(ctx)))
      local ok, msg, code = layer(ctx)
      assert.same({ nil, "BADNAME: file name is not valid UTF-8: " .. ctx .. "/bad\\xffname", "BADNAME" },
        { ok, msg, code })
      local ctx2 = T.tmpdir(finally)
      T.write(ctx2 .. "/sub/.wh.gone", "")
      ok, msg, code = layer(ctx2)
      assert.same({ nil, "WHITEOUT: name starts with .wh. and would be read as a whiteout: " .. ctx2 .. "/sub/.wh.gone",
        "WHITEOUT" }, { ok, msg, code })
    end)

    it("skips sockets and says so", function()
      local ctx = T.tmpdir(finally)
      T.write(ctx .. "/keep", "k")
      T.must(("python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' %s")
        :format(T.q(ctx .. "/sock")))
      local events = {}
      local r, blob = assert(layer(ctx, { on_event = function(ev) events[#events + 1] = ev end }))
      local warnings = {}
      for _, ev in ipairs(events) do
        if ev.type == "warning" then warnings[#warnings + 1] = ev.message end
      end
      assert.same({ "skipping socket " .. ctx .. "/sock" }, warnings)
      assert.equal(1, r.entries)
      assert.equal("keep", T.tar_entries(blob)[1].name)
    end)
  end)

  describe("tar_writer()", function()
    it("writes an archive atomically that an independent reader reads back", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/src", ("abc"):rep(1000))
      local st = assert(core.store(d .. "/s", { create = true }))
      local bw = assert(st:blob_writer())
      bw:write(T.read(d .. "/src"))
      local bd, bsize = assert(bw:close())
      local w = assert(core.tar_writer(d .. "/out.tar"))
      assert(w:add { kind = "dir", name = "blobs/", mode = 493 })
      assert(w:add { kind = "data", name = "blobs/a", mode = 420, mtime = 5, data = "hello" })
      assert(w:add_blob(st, bd, bsize, { name = "blobs/b", mode = 420, mtime = 5 }))
      assert(w:add { kind = "symlink", name = "l", mode = 511, mtime = 5, target = "blobs/a" })
      assert.is_false(T.exists(d .. "/out.tar")) -- nothing visible before close
      local size, digest = assert(w:close())
      assert.equal(T.sha256_file(d .. "/out.tar"), digest:sub(8))
      assert.equal(#T.read(d .. "/out.tar"), size)
      local e = by_name(T.tar_entries(d .. "/out.tar"))
      assert.equal(5, e["blobs/a"].size)
      assert.equal(3000, e["blobs/b"].size)
      assert.equal("blobs/a", e.l.linkname)
      assert.equal("", T.must("ls -A " .. T.q(d) .. " | grep -v -e '^src$' -e '^out.tar$' -e '^s$' || true"))
    end)

    it("leaves nothing behind when dropped before close", function()
      local d = T.tmpdir(finally)
      do
        local w <close> = assert(core.tar_writer(d .. "/out.tar"))
        assert(w:add { kind = "data", name = "x", data = "x" })
      end
      assert.equal("", T.must("ls -A " .. T.q(d)))
    end)
  end)
end)
