-- `ocibuild import` of hostile archives made here: a name that is not a
-- reference is refused loudly, never dropped (issue 18, item 7); the
-- archive's kind is told from its entries as they come, so that an entry
-- no OCI or docker archive holds ends the import at once, and what is
-- remembered per entry is bounded (item 11). A docker archive's compressed
-- layer must hold the tar its config's diff_id names, and an image's
-- layers and diff_ids must agree in number.
local T = require "support"
local fx = require "cli.storefx"

local PY = T.exists("/usr/bin/python3") and "/usr/bin/python3" or "python3"

-- Runs a Python program (text) with the arguments given.
local function py(program, ...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return T.must(("%s -c %s %s"):format(PY, T.q(program), table.concat(words, " ")))
end

-- Writes a gzip tar at path: `first` (a file name, or none), then n
-- entries named by the Python format `pattern` % i holding `data`.
local function many(path, first, pattern, n, data)
  py([[
import io, sys, tarfile
path, first, pattern, n, data = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].encode()
with tarfile.open(path, "w:gz", format=tarfile.USTAR_FORMAT) as t:
    names = ([first] if first else []) + [pattern % i for i in range(n)]
    for name in names:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
]], path, first or "", pattern, tostring(n), data or "")
end

describe("ocibuild import of names that are not references (issue 18, item 7)", function()
  it("refuses the image rather than dropping its name, and takes it with --tag", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a = fx.build(d .. "/src", d .. "/ctx", "named", "a:1")
    fx.ok(d .. "/src", "export", "a:1", "-o", d .. "/a.tar")
    T.must(("mkdir %s && tar -xf %s -C %s"):format(T.q(d .. "/x"), T.q(d .. "/a.tar"), T.q(d .. "/x")))
    local index = T.read(d .. "/x/index.json")
    local bad = index:gsub('"org.opencontainers.image.ref.name":"a:1"',
      '"org.opencontainers.image.ref.name":"j:1\\u0000evil"')
      :gsub('"io.containerd.image.name":"[^"]*",?', "")
    assert.are_not.equal(index, bad)
    T.write(d .. "/x/index.json", bad)
    T.must(("rm %s && tar -cf %s -C %s oci-layout index.json blobs"):format(T.q(d .. "/x/manifest.json"),
      T.q(d .. "/j.tar"), T.q(d .. "/x")))
    fx.build(s, d .. "/k", "keep", "keep:1")
    local before = T.read(s .. "/index.json")
    for _, src in ipairs { d .. "/j.tar", d .. "/x" } do
      local code, out, err = fx.run(s, "import", src)
      assert.same({ 1, "", ("ocibuild: %s: index.json manifests[1]: org.opencontainers.image.ref.name: invalid "
        .. 'reference "j:1\\0evil": tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; give the image a name with '
        .. "--tag\n"):format(src) }, { code, out, err })
      assert.equal(before, T.read(s .. "/index.json"))
    end
    assert.equal(("imported: %s j:1\n"):format(a), fx.ok(s, "import", d .. "/j.tar", "--tag", "j:1"))
    fx.ok(s, "prune")
    assert.equal(a, T.image(s, "j:1").desc.digest)
    fx.valid(s)
  end)
end)

describe("ocibuild import of archives of many entries (issue 18, item 11)", function()
  it("stops at the first entry no OCI or docker archive holds, reading no further", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    -- the rest of the archive is cut off: reading on would fail on that
    many(d .. "/big.tar.gz", nil, "f%06d", 100000)
    T.must(("head -c 100000 %s > %s"):format(T.q(d .. "/big.tar.gz"), T.q(d .. "/cut.tar.gz")))
    local before = T.fingerprint(s)
    local code, out, err = fx.run(s, "import", d .. "/cut.tar.gz")
    assert.same({ 1, "", ('ocibuild: %s/cut.tar.gz: entry "f000000": no OCI or docker archive holds such an entry: '
      .. "refusing to import\n"):format(d) }, { code, out, err })
    assert.equal(before, T.fingerprint(s))
  end)

  it("remembers at most 16384 names of a docker archive", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    many(d .. "/names.tar.gz", nil, "%064x.json", 16385, "{}")
    local before = T.fingerprint(s)
    local code, out, err = fx.run(s, "import", d .. "/names.tar.gz")
    assert.same({ 1, "", ("ocibuild: %s/names.tar.gz: entry \"%064x.json\": more than 16384 files and links of a "
      .. "docker archive: none holds so many: refusing to import\n"):format(d, 16384) }, { code, out, err })
    fx.ok(s, "prune")
    assert.equal(before, T.fingerprint(s))
  end)

  it("imports a docker archive through 50,000 entries of legacy metadata", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a = fx.build(d .. "/src", d .. "/ctx", "legacy", "a:1")
    T.must(("skopeo copy -q oci:%s:a:1 docker-archive:%s:a:1"):format(T.q(d .. "/src"), T.q(d .. "/docker.tar")))
    py([[
import io, sys, tarfile
with tarfile.open(sys.argv[1]) as src, tarfile.open(sys.argv[2], "w:gz", format=tarfile.PAX_FORMAT) as t:
    for i in range(25000):
        for leaf, data in (("json", b"{}"), ("VERSION", b"1.0")):
            ti = tarfile.TarInfo("%064x/%s" % (i, leaf))
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    for m in src:
        t.addfile(m, src.extractfile(m) if m.isfile() else None)
]], d .. "/docker.tar", d .. "/padded.tar.gz")
    local out = fx.ok(s, "import", d .. "/padded.tar.gz")
    assert.matches("^imported: sha256:%x+ a:1\n$", out)
    assert.equal(T.json(fx.ok(s, "inspect", "a:1")).Id, T.json(fx.ok(d .. "/src", "inspect", "a:1")).Id)
    assert.is_string(a)
    fx.valid(s)
  end)
end)

describe("ocibuild import of layers their config does not describe", function()
  it("refuses a docker archive's gzip layer whose tar is not its diff_id, and imports it when it is", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    fx.tar(d .. "/l.tar", { { name = "etc/os-release", data = "ID=test\n" } })
    local other = "sha256:" .. ("ab"):rep(32)
    local im = fx.image_of(d .. "/bad.tar", "docker-archive", { d .. "/l.tar" }, { other })
    local before = T.read(s .. "/index.json")
    local code, out, err = fx.run(s, "import", d .. "/bad.tar")
    assert.same({ 1, "", ("ocibuild: %s/bad.tar: manifest.json[1]: layer %s holds a tar of digest %s, but the config "
      .. "says diff_id %s\n"):format(d, im.blobs[1], im.tars[1], other) }, { code, out, err })
    assert.equal(before, T.read(s .. "/index.json"))
    fx.valid(s)
    fx.image_of(d .. "/good.tar", "docker-archive", { d .. "/l.tar" })
    assert.matches("^imported: sha256:%x+ x:1\n$", fx.ok(s, "import", d .. "/good.tar"))
    assert.same({ im.blobs[1], im.tars[1] }, { T.image(s, "x:1").manifest.layers[1].digest,
      T.image(s, "x:1").config.rootfs.diff_ids[1] })
    fx.valid(s)
  end)

  it("refuses an OCI archive or layout whose manifest has more layers than its config has diff_ids", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    fx.tar(d .. "/l.tar", { { name = "etc/os-release", data = "ID=test\n" } })
    fx.tar(d .. "/m.tar", { { name = "srv/m.txt", data = "m\n" } })
    local im = fx.image_of(d .. "/x", "oci", { d .. "/l.tar", d .. "/m.tar" },
      { "sha256:" .. T.sha256_file(d .. "/l.tar") })
    T.must(("tar -cf %s -C %s oci-layout index.json blobs"):format(T.q(d .. "/x.tar"), T.q(d .. "/x")))
    local manifest = T.json(T.read(d .. "/x/index.json")).manifests[1].digest
    local before = T.read(s .. "/index.json")
    local code, out, err = fx.run(s, "import", d .. "/x.tar")
    assert.same({ 1, "", ("ocibuild: %s/x.tar: index.json manifests[1]: manifest %s has 2 layers, its config %s lists "
      .. "1 diff_ids\n"):format(d, manifest, im.config) }, { code, out, err })
    assert.equal(before, T.read(s .. "/index.json"))
    fx.valid(s)
    -- the same image as a layout folder
    code, out, err = fx.run(s, "import", d .. "/x")
    assert.same({ 1, "", ("ocibuild: %s/x: index.json manifests[1]: manifest %s has 2 layers, its config %s lists "
      .. "1 diff_ids\n"):format(d, manifest, im.config) }, { code, out, err })
    assert.equal(before, T.read(s .. "/index.json"))
    fx.valid(s)
  end)
end)
