-- The build script API rejects bad input with one message naming the call,
-- the option and the reason (and a suggestion for a near miss), raised at
-- the script's line; what can only be checked against the base (its
-- presence, platform, blobs, what is in the way) fails `save` before any
-- layer is written, pointing at the call at fault.
local T = require "support"
local ocibuild = require "ocibuild"

-- This file as messages name it (busted may be given a relative or an
-- absolute path).
local SRC = debug.getinfo(1, "S").short_src
local function esc(s) return (s:gsub("%p", "%%%0")) end

-- The message fn raises, without the "file:line: " the API puts first.
local function fails(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^\n]-:%d+: ", ""))
end

local function api(d)
  return ocibuild.new(d, { warn = function() end })
end

-- An API over a temp folder holding a context "ctx" and a store "s" with
-- a base image "base:1" (linux/amd64) whose layer has etc/passwd.
local function with_base(finally)
  local d = T.tmpdir(finally)
  T.write(d .. "/ctx/a.txt", "a\n")
  T.write(d .. "/root/etc/passwd", "root:x:0:0::/:/bin/sh\n")
  T.write(d .. "/root/tmp/.keep", "")
  local oci = ocibuild.new(d, { store = d .. "/s", warn = function() end })
  local b = oci.image { platform = "linux/amd64" }
  b:layer { context = "root" }
  b:config { env = { PATH = "/bin" } }
  local r = b:save { tag = "base:1" }
  return d, oci, r
end

local function blobs(dir)
  return T.must("ls " .. T.q(dir .. "/blobs/sha256") .. " | sort")
end

describe("ocibuild.api.image (the methods of an image, as a script calls them)", function()
  describe("strict options", function()
    local oci = api("/tmp")

    it("names the unknown option and the call, with a suggestion", function()
      assert.equal('image: unknown option "form" (did you mean "from"?)', fails(oci.image, { form = "x" }))
      local img = oci.image {}
      assert.equal('layer: unknown option "dset" (did you mean "dest"?)', fails(img.layer, img, { context = ".",
        dset = "/x" }))
      assert.equal('config: unknown option "entrypiont" (did you mean "entrypoint"?)', fails(img.config, img,
        { entrypiont = {} }))
      assert.equal('file: unknown option "contnet" (did you mean "content"?)',
        fails(img.file, img, { path = "/x", contnet = "" }))
      assert.equal('save: unknown option "tags" (did you mean "tag"?)', fails(img.save, img, { tags = "x:1" }))
      assert.equal('build: unknown option "form" (did you mean "from"?)', fails(oci.build, { context = ".",
        form = "x" }))
      assert.equal('remove: unknown option "force" (remove takes a list of paths)',
        fails(img.remove, img, { "/x", force = true }))
      assert.equal('index: unknown option "annotation" (did you mean "annotations"?)',
        fails(oci.index, { img, annotation = {} }))
    end)

    it("names an unknown rule attribute and the ones there are", function()
      local img = oci.image {}
      assert.equal('layer: rules[2]: unknown attribute "mod" (did you mean "mode"?); a rule sets mode, dir_mode,' ..
        ' owner, mtime',
        fails(img.layer, img, { context = ".", rules = { { "a", mode = "0644" }, { "b", mod = "0755" } } }))
    end)

    it("names an unknown short annotation", function()
      local img = oci.image {}
      assert.equal('annotations: unknown short name "revison" (did you mean "revision"?); use a full key such as' ..
        ' "com.example.revison", or one of authors, created, description, documentation, licenses, revision,' ..
          ' source, title, url, vendor, version',
        fails(img.annotations, img, { revison = "abc" }))
    end)
  end)

  describe("bad values", function()
    local d = T.tmpdir()
    T.write(d .. "/ctx/a", "a")
    T.write(d .. "/f.conf", "f")
    local oci = api(d)
    local img = oci.image {}
    teardown(function() T.sh("rm -rf " .. T.q(d)) end)

    local cases = {
      { "a dest that is not absolute", function() img:layer { context = "ctx", dest = "srv" } end,
        'dest must be an absolute path in the image, got "srv"' },
      { "an env entry without =", function() img:config { env = { "PATH=/bin", "DEBUG" } } end,
        'config.env[2] must be a KEY=VALUE string, got "DEBUG"' },
      { "an entrypoint given as a string", function() img:config { entrypoint = "run --fast" } end,
        'config.entrypoint must be a list of strings (for a shell command write { "/bin/sh", "-c", "run --fast" })' },
      { "an entrypoint holding a number", function() img:config { entrypoint = { "/bin/app", 1 } } end,
        "config.entrypoint[2] must be a string" },
      { "a relative workdir", function() img:config { workdir = "app" } end,
        'config.workdir must be an absolute path, got "app"' },
      { "a relative volume", function() img:config { volumes = { "data" } } end,
        'config.volumes[1] must be an absolute path, got "data"' },
      { "a bad port", function() img:config { ports = { "http" } } end,
        'config.ports: bad port "http" (expected 1-65535, optionally /tcp, /udp or /sctp)' },
      { "both stop_signal and stopsignal", function() img:config { stop_signal = "A", stopsignal = "B" } end,
        "config: give stop_signal or stopsignal (the same field), not both" },
      { "a mode given as a Lua number", function() img:layer { context = "ctx", rules = { { "bin/**",
        mode = 755 } } } end,
        'layer: rules[1].mode must be an octal string from "0000" to "7777", got 755 (a Lua number: write "0755")' },
      { "a mode computed in decimal", function() img:layer { context = "ctx", rules = { { "bin/**",
        mode = 493 } } } end,
        'layer: rules[1].mode must be an octal string from "0000" to "7777", got 493 (a Lua number: write "0755")' },
      { "a mode that is not octal", function() img:layer { context = "ctx", rules = { { "*",
        dir_mode = "0798" } } } end,
        'layer: rules[1].dir_mode must be an octal string from "0000" to "7777", got "0798"' },
      { "a rule owner without a group", function() img:layer { context = "ctx", rules = { { "*",
        owner = "1000" } } } end,
        'layer: rules[1].owner must be "UID:GID" with ids from 0 to 4294967294, got "1000"' },
      { "a rule with a bad pattern", function() img:layer { context = "ctx", rules = { { "[", mode = "0644" } } } end,
        "layer: rules[1]: bad pattern '[': syntax error in pattern: unterminated character class" },
      { "a rule that is an exception", function() img:layer { context = "ctx", rules = { { "!a",
        mode = "0644" } } } end,
        "layer: rules[1]: \"!a\": a rule cannot be an exception ('!'); order the rules instead" },
      { "a rule without a pattern", function() img:layer { context = "ctx", rules = { { mode = "0644" } } } end,
        'layer: rules[1] needs a pattern first, as in { "bin/**", mode = "0755" }' },
      { "a rule that sets nothing", function() img:layer { context = "ctx", rules = { { "bin/**" } } } end,
        'layer: rules[1] ("bin/**") sets nothing: give mode, dir_mode, owner, mtime' },
      { "rules that are not a list", function() img:layer { context = "ctx", rules = { mode = "0644" } } end,
        'layer: rules must be a list of tables like { "bin/**", mode = "0755" }' },
      { "replace that is not a boolean", function() img:layer { context = "ctx", replace = "yes" } end,
        'replace must be true or false, got "yes"' },
      { "a file with both content and source", function() img:file { path = "/etc/f", content = "x",
        source = "f.conf" } end,
        "file /etc/f: give content or source, not both" },
      { "a file with neither", function() img:file { path = "/etc/f" } end,
        'file /etc/f needs content = "..." or source = "file"' },
      { "a file path that is not absolute", function() img:file { path = "etc/f", content = "" } end,
        'file: path must be an absolute path in the image, got "etc/f"' },
      { "a file whose source is missing", function() img:file { path = "/etc/f", source = "nope.conf" } end,
        ("file /etc/f: source %s/nope.conf does not exist"):format(d) },
      { "a file whose source is a folder", function() img:file { path = "/etc/f", source = "ctx" } end,
        ("file /etc/f: source %s/ctx is a dir, not a regular file"):format(d) },
      { "a file mode given as a number", function() img:file { path = "/etc/f", content = "", mode = 644 } end,
        'file /etc/f: mode must be an octal string from "0000" to "7777", got 644 (a Lua number: write "0644")' },
      { "a file owner that is a name", function() img:file { path = "/etc/f", content = "", owner = "root" } end,
        'file /etc/f: owner must be "UID:GID" with ids from 0 to 4294967294, got "root"' },
      { "a removal that is not absolute", function() img:remove { "etc/motd" } end,
        'remove[1] must be an absolute path in the image, got "etc/motd"' },
      { "a removal of the root", function() img:remove { "/" } end, "remove[1]: the root cannot be removed" },
      { "a removal with ..", function() img:remove { "/etc/../x" } end,
        "remove[1] must not contain '..', got \"/etc/../x\"" },
      { "a removal with a bad pattern", function() img:remove { "/etc/[" } end,
        "remove[1]: bad pattern 'etc/[': syntax error in pattern: unterminated character class" },
      { "an empty removal", function() img:remove {} end, "remove needs at least one path" },
      { "a base that is not a string", function() oci.image { from = 1 } end,
        "from must be an image reference, got 1" },
      { "an index of something else", function() oci.index { img, {} } end,
        "index[2] is not an image made with oci.image" },
      { "an annotation that is not a string", function() img:annotations { version = 1 } end,
        'annotations: "version" must be a string' },
      -- a NUL would cut the name where C reads it: the layer and its history would disagree
      { "a dest holding a NUL", function() img:layer { context = "ctx", dest = "/x\0y" } end,
        'dest must be an absolute path in the image, got "/x\\0y"' },
      { "a file path holding a NUL", function() img:file { path = "/a\0b", content = "x" } end,
        'file: path must be an absolute path in the image, got "/a\\0b"' },
      { "a removal holding a NUL", function() img:remove { "/a\0b" } end,
        'remove[1] must be an absolute path in the image, got "/a\\0b"' },
      { "a workdir holding a NUL", function() img:config { workdir = "/w\0" } end,
        'config.workdir must be an absolute path, got "/w\\0"' },
      { "a table that holds itself", function()
        local t = {}
        t.self = t
        img:config { healthcheck = { test = t } }
      end, "config.healthcheck.test must be a list of strings" },
      { "tables nested past any field's depth", function()
        local t = {}
        local c = t
        for _ = 1, 100000 do c.x = {} c = c.x end
        img:config { cmd = t }
      end, "config.cmd must be a list of strings" },
      { "a value shown without its address", function() img:remove { {} } end,
        "remove[1] must be an absolute path in the image, got a table" },
      { "a stop signal Docker does not know", function() img:config { stop_signal = "SIGFOO" } end,
        'config.stop_signal: "SIGFOO" is not a signal Docker knows (as SIGTERM, or a number)' },
      { "a healthcheck Docker would not run", function() img:config { healthcheck = { test = { "CMD" } } } end,
        'config.healthcheck.test must be { "NONE" }, { "CMD", program, args... } or { "CMD-SHELL", command }, '
        .. 'got "CMD"' },
      { "a healthcheck interval under 1 ms", function() img:config { healthcheck = { test = { "NONE" },
        interval = 1 } } end,
        "config.healthcheck.interval must be nanoseconds (an integer), 0 or at least 1 ms as Docker takes it" },
      { "a created annotation that is not a date", function() img:annotations { created = "yesterday" } end,
        'annotations: "created" must be a date and time as RFC 3339 writes it (2024-05-01T12:00:00Z), got '
        .. '"yesterday"' },
    }
    for _, c in ipairs(cases) do
      it("rejects " .. c[1], function() assert.equal(c[3], fails(c[2])) end)
    end
  end)

  describe("save with a base", function()
    it("fails on a base that does not exist, at the image's line, writing nothing", function()
      local d, oci = with_base(finally)
      local before = blobs(d .. "/s")
      local img = oci.image { from = "127.0.0.1:9/nope:1" }
      img:layer { context = "ctx" }
      local ok, err = pcall(img.save, img, { tag = "app:1" })
      assert.is_false(ok)
      assert.matches("^" .. esc(SRC) .. ":%d+: ", err)
      assert.equal(("base image 127.0.0.1:9/nope:1 is not in the store %s/s, and pulling it failed: cannot" ..
        " connect to 127.0.0.1:9: connection refused at https://127.0.0.1:9/v2/ (is the registry running there?)")
        :format(d), (err:gsub("^[^:]+:%d+: ", "")))
      assert.equal(before, blobs(d .. "/s"))
    end)

    it("fails on a base of another platform", function()
      local _, oci = with_base(finally)
      local img = oci.image { from = "base:1", platform = "linux/arm64" }
      assert.equal("base image base:1 is linux/amd64, not linux/arm64", fails(img.save, img, { tag = "app:1" }))
    end)

    it("builds on an OCI archive, taking the image its name selects", function()
      local d = with_base(finally)
      local code, _, err = T.ocibuild("--store", d .. "/s", "export", "base:1", "-o", d .. "/base.tar")
      assert.equal(0, code, err)
      local other = ocibuild.new(d, { store = d .. "/other", warn = function() end })
      for _, from in ipairs { "oci-archive:base.tar", "oci-archive:" .. d .. "/base.tar:base:1" } do
        local img = other.image { from = from }
        img:layer { context = "ctx", dest = "/app" }
        local r = img:save { tag = "app:1" }
        local got = T.image(d .. "/other", "app:1")
        assert.equal(r.digest, got.desc.digest)
        assert.equal(T.image(d .. "/s", "base:1").manifest.layers[1].digest, got.manifest.layers[1].digest)
        assert.equal(T.image(d .. "/s", "base:1").desc.digest,
          got.manifest.annotations["org.opencontainers.image.base.digest"])
      end
      local img = other.image { from = "oci-archive:base.tar:nope:2" }
      assert.equal(("base oci-archive:%s/base.tar:nope:2: no image \"nope:2\" in %s/base.tar"):format(d, d),
        fails(img.save, img, {}))
      img = other.image { from = "oci-archive:/x.tar" }
      assert.equal("base oci-archive:/x.tar: cannot import /x.tar: ENOENT: No such file or directory: /x.tar",
        fails(img.save, img, {}))
    end)

    it("fails on a corrupt base layer, naming it with both digests, writing nothing", function()
      local d, oci = with_base(finally)
      local base = T.image(d .. "/s", "base:1")
      local layer = base.layers[1]
      local good = base.manifest.layers[1].digest
      local bytes = T.read(layer)
      T.must("chmod u+w " .. T.q(layer))
      T.write(layer, bytes:sub(1, -2) .. string.char((bytes:byte(-1) + 1) % 256))
      local bad = "sha256:" .. T.sha256_file(layer)
      local before = blobs(d .. "/s")
      local img = oci.image { from = "base:1" }
      img:layer { context = "ctx", dest = "/app" }
      assert.equal(("base image base:1: layer 1 (%s): BADDIGEST: expected %s, got %s: %s"):format(good, good, bad,
        layer),
        fails(img.save, img, { tag = "app:1" }))
      assert.equal(before, blobs(d .. "/s"))
      -- without a destination the layer is not read, only verified
      img = oci.image { from = "base:1" }
      img:layer { context = "ctx" }
      local err = fails(img.save, img, { tag = "app:1" })
      assert.equal(("base image base:1: layer 1 (%s): BADDIGEST: expected %s, got %s: %s"):format(good, good, bad,
        layer), err)
      assert.equal(before, blobs(d .. "/s"))
    end)

    it("fails on a file in the way of a destination, at the layer's line, writing nothing", function()
      local d, oci = with_base(finally)
      local before = blobs(d .. "/s")
      local img = oci.image { from = "base:1" }
      img:layer { context = "ctx", dest = "/opt" }
      img:layer { context = "ctx", dest = "/etc/passwd/conf" } local line = debug.getinfo(1, "l").currentline
      local ok, err = pcall(img.save, img, { tag = "app:1" })
      assert.is_false(ok)
      assert.equal(("%s:%d: dest /etc/passwd/conf/: /etc/passwd is a file in the base image"):format(SRC, line), err)
      assert.equal(before, blobs(d .. "/s"))
    end)

    it("fails on a file over a folder and names the layer that made it", function()
      local _, oci = with_base(finally)
      local img = oci.image { from = "base:1" }
      img:file { path = "/etc", content = "x" }
      assert.equal("file /etc: the image has a folder there (from the base image); remove it first",
        fails(img.save, img, {}))
      img = oci.image { from = "base:1" }
      img:layer { context = "ctx", dest = "/srv" } local line = debug.getinfo(1, "l").currentline
      img:file { path = "/srv/a.txt/b", content = "x" }
      assert.equal(("file /srv/a.txt/b: /srv/a.txt is a file in the layer made at %s:%d"):format(SRC, line),
        fails(img.save, img, {}))
    end)

    it("fails on two files at one path of one layer", function()
      local _, oci = with_base(finally)
      local img = oci.image { from = "base:1" }
      img:file { path = "/etc/x", content = "1" } local line = debug.getinfo(1, "l").currentline
      img:file { path = "/etc/x", content = "2" }
      assert.equal(("file /etc/x is added twice in one layer (also at %s:%d)"):format(SRC, line),
        fails(img.save, img, {}))
    end)

    it("fails on two images of one platform in an index, before building", function()
      local d, oci = with_base(finally)
      local before = blobs(d .. "/s")
      local a = oci.image { platform = "linux/amd64" }
      a:layer { context = "ctx" }
      local b = oci.image { platform = "linux/amd64" }
      b:layer { context = "ctx" }
      local idx = oci.index { a, b }
      assert.equal("index[1] and index[2] are both linux/amd64: an index holds one image per platform",
        fails(idx.save, idx, { tag = "m:1" }))
      assert.equal(before, blobs(d .. "/s"))
    end)
  end)
end)
