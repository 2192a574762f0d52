-- `ocibuild images`, `tag`, `rm` and `inspect` on real stores: what they
-- print, how SRC is found (name, digest, ID prefix), docker's -f rules,
-- all-or-nothing removal, multi-platform indexes, and read-only commands
-- that never create a store. Every store ends valid for oci-image-tool
-- and fsck.
local T = require "support"
local fx = require "cli.storefx"

-- Rows of a table output, split on runs of 2+ spaces.
local function rows(out)
  local t = {}
  for line in out:gmatch("[^\n]+") do
    local cells = {}
    for cell in (line .. "   "):gmatch("(.-)   +") do cells[#cells + 1] = cell end
    t[#t + 1] = cells
  end
  return t
end

describe("ocibuild images", function()
  it("lists one row per name, sorted by name then tag, with a header and untagged images last", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a, aid = fx.build(s, d .. "/a", "a", "web:2", "web:10", "api:1")
    local n, nid = fx.build(s, d .. "/n", "no name")
    local t = rows(fx.ok(s, "images"))
    assert.same({ "REPOSITORY", "TAG", "IMAGE ID", "DIGEST", "PLATFORM", "SIZE", "CREATED" }, t[1])
    assert.same({ "api", "1", aid:sub(8, 19), a:sub(1, 19) }, { table.unpack(t[2], 1, 4) })
    assert.matches("^linux/", t[2][5])
    assert.equal("56 years ago", t[2][7])
    assert.same({ "web", "10" }, { t[3][1], t[3][2] })
    assert.same({ "web", "2" }, { t[4][1], t[4][2] })
    assert.same({ "<none>", "<none>", nid:sub(8, 19), n:sub(1, 19) }, { table.unpack(t[5], 1, 4) })
    assert.equal(5, #t)
    assert.matches("^%d+ B$", t[2][6])

    -- REPO, REPO:TAG, --digests, -q
    local w = rows(fx.ok(s, "images", "docker.io/library/web"))
    assert.same({ "10", "2" }, { w[2][2], w[3][2] })
    assert.equal(3, #w)
    assert.equal(2, #rows(fx.ok(s, "images", "web:2")))
    assert.same({ aid, a }, { rows(fx.ok(s, "images", "api", "--digests"))[2][3], rows(fx.ok(s, "images", "api",
      "--digests"))[2][4] })
    assert.equal(aid:sub(8, 19) .. "\n" .. nid:sub(8, 19) .. "\n", fx.ok(s, "images", "-q"))
    fx.valid(s)
  end)

  it("prints one JSON object per image with stable keys and full digests", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a, aid = fx.build(s, d .. "/a", "a", "web:1", "localhost:5000/team/web:v1")
    local out = fx.ok(s, "images", "--format", "json")
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(1, #lines)
    local o = T.json(lines[1])
    local keys = {}
    for k in pairs(o) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "attestations", "created", "digest", "error", "id", "mediaType", "names", "platforms",
      "signatures", "size", "tags" }, keys)
    assert.equal(0, o.attestations)
    assert.equal(0, o.signatures)
    assert.equal(a, o.digest)
    assert.equal(aid, o.id)
    assert.same({ "docker.io/library/web:1", "localhost:5000/team/web:v1" }, o.names)
    assert.same({ "web:1", "localhost:5000/team/web:v1" }, o.tags)
    assert.equal("1970-01-01T00:00:00Z", o.created)
    assert.equal("application/vnd.oci.image.manifest.v1+json", o.mediaType)
    local size = 0
    for _, b in ipairs(fx.blobs(s)) do size = size + #T.read(s .. "/blobs/sha256/" .. b) end
    assert.equal(size, o.size)
    fx.valid(s)
  end)

  it("shows a multi-platform index with its platforms, and its images by platform in inspect", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/a/f", "amd")
    fx.ok(s, "build", d .. "/a", "--platform", "linux/amd64", "-t", "one:amd64")
    T.write(d .. "/b/f", "arm")
    fx.ok(s, "build", d .. "/b", "--platform", "linux/arm64", "-t", "one:arm64")
    local am, arm = fx.entries(s)[1].digest, fx.entries(s)[2].digest
    local idx = fx.index(s, "multi:1", { am, arm })
    local t = rows(fx.ok(s, "images", "multi"))
    assert.same({ "multi", "1", idx.digest:sub(8, 19), idx.digest:sub(1, 19), "linux/amd64,linux/arm64" },
      { table.unpack(t[2], 1, 5) })
    local o = T.json(fx.ok(s, "inspect", "multi:1"))
    assert.equal(idx.digest, o.Digest)
    assert.same({ "linux/amd64", "linux/arm64" }, { o.Manifests[1].Platform.os .. "/"
      .. o.Manifests[1].Platform.architecture,
      o.Manifests[2].Platform.os .. "/" .. o.Manifests[2].Platform.architecture })
    local arm_cfg = T.json(fx.ok(s, "inspect", "multi:1", "--platform", "linux/arm64", "--config"))
    assert.equal("arm64", arm_cfg.architecture)
    local code, _, err = fx.run(s, "inspect", "multi:1", "--config")
    assert.equal(1, code)
    assert.equal('ocibuild: "multi:1" is an index of linux/amd64, linux/arm64: pick one with --platform\n', err)
    fx.valid(s)
  end)

  it("reports a damaged image on standard error, lists the rest, and exits 1", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/a", "a", "good:1")
    local _, bad_id = fx.build(s, d .. "/b", "b", "bad:1")
    local cfg = s .. "/blobs/sha256/" .. bad_id:sub(8)
    T.write(cfg, (T.read(cfg):gsub("rootfs", "rootfz")))
    local code, out, err = fx.run(s, "images")
    assert.equal(1, code)
    local t = rows(out)
    assert.same({ "bad", "1" }, { t[2][1], t[2][2] })
    assert.equal("damaged", t[2][7])
    assert.same({ "good", "1" }, { t[3][1], t[3][2] })
    assert.matches("^ocibuild: bad:1: config " .. bad_id .. ": BADDIGEST: expected " .. bad_id .. ", got sha256:%x+: "
      .. cfg:gsub("%p", "%%%0") .. "\nocibuild: 1 image could not be read %(see 'ocibuild fsck'%)\n$", err)
  end)
end)

describe("ocibuild tag", function()
  it("names an image found by name, digest, name@digest or ID prefix, and moves names", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a, aid = fx.build(s, d .. "/a", "a", "a:1")
    local b = fx.build(s, d .. "/b", "b", "b:1")
    assert.equal("tagged: x:1 -> " .. a .. "\ntagged: registry.example.com/team/x:2 -> " .. a .. "\n",
      fx.ok(s, "tag", "a:1", "x:1", "registry.example.com/team/x:2"))
    fx.ok(s, "tag", a, "by-digest:1")
    fx.ok(s, "tag", "a:1@" .. a, "by-ref-digest:1")
    fx.ok(s, "tag", aid:sub(8, 13), "by-id:1")
    fx.ok(s, "tag", "sha256:" .. aid:sub(8, 13), "by-sha-id:1")
    fx.ok(s, "tag", aid, "by-full-id:1")
    for _, name in ipairs { "x:1", "by-digest:1", "by-ref-digest:1", "by-id:1", "by-sha-id:1", "by-full-id:1" } do
      assert.equal(a, T.image(s, name).desc.digest, name)
    end
    assert.equal("registry.example.com/team/x:2", T.image(s,
      "registry.example.com/team/x:2").desc.annotations["org.opencontainers.image.ref.name"])
    fx.ok(s, "tag", "b:1", "x:1")
    assert.equal(b, T.image(s, "x:1").desc.digest)
    assert.equal(9, #fx.entries(s))
    fx.valid(s)
  end)

  it("fails naming the image or name at fault, and changes nothing", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/a", "a", "a:1")
    local before = T.read(s .. "/index.json")
    for _, case in ipairs {
      { { "tag", "nope:1", "x:1" }, 1, ('ocibuild: no image "nope:1" in store %s\n'):format(s) },
      -- a name that cannot be one is a usage mistake
      { { "tag", "a:1", "Bad:1" }, 2,
        'ocibuild: invalid reference "Bad:1": repository name "library/Bad" must be lowercase (try "bad:1") (see' ..
          ' \'ocibuild tag --help\')\n' },
      { { "tag", "a:1", "x@sha256:" .. ("0"):rep(64) }, 2, 'ocibuild: cannot tag with a digest reference "x@sha256:'
        .. ("0"):rep(64) .. '" (see \'ocibuild tag --help\')\n' },
      { { "tag", "a:1" }, 2, "ocibuild: tag needs an image and at least one new name (see 'ocibuild tag --help')\n" },
      { { "tag", "sha256:" .. ("0"):rep(64), "x:1" }, 1,
        ('ocibuild: no image "sha256:%s" in store %s\n'):format(("0"):rep(64), s) },
    } do
      local code, out, err = fx.run(s, table.unpack(case[1]))
      assert.same({ case[2], "", case[3] }, { code, out, err })
    end
    assert.equal(before, T.read(s .. "/index.json"))
  end)

  it("refuses an ID or digest prefix several images start with, naming them", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local built, i = {}, 0
    -- builds until two image IDs share their first hex digit
    local first, seen
    repeat
      i = i + 1
      local dg, id = fx.build(s, d .. "/c" .. i, "content " .. i, "c:" .. i)
      built[#built + 1] = { dg, id }
      seen = seen or {}
      first = seen[id:sub(8, 8)]
      seen[id:sub(8, 8)] = seen[id:sub(8, 8)] or id
    until first
    -- images prints IDs and digests: a prefix of either names an image
    local hex, n = first:sub(8, 8), 0
    for _, b in ipairs(built) do
      if b[1]:sub(8, 8) == hex or b[2]:sub(8, 8) == hex then n = n + 1 end
    end
    local code, out, err = fx.run(s, "tag", hex, "x:1")
    assert.same({ 1, "" }, { code, out })
    assert.matches('^ocibuild: "' .. hex .. '" is ambiguous: it starts the IDs or digests of ' .. n
      .. ' images %(sha256:%x+'
      .. (", sha256:%x+"):rep(n - 1) .. '%)\n$', err)
  end)
end)

describe("ocibuild rm", function()
  it("untags names, removes an image's last entry, and prune then leaves an empty layout", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a = fx.build(s, d .. "/a", "a", "a:1", "a:2")
    local b = fx.build(s, d .. "/b", "b", "b:1")
    assert.equal("untagged: a:1\n", fx.ok(s, "rm", "a:1"))
    assert.equal(a, T.image(s, "a:2").desc.digest)
    assert.equal("untagged: a:2\nuntagged: b:1\ndeleted: " .. a .. "\ndeleted: " .. b .. "\n", fx.ok(s, "rm", "a:2", b))
    assert.same({}, fx.entries(s))
    fx.ok(s, "prune")
    assert.same({}, fx.blobs(s))
    assert.equal('{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}', T.read(s
      .. "/index.json"))
    assert.equal('{"imageLayoutVersion":"1.0.0"}', T.read(s .. "/oci-layout"))
    fx.valid(s)
  end)

  it("needs -f for a digest of an image with several names or held by an index, and is all or nothing", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a, aid = fx.build(s, d .. "/a", "a", "a:1", "a:2")
    local b = fx.build(s, d .. "/b", "b", "b:1")
    fx.index(s, "idx:1", { b })
    local before = T.read(s .. "/index.json")
    local code, out, err = fx.run(s, "rm", "b:1", aid:sub(8, 19))
    assert.same({ 1, "",
      ("ocibuild: image %s has several names (a:1, a:2): use -f to remove them all, or remove each name\n"):format(a) },
      { code, out, err })
    code, out, err = fx.run(s, "rm", b)
    assert.same({ 1, "",
      ("ocibuild: image %s is also held by the index idx:1: use -f to remove its own entries\n"):format(b) },
      { code, out, err })
    code, out, err = fx.run(s, "rm", "a:1", "nope:1")
    assert.same({ 1, "", ('ocibuild: no image "nope:1" in store %s\n'):format(s) }, { code, out, err })
    assert.equal(before, T.read(s .. "/index.json"))
    assert.equal("untagged: a:1\nuntagged: a:2\nuntagged: b:1\ndeleted: " .. a .. "\ndeleted: " .. b .. "\n",
      fx.ok(s, "rm", "-f", a, b))
    -- b stays reachable through the index
    fx.ok(s, "prune")
    assert.equal(b, T.json(fx.ok(s, "inspect", "idx:1")).Manifests[1].Digest)
    code, out, err = fx.run(s, "rm", b)
    assert.same({ 1, "",
      ('ocibuild: "%s" is part of the image idx:1, not an image of its own: remove that\n'):format(b) },
      { code, out, err })
    fx.valid(s)
  end)
end)

describe("ocibuild inspect", function()
  it("prints a summary, the config, the manifest, and exact bytes with --raw", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/a/f", "a")
    fx.ok(s, "build", d .. "/a", "-t", "site:dev", "-t", "site:1", "--label", "team=web")
    local img = T.image(s, "site:dev")
    local o = T.json(fx.ok(s, "inspect", "site:dev"))
    assert.equal(img.desc.digest, o.Digest)
    assert.equal(img.manifest.config.digest, o.Id)
    assert.same({ "docker.io/library/site:1", "docker.io/library/site:dev" }, o.Names)
    assert.same({ "site:1", "site:dev" }, o.RepoTags)
    assert.same({ team = "web" }, o.Labels)
    assert.equal("linux", o.Os)
    assert.same({ img.manifest.layers[1].digest }, o.Layers)
    assert.same(img.config.rootfs.diff_ids, o.RootFS.DiffIDs)
    assert.equal(T.read(img.blob(img.desc.digest)), fx.ok(s, "inspect", "site:dev", "--raw"))
    assert.equal(T.read(img.blob(img.manifest.config.digest)), fx.ok(s, "inspect", img.desc.digest, "--config",
      "--raw"))
    assert.same(img.config, T.json(fx.ok(s, "inspect", "site:1", "--config")))
    local m = fx.ok(s, "inspect", "site:1", "--manifest")
    assert.matches('^{\n  "config": {\n    "digest": "' .. img.manifest.config.digest, m)
    assert.same(img.manifest, T.json(m))
    fx.valid(s)
  end)

  it("names a corrupt blob by path with the expected and actual digest", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local a = fx.build(s, d .. "/a", "a", "a:1")
    local p = s .. "/blobs/sha256/" .. a:sub(8)
    T.write(p, (T.read(p):gsub("schemaVersion", "schemaversion")))
    local actual = "sha256:" .. T.sha256_file(p)
    local code, out, err = fx.run(s, "inspect", "a:1", "--raw")
    assert.same({ 1, "", ("ocibuild: a:1: manifest %s: BADDIGEST: expected %s, got %s: %s\n"):format(a, a, actual, p) },
      { code, out, err })
  end)
end)

describe("read-only commands", function()
  it("never create a store: on a missing one they list and remove nothing, and those given an image say "
    .. "where the missing store's path came from", function()
    local d = T.tmpdir(finally)
    local gone = d .. "/gone"
    local empty = {
      images = "REPOSITORY   TAG   IMAGE ID   DIGEST   PLATFORM   SIZE   CREATED\n",
      prune = "removed 0 untagged images, 0 blobs (0 bytes), 0 temp files (0 bytes), 0 reuse records and 0 layer" ..
        " states\n",
      fsck = "checked 0 images and 0 blobs (0 bytes); 0 blobs (0 bytes) no image reaches, 0 abandoned temp files\n",
    }
    for _, argv in ipairs { { "images" }, { "prune" }, { "fsck" } } do
      local code, out, err = T.ocibuild("--store", gone, table.unpack(argv))
      assert.same({ 0, empty[argv[1]], "" }, { code, out, err }, argv[1])
    end
    local code, out, err = T.ocibuild("--store", gone, "prune", "--dry-run")
    assert.same({ 0, "would remove 0 untagged images, 0 blobs (0 bytes) and 0 temp files (0 bytes)\n", "" },
      { code, out, err })
    for _, argv in ipairs { { "inspect", "a:1" }, { "export", "a:1", "-o", d .. "/x.tar" },
      { "tag", "a:1", "b:1" }, { "rm", "a:1" }, { "diff", "a:1", "b:1" } } do
      code, out, err = T.ocibuild("--store", gone, table.unpack(argv))
      -- diff's 1 is "they differ": its failures exit 2
      assert.same({ argv[1] == "diff" and 2 or 1, "",
        ('ocibuild: no image "a:1": no store at %s (given with --store)\n'):format(gone) }, { code, out, err }, argv[1])
    end
    code, out, err = T.sh(("OCIBUILD_STORE=%s %s inspect a:1"):format(T.q(gone), T.q(T.bin)))
    assert.same({ 1, "", ('ocibuild: no image "a:1": no store at %s (from $OCIBUILD_STORE)\n'):format(gone) },
      { code, out, err })
    code, out, err = T.sh(("cd %s && env -u OCIBUILD_STORE -u XDG_DATA_HOME HOME=%s %s inspect a:1"):format(T.q(d),
      T.q(d), T.q(T.bin)))
    assert.same({ 1, "", ('ocibuild: no image "a:1": no store at %s/.local/share/ocibuild/store (the default store)\n')
      :format(d) }, { code, out, err })
    assert.equal("", T.must("ls -A " .. T.q(d)))
  end)
end)
