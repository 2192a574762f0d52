local T = require "support"

-- A context with every kind of entry the issue names.
local function rich_context(dir)
  T.write(dir .. "/index.html", "<h1>hi</h1>\n", 420)
  T.write(dir .. "/empty.txt", "", 420)
  T.write(dir .. "/bin/run.sh", "#!/bin/sh\necho run\n", 493)
  T.write(dir .. "/café/日本語.txt", "unicode\n", 420)
  T.write(dir .. "/" .. ("long-directory-name/"):rep(6) .. ("f"):rep(120), "deep\n", 420)
  T.must(("cd %s && mkdir -p emptydir && ln -s index.html link && ln -s /nowhere dangling && ln index.html hard" ..
    " && head -c 20000000 /dev/urandom > big.bin && chmod 644 big.bin")
    :format(T.q(dir)))
end


describe("ocibuild build", function()
  it("builds an empty directory into a valid one-layer image", function()
    local d = T.tmpdir(finally)
    T.must("mkdir " .. T.q(d .. "/ctx"))
    local r = T.built(d .. "/s", d .. "/ctx", "-t", "empty:1")
    local img = T.image(d .. "/s", "empty:1")
    assert.equal(r.digest, img.desc.digest)
    assert.equal(1, #img.layers)
    local tar = T.gunzip(img.layers[1], d .. "/layer.tar")
    assert.same({}, T.tar_entries(tar))
    assert.equal("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
      img.config.rootfs.diff_ids[1])
  end)

  it("prints the tag, the manifest digest and the total size of the blobs", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a", "a")
    local r = T.built(d .. "/s", d .. "/ctx", "-t", "example.com/team/app:v1")
    assert.truthy(r.out:find("tag:%s+example.com/team/app:v1"))
    local img = T.image(d .. "/s", "example.com/team/app:v1")
    local total = img.desc.size + img.manifest.config.size
    for _, l in ipairs(img.manifest.layers) do total = total + l.size end
    assert.equal(total, r.size)
    assert.equal(img.manifest.config.digest, r.image_id)
  end)

  it("round-trips a tree with symlinks, hardlinks, empty dirs, long and non-ASCII paths, 0-byte and 20 MB files",
    function()
    local d = T.tmpdir(finally)
    rich_context(d .. "/ctx")
    T.built(d .. "/s", d .. "/ctx", "-t", "rich:1")
    local img = T.image(d .. "/s", "rich:1")
    local tar = T.gunzip(img.layers[1], d .. "/layer.tar")
    assert.equal("sha256:" .. T.sha256_file(tar), img.config.rootfs.diff_ids[1])
    assert.equal("sha256:" .. T.sha256_file(img.layers[1]), img.manifest.layers[1].digest)
    local got = {}
    for _, e in ipairs(T.tar_entries(tar)) do got[e.name] = e end
    local want = T.tree(d .. "/ctx")
    for p, ty in pairs(want) do
      local e = got[p]
      assert.is_not_nil(e, p)
      if ty == "f" and e.type == "0" then -- hardlink entries carry no data
        assert.equal(T.sha256_file(d .. "/ctx/" .. p), e.sha256, p)
      end
    end
    local n = 0
    for _ in pairs(got) do n = n + 1 end
    local m = 0
    for _ in pairs(want) do m = m + 1 end
    assert.equal(m, n)
    -- "hard" sorts before "index.html": it carries the data, the other links to it
    assert.equal("0", got.hard.type)
    assert.equal("1", got["index.html"].type)
    assert.equal("hard", got["index.html"].linkname)
    assert.equal("2", got.link.type)
    assert.equal("/nowhere", got.dangling.linkname)
    assert.equal("5", got.emptydir.type)
    assert.equal(0, got["empty.txt"].size)
    assert.equal(20000000, got["big.bin"].size)
    assert.equal(493, got["bin/run.sh"].mode)
  end)

  it("gives the same digest in two processes, whatever the mtimes and creation order", function()
    local d = T.tmpdir(finally)
    rich_context(d .. "/a")
    T.must(("cp -a %s %s && touch -d '2011-01-01' %s/index.html && cd %s && mv café tmp && mv tmp café")
      :format(T.q(d .. "/a"), T.q(d .. "/b"), T.q(d .. "/b"), T.q(d .. "/b")))
    local r1 = T.built(d .. "/s1", d .. "/a", "-t", "x:1")
    local r2 = T.built(d .. "/s2", d .. "/b", "-t", "x:1")
    assert.equal(r1.digest, r2.digest)
    assert.equal(r1.image_id, r2.image_id)
  end)

  it("takes created and every mtime from SOURCE_DATE_EPOCH", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/f", "f")
    local code, _, err = T.sh(("SOURCE_DATE_EPOCH=1700000000 %s --store %s build %s -t sde:1")
      :format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/ctx")))
    assert.equal(0, code, err)
    local img = T.image(d .. "/s", "sde:1")
    assert.equal("2023-11-14T22:13:20Z", img.config.created)
    local tar = T.gunzip(img.layers[1], d .. "/l.tar")
    assert.equal(1700000000, T.tar_entries(tar)[1].mtime)
  end)

  it("keeps mtimes before 1970 and past 2242 with --mtime keep, as PAX records", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/past", "p")
    T.write(d .. "/ctx/future", "f")
    T.must(("touch -d 1950-01-01T00:00:00Z %s && touch -d 2300-01-01T00:00:00Z %s"):format(T.q(d .. "/ctx/past"),
      T.q(d .. "/ctx/future")))
    assert.equal(0, (T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "m:1", "--mtime", "keep")))
    local times = {}
    for _, e in ipairs(T.tar_entries(T.gunzip(T.image(d .. "/s", "m:1").layers[1], d .. "/l.tar"))) do
      times[e.name] = math.tointeger(e.mtime)
    end
    assert.same({ future = 10413792000, past = -631152000 }, times)
  end)

  it("records labels, platform and destination, and moves a tag to the new image", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/f", "one")
    local r1 = T.built(d .. "/s", d .. "/ctx", "-t", "lab:1", "--label",
      "org.opencontainers.image.source=https://example.com/x",
      "--label", "empty=", "--platform", "linux/arm64", "--dest", "/srv/app")
    local img = T.image(d .. "/s", "lab:1")
    assert.same({ ["org.opencontainers.image.source"] = "https://example.com/x", empty = "" }, img.config.config.Labels)
    assert.equal("arm64", img.config.architecture)
    assert.equal("linux", img.config.os)
    local names = {}
    for _, e in ipairs(T.tar_entries(T.gunzip(img.layers[1], d .. "/l.tar"))) do names[#names + 1] = e.name end
    assert.same({ "srv", "srv/app", "srv/app/f" }, names)
    T.write(d .. "/ctx/f", "two")
    local r2 = T.built(d .. "/s", d .. "/ctx", "-t", "lab:1")
    assert.are_not.equal(r1.digest, r2.digest)
    assert.equal(r2.digest, T.image(d .. "/s", "lab:1").desc.digest)
    local index = T.json(T.read(d .. "/s/index.json"))
    assert.equal(1, #index.manifests)
  end)

  it("applies .dockerignore and --exclude patterns after it", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/.dockerignore", "secret.txt\nlogs\n")
    T.write(d .. "/ctx/secret.txt", "s")
    T.write(d .. "/ctx/logs/a.log", "l")
    T.write(d .. "/ctx/keep.txt", "k")
    T.write(d .. "/ctx/drop.tmp", "t")
    T.built(d .. "/s", d .. "/ctx", "-t", "ex:1", "--exclude", "drop.tmp")
    local names = {}
    for _, e in ipairs(T.tar_entries(T.gunzip(T.image(d .. "/s", "ex:1").layers[1], d .. "/l.tar"))) do
      names[#names + 1] = e.name
    end
    assert.same({ ".dockerignore", "keep.txt" }, names)
  end)

  it("leaves the store and the output out when they sit inside the context", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a", "a")
    T.built(d .. "/ctx/store", d .. "/ctx", "-t", "self:1", "-o", d .. "/ctx/out.tar")
    T.built(d .. "/ctx/store", d .. "/ctx", "-t", "self:2", "-o", d .. "/ctx/out.tar")
    local names = {}
    for _, e in ipairs(T.tar_entries(T.gunzip(T.image(d .. "/ctx/store", "self:2").layers[1], d .. "/l.tar"))) do
      names[#names + 1] = e.name
    end
    assert.same({ "a" }, names)
  end)

  it("refuses layers for an OS whose layers are not Linux-style tars, from --platform, a script or a base", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/ctx/f", "one")
    -- a config-only image may have any platform: no layer of ours is in it
    T.write(d .. "/win.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "windows/amd64" }
img:config { env = { A = "1" } }
return img:save { tag = "win:base" }
]])
    assert.equal(0, (T.ocibuild("--store", s, "run", d .. "/win.lua")))
    local before = T.must("ls -R " .. T.q(s))
    local why = "ocibuild writes Linux-style tar layers (a Windows layer keeps its files under Files/ and "
      .. "needs registry hives): build for linux or freebsd"
    local code, out, err = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "w:1", "--platform", "windows/amd64")
    assert.equal(2, code, out .. err)
    assert.equal("", out)
    -- a flag's value that cannot be used: the message names the flag
    assert.equal(("ocibuild: --platform \"windows/amd64\": platform windows/amd64: %s (see 'ocibuild build --help')\n")
      :format(why), err)
    code, out, err = T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "w:1", "--from", "win:base")
    assert.equal(1, code, out .. err)
    assert.equal(("ocibuild: platform windows/amd64: %s\n"):format(why), err)
    T.write(d .. "/layer.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "windows/amd64" }
img:layer { context = "ctx" }
return img:save { tag = "w:1" }
]])
    code, out, err = T.ocibuild("--store", s, "run", d .. "/layer.lua")
    assert.equal(1, code, out .. err)
    assert.equal(("ocibuild: %s/layer.lua:3: platform windows/amd64: %s\n"):format(d, why), err)
    assert.equal(before, T.must("ls -R " .. T.q(s)))
    -- FreeBSD's containers use the same tar layers as Linux
    local r = T.built(s, d .. "/ctx", "-t", "bsd:1", "--platform", "freebsd/amd64")
    assert.equal("freebsd", T.image(s, "bsd:1").config.os)
    assert.truthy(r.digest)
  end)
end)
