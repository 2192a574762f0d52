local T = require "support"

local function blobs(store)
  local t = {}
  for name in T.must("ls " .. T.q(store .. "/blobs/sha256")):gmatch("%x+") do t[#t + 1] = name end
  return t
end

describe("ocibuild gc", function()
  it("removes what no tag reaches, keeps what one does, and prunes stale reuse records", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/ctx/f", "one")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "g:1")))
    local first = T.image(s, "g:1")
    T.write(d .. "/ctx/f", "two")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "g:1")))
    local second = T.image(s, "g:1")
    assert.equal(6, #blobs(s))
    local records_before = T.must("find " .. T.q(s .. "/.ocibuild/reuse") .. " -type f ! -name 'f-*' | wc -l")
    assert.equal("2", records_before:match("%d+"))
    T.write(s .. "/.ocibuild-tmp/blob-abandoned", "x")

    local code, out, err = T.ocibuild("--store", s, "gc")
    assert.equal(0, code, err)
    assert.matches("^removed 0 untagged images, 3 blobs %(%d+ bytes?[^)]*%), 1 temp file %(1 byte%), 1 reuse" ..
      " record and 0 layer states\n$", out)
    local left = {}
    for _, b in ipairs(blobs(s)) do left["sha256:" .. b] = true end
    assert.is_true(left[second.desc.digest])
    assert.is_true(left[second.manifest.config.digest])
    assert.is_true(left[second.manifest.layers[1].digest])
    assert.is_nil(left[first.desc.digest])
    assert.is_nil(left[first.manifest.layers[1].digest])
    assert.equal("1", T.must("find " .. T.q(s .. "/.ocibuild/reuse") .. " -type f ! -name 'f-*' | wc -l"):match("%d+"))
    T.must("oci-image-tool validate --type image " .. T.q(s))

    -- The tag still builds and reuses what is left.
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "g:1")))
    assert.equal(second.desc.digest, T.image(s, "g:1").desc.digest)
  end)
end)

describe("ocibuild gc on a store it cannot fully read", function()
  local function setup(finally)
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/ctx/f", "one")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "keep:1")))
    T.write(d .. "/ctx/f", "two")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "other:1")))
    return d, s, T.image(s, "keep:1")
  end

  local function refuses(s, pattern)
    local before = T.fingerprint(s)
    local code, out, err = T.ocibuild("--store", s, "gc")
    assert.equal(1, code, out .. err)
    assert.equal("", out)
    assert.matches("^ocibuild: nothing removed: " .. pattern, err)
    assert.equal(1, select(2, err:gsub("\n", "")))
    assert.equal(before, T.fingerprint(s))
  end

  it("deletes nothing when a tagged manifest is damaged, missing, a symlink or a directory", function()
    local _, s, img = setup(finally)
    local m = img.blob(img.desc.digest)
    local good = T.read(m)
    T.write(m, good:gsub("sha256", "sha257", 1))
    refuses(s, "index%.json manifests%[1%]: cannot read manifest " .. img.desc.digest .. ": BADDIGEST")
    T.must("rm " .. T.q(m))
    refuses(s, "index%.json manifests%[1%]: cannot read manifest " .. img.desc.digest .. ": ENOENT")
    T.must("ln -s /etc/hostname " .. T.q(m))
    refuses(s, "index%.json manifests%[1%]: cannot read manifest .*: ELOOP")
    T.must("rm " .. T.q(m) .. " && mkdir " .. T.q(m))
    refuses(s, "index%.json manifests%[1%]: cannot read manifest .*: BADTYPE")
    T.must("rmdir " .. T.q(m))
    T.write(m, good)
    assert.equal(0, (T.ocibuild("--store", s, "gc")))
  end)

  it("deletes nothing when the manifest is unreadable for the user running it", function()
    if T.must("id -u"):match("%d+") ~= "0" then return pending("needs root to run gc as another user") end
    local d, s, img = setup(finally)
    T.must("chmod 755 " .. T.q(d) .. " && chown -R 65534:65534 " .. T.q(s) .. " && chmod 000 "
      .. T.q(img.blob(img.desc.digest)))
    local before = T.fingerprint(s)
    local code, _, err = T.sh(("setpriv --reuid=65534 --regid=65534 --clear-groups %s --store %s gc")
      :format(T.q(T.bin), T.q(s)))
    assert.equal(1, code)
    assert.matches("^ocibuild: nothing removed: .*EACCES: Permission denied", err)
    assert.equal(before, T.fingerprint(s))
  end)

  it("deletes nothing when index.json is not a strict image index", function()
    local _, s = setup(finally)
    local good = T.read(s .. "/index.json")
    for _, case in ipairs {
      { good:gsub('"manifests":', '"manifests":[],"manifests":', 1), "duplicate key \"manifests\"" },
      { '{"schemaVersion":2,"manifests":{}}', "manifests must be an array" },
      { '{"schemaVersion":2}', "manifests must be an array" },
      { '{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:' .. ("0"):rep(64) .. '","size":-1}]}',
        "size must be an integer" },
      { "garbage", "invalid JSON" },
    } do
      T.write(s .. "/index.json", case[1])
      refuses(s, ".*" .. case[2]:gsub("%p", "%%%0"))
    end
  end)

  it("follows nested indexes and keeps what they reach", function()
    local d, s, img = setup(finally)
    -- an index (as another tool would write) whose only child is keep:1's manifest
    local child = ('{"digest":"%s","mediaType":"application/vnd.oci.image.manifest.v1+json","size":%d}')
      :format(img.desc.digest, img.desc.size)
    local nested = '{"manifests":[' .. child
      .. '],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}'
    T.write(d .. "/nested.json", nested)
    local digest = "sha256:" .. T.sha256_file(d .. "/nested.json")
    T.must(("cp %s %s"):format(T.q(d .. "/nested.json"), T.q(s .. "/blobs/sha256/" .. digest:sub(8))))
    T.write(s .. "/index.json",
      ('{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"nested:1"},"digest":"%s",'
        .. '"mediaType":"application/vnd.oci.image.index.v1+json","size":%d}],"schemaVersion":2}')
      :format(digest, #nested))
    local code, out, err = T.ocibuild("--store", s, "gc")
    assert.equal(0, code, err)
    assert.matches("^removed 0 untagged images, 3 blobs", out)
    for _, b in ipairs { img.desc.digest, img.manifest.config.digest, img.manifest.layers[1].digest, digest } do
      assert.is_true(T.exists(img.blob(b)), b)
    end
  end)
end)

describe("ocibuild prune", function()
  local fx = require "cli.storefx"

  it("removes untagged images and what only they reach; --dry-run says so and changes nothing", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local keep = fx.build(s, d .. "/k", "keep", "keep:1")
    local gone = fx.build(s, d .. "/g", "gone")
    local entries = fx.entries(s)
    assert.equal(2, #entries)
    assert.is_nil(entries[1].annotations)
    local img = T.image(s, "keep:1")
    T.write(s .. "/.ocibuild-tmp/blob-left", "12345")
    local before = T.fingerprint(s)
    local out = fx.ok(s, "prune", "--dry-run")
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("would remove image " .. gone .. " (untagged)", lines[1])
    assert.equal(5, #lines) -- the image, its manifest, config and layer, the total
    assert.matches("^would remove 1 untagged image, %d blobs %(%d+ bytes[^)]*%) and 1 temp file %(5 bytes%)$",
      lines[#lines])
    assert.equal(before, T.fingerprint(s))
    assert.matches("^removed 1 untagged image, %d blobs %(%d+ bytes[^)]*%), 1 temp file %(5 bytes%), 1 reuse" ..
      " record and 1 layer state\n$",
      fx.ok(s, "prune"))
    assert.equal(1, #fx.entries(s))
    assert.equal(keep, fx.entries(s)[1].digest)
    local left = {}
    for _, b in ipairs(fx.blobs(s)) do left["sha256:" .. b] = true end
    assert.same({ [keep] = true, [img.manifest.config.digest] = true, [img.manifest.layers[1].digest] = true }, left)
    fx.valid(s)
  end)

  it("--all drops every reuse record; --verify removes nothing from a damaged store", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    fx.build(s, d .. "/g", "gone")
    assert.matches(", 1 reuse record and 1 layer state\n$", fx.ok(s, "prune")) -- the untagged image's
    assert.equal("1", T.must("find " .. T.q(s .. "/.ocibuild/reuse") .. " -type f ! -name 'f-*' | wc -l"):match("%d+"))
    assert.matches(", 1 reuse record and 1 layer state\n$", fx.ok(s, "prune", "--all"))
    assert.equal("0", T.must("find " .. T.q(s .. "/.ocibuild/reuse") .. " -type f ! -name 'f-*' | wc -l"):match("%d+"))
    fx.build(s, d .. "/g", "gone again")
    local layer = T.image(s, "keep:1").manifest.layers[1].digest
    local p = s .. "/blobs/sha256/" .. layer:sub(8)
    T.must(("printf 'XX' | dd of=%s bs=1 seek=20 conv=notrunc status=none"):format(T.q(p)))
    local before = T.fingerprint(s)
    local code, out, err = fx.run(s, "prune", "--verify")
    assert.equal(1, code)
    assert.matches("^layer " .. layer .. ": BADDIGEST: expected " .. layer .. ", got sha256:%x+: "
      .. p:gsub("%p", "%%%0") .. "\n  breaks keep:1 %(index%.json manifests%[%d%]%); repair: ocibuild rm keep:1\n$",
      out)
    assert.equal(("ocibuild: nothing removed: 1 problem found in %s\n"):format(s), err)
    assert.equal(before, T.fingerprint(s))
  end)

  it("prints sizes for people beside the byte counts", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/k", "keep", "keep:1")
    -- an untagged image with a layer that does not compress: over 4 KiB
    T.must(("mkdir -p %s && head -c 6000 /dev/urandom > %s"):format(T.q(d .. "/g"), T.q(d .. "/g/noise")))
    local gone = fx.ok(s, "build", d .. "/g"):match("digest:%s+(%S+)")
    local layer = T.json(T.read(s .. "/blobs/sha256/" .. gone:sub(8))).layers[1]
    T.write(s .. "/.ocibuild-tmp/blob-left", ("x"):rep(3000))
    local out = fx.ok(s, "prune", "--dry-run")
    local kib = ("%.1f KiB"):format(layer.size / 1024):gsub("%p", "%%%0")
    assert.matches(("\nwould remove blob %s %%(%d bytes, %s%%)\n"):format(layer.digest, layer.size, kib), out)
    assert.matches(" and 1 temp file %(3000 bytes, 2%.9 KiB%)\n$", out)
    out = fx.ok(s, "prune")
    assert.matches("^removed 1 untagged image, 3 blobs %(%d+ bytes, %d+%.%d KiB%), 1 temp file %(3000 bytes," ..
      " 2%.9 KiB%), ", out)
  end)
end)
