-- `ocibuild build -`: the context as a tar stream on standard input, as
-- `docker build -` takes one: the same image as the folder gives, in any
-- compression; its .dockerignore and Dockerfile apply; its entries checked
-- as an import's; its temp folder gone after, and swept by prune when a
-- build was killed.
local T = require "support"

local PY = "/usr/bin/python3"

local function ctx(d)
  T.write(d .. "/ctx/app/main.txt", "main\n")
  T.write(d .. "/ctx/app/run.sh", "#!/bin/sh\necho hi\n", tonumber("755", 8))
  T.write(d .. "/ctx/secret.key", "do not ship\n")
  T.write(d .. "/ctx/.dockerignore", "*.key\n")
  T.must("ln -s app/main.txt " .. T.q(d .. "/ctx/link"))
  T.must("chmod 0750 " .. T.q(d .. "/ctx/app"))
  return d .. "/ctx"
end

-- Builds with the tar stream `pipe` on standard input; returns code, out, err.
local function piped(pipe, store, ...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return T.sh(("%s | %s --store %s build - %s"):format(pipe, T.q(T.bin), T.q(store), table.concat(words, " ")))
end

local function temps(store) return T.must("ls -A " .. T.q(store .. "/.ocibuild-tmp")) end

-- A hostile tar written by Python's tarfile: entries {name=, type=, target=, data=}.
local function hostile(path, entries)
  local lines = { "import io, sys, tarfile", "t = tarfile.open(sys.argv[1], 'w')" }
  for _, e in ipairs(entries) do
    lines[#lines + 1] = ("i = tarfile.TarInfo(%q); i.type = tarfile.%s; i.linkname = %q; d = %q.encode(); "
      .. "i.size = len(d) if i.type == tarfile.REGTYPE else 0; t.addfile(i, io.BytesIO(d) if i.size else None)")
      :format(e.name, e.type or "REGTYPE", e.target or "", e.data or "")
  end
  lines[#lines + 1] = "t.close()"
  T.write(path .. ".py", table.concat(lines, "\n") .. "\n")
  T.must(("%s %s %s"):format(PY, T.q(path .. ".py"), T.q(path)))
  return path
end

describe("ocibuild build -", function()
  it("builds the image the folder gives, from a tar in any compression, the temp folder gone after", function()
    local d = T.tmpdir(finally)
    local c = ctx(d)
    local code, want, err = T.ocibuild("--store", d .. "/s", "build", c, "-q")
    assert(code == 0, err)
    for _, z in ipairs { "", "-z", "-j", "-J", "--zstd" } do
      local out
      code, out, err = piped(("tar -C %s %s -cf - ."):format(T.q(c), z), d .. "/s", "-q")
      assert.equal(0, code, err)
      assert.equal(want, out, z)
      assert.equal("", temps(d .. "/s"))
    end
    -- what .dockerignore left out is not in the image; modes and links kept
    assert.equal(0, (piped(("tar -C %s -cf - ."):format(T.q(c)), d .. "/s", "-t", "p:1")))
    local img = T.image(d .. "/s", "p:1")
    local got = {}
    for _, e in ipairs(T.tar_entries(T.gunzip(img.layers[1], d .. "/l.tar"))) do got[e.name] = e end
    assert.is_nil(got["secret.key"])
    assert.equal("app/main.txt", got.link.linkname)
    assert.same({ tonumber("750", 8), tonumber("755", 8) }, { got.app.mode, got["app/run.sh"].mode })
  end)

  it("finds the Dockerfile in the stream, and -f names a file of it", function()
    local d = T.tmpdir(finally)
    local c = ctx(d)
    T.write(c .. "/Dockerfile", "FROM scratch\nCOPY app /app\n")
    T.write(c .. "/sub/Other", "FROM scratch\nCOPY link /l\n")
    local code, _, err = piped(("tar -C %s -cf - ."):format(T.q(c)), d .. "/s", "-t", "df:1")
    assert.equal(0, code, err)
    local img = T.image(d .. "/s", "df:1")
    local tarfile = T.gunzip(img.layers[1], d .. "/l.tar")
    local names = {}
    for _, e in ipairs(T.tar_entries(tarfile)) do names[#names + 1] = e.name end
    table.sort(names)
    assert.same({ "app", "app/main.txt", "app/run.sh" }, names)
    code, _, err = piped(("tar -C %s -cf - ."):format(T.q(c)), d .. "/s", "-f", "sub/Other", "-t", "df:2")
    assert.equal(0, code, err)
    assert.equal(0, (T.sh(("test -n \"$(%s --store %s images -q df:2)\""):format(T.q(T.bin), T.q(d .. "/s")))))
  end)

  it("names the stream's Dockerfile as -/Dockerfile in its errors, and leaves no folder after them", function()
    local d = T.tmpdir(finally)
    local c = ctx(d)
    T.write(c .. "/Dockerfile", "FROM scratch\nBOGUS app /app\n")
    local code, out, err = piped(("tar -C %s -cf - ."):format(T.q(c)), d .. "/s", "-t", "df:1")
    assert.equal(2, code, out .. err)
    assert.equal("ocibuild: building -/Dockerfile (--as-layer builds - as one layer)\n"
      .. "ocibuild: -/Dockerfile:2: unknown instruction: BOGUS\n", err)
    assert.equal("", temps(d .. "/s"))
  end)

  it("refuses hostile entries with one line, leaving nothing behind", function()
    local d = T.tmpdir(finally)
    local why = {
      abs = "an absolute name, one holding '..', or one too deep",
      below = "lies below a symlink or a file",
      dev = "a device, FIFO or socket (a context holds files, folders and links)",
    }
    local cases = {
      { { name = "/etc/evil" }, "entry /etc/evil: " .. why.abs },
      { { name = "a/../../evil" }, "entry a/../../evil: " .. why.abs },
      { { name = "up", type = "SYMTYPE", target = d }, { name = "up/evil" }, "entry up/evil: " .. why.below },
      { { name = "f" }, { name = "f/x" }, "entry f/x: " .. why.below },
      { { name = "dev", type = "CHRTYPE" }, "entry dev: " .. why.dev },
      { { name = "fifo", type = "FIFOTYPE" }, "entry fifo: " .. why.dev },
      { { name = "h", type = "LNKTYPE", target = "../outside" }, "entry h: a hardlink out of the archive" },
      { { name = "h", type = "LNKTYPE", target = "missing" },
        "entry h: a hardlink to what is not an earlier file of the archive" },
      { { name = "f" }, { name = "f" }, "entry f: comes twice" },
    }
    for i, c in ipairs(cases) do
      local want = table.remove(c)
      local tar = hostile(("%s/h%d.tar"):format(d, i), c)
      local code, out, err = T.sh(("%s --store %s build - -q < %s"):format(T.q(T.bin), T.q(d .. "/s"), T.q(tar)))
      assert.same({ 1, "", "ocibuild: standard input: " .. want .. "\n" }, { code, out, err }, i)
      assert.equal("", temps(d .. "/s"), i)
      assert.is_false(T.exists(d .. "/evil"))
    end
  end)

  it("takes no --password-stdin, which reads the same input", function()
    local code, _, err = T.ocibuild("build", "-", "--password-stdin", "-u", "me")
    assert.equal(2, code)
    assert.matches("build %- reads the context from standard input: %-%-password%-stdin cannot", err)
  end)

  it("removes its folder, read-only folders and all, when stopped by SIGINT or SIGTERM while unpacking", function()
    local d = T.tmpdir(finally)
    T.must(("mkdir -p %s/c/ro/deep && head -c 3000000 /dev/urandom > %s/c/ro/deep/f && chmod 0555 %s/c/ro/deep %s/c/ro"
      .. " && tar -C %s/c -cf %s/c.tar ."):format(T.q(d), T.q(d), T.q(d), T.q(d), T.q(d), T.q(d)))
    for _, sig in ipairs { "INT", "TERM" } do
      -- the stream stops short of its end, and stays open: the unpack waits
      local code, _, err = T.sh(([[
        rm -f %s/fifo; mkfifo %s/fifo
        env --default-signal=INT %s --store %s build - -q < %s/fifo &
        pid=$!
        exec 3>%s/fifo
        head -c 2000000 %s/c.tar >&3
        i=0
        until [ -n "$(ls -A %s/.ocibuild-tmp/*/ro/deep 2>/dev/null)" ]; do
          i=$((i+1)); [ $i -gt 600 ] && { echo "no file appeared" >&2; kill -9 $pid; exit 99; }
          sleep 0.05
        done
        kill -%s $pid; wait $pid; code=$?; exec 3>&-; exit $code]]):format(T.q(d), T.q(d), T.q(T.bin),
        T.q(d .. "/s"), T.q(d), T.q(d), T.q(d), T.q(d .. "/s"), sig))
      assert.equal(sig == "INT" and 130 or 143, code, err)
      assert.not_equal(99, code, err)
      assert.equal("", temps(d .. "/s"), sig)
    end
  end)

  it("leaves prune a killed build's folder to sweep, read-only folders and all", function()
    local d = T.tmpdir(finally)
    local c = ctx(d)
    assert.equal(0, (piped(("tar -C %s -cf - ."):format(T.q(c)), d .. "/s", "-q")))
    local left = d .. "/s/.ocibuild-tmp/context-abcdef"
    T.must(("mkdir -p %s/ro/deep && echo x > %s/ro/deep/f && chmod 0555 %s/ro %s/ro/deep"):format(T.q(left), T.q(left),
      T.q(left), T.q(left)))
    local code, out, err = T.ocibuild("--store", d .. "/s", "prune")
    assert.equal(0, code, err)
    assert.is_string(out)
    assert.equal("", temps(d .. "/s"))
  end)
end)
