-- Attestations made at build time (--sbom, --provenance, --sign-key) and
-- what the store does with them: the layout BuildKit gives them, the
-- SBOM against the SPDX 2.3 rules and the real tools (dpkg-query, go
-- version -m, sha256sum, sha1sum) on a base made from real files of this
-- machine, reproducible bytes, multi-platform images, metadata that is not
-- UTF-8, read back by `sbom` and `provenance` (only when about the image),
-- kept by export and import, and rm, prune, images and fsck that
-- understand them.
local T = require "support"
local fx = require "cli.attestfx"

local ATT = "attestation-manifest"
local INTOTO = "application/vnd.in-toto+json"

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- The packages of an SPDX document as "TYPE NAME VERSION" (the purl's
-- type), those of type t only when given, sorted.
local function spdx_packages(doc, t)
  local out = {}
  for _, p in ipairs(doc.packages) do
    local purl = p.externalRefs and p.externalRefs[1].referenceLocator
    local ty = purl and purl:match("^pkg:([^/]+)/")
    if p.SPDXID ~= "SPDXRef-Image" and (not t or ty == t) then
      out[#out + 1] = ("%s %s %s"):format(ty, p.name, p.versionInfo or "")
    end
  end
  table.sort(out)
  return out
end

describe("ocibuild build --sbom --provenance", function()
  local base, store, real

  setup(function()
    base = T.tmpdir()
    store = base .. "/store"
    real = fx.real_context(base .. "/real")
    fx.ok(store, "build", real.dir, "-t", "real:base")
    T.write(base .. "/app/srv/app.txt", "the app\n")
    T.write(base .. "/app/srv/run.sh", "#!/bin/sh\necho app\n", 493)
  end)
  teardown(function() T.sh("rm -rf " .. T.q(base)) end)

  it("attaches them as BuildKit does: the image becomes an index of it and its attestation manifest", function()
    local out = fx.ok(store, "build", base .. "/app", "--from", "real:base", "-t", "app:1", "--sbom", "--provenance")
    local a = fx.attested(store, "app:1")
    assert.equal("application/vnd.oci.image.index.v1+json", a.entry.mediaType)
    assert.equal(2, #a.index.manifests)
    assert.same({ architecture = "amd64", os = "linux" }, a.image.platform)
    assert.same({ architecture = "unknown", os = "unknown" }, a.attestation.platform)
    assert.same({ ["vnd.docker.reference.type"] = ATT, ["vnd.docker.reference.digest"] = a.image.digest },
      a.attestation.annotations)
    assert.equal("application/vnd.oci.image.manifest.v1+json", a.attestation.mediaType)
    local types = {}
    for i, l in ipairs(a.manifest.layers) do
      assert.equal(INTOTO, l.mediaType)
      types[i] = l.annotations["in-toto.io/predicate-type"]
      assert.equal(l.digest, a.config.rootfs.diff_ids[i])
      local s = a.statements[i]
      assert.equal("https://in-toto.io/Statement/v1", s._type)
      assert.equal(types[i], s.predicateType)
      assert.equal(a.image.digest:sub(8), s.subject[1].digest.sha256)
    end
    assert.same({ "https://spdx.dev/Document", "https://slsa.dev/provenance/v1" }, types)
    assert.same({ "unknown", "unknown" }, { a.config.os, a.config.architecture })
    -- the build reports the index: what its tag names
    assert.truthy(out:find(a.entry.digest, 1, true), out)
  end)

  it("lists what dpkg-query, go version -m and the fixtures say the base holds, by SPDX 2.3's rules", function()
    fx.ok(store, "build", base .. "/app", "--from", "real:base", "-t", "app:2", "--sbom")
    local file = base .. "/app2.spdx.json"
    T.write(file, fx.ok(store, "sbom", "app:2"))
    assert.equal("ok", fx.spdx_valid(file))
    local doc = T.json(T.read(file))
    local want = fx.dpkg_list()
    assert.same(want, spdx_packages(doc, "deb"))
    assert.same({ "pypi demo 1.2" }, spdx_packages(doc, "pypi"))
    assert.same({ "npm left-pad 1.3.0" }, spdx_packages(doc, "npm"))
    if real.go then
      assert.same(fx.go_version_m(real.go), spdx_packages(doc, "golang"))
    end
    -- each package says the base layer it was found in
    local base_layer = T.image(store, "real:base").manifest.layers[1].digest
    for _, p in ipairs(doc.packages) do
      if p.SPDXID ~= "SPDXRef-Image" then
        assert.truthy(p.sourceInfo:find("found in layer " .. base_layer, 1, true), p.sourceInfo)
      end
    end
    assert.equal("2023-11-14T22:13:20Z", doc.creationInfo.created)
  end)

  it("with --sbom-files lists every file with the SHA-1 and SHA-256 sha1sum and sha256sum give", function()
    fx.ok(store, "build", base .. "/app", "--from", "real:base", "-t", "app:files", "--sbom", "--sbom-files")
    local file = base .. "/files.spdx.json"
    T.write(file, fx.ok(store, "sbom", "app:files"))
    assert.equal("ok", fx.spdx_valid(file))
    local doc = T.json(T.read(file))
    local got = {}
    for _, f in ipairs(doc.files) do
      local c = {}
      for _, x in ipairs(f.checksums) do c[x.algorithm] = x.checksumValue end
      got[f.fileName] = c
    end
    local count = 0
    for _, root in ipairs { real.dir, base .. "/app" } do
      local s256 = T.must(("cd %s && find . -type f | sort | xargs sha256sum"):format(T.q(root)))
      local s1 = T.must(("cd %s && find . -type f | sort | xargs sha1sum"):format(T.q(root)))
      local sha1 = {}
      for hex, p in s1:gmatch("(%x+)  ([^\n]+)") do sha1[p] = hex end
      for hex, p in s256:gmatch("(%x+)  ([^\n]+)") do
        count = count + 1
        assert.same({ SHA256 = hex, SHA1 = sha1[p] }, got[p], p)
      end
    end
    assert.equal(count, #doc.files)
    -- and the image's verification code is made of them (SPDX 2.3, 7.9)
    local sums = {}
    for _, c in pairs(got) do sums[#sums + 1] = c.SHA1 end
    table.sort(sums)
    local code = require("ocibuild.core").sha1_hex(table.concat(sums))
    assert.equal(code, doc.packages[1].packageVerificationCode.packageVerificationCodeValue)
  end)

  it("writes CycloneDX 1.5 with --sbom-format cyclonedx", function()
    fx.ok(store, "build", base .. "/app", "--from", "real:base", "-t", "app:cdx", "--sbom", "--sbom-format",
      "cyclonedx")
    local a = fx.attested(store, "app:cdx")
    assert.equal("https://cyclonedx.org/bom", a.manifest.layers[1].annotations["in-toto.io/predicate-type"])
    local bom = T.json(fx.ok(store, "sbom", "app:cdx"))
    assert.same({ "CycloneDX", "1.5" }, { bom.bomFormat, bom.specVersion })
    assert.equal(a.image.digest, bom.metadata.component.version)
    local n = 0
    for _, c in ipairs(bom.components) do if c.purl:match("^pkg:deb/") then n = n + 1 end end
    assert.equal(#fx.dpkg_list(), n)
  end)

  it("records the provenance: the definition, the base with its digest, the context's git commit", function()
    local ctx = base .. "/gitctx"
    T.write(ctx .. "/a.txt", "a\n")
    T.must(("cd %s && git init -q && git -c user.email=a@b -c user.name=a add a.txt && git -c user.email=a@b "
      .. "-c user.name=a commit -qm a && git remote add origin https://user:secret@git.example/team/app.git")
      :format(T.q(ctx)))
    local commit = T.must(("git -C %s rev-parse HEAD"):format(T.q(ctx))):match("%x+")
    fx.ok(store, "build", ctx, "--from", "real:base", "-t", "app:prov", "--provenance")
    local p = T.json(fx.ok(store, "provenance", "app:prov"))
    assert.equal("urn:ocibuild:buildtype:v1", p.buildDefinition.buildType)
    assert.same({ "linux/amd64" }, p.buildDefinition.externalParameters.platforms)
    assert.equal("flags", p.buildDefinition.externalParameters.definition.kind)
    local deps = p.buildDefinition.resolvedDependencies
    assert.equal(2, #deps)
    assert.equal("real:base", deps[1].name)
    assert.equal(T.image(store, "real:base").desc.digest:sub(8), deps[1].digest.sha256)
    assert.same({ name = "context", digest = { gitCommit = commit }, uri = "git+https://git.example/team/app.git" },
      deps[2])
    assert.same({ "2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z" },
      { p.runDetails.metadata.startedOn, p.runDetails.metadata.finishedOn })
    assert.matches("^urn:ocibuild:builder@", p.runDetails.builder.id)
  end)

  it("gives the same bytes on every build with SOURCE_DATE_EPOCH, and a rebuild that reads nothing too", function()
    local digests = {}
    for i = 1, 2 do
      local s = base .. "/repro" .. i
      fx.ok(s, "build", real.dir, "-t", "real:base")
      fx.ok(s, "build", base .. "/app", "--from", "real:base", "-t", "app:r", "--sbom", "--sbom-files",
        "--provenance")
      digests[i] = fx.attested(s, "app:r").entry.digest
    end
    assert.equal(digests[1], digests[2])
    T.must("sleep 2.2") -- so that the rebuild's layer state trusts what it saw
    fx.ok(base .. "/repro1", "build", base .. "/app", "--from", "real:base", "-t", "app:r", "--sbom", "--sbom-files",
      "--provenance")
    local code, out, err = fx.ocb(base .. "/repro1", "build", base .. "/app", "--from", "real:base", "-t", "app:r",
      "--sbom", "--sbom-files", "--provenance", "--progress", "json")
    assert.equal(0, code, err)
    assert.equal(digests[1], fx.attested(base .. "/repro1", "app:r").entry.digest)
    -- the layer is the earlier build's, its catalog the earlier one's note
    assert.truthy((out .. err):find('"stage":"layer","type":"end","whole":true', 1, true), out .. err)
  end)

  it("gives each platform image of a Dockerfile build its own attestation manifest", function()
    local ctx = base .. "/df"
    T.write(ctx .. "/Dockerfile", "FROM scratch\nARG WHAT=x\nCOPY . /app/\n")
    T.write(ctx .. "/a.txt", "a\n")
    fx.ok(store, "build", "-f", ctx .. "/Dockerfile", "--platform", "linux/amd64,linux/arm64", "--build-arg",
      "WHAT=y", "-t", "multi:1", "--sbom", "--provenance", ctx)
    local entry
    for _, d in ipairs(T.json(T.read(store .. "/index.json")).manifests) do
      if d.annotations["org.opencontainers.image.ref.name"] == "multi:1" then entry = d end
    end
    local idx = T.json(T.read(store .. "/blobs/sha256/" .. entry.digest:sub(8)))
    assert.equal(4, #idx.manifests)
    local images = {}
    for i = 1, 2 do images[idx.manifests[i].digest] = idx.manifests[i].platform.architecture end
    for i = 3, 4 do
      local d = idx.manifests[i]
      assert.equal(ATT, d.annotations["vnd.docker.reference.type"])
      assert.truthy(images[d.annotations["vnd.docker.reference.digest"]])
      images[d.annotations["vnd.docker.reference.digest"]] = nil
    end
    assert.same({}, images)
    local provs = lines(fx.ok(store, "provenance", "multi:1"))
    assert.equal(2, #provs)
    local sha = T.must("sha256sum " .. T.q(ctx .. "/Dockerfile")):match("%x+")
    local platforms = {}
    for i, l in ipairs(provs) do
      local ext = T.json(l).buildDefinition.externalParameters
      assert.same({ kind = "dockerfile", path = "Dockerfile", digest = { sha256 = sha } }, ext.definition)
      assert.same({ WHAT = "y" }, ext.args)
      platforms[i] = ext.platforms[1]
    end
    assert.same({ "linux/amd64", "linux/arm64" }, platforms)
    assert.equal(1, #lines(fx.ok(store, "sbom", "multi:1", "--platform", "linux/arm64")))
    -- a platform's pull from the store never picks an attestation manifest
    assert.truthy(fx.ok(store, "inspect", "multi:1", "--platform", "linux/arm64"):find("arm64", 1, true))
  end)

  it("records a script as the definition, with its args", function()
    local dir = base .. "/script"
    T.write(dir .. "/site/index.html", "<p>hi</p>\n")
    T.write(dir .. "/build.lua", [[
      local oci = require "ocibuild"
      local img = oci.image {}
      img:layer { context = "site", dest = "/srv" }
      return img:save { tag = args.tag, sbom = true, provenance = true }
    ]])
    fx.ok(store, "run", dir .. "/build.lua", "tag=site:1")
    local p = T.json(fx.ok(store, "provenance", "site:1")).buildDefinition.externalParameters
    assert.same({ kind = "script", path = "build.lua",
      digest = { sha256 = T.must("sha256sum " .. T.q(dir .. "/build.lua")):match("%x+") } }, p.definition)
    assert.same({ tag = "site:1" }, p.args)
    -- run's flags apply to a save that does not say
    T.write(dir .. "/plain.lua", [[
      local img = require("ocibuild").image {}
      img:layer { context = "site" }
      return img:save { tag = "site:2" }
    ]])
    fx.ok(store, "run", dir .. "/plain.lua", "--provenance")
    assert.truthy(fx.ok(store, "provenance", "site:2"):find("plain.lua", 1, true))
    local code, out, err = fx.ocb(store, "sbom", "site:2")
    assert.same({ 1, "", "ocibuild: site:2 has no attestation with an SBOM (build with --sbom)\n" }, { code, out, err })
  end)

  it("reads each base layer once, for the SBOM and the build's view of the base together", function()
    local s = base .. "/once"
    T.must(("mkdir -p %s && head -c 3000000 /dev/urandom > %s"):format(T.q(base .. "/heavy"),
      T.q(base .. "/heavy/random.bin")))
    T.write(base .. "/heavy/var/lib/dpkg/status", "Package: heavy\nStatus: install ok installed\nVersion: 2\n")
    fx.ok(s, "build", base .. "/heavy", "-t", "heavy:base")
    local layer = T.image(s, "heavy:base").manifest.layers[1]
    -- reads of the blob fail once they ask for more than one read's worth
    local function build(tag, budget)
      return T.sh(("SOURCE_DATE_EPOCH=%s LD_PRELOAD=%s OCB_FAULT_OP=read OCB_FAULT_PATH=blobs/sha256/%s "
        .. "OCB_FAULT_AFTER=%d %s --store %s build %s --from heavy:base --dest /srv -t %s --sbom </dev/null")
        :format(fx.EPOCH, T.q(T.build .. "/lib/fault.so"), layer.digest:sub(8), budget, T.q(T.bin), T.q(s),
          T.q(base .. "/app"), tag))
    end
    local code, out, err = build("on:1", layer.size * 3 // 2)
    assert.equal(0, code, out .. err)
    assert.truthy(fx.ok(s, "sbom", "on:1"):find('"name":"heavy"', 1, true))
    -- the next build reads it once too, to verify it as every build does
    -- its base; what it holds comes from the store's notes
    code, out, err = build("on:2", layer.size * 3 // 2)
    assert.equal(0, code, out .. err)
  end)

  it("refuses mistaken flags before any work, one line each", function()
    local s = base .. "/never"
    for _, c in ipairs {
      { { "--sbom-format", "cyclonedx" }, "--sbom-format and --sbom-files go with --sbom" },
      { { "--sbom", "--sbom-format", "syft" }, '--sbom-format must be spdx or cyclonedx, got "syft"' },
      { { "--attest-signed", "--sbom" }, "--attest-signed needs --sign-key" },
    } do
      local code, out, err = fx.ocb(s, "build", base .. "/app", "-t", "x:1", table.unpack(c[1]))
      assert.same({ 2, "" }, { code, out }, err)
      assert.equal("ocibuild: " .. c[2] .. " (see 'ocibuild build --help')\n", err)
    end
    local code, out, err = fx.ocb(s, "build", base .. "/app", "-t", "x:1", "--sign-key", base .. "/no.key")
    assert.same({ 1, "" }, { code, out })
    assert.matches("^ocibuild: ENOENT: No such file or directory: .*no%.key\n$", err)
    code, out, err = fx.ocb(s, "build", base .. "/app", "--sign-key", base .. "/no.key")
    assert.same({ 2, "", "ocibuild: sign needs a tag or a push: a signature names the image's repository "
      .. "(see 'ocibuild build --help')\n" }, { code, out, err })
    assert.is_false(T.exists(s .. "/index.json"))
  end)
end)

describe("the store with attestations and signatures", function()
  local base, store, keys

  setup(function()
    base = T.tmpdir()
    store = base .. "/store"
    keys = base .. "/k"
    fx.ok(store, "keygen", "--output-key-prefix", keys)
    T.write(base .. "/ctx/etc/os-release", "ID=demo\nVERSION_ID=1\n")
    T.write(base .. "/ctx/var/lib/dpkg/status", "Package: demo\nStatus: install ok installed\nVersion: 1.0\n")
  end)
  teardown(function() T.sh("rm -rf " .. T.q(base)) end)

  it("signs the index, its image and with --attest-signed its attestations; sbom --key checks", function()
    fx.ok(store, "build", base .. "/ctx", "-t", "signed:1", "--sbom", "--sign-key", keys .. ".key", "--attest-signed")
    local a = fx.attested(store, "signed:1")
    for _, dg in ipairs { a.entry.digest, a.image.digest, a.attestation.digest } do
      assert.truthy(fx.ok(store, "verify", "--key", keys .. ".pub", "signed@" .. dg):find("verified: ", 1, true))
    end
    assert.truthy(fx.ok(store, "sbom", "signed:1", "--key", keys .. ".pub"):find('"name":"demo"', 1, true))
    fx.ok(store, "keygen", "--output-key-prefix", base .. "/other")
    local code, out, err = fx.ocb(store, "sbom", "signed:1", "--key", base .. "/other.pub")
    assert.same({ 1, "" }, { code, out })
    assert.truthy(err:find("attestation manifest " .. a.attestation.digest .. ": no signature of", 1, true), err)
    -- one image listed, its signatures and attestations counted
    local list = lines(fx.ok(store, "images", "--format", "json"))
    assert.equal(1, #list)
    local o = T.json(list[1])
    assert.same({ 1, 3, { "linux/amd64" } }, { o.attestations, o.signatures, o.platforms })
    assert.equal("checked", fx.ok(store, "fsck"):match("^(%a+)"))
  end)

  it("sbom and provenance --key refuse a signed statement an index places beside another image", function()
    fx.ok(store, "build", base .. "/ctx", "-t", "about:1", "--sbom", "--provenance", "--sign-key", keys .. ".key",
      "--attest-signed")
    T.write(base .. "/ctx-other/f", "another image\n")
    fx.ok(store, "build", base .. "/ctx-other", "-t", "about:other")
    -- an index of about:other and about:1's attestation manifest, its
    -- annotation pointing at about:other; in the same repository, so that
    -- the attestation's signature is found
    T.must(("/usr/bin/python3 -c %s %s"):format(T.q([[
import hashlib, json, sys
store = sys.argv[1]
def blob(dg): return json.load(open(store + "/blobs/sha256/" + dg[7:]))
top = json.load(open(store + "/index.json"))
by = {d["annotations"]["org.opencontainers.image.ref.name"]: d for d in top["manifests"]}
att = [d for d in blob(by["about:1"]["digest"])["manifests"]
       if d.get("annotations", {}).get("vnd.docker.reference.type") == "attestation-manifest"][0]
other = by["about:other"]
att["annotations"]["vnd.docker.reference.digest"] = other["digest"]
img = {k: other[k] for k in ("mediaType", "digest", "size", "platform")}
b = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [img, att]}).encode()
dg = "sha256:" + hashlib.sha256(b).hexdigest()
open(store + "/blobs/sha256/" + dg[7:], "wb").write(b)
top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": dg, "size": len(b),
                         "annotations": {"org.opencontainers.image.ref.name": "about:moved"}})
json.dump(top, open(store + "/index.json", "w"))
]]), T.q(store)))
    local a, other = fx.attested(store, "about:1"), T.image(store, "about:other").desc.digest
    for i, kind in ipairs { "sbom", "provenance" } do
      local code, out, err = fx.ocb(store, kind, "about:moved", "--key", keys .. ".pub")
      assert.same({ 1, "", ("ocibuild: attestation %s layer %d: its statement is not about image %s (its subject "
        .. "names another): refused\n"):format(a.attestation.digest, i, other) }, { code, out, err })
      assert.equal(a.texts[i] .. "\n", fx.ok(store, kind, "about:1", "--key", keys .. ".pub", "--statement"))
    end
  end)

  it("writes package metadata that is not UTF-8 with U+FFFD for its bytes, in SPDX and in CycloneDX", function()
    T.write(base .. "/latin1/usr/lib/python3/dist-packages/caf-1.0.dist-info/METADATA",
      "Metadata-Version: 2.1\nName: caf\233\nVersion: 1.0\nLicense: Licence \169\n\nCaf\233.\n")
    for _, f in ipairs { "spdx", "cyclonedx" } do
      -- a store each: the next build would take the layer's catalog noted by the first
      local s = base .. "/latin1-" .. f
      local code, out, err = fx.ocb(s, "build", base .. "/latin1", "-t", "latin:1", "--sbom", "--sbom-format", f)
      assert.same({ 0, false }, { code, err:find("internal error", 1, true) ~= nil }, out .. err)
      local text = fx.ok(s, "sbom", "latin:1")
      assert.is_number(utf8.len(text))
      local doc = T.json(text)
      local p
      for _, x in ipairs(doc.packages or doc.components) do
        local purl = x.purl or x.externalRefs and x.externalRefs[1].referenceLocator
        if purl and purl:match("^pkg:pypi/") then p = x end
      end
      assert.equal("caf\u{FFFD}", p.name)
      if f == "spdx" then
        T.write(s .. ".spdx.json", text)
        assert.equal("ok", fx.spdx_valid(s .. ".spdx.json"))
        assert.equal("LicenseRef-Licence", p.licenseDeclared)
        assert.same({ { licenseId = "LicenseRef-Licence", extractedText = "Licence \u{FFFD}" } },
          doc.hasExtractedLicensingInfos)
      else
        assert.same({ { license = { name = "Licence \u{FFFD}" } } }, p.licenses)
      end
    end
  end)

  it("takes an image's signatures with it on rm, and prune drops those whose image is gone", function()
    fx.ok(store, "build", base .. "/ctx", "-t", "gone:1", "--sbom")
    fx.ok(store, "sign", "--recursive", "--key", keys .. ".key", "gone:1")
    local a = fx.attested(store, "gone:1")
    local function names()
      local t = {}
      for _, d in ipairs(T.json(T.read(store .. "/index.json")).manifests) do
        t[#t + 1] = d.annotations["org.opencontainers.image.ref.name"]
      end
      table.sort(t)
      return table.concat(t, " ")
    end
    assert.truthy(names():find("gone:sha256-" .. a.image.digest:sub(8) .. ".sig", 1, true))
    local out = fx.ok(store, "rm", "gone:1")
    assert.truthy(out:find("untagged: gone:sha256-" .. a.entry.digest:sub(8) .. ".sig", 1, true), out)
    assert.is_nil(names():find("gone:", 1, true))
    -- a signature left behind (as rm once did): prune drops it
    fx.ok(store, "build", base .. "/ctx", "-t", "left:1")
    fx.ok(store, "sign", "--key", keys .. ".key", "left:1")
    local idx = T.json(T.read(store .. "/index.json"))
    local keep = {}
    for _, d in ipairs(idx.manifests) do
      if d.annotations["org.opencontainers.image.ref.name"] ~= "left:1" then keep[#keep + 1] = d end
    end
    idx.manifests = keep
    T.write(store .. "/index.json", require("cjson").encode(idx))
    assert.truthy(names():find("left:sha256-", 1, true))
    fx.ok(store, "prune")
    assert.is_nil(names():find("left:", 1, true))
    assert.equal("checked", fx.ok(store, "fsck"):match("^(%a+)"))
  end)

  it("keeps them through export and import, byte for byte", function()
    fx.ok(store, "build", base .. "/ctx", "-t", "moved:1", "--sbom", "--provenance")
    fx.ok(store, "export", "moved:1", "-o", base .. "/moved.tar")
    local other = base .. "/other-store"
    fx.ok(other, "import", base .. "/moved.tar")
    local a, b = fx.attested(store, "moved:1"), fx.attested(other, "moved:1")
    assert.equal(a.entry.digest, b.entry.digest)
    assert.same(a.texts, b.texts)
    assert.equal(fx.ok(store, "sbom", "moved:1", "--statement"), fx.ok(other, "sbom", "moved:1", "--statement"))
    assert.equal(a.texts[1] .. "\n", fx.ok(other, "sbom", "moved:1", "--statement"))
  end)

  it("compares two attested single-platform images with diff, as their images", function()
    fx.ok(store, "build", base .. "/ctx", "-t", "cmp:1", "--sbom")
    T.write(base .. "/ctx2/etc/os-release", "ID=demo\nVERSION_ID=2\n")
    fx.ok(store, "build", base .. "/ctx2", "-t", "cmp:2", "--sbom")
    local code, out, err = fx.ocb(store, "diff", "cmp:1", "cmp:2")
    assert.equal(1, code, err)
    local a, b = fx.attested(store, "cmp:1"), fx.attested(store, "cmp:2")
    assert.truthy(out:find("--- cmp:1 " .. a.image.digest, 1, true), out)
    assert.truthy(out:find("+++ cmp:2 " .. b.image.digest, 1, true), out)
  end)

  it("fsck names an attestation manifest of an image its index does not list", function()
    fx.ok(store, "build", base .. "/ctx", "-t", "odd:1", "--provenance")
    local a = fx.attested(store, "odd:1")
    local text = a.blob(a.entry.digest)
    local bad = text:gsub(a.image.digest:sub(8) .. '","vnd.docker.reference.type', ("0"):rep(64)
      .. '","vnd.docker.reference.type')
    local dg = "sha256:" .. T.must("printf %s " .. T.q(bad) .. " | sha256sum"):match("%x+")
    T.write(store .. "/blobs/sha256/" .. dg:sub(8), bad)
    local idx = T.json(T.read(store .. "/index.json"))
    for _, d in ipairs(idx.manifests) do
      if d.digest == a.entry.digest then d.digest, d.size = dg, #bad end
    end
    T.write(store .. "/index.json", require("cjson").encode(idx))
    local code, out = fx.ocb(store, "fsck")
    assert.equal(1, code)
    assert.truthy(out:find(("index %s: manifests[2] is an attestation manifest of sha256:%s, which the index does "
      .. "not list"):format(dg, ("0"):rep(64)), 1, true), out)
  end)
end)
