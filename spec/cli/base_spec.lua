-- `ocibuild build --from REF` and the config flags: a base named by tag,
-- digest, image ID prefix or OCI layout (oci:DIR[:TAG]); the config merged
-- the way Docker merges it; every flag of the config; bad references
-- failing with one line and nothing written; base layers read in full
-- checked against their config's diff_ids.
local T = require "support"

local function printed(out, field)
  return out:match(field .. ":%s+(%S+)")
end

-- A store with a base image "base:1": /etc/os-release, PATH and HOME set,
-- a cmd, a label, a port.
local function fixture(finally)
  local d = T.tmpdir(finally)
  T.write(d .. "/root/etc/os-release", "ID=test\n", 420)
  T.write(d .. "/base.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/amd64" }
img:layer { context = "root" }
img:config { env = { PATH = "/usr/bin:/bin", HOME = "/root" }, cmd = { "/bin/sh" }, ports = { "22" },
  labels = { tier = "base" } }
return img:save { tag = "base:1" }
]])
  T.write(d .. "/ctx/app.txt", "app\n", 420)
  local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/base.lua")
  assert(code == 0, out .. err)
  return d, printed(out, "digest"), printed(out, "image id")
end

local function build(d, ...)
  return T.built(d .. "/s", d .. "/ctx", ...).out
end

local function blobs(d)
  return T.must("ls " .. T.q(d .. "/s/blobs/sha256") .. " | sort")
end

describe("ocibuild build --from", function()
  it("builds on a base named by tag, digest, image ID prefix or OCI layout: the same image", function()
    local d, digest, id = fixture(finally)
    T.must(("skopeo copy -q oci:%s:base:1 oci:%s:v1"):format(T.q(d .. "/s"), T.q(d .. "/layout")))
    local digests = {}
    for i, from in ipairs { "base:1", digest, id:sub(8, 19), digest:sub(8, 15), "docker.io/library/base:1",
      "base@" .. digest, "oci:" .. d .. "/layout:v1", "oci:" .. d .. "/layout" } do
      digests[i] = printed(build(d, "--from", from, "--dest", "/opt"), "digest")
    end
    for i = 2, 5 do assert.equal(digests[1], digests[i]) end
    assert.are_not.equal(digests[1], digests[6]) -- base.name holds the digest given
    assert.equal(digests[7], digests[8]) -- a layout's ref.name "v1" is not a full name: no base.name
    local img = T.image(d .. "/s", "base:1")
    local out = build(d, "--from", "oci:" .. d .. "/layout:v1", "-t", "app:1")
    local app = T.image(d .. "/s", "app:1")
    assert.same(img.manifest.layers[1], app.manifest.layers[1])
    assert.equal(digest, app.manifest.annotations["org.opencontainers.image.base.digest"])
    assert.is_nil(app.manifest.annotations["org.opencontainers.image.base.name"])
    assert.truthy(out:find(app.desc.digest, 1, true))
  end)

  it("merges the config: env per key, Docker's entrypoint/cmd rule, ports and labels added", function()
    local d = fixture(finally)
    build(d, "--from", "base:1", "-t", "a:1", "--env", "HOME=/app", "--env", "MODE=x", "--entrypoint",
      '["/bin/app","-v"]',
      "--label", "team=web", "--expose", "8080/tcp")
    local c = T.image(d .. "/s", "a:1").config
    assert.same({ "HOME=/app", "PATH=/usr/bin:/bin", "MODE=x" }, c.config.Env)
    assert.same({ "/bin/app", "-v" }, c.config.Entrypoint)
    assert.is_nil(c.config.Cmd)
    assert.same({ ["22/tcp"] = {}, ["8080/tcp"] = {} }, c.config.ExposedPorts)
    assert.same({ tier = "base", team = "web" }, c.config.Labels)
    assert.equal(2, #c.history)
    build(d, "--from", "base:1", "-t", "b:1", "--cmd", "echo hi", "--entrypoint", "", "--workdir", "/srv",
      "--user", "app", "--volume", "/data", "--stop-signal", "SIGINT")
    c = T.image(d .. "/s", "b:1").config
    assert.same({ "/bin/sh", "-c", "echo hi" }, c.config.Cmd)
    assert.same({}, c.config.Entrypoint)
    assert.same({ "/srv", "app", "SIGINT" }, { c.config.WorkingDir, c.config.User, c.config.StopSignal })
    assert.same({ ["/data"] = {} }, c.config.Volumes)
    build(d, "--from", "base:1", "-t", "c:1")
    assert.same({ "/bin/sh" }, T.image(d .. "/s", "c:1").config.config.Cmd)
  end)

  it("keeps --env in the order given, after the base's, an overridden key in its place", function()
    local d = fixture(finally)
    build(d, "--from", "base:1", "-t", "e:1", "--env", "ZED=1", "--env", "HOME=/app", "--env", "ALPHA=$ZED",
      "--env", "ZED=2")
    assert.same({ "HOME=/app", "PATH=/usr/bin:/bin", "ZED=2", "ALPHA=$ZED" },
      T.image(d .. "/s", "e:1").config.config.Env)
    build(d, "-t", "f:1", "--env", "B=1", "--env", "A=2")
    assert.same({ "B=1", "A=2" }, T.image(d .. "/s", "f:1").config.config.Env)
  end)

  it("sets manifest annotations, short keys meaning org.opencontainers.image.*, and several tags", function()
    local d = fixture(finally)
    build(d, "-t", "x:1", "-t", "x:latest", "--annotation", "revision=abc", "--annotation", "com.example.k=v",
      "--annotation", "created=2024-01-01T00:00:00Z")
    local img = T.image(d .. "/s", "x:1")
    assert.same({ ["org.opencontainers.image.revision"] = "abc", ["com.example.k"] = "v",
      ["org.opencontainers.image.created"] = "2024-01-01T00:00:00Z" }, img.manifest.annotations)
    assert.equal(img.desc.digest, T.image(d .. "/s", "x:latest").desc.digest)
  end)

  local bad = {
    { { "--from", "127.0.0.1:9/nope:1" },
      "ocibuild: base image 127.0.0.1:9/nope:1 is not in the store %s/s, and pulling it failed: cannot connect" ..
        " to 127.0.0.1:9: connection refused at https://127.0.0.1:9/v2/ (is the registry running there?)\n" },
    { { "--from", "Bad:1" },
      "ocibuild: base image \"Bad:1\" is not in the store %s/s, and is not a reference to pull: invalid" ..
        " reference \"Bad:1\": repository name \"library/Bad\" must be lowercase (try \"bad:1\") (see 'ocibuild build"
        .. " --help')\n" },
    { { "--from", "oci:%s/none" }, "ocibuild: base oci:%s/none: no store at %s/none\n" },
    { { "--from", "oci:%s/s:nope" }, "ocibuild: oci:%s/s has no image named \"nope\"\n" },
    { { "--from", "oci:%s/s" }, "ocibuild: oci:%s/s holds 2 images: name one as oci:%s/s:TAG (base:1, two:1)\n" },
    { { "--from", "base:1", "--platform", "linux/arm64" },
      "ocibuild: base image base:1 is linux/amd64, not linux/arm64\n" },
    { { "--from", "base:1", "--dest", "/etc/os-release" },
      "ocibuild: dest /etc/os-release/: /etc/os-release is a file in the base image\n" },
  }
  for _, c in ipairs(bad) do
    it(("fails with one line and writes nothing: %s"):format(table.concat(c[1], " ")), function()
      local d = fixture(finally)
      T.must(("%s --store %s build %s -t two:1"):format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/ctx")))
      local before = { blobs(d), T.read(d .. "/s/index.json") }
      local args = {}
      for i, a in ipairs(c[1]) do args[i] = a:gsub("%%s", d) end
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "app:1", table.unpack(args))
      -- a --from that cannot be a reference is a usage mistake
      assert.equal(c[1][2] == "Bad:1" and 2 or 1, code)
      assert.equal("", out)
      assert.equal(c[2]:gsub("%%s", d), err)
      assert.same(before, { blobs(d), T.read(d .. "/s/index.json") })
    end)
  end

  it("refuses a bad --entrypoint, --env or --annotation with usage errors", function()
    local d = fixture(finally)
    for _, c in ipairs {
      { { "--entrypoint", '["/bin/app", 1]' },
        'ocibuild: --entrypoint "[\\"/bin/app\\", 1]": a JSON list must hold only strings, as ["/bin/app", "-v"]' ..
          ' (see \'ocibuild build --help\')\n' },
      { { "--cmd", "[" }, "ocibuild: --cmd: invalid JSON at byte 2: unexpected end (see 'ocibuild build --help')\n" },
      { { "--env", "PATH" }, 'ocibuild: bad --env "PATH": expected KEY=VALUE (see \'ocibuild build --help\')\n' },
      { { "--annotation", "x" },
        'ocibuild: bad --annotation "x": expected KEY=VALUE (see \'ocibuild build --help\')\n' },
    } do
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", table.unpack(c[1]))
      assert.equal(2, code)
      assert.equal("", out)
      assert.equal(c[2], err)
    end
  end)
end)

describe("ocibuild build --from a base with ONBUILD triggers", function()
  it("says it does not run them and does not pass them on (BuildKit clears them once run)", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/b/Dockerfile", "FROM scratch\nONBUILD ENV TRIG=1\nONBUILD COPY . /src\n")
    T.write(d .. "/ctx/a", "a\n")
    T.built(d .. "/s", d .. "/b", "-t", "onb:1")
    assert.same({ "ENV TRIG=1", "COPY . /src" }, T.image(d .. "/s", "onb:1").config.config.OnBuild)
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "--from", "onb:1", "-t", "c:1")
    assert.equal(0, code, out .. err)
    assert.matches("warning: base image onb:1 has 2 ONBUILD triggers, which only a Dockerfile build runs: this "
      .. "image does not carry them", err, 1, true)
    assert.is_nil(T.image(d .. "/s", "c:1").config.config.OnBuild)
  end)
end)

describe("ocibuild build --from a base whose layers it reads in full (--sbom, --dest)", function()
  local fx = require "cli.storefx"

  -- A store holding keep:1, a context, and the tar of a base layer
  -- (/etc/os-release, then /usr/bin/big of 20000 bytes).
  local function setup_base(finally)
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/app.txt", "app\n")
    T.built(d .. "/s", d .. "/ctx", "-t", "keep:1")
    fx.tar(d .. "/l.tar", { { name = "etc/os-release", data = "ID=test\n" },
      { name = "usr/bin/big", data = ("x"):rep(20000) } })
    return d
  end

  local function build_on(d, base, flags)
    return T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "--from", "oci:" .. d .. "/" .. base, "-t", "app:1",
      table.unpack(flags))
  end

  for _, flags in ipairs { { "--sbom" }, { "--dest", "/srv" } } do
    it(("refuses a gzip layer whose tar is not its config's diff_id, builds when it is (%s)"):format(flags[1]),
      function()
        local d = setup_base(finally)
        local other = "sha256:" .. ("ab"):rep(32)
        local im = fx.image_of(d .. "/bad", "oci", { d .. "/l.tar" }, { other })
        local before = T.read(d .. "/s/index.json")
        local code, out, err = build_on(d, "bad", flags)
        -- the SBOM's read (C, the code in its message) and the view's
        -- (ocibuild.build.base) name the layer differently
        local at = flags[1] == "--sbom" and "layer 1: layer %s: BADDIGEST:" or "layer 1 (%s):"
        assert.same({ 1, "", ("ocibuild: base image oci:%s/bad: %s its tar has digest %s, but the image's config "
          .. "says diff_id %s\n"):format(d, at:format(im.blobs[1]), im.tars[1], other) }, { code, out, err })
        assert.equal(before, T.read(d .. "/s/index.json"))
        fx.image_of(d .. "/good", "oci", { d .. "/l.tar" })
        assert.equal(0, (build_on(d, "good", flags)))
        local got = T.json(fx.ok(d .. "/s", "inspect", "app:1", "--platform", "linux/amd64"))
        assert.equal(im.tars[1], got.RootFS.DiffIDs[1])
        -- what the store noted of the good read does not vouch for the
        -- same blob under another claim
        code, out, err = build_on(d, "bad", flags)
        assert.same({ 1, "" }, { code, out })
        assert.matches("its tar has digest " .. im.tars[1], err, 1, true)
      end)
  end

  it("refuses a layer with a name that climbs out of the root, whichever read meets it first", function()
    local d = setup_base(finally)
    fx.tar(d .. "/up.tar", { { name = "etc/os-release", data = "ID=test\n" }, { name = "../../up", data = "x\n" } })
    local im = fx.image_of(d .. "/up", "oci", { d .. "/up.tar" })
    local before = T.read(d .. "/s/index.json")
    for _, flags in ipairs { { "--sbom" }, { "--dest", "/srv" } } do
      local code, out, err = build_on(d, "up", flags)
      assert.same({ 1, "" }, { code, out }, flags[1])
      assert.matches("layer 1.*" .. im.blobs[1]:gsub("%p", "%%%0") .. ".*: entry %.%./%.%./up has a %.%. component: "
        .. "refused\n$", err)
      assert.equal(before, T.read(d .. "/s/index.json"))
    end
  end)

  it("reports a layer whose tar is cut in a file's body as libarchive does, the same on every read", function()
    local d = setup_base(finally)
    -- cut 1000 bytes into big's body (its header at 1024, after os-release's
    -- header and body), then compressed whole: the blob is what it says
    local tar = T.read(d .. "/l.tar")
    assert.equal("usr/bin/big\0", tar:sub(1025, 1036))
    T.write(d .. "/cut.tar", tar:sub(1, 1024 + 512 + 1000))
    local im = fx.image_of(d .. "/cut", "oci", { d .. "/cut.tar" })
    local before = T.read(d .. "/s/index.json")
    for _ = 1, 2 do
      assert.same({ 1, "", ("ocibuild: base image oci:%s/cut: layer 1: layer %s: ARCHIVE: Truncated tar archive: %s\n")
        :format(d, im.blobs[1], im.blobs[1]) }, { build_on(d, "cut", { "--sbom" }) })
    end
    assert.equal(before, T.read(d .. "/s/index.json"))
  end)
end)
