-- Layer catalogs: what a layer holds, learnt in the pass that writes it
-- (or one read of a blob). Every file's SHA-256 and SHA-1 are checked
-- against sha256sum and sha1sum over the same files; captures against the
-- files' own bytes; a blob read against the job that wrote it; a rebuild's
-- kept entries against what was not read.
local T = require "support"

local core = require "ocibuild.core"

-- The records of a catalog: a list of {t=, size=, mode=, sha256=, sha1=,
-- path=, link=}, and by path.
local function records(rec)
  local list, by, i = {}, {}, 1
  while i <= #rec do
    local t, size, mode, s256, s1, p, link, nxt =
      rec:match("^(%a)(%d+) (%d+) (%S+) (%S+)\t([^%z]*)%z([^%z]*)%z()", i)
    assert(t, "a damaged record at byte " .. i)
    local r = { t = t, size = tonumber(size), mode = tonumber(mode), sha256 = s256, sha1 = s1, path = p, link = link }
    list[#list + 1], by[p] = r, r
    i = nxt
  end
  return list, by
end

-- "hex  path" lines of a checksum tool over the files of dir (relative).
local function sums(tool, dir)
  local out = T.must(("cd %s && find . -type f -printf '%%P\\0' | xargs -0 %s"):format(T.q(dir), tool))
  local t = {}
  for hex, p in out:gmatch("(%x+)  ([^\n]+)\n") do t[p] = hex end
  return t
end

local function job(ctx, store, opts)
  opts = opts or {}
  local st = assert(core.store(store, { create = true }))
  local policy = assert(core.tar_policy { prefix = opts.prefix or "", mtime = 0 })
  local j = core.layer_job { root = ctx, store = st, policy = policy, codec = core.codec { kind = "gzip", level = 1 },
    reuse = opts.state ~= nil, state = opts.state, catalog = opts.spec, catalog_key = opts.key, items = opts.items }
  local caps = {}
  local r, err, code = j:run(function(ev)
    if ev.type == "capture" then
      if opts.raise then error(opts.raise) end
      caps[#caps + 1] = ev
    end
  end)
  return r, caps, st, err, code
end

-- An ELF-looking executable of n bytes with Go's build information magic
-- at offset at (and text around it).
local function go_like(n, at, elf)
  local head = (elf ~= false and "\127ELF" or "#!sh") .. ("\0"):rep(60)
  local magic = "\255 Go buildinf:" .. "\8\2" .. ("\0"):rep(16) .. "\8go1.99.1" .. "\3mod"
  return (head .. ("x"):rep(at - #head) .. magic .. ("y"):rep(n - at - #magic)):sub(1, n)
end

describe("core.catalog_spec", function()
  it("records every entry, and hashes each file's bytes as they go into the tar: sha256sum and sha1sum agree",
    function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    T.write(ctx .. "/empty", "")
    T.write(ctx .. "/small.txt", "hello\n")
    T.write(ctx .. "/sub/chunks.bin", ("0123456789abcdef"):rep(16385) .. "tail") -- past a 256 KiB read
    T.write(ctx .. "/sub/deeper/big.bin", ("%08d\n"):rep(400000):format(table.unpack((function()
      local t = {}
      for i = 1, 400000 do t[i] = i end
      return t
    end)())))
    T.must(("cd %s && ln -s small.txt link && ln sub/chunks.bin hard && mkfifo pipe"):format(T.q(ctx)))
    local spec = core.catalog_spec { files = true }
    local r, caps = assert(job(ctx, d .. "/s", { spec = spec, prefix = "srv/" }))
    assert.same({}, caps)
    local list, by = records(r.catalog)
    local s256, s1 = sums("sha256sum", ctx), sums("sha1sum", ctx)
    local files = 0
    for p, hex in pairs(s256) do
      local rec = by["srv/" .. p]
      assert(rec, p)
      if rec.t == "f" then
        files = files + 1
        assert.same({ hex, s1[p] }, { rec.sha256, rec.sha1 }, p)
      end
    end
    assert.equal(4, files) -- the hardlink's second name is a hardlink entry
    local hard = by["srv/sub/chunks.bin"].t == "h" and by["srv/sub/chunks.bin"] or by["srv/hard"]
    assert.equal("h", hard.t)
    assert.truthy(hard.link == "srv/hard" or hard.link == "srv/sub/chunks.bin", hard.link)
    assert.same({ "l", "small.txt" }, { by["srv/link"].t, by["srv/link"].link })
    assert.equal("p", by["srv/pipe"].t)
    assert.equal("d", by["srv"].t) -- the prefix's folder is an entry too
    assert.equal(6, by["srv/small.txt"].size)
    assert.equal(420, by["srv/small.txt"].mode & 511)
    -- in the tar's order
    local order = {}
    for i, rec in ipairs(list) do order[rec.path] = i end
    assert.is_true(order["srv/sub"] < order["srv/sub/chunks.bin"])
  end)

  it("captures the first bytes of the files its patterns select, as many as the deciding pattern keeps", function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    T.write(ctx .. "/var/lib/dpkg/status", "Package: a\nStatus: install ok installed\nVersion: 1\n")
    T.write(ctx .. "/app/node_modules/x/package.json", ('{"name":"x","version":"1.0.0"}'):rep(10))
    T.write(ctx .. "/app/other.json", "{}")
    local m = assert(core.matcher { "var/lib/dpkg/status", "**/node_modules/*/package.json" })
    local spec = core.catalog_spec { capture = m, max = { 1 << 20, 31 } }
    local r, caps = assert(job(ctx, d .. "/s", { spec = spec }))
    table.sort(caps, function(a, b) return a.path < b.path end)
    assert.equal(2, #caps)
    local json = ('{"name":"x","version":"1.0.0"}'):rep(10)
    assert.same({ "app/node_modules/x/package.json", "prefix", json:sub(1, 31), true, #json },
      { caps[1].path, caps[1].kind, caps[1].data, caps[1].cut, caps[1].size })
    assert.same({ "var/lib/dpkg/status", T.read(ctx .. "/var/lib/dpkg/status"), false },
      { caps[2].path, caps[2].data, caps[2].cut })
    -- without files, only what was looked into is recorded, without digests
    local list = records(r.catalog)
    assert.equal(2, #list)
    for _, rec in ipairs(list) do assert.same({ "f", "-", "-" }, { rec.t, rec.sha256, rec.sha1 }) end
  end)

  it("keeps windows from Go build information magics at 16-byte offsets of ELF executables only", function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    T.write(ctx .. "/bin/go-app", go_like(600000, 300000), 493)
    T.write(ctx .. "/bin/odd", go_like(600000, 300001), 493) -- not at a 16-byte offset
    T.write(ctx .. "/bin/script", go_like(600000, 300000, false), 493) -- not ELF
    T.write(ctx .. "/lib/data", go_like(600000, 300000), 420) -- not executable
    local spec = core.catalog_spec { go_window = 4096 }
    local r, caps = assert(job(ctx, d .. "/s", { spec = spec }))
    assert.equal(1, #caps)
    assert.same({ "bin/go-app", "goinfo", 4096 }, { caps[1].path, caps[1].kind, #caps[1].data })
    assert.equal(go_like(600000, 300000):sub(300001, 300000 + 4096), caps[1].data)
    -- the executables were looked into, so they are recorded
    local _, by = records(r.catalog)
    assert.truthy(by["bin/odd"] and by["bin/script"] and by["bin/go-app"])
    assert.is_nil(by["lib/data"])
  end)

  it("reads a layer blob once to the same records and captures, its digest checked", function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    T.write(ctx .. "/etc/os-release", 'ID=debian\nVERSION_ID="12"\n')
    T.write(ctx .. "/usr/bin/tool", go_like(70000, 4096), 493)
    T.write(ctx .. "/a/b.txt", ("b"):rep(5000))
    local m = assert(core.matcher { "etc/os-release" })
    local spec = core.catalog_spec { files = true, capture = m, max = { 65536 }, go_window = 512 }
    local r, caps, st = assert(job(ctx, d .. "/s", { spec = spec }))
    local got = {}
    local rec, size = spec:blob(st, r.digest, function(c) got[#got + 1] = c end)
    assert.equal(r.catalog, rec)
    assert.equal(r.size, size)
    assert.equal(#caps, #got)
    for i = 1, #caps do assert.same({ caps[i].path, caps[i].data }, { got[i].path, got[i].data }) end
    -- a blob whose bytes are not its digest's
    local path = d .. "/s/blobs/sha256/" .. r.digest:sub(8)
    local bytes = T.read(path)
    T.must("chmod u+w " .. T.q(path))
    T.write(path, bytes:sub(1, -2) .. string.char((bytes:byte(-1) + 1) % 256))
    local ok, msg, code = spec:blob(st, r.digest)
    assert.is_nil(ok)
    assert.truthy(code == "BADDIGEST" or code == "ARCHIVE", code)
    assert.truthy(msg:find(r.digest:sub(8), 1, true), msg)
  end)

  it("on a rebuild keeps entries unread only when the earlier blob's catalog note is there", function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
      for i = 1, 20 do T.write(("%s/f%02d.txt"):format(ctx, i), ("line " .. i .. "\n"):rep(200 + i)) end
    T.must("sleep 2.2") -- older than the layer state's racy margin
    local spec = core.catalog_spec { files = true }
    local first, _, st = assert(job(ctx, d .. "/s", { spec = spec, state = "cat-spec", key = "k1" }))
    -- no note yet: everything is read again, every file hashed
    local again = assert(job(ctx, d .. "/s", { spec = spec, state = "cat-spec", key = "k1" }))
    assert.equal(again.tar_size, again.made)
    assert.is_nil(again.prior)
    assert.equal(first.catalog, again.catalog)
    -- with the note, nothing is read; the kept entries say so
    assert(st:note_write("catalog", again.digest, "ocibuild-catalog k1\n"))
    local kept = assert(job(ctx, d .. "/s", { spec = spec, state = "cat-spec", key = "k1" }))
    assert.same({ 0, again.digest, again.digest }, { kept.made, kept.digest, kept.prior })
    local list = records(kept.catalog)
    local ks = 0
    for _, rec in ipairs(list) do if rec.t == "k" then ks = ks + 1 end end
    assert.equal(20, ks)
    -- a note made for other settings is not enough
    local other = assert(job(ctx, d .. "/s", { spec = spec, state = "cat-spec", key = "k2" }))
    assert.equal(other.tar_size, other.made)
  end)

  it("stops the job when the capture callback raises, and raises its error again", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/etc/os-release", "ID=x\n")
    local spec = core.catalog_spec { capture = assert(core.matcher { "etc/os-release" }), max = { 100 } }
    local ok, err = pcall(job, d .. "/ctx", d .. "/s", { spec = spec, raise = "stop here" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("stop here", 1, true), err)
  end)
end)
