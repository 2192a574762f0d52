--- Source trees for the interop specs, and their comparison with what a
-- consumer unpacked. Trees are read back by Python (independent of
-- ocibuild) into {relpath = {type=, mode=, size=, sha256=, target=, ino=}}.
local T = require "support"
local assert = require "luassert"
local cjson = require "cjson"

local M = {}

local SNAPSHOT = [[
import hashlib, json, os, stat, sys
root = sys.argv[1]
out = {}
for dirpath, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(dirpath, n)
        st = os.lstat(p)
        m = st.st_mode
        e = {"mode": stat.S_IMODE(m), "ino": st.st_ino}
        if stat.S_ISDIR(m):
            e["type"] = "dir"
        elif stat.S_ISREG(m):
            e["type"], e["size"] = "file", st.st_size
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            e["sha256"] = h.hexdigest()
        elif stat.S_ISLNK(m):
            e["type"], e["target"] = "symlink", os.readlink(p)
        elif stat.S_ISFIFO(m):
            e["type"] = "fifo"
        elif stat.S_ISSOCK(m):
            e["type"] = "socket"
        else:
            e["type"] = "other"
        out[os.path.relpath(p, root)] = e
print(json.dumps(out))
]]

--- The snapshot of the tree under dir.
function M.snapshot(dir)
  return cjson.decode(T.must("python3 -c " .. T.q(SNAPSHOT) .. " " .. T.q(dir)))
end

--- The sorted keys of t.
function M.keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return list
end

M.LONG_DIR = ("forty-characters-in-this-directory-name/"):rep(7) -- 280 bytes
M.LONG_NAME = ("n"):rep(150) .. ".txt"                        -- one name over 100 bytes

--- What the .dockerignore of M.make leaves out (the socket is skipped).
M.EXCLUDED = { ["secret.txt"] = true, logs = true, ["logs/today.log"] = true, sock = true }

--- Fills ctx with every kind of entry a layer holds: modes, an empty and
-- private directories, symlinks (relative, absolute, dangling, looping),
-- a hardlink pair, long and non-ASCII names, a 0-byte file, a FIFO, a
-- socket, files excluded by .dockerignore, and (unless small) a 20 MB file.
function M.make(ctx, small)
  T.write(ctx .. "/a.txt", "hello\n")
  T.write(ctx .. "/run.sh", "#!/bin/sh\necho hi\n", tonumber("755", 8))
  T.write(ctx .. "/private.key", "k\n", tonumber("600", 8))
  T.write(ctx .. "/readonly.txt", "r\n", tonumber("444", 8))
  T.write(ctx .. "/zero", "")
  T.write(ctx .. "/café.txt", "crème\n")
  T.write(ctx .. "/日本/語.txt", "日本語\n")
  T.write(ctx .. "/" .. M.LONG_DIR .. "deep.txt", "deep\n")
  T.write(ctx .. "/" .. M.LONG_NAME, "long\n")
  T.write(ctx .. "/hard1", "linked\n")
  T.write(ctx .. "/secret.txt", "password\n")
  T.write(ctx .. "/logs/today.log", "log\n")
  T.write(ctx .. "/sub/keep.txt", "keep\n")
  T.write(ctx .. "/.dockerignore", "# left out of the image\nsecret.txt\nlogs/\n")
  T.must(("cd %s && mkdir empty && mkdir -m 700 private && mkdir -m 750 group && ln hard1 hard2"
    .. " && ln -s a.txt links-rel && ln -s ../a.txt sub/up && ln -s /etc/passwd links-abs"
    .. " && ln -s nowhere links-dangling && ln -s loop2 loop1 && ln -s loop1 loop2 && mkfifo -m 640 fifo")
    :format(T.q(ctx)))
  if not small then
    T.must(("python3 -c 'import random, sys; open(sys.argv[1], \"wb\").write(random.Random(7).randbytes(20 << 20))' %s")
      :format(T.q(ctx .. "/big.bin")))
  end
  T.must(("python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' %s")
    :format(T.q(ctx .. "/sock")))
end

--- Asserts that the tree at root equals the snapshot src minus the
-- excluded paths: names, types, permission bits (but of symlinks), sizes,
-- contents and symlink targets. Returns the snapshot of root.
function M.assert_same(src, root)
  local want = {}
  for p, e in pairs(src) do
    if not M.EXCLUDED[p] then want[p] = e end
  end
  local got = M.snapshot(root)
  assert.same(M.keys(want), M.keys(got))
  for p, w in pairs(want) do
    local g = got[p]
    assert.equal(w.type, g.type, p)
    if w.type ~= "symlink" then assert.equal(w.mode, g.mode, p) end
    if w.type == "file" then
      assert.equal(w.size, g.size, p)
      assert.equal(w.sha256, g.sha256, p)
    end
    if w.type == "symlink" then assert.equal(w.target, g.target, p) end
  end
  for p in pairs(M.EXCLUDED) do assert.is_nil(got[p], p) end
  if got.hard1 then assert.equal(got.hard1.ino, got.hard2.ino) end
  return got
end

return M
