-- TarReader:unpack: a tar's entries into a folder, bounded, with their
-- permission bits and mtimes (read-only folders set last), names checked
-- (the CLI's `build -` spec covers the hostile names end to end).
local core = require "ocibuild.core"
local T = require "support"

local function tar_of(d)
  T.write(d .. "/src/ro/f.txt", "in a read-only folder\n", tonumber("640", 8))
  T.write(d .. "/src/big.bin", ("x"):rep(5000))
  T.must(("ln %s %s"):format(T.q(d .. "/src/big.bin"), T.q(d .. "/src/hard.bin")))
  T.must(("chmod 0555 %s && touch -d '2020-01-02 03:04:05' %s %s"):format(T.q(d .. "/src/ro"), T.q(d .. "/src/ro"),
    T.q(d .. "/src/big.bin")))
  T.must(("tar -C %s -cf %s ."):format(T.q(d .. "/src"), T.q(d .. "/t.tar")))
  return d .. "/t.tar"
end

describe("ocibuild.core TarReader:unpack", function()
  it("writes entries with their bits and mtimes, hardlinks as links, and counts them", function()
    local d = T.tmpdir(finally)
    local tar = tar_of(d)
    T.must("mkdir " .. T.q(d .. "/out"))
    local r = assert(core.tar_reader(tar))
    local got = assert(r:unpack(d .. "/out"))
    r:close()
    assert.same({ 5, 5000 + 22 }, { got.entries, got.bytes })
    local ro = assert(core.stat(d .. "/out/ro"))
    assert.equal(tonumber("555", 8), ro.mode & tonumber("7777", 8))
    assert.equal(T.must("stat -c %Y " .. T.q(d .. "/src/ro")), T.must("stat -c %Y " .. T.q(d .. "/out/ro")))
    assert.equal("in a read-only folder\n", T.read(d .. "/out/ro/f.txt"))
    assert.equal(T.must("stat -c %i " .. T.q(d .. "/out/big.bin")), T.must("stat -c %i " .. T.q(d .. "/out/hard.bin")))
  end)

  it("stops past its bounds of entries and bytes", function()
    local d = T.tmpdir(finally)
    local tar = tar_of(d)
    for i, lim in ipairs { { max_entries = 3 }, { max_bytes = 4999 } } do
      local out = ("%s/out%d"):format(d, i)
      T.must("mkdir " .. T.q(out))
      local r = assert(core.tar_reader(tar))
      local ok, err, code = r:unpack(out, lim)
      r:close()
      assert.same({ nil, "BADTAR" }, { ok, code })
      assert.matches(lim.max_entries and "holds more entries than allowed" or "unpacks to more bytes than allowed", err)
    end
  end)
end)
