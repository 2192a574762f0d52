local core = require "ocibuild.core"
local T = require "support"

local MiB = 1024 * 1024

-- Deterministic data: text lines with some xorshift noise between them.
local function data_of(n)
  local parts, len, x, i = {}, 0, 88172645463325252, 0
  while len < n do
    i = i + 1
    local p
    if i % 50 == 0 then
      local r = {}
      for k = 1, 512 do
        x = x ~ (x << 13)
        x = x ~ (x >> 7)
        x = x ~ (x << 17)
        r[k] = string.pack("<i8", x)
      end
      p = table.concat(r)
    else
      p = ("line %d of the zstd spec, value %d\n"):format(i, i * 31 % 977)
    end
    parts[#parts + 1] = p
    len = len + #p
  end
  return table.concat(parts):sub(1, n)
end

local function compress(data, level, threads, step)
  local c <close> = assert(core.codec { kind = "zstd", level = level, threads = threads }:compressor())
  local out = {}
  step = step or 65536
  for i = 1, #data, step do out[#out + 1] = assert(c:write(data:sub(i, i + step - 1))) end
  out[#out + 1] = assert(c:close())
  return table.concat(out)
end

local function digest(s) return (core.sha256():update(s):digest()) end

local have_zstd = T.sh("command -v zstd") == 0

describe("ocibuild.core", function()
  describe("compressor(level, 'zstd')", function()
    local function unzstd(dir, z)
      T.write(dir .. "/x.zst", z)
      T.must("zstd -q -t " .. T.q(dir .. "/x.zst"))
      T.must("zstd -q -d -f -o " .. T.q(dir .. "/x") .. " " .. T.q(dir .. "/x.zst"))
      return T.read(dir .. "/x")
    end

    it("round-trips through the zstd tool as one stream, whatever the size", function()
      if not have_zstd then return pending("zstd is not installed") end
      local dir = T.tmpdir(finally)
      local big = data_of(9 * MiB + 99)
      for _, n in ipairs { 0, 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, #big } do
        local d = big:sub(1, n)
        assert.equal(digest(d), digest(unzstd(dir, compress(d, 3, 2))), "size " .. n)
      end
    end)

    it("starts with a zstd frame and writes one frame per 4 MiB block", function()
      local z = compress(data_of(9 * MiB), 3, 2)
      assert.equal("\x28\xb5\x2f\xfd", z:sub(1, 4))
      local frames, at = 0, 1
      while true do
        at = z:find("\x28\xb5\x2f\xfd", at, true)
        if not at then break end
        frames, at = frames + 1, at + 4
      end
      assert.is_true(frames >= 3)
    end)

    it("gives the same bytes for 1, 2 and 8 threads and any cut of the writes", function()
      local d = data_of(10 * MiB + 5)
      for _, level in ipairs { 1, 3, 9 } do
        local want = digest(compress(d, level, 1))
        assert.equal(want, digest(compress(d, level, 2, 9999)))
        assert.equal(want, digest(compress(d, level, 8, 3 * MiB)))
      end
    end)

    it("gives one layer whatever the threads, the records present and the history of edits", function()
      require("core.historyfx").check(T.tmpdir(finally), "zstd", 3)
    end)

    it("builds a tar+zstd layer a tar reader takes back", function()
      if not have_zstd then return pending("zstd is not installed") end
      local dir = T.tmpdir(finally)
      local ctx, store = dir .. "/ctx", dir .. "/store"
      T.write(ctx .. "/a.txt", data_of(5 * MiB))
      T.write(ctx .. "/sub/b.bin", data_of(100))
      local r, blob = assert(T.layer(ctx, store, { kind = "zstd", level = 3, jobs = 2 }))
      T.must("zstd -q -d -c " .. T.q(blob) .. " > " .. T.q(dir .. "/layer.tar"))
      assert.equal(r.diff_id, "sha256:" .. T.sha256_file(dir .. "/layer.tar"))
      local names = {}
      for _, e in ipairs(T.tar_entries(dir .. "/layer.tar")) do names[#names + 1] = e.name end
      assert.same({ "a.txt", "sub", "sub/b.bin" }, names)
    end)
  end)
end)
