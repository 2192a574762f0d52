-- Where `-o` may write (issue 8 #2): never a store's own files or anything
-- inside an image layout, never a device, a FIFO or a symlink; the store
-- stays byte-identical whatever was asked. And what a killed `-o` build
-- leaves (#3): SIGINT and SIGTERM remove its temp files; after SIGKILL the
-- next write into the folder removes them.
local T = require "support"

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil

local function fixture(finally)
  local d, s = T.fixture(finally)
  T.must("mkdir " .. T.q(d .. "/out"))
  return d, s
end

local function refused(d, s, out, ...)
  local before = T.fingerprint(s)
  local code, o, err = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "b:1", "-o", out)
  assert.equal(1, code, o .. err)
  assert.matches("^ocibuild: output [^\n]+\n$", err)
  for _, want in ipairs { out, ... } do assert.is_truthy(err:find(want, 1, true), err) end
  assert.equal(before, T.fingerprint(s))
  return err
end

describe("ocibuild build -o", function()
  it("refuses every file of a store, and any path inside an image layout", function()
    local d, s = fixture(finally)
    local blob = T.image(s, "a:1").desc.digest:sub(8)
    for _, out in ipairs { s .. "/index.json", s .. "/oci-layout", s .. "/blobs/sha256/" .. blob,
      s .. "/.ocibuild.lock", s .. "/.ocibuild-gc.lock", s .. "/new.tar", s .. "/blobs/new.tar" } do
      refused(d, s, out, "inside the image layout " .. s)
    end
    -- another layout than the store, reached through a symlinked folder
    T.must(("mkdir %s && cp %s %s && ln -s %s %s"):format(T.q(d .. "/other"), T.q(s .. "/oci-layout"),
      T.q(d .. "/other/"), T.q(d .. "/other"), T.q(d .. "/via")))
    refused(d, s, d .. "/via/x.tar", "inside the image layout " .. d .. "/other")
  end)

  it("refuses an output inside a store the same build creates", function()
    local d = fixture(finally)
    local code, out, err = T.ocibuild("--store", d .. "/new", "build", d .. "/ctx", "-t", "b:1", "-o",
      d .. "/new/b.tar")
    assert.equal(1, code, out .. err)
    assert.matches("inside the image layout", err)
    assert.is_false(T.exists(d .. "/new/b.tar"))
  end)

  it("refuses, before any work, an output or result file no new file can be made beside; tags stay", function()
    local d, s = fixture(finally)
    T.write(d .. "/ctx/a.txt", "changed\n") -- a build that would move a:1
    local before = T.fingerprint(s)
    for _, args in ipairs {
      { "-o", d .. "/none/x.tar" }, { "--iidfile", d .. "/none/id" }, { "--digestfile", d .. "/none/d" },
      { "--metadata-file", d .. "/none/m.json" }, { "--iidfile", "/proc/version" },
    } do
      local code, o, err = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "a:1", args[1], args[2])
      assert.same({ 1, "" }, { code, o })
      assert.matches("cannot be written: ", err)
      assert.equal(1, select(2, err:gsub("\n", "")), err)
      assert.equal(before, T.fingerprint(s), args[1])
    end
    -- a script's save{archive=} alike
    T.write(d .. "/build.lua", ('local img = oci.image {}\nimg:layer { context = "ctx" }\n'
      .. 'return img:save { tag = "a:1", archive = %q }\n'):format(d .. "/none/x.tar"))
    local code, _, err = T.ocibuild("--store", s, "run", d .. "/build.lua")
    assert.equal(1, code, err)
    assert.matches("cannot be written: ", err)
    assert.equal(before, T.fingerprint(s))
  end)

  it("refuses a symlink, a FIFO and a device, leaving each as it was", function()
    local d, s = fixture(finally)
    T.must(("ln -s %s %s && mkfifo %s"):format(T.q(d .. "/out/target"), T.q(d .. "/out/link"), T.q(d .. "/out/fifo")))
    refused(d, s, d .. "/out/link", "is a symlink")
    assert.equal(d .. "/out/target", T.must("readlink " .. T.q(d .. "/out/link")):gsub("\n$", ""))
    assert.is_false(T.exists(d .. "/out/target"))
    refused(d, s, d .. "/out/fifo", "is a fifo")
    assert.equal("fifo\n", T.must("stat -c %F " .. T.q(d .. "/out/fifo")))
    if IS_ROOT then
      local dev = T.must("stat -c '%F %t:%T' /dev/full")
      refused(d, s, "/dev/full", "is a chardev")
      assert.equal(dev, T.must("stat -c '%F %t:%T' /dev/full"))
    end
    assert.equal("fifo\nlink\n", T.must("ls " .. T.q(d .. "/out")))
  end)

  it("replaces a regular file, and writes a new one", function()
    local d, s = fixture(finally)
    T.write(d .. "/out/old.tar", "old")
    for _, out in ipairs { d .. "/out/old.tar", d .. "/out/new.tar" } do
      local code, o, err = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "b:1", "-o", out)
      assert.equal(0, code, o .. err)
      T.must("tar -tf " .. T.q(out) .. " index.json")
    end
  end)
end)

describe("a killed ocibuild build -o", function()
  -- Starts a build of a 200 MB context into an archive, waits until the
  -- archive's temp file exists beside it, then sends sig.
  local function kill_during_archive(d, s, sig)
    local code, out, err = T.sh(([[
      env --default-signal=INT %s --store %s build %s -t big:1 --compression none -o %s/big.tar >/dev/null &
      pid=$!
      i=0
      while ! ls %s/.ocibuild-tmp-* >/dev/null 2>&1; do
        i=$((i+1)); [ $i -gt 600 ] && { echo "no temp file appeared" >&2; kill -9 $pid; exit 99; }
        sleep 0.05
      done
      kill -%s $pid; wait $pid]]):format(T.q(T.bin), T.q(s), T.q(d .. "/big"), T.q(d .. "/out"), T.q(d .. "/out"), sig))
    assert.not_equal(99, code, err)
    return code, out, err
  end

  local function big_fixture(finally)
    local d, s = fixture(finally)
    T.must(("mkdir %s && head -c 200000000 /dev/urandom > %s"):format(T.q(d .. "/big"), T.q(d .. "/big/data")))
    return d, s
  end

  it("removes its temp files on SIGINT and SIGTERM", function()
    local d, s = big_fixture(finally)
    for _, sig in ipairs { "INT", "TERM" } do
      local code = kill_during_archive(d, s, sig)
      assert.equal(sig == "INT" and 130 or 143, code)
      assert.equal("", T.must("ls -A " .. T.q(d .. "/out")))
      assert.equal("", T.must("ls -A " .. T.q(s .. "/.ocibuild-tmp")))
    end
  end)

  it("removes the store's temp file when killed while writing a layer", function()
    local d, s = big_fixture(finally)
    local code, _, err = T.sh(([[
      %s --store %s build %s -t big:1 --compression gzip --level 9 >/dev/null &
      pid=$!
      i=0
      while [ -z "$(ls -A %s/.ocibuild-tmp)" ]; do
        i=$((i+1)); [ $i -gt 600 ] && { kill -9 $pid; exit 99; }
        sleep 0.05
      done
      kill -TERM $pid; wait $pid]]):format(T.q(T.bin), T.q(s), T.q(d .. "/big"), T.q(s)))
    assert.equal(143, code, err)
    assert.equal("", T.must("ls -A " .. T.q(s .. "/.ocibuild-tmp")))
  end)

  it("leaves its temp file on SIGKILL, which the next write into the folder removes", function()
    local d, s = big_fixture(finally)
    local code = kill_during_archive(d, s, "KILL")
    assert.equal(137, code)
    local left = T.must("ls -A " .. T.q(d .. "/out"))
    assert.matches("^%.ocibuild%-tmp%-%w+\n$", left)
    local c2, o2, e2 = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "a:2", "-o", d .. "/out/small.tar")
    assert.equal(0, c2, o2 .. e2)
    assert.equal("small.tar\n", T.must("ls -A " .. T.q(d .. "/out")))
  end)
end)
