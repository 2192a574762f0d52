-- Names from a cloned repository (ocibuild ls) and from an imported image
-- (ocibuild diff) reach the terminal quoted as errors quote them: ESC,
-- newlines, other control bytes, DEL, C1 controls and bytes that are not
-- UTF-8 as \xNN, a backslash as \\; one line per entry, whatever it holds.
local T = require "support"

-- The bytes no line of output may hold: C0 controls but the newline, DEL,
-- an ESC-less CSI (U+009B), and an invalid UTF-8 byte.
local function assert_safe(out)
  for line in out:gmatch("[^\n]*") do
    assert.falsy(line:find("[%z\1-\31\127]"), line)
    assert.falsy(line:find("\194[\128-\159]"), line)
    assert.is_truthy(utf8.len(line), line)
  end
end

-- Names every test uses: what each is printed as.
local NAMES = {
  { "esc\27[31mred", "esc\\x1b[31mred" },
  { "new\nline", "new\\x0aline" },
  { "bad\255utf8", "bad\\xffutf8" },
  { "csi\194\155x", "csi\\xc2\\x9bx" },
  { "back\\slash", "back\\\\slash" },
  { "title\27]0;pwned\7", "title\\x1b]0;pwned\\x07" },
  { "del\127", "del\\x7f" },
  { "café", "café" },
}

-- Writes an OCI layout at dir holding images h:1 and h:2 (one plain tar
-- layer each), made with Python's tarfile so that the entry names are
-- exactly the bytes given, as a hostile image's would be.
local function hostile_layout(dir)
  local py = [=[
import hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
names = [bytes.fromhex(h) for h in sys.argv[2:]]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
def layer(extra):
    buf = io.BytesIO()
    t = tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="surrogateescape")
    for n in names + extra:
        name = n.decode("utf-8", "surrogateescape")
        i = tarfile.TarInfo(name)
        i.size = 2
        i.mtime = 0
        t.addfile(i, io.BytesIO(b"x\n"))
    i = tarfile.TarInfo("link")
    i.type = tarfile.SYMTYPE
    i.linkname = names[0].decode("utf-8", "surrogateescape") + ("2" if extra else "")
    t.addfile(i)
    t.close()
    return buf.getvalue()
manifests = []
for tag, extra, label in (("h:1", [], "v"), ("h:2", [names[1] + b"2"], "v\u001b[0m")):
    l = layer(extra)
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
        "config": {"Labels": {"k\u001b[31m": label}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest()]}}).encode()
    c, lb = blob(cfg), blob(l)
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(c, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(lb, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode()
    manifests.append(dict(blob(m), mediaType="application/vnd.oci.image.manifest.v1+json",
        annotations={"org.opencontainers.image.ref.name": tag}))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": manifests}))
]=]
  T.write(dir .. ".py", py)
  local hex = {}
  for i, n in ipairs(NAMES) do hex[i] = T.q((n[1]:gsub(".", function(c) return ("%02x"):format(c:byte()) end))) end
  T.must(("/usr/bin/python3 %s %s %s"):format(T.q(dir .. ".py"), T.q(dir), table.concat(hex, " ")))
end

describe("names from outside, on the terminal", function()
  it("ocibuild ls quotes every name of a cloned repository, and the patterns of its .dockerignore", function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/repo"
    for _, n in ipairs(NAMES) do T.write(ctx .. "/" .. n[1], "x\n") end
    T.write(ctx .. "/dir\27[2J/inner", "x\n")
    T.write(ctx .. "/.dockerignore", "title\27]0;pwned\7\n")
    local code, out, err = T.ocibuild("ls", ctx, "--why")
    assert.equal(0, code, err)
    assert_safe(out)
    local want = {
      "+ .dockerignore",
      "+ back\\\\slash",
      "+ bad\\xffutf8",
      "+ café",
      "+ csi\\xc2\\x9bx",
      "+ del\\x7f",
      "+ dir\\x1b[2J/",
      "+ dir\\x1b[2J/inner",
      "+ esc\\x1b[31mred",
      "+ new\\x0aline",
      ('- title\\x1b]0;pwned\\x07  excluded by "title\\27]0;pwned\\7" (%s/.dockerignore:1)'):format(ctx),
    }
    assert.equal(table.concat(want, "\n") .. "\n", out)
    -- without --why, the same names
    code, out = T.ocibuild("ls", ctx)
    assert.equal(0, code)
    assert_safe(out)
    assert.truthy(out:find("\nnew\\x0aline\n", 1, true), out)
  end)

  it("ocibuild diff quotes entry names, link targets and config keys and values of imported images", function()
    local d = T.tmpdir(finally)
    hostile_layout(d .. "/layout")
    local code, out, err = T.ocibuild("--store", d .. "/s", "import", d .. "/layout")
    assert.equal(0, code, out .. err)
    code, out, err = T.ocibuild("--store", d .. "/s", "diff", "h:1", "h:2")
    assert.equal(1, code, err)
    assert.equal("", err)
    assert_safe(out)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal('config: config.Labels.k\\x1b[31m: "v" -> "v\\u001b[0m"', lines[3])
    assert.matches("^layer 1: ", lines[4])
    assert.equal('  ~ link  target "esc\\27[31mred" -> "esc\\27[31mred2"', lines[5])
    assert.equal("  + new\\x0aline2  file 0644 0:0 2 B", lines[6])
    assert.equal("3 differences", lines[7])
    assert.equal(7, #lines)
  end)
end)
