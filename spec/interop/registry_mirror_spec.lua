-- registries.conf against real registries: a pull tries the mirrors
-- first and falls back to the location (saying why), a prefix is
-- rewritten to its location, an insecure registry is reached without its
-- CA, a blocked one is refused with one line before any traffic, and a
-- mistake in the file names FILE:LINE.
local R = require "support.registry"
local T = require "support"

describe("registries.conf", function()
  local main, mirror, tls, why, base

  setup(function()
    local ok
    ok, why = R.available { tls = true }
    if ok then
      main, mirror, tls = R.start {}, R.start {}, R.start { tls = true }
    end
    base = T.tmpdir()
  end)

  teardown(function()
    for _, reg in ipairs { main, mirror, tls } do reg.stop() end
    if base then T.sh("rm -rf " .. T.q(base)) end
  end)

  -- ocibuild with the given registries.conf (and a HOME of its own).
  local function ocb(conf_text, ...)
    local words = {}
    for i, a in ipairs { ... } do words[i] = T.q(a) end
    T.write(base .. "/registries.conf", conf_text)
    return T.sh(("env HOME=%s CONTAINERS_REGISTRIES_CONF=%s %s %s"):format(T.q(base .. "/home"),
      T.q(base .. "/registries.conf"), T.q(T.bin), table.concat(words, " ")))
  end

  local function build(dir, tag)
    T.write(dir .. "/ctx/hello.txt", "hello from " .. dir .. "\n")
    local code, out, err = T.ocibuild("--store", dir .. "/store", "build", dir .. "/ctx", "-t", tag)
    assert(code == 0, out .. err)
    return T.image(dir .. "/store", tag).desc.digest
  end

  local function gets(reg, path)
    local n = 0
    for _, r in ipairs(reg.requests()) do
      if r.method == "GET" and r.path == path then n = n + 1 end
    end
    return n
  end

  it("pulls from a mirror first, and from the registry when the mirror fails, saying why", function()
    if not main then return pending(why) end
    local one = build(base .. "/one", "one:1")
    assert.equal(0, (T.ocibuild("--store", base .. "/one/store", "push", "one:1", main.host .. "/team/app:1")))
    local conf = ('[[registry]]\nlocation = "%s"\n[[registry.mirror]]\nlocation = "%s"\n'):format(main.host,
      mirror.host)
    -- the mirror has no such image: the registry's is pulled
    local code, out, err = ocb(conf, "--store", base .. "/a", "pull", main.host .. "/team/app:1")
    assert.equal(0, code, out .. err)
    assert.matches(("^ocibuild: warning: mirror %s of %s failed, trying %s: %s has no image %s/team/app:1"):format(
      mirror.host, main.host, main.host, mirror.host, mirror.host):gsub("%.", "%%."), err)
    assert.equal(1, gets(mirror, "/v2/team/app/manifests/1"))
    assert.equal(one, T.image(base .. "/a", main.host .. "/team/app:1").desc.digest)

    -- the mirror has one: it is taken, and tagged by the name asked for
    local two = build(base .. "/two", "two:1")
    assert.equal(0, (T.ocibuild("--store", base .. "/two/store", "push", "two:1", mirror.host .. "/team/app:1")))
    local before = gets(main, "/v2/team/app/manifests/1")
    code, out, err = ocb(conf, "--store", base .. "/b", "pull", main.host .. "/team/app:1")
    assert.same({ 0, "" }, { code, err })
    assert.equal(main.host .. "/team/app@" .. two .. "\n", out:match("[^\n]*\n$"))
    assert.equal(two, T.image(base .. "/b", main.host .. "/team/app:1").desc.digest)
    assert.equal(before, gets(main, "/v2/team/app/manifests/1"))

    -- a mirror that is down
    conf = ('[[registry]]\nlocation = "%s"\n[[registry.mirror]]\nlocation = "127.0.0.1:1"\n'):format(main.host)
    code, out, err = ocb(conf, "--store", base .. "/c", "pull", main.host .. "/team/app:1")
    assert.equal(0, code, out .. err)
    assert.matches("^ocibuild: warning: mirror 127%.0%.0%.1:1 of [^\n]*: cannot connect to 127%.0%.0%.1:1: connection "
      .. "refused", err)
    assert.equal(one, T.image(base .. "/c", main.host .. "/team/app:1").desc.digest)
  end)

  it("rewrites a prefix to its location, and reaches an insecure registry without its CA", function()
    if not main then return pending(why) end
    local one = build(base .. "/pre", "pre:1")
    assert.equal(0, (T.ocibuild("--store", base .. "/pre/store", "push", "pre:1", main.host .. "/internal/team/app:1")))
    local conf = ('[[registry]]\nprefix = "images.example/team"\nlocation = "%s/internal/team"\n'):format(main.host)
    local code, out, err = ocb(conf, "--store", base .. "/pre/into", "pull", "images.example/team/app:1")
    assert.equal(0, code, out .. err)
    assert.equal(one, T.image(base .. "/pre/into", "images.example/team/app:1").desc.digest)

    -- TLS with a CA nobody passed: refused, unless registries.conf calls it insecure
    code, out, err = ocb("", "--store", base .. "/pre/store", "push", "pre:1", tls.host .. "/team/app:1")
    assert.same({ 1, "" }, { code, out })
    assert.matches("certificate is not trusted", err)
    conf = ('[[registry]]\nlocation = "%s"\ninsecure = true\n'):format(tls.host)
    code, out, err = ocb(conf, "--store", base .. "/pre/store", "push", "pre:1", tls.host .. "/team/app:1")
    assert.equal(0, code, out .. err)
    code, out, err = ocb(conf, "--store", base .. "/pre/tls", "pull", tls.host .. "/team/app:1")
    assert.equal(0, code, out .. err)
  end)

  it("refuses a blocked registry in one line, before any traffic; names a mistake by FILE:LINE", function()
    if not main then return pending(why) end
    build(base .. "/blk", "blk:1")
    local conf = ('# ours\n[[registry]]\nlocation = "%s"\nblocked = true\n'):format(main.host)
    local n0 = #main.requests()
    local code, out, err = ocb(conf, "--store", base .. "/blk/store", "push", "blk:1", main.host .. "/team/app:1")
    assert.same({ 1, "", ("ocibuild: %s/team/app:1 is blocked by registries.conf (%s/registries.conf:2)\n")
      :format(main.host, base) }, { code, out, err })
    code, out, err = ocb(conf, "--store", base .. "/blk/into", "pull", main.host .. "/team/app:1")
    assert.same({ 1, "", ("ocibuild: %s/team/app:1 is blocked by registries.conf (%s/registries.conf:2)\n")
      :format(main.host, base) }, { code, out, err })
    assert.equal(n0, #main.requests())

    code, out, err = ocb('[[registry]]\nlocation = "x.example"\nblock = true\n', "--store", base .. "/blk/into",
      "pull", main.host .. "/team/app:1")
    assert.same({ 1, "", ('ocibuild: %s/registries.conf:3: unknown key "block" in [[registry]] (ocibuild reads '
      .. "blocked, insecure, location, mirror, mirror-by-digest-only, prefix)\n"):format(base) }, { code, out, err })
  end)
end)
