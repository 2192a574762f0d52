-- ocibuild keygen, sign and verify against docker-registry (distribution
-- 2.8) on loopback, checked independently: skopeo with a policy.json
-- requiring sigstoreSigned and registries.d use-sigstore-attachments
-- finds the signature for the image's digest (Debian's skopeo then
-- refuses with "sigstore disabled", a Debian-local patch; an unsigned
-- image gives "no signature exists"), `openssl dgst -sha256 -verify`
-- accepts the payload, and Python reads the payload with the rules
-- containers/image applies. Tampered annotations, tampered payloads,
-- signatures copied from another image and another key are refused.
local R = require "support.registry"
local T = require "support"

local MANIFEST = "application/vnd.oci.image.manifest.v1+json"
local SIMPLE = "application/vnd.dev.cosign.simplesigning.v1+json"
local ANNOTATION = "dev.cosignproject.cosign/signature"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

local function sha256(s) return (require("ocibuild.core").sha256():update(s):digest()) end

local function quote_all(...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return table.concat(words, " ")
end

-- ocibuild with a store, and the key passphrase in the environment.
local function ocb(store, ...)
  return T.sh(("OCIBUILD_KEY_PASSWORD=spec-pass %s --store %s %s </dev/null"):format(T.q(T.bin), T.q(store),
    quote_all(...)))
end

local function sig_tag(digest) return (digest:gsub(":", "-")) .. ".sig" end
-- The tag a signer writes its signature (base64 annotation b64) under alone.
local function own_tag(digest, b64) return sig_tag(digest) .. "." .. sha256(b64):sub(8, 27) end

-- The registry's answer to GET /v2/PATH (bytes), or nil.
local function get(reg, p)
  local code, out = T.sh(("curl -sf -H 'Accept: %s, application/vnd.oci.image.index.v1+json' http://%s/v2/%s"):format(
    MANIFEST, reg.host, p))
  return code == 0 and out or nil
end

local function put_blob(reg, dir, repo, bytes)
  local file = dir .. "/blob-" .. sha256(bytes):sub(8, 20)
  T.write(file, bytes)
  local head = T.must(("curl -sf -i -X POST http://%s/v2/%s/blobs/uploads/"):format(reg.host, repo))
  local loc = head:match("\n[Ll]ocation: (%S+)")
  T.must(("curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @%s %s"):format(T.q(file),
    T.q(loc .. (loc:find("?", 1, true) and "&" or "?") .. "digest=" .. sha256(bytes))))
end

local function put_manifest(reg, dir, repo, tag, text)
  T.write(dir .. "/manifest.json", text)
  T.must(("curl -sf -X PUT -H 'Content-Type: %s' --data-binary @%s http://%s/v2/%s/manifests/%s"):format(MANIFEST,
    T.q(dir .. "/manifest.json"), reg.host, repo, tag))
end

-- The payload read as containers/image reads it (Python, independently):
-- "digest identity type" or an error line.
local function read_payload(dir, payload)
  T.write(dir .. "/payload.json", payload)
  local code, out = T.sh(("/usr/bin/python3 -c %s %s"):format(T.q([[
import json, sys
def pairs_hook(kv):
    keys = [k for k, _ in kv]
    assert len(keys) == len(set(keys)), 'duplicate keys'
    return dict(kv)
p = json.loads(open(sys.argv[1], 'rb').read(), object_pairs_hook=pairs_hook)
assert set(p) == {'critical', 'optional'}, 'top level: %r' % sorted(p)
c = p['critical']
assert set(c) == {'identity', 'image', 'type'}, 'critical: %r' % sorted(c)
assert set(c['identity']) == {'docker-reference'} and set(c['image']) == {'docker-manifest-digest'}
assert p['optional'] is None or isinstance(p['optional'], dict), 'optional'
assert c['type'] == 'cosign container image signature'
print(c['image']['docker-manifest-digest'], c['identity']['docker-reference'], c['type'])]]), T.q(dir
  .. "/payload.json")))
  return code == 0 and out:gsub("\n$", "") or nil
end

-- openssl dgst -sha256 -verify pub over payload with the base64 signature.
local function openssl_verifies(dir, pub, payload, b64)
  T.write(dir .. "/p.bin", payload)
  T.write(dir .. "/sig.b64", b64 .. "\n")
  if T.sh(("base64 -d %s > %s"):format(T.q(dir .. "/sig.b64"), T.q(dir .. "/sig.der"))) ~= 0 then return false end
  return T.sh(("openssl dgst -sha256 -verify %s -signature %s %s"):format(T.q(pub), T.q(dir .. "/sig.der"),
    T.q(dir .. "/p.bin"))) == 0
end

-- skopeo copy under a policy that requires a sigstore signature made by
-- pub: exit code and stderr (with --debug lines).
local function skopeo_policy(dir, reg, pub, ref)
  T.write(dir .. "/policy.json", ([[{"default":[{"type":"reject"}],"transports":{"docker":{"%s":[
    {"type":"sigstoreSigned","keyPath":"%s","signedIdentity":{"type":"matchRepository"}}]}}}]]):format(reg.host, pub))
  T.write(dir .. "/registries.d/default.yaml", "default-docker:\n  use-sigstore-attachments: true\n")
  local code, _,
    err = T.sh(("skopeo --debug --policy %s --registries.d %s copy --src-tls-verify=false %s dir:%s"):format(
    T.q(dir .. "/policy.json"), T.q(dir .. "/registries.d"), T.q("docker://" .. reg.host .. "/" .. ref),
    T.q(dir .. "/copy-" .. sha256(ref):sub(8, 16))))
  return code, err
end

describe("ocibuild sign and verify with a registry", function()
  local reg, why, base, keys

  -- A pushed image of one file; returns its manifest digest.
  local function pushed(name, text, ref)
    local d = base .. "/" .. name
    T.write(d .. "/ctx/hello.txt", text)
    local code, out, err = ocb(base .. "/store", "build", d .. "/ctx", "-t", reg.host .. "/" .. ref)
    assert.equal(0, code, out .. err)
    code, out, err = ocb(base .. "/store", "push", reg.host .. "/" .. ref)
    assert.equal(0, code, out .. err)
    return out:match("@(sha256:%x+)\n$")
  end

  local function sig_manifest(repo, digest)
    local text = get(reg, repo .. "/manifests/" .. sig_tag(digest))
    return text and T.json(text), text
  end

  R.serve({}, function(r, w, b)
    reg, why, base = r, w, b
    keys = base .. "/keys"
    T.must("mkdir -p " .. T.q(keys))
    for _, k in ipairs { "one", "two", "three", "four" } do
      local code, out, err = ocb(base .. "/store", "keygen", "--output-key-prefix", keys .. "/" .. k)
      assert(code == 0, out .. err)
    end
  end, function() return have("skopeo"), "skopeo is not installed" end)

  it("signs a pushed image: skopeo finds the signature for its digest, openssl accepts the payload", function()
    if not reg then return pending(why) end
    local d = T.tmpdir(finally)
    local digest = pushed("plain", "signed\n", "team/app:v1")
    local unsigned = pushed("unsigned", "not signed\n", "team/bare:v1")
    local code, out, err = ocb(base .. "/store", "sign", "--key", keys .. "/one.key", "docker://" .. reg.host
      .. "/team/app:v1")
    assert.equal(0, code, out .. err)
    assert.equal("signed: " .. reg.host .. "/team/app@" .. digest .. "\n", out)

    -- the signature manifest, as cosign writes it
    local m = assert(sig_manifest("team/app", digest))
    assert.equal(MANIFEST, m.mediaType)
    assert.equal("application/vnd.oci.image.config.v1+json", m.config.mediaType)
    assert.equal(1, #m.layers)
    local l = m.layers[1]
    assert.equal(SIMPLE, l.mediaType)
    local config = T.json(assert(get(reg, "team/app/blobs/" .. m.config.digest)))
    assert.same({ l.digest }, config.rootfs.diff_ids)
    local payload = assert(get(reg, "team/app/blobs/" .. l.digest))
    assert.equal(l.digest, sha256(payload))
    assert.equal(digest .. " " .. reg.host .. "/team/app cosign container image signature", read_payload(d, payload))
    assert.is_true(openssl_verifies(d, keys .. "/one.pub", payload, l.annotations[ANNOTATION]))
    assert.is_false(openssl_verifies(d, keys .. "/two.pub", payload, l.annotations[ANNOTATION]))

    -- skopeo looks for the attachment of exactly this digest and finds it
    local scode, serr = skopeo_policy(d, reg, keys .. "/one.pub", "team/app:v1")
    assert.equal(1, scode)
    assert.truthy(serr:find(("Looking for sigstore attachments in %s/team/app:%s"):format(reg.host, sig_tag(digest)), 1,
      true), serr)
    assert.truthy(serr:find("Found a sigstore attachment manifest with 1 layers", 1, true), serr)
    assert.truthy(serr:find("Fetching sigstore attachment 1/1: " .. l.digest, 1, true), serr)
    assert.truthy(serr:find("sigstore disabled", 1, true), serr)
    assert.is_nil(serr:find("no signature exists", 1, true))
    scode, serr = skopeo_policy(d, reg, keys .. "/one.pub", "team/bare:v1")
    assert.equal(1, scode)
    assert.truthy(serr:find("A signature was required, but no signature exists", 1, true), serr)
    assert.truthy(serr:find(sig_tag(unsigned), 1, true), serr)

    -- and ocibuild verify says which key and claims it checked
    code, out, err = ocb(base .. "/store", "verify", "--key", keys .. "/one.pub", reg.host .. "/team/app:v1")
    assert.equal(0, code, out .. err)
    local id = "sha256:" .. T.must(("openssl pkey -pubin -in %s -outform DER | sha256sum"):format(T.q(keys
      .. "/one.pub"))):match("%x+")
    assert.truthy(out:find("verified: " .. reg.host .. "/team/app@" .. digest .. "\n", 1, true), out)
    assert.truthy(out:find("key: " .. keys .. "/one.pub (" .. id .. ")", 1, true), out)
    assert.truthy(out:find("critical.image.docker-manifest-digest: " .. digest, 1, true), out)
    assert.truthy(out:find("critical.identity.docker-reference: " .. reg.host .. "/team/app", 1, true), out)
    assert.truthy(out:find("critical.type: cosign container image signature", 1, true), out)
    code, out, err = ocb(base .. "/store", "verify", "--key", keys .. "/one.pub", reg.host .. "/team/bare:v1")
    assert.same({ 1, "", ("ocibuild: %s/team/bare@%s has no signatures (no %s)\n"):format(reg.host, unsigned,
      sig_tag(unsigned)) },
      { code, out, err })
  end)

  it("appends: another key adds a layer, the same key again adds nothing, and each key verifies", function()
    if not reg then return pending(why) end
    local digest = pushed("append", "append\n", "team/append:v1")
    local ref = reg.host .. "/team/append:v1"
    for _, k in ipairs { "one", "two", "one" } do
      local code, out, err = ocb(base .. "/store", "sign", "--key", keys .. "/" .. k .. ".key", ref)
      assert.equal(0, code, out .. err)
    end
    local m = sig_manifest("team/append", digest)
    assert.equal(2, #m.layers)
    local code, out, err = ocb(base .. "/store", "sign", "--key", keys .. "/two.key", ref)
    assert.equal(0, code, err)
    assert.equal("already signed: " .. reg.host .. "/team/append@" .. digest .. "\n", out)
    for _, k in ipairs { "one", "two" } do
      code, out, err = ocb(base .. "/store", "verify", "--key", keys .. "/" .. k .. ".pub", ref)
      assert.equal(0, code, out .. err)
    end
    local _
    code, _, err = ocb(base .. "/store", "verify", "--key", keys .. "/three.pub", ref)
    assert.equal(1, code)
    assert.equal(("ocibuild: no signature of %s/team/append@%s verifies with %s/three.pub: layer 1: the signature does "
      .. "not verify with this key; layer 2: the signature does not verify with this key\n"):format(reg.host, digest,
      keys), err)
  end)

  it("keeps every signature when four signers write at once", function()
    if not reg then return pending(why) end
    local digest = pushed("race", "race\n", "team/race:v1")
    local cmds = {}
    for i, k in ipairs { "one", "two", "three", "four" } do
      cmds[i] = ("(OCIBUILD_KEY_PASSWORD=spec-pass %s --store %s sign --key %s %s > %s 2>&1; echo $? >> %s) &"):format(
        T.q(T.bin), T.q(base .. "/store"), T.q(keys .. "/" .. k .. ".key"), T.q(reg.host .. "/team/race:v1"),
        T.q(base .. "/race." .. k), T.q(base .. "/race." .. k))
    end
    T.must(table.concat(cmds, " ") .. " wait")
    for _, k in ipairs { "one", "two", "three", "four" } do
      assert.matches("^signed: .*\n0\n$", T.read(base .. "/race." .. k))
    end
    local m = sig_manifest("team/race", digest)
    assert.equal(4, #m.layers)
    local d = T.tmpdir(finally)
    for _, k in ipairs { "one", "two", "three", "four" } do
      local found = 0
      for _, l in ipairs(m.layers) do
        if openssl_verifies(d, keys .. "/" .. k .. ".pub", assert(get(reg, "team/race/blobs/" .. l.digest)),
          l.annotations[ANNOTATION]) then found = found + 1 end
      end
      assert.equal(1, found, k)
    end
  end)

  it("gets back a signature a stale write dropped from the .sig tag: verify finds it, the next signer merges it",
    function()
    if not reg then return pending(why) end
    local d = T.tmpdir(finally)
    local digest = pushed("heal", "heal\n", "team/heal:v1")
    local ref = reg.host .. "/team/heal:v1"
    local function sign(k)
      local code, out, err = ocb(base .. "/store", "sign", "--key", keys .. "/" .. k .. ".key", ref)
      assert.equal(0, code, out .. err)
    end
    sign("one")
    local _, stale = sig_manifest("team/heal", digest)
    sign("two")
    assert.equal(2, #sig_manifest("team/heal", digest).layers)
    -- a signer that read the tag before "two" wrote, writing after it
    put_manifest(reg, d, "team/heal", sig_tag(digest), stale)
    assert.equal(1, #sig_manifest("team/heal", digest).layers)
    local code, out, err = ocb(base .. "/store", "verify", "--key", keys .. "/two.pub", ref)
    assert.equal(0, code, out .. err)
    assert.truthy(out:find("signature: " .. reg.host .. "/team/heal:" .. sig_tag(digest) .. ".", 1, true), out)
    sign("three")
    local m = sig_manifest("team/heal", digest)
    assert.equal(3, #m.layers)
    for i, k in ipairs { "one", "two", "three" } do
      local payload = assert(get(reg, "team/heal/blobs/" .. m.layers[i].digest))
      assert.is_true(openssl_verifies(d, keys .. "/" .. k .. ".pub", payload, m.layers[i].annotations[ANNOTATION]), k)
      -- and each under its signer's own tag, alone
      local tag = own_tag(digest, m.layers[i].annotations[ANNOTATION])
      local own = T.json(assert(get(reg, "team/heal/manifests/" .. tag)))
      assert.same(m.layers[i], own.layers[1])
      assert.equal(1, #own.layers)
    end
  end)

  it("refuses tampered annotations, tampered payloads, copied signatures and another key, one line each", function()
    if not reg then return pending(why) end
    local d = T.tmpdir(finally)
    local a = pushed("ta", "image a\n", "team/tamper:a")
    local b = pushed("tb", "image b\n", "team/tamper:b")
    local code, out, err = ocb(base .. "/store", "sign", "--key", keys .. "/one.key", reg.host .. "/team/tamper:a")
    assert.equal(0, code, out .. err)
    local _, text = sig_manifest("team/tamper", a)
    local m = T.json(text)
    local payload = assert(get(reg, "team/tamper/blobs/" .. m.layers[1].digest))
    local sig = m.layers[1].annotations[ANNOTATION]
    local function verify(ref)
      return ocb(base .. "/store", "verify", "--key", keys .. "/one.pub", reg.host .. "/team/tamper" .. ref)
    end
    local function refused(ref, digest, reason)
      local c, o, e = verify(ref)
      assert.same({ 1, "", ("ocibuild: no signature of %s/team/tamper@%s verifies with %s/one.pub: layer 1: %s\n")
        :format(reg.host, digest, keys, reason) }, { c, o, e })
    end
    code = verify(":a")
    assert.equal(0, code)
    -- an attacker in the registry rewrites the .sig tag and the signer's
    -- own tag alike
    local function tamper(t)
      put_manifest(reg, d, "team/tamper", sig_tag(a), t)
      put_manifest(reg, d, "team/tamper", own_tag(a, sig), t)
    end

    -- another key
    code, out, err = ocb(base .. "/store", "verify", "--key", keys .. "/two.pub", reg.host .. "/team/tamper:a")
    assert.same({ 1, "",
      ("ocibuild: no signature of %s/team/tamper@%s verifies with %s/two.pub: layer 1: the signature "
      .. "does not verify with this key\n"):format(reg.host, a, keys) }, { code, out, err })
    assert.is_false(openssl_verifies(d, keys .. "/two.pub", payload, sig))

    -- a signature copied from image a to image b
    put_manifest(reg, d, "team/tamper", sig_tag(b), text)
    refused(":b", b, "the payload signs " .. a .. ", not this image")
    assert.is_true(openssl_verifies(d, keys .. "/one.pub", payload, sig)) -- a valid signature...
    assert.equal(a, read_payload(d, payload):match("^%S+")) -- ...of another digest

    -- a tampered annotation (one character of the base64 changed)
    local bad_sig = sig:sub(1, 20) .. (sig:sub(21, 21) == "A" and "B" or "A") .. sig:sub(22)
    tamper((text:gsub(sig:gsub("%p", "%%%0"), bad_sig)))
    refused(":a", a, "the signature does not verify with this key")
    assert.is_false(openssl_verifies(d, keys .. "/one.pub", payload, bad_sig))
    -- an annotation that is not base64 at all
    tamper((text:gsub(sig:gsub("%p", "%%%0"), "not*base64")))
    refused(":a", a, "the signature annotation is damaged: BADBASE64: not a base64 character at byte 4")

    -- a tampered payload: another identity, the signature kept
    local forged = payload:gsub("team/tamper", "team/forged")
    put_blob(reg, d, "team/tamper", forged)
    local m2 = T.json(text)
    tamper((text:gsub(m2.layers[1].digest, sha256(forged)):gsub('"size":' .. #payload, '"size":' .. #forged)))
    refused(":a", a, "the signature does not verify with this key")
    assert.is_false(openssl_verifies(d, keys .. "/one.pub", forged, sig))

    -- the original manifest back: verified again
    tamper(text)
    assert.equal(0, (verify(":a")))
    -- only the .sig tag tampered: the signer's own tag still holds the
    -- signature, and it verifies
    put_manifest(reg, d, "team/tamper", sig_tag(a), (text:gsub(sig:gsub("%p", "%%%0"), bad_sig)))
    code, out = verify(":a")
    assert.equal(0, code)
    assert.truthy(out:find("signature: " .. reg.host .. "/team/tamper:" .. own_tag(a, sig) .. " layer 1", 1, true), out)
    assert.truthy(out:find("1 of 2 signatures refused", 1, true), out)
  end)

  it("with --recursive signs the index and each platform image, as policies check each", function()
    if not reg then return pending(why) end
    local d = base .. "/multi"
    T.write(d .. "/site/a.txt", "a\n")
    T.write(d .. "/build.lua", [[
      local oci = require "ocibuild"
      local imgs = {}
      for _, p in ipairs { "linux/amd64", "linux/arm64" } do
        local img = oci.image { platform = p }
        img:layer { context = "site", dest = "/site" }
        imgs[#imgs + 1] = img
      end
      return oci.index(imgs):save { tag = "multi:v1" }
    ]])
    local code, out, err = ocb(base .. "/store", "run", d .. "/build.lua")
    assert.equal(0, code, out .. err)
    code, out, err = ocb(base .. "/store", "push", "multi:v1", reg.host .. "/team/multi:v1")
    assert.equal(0, code, out .. err)
    local idx_digest = out:match("@(sha256:%x+)\n$")
    local idx = T.json(assert(get(reg, "team/multi/manifests/" .. idx_digest)))
    code, out, err = ocb(base .. "/store", "sign", "--recursive", "--key", keys .. "/one.key", reg.host
      .. "/team/multi:v1")
    assert.equal(0, code, out .. err)
    local want = { idx_digest, idx.manifests[1].digest, idx.manifests[2].digest }
    local lines = {}
    for _, dg in ipairs(want) do lines[#lines + 1] = "signed: " .. reg.host .. "/team/multi@" .. dg end
    assert.equal(table.concat(lines, "\n") .. "\n", out)
    for _, dg in ipairs(want) do
      local m = assert(sig_manifest("team/multi", dg))
      local payload = assert(get(reg, "team/multi/blobs/" .. m.layers[1].digest))
      assert.equal(dg, read_payload(d, payload):match("^%S+"))
      assert.is_true(openssl_verifies(d, keys .. "/one.pub", payload, m.layers[1].annotations[ANNOTATION]))
    end
    -- skopeo checks the platform image it copies: its signature is found
    local scode, serr = skopeo_policy(d, reg, keys .. "/one.pub", "team/multi@" .. want[2])
    assert.equal(1, scode)
    assert.truthy(serr:find(sig_tag(want[2]), 1, true) and serr:find("sigstore disabled", 1, true), serr)
  end)
end)

describe("ocibuild sign and verify with Gitea-shaped tokens over TLS", function()
  local reg, why, base

  R.serve({ tls = true, auth = "token", users = { giteaAdmin = "sign-pass", other = "other-pass" } },
    function(r, w, b) reg, why, base = r, w, b end)

  it("signs with push access to the repository, verifies with read access, and needs push access to sign", function()
    if not reg then return pending(why) end
    local store = base .. "/store"
    T.write(base .. "/ctx/a.txt", "a\n")
    local ref = reg.host .. "/giteaadmin/app:v1"
    local function run(...)
      return T.sh(("env -u SSL_CERT_FILE -u REGISTRY_AUTH_FILE -u XDG_RUNTIME_DIR -u DOCKER_CONFIG "
        .. "OCIBUILD_KEY_PASSWORD= %s --store %s %s </dev/null"):format(T.q(T.bin), T.q(store), quote_all(...)))
    end
    assert.equal(0, (run("keygen", "--output-key-prefix", base .. "/k")))
    assert.equal(0, (run("build", base .. "/ctx", "-t", ref)))
    local code, out, err = run("push", ref, "--creds", "giteaAdmin:sign-pass", "--ca-file", reg.ca)
    assert.equal(0, code, out .. err)
    local digest = out:match("@(sha256:%x+)\n$")
    code, out, err = run("sign", "--key", base .. "/k.key", ref, "--creds", "other:other-pass", "--ca-file", reg.ca)
    assert.same({ 1, "", ('ocibuild: no push access to %s/giteaadmin/app as "other" (Gitea: the owner must be your '
      .. "user or an organisation you belong to)\n"):format(reg.host) }, { code, out, err })
    code, out, err = run("sign", "--key", base .. "/k.key", ref, "--creds", "giteaAdmin:sign-pass", "--ca-file", reg.ca)
    assert.same({ 0, "signed: " .. reg.host .. "/giteaadmin/app@" .. digest .. "\n" }, { code, out }, err)
    code, out, err = run("verify", "--key", base .. "/k.pub", ref, "--creds", "other:other-pass", "--ca-file", reg.ca)
    assert.equal(0, code, out .. err)
    assert.truthy(out:find("critical.image.docker-manifest-digest: " .. digest, 1, true), out)
    assert.is_nil((out .. err):find("pass", 1, true))
  end)
end)
