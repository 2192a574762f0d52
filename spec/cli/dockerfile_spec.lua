-- `ocibuild build` with a Dockerfile: refusals (one line naming FILE:LINE,
-- exit 2, before any work), choosing the Dockerfile (-f, CONTEXT's own
-- with a notice, Containerfile, --as-layer), history as BuildKit writes
-- it, ADD of a URL with a checksum (fetched once, verified), rebuilds that
-- reuse every layer, stages the target does not need, build args,
-- targets and platforms, .dockerignore precedence.
local T = require "support"

local function df(dir, text, name)
  T.write(dir .. "/" .. (name or "Dockerfile"), text)
end

local function blobs(store)
  if not T.exists(store .. "/index.json") then return 0 end
  return tonumber((T.must("ls " .. T.q(store .. "/blobs/sha256") .. " | wc -l"):match("%d+")))
end

local function image(store, ref)
  return T.image(store, ref)
end

describe("ocibuild build with a Dockerfile", function()
  describe("refusals", function()
    it("refuse RUN, a URL without a checksum, unknown instructions and bad flags: exit 2, FILE:LINE, no work",
      function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/a.txt", "a\n")
      for _, c in ipairs {
        { "FROM scratch\nCOPY a.txt /\nRUN make\n", "Dockerfile:3: RUN is not supported: " },
        { "FROM scratch\nADD https://example.com/x.tgz /x\n",
          "Dockerfile:2: ADD https://example.com/x.tgz needs --checksum=sha256:" },
        { "FROM scratch\nCOPPY a.txt /\n", "Dockerfile:2: unknown instruction: COPPY (did you mean copy?)" },
        { "FROM scratch\nCOPY --chwon=1 a.txt /\n", "Dockerfile:2: unknown flag: --chwon (did you mean chown?)" },
        { "FROM scratch\nCOPY --link=nope a.txt /\n",
          "Dockerfile:2: expecting boolean value for flag --link, not: nope" },
        { "FROM scratch\nCOPY https://example.com/x /x\n", "Dockerfile:2: source can't be a URL for COPY" },
        { "FROM scratch\nADD --checksum=md5:00 https://example.com/x /x\n",
          "Dockerfile:2: checksum md5:00: only sha256 checksums are supported" },
        { "FROM scratch AS a\nONBUILD RUN make\nFROM a\nCOPY a.txt /\n",
          'Dockerfile:3: stage "a" has the trigger ONBUILD RUN make (line 2)' },
        { "FROM scratch\nCMD [\"a\", 1]\n", "Dockerfile:2: when using JSON array syntax" },
        { "FROM scratch\nADD https://github.com/moby/buildkit.git /src\n",
          "Dockerfile:2: ADD https://github.com/moby/buildkit.git: git sources are not supported" },
      } do
        df(d .. "/ctx", c[1])
        local code, out, err = T.ocibuild("--store", d .. "/store", "build", "-f", d .. "/ctx/Dockerfile", d .. "/ctx")
        assert.equal(2, code, c[1])
        assert.equal("", out)
        local line = ("ocibuild: %s/ctx/"):format(d) .. c[2]
        assert.equal(line, err:sub(1, #line), c[1])
        assert.equal(1, select(2, err:gsub("\n", "")), err)
        assert.is_false(T.exists(d .. "/store"), c[1])
      end
    end)

    it("refuse an ONBUILD RUN inherited from a base image before any layer is written", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/a.txt", "a\n")
      df(d .. "/base", "FROM scratch\nONBUILD RUN make install\nONBUILD COPY . /src\n")
      local code, out, err = T.ocibuild("--store", d .. "/store", "build", "-t", "base:ob", d .. "/base")
      assert.equal(0, code, out .. err)
      local c = T.json(T.read(T.image(d .. "/store", "base:ob").blob(image(d .. "/store", "base:ob").manifest.config
        .digest)))
      assert.same({ "RUN make install", "COPY . /src" }, c.config.OnBuild)
      local before = blobs(d .. "/store")
      df(d .. "/ctx", "FROM scratch\nCOPY a.txt /\nFROM base:ob\nCOPY a.txt /\n")
      code, out, err = T.ocibuild("--store", d .. "/store", "build", d .. "/ctx")
      assert.same({ 2, "" }, { code, out })
      assert.matches("^ocibuild: building .*/ctx/Dockerfile %(%-%-as%-layer builds .* as one layer%)\n"
        .. "ocibuild: .*/ctx/Dockerfile:3: the base image has the trigger ONBUILD RUN make install, which this "
        .. "stage would run: ", err)
      assert.equal(before, blobs(d .. "/store"))
    end)

    it("refuse options that only mean something for a folder, and an unknown target", function()
      local d = T.tmpdir(finally)
      df(d .. "/ctx", "FROM scratch AS a\nFROM scratch AS b\n")
      local code, _, err = T.ocibuild("build", "--dest", "/x", "-f", d .. "/ctx/Dockerfile", d .. "/ctx")
      assert.equal(2, code)
      assert.matches("%-%-dest builds a folder as one layer; with a Dockerfile it has no meaning", err)
      code, _, err = T.ocibuild("--store", d .. "/s", "build", "--target", "c", "-f", d .. "/ctx/Dockerfile",
        d .. "/ctx")
      assert.equal(2, code)
      assert.matches('target stage "c" could not be found %(stages: a, b%)', err)
      code, _, err = T.ocibuild("build", "--build-arg", "A=1", "--as-layer", d .. "/ctx")
      assert.equal(2, code)
      assert.matches("%-%-build%-arg needs a Dockerfile", err)
    end)
  end)

  describe("choosing the Dockerfile", function()
    it("uses CONTEXT/Dockerfile with a notice, Containerfile too, and --as-layer keeps the folder build", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ctx/a.txt", "a\n")
      df(d .. "/ctx", "FROM scratch\nCOPY a.txt /from-dockerfile\n")
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "x:1", d .. "/ctx")
      assert.equal(0, code, out .. err)
      assert.equal(("ocibuild: building %s/ctx/Dockerfile (--as-layer builds %s/ctx as one layer)\n"):format(d, d), err)
      local names = {}
      for _, e in ipairs(T.tar_entries(image(d .. "/s", "x:1").layers[1])) do names[#names + 1] = e.name end
      assert.same({ "from-dockerfile" }, names)
      code, out, err = T.ocibuild("--store", d .. "/s", "build", "--as-layer", "-t", "x:2", d .. "/ctx")
      assert.equal(0, code, out .. err)
      assert.equal("", err)
      names = {}
      for _, e in ipairs(T.tar_entries(image(d .. "/s", "x:2").layers[1])) do names[#names + 1] = e.name end
      assert.same({ "Dockerfile", "a.txt" }, names)
      os.remove(d .. "/ctx/Dockerfile")
      df(d .. "/ctx", "FROM scratch\nCOPY a.txt /from-containerfile\n", "Containerfile")
      code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "x:3", d .. "/ctx")
      assert.equal(0, code, out .. err)
      assert.matches("building .*/ctx/Containerfile", err)
      code, out, err = T.ocibuild("--store", d .. "/s", "build", "-f", d .. "/nope", d .. "/ctx")
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("^ocibuild: .*/nope: cannot read the Dockerfile: ", err)
    end)

    it("reads <Dockerfile>.dockerignore before the context's .dockerignore", function()
      local d = T.tmpdir(finally)
      for _, f in ipairs { "a.txt", "b.txt", "c.txt" } do T.write(d .. "/ctx/" .. f, f) end
      T.write(d .. "/ctx/.dockerignore", "a.txt\n")
      df(d, "FROM scratch\nCOPY . /\n", "app.Dockerfile")
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "i:1", "-f", d .. "/app.Dockerfile",
        d .. "/ctx")
      assert.equal(0, code, out .. err)
      local function names(ref)
        local t = {}
        for _, e in ipairs(T.tar_entries(image(d .. "/s", ref).layers[1])) do t[#t + 1] = e.name end
        return t
      end
      assert.same({ ".dockerignore", "b.txt", "c.txt" }, names("i:1"))
      T.write(d .. "/app.Dockerfile.dockerignore", "b.txt\n")
      code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "i:2", "-f", d .. "/app.Dockerfile", d .. "/ctx")
      assert.equal(0, code, out .. err)
      assert.same({ ".dockerignore", "a.txt", "c.txt" }, names("i:2"))
    end)
  end)

  it("writes history as BuildKit does: created_by, comment, empty_layer", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a.txt", "a\n")
    df(d .. "/ctx", [[
FROM scratch
ARG V=1
ENV A=$V B=x
LABEL l=$V
COPY --chown=1:2 --chmod=0600 a.txt /a
WORKDIR /app
WORKDIR /
USER 1
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=1m30s CMD true
SHELL ["/bin/ash", "-c"]
MAINTAINER me
ONBUILD COPY . /
CMD run it
ENTRYPOINT ["/e"]
]])
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "h:1", d .. "/ctx")
    assert.equal(0, code, out .. err)
    local img = image(d .. "/s", "h:1")
    local h = {}
    for _, e in ipairs(img.config.history) do
      assert.equal("buildkit.dockerfile.v0", e.comment)
      assert.equal("1970-01-01T00:00:00Z", e.created)
      h[#h + 1] = (e.empty_layer and "- " or "L ") .. e.created_by
    end
    assert.same({
      "- ARG V=1", "- ENV A=1 B=x", "- LABEL l=1", "L COPY --chown=1:2 --chmod=0600 a.txt /a # buildkit",
      "L WORKDIR /app", "- WORKDIR /", "- USER 1", "- EXPOSE [53/udp 80/tcp]", "- VOLUME [/data]",
      "- STOPSIGNAL SIGINT",
      "- HEALTHCHECK {Test:[CMD-SHELL true] Interval:1m30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}",
      '- SHELL [/bin/ash -c]', "- MAINTAINER me", '- CMD ["/bin/ash" "-c" "run it"]', '- ENTRYPOINT ["/e"]',
    }, h)
    assert.equal(2, #img.config.rootfs.diff_ids)
    assert.equal("me", img.config.author)
    local c = img.config.config
    assert.same({ "COPY . /" }, c.OnBuild)
    assert.same({ "/bin/ash", "-c", "run it" }, c.Cmd)
    assert.is_true(c.ArgsEscaped)
    assert.equal("/", c.WorkingDir)
    assert.same({ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1", "B=x" }, c.Env)
    local e = T.tar_entries(img.layers[1])[1]
    assert.same({ "a", 1, 2, tonumber("600", 8) }, { e.name, e.uid, e.gid, e.mode })
  end)

  it("builds stages the target needs only, with build args, and one image per platform in an index", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/bin-amd64", "amd64 binary\n", 493)
    T.write(d .. "/ctx/bin-arm64", "arm64 binary\n", 493)
    df(d .. "/ctx", [[
ARG APP=tool
FROM scratch AS broken
COPY does-not-exist /
FROM scratch AS bins
ARG TARGETARCH
COPY bin-${TARGETARCH} /out/app
FROM scratch
ARG APP
ARG TARGETPLATFORM
LABEL platform=$TARGETPLATFORM
COPY --from=bins /out/app /usr/bin/${APP}
]])
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-q", "--platform", "linux/amd64,linux/arm64",
      "--build-arg", "APP=mytool", "-t", "m:1", d .. "/ctx")
    assert.equal(0, code, out .. err)
    local idx
    for _, e in ipairs(T.json(T.read(d .. "/s/index.json")).manifests) do
      if e.annotations["org.opencontainers.image.ref.name"] == "m:1" then
        idx = T.json(T.read(d .. "/s/blobs/sha256/" .. e.digest:sub(8)))
      end
    end
    assert.equal(2, #idx.manifests)
    for i, arch in ipairs { "amd64", "arm64" } do
      assert.same({ os = "linux", architecture = arch }, idx.manifests[i].platform)
      local m = T.json(T.read(d .. "/s/blobs/sha256/" .. idx.manifests[i].digest:sub(8)))
      local c = T.json(T.read(d .. "/s/blobs/sha256/" .. m.config.digest:sub(8)))
      assert.equal(arch, c.architecture)
      assert.equal("linux/" .. arch, c.config.Labels.platform)
      local e = T.tar_entries(d .. "/s/blobs/sha256/" .. m.layers[#m.layers].digest:sub(8))
      assert.equal("usr/bin/mytool", e[#e].name)
      assert.equal(T.sha256_file(d .. "/ctx/bin-" .. arch), e[#e].sha256)
    end
    code, out, err = T.ocibuild("--store", d .. "/s", "build", "--target", "broken", d .. "/ctx")
    assert.same({ 1, "" }, { code, out })
    assert.matches("Dockerfile:3: does%-not%-exist: not found", err)
  end)

  it("rebuilds an unchanged Dockerfile reusing every layer; a changed file rebuilds its layer only", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/app/main.js", ("x"):rep(100000))
    T.write(d .. "/ctx/app/lib/util.js", "u\n")
    T.write(d .. "/ctx/conf.ini", "c\n")
    df(d .. "/ctx", "FROM scratch AS a\nCOPY conf.ini /c\nFROM scratch\nCOPY app /srv/app\nCOPY conf.ini pkg* /etc/\n"
      .. "COPY --from=a /c /c\nWORKDIR /srv\n")
    local function build()
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", "--progress", "json", "-t", "r:1", d .. "/ctx")
      assert.equal(0, code, out .. err)
      local layers = {}
      for line in err:gmatch("[^\n]+") do
        local ev = line:sub(1, 1) == "{" and T.json(line)
        if ev and ev.type == "end" and ev.stage == "layer" then layers[#layers + 1] = ev end
      end
      return layers, image(d .. "/s", "r:1").desc.digest
    end
    local first, digest = build()
    assert.equal(5, #first, T.json and require("cjson").encode(first))
    local again, digest2 = build()
    assert.equal(digest, digest2)
    for i, ev in ipairs(again) do
      assert.is_true(ev.whole or ev.reused == ev.blocks or ev.reused > 0, "layer " .. i .. " was not reused")
    end
    assert.is_true(again[2].whole, "the context folder's layer comes whole from its state")
    T.write(d .. "/ctx/app/lib/util.js", "changed\n")
    local third, digest3 = build()
    assert.are_not.equal(digest, digest3)
    assert.are_not.equal(first[2].digest, third[2].digest)
    for _, i in ipairs { 1, 3, 4, 5 } do assert.equal(first[i].digest, third[i].digest) end
  end)

  it("fetches ADD URLs with a checksum once, verified, 0600", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/www/tool.tar.gz", "not really a tarball\n")
    local log = d .. "/http.log"
    local pid = T.must(("cd %s && /usr/bin/python3 -u -m http.server 0 --bind 127.0.0.1 >%s 2>&1 & echo $!")
      :format(T.q(d .. "/www"), T.q(log))):match("%d+")
    T.finally(finally, function() T.sh("kill " .. pid) end)
    local port
    for _ = 1, 100 do
      port = T.exists(log) and T.read(log):match("port (%d+)")
      if port then break end
      os.execute("sleep 0.05")
    end
    assert.truthy(port, "the HTTP server did not start")
    local url = ("http://127.0.0.1:%s/tool.tar.gz"):format(port)
    local sum = "sha256:" .. T.sha256_file(d .. "/www/tool.tar.gz")
    df(d .. "/ctx", ("FROM scratch\nADD --checksum=%s %s /opt/\n"):format(sum, url))
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "u:1", d .. "/ctx")
    assert.equal(0, code, out .. err)
    local e = T.tar_entries(image(d .. "/s", "u:1").layers[1])
    assert.same({ "opt", "opt/tool.tar.gz" }, { e[1].name, e[2].name })
    assert.same({ tonumber("600", 8), sum:sub(8) }, { e[2].mode, e[2].sha256 })
    code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "u:2", d .. "/ctx")
    assert.equal(0, code, out .. err)
    assert.equal(1, select(2, T.read(log):gsub("GET /tool.tar.gz", "")))
    df(d .. "/ctx", ("FROM scratch\nADD --checksum=sha256:%s %s /opt/\n"):format(("0"):rep(64), url))
    code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "u:3", d .. "/ctx")
    assert.same({ 1, "" }, { code, out })
    assert.matches(("Dockerfile:2: ADD %s: the file is not the checksum sha256:0000"):format(url:gsub("%p", "%%%0")),
      err)
  end)

  it("reads the Dockerfile from standard input with -f -, the context's .dockerignore applying", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a.txt", "a\n")
    T.write(d .. "/ctx/b.txt", "b\n")
    T.write(d .. "/ctx/.dockerignore", "b.txt\n")
    T.write(d .. "/in", "FROM scratch\nCOPY . /in/\n")
    local cmd = ("%s --store %s build -f - -t s:1 %s < %s"):format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/ctx"),
      T.q(d .. "/in"))
    local code, out, err = T.sh(cmd)
    assert.equal(0, code, out .. err)
    local names = {}
    for _, e in ipairs(T.tar_entries(image(d .. "/s", "s:1").layers[1])) do names[#names + 1] = e.name end
    assert.same({ "in", "in/.dockerignore", "in/a.txt" }, names)
    T.write(d .. "/in", "FROM scratch\nRUN make\n")
    code, out, err = T.sh(cmd)
    assert.same({ 2, "" }, { code, out })
    assert.matches("^ocibuild: <stdin>:2: RUN is not supported", err)
    code, out, err = T.sh(("%s --store %s build -f - - < %s"):format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/in")))
    assert.same({ 2, "" }, { code, out })
    assert.matches("^ocibuild: %-f %- reads the Dockerfile from standard input: the context %- cannot", err)
  end)

  it("writes bytes that are not UTF-8 as U+FFFD in the config, as BuildKit does, with a warning; refuses them "
    .. "in paths", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a.txt", "a\n")
    df(d .. "/ctx", 'FROM scratch\nENV A=x\xffy B=ok\nLABEL "k\xfe"=v\nCMD ["\xe2\x82"]\n')
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "u:1", d .. "/ctx")
    assert.equal(0, code, out .. err)
    local c = image(d .. "/s", "u:1").config.config
    assert.equal("A=x\239\191\189y", c.Env[2])
    assert.equal("B=ok", c.Env[3])
    assert.equal("v", c.Labels["k\239\191\189"])
    -- a cut sequence in the JSON form: each of its bytes is one U+FFFD, as
    -- Go's decoder reads it (utf8.DecodeRune)
    assert.same({ "\239\191\189\239\191\189" }, c.Cmd)
    for _, l in ipairs { 2, 3 } do
      assert.matches(("Dockerfile:%d: %%a+ holds bytes that are not UTF%%-8: each is written as U%%+FFFD"):format(l),
        err)
    end
    for _, t in ipairs { { "WORKDIR /w\xff\n", "WORKDIR" }, { "COPY a.txt /b\xff\n", "COPY" } } do
      df(d .. "/ctx", "FROM scratch\n" .. t[1])
      code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "u:2", d .. "/ctx")
      assert.same({ 2, "" }, { code, out })
      assert.matches("Dockerfile:2: " .. t[2] .. ' "/%a\\xff" is not valid UTF%-8', err)
    end
  end)

  it("reads --chown=:GID and --chown=UID: as BuildKit does, and a bare ENTRYPOINT as the shell form", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a.txt", "a\n")
    df(d .. "/ctx", "FROM scratch\nCOPY --chown=:50 a.txt /a\nCOPY --chown=7: a.txt /b\nENTRYPOINT\n")
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-t", "o:1", d .. "/ctx")
    assert.equal(0, code, out .. err)
    local img = image(d .. "/s", "o:1")
    local e1, e2 = T.tar_entries(img.layers[1])[1], T.tar_entries(img.layers[2])[1]
    assert.same({ "a", 0, 50 }, { e1.name, e1.uid, e1.gid })
    assert.same({ "b", 7, 7 }, { e2.name, e2.uid, e2.gid })
    assert.same({ "/bin/sh", "-c", "" }, img.config.config.Entrypoint)
  end)

  it("fails at the COPY's line for a name the image does not have", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a.txt", "a\n")
    df(d .. "/ctx", "FROM scratch\nCOPY --chown=nobody a.txt /\n")
    local code, _, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx")
    assert.equal(1, code)
    assert.matches("Dockerfile:2: %-%-chown=nobody: the image has no /etc/passwd to find user \"nobody\" in", err)
  end)
end)
