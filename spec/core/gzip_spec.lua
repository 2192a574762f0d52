local core = require "ocibuild.core"
local T = require "support"

local MiB = 1024 * 1024

-- Deterministic bytes: xorshift64 noise (incompressible), text lines
-- (compressible), runs of zeros; mixed, they give deflate stored, fixed
-- and dynamic blocks.
local function noise(n, seed)
  local x, parts = seed or 88172645463325252, {}
  for i = 1, (n + 7) // 8 do
    x = x ~ (x << 13)
    x = x ~ (x >> 7)
    x = x ~ (x << 17)
    parts[i] = string.pack("<i8", x)
  end
  return table.concat(parts):sub(1, n)
end

local function text(n, tag)
  local parts, len, i = {}, 0, 0
  while len < n do
    i = i + 1
    local l = ("%s line %d: the quick brown fox jumps over %d lazy dogs\n"):format(tag, i, i * 7 % 1000)
    parts[#parts + 1] = l
    len = len + #l
  end
  return table.concat(parts):sub(1, n)
end

local function mixed(n)
  local t = {}
  local len, k = 0, 0
  while len < n do
    k = k + 1
    local piece = k % 3 == 1 and text(300000, "p" .. k) or k % 3 == 2 and noise(200000, k) or ("\0"):rep(150000)
    t[#t + 1] = piece
    len = len + #piece
  end
  return table.concat(t):sub(1, n)
end

-- Compresses data in writes of `step` bytes.
local function compress(data, level, kind, threads, step)
  local c <close> = assert(core.codec { kind = kind, level = level, threads = threads }:compressor())
  local out = {}
  step = step or 65536
  for i = 1, #data, step do out[#out + 1] = assert(c:write(data:sub(i, i + step - 1))) end
  out[#out + 1] = assert(c:close())
  return table.concat(out)
end

local function digest(s) return (core.sha256():update(s):digest()) end

-- Decompresses with Python's zlib and reports how many gzip members there
-- were and whether anything followed the last one.
local function python_gunzip(dir, gz)
  local src, dst = dir .. "/in.gz", dir .. "/out"
  T.write(src, gz)
  local py = [[
import sys, zlib
data = open(sys.argv[1], "rb").read()
out, members = [], 0
while data:
    d = zlib.decompressobj(31)
    out.append(d.decompress(data))
    if not d.eof:
        sys.exit("truncated member")
    members += 1
    data = d.unused_data
open(sys.argv[2], "wb").write(b"".join(out))
print(members)
]]
  local members = tonumber(T.must("python3 -c " .. T.q(py) .. " " .. T.q(src) .. " " .. T.q(dst)))
  return T.read(dst), members
end

describe("ocibuild.core", function()
  describe("compressor()", function()
    it("writes a gzip header with MTIME 0, no name, OS 3 and zlib's XFL", function()
      local function header(level) return compress("abc", level, "gzip", 1):sub(1, 10) end
      assert.equal("\31\139\8\0\0\0\0\0\0\3", header(6))
      assert.equal("\31\139\8\0\0\0\0\0\4\3", header(1))
      assert.equal("\31\139\8\0\0\0\0\0\2\3", header(9))
    end)

    it("round-trips through Python's zlib as one member, whatever the size", function()
      local dir = T.tmpdir(finally)
      local big = mixed(3 * MiB + 12345)
      for _, n in ipairs { 0, 1, 100, MiB - 1, MiB, MiB + 1, 2 * MiB, #big } do
        local data = big:sub(1, n)
        local out, members = python_gunzip(dir, compress(data, 6, "gzip", 2))
        assert.equal(1, members, "size " .. n)
        assert.equal(digest(data), digest(out), "size " .. n)
      end
    end)

    it("round-trips every level through gzip -dc, incompressible data included", function()
      local dir = T.tmpdir(finally)
      local data = mixed(2 * MiB + 777) .. noise(MiB + 5, 7)
      for level = 1, 9 do
        T.write(dir .. "/x.gz", compress(data, level, "gzip", 2))
        T.must("gzip -t " .. T.q(dir .. "/x.gz"))
        assert.equal(digest(data), "sha256:" .. T.must("gzip -dc " .. T.q(dir .. "/x.gz")
          .. " | sha256sum"):match("^(%x+)"))
      end
    end)

    it("gives the same bytes for 1, 2 and 8 threads and any cut of the writes", function()
      local data = mixed(5 * MiB + 3)
      for _, level in ipairs { 1, 6, 9 } do
        local want = digest(compress(data, level, "gzip", 1))
        assert.equal(want, digest(compress(data, level, "gzip", 2, 4097)))
        assert.equal(want, digest(compress(data, level, "gzip", 8, 3 * MiB)))
      end
      local small = data:sub(1, MiB + 333)
      assert.equal(digest(compress(small, 6, "gzip", 1)), digest(compress(small, 6, "gzip", 8, 7)))
    end)

    it("compresses like gzip -6 does, within 1%", function()
      local dir = T.tmpdir(finally)
      local data = mixed(4 * MiB)
      T.write(dir .. "/x", data)
      local gz = tonumber(T.must("gzip -6 -n -c " .. T.q(dir .. "/x") .. " | wc -c"))
      assert.is_true(#compress(data, 6, "gzip", 2) <= gz * 1.01)
    end)

    it("keeps its output for a pinned input (a libdeflate or format change shows here)", function()
      local data = mixed(3 * MiB)
      local gz = compress(data, 6, "gzip", 2)
      assert.equal(1117746, #gz)
      assert.equal("sha256:b93fc51ce49048084811a29a72a0e2fe06674e6fe4238153d0bec78981ba2fc1", digest(gz))
    end)

    it("gives one layer whatever the threads, the records present and the history of edits", function()
      require("core.historyfx").check(T.tmpdir(finally), "gzip", 6)
    end)

    it("passes bytes through with 'none'", function()
      local data = mixed(MiB + 10)
      assert.equal(data, compress(data, 6, "none", 2))
      assert.equal("", compress("", 6, "none", 1))
    end)

    it("names the settings output bytes depend on", function()
      local function key(kind, level) return core.codec { kind = kind, level = level }:key() end
      assert.matches("^gzip%-6%-libdeflate[%d.]+%-b1024k%-f%d+$", key("gzip", 6))
      assert.matches("^zstd%-3%-zstd[%d.]+%-b4096k%-f%d+$", key("zstd", 3))
      assert.not_equal(key("gzip", 5), key("gzip", 6))
      assert.equal(key("gzip", 6), core.codec { kind = "gzip", level = 6, threads = 8 }:key())
    end)

    it("raises on a bad kind, level or thread count, and once closed", function()
      assert.has_error(function() core.codec { kind = "bzip2" } end,
        "option kind: expected 'gzip', 'zstd' or 'none', got 'bzip2'")
      assert.has_error(function() core.codec { level = 0 } end, "EINVAL: gzip level must be from 1 to 9, got 0")
      assert.has_error(function() core.codec { level = 10 } end)
      assert.has_error(function() core.codec { kind = "zstd", level = 20 } end)
      assert.has_error(function() core.codec { threads = 0 } end)
      assert.has_error(function() core.codec { levle = 5 } end, "unknown option levle")
      local c = core.codec { level = 6 }:compressor()
      c:close()
      assert.has_error(function() c:write("x") end)
      assert.has_error(function() c:close() end)
    end)
  end)
end)
