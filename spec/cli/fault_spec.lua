-- Faults in the middle of a build: a full disk in the middle of a layer,
-- of the manifest and of index.json, a read-only store, a read error on a
-- context file, a file removed from the context while it is walked, and a
-- failing fsync or rename. Each must end in one clear line (exit 1) and a
-- store byte-identical to what it was. Faults come from build/lib/fault.so
-- (fault/shim.c, preloaded), and from a tiny tmpfs where mount works.
local T = require "support"

local SHIM = T.build .. "/lib/fault.so"

-- A store holding one image built with the same settings, and a context
-- of 3 MB of random bytes (a layer of several blocks).
local function fixture(finally)
  local d, s = T.fixture(finally, { files = { ["seed/a"] = "seed\n" }, context = "seed", tag = "seed:1" })
  T.must(("mkdir %s && head -c 3000000 /dev/urandom > %s && echo small > %s"):format(T.q(d .. "/ctx"),
    T.q(d .. "/ctx/big"), T.q(d .. "/ctx/small")))
  return d, s
end

-- Builds ctx into s with the fault `env`; returns stderr after checking
-- exit 1, one line holding each of `want`, and the store unchanged.
local function faulty_build(d, s, env, want, store_arg)
  local before = T.fingerprint(s)
  local vars = { "LD_PRELOAD=" .. T.q(SHIM) }
  for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. T.q(v) end
  table.sort(vars)
  local code, out, err = T.sh(("env %s %s --store %s build %s -t new:1"):format(table.concat(vars, " "), T.q(T.bin),
    T.q(store_arg or s), T.q(d .. "/ctx")))
  assert.equal(1, code, out .. err)
  assert.equal("", out)
  assert.matches("^ocibuild: [^\n]+\n$", err)
  for _, w in ipairs(want) do assert.is_truthy(err:find(w, 1, true), ("%q not in %q"):format(w, err)) end
  assert.equal(before, T.fingerprint(s))
  -- and the same build without the fault works
  local c2, o2, e2 = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "check:1")
  assert.equal(0, c2, o2 .. e2)
  T.must("rm -rf " .. T.q(s) .. " && cp -a " .. T.q(d .. "/s.orig") .. " " .. T.q(s))
  return err
end

local function with_copy(d, s)
  T.must(("cp -a %s %s"):format(T.q(s), T.q(d .. "/s.orig")))
end

describe("a build hitting a fault", function()
  it("leaves the store as it was on a full disk in the middle of the layer", function()
    local d, s = fixture(finally)
    with_copy(d, s)
    faulty_build(d, s, { OCB_FAULT_OP = "write", OCB_FAULT_PATH = "/.ocibuild-tmp/blob-", OCB_FAULT_AFTER = "1000000",
      OCB_FAULT_ERRNO = "ENOSPC" }, { "ENOSPC: No space left on device", s .. "/.ocibuild-tmp/blob-" })
  end)

  it("leaves the store as it was on a full disk in the middle of the manifest", function()
    local d, s = fixture(finally)
    with_copy(d, s)
    faulty_build(d, s, { OCB_FAULT_OP = "write", OCB_FAULT_PATH = "/.ocibuild-tmp/blob-", OCB_FAULT_DATA = '"layers":',
      OCB_FAULT_AFTER = "100", OCB_FAULT_ERRNO = "ENOSPC" }, { "ENOSPC", s .. "/.ocibuild-tmp/blob-" })
  end)

  it("leaves the store as it was on a full disk in the middle of index.json", function()
    local d, s = fixture(finally)
    with_copy(d, s)
    faulty_build(d, s, { OCB_FAULT_OP = "write", OCB_FAULT_PATH = "/.ocibuild-tmp/file-", OCB_FAULT_AFTER = "50",
      OCB_FAULT_ERRNO = "ENOSPC" }, { "ENOSPC", s .. "/.ocibuild-tmp/file-" })
  end)

  it("leaves the store as it was when fsync or the rename of index.json fails", function()
    local d, s = fixture(finally)
    with_copy(d, s)
    faulty_build(d, s, { OCB_FAULT_OP = "fsync", OCB_FAULT_PATH = "/.ocibuild-tmp/blob-", OCB_FAULT_ERRNO = "EIO" },
      { "EIO: Input/output error" })
    faulty_build(d, s, { OCB_FAULT_OP = "fsync", OCB_FAULT_PATH = "/.ocibuild-tmp/blob-", OCB_FAULT_AFTER = "1",
      OCB_FAULT_ERRNO = "EIO" }, { "EIO: Input/output error" })
    faulty_build(d, s, { OCB_FAULT_OP = "rename", OCB_FAULT_PATH = "/index.json", OCB_FAULT_ERRNO = "EIO" },
      { "EIO", s .. "/index.json" })
  end)

  it("leaves a read-only store as it was", function()
    local d, s = fixture(finally)
    with_copy(d, s)
    faulty_build(d, s, { OCB_FAULT_OP = "mkostemp", OCB_FAULT_PATH = "/.ocibuild-tmp/", OCB_FAULT_ERRNO = "EROFS" },
      { "EROFS: Read-only file system", s .. "/.ocibuild-tmp" })
  end)

  it("names the context file whose read fails, and leaves the store as it was", function()
    local d, s = fixture(finally)
    with_copy(d, s)
    faulty_build(d, s, { OCB_FAULT_OP = "read", OCB_FAULT_PATH = "/ctx/big", OCB_FAULT_AFTER = "1000000",
      OCB_FAULT_ERRNO = "EIO" }, { "EIO: Input/output error: " .. d .. "/ctx/big" })
  end)

  it("fails when a context file disappears while the context is walked", function()
    local d, s = fixture(finally)
    with_copy(d, s)
    faulty_build(d, s, { OCB_FAULT_OP = "fstatat", OCB_FAULT_PATH = "small" },
      { "CHANGED: file removed while the context was read: " .. d .. "/ctx/small" })
    -- gone for good: the next build simply has no such file
    assert.is_false(T.exists(d .. "/ctx/small"))
  end)

  it("leaves out a file that disappears while walked when the patterns exclude it", function()
    local d, s = fixture(finally)
    T.write(d .. "/ctx/.dockerignore", "small\n")
    local code, out,
      err = T.sh(("env LD_PRELOAD=%s OCB_FAULT_OP=fstatat OCB_FAULT_PATH=small %s --store %s build %s -t new:1")
      :format(T.q(SHIM), T.q(T.bin), T.q(s), T.q(d .. "/ctx")))
    assert.equal(0, code, out .. err)
    assert.equal("", err)
  end)

  it("leaves the store as it was when a tiny file system fills up", function()
    local d = T.tmpdir(finally)
    if T.must("id -u"):match("%d+") ~= "0" then return pending("needs root to mount a tmpfs") end
    local mnt = d .. "/mnt"
    T.must("mkdir " .. T.q(mnt))
    if T.sh(("mount -t tmpfs -o size=2m tmpfs %s"):format(T.q(mnt))) ~= 0 then
      return pending("mount does not work here")
    end
    T.finally(finally, function() T.sh("umount " .. T.q(mnt) .. "; rm -rf " .. T.q(d)) end)
    local s = mnt .. "/s"
    T.write(d .. "/seed/a", "seed\n")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/seed", "-t", "seed:1")))
    -- a layer that does not fit, then one that fits but leaves no room for the rest
    T.must(("mkdir %s && head -c 3000000 /dev/urandom > %s"):format(T.q(d .. "/ctx"), T.q(d .. "/ctx/big")))
    local before = T.fingerprint(s)
    local code, out, err = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "new:1")
    assert.equal(1, code, out .. err)
    assert.matches("^ocibuild: ENOSPC: No space left on device: [^\n]+\n$", err)
    assert.equal(before, T.fingerprint(s))
    local free = tonumber(T.must("df -B1 --output=avail " .. T.q(mnt) .. " | tail -1"))
    T.must(("rm %s && head -c %d /dev/urandom > %s"):format(T.q(d .. "/ctx/big"), free - 2048, T.q(d .. "/ctx/big")))
    code, out, err = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "new:1", "--compression", "none")
    assert.equal(1, code, out .. err)
    -- (a warning may come first: the reuse record did not fit either)
    assert.matches("\nocibuild: ENOSPC: No space left on device: [^\n]+\n$", "\n" .. err)
    assert.equal(before, T.fingerprint(s))
  end)
end)
