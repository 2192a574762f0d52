--- Shared test support: temp folders, files, running the CLI and other
-- programs, reading tars and gzip back with independent tools.
local M = {}

M.build = os.getenv("OCIBUILD_BUILD_DIR") or "build"
if M.build:sub(1, 1) ~= "/" then M.build = (os.getenv("PWD") or ".") .. "/" .. M.build end
M.bin = M.build .. "/ocibuild"
M.root = os.getenv("PWD") or "."

--- Quotes s for /bin/sh.
function M.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Under a Sanitize build, programs the specs start do not get the ASan
-- runtime the spec process was given; ocibuild (built with it) checks
-- leaks, and the fault shim may come before ASan's runtime.
M.SANITIZE = os.getenv("OCIBUILD_SANITIZE")
local PRELUDE = M.SANITIZE and "unset LD_PRELOAD; export ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0; " or ""

--- Runs a shell command; returns exit code, stdout, stderr.
function M.sh(cmd)
  cmd = PRELUDE .. cmd
  local out, err = os.tmpname(), os.tmpname()
  local ok, how, code = os.execute(("(%s) >%s 2>%s"):format(cmd, out, err))
  local function slurp(p)
    local f = assert(io.open(p, "rb"))
    local s = f:read("a")
    f:close()
    os.remove(p)
    return s
  end
  local o, e = slurp(out), slurp(err)
  if how == "signal" then code = 128 + code end
  return ok and 0 or code, o, e
end

--- Runs a shell command that must succeed; returns its stdout.
function M.must(cmd)
  local code, o, e = M.sh(cmd)
  if code ~= 0 then error(("command failed (%d): %s\n%s%s"):format(code, cmd, o, e), 2) end
  return o
end

--- Runs ocibuild with the words given (quoted); returns code, out, err.
function M.ocibuild(...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = M.q(w) end
  return M.sh(M.q(M.bin) .. " " .. table.concat(words, " "))
end

local made = {}

-- Removes every temp folder made for the test so far.
local function cleanup()
  for i = #made, 1, -1 do
    M.sh("chmod -R u+rwx " .. M.q(made[i]) .. " 2>/dev/null; rm -rf " .. M.q(made[i]))
    made[i] = nil
  end
end

--- A fresh temp folder, removed by `finally` when given. (busted keeps only
-- the last `finally` of a test, so each call registers the removal of all.)
function M.tmpdir(finally)
  local d = M.must("mktemp -d /tmp/ocibuild-spec.XXXXXX"):gsub("%s+$", "")
  if finally then
    made[#made + 1] = d
    finally(cleanup)
  end
  return d
end

--- Registers fn to run when the test ends, and the removal of the temp
-- folders M.tmpdir made with it (busted keeps one `finally` a test: a
-- second plain `finally` would drop their removal).
function M.finally(finally, fn)
  finally(function()
    fn()
    cleanup()
  end)
end

--- Writes data to path, creating parent folders.
function M.write(path, data, mode)
  M.must("mkdir -p " .. M.q(path:match("^(.*)/[^/]*$") or "."))
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  if mode then M.must(("chmod %o %s"):format(mode, M.q(path))) end
end

--- n bytes of text lines that differ but repeat words, as logs do: each
-- line fmt:format(seed, line number, a pseudo-random number below 100003)
-- (fmt default "%d: %d %d\n"), the same for the same arguments.
function M.text(n, seed, fmt)
  local parts, len, x = {}, 0, seed
  fmt = fmt or "%d: %d %d\n"
  while len < n do
    x = (x * 1103515245 + 12345) % 2147483648
    parts[#parts + 1] = fmt:format(seed, #parts, x % 100003)
    len = len + #parts[#parts]
  end
  return table.concat(parts):sub(1, n)
end

--- A tree of n files f01, f02... of ~700 KB of distinct text each (a tar
-- of several 1 MiB blocks, so that a change in the last file leaves the
-- first blocks as they were); tag (default "v1") is in every line.
function M.text_tree(dir, n, tag)
  for f = 1, n do
    local lines = {}
    for i = 1, 28000 do
      lines[i] = ("%s file %d line %d: %d\n"):format(tag or "v1", f, i, (i * 7919 + f) % 100003)
    end
    M.write(("%s/f%02d.txt"):format(dir, f), table.concat(lines))
  end
end

--- A new store (core.store) in a temp folder of the test: store, folder.
function M.core_store(finally)
  local d = M.tmpdir(finally)
  return assert(require("ocibuild.core").store(d, { create = true })), d
end

--- data written into the core store s as a blob: its result.
function M.put_blob(s, data)
  local w = assert(s:blob_writer())
  w:write(data)
  return assert(w:close())
end

--- A podman command line (as root: vfs storage) whose storage lives under
-- dir/p, and the function that lets it go (its mounts, then dir).
function M.podman(dir)
  local cmd = ("podman --root %s --runroot %s --tmpdir %s --storage-driver vfs --events-backend none"
    .. " --cgroup-manager cgroupfs"):format(M.q(dir .. "/p/root"), M.q(dir .. "/p/run"), M.q(dir .. "/p/tmp"))
  return cmd, function()
    if M.must("id -u"):match("^0%s") then M.sh(cmd .. " image unmount --all") end
    M.sh("chmod -R u+rwx " .. M.q(dir) .. "; rm -rf " .. M.q(dir))
  end
end

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- Lists a tar file (optionally gzip/zstd compressed) with Python's tarfile,
-- an independent reader: a list of {name=, type=, mode=, uid=, gid=,
-- uname=, gname=, mtime=, size=, linkname=, sha256=, pax={...}}.
function M.tar_entries(path)
  local py = [[
import json, sys, tarfile, hashlib
out = []
with tarfile.open(sys.argv[1], "r:*") as t:
    for m in t:
        e = {"name": m.name, "type": m.type.decode(), "mode": m.mode, "uid": m.uid,
             "gid": m.gid, "uname": m.uname, "gname": m.gname, "mtime": m.mtime,
             "size": m.size, "linkname": m.linkname, "pax": m.pax_headers}
        if m.isfile():
            e["sha256"] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
        out.append(e)
print(json.dumps(out))
]]
  local json = require "cjson"
  local out = M.must("python3 -c " .. M.q(py) .. " " .. M.q(path))
  return json.decode(out)
end

--- sha256 hex of a file, by coreutils.
function M.sha256_file(path)
  return (M.must("sha256sum " .. M.q(path)):match("^(%x+)"))
end

--- Decompresses a gzip file with Python's zlib (independent of ocibuild)
-- into path .. ".tar"; returns that path.
function M.gunzip(path, dest)
  dest = dest or (path .. ".tar")
  M.must(("python3 -c 'import gzip,sys; open(sys.argv[2],\"wb\").write(gzip.open(sys.argv[1]).read())' %s %s")
    :format(M.q(path), M.q(dest)))
  return dest
end

--- Decodes a JSON file or string.
function M.json(s) return require("cjson").decode(s) end

--- The manifest, config and layer paths of the image tagged ref in store.
function M.image(store, ref)
  local index = M.json(M.read(store .. "/index.json"))
  for _, d in ipairs(index.manifests) do
    if d.annotations and d.annotations["org.opencontainers.image.ref.name"] == ref then
      local function blob(digest) return store .. "/blobs/sha256/" .. digest:sub(8) end
      local m = M.json(M.read(blob(d.digest)))
      local layers = {}
      for i, l in ipairs(m.layers) do layers[i] = blob(l.digest) end
      return { desc = d, manifest = m, config = M.json(M.read(blob(m.config.digest))), layers = layers,
        blob = blob }
    end
  end
  error("no image " .. ref .. " in " .. store, 2)
end

--- Builds the directory ctx into a layer of the store at dir (created when
-- missing) through core.layer_job, the way ocibuild does. opts: the tar
-- policy's fields (prefix, display, mtime, keep_mtime, clamp, owner,
-- mode), the codec's (kind, default "none"; level; jobs), matcher, reuse
-- (default false), skip, on_event. Returns the job's result and the blob's
-- path, or nil, msg, code.
function M.layer(ctx, dir, opts)
  local core = require "ocibuild.core"
  opts = opts or {}
  local st = assert(core.store(dir, { create = true }))
  local policy = core.tar_policy { prefix = opts.prefix, display = opts.display or ctx,
    mtime = opts.mtime, keep_mtime = opts.keep_mtime, clamp = opts.clamp, owner = opts.owner,
    mode = opts.mode }
  local codec = core.codec { kind = opts.kind or "none", level = opts.level, threads = opts.jobs }
  local job = core.layer_job { root = ctx, matcher = opts.matcher, store = st, policy = policy,
    codec = codec, reuse = opts.reuse or false, skip = opts.skip }
  local r, err, code = job:run(opts.on_event)
  if not r then return nil, err, code end
  return r, dir .. "/blobs/sha256/" .. r.digest:sub(8)
end

--- A strict fingerprint of the tree at dir: every entry's type, mode,
-- path and link target, and every regular file's sha256. The same
-- fingerprint before and after means nothing below dir was written,
-- added, removed, replaced or changed mode (temp files included).
function M.fingerprint(dir)
  return M.must(("cd %s && find . -printf '%%y %%m %%p %%l\\n' | LC_ALL=C sort && "
    .. "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum"):format(M.q(dir)))
end

--- Runs `ocibuild --store STORE build CTX ...`, which must succeed.
-- Returns what it printed: {digest=, image_id=, size=, out=, err=}.
function M.built(store, ctx, ...)
  local code, out, err = M.ocibuild("--store", store, "build", ctx, ...)
  if code ~= 0 then error(("build %s failed (%d):\n%s%s"):format(ctx, code, out, err), 2) end
  return { digest = out:match("digest:%s+(sha256:%x+)"), image_id = out:match("image id:%s+(sha256:%x+)"),
    size = tonumber(out:match("size:%s+(%d+)")), out = out, err = err }
end

--- A spec's folder: files written below it (o.files, path = content;
-- default {["ctx/a.txt"] = "a\n"}) and a store, s/, holding the folder
-- o.context (default "ctx") built as o.tag (default "a:1"). Returns the
-- folder and the store.
function M.fixture(finally, o)
  o = o or {}
  local d = M.tmpdir(finally)
  for path, data in pairs(o.files or { ["ctx/a.txt"] = "a\n" }) do M.write(d .. "/" .. path, data) end
  M.built(d .. "/s", d .. "/" .. (o.context or "ctx"), "-t", o.tag or "a:1")
  return d, d .. "/s"
end

--- Lists files under dir recursively (find), sorted: {path = type}.
function M.tree(dir)
  local out = M.must("cd " .. M.q(dir) .. " && find . -mindepth 1 -printf '%P\\t%y\\n' | LC_ALL=C sort")
  local t = {}
  for p, ty in out:gmatch("([^\t\n]+)\t(%a)\n") do t[p] = ty end
  return t
end

--- A build script's project: a temp folder holding proj/ (a context,
-- site/index.html), outside/ and the store folder; files: more, by path
-- below the folder. Returns {dir=, proj=, outside=, store=}.
function M.script_project(finally, files)
  local d = M.tmpdir(finally)
  local p = { dir = d, proj = d .. "/proj", outside = d .. "/outside", store = d .. "/store" }
  M.write(p.proj .. "/site/index.html", "<p>hi</p>\n")
  for path, data in pairs(files or {}) do M.write(d .. "/" .. path, data) end
  return p
end

--- Runs the script text as p.proj/build.lua with the words given after
-- `run FILE`; returns code, out, err.
function M.run_script(p, text, ...)
  M.write(p.proj .. "/build.lua", text)
  return M.ocibuild("--store", p.store, "run", p.proj .. "/build.lua", ...)
end

--- A store's reuse record text with its trailer made right again for what
-- it now says (a spec that forges a record's fields reseals it, as a forger
-- would): "crc <CRC-32 of everything before it>".
function M.reseal_reuse(text)
  local body, c = text:gsub("crc %x+\n$", ""), 0xffffffff
  for i = 1, #body do
    c = c ~ body:byte(i)
    for _ = 1, 8 do c = (c >> 1) ~ (0xedb88320 & -(c & 1)) end
  end
  return body .. ("crc %08x\n"):format(c ~ 0xffffffff)
end

return M
