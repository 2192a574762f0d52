--- What the attestation specs share: ocibuild with a store, a fixed
-- SOURCE_DATE_EPOCH and the key passphrase; a base image made from real
-- files of this machine (its dpkg status and os-release, a Go program
-- built here, a Python distribution and an npm package); the real tools'
-- own view of them (dpkg-query, go version -m); reading what ocibuild
-- stored or printed.
local T = require "support"

local M = {}

M.EPOCH = "1700000000"

local function quote_all(...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return table.concat(words, " ")
end

--- ocibuild --store store ARGS, with SOURCE_DATE_EPOCH and the key
-- passphrase set: code, out, err.
function M.ocb(store, ...)
  return T.sh(("SOURCE_DATE_EPOCH=%s OCIBUILD_KEY_PASSWORD=spec-pass %s --store %s %s </dev/null"):format(M.EPOCH,
    T.q(T.bin), T.q(store), quote_all(...)))
end

--- The same, which must succeed: out.
function M.ok(store, ...)
  local code, out, err = M.ocb(store, ...)
  if code ~= 0 then error(("ocibuild %s failed (%d): %s%s"):format(quote_all(...), code, out, err), 2) end
  return out
end

function M.have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

--- A Go program built here (with the stdlib only); its path.
function M.go_binary(dir)
  T.write(dir .. "/go.mod", "module example.com/hello\n\ngo 1.19\n")
  T.write(dir .. "/main.go", 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n')
  T.must(("cd %s && env GOFLAGS=-mod=mod GOPROXY=off GOCACHE=%s go build -o hello ."):format(T.q(dir),
    T.q(T.build .. "/go-cache")))
  return dir .. "/hello"
end

--- `go version -m` of bin as "golang NAME VERSION" lines, sorted.
function M.go_version_m(bin)
  local out = T.must("go version -m " .. T.q(bin))
  local list = { "golang stdlib " .. out:match("^[^\n]*: (go[%d.]+)") }
  for kind, name, version in out:gmatch("\n\t(%S+)\t(%S+)\t(%S*)") do
    if kind == "mod" or kind == "dep" then list[#list + 1] = ("golang %s %s"):format(name, version) end
  end
  table.sort(list)
  return list
end

--- The installed packages dpkg-query lists on this machine: "deb NAME
-- VERSION" lines, sorted.
function M.dpkg_list()
  local out = T.must([[dpkg-query -W -f '${db:Status-Status} deb ${Package} ${Version}\n' | sed -n 's/^installed //p']])
  local list = {}
  for l in out:gmatch("[^\n]+") do list[#list + 1] = l end
  table.sort(list)
  return list
end

--- A context holding real files of this machine, and a Python
-- distribution and an npm package written here: {dir=, go= (the Go
-- binary, or nil without go)}.
function M.real_context(dir)
  T.write(dir .. "/etc/os-release", T.read("/etc/os-release"))
  T.write(dir .. "/var/lib/dpkg/status", T.read("/var/lib/dpkg/status"))
  T.write(dir .. "/usr/lib/python3/dist-packages/demo-1.2.dist-info/METADATA",
    "Metadata-Version: 2.1\nName: demo\nVersion: 1.2\nLicense: MIT\n\nA demo.\n")
  T.write(dir .. "/srv/app/node_modules/left-pad/package.json",
    '{"name":"left-pad","version":"1.3.0","license":"WTFPL"}')
  local go
  if M.have("go") then
    local bin = M.go_binary(dir .. "/../go-src")
    T.must(("mkdir -p %s && cp %s %s"):format(T.q(dir .. "/usr/local/bin"), T.q(bin),
      T.q(dir .. "/usr/local/bin/hello")))
    go = bin
  end
  return { dir = dir, go = go }
end

--- The image (index) a store names: {index=, image= (the platform
-- image's descriptor), attestation= (the attestation descriptor),
-- manifest= (the attestation manifest), statements= {decoded}, texts=
-- {bytes of each statement}}, for single-platform images.
function M.attested(store, ref)
  local idx = T.json(T.read(store .. "/index.json"))
  local entry
  for _, d in ipairs(idx.manifests) do
    if d.annotations and d.annotations["org.opencontainers.image.ref.name"] == ref then entry = d end
  end
  assert(entry, "no entry named " .. ref)
  local function blob(dg) return T.read(store .. "/blobs/sha256/" .. dg:sub(8)) end
  local index = T.json(blob(entry.digest))
  local out = { entry = entry, index = index, texts = {}, statements = {} }
  for _, d in ipairs(index.manifests) do
    if d.annotations and d.annotations["vnd.docker.reference.type"] == "attestation-manifest" then
      out.attestation = d
    else
      out.image = d
    end
  end
  if out.attestation then
    out.manifest = T.json(blob(out.attestation.digest))
    out.config = T.json(blob(out.manifest.config.digest))
    for i, l in ipairs(out.manifest.layers) do
      out.texts[i] = blob(l.digest)
      out.statements[i] = T.json(out.texts[i])
    end
  end
  out.blob = blob
  return out
end

--- Runs python3 code with argv (the SPDX rules' folder first): code, out.
function M.py(code, ...)
  local words = { T.q(T.root .. "/spec/support") }
  for _, a in ipairs { ... } do words[#words + 1] = T.q(a) end
  return T.sh(("/usr/bin/python3 -c %s %s"):format(T.q(code), table.concat(words, " ")))
end

--- Checks the SPDX document in file against the SPDX 2.3 rules and the
-- SPDX identifiers it refers to; returns "ok" or the reason.
function M.spdx_valid(file)
  local code, out = M.py([=[
import json, sys, jsonschema
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, json.load(open(sys.argv[1] + '/spdx-2.3-rules.schema.json')))
ids = [p['SPDXID'] for p in doc['packages']] + [f['SPDXID'] for f in doc.get('files', [])]
assert len(ids) == len(set(ids)), 'SPDXIDs repeat'
known = set(ids) | {'SPDXRef-DOCUMENT'}
for r in doc['relationships']:
    assert r['spdxElementId'] in known and r['relatedSpdxElement'] in known, r
for f in doc.get('files', []):
    assert [c['algorithm'] for c in f['checksums']].count('SHA1') == 1, f
print('ok')
]=], file)
  return code == 0 and out:gsub("\n$", "") or out
end

return M
