-- ocibuild keygen, sign and verify on this machine: key files (modes,
-- never replaced unasked nor half replaced, encrypted with the passphrase
-- from the environment or typed at a terminal without echo, read by
-- openssl), every key failure in one line, and signatures in the store and
-- in an OCI layout (concurrent signers under the index lock, the layout
-- still read by skopeo, nothing signed over a damaged manifest).
local T = require "support"

local SIMPLE = "application/vnd.dev.cosign.simplesigning.v1+json"

local function quote_all(...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return table.concat(words, " ")
end

-- ocibuild in dir, with env ("NAME=value ..." or ""), no terminal.
local function ocb_env(dir, env, ...)
  return T.sh(("cd %s && env -u OCIBUILD_KEY_PASSWORD %s %s %s </dev/null"):format(T.q(dir), env, T.q(T.bin),
    quote_all(...)))
end

-- ocibuild at a terminal (a pty driven by Python): each answer is typed
-- once the prompt before it shows. Returns exit code and what the
-- terminal showed.
local function at_terminal(dir, answers, ...)
  local py = [[
import os, pty, sys
answers = sys.argv[1].split('\n') if sys.argv[1] else []
pid, fd = pty.fork()
if pid == 0:
    os.chdir(sys.argv[2])
    os.execv(sys.argv[3], sys.argv[3:])
seen = b''
def more():
    global seen
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        chunk = b''
    seen += chunk
    return chunk
for a in answers:
    mark = len(seen)
    # a prompt ends with ': ', written at once after echo is off
    while not seen[mark:].endswith(b': '):
        if not more():
            break
    os.write(fd, a.encode() + b'\n')
while more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode('utf-8', 'replace'))
sys.exit(os.WEXITSTATUS(status))
]]
  return T.sh(("env -u OCIBUILD_KEY_PASSWORD /usr/bin/python3 -c %s %s %s %s %s"):format(T.q(py),
    T.q(table.concat(answers, "\n")), T.q(dir), T.q(T.bin), quote_all(...)))
end

local function mode_of(p) return T.must("stat -c %a " .. T.q(p)):match("%d+") end

describe("ocibuild keygen", function()
  it("writes cosign.key (PKCS#8, 0600) and cosign.pub (0644), and never replaces them without --force", function()
    local d = T.tmpdir(finally)
    local code, out, err = ocb_env(d, "", "keygen")
    assert.equal(0, code, err)
    assert.matches("^private key: cosign.key %(not encrypted%)\npublic key:  cosign.pub\nkey id:      sha256:%x+\n$",
      out)
    assert.equal("600", mode_of(d .. "/cosign.key"))
    assert.equal("644", mode_of(d .. "/cosign.pub"))
    assert.truthy(T.read(d .. "/cosign.key"):match("^%-%-%-%-%-BEGIN PRIVATE KEY%-"))
    local pub = T.must(("openssl pkey -in %s -pubout"):format(T.q(d .. "/cosign.key")))
    assert.equal(T.read(d .. "/cosign.pub"), pub)
    local id = "sha256:" .. T.must(("openssl pkey -pubin -in %s -outform DER | sha256sum"):format(T.q(d
      .. "/cosign.pub"))):match("%x+")
    assert.equal(id, out:match("key id:%s+(%S+)"))
    local key = T.read(d .. "/cosign.key")
    code, out, err = ocb_env(d, "", "keygen")
    assert.same({ 1, "", "ocibuild: cosign.key exists: give --force to replace it\n" }, { code, out, err })
    -- the public key alone in the way: nothing is written either
    T.must("rm " .. T.q(d .. "/cosign.key"))
    code, out, err = ocb_env(d, "", "keygen")
    assert.same({ 1, "", "ocibuild: cosign.pub exists: give --force to replace it\n" }, { code, out, err })
    assert.is_false(T.exists(d .. "/cosign.key"))
    T.write(d .. "/cosign.key", key)
    code, out, err = ocb_env(d, "", "keygen", "--force")
    assert.truthy(out:find("cosign.key (not encrypted)", 1, true))
    assert.equal(0, code, err)
    assert.not_equal(key, T.read(d .. "/cosign.key"))
    assert.equal("600", mode_of(d .. "/cosign.key"))
    assert.equal("cosign.key\ncosign.pub\n", T.must("ls -A " .. T.q(d)))
  end)

  it("encrypts the key with $OCIBUILD_KEY_PASSWORD, at the prefix given", function()
    local d = T.tmpdir(finally)
    T.must("mkdir " .. T.q(d .. "/keys"))
    local code, out, err = ocb_env(d, "OCIBUILD_KEY_PASSWORD='s3cret pass'", "keygen", "--output-key-prefix",
      "keys/release")
    assert.equal(0, code, err)
    assert.truthy(out:find("private key: keys/release.key (encrypted)", 1, true), out)
    assert.truthy(T.read(d .. "/keys/release.key"):match("^%-%-%-%-%-BEGIN ENCRYPTED PRIVATE KEY%-"))
    assert.equal(T.read(d .. "/keys/release.pub"), T.must(("openssl pkey -in %s -passin 'pass:s3cret pass' -pubout")
      :format(T.q(d .. "/keys/release.key"))))
    assert.is_false(T.sh(("openssl pkey -in %s -passin pass:wrong -noout"):format(T.q(d .. "/keys/release.key"))) == 0)
    -- an empty passphrase is none
    code = ocb_env(d, "OCIBUILD_KEY_PASSWORD=", "keygen", "--output-key-prefix", "plain")
    assert.equal(0, code)
    assert.truthy(T.read(d .. "/plain.key"):match("^%-%-%-%-%-BEGIN PRIVATE KEY%-"))
    code, out, err = ocb_env(d, "", "keygen", "--output-key-prefix", "missing/dir/k")
    assert.same({ 1, "", "ocibuild: ENOENT: No such file or directory: missing/dir\n" }, { code, out, err })
    code, out, err = ocb_env(d, "", "keygen", "extra")
    assert.same({ 2, "", "ocibuild: keygen takes no operands (see 'ocibuild keygen --help')\n" }, { code, out, err })
  end)

  it("with --force leaves the old pair when the new one cannot be put in place", function()
    local d = T.tmpdir(finally)
    assert.equal(0, (ocb_env(d, "", "keygen", "--output-key-prefix", "P")))
    local key = T.read(d .. "/P.key")
    T.must(("cd %s && rm P.pub && mkdir P.pub"):format(T.q(d)))
    local code, out, err = ocb_env(d, "", "keygen", "--output-key-prefix", "P", "--force")
    assert.same({ 1, "", "ocibuild: P.pub is a folder: refusing to replace it\n" }, { code, out, err })
    assert.equal(key, T.read(d .. "/P.key"))
    -- and no temporary folder left beside it
    assert.equal("P.key\nP.pub\n", T.must("ls -A " .. T.q(d)))
    T.must("rmdir " .. T.q(d .. "/P.pub"))
    code, out, err = ocb_env(d, "", "keygen", "--output-key-prefix", "P", "--force")
    assert.equal(0, code, err)
    assert.not_equal(key, T.read(d .. "/P.key"))
    assert.same({ "600", "644" }, { mode_of(d .. "/P.key"), mode_of(d .. "/P.pub") })
    assert.equal("P.key\nP.pub\n", T.must("ls -A " .. T.q(d)))
    -- the new pair is a pair: what its key signs, its public key verifies
    T.write(d .. "/ctx/a.txt", "a\n")
    for _, c in ipairs { { "build", "ctx", "-t", "k:1" }, { "sign", "--key", "P.key", "k:1" },
      { "verify", "--key", "P.pub", "k:1" } } do
      code, out, err = ocb_env(d, "", "--store", "s", table.unpack(c))
      assert.equal(0, code, out .. err)
    end
    assert.matches("^verified: docker.io/library/k@sha256:%x+ ", out)
  end)

  it("asks for the passphrase twice at a terminal, without echo", function()
    local d = T.tmpdir(finally)
    local code, shown = at_terminal(d, { "typed-secret", "typed-secret" }, "keygen")
    assert.equal(0, code, shown)
    assert.truthy(shown:find("Passphrase for the new cosign.key (empty: not encrypted): ", 1, true), shown)
    assert.truthy(shown:find("The same passphrase again: ", 1, true), shown)
    assert.is_nil(shown:find("typed-secret", 1, true))
    assert.truthy(shown:find("(encrypted)", 1, true), shown)
    assert.equal(0, T.sh(("openssl pkey -in %s -passin pass:typed-secret -noout"):format(T.q(d .. "/cosign.key"))))
    code, shown = at_terminal(d, { "one", "two" }, "keygen", "--output-key-prefix", "other")
    assert.equal(1, code)
    assert.truthy(shown:find("ocibuild: the two passphrases differ", 1, true), shown)
    assert.is_false(T.exists(d .. "/other.key"))
  end)
end)

describe("ocibuild sign and verify", function()
  local d, store

  local function ocb(env, ...)
    return ocb_env(d, env, "--store", store, ...)
  end

  setup(function()
    d = T.tmpdir()
    store = d .. "/store"
    T.write(d .. "/ctx/a.txt", "a\n")
    T.write(d .. "/ctx2/b.txt", "b\n")
    assert.equal(0, (ocb("", "build", "ctx", "-t", "site:dev")))
    assert.equal(0, (ocb("", "build", "ctx2", "-t", "example.com/team/other:v2")))
    assert.equal(0, (ocb("OCIBUILD_KEY_PASSWORD=pw", "keygen", "--output-key-prefix", "enc")))
    assert.equal(0, (ocb("", "keygen", "--output-key-prefix", "plain")))
    T.must(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null"
      .. " && openssl ecparam -name prime256v1 -genkey -noout -out sec1.key"):format(T.q(d)))
  end)
  teardown(function() T.sh("rm -rf " .. T.q(d)) end)

  it("says in one line what is wrong with a key, and signs nothing then", function()
    local function fails(env, key, msg)
      local code, out, err = ocb(env, "sign", "--key", key, "site:dev")
      assert.same({ 1, "", "ocibuild: " .. msg .. "\n" }, { code, out, err })
    end
    fails("OCIBUILD_KEY_PASSWORD=nope", "enc.key", "BADPASS: wrong passphrase for enc.key")
    fails("", "enc.key", "enc.key is encrypted: set OCIBUILD_KEY_PASSWORD or run at a terminal to type its passphrase")
    fails("", "rsa.key", "KEYTYPE: rsa.key is a RSA key (2048 bits), not ECDSA P-256")
    fails("", "plain.pub", "BADKEY: plain.pub holds a public key; signing needs the private key")
    fails("", "missing.key", "ENOENT: No such file or directory: missing.key")
    T.write(d .. "/damaged.key", (T.read(d .. "/plain.key"):gsub("\n(.)", "\n*%1", 1)))
    fails("", "damaged.key", "BADPEM: damaged.key holds a damaged PEM block")
    local code, out, err = ocb("", "verify", "--key", "plain.key", "site:dev")
    assert.same({ 1, "", "ocibuild: BADKEY: plain.key holds a private key; verifying takes the public key\n" },
      { code, out, err })
    code, out, err = ocb("", "sign", "site:dev")
    assert.same({ 2, "", "ocibuild: sign needs --key KEY (see 'ocibuild sign --help')\n" }, { code, out, err })
    assert.is_nil(T.read(store .. "/index.json"):find(".sig", 1, true))
  end)

  it("signs and verifies an image of the store; a SEC 1 key and an encrypted one sign too", function()
    local code, out, err = ocb("OCIBUILD_KEY_PASSWORD=pw", "sign", "--key", "enc.key", "site:dev")
    assert.equal(0, code, err)
    local digest = out:match("^signed: docker.io/library/site@(sha256:%x+) %(store .*%)\n$")
    assert.is_string(digest, out)
    code, out, err = ocb("", "sign", "--key", "sec1.key", "site:dev")
    assert.equal(0, code, err)
    assert.equal("signed: docker.io/library/site@" .. digest, out:match("^(%S+ %S+) "))
    local idx = T.json(T.read(store .. "/index.json"))
    local entry
    for _, m in ipairs(idx.manifests) do
      if m.annotations["org.opencontainers.image.ref.name"] == "site:" .. digest:gsub(":", "-")
        .. ".sig" then entry = m end
    end
    assert.is_table(entry)
    local m = T.json(T.read(store .. "/blobs/sha256/" .. entry.digest:sub(8)))
    assert.equal(2, #m.layers)
    assert.equal(SIMPLE, m.layers[1].mediaType)
    for _, k in ipairs { "enc.pub", "plain.pub" } do
      code, out = ocb("", "verify", "--key", k, "site:dev")
      if k == "enc.pub" then
        assert.equal(0, code)
        assert.truthy(out:find("critical.image.docker-manifest-digest: " .. digest, 1, true), out)
        assert.truthy(out:find("1 of 2 signatures refused", 1, true), out)
      else
        assert.equal(1, code)
      end
    end
    -- by digest and with the repository required
    assert.equal(0, (ocb("", "verify", "--key", "enc.pub", "--identity", "docker.io/library/site", digest)))
    code, out, err = ocb("", "verify", "--key", "enc.pub", "--identity", "example.com/site", "site:dev")
    assert.equal("", out)
    assert.equal(1, code)
    assert.truthy(err:find("layer 1: the payload names repository docker.io/library/site, not example.com/site", 1,
      true), err)
    -- the store stays sound
    code, out, err = ocb("", "fsck")
    assert.equal(0, code, out .. err)
  end)

  it("keeps every signature when four signers write to the store at once", function()
    for i = 1, 4 do assert.equal(0, (ocb("", "keygen", "--output-key-prefix", "race" .. i))) end
    local cmds = {}
    for i = 1, 4 do
      cmds[i] = ("(cd %s && %s --store %s sign --local --key race%d.key example.com/team/other:v2 >race%d.out" ..
        " 2>&1; echo $? >>race%d.out) &")
        :format(T.q(d), T.q(T.bin), T.q(store), i, i, i)
    end
    T.must(table.concat(cmds, " ") .. " wait")
    for i = 1, 4 do assert.matches("^signed: example.com/team/other@sha256:%x+ %(store .*%)\n0\n$", T.read(d .. "/race"
      .. i .. ".out")) end
    for i = 1, 4 do
      local code, out, err = ocb("", "verify", "--local", "--key", "race" .. i .. ".pub", "example.com/team/other:v2")
      assert.equal(0, code, out .. err)
      assert.truthy(out:find("3 of 4 signatures refused", 1, true), out)
    end
  end)

  it("signs and verifies nothing whose manifest is damaged or gone, in a layout or in the store", function()
    -- other bytes of the same size, under the same name
    local function damage(file)
      local b = T.read(file)
      assert.truthy(b:find('"schemaVersion":2', 1, true))
      T.write(file, (b:gsub('"schemaVersion":2', '"schemaVersion":3')))
    end
    local function refused(st, where, index, want)
      local before = T.read(index)
      for _, c in ipairs { { "sign", "--key", "sec1.key", "--identity", "registry.example/team/site", where },
        { "verify", "--key", "plain.pub", where } } do
        local code, out, err = ocb_env(d, "", "--store", st, table.unpack(c))
        assert.same({ 1, "", "ocibuild: " .. want .. "\n" }, { code, out, err })
      end
      assert.equal(before, T.read(index))
    end
    for _, how in ipairs { "changed", "gone" } do
      local lay = "damaged-" .. how
      T.must(("skopeo --insecure-policy copy oci:%s:site:dev oci:%s:v1"):format(T.q(store), T.q(d .. "/" .. lay)))
      assert.equal(0, (ocb("", "sign", "--key", "plain.key", "--identity", "registry.example/team/site",
        "oci:" .. lay .. ":v1")))
      local dg = T.image(d .. "/" .. lay, "v1").desc.digest
      local file = ("%s/%s/blobs/sha256/%s"):format(d, lay, dg:sub(8))
      local want
      if how == "changed" then
        damage(file)
        want = ("BADDIGEST: expected %s, got sha256:%s: %s"):format(dg, T.sha256_file(file), file)
      else
        T.must("rm " .. T.q(file))
        want = "ENOENT: No such file or directory: " .. file
      end
      refused(store, "oci:" .. lay .. ":v1", d .. "/" .. lay .. "/index.json", ("oci:%s: %s"):format(lay, want))
    end
    local s = d .. "/damaged-store"
    T.write(d .. "/ctx3/c.txt", "c\n")
    assert.equal(0, (ocb_env(d, "", "--store", s, "build", "ctx3", "-t", "site:damaged")))
    assert.equal(0, (ocb_env(d, "", "--store", s, "sign", "--key", "plain.key", "site:damaged")))
    local img = T.image(s, "site:damaged")
    local file = img.blob(img.desc.digest)
    damage(file)
    refused(s, "site:damaged", s .. "/index.json", ("store %s: BADDIGEST: expected %s, got sha256:%s: %s")
      :format(s, img.desc.digest, T.sha256_file(file), file))
  end)

  it("signs an OCI layout's image, which skopeo still reads", function()
    T.must(("skopeo --insecure-policy copy oci:%s:site:dev oci:%s:v1"):format(T.q(store), T.q(d .. "/layout")))
    local code, out, err = ocb("", "sign", "--key", "plain.key", "oci:layout:v1")
    assert.same({ 1, "",
      "ocibuild: oci:layout does not say which repository it belongs to: give --identity HOST/PATH\n" },
      { code, out, err })
    code, out, err = ocb("", "sign", "--key", "plain.key", "--identity", "registry.example/team/site", "oci:layout:v1")
    assert.equal(0, code, err)
    local digest = out:match("^signed: oci:layout@(sha256:%x+)\n$")
    assert.is_string(digest, out)
    local names = {}
    for _, m in ipairs(T.json(T.read(d .. "/layout/index.json")).manifests) do
      names[#names + 1] = m.annotations["org.opencontainers.image.ref.name"]
    end
    table.sort(names)
    assert.same({ digest:gsub(":", "-") .. ".sig", "v1" }, names)
    code, out, err = ocb("", "verify", "--key", "plain.pub", "oci:layout:v1")
    assert.equal(0, code, err)
    assert.truthy(out:find("critical.identity.docker-reference: registry.example/team/site (not checked)", 1, true),
      out)
    code = ocb("", "verify", "--key", "enc.pub", "oci:layout")
    assert.equal(1, code)
    assert.equal(digest, T.json(T.must(("skopeo inspect oci:%s:v1"):format(T.q(d .. "/layout")))).Digest)
    code, out, err = ocb("", "verify", "--key", "plain.pub", "oci:layout:v9")
    assert.same({ 1, "", "ocibuild: oci:layout has no image named \"v9\"\n" }, { code, out, err })
  end)
end)
