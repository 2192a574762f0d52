-- ocibuild diff on builds that differ in known ways: each difference is
-- named (config fields, layer count, entries added, removed, changed by
-- type, mode, owner, mtime, size, content, link target), and nothing else.
local T = require "support"

local function build(d, ctx, tag, ...)
  return (T.built(d .. "/s", ctx, "-t", tag, "-q", ...).out:gsub("\n$", ""))
end

local function diff(d, a, b)
  return T.ocibuild("--store", d .. "/s", "diff", a, b)
end

describe("ocibuild diff", function()
  it("says two builds of the same tree are the same image (exit 0)", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a", "a\n")
    local digest = build(d, d .. "/ctx", "a:1")
    build(d, d .. "/ctx", "a:2")
    local code, out, err = diff(d, "a:1", "a:2")
    assert.equal(0, code, err)
    assert.equal(("a:1 and a:2 are the same image (%s)\n"):format(digest), out)
    code, out = diff(d, "a:1", digest)
    assert.equal(0, code)
    assert.equal(("a:1 and %s are the same image (%s)\n"):format(digest, digest), out)
  end)

  it("names every entry added, removed or changed, and each field that changed", function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    T.write(ctx .. "/same.txt", "same\n", 420)
    T.write(ctx .. "/content.txt", "one\n", 420)
    T.write(ctx .. "/grows.txt", "1\n", 420)
    T.write(ctx .. "/mode.sh", "#!/bin/sh\n", 420)
    T.write(ctx .. "/gone.txt", "bye\n", 420)
    T.write(ctx .. "/becomes-dir", "file\n", 420)
    T.must(("cd %s && ln -s same.txt link"):format(T.q(ctx)))
    local a = build(d, ctx, "x:1")
    T.write(ctx .. "/content.txt", "two\n", 420)
    T.write(ctx .. "/grows.txt", "12\n", 420)
    T.must(("cd %s && chmod 755 mode.sh && rm gone.txt becomes-dir && mkdir becomes-dir && ln -sfn content.txt link")
      :format(T.q(ctx)))
    T.write(ctx .. "/new.txt", "new\n", 384)
    local b = build(d, ctx, "x:2", "--label", "version=2")
    local code, out, err = diff(d, "x:1", "x:2")
    assert.equal(1, code)
    assert.equal("", err)
    local img1, img2 = T.image(d .. "/s", "x:1"), T.image(d .. "/s", "x:2")
    local function sha(s) return "sha256:" .. T.must("printf '%s' " .. T.q(s) .. " | sha256sum"):match("^(%x+)") end
    assert.equal(table.concat({
      ("--- x:1 %s"):format(a),
      ("+++ x:2 %s"):format(b),
      'config: config.Labels.version: (none) -> "2"',
      ("layer 1: %s -> %s"):format(img1.manifest.layers[1].digest, img2.manifest.layers[1].digest),
      "  ~ becomes-dir  type file -> dir, mode 0644 -> 0755, size 5 -> 0, content " .. sha("file\n") .. " -> (none)",
      ("  ~ content.txt  content %s -> %s"):format(sha("one\n"), sha("two\n")),
      "  - gone.txt  file 0644 0:0 4 B",
      ("  ~ grows.txt  size 2 -> 3, content %s -> %s"):format(sha("1\n"), sha("12\n")),
      '  ~ link  target "same.txt" -> "content.txt"',
      "  ~ mode.sh  mode 0644 -> 0755",
      "  + new.txt  file 0600 0:0 4 B",
      "8 differences",
    }, "\n") .. "\n", out)
  end)

  it("explains config fields, the layer count, owners and mtimes", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/f", "f\n", 420)
    T.write(d .. "/two/g", "g\n", 420)
    T.write(d .. "/b.lua", [[
local img = oci.image { platform = args.platform, created = tonumber(args.created) }
img:layer { context = "ctx", owner = args.owner, mtime = args.mtime }
if args.two then img:layer { context = "two", dest = "/two" } end
img:config { env = { A = args.a } }
return img:save { tag = args.tag }
]])
    T.must("touch -d @1700000000 " .. T.q(d .. "/ctx/f"))
    local function run(...)
      local code, _, err = T.ocibuild("--store", d .. "/s", "run", d .. "/b.lua", ...)
      assert.equal(0, code, err)
    end
    run("tag=c:1", "platform=linux/amd64", "created=0", "owner=0:0", "mtime=fixed", "a=1")
    run("tag=c:2", "platform=linux/arm64", "created=1700000000", "owner=1000:1000", "mtime=keep", "a=2", "two=1")
    local code, out = diff(d, "c:1", "c:2")
    assert.equal(1, code)
    local img2 = T.image(d .. "/s", "c:2")
    for _, want in ipairs {
      'config: architecture: "amd64" -> "arm64"',
      'config: config.Env: ["A=1"] -> ["A=2"]',
      'config: created: "1970-01-01T00:00:00Z" -> "2023-11-14T22:13:20Z"',
      'config: history[1].created: "1970-01-01T00:00:00Z" -> "2023-11-14T22:13:20Z"',
      'config: history[2].created: (none) -> "2023-11-14T22:13:20Z"',
      'config: history[2].created_by: (none) -> "ocibuild layer /two/"',
      "manifest: layers: 1 -> 2",
      "  ~ f  uid 0 -> 1000, gid 0 -> 1000, mtime 1970-01-01T00:00:00Z -> 2023-11-14T22:13:20Z",
      ("layer 2: only in c:2 (%s, "):format(img2.manifest.layers[2].digest),
    } do
      assert.truthy(out:find(want, 1, true), want .. "\nnot in:\n" .. out)
    end
  end)

  it("tells a layer with the same files compressed otherwise", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/f", ("text "):rep(1000))
    build(d, d .. "/ctx", "z:1")
    build(d, d .. "/ctx", "z:2", "--compression", "zstd")
    local code, out = diff(d, "z:1", "z:2")
    assert.equal(1, code)
    local img = T.image(d .. "/s", "z:1")
    assert.truthy(out:find(("  same files (diff_id %s), compressed differently: "
      .. "application/vnd.oci.image.layer.v1.tar+gzip %d B -> application/vnd.oci.image.layer.v1.tar+zstd ")
      :format(img.config.rootfs.diff_ids[1], img.manifest.layers[1].size), 1, true), out)
    assert.matches("\n1 difference\n$", out)
  end)

  it("fails clearly, exit 2 (1 is the answer \"they differ\"), on an image the store does not have and on usage",
    function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a", "a\n")
    build(d, d .. "/ctx", "a:1")
    local code, out, err = diff(d, "a:1", "nope:1")
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal(('ocibuild: no image "nope:1" in store %s/s\n'):format(d), err)
    code, out, err = T.ocibuild("--store", d .. "/s", "diff", "a:1")
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("ocibuild: diff needs two images (see 'ocibuild diff --help')\n", err)
  end)
end)
