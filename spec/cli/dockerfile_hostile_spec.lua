-- `ocibuild build` with a hostile Dockerfile, context, archive, base or
-- server: every case ends in bounded time with one line naming the
-- Dockerfile's line, writes nothing outside the image, and leaves nothing
-- behind that prune does not remove.
local T = require "support"

local function df(dir, text)
  T.write(dir .. "/Dockerfile", text)
end

-- A hostile HTTP server (spec/support/hostile_http.py) for this test;
-- returns its base URL and the path of its marker file.
local function server(d, finally)
  local mark, log = d .. "/mark", d .. "/http.out"
  local pid = T.must(("/usr/bin/python3 -u %s %s >%s 2>&1 & echo $!"):format(
    T.q(T.root .. "/spec/support/hostile_http.py"), T.q(mark), T.q(log))):match("%d+")
  T.finally(finally, function() T.sh("kill " .. pid) end)
  local port
  for _ = 1, 200 do
    port = T.exists(log) and T.read(log):match("port (%d+)")
    if port then break end
    os.execute("sleep 0.05")
  end
  assert.truthy(port, "the HTTP server did not start")
  return "http://127.0.0.1:" .. port, mark
end

local function ls(dir)
  return (T.must("ls -A " .. T.q(dir) .. " 2>/dev/null || true"):gsub("%s+$", ""))
end

-- Writes a tar at path from entries {name, kind ("f", "l", "h", "d", "c"),
-- data or link target}, with Python's tarfile (names kept as given).
local function mktar(path, entries)
  local lines = { "import io, sys, tarfile", "t = tarfile.open(sys.argv[1], 'w')" }
  for _, e in ipairs(entries) do
    -- Lua's %q writes a newline as a backslash and a newline; Python wants \n
    local function py(v) return (("%q"):format(v):gsub("\\\n", "\\n")) end
    local name, kind, x = py(e[1]), e[2], py(e[3] or "")
    lines[#lines + 1] = ("i = tarfile.TarInfo(%s)"):format(name)
    if kind == "f" then
      lines[#lines + 1] = ("b = %s.encode(); i.size = len(b); t.addfile(i, io.BytesIO(b))"):format(x)
    else
      lines[#lines + 1] = ({ l = "i.type = tarfile.SYMTYPE; i.linkname = %s",
        h = "i.type = tarfile.LNKTYPE; i.linkname = %s", d = "i.type = tarfile.DIRTYPE; i.mode = 0o755 # %s",
        c = "i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3 # %s" })[kind]:format(x)
      lines[#lines + 1] = "t.addfile(i)"
    end
  end
  lines[#lines + 1] = "t.close()"
  T.write(path .. ".py", table.concat(lines, "\n") .. "\n")
  T.must(("/usr/bin/python3 %s %s"):format(T.q(path .. ".py"), T.q(path)))
  os.remove(path .. ".py")
end

-- Writes a docker archive at path whose one layer is the tar at layer.
local function docker_archive(path, layer)
  T.write(path .. ".py", [[
import hashlib, io, json, sys, tarfile
layer = open(sys.argv[2], "rb").read()
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
c, l = hashlib.sha256(cfg).hexdigest() + ".json", hashlib.sha256(layer).hexdigest() + "/layer.tar"
man = json.dumps([{"Config": c, "RepoTags": ["base:1"], "Layers": [l]}]).encode()
with tarfile.open(sys.argv[1], "w") as t:
    for name, b in (("manifest.json", man), (c, cfg), (l, layer)):
        i = tarfile.TarInfo(name); i.size = len(b); t.addfile(i, io.BytesIO(b))
]])
  T.must(("/usr/bin/python3 %s %s %s"):format(T.q(path .. ".py"), T.q(path), T.q(layer)))
  os.remove(path .. ".py")
end

local function names(layer)
  local out = {}
  for _, e in ipairs(T.tar_entries(layer)) do out[#out + 1] = e.name end
  return out
end

describe("ocibuild build with a hostile Dockerfile", function()
  it("bounds expansions, patterns and instruction counts, failing at the line that passed a bound", function()
    local d = T.tmpdir(finally)
    local double = ("ENV a=$a$a\n"):rep(40)
    for _, c in ipairs {
      { "FROM scratch\nENV a=xxxxxxxxxx\n" .. double,
        'Dockerfile:19: failed to process "$a$a": the expansion is longer than 1048576 bytes' },
      { "FROM scratch\nENV a=" .. ("y"):rep(2048) .. "\nENV b=${a//y/$a}\n",
        'Dockerfile:3: failed to process "${a//y/$a}": the result is longer than 1048576 bytes' },
      { "FROM scratch\nENV a=" .. ("y"):rep(2048) .. "\n" .. double:sub(1, 8 * 11) .. "ENV b=${a#" .. ("?"):rep(50)
        .. "}\n", ('Dockerfile:11: failed to process "${a#%s}": a pattern of 50 tokens on a value of 524288 '
        .. "characters is more work than allowed"):format(("?"):rep(50)) },
      { "FROM scratch\n" .. ("LABEL a=b\n"):rep(10000), "Dockerfile:10001: more than 10000 instructions" },
      { "FROM scratch\nCOPY <<EOF /x\n" .. ("$a\n"):rep(600000) .. "EOF\n",
        "Dockerfile:2: cannot expand a word longer than 1048576 bytes" },
      { "FROM scratch\nCOPY <<EOF /x\n" .. ("a\n"):rep(10) .. ("b"):rep(70000) .. "\nEOF\n",
        "Dockerfile:13: dockerfile line greater than max allowed size of 65535" },
    } do
      T.write(d .. "/ctx/Dockerfile", c[1])
      local code, out, err = T.sh(("timeout 120 %s --store %s build -f %s %s"):format(T.q(T.bin), T.q(d .. "/s"),
        T.q(d .. "/ctx/Dockerfile"), T.q(d .. "/ctx")))
      assert.same({ 2, "" }, { code, out }, c[2])
      assert.equal(("ocibuild: %s/ctx/%s\n"):format(d, c[2]), err)
    end
    -- backtracking would take 5760^6 steps here; the match is linear
    T.write(d .. "/ctx/Dockerfile", "FROM scratch\nENV a=" .. ("y"):rep(90) .. "\n" .. double:sub(1, 6 * 11)
      .. "LABEL b=${a%%*y*y*y*y*y*y*z} c=${a#*y*y*y*y*y*y*y}\n")
    local code, _, err = T.sh(("timeout 120 %s --store %s build -t p:1 -f %s %s"):format(T.q(T.bin), T.q(d .. "/s"),
      T.q(d .. "/ctx/Dockerfile"), T.q(d .. "/ctx")))
    assert.equal(0, code, err)
    local labels = T.image(d .. "/s", "p:1").config.config.Labels
    assert.same({ 5760, 5753 }, { #labels.b, #labels.c })
  end)

  it("read by a sandboxed script, reaches nothing outside the context nor an image the user did not name", function()
    local d = T.tmpdir(finally)
    local proj, out = d .. "/proj", d .. "/outside"
    T.write(out .. "/secret.txt", "secret\n")
    T.write(proj .. "/ctx/a.txt", "a\n")
    T.must(("ln -s %s %s && ln -s ../../outside/secret.txt %s"):format(T.q(out), T.q(proj .. "/ctx/out"),
      T.q(proj .. "/ctx/rel")))
    T.built(d .. "/s", out, "-t", "victim:1")
    T.must(("%s --store %s export victim:1 -o %s"):format(T.q(T.bin), T.q(d .. "/s"), T.q(out .. "/v.tar")))
    T.must(("ln -s %s %s"):format(T.q(out .. "/v.tar"), T.q(proj .. "/ctx/v.tar")))
    T.write(proj .. "/build.lua", 'return oci.dockerfile { context = "ctx" }:save { tag = "u:1" }\n')
    local outside = "outside the build context " .. proj .. "/ctx: a Dockerfile reads only its context"
    for _, c in ipairs {
      { "COPY ../../outside/secret.txt /", "../../outside/secret.txt: not found" },
      { "COPY out/secret.txt /", "out/secret.txt: not found" },
      { "COPY rel /", "rel: not found" },
      { "ADD v.tar /v/", "v.tar: not found" },
      { ("ADD %s/secret.txt /"):format(out), out .. "/secret.txt: not found" },
      { ("ADD file://%s/secret.txt /"):format(out), ("file://%s/secret.txt: not found"):format(out) },
      { "COPY --from=victim:1 / /v/", "base image victim:1 is in the store: a build script uses only the images it "
        .. "saved and those the user names (--allow-image victim:1 allows it)" },
      { ("COPY --from=oci-archive:%s/v.tar / /v/"):format(out),
        ("oci-archive:%s/v.tar names %s/v.tar, %s"):format(out, out, outside) },
      { "COPY --from=oci-archive:v.tar / /v/", ("oci-archive:v.tar names %s/ctx/v.tar, %s"):format(proj, outside) },
    } do
      T.write(proj .. "/ctx/Dockerfile", "FROM scratch\n" .. c[1] .. "\n")
      local code, o, err = T.ocibuild("--store", d .. "/s", "run", proj .. "/build.lua")
      assert.same({ 1, "" }, { code, o }, c[1])
      assert.equal(("ocibuild: %s/build.lua:1: Dockerfile:2: %s\n"):format(proj, c[2]), err)
    end
    assert.is_false((pcall(T.image, d .. "/s", "u:1")))
  end)

  describe("ADD of a URL", function()
    local sum = "sha256:" .. ("1"):rep(64)

    it("stops an endless body at the size ADD takes, leaving no temp file", function()
      local d = T.tmpdir(finally)
      local url = server(d, finally)
      local fetch = require "ocibuild.build.fetch"
      local st = assert(require("ocibuild.store").open(d .. "/s", { create = true }))
      local keep = fetch.MAX_SIZE
      fetch.MAX_SIZE = 1 << 20
      local p, err, code = fetch.fetch(st, url .. "/endless", sum, {})
      fetch.MAX_SIZE = keep
      assert.is_nil(p)
      assert.same({ "ADD " .. url .. "/endless: the file is larger than the 1048576 bytes ADD takes", "TOOBIG" },
        { err, code })
      assert.equal("", ls(d .. "/s/.ocibuild-tmp"))
    end)

    it("follows redirects to http(s) only, each host allowed by the sandbox; a lying or slow server fails", function()
      local d = T.tmpdir(finally)
      local url = server(d, finally)
      local port = url:match("%d+$")
      d = d .. "/p"
      local function try(path, ...)
        T.write(d .. "/Dockerfile", ("FROM scratch\nADD --checksum=%s %s/%s /x\n"):format(sum, url, path))
        local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-f", d .. "/Dockerfile", d, ...)
        assert.same({ 1, "" }, { code, out }, path)
        return err
      end
      assert.equal(("ocibuild: %s/Dockerfile:2: ADD %s/to-file: redirected to file:///etc/passwd, not an http(s) "
        .. "URL\n"):format(d, url), try("to-file"))
      assert.equal(("ocibuild: %s/Dockerfile:2: ADD %s/liar: the file is not the checksum %s\n"):format(d, url, sum),
        try("liar"))
      assert.equal(("ocibuild: %s/Dockerfile:2: ADD %s/drip: ETIMEDOUT: no complete answer within 2 s: %s/drip\n")
        :format(d, url, url), try("drip", "--timeout", "2"))
      -- the server sends /to-other to localhost: another host for the sandbox
      T.write(d .. "/build.lua", 'return oci.dockerfile { context = "." }:save { tag = "u:1" }\n')
      for _, path in ipairs { "to-other", "ok" } do
        T.write(d .. "/Dockerfile", ("FROM scratch\nADD --checksum=sha256:%s %s/%s /x\n"):format(
          T.must("printf 'ok\\n' | sha256sum"):match("%x+"), url, path))
        local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/build.lua", "--allow-registry",
          "127.0.0.1:" .. port)
        if path == "ok" then
          assert.equal(0, code, out .. err)
        else
          assert.same({ 1, "" }, { code, out })
          assert.equal(("ocibuild: %s/build.lua:1: Dockerfile:2: ADD %s/to-other (redirected to "
            .. "http://localhost:%s/ok): a build script fetches only from the hosts the user names "
            .. "(--allow-registry localhost:%s allows it)\n"):format(d, url, port, port, port), err)
        end
      end
    end)
  end)

  it("copies --from a hostile base: a name climbing out refused, absolute ones kept below /, no device", function()
    local d = T.tmpdir(finally)
    local entries = { { "etc", "d" }, { "etc/passwd", "f", "root:x:0:0::/:/bin/sh\n" },
      { "../../escape", "f", "x\n" }, { "/abs/f", "f", "abs\n" }, { "h", "h", "/etc/passwd" }, { "dev", "c" },
      { "l", "l", "/etc" }, { "l/shadow", "f", "evil\n" } }
    mktar(d .. "/layer.tar", entries)
    docker_archive(d .. "/ctx/base.tar", d .. "/layer.tar")
    T.write(d .. "/ctx/Dockerfile", "FROM scratch\nCOPY --from=docker-archive:base.tar /abs /etc/ /h /d/\n")
    -- as Docker refuses a layer whose names climb out of the root (its
    -- breakout error), where dropping it would read the layer unlike a runtime
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-f", d .. "/ctx/Dockerfile", d .. "/ctx")
    assert.same({ 1, "" }, { code, out })
    assert.matches('Dockerfile:2: .*: entry %.%./%.%./escape has a %.%. component: refused\n$', err)
    table.remove(entries, 3)
    mktar(d .. "/layer.tar", entries)
    docker_archive(d .. "/ctx/base.tar", d .. "/layer.tar")
    T.built(d .. "/s", d .. "/ctx", "-t", "a:1")
    local e = T.tar_entries(T.image(d .. "/s", "a:1").layers[1])
    local got = {}
    for _, x in ipairs(e) do got[#got + 1] = x.name .. (x.sha256 and " " .. x.sha256:sub(1, 8) or "") end
    local function h(s) return T.must("printf %s " .. T.q(s) .. " | sha256sum"):sub(1, 8) end
    assert.same({ "d", "d/f " .. h("abs\n"), "d/h " .. h("root:x:0:0::/:/bin/sh\n"),
      "d/passwd " .. h("root:x:0:0::/:/bin/sh\n") }, got)
    T.write(d .. "/ctx/Dockerfile", "FROM scratch\nCOPY --from=docker-archive:base.tar / /d/\n")
    code, out, err = T.ocibuild("--store", d .. "/s", "build", "-f", d .. "/ctx/Dockerfile", d .. "/ctx")
    assert.same({ 1, "", ("ocibuild: %s/ctx/Dockerfile:2: /d/dev: devices cannot be copied\n"):format(d) },
      { code, out, err })
  end)

  it("copies --from a stage whose image an earlier stage already copied from, after that build's cleanup", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a.txt", "a\n")
    -- s1, s2 and s3 are one image: s3 copies from the image s2 copied from, in a later build
    local text = { "FROM scratch AS s0\nCOPY a.txt /\n" }
    for i = 1, 4 do text[#text + 1] = ("FROM scratch AS s%d\nCOPY --from=s%d / /\n"):format(i, i - 1) end
    T.write(d .. "/ctx/Dockerfile", table.concat(text))
    T.built(d .. "/s", d .. "/ctx", "-t", "a:1")
    local e = T.tar_entries(T.image(d .. "/s", "a:1").layers[1])
    assert.same({ 1, "a.txt", T.sha256_file(d .. "/ctx/a.txt") }, { #e, e[1].name, e[1].sha256 })
    assert.equal("", ls(d .. "/s/.ocibuild-tmp"))
  end)

  describe("ADD of a local archive", function()
    it("never writes an entry below a symlink: the archive's own links are followed inside the image", function()
      local d = T.tmpdir(finally)
      mktar(d .. "/ctx/a.tar", { { "l", "l", "/etc" }, { "l/passwd", "f", "root::0:0::/:/bin/sh\n" },
        { "up", "l", "../../.." }, { "up/x", "f", "x\n" } })
      T.write(d .. "/ctx/Dockerfile", "FROM scratch\nADD a.tar /d/\n")
      T.built(d .. "/s", d .. "/ctx", "-t", "a:1")
      assert.same({ "d", "d/l", "d/up", "etc", "etc/passwd", "x" }, names(T.image(d .. "/s", "a:1").layers[1]))
    end)

    it("refuses whiteout names anywhere in an entry's path, names climbing out, links out, devices", function()
      local d = T.tmpdir(finally)
      for _, c in ipairs {
        { { { ".wh.usr/x", "f", "x" } }, 'entry ".wh.usr/x": a name starting with .wh. would be read as a whiteout' },
        { { { "a/.wh..wh..opq/x", "f", "x" } }, 'entry "a/.wh..wh..opq/x": a name starting with .wh.' },
        { { { "a/../../x", "f", "x" } }, 'entry "a/../../x" climbs out of the destination' },
        { { { "h", "h", "/etc/passwd" } }, 'hardlink "h" to "/etc/passwd", which the archive does not hold before it' },
        { { { "null", "c" } }, "/d/null: devices cannot be copied" },
        { { { "f", "f", "x" }, { "f/y", "f", "y" } }, 'entry "f/y": /d/f is not a directory' },
      } do
        T.must("rm -rf " .. T.q(d .. "/ctx"))
        mktar(d .. "/ctx/a.tar", c[1])
        T.write(d .. "/ctx/Dockerfile", "FROM scratch\nADD a.tar /d/\n")
        local code, out, err = T.ocibuild("--store", d .. "/s", "build", "-f", d .. "/ctx/Dockerfile", d .. "/ctx")
        assert.same({ 1, "" }, { code, out }, c[2])
        local want = ("ocibuild: %s/ctx/Dockerfile:2: "):format(d)
        assert.equal(want, err:sub(1, #want), err)
        assert.truthy(err:find(c[2], 1, true), err)
        assert.equal(1, select(2, err:gsub("\n", "")), err)
      end
    end)

    it("keeps a sparse file's size, and copies a file that only looks like an archive", function()
      local d = T.tmpdir(finally)
      T.must(("mkdir -p %s && cd %s && truncate -s 1M hole && tar -S -cf %s hole"):format(T.q(d .. "/ctx"),
        T.q(d), T.q(d .. "/ctx/sparse.tar")))
      T.write(d .. "/ctx/fake.tar.gz", "not an archive\n")
      T.write(d .. "/ctx/Dockerfile", "FROM scratch\nADD sparse.tar fake.tar.gz /d/\n")
      T.built(d .. "/s", d .. "/ctx", "-t", "a:1")
      local e = T.tar_entries(T.image(d .. "/s", "a:1").layers[1])
      assert.same({ "d", "d/fake.tar.gz", "d/hole" }, { e[1].name, e[2].name, e[3].name })
      assert.equal(T.sha256_file(d .. "/ctx/fake.tar.gz"), e[2].sha256)
      assert.equal(1 << 20, e[3].size)
      assert.equal(T.must("head -c 1048576 /dev/zero | sha256sum"):match("%x+"), e[3].sha256)
    end)
  end)

  it("keeps a killed build's extracted files in the store's temp folder, where prune removes them", function()
    local d = T.tmpdir(finally)
    local url, mark = server(d, finally)
    T.write(d .. "/src/f.txt", "inside an archive\n")
    T.must("mkdir " .. T.q(d .. "/ctx"))
    T.must(("tar -C %s -cf %s f.txt"):format(T.q(d .. "/src"), T.q(d .. "/ctx/a.tar")))
    df(d .. "/ctx", ("FROM scratch\nADD a.tar /a/\nADD --checksum=sha256:%s %s/hang /h\n"):format(("1"):rep(64), url))
    T.must("mkdir " .. T.q(d .. "/tmp"))
    local pid = T.must(("TMPDIR=%s %s --store %s build -t k:1 %s >/dev/null 2>&1 & echo $!"):format(
      T.q(d .. "/tmp"), T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/ctx"))):match("%d+")
    for _ = 1, 400 do
      if T.exists(mark) then break end
      os.execute("sleep 0.05")
    end
    assert.truthy(T.exists(mark), "the build never asked for the URL")
    T.must("kill -KILL " .. pid)
    T.sh("while kill -0 " .. pid .. " 2>/dev/null; do sleep 0.05; done")
    assert.equal("", ls(d .. "/tmp"))
    assert.matches("^build%-%w+$", ls(d .. "/s/.ocibuild-tmp"))
    local code, out, err = T.ocibuild("--store", d .. "/s", "prune")
    assert.equal(0, code, err)
    assert.matches("1 temp file", out)
    assert.equal("", ls(d .. "/s/.ocibuild-tmp"))
  end)
end)
