-- Bad input through the command line: each failure exits non-zero (2 for
-- usage, 1 otherwise), prints one line naming the thing (file, pattern,
-- line, tag) and the reason, and writes nothing: the store's index.json,
-- blobs and temp folder are as before, no -o archive (or its temp file)
-- appears, and no default store is created. Inputs that are not errors
-- (broken or looping symlinks, sockets) are checked to build.
local T = require "support"

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil
-- As root, permission bits do not stop reads: such cases run as nobody.
local AS_USER = IS_ROOT and "setpriv --reuid=65534 --regid=65534 --clear-groups " or ""

local function listing(dir)
  local code, out = T.sh(("cd %s && find . -mindepth 1 | LC_ALL=C sort"):format(T.q(dir)))
  if code ~= 0 then return nil end
  return out
end

-- A temp folder holding a context, a store that already holds one image,
-- an empty folder for -o outputs and an empty HOME.
local function fixture(finally, opts)
  opts = opts or {}
  local d = T.tmpdir(finally)
  local fx = { dir = d, ctx = d .. "/ctx", store = d .. "/store", out = d .. "/out", home = d .. "/home",
    user = opts.user and AS_USER or "" }
  fx.archive = fx.out .. "/image.tar"
  T.write(fx.ctx .. "/index.html", "<h1>hi</h1>\n")
  T.must(("chmod 755 %s && mkdir %s %s %s"):format(T.q(d), T.q(fx.out), T.q(fx.home), T.q(fx.store)))
  if fx.user ~= "" then T.must(("chown 65534:65534 %s %s %s"):format(T.q(fx.out), T.q(fx.home), T.q(fx.store))) end
  return fx
end

-- Runs ocibuild (as the fixture's user) with HOME in the fixture, no store
-- from the environment, and the extra environment `env`.
local function run(fx, env, ...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  local vars = { "HOME=" .. T.q(fx.home) }
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. T.q(v) end
  table.sort(vars)
  return T.sh(("cd %s && %senv -u XDG_DATA_HOME -u OCIBUILD_STORE -u SOURCE_DATE_EPOCH %s %s %s"):format(
    T.q(fx.dir), fx.user, table.concat(vars, " "), T.q(T.bin), table.concat(words, " ")))
end

-- Puts one image into the fixture's store, so that "unchanged" means more
-- than "still empty".
local function seed(fx)
  T.write(fx.dir .. "/seed/a.txt", "seed\n")
  if fx.user ~= "" then T.must("chmod -R a+rX " .. T.q(fx.dir .. "/seed")) end
  local code, out, err = run(fx, nil, "build", fx.dir .. "/seed", "-t", "seed:1", "--store", fx.store)
  assert(code == 0, "seed build failed: " .. out .. err)
end

-- What a failed build must leave as it was.
local function state(fx)
  local index = T.exists(fx.store .. "/index.json") and T.read(fx.store .. "/index.json") or nil
  return { index = index, blobs = listing(fx.store .. "/blobs/sha256"), tmp = listing(fx.store .. "/.ocibuild-tmp"),
    out = listing(fx.out), home = listing(fx.home) }
end

local function assert_unchanged(fx, before)
  local after = state(fx)
  assert.same(before, after)
  assert.equal("", after.out)   -- no archive, no temp file beside it
  assert.equal("", after.home)  -- no default store
  if after.tmp then assert.equal("", after.tmp) end
end

-- stderr holds exactly one line, holding each of the plain strings given.
local function assert_one_line(err, ...)
  assert.matches("^[^\n]+\n$", err)
  assert.is_nil(err:find("traceback", 1, true), err)
  for _, s in ipairs { ... } do
    assert.is_truthy(err:find(s, 1, true), ("%q not in %q"):format(s, err))
  end
end

-- A failing `build` of dir: exit code, one line with the strings given,
-- nothing written.
local function build_fails(fx, env, dir, code_wanted, ...)
  local before = state(fx)
  local code, out, err = run(fx, env, "build", dir, "-t", "app:1", "--store", fx.store, "-o", fx.archive)
  assert.equal(code_wanted, code, out .. err)
  assert.equal("", out)
  assert_one_line(err, ...)
  assert_unchanged(fx, before)
  return err
end

-- The entries of the first layer of tag, by name (read by Python).
local function layer_entries(fx, tag)
  local img = T.image(fx.store, tag)
  local byname = {}
  for _, e in ipairs(T.tar_entries(T.gunzip(img.layers[1], fx.dir .. "/layer.tar"))) do byname[e.name] = e end
  return byname
end

local function mount_works(dir)
  if not IS_ROOT then return false end
  T.must("mkdir -p " .. T.q(dir .. "/probe"))
  local code = T.sh(("mount -t tmpfs -o ro,size=64k tmpfs %s && umount %s"):format(T.q(dir .. "/probe"),
    T.q(dir .. "/probe")))
  return code == 0
end

describe("ocibuild.cli", function()
  describe("build with a bad context", function()
    it("fails when the context does not exist, naming it", function()
      local fx = fixture(finally)
      seed(fx)
      build_fails(fx, nil, fx.dir .. "/missing", 1, "ocibuild: ", fx.dir .. "/missing", "does not exist")
    end)

    it("fails when the context is a regular file, naming it", function()
      local fx = fixture(finally)
      seed(fx)
      build_fails(fx, nil, fx.ctx .. "/index.html", 1, fx.ctx .. "/index.html", "not a directory")
    end)

    it("fails on an unreadable file, naming it", function()
      local fx = fixture(finally, { user = true })
      seed(fx)
      T.write(fx.ctx .. "/secret", "s\n", 0)
      T.must("chmod -R a+rX " .. T.q(fx.ctx) .. " && chmod 000 " .. T.q(fx.ctx .. "/secret"))
      build_fails(fx, nil, fx.ctx, 1, fx.ctx .. "/secret", "Permission denied")
    end)

    it("fails on an unreadable directory, naming it", function()
      local fx = fixture(finally, { user = true })
      seed(fx)
      T.write(fx.ctx .. "/locked/f", "f\n")
      T.must("chmod -R a+rX " .. T.q(fx.ctx) .. " && chmod 000 " .. T.q(fx.ctx .. "/locked"))
      build_fails(fx, nil, fx.ctx, 1, fx.ctx .. "/locked", "Permission denied")
    end)

    it("fails on a file that grows while it is read, naming it", function()
      -- A writer appends to a 64 MiB file for as long as the build runs.
      -- Whichever check sees the growth first (the size at open against
      -- the walk's lstat, the bytes read, or the size after reading), the
      -- build fails; if it ever finished before the writer got a turn, it
      -- is run again (a fresh attempt keeps the "nothing written" check).
      local fx = fixture(finally)
      seed(fx)
      local big = fx.ctx .. "/big.bin"
      T.must(("truncate -s 64M %s"):format(T.q(big)))
      local code, out, err, before
      for _ = 1, 5 do
        before = state(fx)
        code, out, err = T.sh(([[
          (while :; do printf x >>%s; done) & writer=$!
          cd %s && env -u SOURCE_DATE_EPOCH HOME=%s %s build %s -t app:1 --store %s -o %s
          status=$?; kill $writer; wait $writer 2>/dev/null; exit $status]]):format(
          T.q(big), T.q(fx.dir), T.q(fx.home), T.q(T.bin), T.q(fx.ctx), T.q(fx.store), T.q(fx.archive)))
        if code ~= 0 then break end
        T.must("rm -f " .. T.q(fx.archive))
      end
      assert.equal(1, code, out .. err)
      assert_one_line(err, "ocibuild: ", big, "changed as we read it")
      assert_unchanged(fx, before)
    end)

    it("fails on a file whose content does not match its size (kernel files bound in)", function()
      local fx = fixture(finally)
      if not mount_works(fx.dir) then
        return pending("needs root and mount: bind mounts put kernel files into the context")
      end
      seed(fx)
      -- /proc/version says 0 bytes and holds more; a /sys file says 4096
      -- and holds less. A /proc/self file of the (gone) mount process
      -- fails to read: that error must not pass as an empty file.
      local cases = {
        { "/proc/version", "changed as we read it" },
        { "/sys/kernel/mm/transparent_hugepage/enabled", "changed as we read it" },
        { "/proc/self/status", "No such process" },
      }
      local mounted = {}
      T.finally(finally, function()
        for _, m in ipairs(mounted) do T.sh("umount " .. T.q(m)) end
        T.sh("chmod -R u+rwx " .. T.q(fx.dir) .. "; rm -rf " .. T.q(fx.dir))
      end)
      for i, c in ipairs(cases) do
        if T.exists(c[1]) then
          local ctx = fx.dir .. "/kernel" .. i
          local f = ctx .. "/file"
          T.write(f, "")
          T.must(("mount --bind %s %s"):format(T.q(c[1]), T.q(f)))
          mounted[#mounted + 1] = f
          build_fails(fx, nil, ctx, 1, "ocibuild: ", f, c[2])
        end
      end
    end)

    it("fails on a name starting with .wh., naming it", function()
      local fx = fixture(finally)
      seed(fx)
      T.write(fx.ctx .. "/.wh.foo", "x\n")
      build_fails(fx, nil, fx.ctx, 1, "ocibuild: ", fx.ctx .. "/.wh.foo", "whiteout")
      local ctx2 = fx.dir .. "/ctx2"
      T.write(ctx2 .. "/sub/.wh..wh..opq", "")
      build_fails(fx, nil, ctx2, 1, ctx2 .. "/sub/.wh..wh..opq", "whiteout")
    end)

    it("fails on an invalid .dockerignore pattern, naming the file, line and pattern", function()
      local fx = fixture(finally)
      seed(fx)
      for _, bad in ipairs { "[abc", "[z-a]" } do
        T.write(fx.ctx .. "/.dockerignore", "# comment\n*.log\n" .. bad .. "\n")
        local err = build_fails(fx, nil, fx.ctx, 1, "ocibuild: ", fx.ctx .. "/.dockerignore", bad)
        assert.is_truthy(err:find(fx.ctx .. "/.dockerignore:3", 1, true) or err:find("line 3", 1, true), err)
      end
      os.remove(fx.ctx .. "/.dockerignore")
      local before = state(fx)
      -- in a file it is a bad input (1); as --exclude, a usage mistake (2)
      local code, out, err = run(fx, nil, "build", fx.ctx, "-t", "app:1", "--store", fx.store, "--exclude", "[abc")
      assert.equal(2, code, out .. err)
      assert_one_line(err, "ocibuild: ", "[abc")
      assert_unchanged(fx, before)
    end)
  end)

  describe("build with entries that are not errors", function()
    it("stores broken and looping symlinks as symlinks", function()
      local fx = fixture(finally)
      T.must(("cd %s && ln -s nowhere dangling && ln -s loop2 loop1 && ln -s loop1 loop2 && ln -s self self")
        :format(T.q(fx.ctx)))
      local code, out, err = run(fx, nil, "build", fx.ctx, "-t", "app:1", "--store", fx.store)
      assert.equal(0, code, out .. err)
      assert.equal("", err)
      local e = layer_entries(fx, "app:1")
      assert.same({ "2", "nowhere" }, { e.dangling.type, e.dangling.linkname })
      assert.same({ "2", "loop2" }, { e.loop1.type, e.loop1.linkname })
      assert.same({ "2", "loop1" }, { e.loop2.type, e.loop2.linkname })
      assert.same({ "2", "self" }, { e.self.type, e.self.linkname })
    end)

    it("skips a socket with one warning naming it", function()
      local fx = fixture(finally)
      T.must(("python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' %s")
        :format(T.q(fx.ctx .. "/app.sock")))
      local code, out, err = run(fx, nil, "build", fx.ctx, "-t", "app:1", "--store", fx.store, "-o", fx.archive)
      assert.equal(0, code, out .. err)
      assert.equal("ocibuild: warning: skipping socket " .. fx.ctx .. "/app.sock\n", err)
      assert.matches("digest:%s+sha256:%x+", out)
      local e = layer_entries(fx, "app:1")
      assert.is_nil(e["app.sock"])
      assert.is_table(e["index.html"])
      assert.is_true(T.exists(fx.archive))
    end)
  end)

  describe("build with a bad tag", function()
    -- The context holds a whiteout name: a tag checked after the walk
    -- would report that instead.
    for _, tag in ipairs { "Bad:tag", "app:-x", "app:" .. ("t"):rep(129), "a___b" } do
      it(("fails before any work on %q, quoting it"):format(#tag > 40 and tag:sub(1, 12) .. "..." or tag), function()
        local fx = fixture(finally)
        seed(fx)
        T.write(fx.ctx .. "/.wh.foo", "x\n")
        local before = state(fx)
        local code, out, err = run(fx, nil, "build", fx.ctx, "-t", tag, "--store", fx.store, "-o", fx.archive)
        -- a reference typed on the command line that cannot be one: a usage mistake
        assert.equal(2, code, out .. err)
        assert_one_line(err, "ocibuild: ", ("%q"):format(tag))
        assert.is_nil(err:find("wh.foo", 1, true))
        assert_unchanged(fx, before)
        -- nor is a store created to hold nothing
        code, out, err = run(fx, nil, "build", fx.ctx, "-t", tag, "--store", fx.dir .. "/new-store")
        assert.equal(2, code, out .. err)
        assert.is_false(T.exists(fx.dir .. "/new-store"))
      end)
    end

    it("names the reason: lowercase, tag grammar, name component", function()
      local fx = fixture(finally)
      local function reason(tag)
        local _, _, err = run(fx, nil, "build", fx.ctx, "-t", tag, "--store", fx.store)
        return err
      end
      assert.matches("must be lowercase", reason("Bad:tag"))
      assert.matches("tag must match", reason("app:-x"))
      assert.matches("tag must match", reason("app:" .. ("t"):rep(129)))
      assert.matches("component", reason("a___b"))
    end)
  end)

  describe("build into a store that cannot be written", function()
    it("fails when the store path runs through a regular file", function()
      local fx = fixture(finally)
      T.write(fx.dir .. "/plain", "not a folder\n")
      local code, out, err = run(fx, nil, "build", fx.ctx, "-t", "app:1", "--store", fx.dir .. "/plain/store",
        "-o", fx.archive)
      assert.equal(1, code, out .. err)
      assert_one_line(err, "ocibuild: ", fx.dir .. "/plain/store", "Not a directory")
      assert.equal("", listing(fx.out))
      assert.equal("not a folder\n", T.read(fx.dir .. "/plain"))
    end)

    it("fails on a store its user may not write, leaving it as it was", function()
      local fx = fixture(finally)
      seed(fx) -- as root, or as the user running the specs
      local before = state(fx)
      local prefix = AS_USER
      if IS_ROOT then
        T.must(("chown 65534:65534 %s %s && chmod -R a+rX %s"):format(T.q(fx.out), T.q(fx.home), T.q(fx.ctx)))
      else
        T.must("chmod -R a-w " .. T.q(fx.store))
        T.finally(finally, function()
          T.sh("chmod -R u+rwx " .. T.q(fx.dir) .. "; rm -rf " .. T.q(fx.dir))
        end)
      end
      fx.user = prefix
      local code, out, err = run(fx, nil, "build", fx.ctx, "-t", "app:1", "--store", fx.store, "-o", fx.archive)
      assert.equal(1, code, out .. err)
      assert_one_line(err, "ocibuild: ", fx.store, "Permission denied")
      assert_unchanged(fx, before)
    end)

    it("fails on a store mounted read-only, leaving it as it was", function()
      local fx = fixture(finally)
      if not mount_works(fx.dir) then
        return pending("needs root and mount: the store is bind-mounted read-only")
      end
      seed(fx)
      local ro = fx.dir .. "/ro"
      T.must(("mkdir %s && mount --bind -o ro %s %s"):format(T.q(ro), T.q(fx.store), T.q(ro)))
      T.finally(finally, function()
        T.sh("umount " .. T.q(ro))
        T.sh("chmod -R u+rwx " .. T.q(fx.dir) .. "; rm -rf " .. T.q(fx.dir))
      end)
      local before = state(fx)
      local code, out, err = run(fx, nil, "build", fx.ctx, "-t", "app:1", "--store", ro, "-o", fx.archive)
      assert.equal(1, code, out .. err)
      assert_one_line(err, "ocibuild: ", ro, "Read-only file system")
      assert_unchanged(fx, before)
    end)
  end)

  describe("SOURCE_DATE_EPOCH", function()
    for _, v in ipairs { "abc", "1.5", "-5", "1e9" } do
      it(("fails when it is %q, quoting it"):format(v), function()
        local fx = fixture(finally)
        seed(fx)
        build_fails(fx, { SOURCE_DATE_EPOCH = v }, fx.ctx, 1, "ocibuild: ", "SOURCE_DATE_EPOCH", ("%q"):format(v),
          "decimal integer")
      end)
    end

    it("fails a build script at the line that makes the image", function()
      local fx = fixture(finally)
      seed(fx)
      local script = fx.dir .. "/build.lua"
      T.write(script, 'local oci = require "ocibuild"\nlocal img = oci.image {}\n')
      local before = state(fx)
      local code, out, err = run(fx, { SOURCE_DATE_EPOCH = "abc" }, "run", script, "--store", fx.store)
      assert.equal(1, code, out .. err)
      assert_one_line(err, script .. ":2:", "SOURCE_DATE_EPOCH")
      assert_unchanged(fx, before)
    end)
  end)

  describe("build scripts with errors", function()
    local function script_fails(fx, text, ...)
      local script = fx.dir .. "/build.lua"
      T.write(script, text)
      local before = state(fx)
      local code, out, err = run(fx, nil, "run", script, "--store", fx.store, "tag=app:1")
      assert.equal(1, code, out .. err)
      assert.equal("", out)
      assert_one_line(err, ...)
      assert_unchanged(fx, before)
      return err, script
    end

    it("reports a syntax error as FILE:LINE: message", function()
      local fx = fixture(finally)
      seed(fx)
      local err = script_fails(fx, 'local oci = require "ocibuild"\nlocal x = = 1\n', fx.dir .. "/build.lua:2:",
        "near '='")
      assert.matches("^" .. ("ocibuild: " .. fx.dir .. "/build.lua:2: "):gsub("%p", "%%%0"), err)
    end)

    it("reports a runtime error as FILE:LINE: message", function()
      local fx = fixture(finally)
      seed(fx)
      local err = script_fails(fx,
        'local oci = require "ocibuild"\nlocal img = oci.image {}\nlocal t = nil\nprint(t.x)\n',
        fx.dir .. "/build.lua:4:", "attempt to index a nil value")
      assert.matches("^" .. ("ocibuild: " .. fx.dir .. "/build.lua:4: "):gsub("%p", "%%%0"), err)
    end)

    it("points an API error at the script's line", function()
      local fx = fixture(finally)
      seed(fx)
      script_fails(fx, 'local oci = require "ocibuild"\nlocal img = oci.image {}\nimg:layer { context = "nope" }\n'
        .. 'return img:save { tag = args.tag }\n', fx.dir .. "/build.lua:3:", fx.dir .. "/nope", "does not exist")
    end)

    it("points a layer that fails while saving at its layer call", function()
      local fx = fixture(finally)
      seed(fx)
      T.write(fx.dir .. "/site/.wh.x", "")
      script_fails(fx, 'local oci = require "ocibuild"\nlocal img = oci.image {}\nimg:layer { context = "site" }\n'
        .. 'return img:save { tag = args.tag }\n', fx.dir .. "/build.lua:3:", fx.dir .. "/site/.wh.x", "whiteout")
    end)

    it("names the script, the line and the tag when save gets a bad tag, even through a tail call", function()
      local fx = fixture(finally)
      seed(fx)
      local err = script_fails(fx,
        'local oci = require "ocibuild"\nlocal img = oci.image {}\nimg:layer { context = "ctx" }\n'
        .. 'return img:save { tag = "Bad:tag" }\n', '"Bad:tag"', "lowercase")
      assert.matches("^" .. ("ocibuild: " .. fx.dir .. "/build.lua:4: "):gsub("%p", "%%%0"), err)
      err = script_fails(fx, 'local oci = require "ocibuild"\nlocal img = oci.image {}\nimg:layer { context = "ctx" }\n'
        .. 'local r = img:save {\n  tag = "Bad:tag",\n}\nreturn r\n', '"Bad:tag"', "lowercase")
      assert.matches("^" .. ("ocibuild: " .. fx.dir .. "/build.lua:4: "):gsub("%p", "%%%0"), err)
    end)

    it("fails on a script that does not exist, naming it", function()
      local fx = fixture(finally)
      seed(fx)
      local before = state(fx)
      local code, out, err = run(fx, nil, "run", fx.dir .. "/missing.lua", "--store", fx.store)
      assert.equal(1, code, out .. err)
      assert.equal(("ocibuild: %s/missing.lua: cannot read the build script: No such file or" ..
        " directory\n"):format(fx.dir), err)
      assert_unchanged(fx, before)
    end)
  end)

  describe("usage errors", function()
    local cases = {
      { { "build", "ctx", "-t", "app:1", "--bogus" }, "--bogus", "ocibuild build --help" },
      { { "build", "-t", "app:1" }, "directory", "ocibuild build --help" },
      { { "build", "ctx", "other", "-t", "app:1" }, "directory", "ocibuild build --help" },
      { { "build", "ctx", "-t" }, "-t", "needs a value" },
      { { "build", "ctx", "-t", "app:1", "--label", "novalue" }, "novalue", "KEY=VALUE" },
      { { "--bogus", "build", "ctx" }, "--bogus", "ocibuild --help" },
      { { "frobnicate" }, "frobnicate", "ocibuild --help" },
      { { "run" }, "script", "ocibuild run --help" },
      { { "run", "build.lua", "notapair" }, "notapair", "name=value" },
      { { "--store" }, "--store", "needs a value" },
    }
    for _, c in ipairs(cases) do
      it(("exits 2 with a hint for: ocibuild %s"):format(table.concat(c[1], " ")), function()
        local fx = fixture(finally)
        seed(fx)
        T.write(fx.dir .. "/build.lua", 'error("must not run")\n')
        T.must("mkdir -p " .. T.q(fx.dir .. "/other"))
        local before = state(fx)
        local code, out, err = run(fx, { OCIBUILD_STORE = fx.store }, table.unpack(c[1]))
        assert.equal(2, code, out .. err)
        assert.equal("", out)
        assert_one_line(err, "ocibuild: ", c[2], c[3])
        assert_unchanged(fx, before)
      end)
    end
  end)
end)
