-- The TOML subset reader (ocibuild.registry.toml) and containers'
-- registries.conf v2 as ocibuild reads it (ocibuild.registry.conf): which
-- files, how drop-ins merge, which entry a reference finds, where a pull
-- and a push go, and a mistake named by FILE:LINE.
local T = require "support"
local conf = require "ocibuild.registry.conf"
local ref = require "ocibuild.oci.ref"
local toml = require "ocibuild.registry.toml"

local function r(s) return assert(ref.parse(s)) end

-- endpoints as "host/path:tag[@digest] (mirror, insecure)" strings.
local function eps(cfg, s, action)
  local list, err, code = conf.endpoints(cfg, r(s), action)
  if not list then return { err, code } end
  local out = {}
  for i, e in ipairs(list) do
    out[i] = e.ref.normalized .. (e.mirror and " mirror" or "") .. (e.insecure and " insecure" or "")
  end
  return out
end

local function cfg_of(text)
  return { entries = assert(conf.parse(text, "F")) }
end

describe("ocibuild.registry", function()
  describe("toml.parse()", function()
    it("reads strings, booleans, integers, arrays over lines, inline tables, dotted and quoted keys", function()
      local t, where = toml.parse(table.concat({
        "# a comment",
        'a = "tab\\there \\u00e9 \\"q\\" \\\\" # after',
        "b = 'C:\\path' ",
        "c = true",
        "d = -1_000",
        "e = [",
        '  "one", # first',
        "  'two',",
        "]",
        'f = { x = 1, "y z" = [true, false] }',
        "g.h = 'dotted'",
        "[t.u]",
        "v = []",
        "[[list]]",
        "n = 1",
        "[[list.sub]]",
        "m = 2",
        "[[list]]",
        "n = 3",
      }, "\r\n") .. "\n", "F")
      assert.same({ a = 'tab\there é "q" \\', b = "C:\\path", c = true, d = -1000, e = { "one", "two" },
        f = { x = 1, ["y z"] = { true, false } }, g = { h = "dotted" }, t = { u = { v = {} } },
        list = { { n = 1, sub = { { m = 2 } } }, { n = 3 } } }, t)
      assert.equal(6, where[t].e)
      assert.equal(15, where[t.list[1]].n)
      assert.equal(18, where[t.list[2]][0])
    end)

    it("refuses what it does not read and what TOML forbids, naming the line", function()
      for _, case in ipairs {
        { 'a = 1\na = 2\n', 'F:2: key "a" is defined twice' },
        { '[x]\nk = 1\n[x]\n', "F:3: table [x] is defined twice" },
        { 'a.b = 1\n[a.b]\n', "F:2: table [a.b] is defined twice" },
        { 'a = 1\n[a.b]\n', 'F:2: key "a" is a value already, not a table' },
        { '[[a]]\n[a]\n', "F:2: table [a] is defined twice" },
        { '[a]\n[[a]]\n', "F:2: [[a]] follows a table of that name" },
        { 'a = """x"""\n', "F:1: multi-line strings are not read here" },
        { 'a = 1.5\n', 'F:1: a value expected (strings, booleans, integers, arrays and inline tables are read '
          .. 'here), found "1.5"' },
        { 'a = 1979-05-27\n', 'F:1: a value expected (strings, booleans, integers, arrays and inline tables are read '
          .. 'here), found "1979-05-27"' },
        { '\n\na = "x" b\n', 'F:3: unexpected "b" after a value' },
        { 'a = "open\n', "F:1: unterminated string" },
        { 'a = "\\q"\n', "F:1: bad escape \\q" },
        { 'a = "\\ud800"\n', "F:1: bad escape \\ud800" },
        { 'a = [1\n 2]\n', "F:2: ',' or ']' expected in an array" },
        { 'a = { b = 1\n', "F:1: ',' or '}' expected in an inline table" },
        { '= 1\n', 'F:1: a key expected, found "="' },
        { 'a 1\n', "F:1: '=' expected after key \"a\"" },
        { '[a\n', "F:1: \"]\" expected to close the table header" },
        { 'a = "x\1y"\n', "F:1: control character in a string" },
      } do
        assert.same({ nil, case[2], "BADCONF" }, { toml.parse(case[1], "F") }, case[1])
      end
    end)
  end)

  describe("conf", function()
    it("reads [[registry]] tables and their mirrors, prefixes defaulting to the location", function()
      local list = assert(conf.parse(table.concat({
        "unqualified-search-registries = ['docker.io']",
        "short-name-mode = 'enforcing'",
        "[aliases]",
        '"busybox" = "docker.io/library/busybox"',
        "[[registry]]",
        'location = "reg.example:5000/"',
        "insecure = true",
        "[[registry.mirror]]",
        'location = "mirror.example/cache"',
        'pull-from-mirror = "digest-only"',
        "[[registry]]",
        'prefix = "*.blocked.example"',
        "blocked = true",
        "[[registry]]",
        'location = "reg.example:5000"',
        "blocked = false",
      }, "\n"), "F"))
      assert.same({
        { at = "F:5", prefix = "reg.example:5000", location = "reg.example:5000", insecure = true, blocked = false,
          digest_only = false, mirrors = { { location = "mirror.example/cache", insecure = false,
            pull_from = "digest-only" } } },
        { at = "F:11", prefix = "*.blocked.example", location = "", insecure = false, blocked = true,
          digest_only = false,
          mirrors = {} },
      }, list)
      -- the v1 lists
      assert.same({ { at = "F:3", prefix = "old.example", location = "old.example", insecure = true, blocked = false,
        mirrors = {} }, { at = "F:5", prefix = "bad.example", location = "bad.example", insecure = false,
        blocked = true, mirrors = {} } },
        assert(conf.parse("[registries.search]\nregistries = ['docker.io']\n[registries.insecure]\n"
          .. "registries = ['old.example']\n[registries.block]\nregistries = ['bad.example']\n", "F")))
    end)

    it("is strict about what it reads, naming FILE:LINE", function()
      for _, case in ipairs {
        { '[[registry]]\nlocation = "a"\nlocaton = "b"\n', 'F:3: unknown key "locaton" in [[registry]] (ocibuild '
          .. 'reads blocked, insecure, location, mirror, mirror-by-digest-only, prefix)' },
        { '[[registry]]\nlocation = "a"\ninsecure = "yes"\n', "F:3: insecure of [[registry]] must be a boolean" },
        { '[[registry]]\nlocation = "https://a"\n', 'F:1: location "https://a" names a scheme: give HOST[:PORT][/PATH] '
          .. "(insecure = true allows plain HTTP)" },
        { '[[registry]]\nblocked = true\n', "F:1: a registry needs a location or a prefix" },
        { '[[registry]]\nprefix = "a.example/x"\n', 'F:1: prefix "a.example/x" needs a location (only a *.DOMAIN '
          .. "prefix goes without)" },
        { '[[registry]]\nprefix = "*.a.example/x"\n', 'F:1: a wildcard prefix is *.DOMAIN only, not "*.a.example/x"' },
        { '[[registry]]\nlocation = "a"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "some"\n',
          'F:3: pull-from-mirror must be all, digest-only or tag-only, not "some"' },
        { '[[registry]]\nlocation = "a"\n[[registry.mirror]]\ninsecure = true\n', "F:3: a mirror needs a location" },
        { '[[registry]]\nlocation = "a"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m"\n'
          .. 'pull-from-mirror = "all"\n',
          "F:1: mirror-by-digest-only and a mirror's pull-from-mirror exclude each other" },
        { 'registry = "a"\n', "F:1: registry must be [[registry]] tables" },
        { '[registries.block]\nregistries = ["x"]\n[[registry]]\nlocation = "a"\n',
          "F:1: the v1 format ([registries.*]) "
          .. "cannot be mixed with [[registry]] tables or used in a drop-in" },
        { '[[registry]]\nlocation = "a"\nx = [\n', "F:4: unterminated array" },
      } do
        assert.same({ nil, case[2], "BADCONF" }, { conf.parse(case[1], "F") }, case[1])
      end
    end)

    it("finds the longest prefix at a boundary and rewrites it to the location; mirrors first for a pull", function()
      local cfg = cfg_of(table.concat({
        "[[registry]]",
        'prefix = "docker.io"',
        'location = "hub.mirror.local"',
        "[[registry.mirror]]",
        'location = "cache.local:5000/hub"',
        "insecure = true",
        "[[registry.mirror]]",
        'location = "tags.local"',
        'pull-from-mirror = "tag-only"',
        "[[registry]]",
        'prefix = "docker.io/team"',
        'location = "internal.example/team-images"',
        "[[registry]]",
        'prefix = "*.corp.example"',
        "blocked = true",
        "[[registry]]",
        'location = "digests.example"',
        "mirror-by-digest-only = true",
        "[[registry.mirror]]",
        'location = "dmirror.example"',
      }, "\n"))
      local D = "@sha256:" .. ("a"):rep(64)
      assert.same({ "cache.local:5000/hub/library/alpine:3 mirror insecure", "tags.local/library/alpine:3 mirror",
        "hub.mirror.local/library/alpine:3" }, eps(cfg, "alpine:3", "pull"))
      assert.same({ "cache.local:5000/hub/library/alpine" .. D .. " mirror insecure", "hub.mirror.local/library/alpine"
        .. D },
        eps(cfg, "alpine" .. D, "pull"))
      assert.same({ "hub.mirror.local/library/alpine:3" }, eps(cfg, "alpine:3", "push"))
      assert.same({ "internal.example/team-images/app:1" }, eps(cfg, "team/app:1", "pull"))
      -- "docker.io/teamwork" is not under "docker.io/team"
      assert.same("cache.local:5000/hub/teamwork/app:1 mirror insecure", eps(cfg, "teamwork/app:1", "pull")[1])
      assert.same({ "git.corp.example/a/b:1 is blocked by registries.conf (F:13)", "BLOCKED" },
        eps(cfg, "git.corp.example/a/b:1", "push"))
      assert.same({ "corp.example/a/b:1" }, eps(cfg, "corp.example/a/b:1", "pull"))
      assert.same({ "digests.example/x:1" }, eps(cfg, "digests.example/x:1", "pull"))
      assert.same({ "dmirror.example/x" .. D .. " mirror", "digests.example/x" .. D }, eps(cfg, "digests.example/x"
        .. D, "pull"))
      assert.same({ "other.example/x:1" }, eps(cfg, "other.example/x:1", "pull"))
    end)

    it("loads the user's file or the system's, or $CONTAINERS_REGISTRIES_CONF, then drop-ins by name", function()
      local d = T.tmpdir(finally)
      local saved = { conf.SYSTEM, conf.SYSTEM_D }
      T.finally(finally, function() conf.SYSTEM, conf.SYSTEM_D = saved[1], saved[2] end)
      conf.SYSTEM, conf.SYSTEM_D = d .. "/etc/registries.conf", d .. "/etc/registries.conf.d"
      local home = d .. "/home"
      local function env(t) return function(k) return t[k] end end
      local reg = '[[registry]]\nlocation = "%s"\ninsecure = %s\n'
      -- nothing at all: nothing configured
      assert.same({ entries = {}, files = {} }, conf.load(env { HOME = home }))
      T.write(conf.SYSTEM, reg:format("sys.example", "false"))
      T.write(conf.SYSTEM_D .. "/20-b.conf", reg:format("b.example", "true"))
      T.write(conf.SYSTEM_D .. "/10-a.conf", reg:format("sys.example", "true"))
      T.write(conf.SYSTEM_D .. "/ignored.txt", "not toml at all [")
      T.write(home .. "/.config/containers/registries.conf.d/30-user.conf", reg:format("u.example", "false"))
      local cfg = assert(conf.load(env { HOME = home }))
      assert.same({ conf.SYSTEM, conf.SYSTEM_D .. "/10-a.conf", conf.SYSTEM_D .. "/20-b.conf",
        home .. "/.config/containers/registries.conf.d/30-user.conf" }, cfg.files)
      local got = {}
      for i, e in ipairs(cfg.entries) do got[i] = ("%s %s %s"):format(e.prefix, tostring(e.insecure), e.at) end
      assert.same({ "sys.example true " .. conf.SYSTEM_D .. "/10-a.conf:1", "b.example true " .. conf.SYSTEM_D
        .. "/20-b.conf:1", "u.example false " .. home .. "/.config/containers/registries.conf.d/30-user.conf:1" }, got)
      -- a user's file replaces the system's, and only the user's drop-ins go with it
      T.write(home .. "/.config/containers/registries.conf", reg:format("mine.example", "false"))
      cfg = assert(conf.load(env { HOME = home }))
      assert.same({ home .. "/.config/containers/registries.conf",
        home .. "/.config/containers/registries.conf.d/30-user.conf" }, cfg.files)
      -- $CONTAINERS_REGISTRIES_CONF must exist; drop-ins keep to containers' rules there too
      local code
      cfg, got, code = conf.load(env { HOME = home, CONTAINERS_REGISTRIES_CONF = d .. "/none.conf" })
      assert.same({ nil, "registries.conf: ENOENT: No such file or directory: " .. d .. "/none.conf", "ENOENT" },
        { cfg, got, code })
      T.write(d .. "/x.conf", '[[registry]]\nlocation = "x.example"\n')
      assert.equal(d .. "/x.conf", assert(conf.load(env { HOME = home, CONTAINERS_REGISTRIES_CONF = d
        .. "/x.conf" })).files[1])
      -- a drop-in in the v1 format, and two settings of one registry that disagree
      T.write(conf.SYSTEM_D .. "/40-v1.conf", "[registries.block]\nregistries = ['z']\n")
      assert.same({ nil, conf.SYSTEM_D .. "/40-v1.conf:1: the v1 format ([registries.*]) cannot be mixed with "
        .. "[[registry]] tables or used in a drop-in", "BADCONF" }, { conf.load(env { HOME = d .. "/nohome" }) })
      T.must("rm " .. T.q(conf.SYSTEM_D .. "/40-v1.conf"))
      T.write(conf.SYSTEM_D .. "/40-dup.conf", '[[registry]]\nprefix = "other/b"\nlocation = "b.example"\n')
      assert.same({ nil, conf.SYSTEM_D .. '/40-dup.conf:1: registry "b.example" is also at ' .. conf.SYSTEM_D
        .. "/20-b.conf:1, with another insecure or blocked setting", "BADCONF" }, { conf.load(env { HOME = d
        .. "/nohome" }) })
    end)
  end)
end)
