-- The attestation building blocks: SPDX 2.3 and CycloneDX 1.5 documents
-- of real packages (this machine's dpkg status), checked with
-- /usr/bin/python3's jsonschema against the SPDX 2.3 rules written down
-- in spec/support/, and reproducible; SLSA provenance v1 predicates and
-- in-toto statements; DSSE envelopes checked with openssl; a context's
-- git commit against `git rev-parse`.
local T = require "support"
local core = require "ocibuild.core"
local cyclonedx = require "ocibuild.attest.sbom.cyclonedx"
local detect = require "ocibuild.attest.detect"
local dsse = require "ocibuild.attest.dsse"
local git = require "ocibuild.attest.git"
local intoto = require "ocibuild.attest.intoto"
local json = require "ocibuild.oci.json"
local provenance = require "ocibuild.attest.provenance"
local purl = require "ocibuild.attest.purl"
local source = require "ocibuild.attest.detect.source"
local spdx = require "ocibuild.attest.sbom.spdx"

local PY = "/usr/bin/python3"
local DIGEST = "sha256:" .. ("5e"):rep(32)
local LAYER = "sha256:" .. ("1a"):rep(32)

-- Runs Python code over a JSON document; returns its code, output.
local function py(dir, code, text)
  T.write(dir .. "/doc.json", text)
  return T.sh(("%s -c %s %s %s"):format(PY, T.q(code), T.q(dir .. "/doc.json"), T.q(T.root .. "/spec/support")))
end

describe("ocibuild.attest", function()
  local d, spec

  setup(function()
    d = T.tmpdir()
    T.must(("mkdir -p %s/root/var/lib/dpkg %s/root/etc && cp /var/lib/dpkg/status %s/root/var/lib/dpkg/ && cp" ..
      " /etc/os-release %s/root/etc/")
      :format(T.q(d), T.q(d), T.q(d), T.q(d)))
    local r = assert(detect.scan(source.dir(d .. "/root")))
    local pkgs = r.packages
    -- and a few with licences of every kind, found in a layer
    for _, p in ipairs {
      { type = "pypi", name = "expr", version = "1.0", license = "Apache-2.0 OR (MIT AND BSD-3-Clause)" },
      { type = "pypi", name = "text", version = "2.0", license = "MIT License" },
      { type = "npm", name = "@s/plus", version = "3.0", license = "GPL-2.0+" },
      { type = "golang", name = "example.com/app", version = "(devel)", main = true },
    } do
      p.path, p.layer = "/app/" .. p.name, LAYER
      p.detector = require("ocibuild.attest.detect." .. ({ pypi = "python", npm = "node", golang = "golang" })[p.type])
      pkgs[#pkgs + 1] = p
    end
    detect.finish(pkgs, r.os)
    spec = { image = { name = "registry.example/team/app", digest = DIGEST,
      purl = purl.oci("registry.example/team/app", DIGEST, { tag = "v1" }) },
      packages = pkgs, tool = "ocibuild-0.1.0", epoch = 1700000000 }
  end)
  teardown(function() T.sh("rm -rf " .. T.q(d)) end)

  describe("sbom.spdx", function()
    it("writes SPDX 2.3 JSON that follows the specification's rules, for every package found", function()
      local text = spdx.document(spec)
      local code, out = py(d, [=[
import json, sys, jsonschema
doc = json.load(open(sys.argv[1]))
jsonschema.validate(doc, json.load(open(sys.argv[2] + '/spdx-2.3-rules.schema.json')))
ids = [p['SPDXID'] for p in doc['packages']]
assert len(ids) == len(set(ids)), 'SPDXIDs repeat'
known = set(ids) | {'SPDXRef-DOCUMENT'}
for r in doc['relationships']:
    assert r['spdxElementId'] in known and r['relatedSpdxElement'] in known, r
refs = {e['licenseId'] for e in doc.get('hasExtractedLicensingInfos', [])}
for p in doc['packages']:
    for tok in p.get('licenseDeclared', '').replace('(', ' ').replace(')', ' ').split():
        if tok.startswith('LicenseRef-'):
            assert tok in refs, tok
print(len(doc['packages']), doc['creationInfo']['created'], doc['documentNamespace'])
]=], text)
      assert.equal(0, code, out)
      local n, created, ns = out:match("^(%d+) (%S+) (%S+)")
      assert.equal(#spec.packages + 1, tonumber(n))
      assert.equal("2023-11-14T22:13:20Z", created)
      assert.truthy(ns:match("^https://spdx%.org/spdxdocs/ocibuild/registry%.example%-team%-app%-%x+$"), ns)
      local doc = json.decode(text)
      assert.equal("SPDXRef-Image", doc.relationships[1].relatedSpdxElement)
      assert.equal("DESCRIBES", doc.relationships[1].relationshipType)
      assert.equal("pkg:oci/app@" .. DIGEST .. "?repository_url=registry.example/team/app&tag=v1",
        doc.packages[1].externalRefs[1].referenceLocator)
      local by = {}
      for _, p in ipairs(doc.packages) do by[p.name] = p end
      assert.equal("Apache-2.0 OR (MIT AND BSD-3-Clause)", by.expr.licenseDeclared)
      assert.equal("LicenseRef-MIT-License", by.text.licenseDeclared)
      assert.equal("GPL-2.0+", by["@s/plus"].licenseDeclared)
      assert.same({ { licenseId = "LicenseRef-MIT-License", extractedText = "MIT License" } },
        doc.hasExtractedLicensingInfos)
      assert.equal("found in layer " .. LAYER .. " at /app/text", by.text.sourceInfo)
      assert.equal("found at /var/lib/dpkg/status", by.libc6.sourceInfo)
    end)

    it("is checked by rules that refuse what the specification forbids", function()
      local code, out = py(d, [=[
import copy, json, sys, jsonschema
good = json.load(open(sys.argv[1]))
rules = json.load(open(sys.argv[2] + '/spdx-2.3-rules.schema.json'))
def bad(change):
    doc = copy.deepcopy(good)
    change(doc)
    try:
        jsonschema.validate(doc, rules)
    except jsonschema.ValidationError:
        return 'refused'
    return 'accepted'
print(bad(lambda d: d.pop('documentNamespace')), bad(lambda d: d.update(documentNamespace='x#y')),
      bad(lambda d: d['packages'][1].update(SPDXID='SPDXRef-a_b')),
      bad(lambda d: d['packages'][1].update(licenseDeclared='MIT License')),
      bad(lambda d: d['packages'][1].update(packageVerificationCode={'packageVerificationCodeValue': '0' * 40})),
      bad(lambda d: d['creationInfo'].update(created='2023-11-14 22:13')),
      bad(lambda d: d['packages'][0]['checksums'][0].update(checksumValue='ABC')),
      bad(lambda d: d['packages'][1]['externalRefs'][0].update(referenceLocator='deb/x')),
      bad(lambda d: d.update(dataLicense='MIT')), bad(lambda d: d['packages'][1].pop('downloadLocation')),
      bad(lambda d: None))
]=], spdx.document(spec))
      assert.equal(0, code, out)
      assert.equal(("refused "):rep(10) .. "accepted\n", out)
    end)

    it("is the same bytes for the same packages and time, and names another namespace otherwise", function()
      local a, b = spdx.document(spec), spdx.document(spec)
      assert.equal(a, b)
      local later = {}
      for k, v in pairs(spec) do later[k] = v end
      later.epoch = spec.epoch + 1
      local c = spdx.document(later)
      assert.not_equal(json.decode(a).documentNamespace, json.decode(c).documentNamespace)
      local fewer = {}
      for k, v in pairs(spec) do fewer[k] = v end
      fewer.packages = { table.unpack(spec.packages, 2) }
      assert.not_equal(json.decode(a).documentNamespace, json.decode(spdx.document(fewer)).documentNamespace)
    end)
  end)

  describe("sbom.cyclonedx", function()
    it("writes CycloneDX 1.5 JSON: the image as a container, each package a component with its purl", function()
      local text = cyclonedx.document(spec)
      assert.equal(text, cyclonedx.document(spec))
      local code, out = py(d, [=[
import json, re, sys
b = json.load(open(sys.argv[1]))
assert b['bomFormat'] == 'CycloneDX' and b['specVersion'] == '1.5' and b['version'] == 1
assert re.match(r'^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$', b['serialNumber'])
root = b['metadata']['component']
assert root['type'] == 'container' and root['purl'].startswith('pkg:oci/')
refs = [c['bom-ref'] for c in b['components']]
assert len(refs) == len(set(refs))
assert b['dependencies'] == [{'ref': root['bom-ref'], 'dependsOn': refs}]
for c in b['components']:
    assert c['type'] in ('library', 'application') and c['purl'].startswith('pkg:') and c['name']
    for l in c.get('licenses', []):
        assert list(l) in (['expression'], ['license']), l
print(len(refs), b['metadata']['timestamp'])
]=], text)
      assert.equal(0, code, out)
      assert.equal(("%d 2023-11-14T22:13:20Z\n"):format(#spec.packages), out)
      local by = {}
      for _, c in ipairs(json.decode(text).components) do by[c.name] = c end
      assert.equal("application", by["example.com/app"].type)
      assert.same({ { license = { name = "MIT License" } } }, by.text.licenses)
      assert.same({ { expression = "GPL-2.0+" } }, by["@s/plus"].licenses)
      assert.same({ { name = "ocibuild:path", value = "/app/text" }, { name = "ocibuild:layer", value = LAYER } },
        by.text.properties)
    end)
  end)

  -- SPDX's and CycloneDX's own JSON schemas are in no Debian package and
  -- are not ocibuild's to ship: given their files, the documents are
  -- checked against them too. OCIBUILD_SPDX_SCHEMA: spdx-spec's
  -- schemas/spdx-schema.json of v2.3; OCIBUILD_CYCLONEDX_SCHEMAS:
  -- CycloneDX/specification's schema/ folder (bom-1.5.schema.json and the
  -- spdx and jsf schemas it refers to). Pending without them.
  describe("against the published schemas", function()
    local function check(env, what, code)
      local path = os.getenv(env)
      if not path or path == "" then return pending(env .. " is not set: " .. what .. " is not checked") end
      local rc, out = py(d, code:gsub("SCHEMA", path), what == "SPDX 2.3" and spdx.document(spec)
        or cyclonedx.document(spec))
      assert.equal(0, rc, out)
      assert.equal("valid\n", out)
    end

    it("SPDX 2.3: spdx-schema.json", function()
      check("OCIBUILD_SPDX_SCHEMA", "SPDX 2.3", [=[
import json, sys, jsonschema
jsonschema.Draft7Validator(json.load(open('SCHEMA'))).validate(json.load(open(sys.argv[1])))
print('valid')
]=])
    end)

    it("CycloneDX 1.5: bom-1.5.schema.json", function()
      check("OCIBUILD_CYCLONEDX_SCHEMAS", "CycloneDX 1.5", [=[
import json, sys, jsonschema
schema = json.load(open('SCHEMA/bom-1.5.schema.json'))
resolver = jsonschema.RefResolver('file://SCHEMA/', schema)
jsonschema.Draft7Validator(schema, resolver=resolver).validate(json.load(open(sys.argv[1])))
print('valid')
]=])
    end)
  end)

  describe("provenance and intoto", function()
    it("make a SLSA v1 statement about an image with the fields the issue asks for", function()
      local pred = provenance.predicate { version = "0.1.0",
        definition = { kind = "script", path = "build.lua", digest = "sha256:" .. ("cd"):rep(32) },
        args = { tag = "app:1", n = 3 }, platforms = { "linux/amd64" }, target = "final",
        bases = { { ref = "docker.io/library/debian:12", repository = "docker.io/library/debian", tag = "12",
          digest = "sha256:" .. ("ef"):rep(32) } },
        context = { git = { commit = ("a"):rep(40), remote = "https://example.com/team/app.git" } },
        started = 1, finished = 2, epoch = 1700000000 }
      local st = intoto.statement({ { name = "registry.example/team/app", digest = DIGEST } },
        provenance.PREDICATE_TYPE, pred)
      local text = json.encode(st)
      -- the same bytes when the predicate comes encoded already
      assert.equal(text, intoto.encode({ { name = "registry.example/team/app", digest = DIGEST } },
        provenance.PREDICATE_TYPE, json.encode(pred)))
      local back = json.decode(text)
      assert.equal("https://in-toto.io/Statement/v1", back._type)
      assert.same({ { name = "registry.example/team/app", digest = { sha256 = DIGEST:sub(8) } } }, back.subject)
      assert.equal("https://slsa.dev/provenance/v1", back.predicateType)
      local bd, rd = back.predicate.buildDefinition, back.predicate.runDetails
      assert.equal(provenance.BUILD_TYPE, bd.buildType)
      assert.same({ kind = "script", path = "build.lua", digest = { sha256 = ("cd"):rep(32) } },
        bd.externalParameters.definition)
      assert.same({ tag = "app:1", n = "3" }, bd.externalParameters.args)
      assert.same({ "linux/amd64" }, bd.externalParameters.platforms)
      assert.equal("final", bd.externalParameters.target)
      assert.same({ name = "docker.io/library/debian:12", digest = { sha256 = ("ef"):rep(32) },
        uri = "pkg:oci/debian@sha256:" .. ("ef"):rep(32) .. "?repository_url=docker.io/library/debian&tag=12" },
        bd.resolvedDependencies[1])
      assert.same({ name = "context", digest = { gitCommit = ("a"):rep(40) },
        uri = "git+https://example.com/team/app.git" },
        bd.resolvedDependencies[2])
      assert.same({ id = "urn:ocibuild:builder@0.1.0", version = { ocibuild = "0.1.0" } }, rd.builder)
      -- SOURCE_DATE_EPOCH fixes both times
      assert.same({ startedOn = "2023-11-14T22:13:20Z", finishedOn = "2023-11-14T22:13:20Z" }, rd.metadata)
      local free = provenance.predicate { version = "0.1.0", started = 10, finished = 20,
        builder_id = "https://ci.example/run" }
      assert.same({ startedOn = "1970-01-01T00:00:10Z", finishedOn = "1970-01-01T00:00:20Z" },
        json.decode(json.encode(free)).runDetails.metadata)
      assert.equal("https://ci.example/run", free.runDetails.builder.id)
      assert.same({}, json.decode(json.encode(free)).buildDefinition.resolvedDependencies)
    end)
  end)

  describe("dsse", function()
    it("signs the pre-authentication encoding, which openssl verifies, and refuses what was changed", function()
      local key = assert(core.key_generate())
      local pub = assert(core.key_load(key:public_pem(), { public = true }))
      local payload = json.encode(intoto.statement({ { name = "x", digest = DIGEST } }, "https://example.com/p",
        json.object {}))
      assert.equal("DSSEv1 28 application/vnd.in-toto+json 5 hello", dsse.pae(intoto.PAYLOAD_TYPE, "hello"))
      local env = assert(dsse.envelope(intoto.PAYLOAD_TYPE, payload, key, "k1"))
      local back = json.decode(json.encode(env))
      assert.equal(payload, core.base64_decode(back.payload))
      assert.equal("k1", back.signatures[1].keyid)
      T.write(d .. "/pae", dsse.pae(intoto.PAYLOAD_TYPE, payload))
      T.write(d .. "/sig", core.base64_decode(back.signatures[1].sig))
      T.write(d .. "/pub.pem", pub:public_pem())
      assert.equal("Verified OK\n", T.must(("openssl dgst -sha256 -verify %s -signature %s %s"):format(T.q(d
        .. "/pub.pem"),
        T.q(d .. "/sig"), T.q(d .. "/pae"))))
      assert.same({ payload, intoto.PAYLOAD_TYPE }, { dsse.verify(back, pub) })
      local function refused(e, why)
        local v, m, c = dsse.verify(e, pub)
        assert.same({ nil, "DSSE envelope " .. why, "BADSIG" }, { v, m, c })
      end
      local t = json.decode(json.encode(env))
      t.payloadType = "text/plain"
      refused(t, "has no signature that verifies with this key")
      t = json.decode(json.encode(env))
      t.payload = core.base64_encode(payload .. " ")
      refused(t, "has no signature that verifies with this key")
      local other = assert(core.key_load(assert(core.key_generate()):public_pem(), { public = true }))
      assert.same({ nil, "DSSE envelope has no signature that verifies with this key", "BADSIG" },
        { dsse.verify(back, other) })
      t = json.decode(json.encode(env))
      t.signatures = json.array {}
      refused(t, "has no signatures")
      t.payload = 7
      refused(t, "needs payload and payloadType strings")
    end)
  end)

  describe("git", function()
    it("reads the commit and the origin of a checkout as git does, without credentials", function()
      if T.sh("command -v git") ~= 0 then return pending("git is not installed") end
      local repo = d .. "/repo"
      T.must(("git init -q %s && cd %s && git config user.email a@b && git config user.name n && mkdir -p sub/dir"
        .. " && echo 1 > sub/dir/f && git add . && git commit -qm one"
        .. " && git remote add origin https://user:secret@example.com/team/app.git"):format(T.q(repo), T.q(repo)))
      local head = T.must("git -C " .. T.q(repo) .. " rev-parse HEAD"):match("%x+")
      assert.same({ commit = head, remote = "https://example.com/team/app.git" }, git.info(repo .. "/sub/dir"))
      T.must("git -C " .. T.q(repo) .. " pack-refs --all")
      assert.equal(head, git.info(repo).commit)
      T.must(("cd %s && echo 2 > sub/dir/f && git commit -qam two && git checkout -q --detach" ..
        " HEAD~1"):format(T.q(repo)))
      assert.equal(head, git.info(repo).commit)
      T.must(("git -C %s worktree add -q %s main 2>/dev/null || git -C %s worktree add -q %s master"):format(T.q(repo),
        T.q(d .. "/wt"), T.q(repo), T.q(d .. "/wt")))
      assert.equal(T.must("git -C " .. T.q(d .. "/wt") .. " rev-parse HEAD"):match("%x+"), git.info(d .. "/wt").commit)
      assert.is_nil(git.info("/"))
    end)
  end)
end)
