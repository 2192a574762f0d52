-- The signing primitives against OpenSSL's own command line (an
-- independent reader and signer): keys made here read by `openssl pkey`,
-- keys made by openssl read here, signatures made here checked by
-- `openssl dgst -verify` and the other way round; base64 against
-- Python's; key files and raw inflate.
local T = require "support"
local core = require "ocibuild.core"

local function sh_ok(cmd) return T.sh(cmd) == 0 end

describe("ocibuild.core", function()
  describe("key_generate() and key:*_pem()", function()
    it("writes a PKCS#8 key and an SPKI public key openssl reads as P-256", function()
      local d = T.tmpdir(finally)
      local k = assert(core.key_generate())
      assert.is_true(k:private())
      local pem = assert(k:private_pem())
      assert.truthy(pem:match("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n"))
      T.write(d .. "/k.pem", pem)
      T.write(d .. "/k.pub", assert(k:public_pem()))
      assert.truthy(T.must("openssl pkey -in " .. T.q(d .. "/k.pem") .. " -noout -text"):find("NIST CURVE: P-256", 1,
        true))
      -- openssl derives the same public key from the private one
      assert.equal(T.read(d .. "/k.pub"), T.must("openssl pkey -in " .. T.q(d .. "/k.pem") .. " -pubout"))
      assert.truthy(T.read(d .. "/k.pub"):match("^%-%-%-%-%-BEGIN PUBLIC KEY%-%-%-%-%-\n"))
    end)

    it("encrypts the private key with a passphrase, which openssl needs to read it", function()
      local d = T.tmpdir(finally)
      local k = assert(core.key_generate())
      local pem = assert(k:private_pem("correct horse"))
      assert.truthy(pem:match("^%-%-%-%-%-BEGIN ENCRYPTED PRIVATE KEY%-%-%-%-%-\n"))
      assert.is_nil(pem:find(assert(k:private_pem()):match("\n(.-)\n"), 1, true))
      T.write(d .. "/k.pem", pem)
      local out = T.must("openssl pkey -in " .. T.q(d .. "/k.pem") .. " -passin pass:'correct horse' -pubout")
      assert.equal(k:public_pem(), out)
      assert.is_false(sh_ok("openssl pkey -in " .. T.q(d .. "/k.pem") .. " -passin pass:wrong -noout"))
      -- scrypt, as `openssl pkcs8 -scrypt` makes it
      local asn1 = T.must("openssl asn1parse -in " .. T.q(d .. "/k.pem"))
      assert.truthy(asn1:find(":PBES2", 1, true) and asn1:find(":scrypt", 1, true) and asn1:find(":aes-256-cbc", 1,
        true), asn1)
    end)
  end)

  describe("key_load()", function()
    local d, k
    setup(function()
      d = T.tmpdir()
      T.must(("cd %s && openssl ecparam -name prime256v1 -genkey -noout -out sec1.pem"
        .. " && openssl pkcs8 -topk8 -nocrypt -in sec1.pem -out p8.pem"
        .. " && openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw -in sec1.pem -out p8enc.pem"
        .. " && openssl ec -in sec1.pem -aes256 -passout pass:pw -out sec1enc.pem 2>/dev/null"
        .. " && openssl ec -in sec1.pem -pubout -out pub.pem 2>/dev/null"
        .. " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null"
        .. " && openssl ecparam -name secp384r1 -genkey -noout -out p384.pem"
        .. " && openssl genpkey -algorithm ed25519 -out ed.pem"
        .. " && openssl req -x509 -key sec1.pem -subj /CN=x -days 1 -out cert.pem"):format(T.q(d)))
      k = assert(core.key_load(T.read(d .. "/p8.pem"), { name = "p8.pem" }))
    end)
    teardown(function() T.sh("rm -rf " .. T.q(d)) end)

    it("reads PKCS#8, encrypted PKCS#8 and SEC 1 keys (encrypted or not) as the same key", function()
      local id = k:id()
      assert.truthy(id:match("^sha256:%x+$"))
      assert.equal(id, assert(core.key_load(T.read(d .. "/sec1.pem"))):id())
      assert.equal(id, assert(core.key_load(T.read(d .. "/p8enc.pem"), { password = "pw" })):id())
      assert.equal(id, assert(core.key_load(T.read(d .. "/sec1enc.pem"), { password = "pw" })):id())
      local pub = assert(core.key_load(T.read(d .. "/pub.pem"), { public = true }))
      assert.equal(id, pub:id())
      assert.is_false(pub:private())
      -- the id is the SHA-256 of the DER SubjectPublicKeyInfo
      local der = T.must("openssl pkey -pubin -in " .. T.q(d .. "/pub.pem") .. " -outform DER | sha256sum")
      assert.equal("sha256:" .. der:match("^%x+"), id)
    end)

    it("says in one line what is wrong with a key file", function()
      local function fails(file, opts, code, msg)
        local text = file:find("\n", 1, true) and file or T.read(d .. "/" .. file)
        local v, m, c = core.key_load(text, opts)
        assert.is_nil(v)
        assert.equal(code, c)
        assert.equal(msg, m)
      end
      fails("p8enc.pem", { name = "a.key" }, "NEEDPASS", "NEEDPASS: a.key is encrypted and no passphrase was given")
      fails("p8enc.pem", { name = "a.key", password = "nope" }, "BADPASS", "BADPASS: wrong passphrase for a.key")
      fails("sec1enc.pem", { name = "b.key" }, "NEEDPASS", "NEEDPASS: b.key is encrypted and no passphrase was given")
      fails("sec1enc.pem", { name = "b.key", password = "nope" }, "BADPASS", "BADPASS: wrong passphrase for b.key")
      fails("rsa.pem", { name = "r.key" }, "KEYTYPE", "KEYTYPE: r.key is a RSA key (2048 bits), not ECDSA P-256")
      fails("p384.pem", { name = "e.key" }, "KEYTYPE", "KEYTYPE: e.key is an ECDSA key on curve secp384r1, not P-256")
      fails("ed.pem", { name = "ed.key" }, "KEYTYPE", "KEYTYPE: ed.key is a ED25519 key (256 bits), not ECDSA P-256")
      fails("pub.pem", { name = "c.key" }, "BADKEY", "BADKEY: c.key holds a public key; signing needs the private key")
      fails("p8.pem", { name = "c.pub", public = true }, "BADKEY",
        "BADKEY: c.pub holds a private key; verifying takes the public key")
      fails("cert.pem", { name = "c.pem" }, "BADKEY", "BADKEY: c.pem holds a CERTIFICATE, not a private key")
      fails("hello\n", { name = "x" }, "BADPEM", "BADPEM: x is not a PEM file (no -----BEGIN line)")
      local pem = T.read(d .. "/p8.pem")
      fails(pem:gsub("\n(....)", "\n!%1", 1), { name = "x" }, "BADPEM", "BADPEM: x holds a damaged PEM block")
      -- valid base64, damaged DER inside
      local body = core.base64_decode((pem:match("KEY%-%-%-%-%-\n(.-)\n%-%-%-%-%-END"):gsub("\n", "")))
      local cut = "-----BEGIN PRIVATE KEY-----\n" .. core.base64_encode(body:sub(1, 40))
        .. "\n-----END PRIVATE KEY-----\n"
      local v, m, c = core.key_load(cut, { name = "x" })
      assert.is_nil(v)
      assert.equal("BADKEY", c)
      assert.truthy(m:match("^BADKEY: x holds damaged key data %(.+%)$"), m)
      fails("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJ9\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        { name = "cosign.key" }, "NOTSUP", "NOTSUP: cosign.key is in cosign's own encrypted format (ENCRYPTED "
        .. "SIGSTORE PRIVATE KEY), which ocibuild does not read: use a PKCS#8 key (ocibuild keygen, or openssl" ..
        " genpkey)")
    end)

    it("raises on misuse", function()
      assert.has_error(function() core.key_load("x", { passwd = "x" }) end)
      assert.has_error(function() core.key_load("x", { password = "a\0b" }) end)
      local pub = assert(core.key_load(T.read(d .. "/pub.pem"), { public = true }))
      assert.has_error(function() pub:sign("x") end)
      assert.has_error(function() pub:private_pem() end)
    end)
  end)

  describe("key:sign() and key:verify()", function()
    it("make and check DER SHA-256/ECDSA signatures as openssl dgst does", function()
      local d = T.tmpdir(finally)
      local k = assert(core.key_generate())
      T.write(d .. "/k.pem", k:private_pem())
      T.write(d .. "/k.pub", k:public_pem())
      local data = ("payload \0 bytes\n"):rep(100)
      T.write(d .. "/data", data)
      local sig = assert(k:sign(data))
      assert.truthy(#sig >= 8 and #sig <= 72)
      assert.equal(0x30, sig:byte(1)) -- an ASN.1 SEQUENCE
      T.write(d .. "/sig", sig)
      assert.equal("Verified OK\n", T.must(("openssl dgst -sha256 -verify %s -signature %s %s"):format(
        T.q(d .. "/k.pub"), T.q(d .. "/sig"), T.q(d .. "/data"))))
      T.must(("openssl dgst -sha256 -sign %s -out %s %s"):format(T.q(d .. "/k.pem"), T.q(d .. "/sig2"), T.q(d
        .. "/data")))
      local pub = assert(core.key_load(T.read(d .. "/k.pub"), { public = true }))
      assert.is_true(pub:verify(data, T.read(d .. "/sig2")))
      assert.is_true(pub:verify(data, sig))
      assert.is_false(pub:verify(data .. "x", sig))
      assert.is_false(pub:verify(data, sig:sub(1, -2) .. string.char((sig:byte(-1) + 1) % 256)))
      assert.is_false(pub:verify(data, "not DER"))
      assert.is_false(pub:verify(data, ""))
      assert.is_false(assert(core.key_generate()):verify(data, sig))
    end)
  end)

  describe("base64_encode() and base64_decode()", function()
    it("agree with Python's base64 on every length and byte", function()
      local d = T.tmpdir(finally)
      local parts = {}
      for n = 0, 40 do
        local s = {}
        for i = 1, n do s[i] = string.char((i * 37 + n * 11) % 256) end
        parts[#parts + 1] = table.concat(s)
      end
      local hex = {}
      for i, p in ipairs(parts) do hex[i] = p:gsub(".", function(c) return ("%02x"):format(c:byte()) end) end
      T.write(d .. "/in", table.concat(hex, "\n"))
      local py = T.must(("/usr/bin/python3 -c %s %s"):format(T.q([[
import base64, sys
data = open(sys.argv[1]).read().split('\n')
print('\n'.join(base64.b64encode(bytes.fromhex(p)).decode() for p in data))]]), T.q(d .. "/in")))
      local i = 0
      for line in py:gmatch("([^\n]*)\n") do
        i = i + 1
        assert.equal(line, core.base64_encode(parts[i]))
        assert.equal(parts[i], core.base64_decode(line))
      end
      assert.equal(#parts, i)
    end)

    it("takes the URL-safe alphabet and missing padding, and refuses anything else", function()
      assert.equal("\251\255\191", core.base64_decode("+/+/"))
      assert.equal("\251\255\191", core.base64_decode("-_-_"))
      assert.equal("foob", core.base64_decode("Zm9vYg"))
      local function bad(s, msg)
        local v, m, c = core.base64_decode(s)
        assert.is_nil(v)
        assert.equal("BADBASE64", c)
        assert.equal(msg, m)
      end
      bad("Zm9v YQ==", "BADBASE64: not a base64 character at byte 5")
      bad("Zm9vYh==", "BADBASE64: bits left over at byte 7")
      bad("Zm9=vYg=", "BADBASE64: padding inside the text at byte 4")
      bad("Zm9vY", "BADBASE64: a dangling character at byte 6")
      bad("Zg=", "BADBASE64: padding that does not end a group of four at byte 3")
      bad("Zm9v\n", "BADBASE64: not a base64 character at byte 5")
    end)
  end)

  describe("write_key_file()", function()
    it("creates the file with its mode, and never replaces one unless asked", function()
      local d = T.tmpdir(finally)
      local p = d .. "/cosign.key"
      assert.is_true(core.write_key_file(p, "one"))
      assert.equal("one", T.read(p))
      assert.equal("600", T.must("stat -c %a " .. T.q(p)):match("%d+"))
      local v, m, c = core.write_key_file(p, "two")
      assert.is_nil(v)
      assert.equal("EEXIST", c)
      assert.equal("EEXIST: File exists: " .. p, m)
      assert.equal("one", T.read(p))
      assert.is_true(core.write_key_file(p, "three", { replace = true, mode = 420 }))
      assert.equal("three", T.read(p))
      assert.equal("644", T.must("stat -c %a " .. T.q(p)):match("%d+"))
      -- a dangling symlink is a name taken: never followed
      T.must(("ln -s %s %s"):format(T.q(d .. "/elsewhere"), T.q(d .. "/link.key")))
      v, m, c = core.write_key_file(d .. "/link.key", "x")
      assert.same({ nil, "EEXIST: File exists: " .. d .. "/link.key", "EEXIST" }, { v, m, c })
      assert.is_false(T.exists(d .. "/elsewhere"))
      -- no temp file is left behind
      assert.equal("cosign.key\nlink.key\n", T.must("ls -A " .. T.q(d)))
      v, m, c = core.write_key_file(d .. "/missing/k", "x")
      assert.same({ nil, "ENOENT: No such file or directory: " .. d .. "/missing", "ENOENT" }, { v, m, c })
    end)
  end)

  describe("read_secret()", function()
    it("fails with ENOTTY when there is no terminal", function()
      local code, out = T.sh(("setsid lua5.4 -e %s </dev/null"):format(T.q(
        "package.cpath='" .. T.build .. "/lib/?.so;'..package.cpath "
        .. "print(select(3, require('ocibuild.core').read_secret(nil, 'p: ')))")))
      assert.equal(0, code)
      assert.equal("ENOTTY\n", out)
    end)
  end)

  describe("inflate()", function()
    it("expands raw deflate data as zlib wrote it, within a bound", function()
      local d = T.tmpdir(finally)
      local text = ("group=org.example\nartifact=demo\nversion=1.2.3\n"):rep(500)
      T.write(d .. "/in", text)
      T.must(("/usr/bin/python3 -c %s %s %s"):format(T.q([[
import sys, zlib
c = zlib.compressobj(9, zlib.DEFLATED, -15)
open(sys.argv[2], 'wb').write(c.compress(open(sys.argv[1], 'rb').read()) + c.flush())]]), T.q(d .. "/in"), T.q(d
  .. "/raw")))
      local raw = T.read(d .. "/raw")
      assert.equal(text, core.inflate(raw, #text))
      local v, m, c = core.inflate(raw, #text - 1)
      assert.same({ nil, "TOOBIG: inflates to more than " .. (#text - 1) .. " bytes", "TOOBIG" }, { v, m, c })
      v, m, c = core.inflate(raw:sub(1, #raw // 2), #text)
      assert.same({ nil, "CORRUPT: damaged deflate data (cut short)", "CORRUPT" }, { v, m, c })
      v, m, c = core.inflate("\255\255\255\255", 100)
      assert.same({ nil, "CORRUPT: damaged deflate data (invalid block type)", "CORRUPT" }, { v, m, c })
      assert.equal("", core.inflate("\3\0", 10))
    end)
  end)
end)
