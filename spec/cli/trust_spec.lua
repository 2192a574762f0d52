-- Trust nothing on disk (issue 8 #4-#6): a damaged blob is neither reused
-- nor re-tagged nor copied into an archive; a store whose index.json
-- cannot be read strictly gets no work done in it; tags other tools wrote
-- move like ours, and what else they wrote into index.json stays.
local T = require "support"

-- A context of a few MB of text (several compression blocks).
local function context(dir)
  local lines = {}
  for i = 1, 150000 do lines[i] = ("line %d of the context: %d\n"):format(i, (i * 7919) % 100003) end
  T.write(dir .. "/text.txt", table.concat(lines))
  T.write(dir .. "/small.txt", "small\n")
end


-- Every blob the image tagged `tag` reaches holds the bytes its name says.
local function verifies(s, tag)
  local img = T.image(s, tag)
  for _, d in ipairs { img.desc.digest, img.manifest.config.digest, img.manifest.layers[1].digest } do
    assert.equal(d, "sha256:" .. T.sha256_file(img.blob(d)), "blob " .. d)
  end
  T.must("gzip -t " .. T.q(img.layers[1]))
  return img
end

-- Flips bytes in the middle of path, keeping its size and mtime.
local function damage(path, dir)
  local size = tonumber(T.must("stat -c %s " .. T.q(path)))
  T.must(("touch -r %s %s/ref && printf 'XXXX' | dd of=%s bs=1 seek=%d conv=notrunc status=none && touch -r %s/ref %s")
    :format(T.q(path), T.q(dir), T.q(path), size // 2, T.q(dir), T.q(path)))
end

describe("ocibuild with damaged blobs in the store", function()
  it("rebuilds an unchanged context over a damaged layer blob without tagging the damage", function()
    local d = T.tmpdir(finally)
    local s, ctx = d .. "/s", d .. "/ctx"
    context(ctx)
    T.built(s, ctx, "-t", "app:1")
    local first = T.image(s, "app:1")
    damage(first.layers[1], d)
    T.built(s, ctx, "-t", "app:1")
    local img = verifies(s, "app:1")
    assert.equal(first.desc.digest, img.desc.digest)
  end)

  it("rewrites a damaged config blob when the same config is built again", function()
    local d = T.tmpdir(finally)
    local s, ctx = d .. "/s", d .. "/ctx"
    context(ctx)
    T.built(s, ctx, "-t", "app:1")
    local first = T.image(s, "app:1")
    T.write(first.blob(first.manifest.config.digest), '{"architecture":"evil"}')
    T.built(s, ctx, "-t", "app:1")
    verifies(s, "app:1")
  end)

  it("refuses to copy a damaged layer into an archive, leaving no archive", function()
    -- The blob's file identity is forged back into its reuse record (and
    -- the record resealed), so that the build takes the earlier blob
    -- whole: only the copy's own check can tell (as for bits rotten on
    -- the disk).
    local d = T.tmpdir(finally)
    local s, ctx = d .. "/s", d .. "/ctx"
    context(ctx)
    T.built(s, ctx, "-t", "app:1")
    local img = T.image(s, "app:1")
    local blob = img.layers[1]
    T.must(("printf 'XXXX' | dd of=%s bs=1 seek=100 conv=notrunc status=none"):format(T.q(blob)))
    local rec = T.must("find " .. T.q(s .. "/.ocibuild/reuse") .. " -type f ! -name 'f-*'"):gsub("\n$", "")
    local ident = T.must("stat -c '%s %i %Y %y %Z %z' " .. T.q(blob))
    local size, ino = ident:match("^(%d+) (%d+)")
    local function ns(sec, human) return sec .. (human:match("%.(%d+)") or "000000000") end
    local msec, mh, csec, ch = ident:match("^%d+ %d+ (%d+) (%S+ %S+) %S+ (%d+) (%S+ %S+)")
    T.write(rec, T.reseal_reuse((T.read(rec):gsub("\nblob (sha256:%x+) %d+ %d+ %d+ %d+\n", function(dg)
      return ("\nblob %s %s %s %s %s\n"):format(dg, size, ino, ns(msec, mh), ns(csec, ch))
    end))))
    T.must("mkdir " .. T.q(d .. "/out"))
    local code, out, err = T.ocibuild("--store", s, "build", ctx, "-t", "app:1", "-o", d .. "/out/app.tar")
    assert.equal(1, code, out .. err)
    assert.matches("^ocibuild: cannot write " .. (d .. "/out/app.tar"):gsub("%p", "%%%0")
      .. ": BADDIGEST: [^\n]*" .. img.manifest.layers[1].digest:sub(8) .. "[^\n]*\n$", err)
    assert.equal("", T.must("ls -A " .. T.q(d .. "/out")))
  end)

  it("refuses truncated or damaged config and layer blobs when writing an archive", function()
    local archive = require "ocibuild.endpoint.archive"
    local copy = require "ocibuild.copy"
    local layout = require "ocibuild.endpoint.layout"
    local store = require "ocibuild.store"
    local d = T.tmpdir(finally)
    local s, ctx = d .. "/s", d .. "/ctx"
    context(ctx)
    T.built(s, ctx, "-t", "app:1")
    local img = T.image(s, "app:1")
    T.must("mkdir " .. T.q(d .. "/out"))
    for _, case in ipairs {
      { img.manifest.config.digest, "truncate -s -1", "BADSIZE" },
      { img.manifest.config.digest, "sed -i s/amd64/arm64/", "BADDIGEST" },
      { img.manifest.layers[1].digest, "truncate -s 100", "BADSIZE" },
      { img.manifest.layers[1].digest, "truncate -s +1", "BADSIZE" },
    } do
      local path = img.blob(case[1])
      T.must(("cp %s %s/good && %s %s"):format(T.q(path), T.q(d), case[2], T.q(path)))
      local st = assert(store.open(s))
      local out = assert(archive.new(d .. "/out/x.tar"))
      local ok, err, code = copy.copy(layout.new(st), img.desc, out)
      if ok then ok, err, code = out:commit() end
      assert.is_nil(ok, case[2])
      assert.equal(case[3], code, err)
      assert.is_truthy(err:find(case[1], 1, true), err)
      assert.equal("", T.must("ls -A " .. T.q(d .. "/out")))
      T.must(("cp %s %s"):format(T.q(d .. "/good"), T.q(path)))
    end
  end)
end)

describe("ocibuild with an index.json it cannot read strictly", function()
  it("fails before any work and leaves the store as it was", function()
    local d = T.tmpdir(finally)
    local s, ctx = d .. "/s", d .. "/ctx"
    context(ctx)
    T.built(s, d .. "/ctx", "-t", "seed:1")
    T.write(d .. "/other/x", "x\n")
    local good = T.read(s .. "/index.json")
    for _, case in ipairs {
      { good:gsub('"manifests":', '"manifests":[],"manifests":', 1), "duplicate key" },
      { '{"schemaVersion":2,"manifests":{}}', "manifests must be an array" },
      { '{"schemaVersion":2}', "manifests must be an array" },
      { "\239\187\191" .. good, "invalid JSON" },
    } do
      T.write(s .. "/index.json", case[1])
      local before = T.fingerprint(s)
      local code, out, err = T.ocibuild("--store", s, "build", d .. "/other", "-t", "new:1")
      assert.equal(1, code, out .. err)
      assert.matches("^ocibuild: " .. (s .. "/index.json"):gsub("%p", "%%%0") .. ": [^\n]*\n$", err)
      assert.is_truthy(err:find(case[2], 1, true), err)
      assert.equal(before, T.fingerprint(s))
    end
  end)
end)

describe("ocibuild in a store other tools wrote to", function()
  it("moves a tag skopeo wrote (short or full name) instead of adding a second entry", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/a/f", "a\n")
    T.write(d .. "/b/f", "b\n")
    T.built(s, d .. "/a", "-t", "seed:1")
    local old = T.image(s, "seed:1").desc.digest
    for _, name in ipairs { "y:1", "docker.io/library/y:1" } do
      T.must(("skopeo copy -q oci:%s:seed:1 oci:%s:%s"):format(T.q(s), T.q(s), name))
      local out = T.built(s, d .. "/b", "-t", "y:1").out
      local new = out:match("digest:%s+(sha256:%x+)")
      assert.not_equal(old, new)
      local entries, named = T.json(T.read(s .. "/index.json")).manifests, 0
      for _, e in ipairs(entries) do
        local n = e.annotations and e.annotations["org.opencontainers.image.ref.name"]
        if n == "y:1" or n == "docker.io/library/y:1" then named = named + 1 end
      end
      assert.equal(1, named)
      assert.equal(2, #entries)
      local inspect = T.json(T.must(("skopeo inspect oci:%s:y:1"):format(T.q(s))))
      assert.equal(new, inspect.Digest)
      T.must(("skopeo copy -q oci:%s:seed:1 oci:%s:y:1"):format(T.q(s), T.q(s))) -- back to the old one
      T.built(s, d .. "/b", "-t", "y:1")
      assert.equal(new, T.json(T.must(("skopeo inspect oci:%s:y:1"):format(T.q(s)))).Digest)
      T.must(("skopeo copy -q oci:%s:seed:1 oci:%s:y:1"):format(T.q(s), T.q(s)))
    end
  end)

  it("keeps the top-level fields of index.json it does not know", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/a/f", "a\n")
    T.built(s, d .. "/a", "-t", "seed:1")
    local idx = T.read(s .. "/index.json")
    T.write(s .. "/index.json", idx:gsub("^{", '{"annotations":{"made.by":"another tool"},"x-extra":[1,{"k":"v"}],', 1))
    T.built(s, d .. "/a", "-t", "again:1")
    local now = T.json(T.read(s .. "/index.json"))
    assert.same({ ["made.by"] = "another tool" }, now.annotations)
    assert.same({ 1, { k = "v" } }, now["x-extra"])
    assert.equal(2, #now.manifests)
  end)
end)
