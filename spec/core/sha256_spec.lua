local core = require "ocibuild.core"

describe("ocibuild.core", function()
  describe("sha256()", function()
    local function hex(s) return (core.sha256():update(s):digest()) end

    it("gives the FIPS 180-2 test vectors in OCI digest form", function()
      assert.equal("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex(""))
      assert.equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex("abc"))
      assert.equal("sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
    end)

    it("hashes a stream fed in pieces like the whole, and counts its bytes", function()
      local data = ("0123456789abcdef"):rep(70000) -- 1.1 MB
      local h = core.sha256()
      for i = 1, #data, 4099 do h:update(data:sub(i, i + 4098)) end
      local d, n = h:digest()
      assert.equal(hex(data), d)
      assert.equal(#data, n)
      local T = require "support"
      local dir = T.tmpdir(finally)
      T.write(dir .. "/data", data)
      assert.equal("sha256:" .. T.sha256_file(dir .. "/data"), d)
    end)

    it("refuses to be used after digest()", function()
      local h = core.sha256()
      h:digest()
      assert.has_error(function() h:update("x") end)
    end)
  end)
end)
