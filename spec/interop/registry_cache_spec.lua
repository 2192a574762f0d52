-- The build cache runners share through a registry (--cache-to,
-- --cache-from), against docker-registry and the Gitea-shaped registry:
-- runner A builds and pushes, recording its layers; runner B starts from
-- a fresh store and a fresh copy of the tree (new inodes, mtimes, ctimes)
-- and gets the same digests without compressing a layer; a changed file
-- costs only its block (the rest fetched by range); damaged, foreign,
-- dangling and poisoned records are misses; eight runners at once all
-- succeed.
local R = require "support.registry"
local T = require "support"
local core = require "ocibuild.core"
local reuse = require "ocibuild.registry.reuse"

local GITEA_CREDS = "giteaAdmin:developer"

-- A tree of 8 files of ~600 KB of distinct text each (several blocks),
-- in two folders; `changed` (1-8) rewrites one file, same size.
local function tree(dir, changed)
  for f = 1, 8 do
    local lines = {}
    for i = 1, 24000 do
      lines[i] = ("file %d line %05d: %d\n"):format(f, i, (i * 7919 + f * 104729) % 1000003)
    end
    local text = table.concat(lines)
    if f == changed then text = text:gsub("line 12000", "LINE 12000") end
    T.write(("%s/%s/f%d.txt"):format(dir, f <= 4 and "a" or "b", f), text)
  end
end

-- A runner's own copy of src: new inodes, and every time stamp new.
local function fresh_copy(src, dst)
  T.must(("cp -r %s %s && find %s -exec touch -d '2031-02-03 04:05:06' {} +"):format(T.q(src), T.q(dst), T.q(dst)))
end

-- The events of a --progress json run (stderr), and its layers' end events.
local function events(err)
  local list, layers = {}, {}
  for line in err:gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then
      local ev = T.json(line)
      list[#list + 1] = ev
      if ev.type == "end" and ev.stage == "layer" then layers[#layers + 1] = ev end
    end
  end
  return list, layers
end

local function warnings(err)
  local w = {}
  for line in err:gmatch("[^\n]+") do
    local ev = line:sub(1, 1) == "{" and T.json(line)
    if ev and ev.type == "warning" then w[#w + 1] = ev.message end
  end
  return table.concat(w, "\n")
end

describe("a build cache shared through a registry", function()
  local reg, why, base
  R.serve({}, function(r, w, b)
    reg, why, base = r, w, b
    tree(base .. "/tree")
    tree(base .. "/changed", 5)
  end)

  -- Builds a copy of `src` in a fresh store; returns the manifest digest,
  -- the layer end events, stderr.
  local function runner(name, src, ...)
    local d = base .. "/" .. name
    fresh_copy(base .. "/" .. src, d .. "-ctx")
    local code, out, err = T.ocibuild("--store", d .. "-store", "build", d .. "-ctx", "-q", "--progress", "json", ...)
    assert(code == 0, out .. err)
    local _, layers = events(err)
    return out:match("sha256:%x+"), layers, err
  end

  -- The digest a build without any registry gives.
  local cold = {}
  local function cold_digest(src)
    if not cold[src] then cold[src] = runner("cold-" .. src, src) end
    return cold[src]
  end

  local function cache(path) return reg.host .. "/" .. path end

  it("runner B, fresh, compresses nothing and uploads nothing runner A recorded", function()
    if not reg then return pending(why) end
    local a, alayers = runner("a", "tree", "-t", cache("fleet/app:a"), "--push", "--cache-to", cache("fleet/cache"))
    assert.equal(cold_digest("tree"), a)
    assert.is_nil(alayers[1].cache)
    local n0 = #reg.requests()
    local b, blayers, err = runner("b", "tree", "-t", cache("fleet/app:b"), "--push", "--cache-from",
      cache("fleet/cache"), "--digestfile", base .. "/b.digest", "--metadata-file", base .. "/b.json")
    assert.equal(a, b)
    -- IMAGE_DIGEST and IMAGE_URL, one cat away
    assert.equal(b, T.read(base .. "/b.digest"))
    assert.same({ cache("fleet/app") .. "@" .. b }, T.json(T.read(base .. "/b.json"))["ocibuild.pushed"])
    local l = blayers[1]
    -- the events say so: every tar byte spared compressing, the blob fetched whole
    assert.same({ cache("fleet/cache"), l.bytes, l.size, true }, { l.cache, l.saved, l.fetched, l.whole })
    assert.equal("", warnings(err))
    local reqs = table.move(reg.requests(), n0 + 1, #reg.requests(), 1, {})
    for _, r in ipairs(reqs) do
      assert.is_falsy(r.method == "POST" or r.method == "PATCH" or r.path:find("/blobs/uploads/"), r.line)
    end
    -- one lookup: a HEAD of the first block's tag, then the record read
    local heads = 0
    for _, r in ipairs(reqs) do
      if r.method == "HEAD" and r.path:find("/fleet/cache/manifests/reuse%-") then heads = heads + 1 end
    end
    assert.equal(1, heads)
    -- two tags for the one layer: its key's and its first block's
    local tags = T.json(T.must(("curl -sf %s/v2/fleet/cache/tags/list"):format(reg.url))).tags
    assert.equal(2, #tags)
    local key = reuse.key_tag(l.diff_id, core.codec { kind = "gzip", level = 5 }:key())
    assert.truthy(tags[1] == key or tags[2] == key)
  end)

  it("a changed file costs its block: the rest fetched by range, checked; the digest is a cold build's", function()
    if not reg then return pending(why) end
    runner("a2", "tree", "--cache-to", cache("fleet/cache2"))
    local n0 = #reg.requests()
    local c, layers, err = runner("c", "changed", "-t", "c:1", "--cache-from", cache("fleet/cache2"))
    assert.equal(cold_digest("changed"), c)
    assert.equal("", warnings(err))
    local l = layers[1]
    assert.equal(cache("fleet/cache2"), l.cache)
    assert.is_false(l.whole)
    assert.is_true(l.saved > 0 and l.saved < l.bytes, ("saved %d of %d"):format(l.saved, l.bytes))
    assert.is_true(l.fetched > 0 and l.fetched < l.size, ("fetched %d of %d"):format(l.fetched, l.size))
    local ranges = 0
    for _, r in ipairs(table.move(reg.requests(), n0 + 1, #reg.requests(), 1, {})) do
      if r.method == "GET" and r.path:find("/fleet/cache2/blobs/sha256:") and r.status == 206 then
        ranges = ranges + 1
      end
    end
    assert.is_true(ranges >= 1)
    -- its image holds the changed file
    local img = T.image(base .. "/c-store", "c:1")
    local tarfile = T.gunzip(img.layers[1], base .. "/c-layer.tar")
    assert.equal(img.config.rootfs.diff_ids[1], "sha256:" .. T.sha256_file(tarfile))
  end)

  it("shares a Dockerfile's COPY layers, and a script's saves (cache = {from=, to=}, sandboxed)", function()
    if not reg then return pending(why) end
    T.write(base .. "/tree/Dockerfile", "FROM scratch\nCOPY a /a\nCOPY b /b\n")
    local a, alayers = runner("df-a", "tree", "--cache-to", cache("fleet/df"))
    assert.equal(2, #alayers)
    local b, blayers, err = runner("df-b", "tree", "--cache-from", cache("fleet/df"))
    assert.equal(a, b)
    for _, l in ipairs(blayers) do assert.same({ cache("fleet/df"), l.bytes }, { l.cache, l.saved }) end
    assert.equal("", warnings(err))
    os.remove(base .. "/tree/Dockerfile")

    -- a script names its cache; sandboxed, only on a registry the user allows
    local d = base .. "/script"
    fresh_copy(base .. "/tree", d)
    T.write(d .. "/build.lua", ("local img = oci.image {}\nimg:layer { context = \"a\" }\n"
      .. "return img:save { tag = \"s:1\", cache = { to = %q, from = { %q } } }\n"):format(cache("fleet/script"),
      cache("fleet/script")))
    local code, _, e = T.ocibuild("--store", d .. "-store", "run", d .. "/build.lua", "-q")
    assert.equal(1, code)
    assert.matches(("use the cache %s: a build script reaches only the registries the user names "
      .. "%%(%%-%%-allow%%-registry %s allows it%%)"):format(cache("fleet/script"):gsub("%p", "%%%0"),
      reg.host:gsub("%p", "%%%0")), e)
    code, _, e = T.ocibuild("--store", d .. "-store", "run", d .. "/build.lua", "-q", "--allow-registry", reg.host)
    assert.equal(0, code, e)
    local tags = T.json(T.must(("curl -sf %s/v2/fleet/script/tags/list"):format(reg.url))).tags
    assert.equal(2, #tags)
    -- and the command line's cache applies to every save of a script
    local code2, out2, e2 = T.ocibuild("--store", d .. "-store2", "run", d .. "/build.lua", "--progress", "json",
      "--allow-registry", reg.host, "--cache-from", cache("fleet/script"))
    assert.equal(0, code2, e2)
    assert.is_string(out2)
    local _, layers = events(e2)
    assert.equal(cache("fleet/script"), layers[1].cache)
  end)

  it("goes on without a cache it cannot reach, read or write, saying so", function()
    if not reg then return pending(why) end
    local port = T.must("/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); "
      .. "print(s.getsockname()[1])'"):gsub("%s", "")
    local gone = "127.0.0.1:" .. port .. "/fleet/cache"
    local d, layers, err = runner("unreachable", "tree", "--cache-from", gone, "--cache-to", gone)
    assert.equal(cold_digest("tree"), d)
    assert.is_nil(layers[1].cache)
    local w = warnings(err)
    assert.matches("cache " .. gone:gsub("%p", "%%%0") .. ": [^\n]*; the build goes on without it", w)
    assert.equal(1, select(2, w:gsub("the build goes on without it", "")))
  end)

  -- A repository holding runner A's record of the tree, and what it needs
  -- to spoil it: its two tags, the record, and a client to the repository.
  local function recorded(path)
    local _, layers = runner("r-" .. path:gsub("/", "-"), "tree", "-t", "rec:1", "--cache-to", cache(path))
    local l = layers[1]
    local codec = core.codec { kind = "gzip", level = 5 }
    local store = base .. "/r-" .. path:gsub("/", "-") .. "-store"
    local rr = assert(assert(core.store(store)):reuse_record(codec, l.digest))
    local repo = assert(require("ocibuild.registry").repository(cache(path), {}, "push"))
    local tags = { reuse.key_tag(l.diff_id, codec:key()), reuse.first_tag(rr.blocks[1][1], codec:key()) }
    local _, body = assert(repo:get_manifest(tags[1]))
    local rdesc = reuse.read_manifest(body)
    local rec = assert(reuse.read_record(assert(repo:get_blob_bytes(rdesc, 1 << 20)), { codec = codec:key() }))
    return { repo = repo, tags = tags, rec = rec, layer = l, store = store }
  end

  -- Puts a record of the text `text` (its layer rec's) under both tags.
  local function put_record(r, text)
    local d = { digest = core.sha256():update(text):digest(), size = #text }
    assert(r.repo:put_blob_bytes(d, text))
    local m = reuse.manifest_text(d, r.rec)
    for _, tag in ipairs(r.tags) do
      assert(r.repo:put_manifest(tag, m, "application/vnd.oci.image.manifest.v1+json",
        core.sha256():update(m):digest()))
    end
  end

  it("takes a foreign or damaged record for a miss: a warning, the layer built, the right digest", function()
    if not reg then return pending(why) end
    -- foreign: an image under the record's tags
    local f = recorded("fleet/foreign")
    assert.equal(0, (T.ocibuild("--store", f.store, "push", "rec:1", cache("fleet/foreign:img"))))
    local _, img = assert(f.repo:get_manifest("img"))
    for _, tag in ipairs(f.tags) do
      assert(f.repo:put_manifest(tag, img, "application/vnd.oci.image.manifest.v1+json",
        core.sha256():update(img):digest()))
    end
    local d, layers, err = runner("foreign", "tree", "--cache-from", cache("fleet/foreign"))
    assert.equal(cold_digest("tree"), d)
    assert.is_nil(layers[1].cache)
    assert.matches(f.tags[2] .. ": not a reuse record; not used", warnings(err), 1, true)

    -- damaged: the record's JSON cut short
    local g = recorded("fleet/damaged")
    put_record(g, reuse.record_text(g.rec):sub(1, 100))
    d, layers, err = runner("damaged", "tree", "--cache-from", cache("fleet/damaged"))
    assert.equal(cold_digest("tree"), d)
    assert.is_nil(layers[1].cache)
    assert.matches(g.tags[2] .. ": not a JSON object; not used", warnings(err), 1, true)
    g.repo.client:close()
    f.repo.client:close()
  end)

  it("checks every piece it takes: a record that lies about them costs a second pass, never a wrong layer", function()
    if not reg then return pending(why) end
    local r = recorded("fleet/lying")
    for _, b in ipairs(r.rec.blocks) do b[5] = (b[5] + 1) % 4294967296 end
    put_record(r, reuse.record_text(r.rec))
    local d, layers, err = runner("lying", "changed", "--cache-from", cache("fleet/lying"))
    assert.equal(cold_digest("changed"), d)
    assert.is_nil(layers[1].cache)
    assert.matches("could not be used %(BADPIECE: the piece of block %d+ %(bytes %d+%-%d+%) is not the bytes "
      .. "the cache's record names%): the layer is built afresh", warnings(err))
    r.repo.client:close()
  end)

  it("takes a record whose blob is gone for a miss, whole or by range", function()
    if not reg then return pending(why) end
    local r = recorded("fleet/dangling")
    T.must(("curl -sf -X DELETE %s/v2/fleet/dangling/blobs/%s"):format(reg.url, r.rec.blob.digest))
    for _, src in ipairs { "tree", "changed" } do
      local d, layers, err = runner("dangling-" .. src, src, "--cache-from", cache("fleet/dangling"))
      assert.equal(cold_digest(src), d)
      assert.is_nil(layers[1].cache)
      assert.matches("the cache's blob " .. r.rec.blob.digest .. " could not be used %(.*HTTP 404.*%): the layer is "
        .. "built afresh", warnings(err))
    end
    r.repo.client:close()
  end)

  it("takes no blob whole that holds another tar than its record's diff_id: a poisoned record is a miss", function()
    if not reg then return pending(why) end
    local r = recorded("fleet/poisoned")
    -- the attacker's tree: the same names and sizes, other bytes, recorded in a repository of its own
    for f = 1, 8 do
      local p = ("%s/%s/f%d.txt"):format("%s", f <= 4 and "a" or "b", f)
      T.write(p:format(base .. "/evil"), (T.read(p:format(base .. "/tree")):gsub("line", "EVIL")))
    end
    local _, elayers = runner("attacker", "evil", "--cache-to", cache("fleet/evilcache"))
    local e = elayers[1]
    -- each of the victim's records keeps its diff_id and blocks but names the attacker's blob
    local evil = { mediaType = r.rec.blob.mediaType, digest = e.digest, size = math.tointeger(e.size) }
    assert.equal("mounted", (r.repo:mount(evil, "fleet/evilcache")))
    r.rec.blob = evil
    put_record(r, reuse.record_text(r.rec))
    local d, layers, err = runner("poisoned", "tree", "-t", "p:1", "--cache-from", cache("fleet/poisoned"))
    assert.equal(cold_digest("tree"), d)
    local l = layers[1]
    assert.is_nil(l.cache)
    assert.equal(("the cache's blob %s could not be used (it holds a tar of digest %s, not this layer's %s): the "
      .. "layer is built afresh"):format(e.digest, e.diff_id, l.diff_id), warnings(err))
    -- the layer is the tree's own, and the attacker's blob is not left in the store
    local store = base .. "/poisoned-store"
    local tar = T.read(T.gunzip(T.image(store, "p:1").layers[1], base .. "/poisoned-layer.tar"))
    assert.is_nil(tar:find("EVIL", 1, true))
    assert.equal(l.diff_id, "sha256:" .. T.sha256_file(base .. "/poisoned-layer.tar"))
    assert.is_false(T.exists(store .. "/blobs/sha256/" .. e.digest:sub(8)))
    local code, out, ferr = T.ocibuild("--store", store, "fsck")
    assert.equal(0, code, out .. ferr)
    assert.matches("^checked 1 image and %d+ blobs", out)
    r.repo.client:close()
  end)
end)

describe("eight runners sharing one cache through a Gitea-shaped registry", function()
  local reg, why, base
  R.serve({ tls = true, auth = "token", gitea = true }, function(r, w, b) reg, why, base = r, w, b end)

  it("build and push to the same cache and repository at once: all succeed, no tag lost, retries bounded", function()
    if not reg then return pending(why) end
    tree(base .. "/tree")
    tree(base .. "/changed", 5)
    -- the digests each tree gives, built without any registry
    local want = {}
    for _, src in ipairs { "tree", "changed" } do
      local code, out, err = T.ocibuild("--store", base .. "/cold-" .. src, "build", base .. "/" .. src, "-q", "-t",
        "cold:1")
      assert(code == 0, err)
      want[src] = out:match("sha256:%x+")
    end
    local function src_of(i) return i % 2 == 0 and "changed" or "tree" end
    local cmds = {}
    for i = 1, 8 do
      local d = ("%s/r%d"):format(base, i)
      fresh_copy(base .. "/" .. src_of(i), d .. "-ctx")
      cmds[i] = ("(%s --store %s build %s -q --progress json -t %s --push --cache-to %s --cache-from %s "
        .. "--ca-file %s --creds %s >%s 2>%s; echo $? >%s) &"):format(T.q(T.bin), T.q(d .. "-store"),
        T.q(d .. "-ctx"), T.q(("%s/giteaadmin/fleet:r%d"):format(reg.host, i)), T.q(reg.host .. "/giteaadmin/cache"),
        T.q(reg.host .. "/giteaadmin/cache"), T.q(reg.ca), GITEA_CREDS, T.q(d .. ".out"), T.q(d .. ".err"),
        T.q(d .. ".rc"))
    end
    T.must(table.concat(cmds, " ") .. " wait")
    local tok = T.json(T.must(("curl -sf --cacert %s -u %s '%s/v2/token?service=container_registry&scope="
      .. "repository:giteaadmin/fleet:pull'"):format(T.q(reg.ca), GITEA_CREDS, reg.url))).token
    local tags = T.json(T.must(("curl -sf --cacert %s -H %s %s/v2/giteaadmin/fleet/tags/list"):format(T.q(reg.ca),
      T.q("Authorization: Bearer " .. tok), reg.url))).tags
    table.sort(tags)
    assert.same({ "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8" }, tags)
    for i = 1, 8 do
      local d = ("%s/r%d"):format(base, i)
      local err = T.read(d .. ".err")
      assert.equal("0\n", T.read(d .. ".rc"), err)
      assert.equal(want[src_of(i)], T.read(d .. ".out"):match("sha256:%x+"), err)
      -- each request is retried a bounded number of times (4 by default)
      local retries = select(2, err:gsub("retrying in", ""))
      assert.is_true(retries <= 8, ("runner %d retried %d times:\n%s"):format(i, retries, err))
    end
    -- both layers recorded, each under its key
    local codec = core.codec { kind = "gzip", level = 5 }:key()
    tok = T.json(T.must(("curl -sf --cacert %s -u %s '%s/v2/token?service=container_registry&scope="
      .. "repository:giteaadmin/cache:pull'"):format(T.q(reg.ca), GITEA_CREDS, reg.url))).token
    local ctags = T.json(T.must(("curl -sf --cacert %s -H %s %s/v2/giteaadmin/cache/tags/list"):format(T.q(reg.ca),
      T.q("Authorization: Bearer " .. tok), reg.url))).tags
    local have = {}
    for _, t in ipairs(ctags) do have[t] = true end
    for _, src in ipairs { "tree", "changed" } do
      local img = T.image(base .. "/cold-" .. src, "cold:1")
      assert.is_true(have[reuse.key_tag(img.config.rootfs.diff_ids[1], codec)], src)
    end
    -- a ninth runner, after them, with a file of its own changed: its
    -- unchanged blocks come by range through the ingress and the front
    tree(base .. "/third", 3)
    fresh_copy(base .. "/third", base .. "/r9-ctx")
    local code, out, err = T.ocibuild("--store", base .. "/r9-store", "build", base .. "/r9-ctx", "-q", "--progress",
      "json", "--cache-from", reg.host .. "/giteaadmin/cache", "--ca-file", reg.ca, "--creds", GITEA_CREDS)
    assert.equal(0, code, err)
    local c2, want9 = T.ocibuild("--store", base .. "/cold-third", "build", base .. "/third", "-q")
    assert.equal(0, c2)
    assert.equal(want9, out)
    local _, layers = events(err)
    assert.equal(reg.host .. "/giteaadmin/cache", layers[1].cache)
    assert.is_true(layers[1].fetched > 0 and layers[1].fetched < layers[1].size)
    assert.equal("", warnings(err))
  end)
end)
