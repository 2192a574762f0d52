--- Support for the Dockerfile differential specs: building a Dockerfile
-- with `buildah build --isolation chroot` (Debian's buildah, its vfs
-- driver in a temp root; RUN-less files need no runtime), pushing the
-- result into an OCI layout, and reading an image's merged file tree
-- (layers applied in order, whiteouts honoured, hardlinks read through)
-- and config with Python's tarfile, independent of ocibuild.
local T = require "support"

local M = {}

local TREE = [[
import hashlib, json, sys, tarfile
layout, ref = sys.argv[1], sys.argv[2]
which = int(sys.argv[3]) if len(sys.argv) > 3 else 0
def blob(d): return layout + "/blobs/sha256/" + d.split(":")[1]
desc = None
for d in json.load(open(layout + "/index.json"))["manifests"]:
    if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
        desc = d
m = json.load(open(blob(desc["digest"])))
if "manifests" in m:
    m = json.load(open(blob(m["manifests"][which]["digest"])))
tree = {}
def norm(n):
    n = n.lstrip("/")
    while n.startswith("./"): n = n[2:]
    return n.rstrip("/")
def drop(p):
    for k in list(tree):
        if k == p or k.startswith(p + "/"): del tree[k]
for l in m["layers"]:
    with tarfile.open(blob(l["digest"]), "r:*") as t:
        members = t.getmembers()
        for e in members:
            n = norm(e.name)
            base, parent = n.rsplit("/", 1)[-1], (n.rsplit("/", 1)[0] if "/" in n else "")
            if base == ".wh..wh..opq":
                for k in list(tree):
                    if parent == "" or k.startswith(parent + "/"): del tree[k]
            elif base.startswith(".wh."):
                drop((parent + "/" if parent else "") + base[4:])
        for e in members:
            n = norm(e.name)
            if n == "" or n.rsplit("/", 1)[-1].startswith(".wh."): continue
            x = {"mode": e.mode & 0o7777, "uid": e.uid, "gid": e.gid}
            if e.isdir():
                x["type"] = "dir"
                tree[n] = x
                continue
            drop(n)
            if e.issym():
                x["type"], x["target"] = "symlink", e.linkname
                del x["mode"]
            elif e.isfile() or e.islnk():
                f = t.extractfile(e)
                x["type"], x["sha256"] = "file", hashlib.sha256(f.read()).hexdigest()
            elif e.isfifo():
                x["type"] = "fifo"
            else:
                x["type"] = "other"
            tree[n] = x
print(json.dumps({"tree": tree, "config": json.load(open(blob(m["config"]["digest"]))),
                  "manifest": m}))
]]

--- The merged tree and config of the image tagged ref in the layout
-- (or store) dir; which: the image of an index (0-based).
function M.read(dir, ref, which)
  return T.json(T.must("/usr/bin/python3 -c " .. T.q(TREE) .. " " .. T.q(dir) .. " " .. T.q(ref) .. " "
    .. tostring(which or 0)))
end

local available
--- Whether buildah can build here (nil and why when not).
function M.available()
  if available == nil then
    local code = T.sh("command -v buildah")
    if code ~= 0 then
      available = "buildah is not installed"
    else
      local d = T.tmpdir()
      T.write(d .. "/ctx/Dockerfile", "FROM scratch\nENV A=1\n")
      local c2, o, e = M.raw(d, { "build", "--isolation", "chroot", "-t", "probe", d .. "/ctx" })
      available = c2 == 0 or ("buildah cannot build here: " .. (o .. e):sub(-300))
      T.sh("rm -rf " .. T.q(d))
    end
  end
  if available == true then return true end
  return nil, available
end

--- Runs buildah with its storage in root/bh. Returns code, out, err.
function M.raw(root, args)
  local words = { "buildah", "--storage-driver", "vfs", "--root", root .. "/bh/root", "--runroot", root .. "/bh/run" }
  for _, a in ipairs(args) do words[#words + 1] = T.q(a) end
  return T.sh(table.concat(words, " "))
end

--- Builds ctx (with Dockerfile file, build args args) with buildah in
-- Docker format and pushes it into the layout root/out as tag. Returns the
-- merged tree, config and `buildah inspect` of the image.
function M.build(root, ctx, opts)
  opts = opts or {}
  local args = { "build", "--isolation", "chroot", "--format", "docker", "-t", opts.tag or "t" }
  if opts.file then table.insert(args, "-f") table.insert(args, opts.file) end
  for k, v in pairs(opts.args or {}) do
    table.insert(args, "--build-arg")
    table.insert(args, k .. "=" .. v)
  end
  if opts.target then table.insert(args, "--target") table.insert(args, opts.target) end
  args[#args + 1] = ctx
  local code, o, e = M.raw(root, args)
  assert(code == 0, "buildah build failed: " .. o .. e)
  code, o, e = M.raw(root, { "push", opts.tag or "t", "oci:" .. root .. "/out:" .. (opts.tag or "t") })
  assert(code == 0, "buildah push failed: " .. o .. e)
  local inspect
  code, o, e = M.raw(root, { "inspect", "--type", "image", opts.tag or "t" })
  assert(code == 0, "buildah inspect failed: " .. o .. e)
  inspect = T.json(o)
  local r = M.read(root .. "/out", opts.tag or "t")
  r.docker = inspect.Docker.config
  return r
end

--- The differences between two trees (maps path -> entry), as lines.
function M.diff(a, b, ignore)
  local keys, seen = {}, {}
  for k in pairs(a) do keys[#keys + 1], seen[k] = k, true end
  for k in pairs(b) do
    if not seen[k] then keys[#keys + 1] = k end
  end
  table.sort(keys)
  local out = {}
  local function show(e)
    if not e then return "absent" end
    local parts = {}
    for _, f in ipairs { "type", "mode", "uid", "gid", "target", "sha256" } do
      local v = e[f]
      if type(v) == "number" then v = f == "mode" and ("%o"):format(math.tointeger(v)) or ("%d"):format(v) end
      if v ~= nil then parts[#parts + 1] = ("%s=%s"):format(f, tostring(v):sub(1, 12)) end
    end
    return table.concat(parts, " ")
  end
  for _, k in ipairs(keys) do
    if not (ignore and ignore[k]) then
      local x, y = show(a[k]), show(b[k])
      if x ~= y then out[#out + 1] = ("%s: ocibuild %s, buildah %s"):format(k, x, y) end
    end
  end
  return out
end

return M
