-- Images signed and attested at build time, pushed to the registries the
-- specs run, checked independently: skopeo finds the signature for the
-- index's and the platform image's digests (Debian's skopeo then refuses
-- with "sigstore disabled", a Debian-local patch) and reports "no
-- signature" for an unsigned image; openssl accepts the payloads; skopeo
-- reads the attestation manifests back (inspect --raw); push and pull
-- keep them byte for byte while a pull for a platform leaves them behind;
-- the Gitea-shaped front, which refuses indexes whose entries are not
-- image manifests, takes the index.
local R = require "support.registry"
local T = require "support"
local fx = require "cli.attestfx"

local ANNOTATION = "dev.cosignproject.cosign/signature"
local ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"

local function sig_tag(digest) return (digest:gsub(":", "-")) .. ".sig" end

-- openssl dgst -sha256 -verify pub over payload with the base64 signature.
local function openssl_verifies(dir, pub, payload, b64)
  T.write(dir .. "/p.bin", payload)
  T.write(dir .. "/sig.b64", b64 .. "\n")
  if T.sh(("base64 -d %s > %s"):format(T.q(dir .. "/sig.b64"), T.q(dir .. "/sig.der"))) ~= 0 then return false end
  return T.sh(("openssl dgst -sha256 -verify %s -signature %s %s"):format(T.q(pub), T.q(dir .. "/sig.der"),
    T.q(dir .. "/p.bin"))) == 0
end

describe("images signed and attested at build, in a registry", function()
  local reg, why, base, store, keys

  local function get(p)
    local code, out = T.sh(("curl -sf -H %s http://%s/v2/%s"):format(T.q("Accept: " .. ACCEPT), reg.host, p))
    return code == 0 and out or nil
  end

  -- skopeo copy under a policy requiring a sigstore signature by keys.pub.
  local function skopeo_policy(dir, ref)
    T.write(dir .. "/policy.json", ([[{"default":[{"type":"reject"}],"transports":{"docker":{"%s":[
      {"type":"sigstoreSigned","keyPath":"%s","signedIdentity":{"type":"matchRepository"}}]}}}]]):format(reg.host,
      keys .. ".pub"))
    T.write(dir .. "/registries.d/default.yaml", "default-docker:\n  use-sigstore-attachments: true\n")
    local code, _, err = T.sh(("skopeo --debug --policy %s --registries.d %s copy --src-tls-verify=false %s dir:%s")
      :format(T.q(dir .. "/policy.json"), T.q(dir .. "/registries.d"), T.q("docker://" .. reg.host .. "/" .. ref),
      T.q(dir .. "/copy-" .. ref:gsub("[^%w]", "-"))))
    return code, err
  end

  setup(function()
    local ok
    ok, why = R.available {}
    if ok and not fx.have("skopeo") then ok, why = false, "skopeo is not installed" end
    if ok then reg = R.start {} end
    base = T.tmpdir()
    store = base .. "/store"
    keys = base .. "/k"
    fx.ok(store, "keygen", "--output-key-prefix", keys)
    T.write(base .. "/ctx/etc/os-release", "ID=demo\nVERSION_ID=1\n")
    T.write(base .. "/ctx/var/lib/dpkg/status", "Package: demo\nStatus: install ok installed\nVersion: 1.0\n")
  end)

  teardown(function()
    if reg then reg.stop() end
    if base then T.sh("rm -rf " .. T.q(base)) end
  end)

  it("signed with --sign-key at build and pushed: skopeo finds the signatures, openssl accepts them", function()
    if not reg then return pending(why) end
    local d = T.tmpdir(finally)
    local ref = reg.host .. "/team/app:v1"
    fx.ok(store, "build", base .. "/ctx", "-t", ref, "--sbom", "--provenance", "--sign-key", keys .. ".key", "--push")
    local a = fx.attested(store, ref)
    -- the tag names the index; each of the index and its image has its signature there
    local tagged = assert(get("team/app/manifests/v1"))
    assert.equal(a.entry.digest, require("ocibuild.core").sha256():update(tagged):digest())
    for _, dg in ipairs { a.entry.digest, a.image.digest } do
      local m = T.json(assert(get("team/app/manifests/" .. sig_tag(dg)), sig_tag(dg)))
      assert.equal(1, #m.layers)
      local payload = assert(get("team/app/blobs/" .. m.layers[1].digest))
      local p = T.json(payload)
      assert.same({ dg, reg.host .. "/team/app", "cosign container image signature" },
        { p.critical.image["docker-manifest-digest"], p.critical.identity["docker-reference"], p.critical.type })
      assert.is_true(openssl_verifies(d, keys .. ".pub", payload, m.layers[1].annotations[ANNOTATION]))
    end
    -- the attestation manifest is not signed without --attest-signed
    assert.is_nil(get("team/app/manifests/" .. sig_tag(a.attestation.digest)))
    -- skopeo, checking the platform image it copies, finds its signature
    local code, err = skopeo_policy(d, "team/app@" .. a.image.digest)
    assert.equal(1, code)
    assert.truthy(err:find(("Looking for sigstore attachments in %s/team/app:%s"):format(reg.host,
      sig_tag(a.image.digest)), 1, true), err)
    assert.truthy(err:find("Found a sigstore attachment manifest with 1 layers", 1, true), err)
    assert.truthy(err:find("sigstore disabled", 1, true), err)
    -- and an image built without --sign-key has none
    fx.ok(store, "build", base .. "/ctx", "-t", reg.host .. "/team/bare:v1", "--push")
    code, err = skopeo_policy(d, "team/bare:v1")
    assert.equal(1, code)
    assert.truthy(err:find("A signature was required, but no signature exists", 1, true), err)
    -- ocibuild verify agrees, for the image too
    assert.truthy(fx.ok(store, "verify", "--key", keys .. ".pub", reg.host .. "/team/app@" .. a.image.digest)
      :find("verified: ", 1, true))
  end)

  it("writes a signer's own tag only where other signers can be: not for the first signature of a fresh push",
    function()
    if not reg then return pending(why) end
    fx.ok(store, "build", base .. "/ctx", "-t", "plain:v1")
    -- the signature requests of a push --sign-key into repository `repo`:
    -- on the .sig tag, on a signer's own tag, on the tag list
    local function sig_requests(repo, key)
      local n = #reg.requests()
      fx.ok(store, "push", "plain:v1", reg.host .. "/" .. repo .. ":v1", "--sign-key", key)
      local out = {}
      for i, q in ipairs(reg.requests()) do
        local what = q.path:find("/tags/list", 1, true) and "tags" or q.path:find("%.sig$") and "sig"
          or q.path:find("%.sig%.%x+$") and "own"
        if i > n and what then out[#out + 1] = q.method .. " " .. what end
      end
      return table.concat(out, ", ")
    end
    -- new to the registry: the signer creates the tag, nobody else knows the digest
    assert.equal("GET sig, PUT sig", sig_requests("team/fresh", keys .. ".key"))
    -- pushed again (the tag names it already) and signed with another key:
    -- another signer may be at work, so the signature goes under its own
    -- tag first, and the .sig tag is written with every own tag's and read
    -- again with the list
    fx.ok(store, "keygen", "--output-key-prefix", base .. "/second")
    assert.equal("GET sig, PUT own, GET tags, PUT sig, GET sig, GET tags",
      sig_requests("team/fresh", base .. "/second.key"))
    assert.equal("GET sig", sig_requests("team/fresh", base .. "/second.key")) -- signed already: nothing to do
  end)

  it("keeps the attestations byte for byte through push and pull, read back by skopeo", function()
    if not reg then return pending(why) end
    local ref = reg.host .. "/team/attested:v1"
    fx.ok(store, "build", base .. "/ctx", "-t", ref, "--sbom", "--provenance", "--sign-key", keys .. ".key",
      "--attest-signed", "--push")
    local a = fx.attested(store, ref)
    local function raw(r)
      return T.must(("skopeo inspect --raw --tls-verify=false %s"):format(T.q("docker://" .. r)))
    end
    assert.equal(a.blob(a.entry.digest), raw(ref))
    assert.equal(a.blob(a.attestation.digest), raw(reg.host .. "/team/attested@" .. a.attestation.digest))
    for i, l in ipairs(a.manifest.layers) do
      assert.equal(a.texts[i], get("team/attested/blobs/" .. l.digest))
    end
    -- read back from the registry, checked against the key
    assert.equal(fx.ok(store, "sbom", "--statement", ref, "--key", keys .. ".pub"), a.texts[1] .. "\n")
    assert.equal(fx.ok(store, "provenance", "--statement", ref), a.texts[2] .. "\n")
    -- pulled whole into another store: the same bytes
    local other = base .. "/pulled"
    fx.ok(other, "pull", "--all", ref)
    local b = fx.attested(other, ref)
    assert.equal(a.entry.digest, b.entry.digest)
    assert.same(a.texts, b.texts)
    -- pulled for a platform: the image only, without them
    local plat = base .. "/platform"
    fx.ok(plat, "pull", ref, "--platform", "linux/amd64")
    local idx = T.json(T.read(plat .. "/index.json"))
    assert.equal(a.image.digest, idx.manifests[1].digest)
    local code, out, err = fx.ocb(plat, "sbom", ref, "--local")
    assert.same({ 1, "", ("ocibuild: %s has no attestation with an SBOM (build with --sbom)\n"):format(ref) },
      { code, out, err })
  end)
end)

describe("attestations with a Gitea-shaped registry", function()
  local reg, why, base
  R.serve({ tls = true, auth = "token", gitea = true }, function(r, w, b) reg, why, base = r, w, b end)

  it("takes the index of an image and its attestation manifest, each an image manifest", function()
    if not reg then return pending(why) end
    local store = base .. "/store"
    T.write(base .. "/ctx/a.txt", "a\n")
    fx.ok(store, "keygen", "--output-key-prefix", base .. "/k")
    local ref = reg.host .. "/giteaadmin/attested:v1"
    local code, out, err = fx.ocb(store, "build", base .. "/ctx", "-t", ref, "--sbom", "--provenance", "--sign-key",
      base .. "/k.key", "--attest-signed", "--push", "--ca-file", reg.ca, "--creds", "giteaAdmin:developer")
    assert.equal(0, code, out .. err)
    local a = fx.attested(store, ref)
    local got = T.must(("skopeo inspect --raw --no-creds --cert-dir %s %s"):format(T.q(reg.cert_dir),
      T.q("docker://" .. ref)))
    assert.equal(a.blob(a.entry.digest), got)
    assert.equal(2, #T.json(got).manifests)
    assert.truthy(fx.ok(store, "provenance", ref, "--ca-file", reg.ca, "--key", base .. "/k.pub")
      :find("buildDefinition", 1, true))
    -- the front refuses what Gitea refuses: an index listing a blob that is no image manifest
    local bad = a.blob(a.entry.digest):gsub(
      '"application/vnd.oci.image.manifest.v1%+json","platform":{"architecture":"unknown"',
      '"application/vnd.in-toto+json","platform":{"architecture":"unknown"')
    T.write(base .. "/bad.json", bad)
    local token = T.json(T.must(("curl -sf --cacert %s -u giteaAdmin:developer %s"):format(T.q(reg.ca),
      T.q(("https://%s/v2/token?scope=repository:giteaadmin/attested:push,pull&service=container_registry")
        :format(reg.host))))).token
    local status = T.must(("curl -s -o /dev/null -w '%%{http_code}' --cacert %s -X PUT -H %s -H %s "
      .. "--data-binary @%s %s"):format(T.q(reg.ca), T.q("Authorization: Bearer " .. token),
        T.q("Content-Type: application/vnd.oci.image.index.v1+json"), T.q(base .. "/bad.json"),
        T.q(("https://%s/v2/giteaadmin/attested/manifests/bad"):format(reg.host))))
    assert.equal("400", status)
  end)
end)
