-- The public, raising API (require "ocibuild"): every validation message,
-- raised at the caller's line, before any layer is written.
local T = require "support"

local function api(base, store)
  return require("ocibuild").new(base, { store = store, warn = function() end })
end

-- Runs f, which must raise; returns the message.
local function raises(f)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  return err
end

local function here() return debug.getinfo(2, "l").currentline end
local SRC = debug.getinfo(1, "S").short_src

describe("ocibuild (the public API)", function()
  local d, oci
  before_each(function()
    d = T.tmpdir()
    T.write(d .. "/ctx/f", "x")
    oci = api(d, d .. "/store")
  end)
  after_each(function() T.must("rm -rf " .. T.q(d)) end)

  describe("image()", function()
    it("raises at the caller's line on bad options", function()
      local line
      local err = raises(function() line = here(); oci.image { platfrom = "linux/amd64" } end)
      assert.equal(("%s:%d: image: unknown option \"platfrom\" (did you mean \"platform\"?)"):format(SRC, line), err)
      for _, case in ipairs {
        { { platform = "linux" }, 'bad platform "linux": expected os/arch[/variant], as linux/amd64' },
        { { created = -1 }, "created must be an integer of seconds from 0 to 253402300799" },
        { { created = 1.5 }, "created must be an integer of seconds from 0 to 253402300799" },
        { { store = 5 }, "store must be a path" },
      } do
        assert.matches(": " .. case[2]:gsub("%p", "%%%0") .. "$", raises(function() oci.image(case[1]) end))
      end
      assert.matches(": image needs a table$", raises(function() oci.image "x" end))
    end)
  end)

  describe("image:layer()", function()
    local cases = {
      { nil, "layer needs a table with context = <directory>" },
      { {}, "layer needs a table with context = <directory>" },
      { { context = "ctx", dset = "/x" }, 'layer: unknown option "dset" (did you mean "dest"?)' },
      { { context = "missing" }, "context %s/missing does not exist" },
      { { context = "ctx/f" }, "context %s/ctx/f is not a directory" },
      { { context = "ctx", dest = "app" }, 'dest must be an absolute path in the image, got "app"' },
      { { context = "ctx", dest = "/a/../b" }, "dest must not contain '..', got \"/a/../b\"" },
      { { context = "ctx", dest = "/a/.wh.b" },
        'dest "/a/.wh.b" has a component starting with .wh., which would be read as a whiteout' },
      { { context = "ctx", mode = "0755" }, 'mode must be one of keep, normalize, got "0755"' },
      { { context = "ctx", mtime = "now" }, 'mtime must be one of fixed, keep, got "now"' },
      { { context = "ctx", compression = "bzip2" }, 'compression must be one of gzip, zstd, none, got "bzip2"' },
      { { context = "ctx", level = 10 }, "level must be an integer from 1 to 9 for gzip, got 10" },
      { { context = "ctx", compression = "zstd", level = 20 },
        "level must be an integer from 1 to 19 for zstd, got 20" },
      { { context = "ctx", owner = "root" },
        'owner must be "keep" or "UID:GID" with ids from 0 to 4294967294, got "root"' },
      { { context = "ctx", owner = "4294967296:0" },
        'owner must be "keep" or "UID:GID" with ids from 0 to 4294967294, got "4294967296:0"' },
      { { context = "ctx", owner = "99999999999999999999:0" },
        'owner must be "keep" or "UID:GID" with ids from 0 to 4294967294, got "99999999999999999999:0"' },
      { { context = "ctx", jobs = 0 }, "jobs must be an integer from 1 to 256, got 0" },
      { { context = "ctx", exclude = "*.log" }, "exclude must be a list of patterns" },
      { { context = "ctx", exclude = { 5 } }, "exclude[1] must be a string" },
      { { context = "ctx", ignorefile = 5 }, "ignorefile must be a path or false" },
      { { context = "ctx", exclude = { "*.o", "[z-a]" } }, "exclude[2]: bad pattern '[z-a]': syntax error in pattern" },
    }
    for _, case in ipairs(cases) do
      it("raises " .. case[2]:gsub("%%s", "…"), function()
        local img = oci.image()
        local line
        local err = raises(function() line = here(); img:layer(case[1]) end)
        local want = case[2]:find("%s", 1, true) and case[2]:format(d) or case[2]
        assert.equal(SRC .. ":" .. line .. ": ", err:sub(1, #SRC + #tostring(line) + 3))
        assert.truthy(err:find(want, 1, true), err)
      end)
    end

    it("accepts a valid layer and keeps every option it was given", function()
      local img = oci.image()
      assert.equal(img, img:layer { context = d .. "/ctx", dest = "/srv/./app/", mode = "normalize",
        mtime = "keep", owner = "1000:1000", compression = "zstd", level = 19, jobs = 1,
        exclude = { "*.tmp" }, ignorefile = false })
      local l = require("ocibuild").internal(img).steps[1].l
      assert.same({ "srv/app/", "/srv/app/", "normalize", "keep", "1000:1000", "zstd", 19, 1 },
        { l.prefix, l.dest, l.mode, l.mtime, l.owner, l.compression, l.level, l.jobs })
    end)
  end)

  describe("image:label(), :labels() and :config()", function()
    it("raise on every bad value", function()
      local img = oci.image()
      for _, case in ipairs {
        { function() img:label("k", 1) end, "label keys and values must be strings" },
        { function() img:label("", "v") end, "label key must not be empty" },
        { function() img:labels "k=v" end, "labels needs a table of strings" },
        { function() img:labels { k = true } end, "label keys and values must be strings" },
        { function() img:config "x" end, "config needs a table" },
        { function() img:config { entrypont = {} } end,
          'config: unknown option "entrypont" (did you mean "entrypoint"?)' },
        { function() img:config { workdir = 1 } end, "config.workdir must be a non-empty string" },
        { function() img:config { entrypoint = "/bin/sh" } end, "config.entrypoint must be a list of strings" },
        { function() img:config { cmd = { "a", 2 } } end, "config.cmd[2] must be a string" },
        { function() img:config { env = "A=1" } end,
          'config.env must be a table of KEY = "value" or a list of "KEY=value"' },
        { function() img:config { env = { "NOEQUALS" } } end,
          'config.env[1] must be a KEY=VALUE string, got "NOEQUALS"' },
        { function() img:config { env = { ["A=B"] = "c" } } end,
          "config.env: keys and values must be strings, keys non-empty and without '=', got \"A=B\" = \"c\"" },
        { function() img:config { ports = { "0" } } end,
          'config.ports: bad port "0" (expected 1-65535, optionally /tcp, /udp or /sctp)' },
        { function() img:config { ports = { "65536" } } end, 'config.ports: bad port "65536"' },
        { function() img:config { ports = { "80/foo" } } end, 'config.ports: bad port "80/foo"' },
        { function() img:config { volumes = { 1 } } end, "config.volumes[1] must be a string" },
      } do
        local err = raises(case[1])
        assert.truthy(err:find(case[2], 1, true), err)
        assert.equal(SRC .. ":", err:sub(1, #SRC + 1))
      end
    end)

    it("normalizes ports as Docker does", function()
      local img = oci.image()
      img:config { ports = { "80", "53/udp" } }
      assert.same({ "80/tcp", "53/udp" }, require("ocibuild").internal(img).cfg.ports)
    end)
  end)

  describe("image:save()", function()
    it("checks its options and tags before writing anything", function()
      local img = oci.image()
      img:layer { context = d .. "/ctx" }
      for _, case in ipairs {
        { "x", "save needs a table" },
        { { tga = "a:1" }, 'save: unknown option "tga" (did you mean "tag"?)' },
        { { tag = 5 }, "tag must be a string or a list of strings" },
        { { tag = "Bad:1" }, 'invalid reference "Bad:1"' },
        { { tag = "a@sha256:" .. ("0"):rep(64) }, "cannot tag with a digest reference" },
        { { archive = 5 }, "archive must be a file path" },
      } do
        local err = raises(function() img:save(case[1]) end)
        assert.truthy(err:find(case[2], 1, true), err)
      end
      assert.is_false(T.exists(d .. "/store"))
    end)

    it("points a layer's failure at its layer call", function()
      local img = oci.image()
      T.write(d .. "/ctx/.wh.x", "")
      local line = here(); img:layer { context = d .. "/ctx" }
      local err = raises(function() img:save { tag = "a:1" } end)
      assert.equal(("%s:%d: WHITEOUT: name starts with .wh. and would be read as a whiteout: %s/ctx/.wh.x")
        :format(SRC, line, d), err)
    end)

    it("raises for SOURCE_DATE_EPOCH or OCIBUILD_JOBS it cannot use", function()
      local prog = "local ok, e = pcall(require('ocibuild').%s); io.write(tostring(e))"
      local function with(env, call)
        return T.must(("cd %s && %s LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s"):format(T.q(d), env,
          T.q(T.root .. "/lua/?.lua;" .. T.root .. "/lua/?/init.lua;;"), T.q(T.build .. "/lib/?.so;;"),
          T.q(prog:format(call))))
      end
      assert.truthy(with("SOURCE_DATE_EPOCH=253402300800", "image")
        :find("SOURCE_DATE_EPOCH must be a decimal integer of seconds up to 253402300799 (9999-12-31), got" ..
          " \"253402300800\"", 1, true))
      assert.truthy(with("SOURCE_DATE_EPOCH=1e9", "image"):find('got "1e9"', 1, true))
      assert.equal("OCIBUILD_JOBS must be an integer from 1 to 256, got \"0\"",
        with("OCIBUILD_JOBS=0", "build, { context = 'ctx', store = 's' }"):match("OCIBUILD_JOBS.*$"))
    end)
  end)

  describe("build() and ignorefile()", function()
    it("raise on bad options with suggestions", function()
      assert.matches(": build needs a table$", raises(function() oci.build() end))
      local err = raises(function() oci.build { context = d .. "/ctx", tags = "a:1" } end)
      assert.truthy(err:find('build: unknown option "tags" (did you mean "tag"?)', 1, true), err)
      assert.matches(": ignorefile needs a path$", raises(function() oci.ignorefile(5) end))
      T.write(d .. "/ig", "!\n")
      err = raises(function() oci.ignorefile(d .. "/ig") end)
      assert.truthy(err:find(d .. "/ig:1: bad pattern '!'", 1, true), err)
      -- a file named on purpose must exist (only a context's .dockerignore may be missing)
      err = raises(function() oci.ignorefile(d .. "/no-such-file") end)
      assert.truthy(err:find("No such file or directory: " .. d .. "/no-such-file", 1, true), err)
    end)

    it("builds one directory in one call and returns what save returns", function()
      local r = oci.build { context = d .. "/ctx", tag = "one:1", labels = { a = "b" },
        config = { cmd = { "/f" } }, mode = "normalize" }
      local img = T.image(d .. "/store", "one:1")
      assert.same({ r.digest, r.image_id }, { img.desc.digest, img.manifest.config.digest })
      assert.same({ a = "b" }, img.config.config.Labels)
      assert.same({ "/f" }, img.config.config.Cmd)
    end)
  end)

  describe("a mistyped name", function()
    it("raises at the caller's line, naming the nearest function or method", function()
      local line = here() + 1
      local err = raises(function() return oci.imgae end)
      assert.equal(('%s:%d: ocibuild has no function "imgae" (did you mean "image"?)'):format(SRC, line), err)
      local img = oci.image {}
      line = here() + 1
      err = raises(function() img:layr { context = "." } end)
      assert.equal(('%s:%d: Image has no method "layr" (did you mean "layer"?)'):format(SRC, line), err)
      err = raises(function() return oci.index { img }.sav end)
      assert.matches('Index has no method "sav" %(did you mean "save"%?%)$', err)
      err = raises(function() return require("ocibuild").runn end)
      assert.matches('ocibuild has no function "runn" %(did you mean "run"%?%)$', err)
      -- nothing near: no guess
      err = raises(function() return oci.zzzzzzzz end)
      assert.matches('ocibuild has no function "zzzzzzzz"$', err)
    end)
  end)
end)
