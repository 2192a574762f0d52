-- Package detectors against the real tools on real data: this machine's
-- dpkg status against `dpkg-query -W`, its Python distributions against
-- importlib.metadata, its JARs against Python's zipfile, npm's own
-- node_modules against node, Go binaries (one built here with a
-- replaced dependency, and the machine's) against `go version -m`; each
-- read from a folder and, built into an image, from its layer through the
-- tar reader, where a later layer's whiteout takes packages away.
local T = require "support"
local detect = require "ocibuild.attest.detect"
local source = require "ocibuild.attest.detect.source"
local store_mod = require "ocibuild.store"

local PY = "/usr/bin/python3"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  table.sort(out)
  return out
end

-- "type name version" of the packages of a scan, sorted (and of one type).
local function listed(r, ty)
  local out = {}
  for _, p in ipairs(r.packages) do
    if not ty or p.type == ty then
      out[#out + 1] = ("%s %s %s"):format(p.type, p.namespace and (p.namespace .. "/" .. p.name) or p.name, p.version)
    end
  end
  table.sort(out)
  return out
end

local function scan_dir(dir) return assert(detect.scan(source.dir(dir))) end

-- The layer digests of the image tag in store dir, lowest first.
local function layers(store, tag)
  local img = T.image(store, tag)
  local out = {}
  for i, l in ipairs(img.manifest.layers) do out[i] = l.digest end
  return out
end

local function scan_layers(store, tag)
  local st = assert(store_mod.open(store))
  local srcs = {}
  for i, dg in ipairs(layers(store, tag)) do srcs[i] = source.layer(st, dg) end
  return assert(detect.layers(srcs))
end

-- A Go program with a dependency replaced by a local folder, built here.
local function go_binary(dir)
  T.write(dir .. "/lib/go.mod", "module example.com/lib\n\ngo 1.19\n")
  T.write(dir .. "/lib/lib.go", 'package lib\n\nfunc Hello() string { return "hello" }\n')
  T.write(dir .. "/app/go.mod", "module example.com/app\n\ngo 1.19\n\nrequire example.com/lib v0.1.0\n\n"
    .. "replace example.com/lib => ../lib\n")
  T.write(dir .. "/app/main.go", 'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/lib"\n)\n\n'
    .. "func main() { fmt.Println(lib.Hello()) }\n")
  T.must(("cd %s && env GOFLAGS=-mod=mod GOPROXY=off GOCACHE=%s go build -o hello ."):format(T.q(dir .. "/app"),
    T.q(T.build .. "/go-cache")))
  return dir .. "/app/hello"
end

-- `go version -m` of a binary as the detector's list: "golang NAME VERSION".
local function go_version_m(bin)
  local out = T.must("go version -m " .. T.q(bin))
  local list = { "golang stdlib " .. out:match("^[^\n]*: (go[%d.]+)") }
  for kind, name, version in out:gmatch("\n\t(%S+)\t(%S+)\t(%S*)") do
    if kind == "mod" or kind == "dep" then list[#list + 1] = ("golang %s %s"):format(name, version) end
  end
  table.sort(list)
  return list, out
end

describe("ocibuild.attest.detect", function()
  local d, root

  setup(function()
    d = T.tmpdir()
    root = d .. "/root"
    -- a base made of real files of this machine
    T.must(("mkdir -p %s/var/lib/dpkg %s/etc && cp /var/lib/dpkg/status %s/var/lib/dpkg/ && cp /etc/os-release %s/etc/")
      :format(T.q(root), T.q(root), T.q(root), T.q(root)))
  end)
  teardown(function() T.sh("rm -rf " .. T.q(d)) end)

  describe("dpkg", function()
    it("finds the installed packages dpkg-query lists, with their purls", function()
      local want = lines(T.must([[dpkg-query -W -f '${db:Status-Status} deb ${Package} ${Version}\n' ]]
        .. [[| sed -n 's/^installed //p']]))
      local r = scan_dir(root)
      assert.same(want, listed(r, "deb"))
      assert.equal(#want, #r.packages)
      local osr = T.read("/etc/os-release")
      local id, ver = osr:match("\nID=\"?([%w.-]+)"), osr:match("\nVERSION_ID=\"?([%w.-]+)")
      local arch = T.must("dpkg --print-architecture"):match("%S+")
      local libc = T.must("dpkg-query -W -f '${Version}' libc6"):match("%S+")
      local found
      for _, p in ipairs(r.packages) do
        if p.name == "libc6" then found = p end
      end
      assert.equal(("pkg:deb/%s/libc6@%s?arch=%s&distro=%s-%s"):format(id, libc:gsub("%+", "%%2B"), arch, id, ver),
        found.purl)
      assert.equal("/var/lib/dpkg/status", found.path)
    end)

    it("reads distroless status.d files, and counts only installed packages of a status file", function()
      local dir = d .. "/distroless"
      T.write(dir .. "/var/lib/dpkg/status.d/base-files", "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n")
      T.write(dir .. "/var/lib/dpkg/status.d/base-files.md5sums", "0123 etc/debian_version\n")
      T.write(dir .. "/var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"
        .. "Description: time zone\n and daylight-saving time data\n")
      T.write(dir .. "/other/var/lib/dpkg/status", "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
        .. "Package: kept\nStatus: install ok installed\nVersion: 2:1.0-1\nArchitecture: amd64\n")
      assert.same({ "deb base-files 12.4", "deb tzdata 2024a-0+deb12u1" }, listed(scan_dir(dir)))
      local r = scan_dir(dir .. "/other")
      assert.same({ "deb kept 2:1.0-1" }, listed(r))
      assert.equal("pkg:deb/debian/kept@2:1.0-1?arch=amd64", r.packages[1].purl)
    end)
  end)

  describe("python", function()
    it("reads this machine's dist-info and egg-info metadata as importlib.metadata does", function()
      local dir = d .. "/py"
      local site = dir .. "/usr/lib/python3/dist-packages"
      T.must(("mkdir -p %s && cd /usr/lib/python3/dist-packages && for m in *.dist-info/METADATA" ..
        " *.egg-info/PKG-INFO; do "
        .. "[ -f \"$m\" ] && mkdir -p %s/$(dirname \"$m\") && cp \"$m\" %s/\"$m\"; done; true"):format(T.q(site),
        T.q(site), T.q(site)))
      local want = lines(T.must(("%s -c %s %s"):format(PY, T.q([=[
import importlib.metadata as m, sys
for d in m.distributions(path=[sys.argv[1]]):
    print('pypi', d.metadata['Name'], d.version)]=]), T.q(site))))
      assert.truthy(#want > 10, #want)
      assert.same(want, listed(scan_dir(dir)))
    end)

    it("takes the licence importlib.metadata shows: License-Expression, a License line, or classifiers", function()
      local dir = d .. "/pyfix/site"
      T.write(dir .. "/Demo_Pkg-1.2.3.dist-info/METADATA", "Metadata-Version: 2.4\nName: Demo_Pkg\nVersion: 1.2.3\n"
        .. "License-Expression: Apache-2.0 OR MIT\nClassifier: License :: OSI Approved :: MIT License\n\nlong text\n")
      T.write(dir .. "/other-2.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: other\nVersion: 2.0\n"
        .. "License: BSD-3-Clause\n")
      T.write(dir .. "/third-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: third\nVersion: 0.1\n"
        .. "License: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\nClassifier: Programming" ..
        " Language :: Python\n")
      local shown = lines(T.must(("%s -c %s %s"):format(PY, T.q([=[
import importlib.metadata as m, sys
for d in m.distributions(path=[sys.argv[1]]):
    md = d.metadata
    lic = md.get('License-Expression') or (md.get('License') if md.get('License') not in (None, 'UNKNOWN') else None) \
        or ' OR '.join(c.split(' :: ')[-1] for c in md.get_all('Classifier') or [] if c.startswith('License ::'))
    print(md['Name'], d.version, lic)]=]), T.q(dir))))
      local r = scan_dir(dir)
      local got = {}
      for i, p in ipairs(r.packages) do got[i] = ("%s %s %s"):format(p.name, p.version, p.license) end
      table.sort(got)
      assert.same(shown, got)
      local purls = {}
      for i, p in ipairs(r.packages) do purls[i] = p.purl end
      assert.same({ "pkg:pypi/demo-pkg@1.2.3", "pkg:pypi/other@2.0", "pkg:pypi/third@0.1" }, purls)
    end)
  end)

  describe("node", function()
    it("reads npm's own node_modules as node does, scoped and nested packages too", function()
      if not have("node") then return pending("node is not installed") end
      local dir = d .. "/node"
      T.must(("mkdir -p %s && cp -r /usr/lib/node_modules/npm/node_modules %s/"):format(T.q(dir), T.q(dir)))
      T.write(dir .. "/node_modules/@scope/pkg/package.json", '{"name":"@scope/pkg","version":"1.0.0-beta.1",'
        .. '"license":{"type":"ISC"}}')
      T.write(dir .. "/node_modules/a/node_modules/b/package.json", '{"name":"b","version":"2.0.0","licenses":'
        .. '[{"type":"MIT"},{"type":"Apache-2.0"}]}')
      T.write(dir .. "/node_modules/broken/package.json", '{"name":"broken",')
      local want = lines(T.must(("cd %s && find node_modules -name package.json | node -e %s"):format(T.q(dir), T.q([=[
const fs = require('fs'), path = require('path');
const files = fs.readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const f of files) {
  if (!/(^|\/)node_modules\/(@[^/]+\/)?[^/]+\/package\.json$/.test(f)) continue;
  let p; try { p = JSON.parse(fs.readFileSync(f, 'utf8')); } catch (e) { continue; }
  if (typeof p.name === 'string' && typeof p.version === 'string') console.log('npm ' + p.name + ' ' + p.version);
}]=]))))
      local r = scan_dir(dir)
      assert.truthy(#want > 50, #want)
      assert.same(want, listed(r))
      assert.same({ "/node_modules/broken/package.json: invalid JSON at byte 18: expected a key" }, r.warnings)
      for _, p in ipairs(r.packages) do
        if p.name == "@scope/pkg" then
          assert.equal("pkg:npm/%40scope/pkg@1.0.0-beta.1", p.purl)
          assert.equal("ISC", p.license)
        elseif p.name == "b" then
          assert.equal("MIT OR Apache-2.0", p.license)
          assert.equal("/node_modules/a/node_modules/b/package.json", p.path)
        end
      end
    end)
  end)

  describe("maven", function()
    it("reads the pom.properties of this machine's JARs as Python's zipfile does", function()
      local dir = d .. "/java"
      T.must(("mkdir -p %s && cp /usr/share/java/*.jar %s/ 2>/dev/null; true"):format(T.q(dir), T.q(dir)))
      local want = lines(T.must(("%s -c %s %s"):format(PY, T.q([=[
import re, sys, zipfile, glob
for j in sorted(glob.glob(sys.argv[1] + '/*.jar')):
    try:
        z = zipfile.ZipFile(j)
    except Exception:
        continue
    for n in z.namelist():
        if re.match(r'^META-INF/maven/[^/]+/[^/]+/pom\.properties$', n):
            p = {}
            for line in z.read(n).decode('latin-1').splitlines():
                line = line.strip()
                if line and line[0] not in '#!' and '=' in line:
                    k, v = line.split('=', 1)
                    p[k.strip()] = v.strip()
            if {'groupId', 'artifactId', 'version'} <= p.keys():
                print('maven %s/%s %s' % (p['groupId'], p['artifactId'], p['version']))]=]), T.q(dir))))
      if #want == 0 then return pending("no JAR with pom.properties on this machine") end
      assert.same(want, listed(scan_dir(dir)))
    end)

    it("reads deflated, stored, ZIP64 and nested JARs, and says which ones it cannot read", function()
      local dir = d .. "/jars"
      T.must(("mkdir -p %s && %s -c %s %s"):format(T.q(dir), PY, T.q([=[
import io, sys, zipfile
def props(g, a, v):
    return ('#Generated\ngroupId=%s\nartifactId=%s\nversion=%s\n' % (g, a, v)).encode()
def jar(path_or_buf, entries, comp=zipfile.ZIP_DEFLATED, z64=False):
    with zipfile.ZipFile(path_or_buf, 'w', comp) as z:
        for n, data in entries:
            with z.open(n, 'w', force_zip64=z64) as f:
                f.write(data)
d = sys.argv[1]
jar(d + '/deflated.jar', [('META-INF/MANIFEST.MF', b'Manifest-Version: 1.0\n'),
    ('META-INF/maven/org.example/deflated/pom.properties', props('org.example', 'deflated', '1.0.0'))])
jar(d + '/stored.war', [('META-INF/maven/org.example/stored/pom.properties', props('org.example', 'stored', '2.0'))],
    zipfile.ZIP_STORED)
jar(d + '/big.jar', [('META-INF/maven/org.example/z64/pom.properties', props('org.example', 'z64', '3.0'))], z64=True)
inner = io.BytesIO()
jar(inner, [('META-INF/maven/com.acme/inner/pom.properties', props('com.acme', 'inner', '0.9'))])
jar(d + '/boot.jar', [('BOOT-INF/lib/inner-0.9.jar', inner.getvalue()),
    ('META-INF/maven/com.acme/boot/pom.properties', props('com.acme', 'boot', '1.1'))], zipfile.ZIP_STORED)
open(d + '/broken.jar', 'wb').write(b'PK\x03\x04 not really a zip')]=]), T.q(dir)))
      local r = scan_dir(dir)
      assert.same({ "maven com.acme/boot 1.1", "maven com.acme/inner 0.9", "maven org.example/deflated 1.0.0",
        "maven org.example/stored 2.0", "maven org.example/z64 3.0" }, listed(r))
      assert.same({ "/broken.jar: no end of central directory: not a zip archive" }, r.warnings)
      for _, p in ipairs(r.packages) do
        if p.name == "deflated" then assert.equal("pkg:maven/org.example/deflated@1.0.0", p.purl) end
      end
    end)
  end)

  describe("golang", function()
    it("reads a Go binary's build information as `go version -m` shows it", function()
      if not have("go") then return pending("go is not installed") end
      local bin = go_binary(d .. "/go")
      local want, shown = go_version_m(bin)
      assert.truthy(shown:find("\n\t=>\t../lib\t(devel)", 1, true), shown)
      T.must(("mkdir -p %s/usr/local/bin && cp %s %s/usr/local/bin/hello"):format(T.q(d .. "/gor"), T.q(bin), T.q(d
        .. "/gor")))
      local r = scan_dir(d .. "/gor")
      assert.same(want, listed(r))
      local purls = {}
      for _, p in ipairs(r.packages) do
        purls[#purls + 1] = p.purl
        if p.name == "example.com/lib" then assert.same({ name = "../lib", version = "(devel)" }, p.replaced_by) end
      end
      assert.same({ "pkg:golang/example.com/app", "pkg:golang/example.com/lib@v0.1.0",
        "pkg:golang/stdlib@" .. want[#want]:match("go[%d.]+") }, purls)
    end)

    it("reads the Go binaries of this machine (built without modules) as `go version -m` does", function()
      if not have("go") then return pending("go is not installed") end
      local dir = d .. "/gobins"
      local n = 0
      for _, b in ipairs { "/usr/bin/skopeo", "/usr/bin/umoci", "/usr/bin/docker-registry" } do
        if T.exists(b) then
          T.must(("mkdir -p %s && cp %s %s/"):format(T.q(dir), b, T.q(dir)))
          n = n + 1
        end
      end
      if n == 0 then return pending("no Go binaries on this machine") end
      local want = {}
      for _, name in ipairs(lines(T.must("ls " .. T.q(dir)))) do
        for _, l in ipairs((go_version_m(dir .. "/" .. name))) do want[#want + 1] = l end
      end
      table.sort(want)
      -- and nothing from ELF files that are no Go programs
      T.must(("cp /bin/ls %s/"):format(T.q(dir)))
      assert.same(want, listed(scan_dir(dir)))
    end)
  end)

  describe("hostile files", function()
    it("give no packages and raise nothing: a ZIP64 field longer than its entry, an ELF cut after the magic", function()
      local zip = require "ocibuild.attest.detect.zip"
      local golang = require "ocibuild.attest.detect.golang"
      local name, extra = "a", string.pack("<I2I2", 1, 24) .. "xx"
      local cd = "PK\1\2" .. ("\0"):rep(16) .. string.pack("<I4I4I2I2I2", 0xFFFFFFFF, 0xFFFFFFFF, #name, #extra, 0)
        .. ("\0"):rep(8) .. string.pack("<I4", 0) .. name .. extra
      local eocd = "PK\5\6" .. string.pack("<I2I2I2I2I4I4I2", 0, 0, 1, 1, #cd, 0, 0)
      local entries = assert(zip.entries(cd .. eocd))
      assert.equal(0xFFFFFFFF, entries[1].size)
      assert.same({ nil, "a: damaged local header", "BADPACKAGE" }, { zip.read(cd .. eocd, entries[1], 100) })
      -- a writable segment at 0x80, where the build information's magic starts and the file ends
      local elf = "\127ELF\2\1" .. ("\0"):rep(26) .. string.pack("<I8", 0x40) .. ("\0"):rep(14)
        .. string.pack("<I2I2", 56, 1) .. ("\0"):rep(6) .. string.pack("<I4I4I8", 1, 6, 0x80) .. ("\0"):rep(48)
      elf = elf .. ("\0"):rep(0x80 - #elf) .. "\255 Go buildinf:"
      assert.same({}, golang.parse("x", elf, { cut = false }))
    end)
  end)

  describe("stanza", function()
    it("joins 200,000 continuation lines, and reads the fields and the stanza after them", function()
      local stanza = require "ocibuild.attest.detect.stanza"
      local n, more = 200000, {}
      for i = 1, n do more[i] = ("line %06d of a licence text that goes on and on"):format(i) end
      local text = "Package: big\nDescription: first\n " .. table.concat(more, "\n ") .. "\nVersion: 1\n\n"
        .. "Package: next\n"
      local out = stanza.parse(text)
      assert.equal(2, #out)
      local v = out[1].fields.Description
      assert.equal(#"first" + n * (1 + #more[1]), #v)
      assert.equal("first\n" .. more[1] .. "\n" .. more[2] .. "\n", v:sub(1, 8 + 2 * #more[1]))
      assert.equal("\n" .. more[n - 1] .. "\n" .. more[n], v:sub(-2 - 2 * #more[1]))
      assert.same({ v }, out[1].all.Description)
      assert.same({ "big", "1" }, { out[1].fields.Package, out[1].fields.Version })
      assert.same({ Package = "next" }, out[2].fields)
    end)
  end)

  describe("apk", function()
    it("reads Alpine's installed database", function()
      T.write(d .. "/alpine/lib/apk/db/installed", "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nL:MIT\no:musl\n"
        .. "\nC:Q1def=\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\nF:bin\nR:busybox\n\n")
      T.write(d .. "/alpine/etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n')
      local r = scan_dir(d .. "/alpine")
      assert.same({ "apk busybox 1.36.1-r5", "apk musl 1.2.4-r2" }, listed(r))
      assert.equal("pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&distro=alpine-3.19.1", r.packages[1].purl)
      assert.equal("GPL-2.0-only", r.packages[1].license)
    end)
  end)

  describe("source", function()
    it("reads the first bytes of a file, from a folder and from a layer, saying when there is more", function()
      local dir, store = d .. "/prefix", d .. "/prefix-store"
      local body = ("0123456789"):rep(1000)
      T.write(dir .. "/ctx/a/file", body)
      T.write(dir .. "/ctx/a/empty", "")
      local code, out, err = T.ocibuild("--store", store, "build", dir .. "/ctx", "-t", "prefix:1")
      assert.equal(0, code, out .. err)
      local st = assert(store_mod.open(store))
      for _, src in ipairs { source.dir(dir .. "/ctx"), source.layer(st, layers(store, "prefix:1")[1]) } do
        local seen = {}
        local it = src.each()
        while true do
          local p, info = it()
          if not p then break end
          if p == "a/file" then
            assert.equal(10000, info.size)
            seen[#seen + 1] = { src.read(p, 100) }
          elseif p == "a/empty" then
            seen[#seen + 1] = { src.read(p, 0) }
          end
        end
        assert.same({ { "", false }, { body:sub(1, 100), true } }, seen)
      end
      local it = source.dir(dir .. "/ctx").each()
      local p = it()
      while p ~= "a/file" do p = it() end
      assert.same({ body, false }, { source.dir(dir .. "/ctx").read("a/file", 10000) })
      assert.same({ nil, "ENOENT: No such file or directory: " .. dir .. "/ctx/nope", "ENOENT" },
        { source.dir(dir .. "/ctx").read("nope", 10) })
    end)
  end)

  describe("layers()", function()
    it("finds in an image's layer what it finds in the folder, and a later whiteout takes packages away", function()
      local store = d .. "/store"
      if have("go") then
        T.must(("mkdir -p %s/usr/local/bin && cp %s %s/usr/local/bin/"):format(T.q(root), T.q(go_binary(d .. "/go2")),
          T.q(root)))
      end
      T.write(root .. "/app/lib/x-1.0.dist-info/METADATA", "Name: x\nVersion: 1.0\n")
      local code, out, err = T.ocibuild("--store", store, "build", root, "-t", "base:real")
      assert.equal(0, code, out .. err)
      local from_dir, from_layer = scan_dir(root), scan_layers(store, "base:real")
      assert.same(listed(from_dir), listed(from_layer))
      local digest = layers(store, "base:real")[1]
      for _, p in ipairs(from_layer.packages) do assert.equal(digest, p.layer) end
      assert.equal(from_dir.packages[1].purl, from_layer.packages[1].purl)
      -- a second layer: dpkg's status gone, the Python package's folder replaced by an empty one
      T.write(d .. "/up/build.lua", [[
        local oci = require "ocibuild"
        local img = oci.image { from = "base:real" }
        img:remove { "/var/lib/dpkg/status" }
        img:layer { context = "up", dest = "/srv" }
        return img:save { tag = "base:removed" }
      ]])
      T.write(d .. "/up/up/x.txt", "x\n")
      -- the sandbox builds on an image of the store only when the user names it
      code, out, err = T.ocibuild("--store", store, "run", "--allow-image", "base:real", d .. "/up/build.lua")
      assert.equal(0, code, out .. err)
      local after = scan_layers(store, "base:removed")
      assert.same({}, listed(after, "deb"))
      assert.same(listed(from_dir, "pypi"), listed(after, "pypi"))
      assert.truthy(#listed(from_dir, "deb") > 100)
    end)
  end)
end)
