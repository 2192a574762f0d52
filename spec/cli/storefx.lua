--- Fixtures for the store command specs: stores with built images, an
-- index of two platforms, crafted tars (Python's tarfile, independent of
-- ocibuild), and the check every spec ends with: oci-image-tool accepts
-- the store and `ocibuild fsck` finds nothing wrong.
local T = require "support"

local M = {}

-- Debian's python3 (scripts/setup installs it) starts much faster than a
-- version manager's shim in front of it.
local PY = T.exists("/usr/bin/python3") and "/usr/bin/python3" or "python3"

--- Runs `ocibuild --store s ARGS...`; returns code, out, err.
function M.run(s, ...)
  return T.ocibuild("--store", s, ...)
end

--- Runs it and asserts success; returns stdout.
function M.ok(s, ...)
  local code, out, err = M.run(s, ...)
  assert(code == 0, ("ocibuild %s failed (%d): %s%s"):format(table.concat({ ... }, " "), code, out, err))
  return out
end

--- Builds a one-file context holding `content` into s with the tags
-- given; returns the manifest digest and image ID printed.
function M.build(s, dir, content, ...)
  T.write(dir .. "/f", content)
  local args = { "build", dir }
  for _, t in ipairs { ... } do args[#args + 1] = "-t"; args[#args + 1] = t end
  local out = M.ok(s, table.unpack(args))
  return out:match("digest:%s+(%S+)"), out:match("image id:%s+(%S+)")
end

--- Adds to the store s an image index of the manifests digests (each
-- listed with its platform, as index.json has it) named ref; returns its
-- descriptor.
function M.index(s, name, digests)
  local doc = require "ocibuild.oci.doc"
  local media = require "ocibuild.oci.media"
  local ref = require "ocibuild.oci.ref"
  local store = require "ocibuild.store"
  local st = assert(store.open(s))
  local byd = {}
  for _, d in ipairs(assert(st:read_index()).manifests) do byd[d.digest] = d end
  local children = {}
  for i, dg in ipairs(digests) do
    local d = assert(byd[dg], dg)
    children[i] = doc.descriptor(d.mediaType, d.digest, d.size, { platform = d.platform })
  end
  local dg, size = assert(st:put_blob(doc.encode(doc.index(children))))
  local desc = doc.descriptor(media.INDEX, dg, size)
  assert(st:tag(desc, { assert(ref.parse(name)) }))
  return desc
end

--- The store's index.json, decoded.
function M.entries(s)
  return T.json(T.read(s .. "/index.json")).manifests
end

--- The blob names in s/blobs/sha256, sorted.
function M.blobs(s)
  local t = {}
  for name in T.must("ls " .. T.q(s .. "/blobs/sha256")):gmatch("%S+") do t[#t + 1] = name end
  return t
end

--- oci-image-tool validates s and `ocibuild fsck` reports no problem.
function M.valid(s)
  T.must("oci-image-tool validate --type image " .. T.q(s))
  local code, out, err = M.run(s, "fsck")
  assert(code == 0, "fsck found problems: " .. out .. err)
end

--- Writes a tar at path with Python's tarfile (PAX format). entries:
-- { {name=, data=, type="file"|"dir"|"symlink"|"hardlink"|"chardev"|"fifo", link=} }
function M.tar(path, entries, compress)
  local lines = {}
  for _, e in ipairs(entries) do
    local hex = (e.data or ""):gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    lines[#lines + 1] = table.concat({ e.type or "file", e.name, e.link or "", hex }, "\t")
  end
  T.write(path .. ".spec", table.concat(lines, "\n") .. "\n")
  local py = [[
import io, sys, tarfile
types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
mode = "w:" + sys.argv[3] if len(sys.argv) > 3 else "w"
with tarfile.open(sys.argv[2], mode, format=tarfile.PAX_FORMAT) as t:
    for line in open(sys.argv[1]).read().splitlines():
        kind, name, link, hexdata = line.split("\t")
        data = bytes.fromhex(hexdata)
        ti = tarfile.TarInfo(name)
        ti.type, ti.linkname, ti.mode = types[kind], link, 0o644
        if kind == "file":
            ti.size = len(data)
        if kind == "chardev":
            ti.devmajor, ti.devminor = 1, 3
        t.addfile(ti, io.BytesIO(data) if kind == "file" else None)
]]
  T.must(("%s -c %s %s %s %s"):format(PY, T.q(py), T.q(path .. ".spec"), T.q(path), compress and T.q(compress) or ""))
  os.remove(path .. ".spec")
end

--- The members of the tar at path: {name = bytes} for files.
function M.members(path)
  local t = {}
  for _, e in ipairs(T.tar_entries(path)) do t[e.name] = e end
  return t
end

--- Writes an image whose layers are the tars at the paths `tars`, each
-- gzip-compressed, with Python (independent of ocibuild): an OCI layout
-- folder at path (kind "oci") or a docker archive ("docker-archive"),
-- named x:1. Its config lists diff_ids, by default the tars' digests.
-- Returns {blobs= (the layers' digests), tars= (the tars'), config=}.
function M.image_of(path, kind, tars, diff_ids)
  local py = [==[
import gzip, hashlib, io, json, os, sys, tarfile
path, kind, tars, ids = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
def dg(b): return "sha256:" + hashlib.sha256(b).hexdigest()
plain = [open(t, "rb").read() for t in tars]
gz = [gzip.compress(b, mtime=0) for b in plain]
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
  "rootfs": {"type": "layers", "diff_ids": ids or [dg(b) for b in plain]}}).encode()
def desc(mt, b): return {"mediaType": mt, "digest": dg(b), "size": len(b)}
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": desc("application/vnd.oci.image.config.v1+json", cfg),
  "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", b) for b in gz]}).encode()
if kind == "oci":
    os.makedirs(path + "/blobs/sha256")
    for b in [cfg, man] + gz:
        open(path + "/blobs/sha256/" + dg(b)[7:], "wb").write(b)
    open(path + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
    d = dict(desc("application/vnd.oci.image.manifest.v1+json", man),
      annotations={"org.opencontainers.image.ref.name": "x:1"})
    open(path + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [d]}))
else:
    files = [(dg(cfg)[7:] + ".json", cfg)] + [(dg(b)[7:] + "/layer.tar", b) for b in gz]
    docker = [{"Config": files[0][0], "RepoTags": ["x:1"], "Layers": [f[0] for f in files[1:]]}]
    with tarfile.open(path, "w") as t:
        for name, b in [("manifest.json", json.dumps(docker).encode())] + files:
            i = tarfile.TarInfo(name); i.size = len(b); t.addfile(i, io.BytesIO(b))
print(json.dumps({"blobs": [dg(b) for b in gz], "tars": [dg(b) for b in plain], "config": dg(cfg)}))
]==]
  local json = require "cjson"
  return T.json(T.must(("%s -c %s %s %s %s %s"):format(PY, T.q(py), T.q(path), T.q(kind), T.q(json.encode(tars)),
    T.q(json.encode(diff_ids or {})))))
end

return M
