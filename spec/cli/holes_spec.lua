-- Smaller holes (issue 8 #7) and the warnings oci-facts §7 asks for (#8):
-- values out of range are refused with a message naming them, a
-- .dockerignore symlinked out of the context is not read, messages stay
-- on one line and keep the end of long paths; names differing only in
-- case, mount points, setuid/setgid files and big configs are warned about.
local T = require "support"

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil

-- Runs ocibuild with env (a table) and the words; asserts a one-line
-- failure with exit `code` (default 1; 2 for a bad flag value, a usage
-- mistake) holding each string of `want`; the store unchanged.
local function fails(d, s, env, words, want, code)
  local before = T.fingerprint(s)
  local vars = {}
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. T.q(v) end
  local q = {}
  for i, w in ipairs(words) do q[i] = T.q(w) end
  local got, out, err = T.sh(("cd %s && env %s %s --store %s %s"):format(T.q(d), table.concat(vars, " "),
    T.q(T.bin), T.q(s), table.concat(q, " ")))
  assert.equal(code or 1, got, out .. err)
  assert.matches("^[^\n]+\n$", err)
  for _, w in ipairs(want) do assert.is_truthy(err:find(w, 1, true), ("%q not in %q"):format(w, err)) end
  assert.equal(before, T.fingerprint(s))
  return err
end

describe("ocibuild refuses", function()
  it("owner ids above 4294967294, which would wrap to root", function()
    local d, s = T.fixture(finally, { tag = "seed:1" })
    for _, owner in ipairs { "4294967296:0", "0:4294967295", "99999999999:0", "-1:0" } do
      -- a flag's value that cannot be: a usage mistake
      fails(d, s, nil, { "build", d .. "/ctx", "-t", "x:1", "--owner", owner }, { ('"%s"'):format(owner),
        "4294967294" }, 2)
    end
    T.write(d .. "/build.lua", 'local oci = require "ocibuild"\nlocal img = oci.image {}\n'
      .. 'img:layer { context = "ctx", owner = "4294967296:0" }\nreturn img:save { tag = "x:1" }\n')
    fails(d, s, nil, { "run", d .. "/build.lua" }, { d .. "/build.lua:3:", "4294967294" })
  end)

  it("destinations with a component starting with .wh.", function()
    local d, s = T.fixture(finally, { tag = "seed:1" })
    for _, dest in ipairs { "/.wh.x", "/a/.wh..wh..opq", "/usr/.wh.share/x" } do
      fails(d, s, nil, { "build", d .. "/ctx", "-t", "x:1", "--dest", dest }, { ('"%s"'):format(dest), "whiteout" }, 2)
    end
  end)

  it("a SOURCE_DATE_EPOCH past the year 9999", function()
    local d, s = T.fixture(finally, { tag = "seed:1" })
    fails(d, s, { SOURCE_DATE_EPOCH = "253402300800" }, { "build", d .. "/ctx", "-t", "x:1" },
      { "SOURCE_DATE_EPOCH", "253402300800", "9999" })
    local code, out, err = T.sh(("env SOURCE_DATE_EPOCH=253402300799 %s --store %s build %s -t x:1")
      :format(T.q(T.bin), T.q(s), T.q(d .. "/ctx")))
    assert.equal(0, code, out .. err)
    assert.equal("9999-12-31T23:59:59Z", T.image(s, "x:1").config.created)
  end)

  it("ports outside 1-65535 or with an unknown protocol", function()
    local d, s = T.fixture(finally, { tag = "seed:1" })
    for _, port in ipairs { "0", "65536", "80/foo", "-1", "http", "80/tcp/udp" } do
      T.write(d .. "/build.lua", ('local oci = require "ocibuild"\nlocal img = oci.image {}\n'
        .. 'img:config { ports = { %q } }\nimg:layer { context = "ctx" }\nreturn img:save { tag = "x:1"' ..
        ' }\n'):format(port))
      fails(d, s, nil, { "run", d .. "/build.lua" }, { d .. "/build.lua:3:", ("bad port %q"):format(port) })
    end
  end)

  it("a .dockerignore that is a symlink out of the context, without showing its content", function()
    local d, s = T.fixture(finally, { tag = "seed:1" })
    T.write(d .. "/secret", "top-secret-line\n")
    T.must(("ln -s %s %s"):format(T.q(d .. "/secret"), T.q(d .. "/ctx/.dockerignore")))
    for _, cmd in ipairs { { "build", d .. "/ctx", "-t", "x:1" }, { "ls", d .. "/ctx" } } do
      local err = fails(d, s, nil, cmd, { d .. "/ctx/.dockerignore", "outside the context" })
      assert.is_nil(err:find("top-secret-line", 1, true))
    end
    -- a symlink to a file inside the context is read
    T.must(("rm %s && printf 'a.txt\\n' > %s && ln -s ignore %s"):format(T.q(d .. "/ctx/.dockerignore"),
      T.q(d .. "/ctx/ignore"), T.q(d .. "/ctx/.dockerignore")))
    assert.equal(".dockerignore\nignore\n", T.must(T.q(T.bin) .. " ls " .. T.q(d .. "/ctx")))
  end)
end)

describe("ocibuild messages", function()
  it("quote a context or store path with a newline on one line", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/plain", "")
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/no\nsuch", "-t", "x:1")
    assert.equal(1, code, out .. err)
    assert.equal(("ocibuild: context %s/no\\x0asuch does not exist\n"):format(d), err)
    code, out, err = T.ocibuild("--store", d .. "/plain/s\x01", "build", d, "-t", "x:1")
    assert.equal(1, code, out .. err)
    assert.equal(("ocibuild: store %s/plain/s\\x01 is not usable: ENOTDIR: Not a directory: %s/plain\n"):format(d, d),
      err)
  end)

  it("quote a name with a newline or control bytes on one line", function()
    if not IS_ROOT then return pending("needs root to make a file unreadable to another user") end
    local d = T.tmpdir(finally)
    local bad = d .. "/ctx/line\none\tand\27[31mred"
    T.write(bad, "x\n")
    T.must(("chmod -R a+rX %s && chmod 000 %s && chmod 777 %s"):format(T.q(d), T.q(bad), T.q(d)))
    local code, out, err = T.sh(("setpriv --reuid=65534 --regid=65534 --clear-groups %s --store %s build %s -t x:1")
      :format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/ctx")))
    assert.equal(1, code, out .. err)
    assert.equal(("ocibuild: EACCES: Permission denied: %s/ctx/line\\x0aone\\x09and\\x1b[31mred\n"):format(d), err)
  end)

  it("keep the end of a path longer than a message holds, marking the cut", function()
    local d = T.tmpdir(finally)
    local deep = d .. "/ctx/" .. (("d"):rep(200) .. "/"):rep(8)
    T.write(deep .. "end-of-the-path/.wh.name", "x\n")
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "x:1")
    assert.equal(1, code, out .. err)
    assert.matches("^ocibuild: WHITEOUT: [^\n]*" .. d:gsub("%p", "%%%0")
      .. "/ctx/[d/]+%.%.%.[d/]+/end%-of%-the%-path/%.wh%.name\n$", err)
    assert.is_true(#err < 1300)
  end)
end)

describe("ocibuild warnings", function()
  local function build_warns(finally, setup, ...)
    local d = T.tmpdir(finally)
    setup(d .. "/ctx")
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "x:1", ...)
    assert.equal(0, code, out .. err)
    local lines = {}
    for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
    return lines, d
  end

  it("name files that differ only in case in one folder, once each", function()
    local lines, d = build_warns(finally, function(ctx)
      for _, n in ipairs { "README", "readme", "sub/Ärger", "sub/ärger", "sub/other", "a/x", "b/X" } do T.write(ctx
        .. "/" .. n, "") end
    end, "-v")
    assert.same({
      ("ocibuild: warning: %s/ctx/readme and its sibling README differ only in case: they collide when the layer" ..
        " is extracted on macOS or Windows"):format(d),
      ("ocibuild: warning: %s/ctx/sub/ärger and its sibling Ärger differ only in case: they collide when the" ..
        " layer is extracted on macOS or Windows"):format(d),
    }, lines)
  end)

  it("stop naming collisions after ten", function()
    local lines = build_warns(finally, function(ctx)
      for i = 1, 15 do T.write(ctx .. "/f" .. i, "") T.write(ctx .. "/F" .. i, "") end
    end, "-v")
    assert.equal(11, #lines)
    assert.equal("ocibuild: warning: more names that differ only in case are not reported", lines[11])
  end)

  it("name files that keep a setuid or setgid bit, unless modes are normalized", function()
    local setup = function(ctx)
      T.write(ctx .. "/su", "", 2541) -- 4755
      T.write(ctx .. "/sg", "", 1517) -- 2755
      T.write(ctx .. "/plain", "", 493)
      T.must("mkdir -p " .. T.q(ctx .. "/shared") .. " && chmod 2775 " .. T.q(ctx .. "/shared"))
    end
    local lines, d = build_warns(finally, setup, "-v")
    assert.same({
      ("ocibuild: warning: %s/ctx/sg keeps its setgid bit (mode 2755)"):format(d),
      ("ocibuild: warning: %s/ctx/su keeps its setuid bit (mode 4755)"):format(d),
    }, lines)
    assert.same({}, (build_warns(finally, setup, "--mode", "normalize")))
  end)

  it("name a mount point inside the context, whose files still go in", function()
    if not IS_ROOT then return pending("needs root to mount") end
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a", "")
    T.must("mkdir " .. T.q(d .. "/ctx/mnt"))
    if T.sh(("mount -t tmpfs -o size=1m tmpfs %s"):format(T.q(d .. "/ctx/mnt"))) ~= 0 then
      return pending("mount does not work here")
    end
    T.finally(finally, function() T.sh("umount " .. T.q(d .. "/ctx/mnt") .. "; rm -rf " .. T.q(d)) end)
    T.write(d .. "/ctx/mnt/inside", "in\n")
    local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "x:1")
    assert.equal(0, code, out .. err)
    assert.equal(("ocibuild: warning: %s/ctx/mnt is a mount point: its files come from another file system" ..
      " (exclude it in .dockerignore to leave them out)\n"):format(d), err)
    local names = {}
    for _, e in ipairs(T.tar_entries(T.gunzip(T.image(d .. "/s", "x:1").layers[1], d
      .. "/l.tar"))) do names[e.name] = true end
    assert.is_true(names["mnt/inside"])
  end)

  it("are said once per change of a layer: a line per kind, every one with -v, none with -q", function()
    local d = T.tmpdir(finally)
    local ctx = d .. "/ctx"
    for i = 1, 12 do
      T.write(ctx .. "/inc/f" .. i, "")
      T.write(ctx .. "/inc/F" .. i, "")
    end
    T.write(ctx .. "/su", "", 2541) -- 4755
    local function build(...)
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", ctx, "-t", "x:1", ...)
      assert.equal(0, code, out .. err)
      return err, out
    end
    local summary = ("ocibuild: warning: %s/inc/f1 and its sibling F1 differ only in case: they collide when the "
      .. "layer is extracted on macOS or Windows (and 9+ more like it in layer 1/1; -v lists them)\n"
      .. "ocibuild: warning: %s/su keeps its setuid bit (mode 4755)\n"):format(ctx, ctx)
    assert.equal(summary, build())
    -- nothing changed: said already
    assert.equal("", build())
    assert.equal("", build("--progress=quiet"))
    local all = build("-v")
    assert.equal(12, select(2, all:gsub("\n", "")))
    assert.truthy(all:find("warning: more names that differ only in case are not reported\n", 1, true), all)
    -- a change: said again
    T.write(ctx .. "/new", "x")
    local warned = {}
    for l in build("--progress=plain"):gmatch("[^\n]+\n") do
      if l:match("^ocibuild: warning: ") then warned[#warned + 1] = l end
    end
    assert.equal(summary, table.concat(warned))
    T.write(ctx .. "/new", "y")
    local err, out = build("-q")
    assert.equal("", err)
    assert.matches("^sha256:%x+\n$", out)
    local code, _, uerr = T.ocibuild("--store", d .. "/s", "build", ctx, "-q", "-v")
    assert.same({ 2, "ocibuild: -q and -v exclude each other (see 'ocibuild build --help')\n" }, { code, uerr })
  end)

  it("say when the config is over 1 MiB", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/a", "")
    T.write(d .. "/build.lua",
      'local oci = require "ocibuild"\nlocal img = oci.image {}\nimg:layer { context = "ctx" }\n'
      .. 'img:label("big", ("x"):rep(1100000))\nreturn img:save { tag = "x:1" }\n')
    local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/build.lua")
    assert.equal(0, code, out .. err)
    assert.matches("^ocibuild: warning: the image config has 11%d%d%d%d%d bytes, more than 1 MiB: registries may" ..
      " refuse it\n$", err)
  end)

  it("say when the config is over 1 MiB, and only then", function()
    local image = require "ocibuild.build.image"
    local got = {}
    image.check_size(1 << 20, function(ev) got[#got + 1] = ev end)
    assert.same({}, got)
    image.check_size((1 << 20) + 1, function(ev) got[#got + 1] = ev end)
    assert.same({ { type = "warning",
      message = "the image config has 1048577 bytes, more than 1 MiB: registries may refuse it" } }, got)
  end)
end)
