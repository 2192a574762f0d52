-- What a sandboxed build script reaches beyond its folder: only what the
-- user names. A registry (bases pulled, images pushed, with the user's
-- credentials) needs --allow-registry, refused before any request; an
-- image of the store as a base needs --allow-image, unless the script
-- saved it; its registry options name files in its folder only; its
-- os.getenv sees only --env. oci.run takes the same lists in opts.
local T = require "support"
local R = require "support.registry"

local HINT = "(use --unsafe to allow)"

local function project(finally)
  return T.script_project(finally, { ["outside/secret/index.html"] = "private\n" })
end

local run = T.run_script

-- The script's line fails with exactly `why`, exit 1.
local function fails(p, text, line, why, ...)
  local code, out, err = run(p, text, ...)
  assert.equal(1, code, out .. err)
  assert.equal(("ocibuild: %s/build.lua:%d: %s\n"):format(p.proj, line, why), err)
end

local function no_registry(what, host)
  return ("%s: a build script reaches only the registries the user names (--allow-registry %s allows it)")
    :format(what, host)
end

local function no_image(s)
  return ("base image %s is in the store: a build script uses only the images it saved and those the user "
    .. "names (--allow-image %s allows it)"):format(s, s)
end

-- Whether the store of p tags ref.
local function has(p, ref)
  return (pcall(T.image, p.store, ref))
end

-- The user's own image victim:1, built outside the project.
local function victim(p)
  local code, out, err = T.ocibuild("--store", p.store, "build", p.outside .. "/secret", "-t", "victim:1", "-q")
  assert.equal(0, code, out .. err)
  return T.image(p.store, "victim:1")
end

describe("ocibuild run (what a sandboxed script reaches)", function()
  describe("images of the store", function()
    it("builds on victim:1 only when --allow-image names it, by tag, digest or ID", function()
      local p = project(finally)
      local v = victim(p)
      local id = v.manifest.config.digest:sub(8, 19)
      for _, from in ipairs { "victim:1", "docker.io/library/victim:1", v.desc.digest, id } do
        fails(p, ("local x\nreturn oci.image { from = %q }:save { tag = \"stolen:1\" }\n"):format(from), 2,
          no_image(from))
      end
      assert.is_false(has(p, "stolen:1"))
      for _, from in ipairs { "victim:1", v.desc.digest, id } do
        local code, out, err = run(p, ("local img = oci.image { from = %q }\n"
          .. "img:file { path = \"/a\", content = \"a\" }\n"
          .. "return img:save { tag = \"allowed:1\" }\n"):format(from), "--allow-image", "victim:1")
        assert.equal(0, code, out .. err)
        assert.equal(v.manifest.layers[1].digest, T.image(p.store, "allowed:1").manifest.layers[1].digest)
      end
      -- oci.build and an index go the same way
      fails(p, 'local x\noci.build { context = "site", from = "victim:1", tag = "b:1" }\n', 2, no_image("victim:1"))
      fails(p, 'local x\nreturn oci.index { oci.image { from = "victim:1" } }:save { tag = "i:1" }\n', 2,
        no_image("victim:1"))
    end)

    it("builds freely on what it saved itself in this run, and on nothing another run saved", function()
      local p = project(finally)
      local code, out, err = run(p, [[
local base = oci.image {}
base:layer { context = "site" }
local b = base:save { tag = "base:1" }
local top = oci.image { from = "base:1" }
top:file { path = "/top", content = "top\n" }
top:save { tag = "top:1" }
local again = oci.image { from = b.image_id:sub(8, 20) }
again:file { path = "/again", content = "again\n" }
again:save { tag = "top:2" }
return oci.image { from = b.digest }:save { tag = "top:3" }
]])
      assert.equal(0, code, out .. err)
      assert.is_true(has(p, "top:3"))
      -- a later run did not save base:1
      fails(p, 'local x\nreturn oci.image { from = "base:1" }:save { tag = "top:4" }\n', 2, no_image("base:1"))
    end)

    it("builds freely on the images of a store in its own folder", function()
      local p = project(finally)
      local code, out, err = run(p, 'return oci.image { store = "own" }:save { tag = "mine:1" }\n')
      assert.equal(0, code, out .. err)
      code, out, err = run(p, 'local img = oci.image { store = "own", from = "mine:1" }\n'
        .. 'img:file { path = "/f", content = "f" }\nreturn img:save { tag = "mine:2" }\n')
      assert.equal(0, code, out .. err)
      assert.equal(1, #T.image(p.proj .. "/own", "mine:2").manifest.layers)
    end)
  end)

  describe("registries", function()
    local reg, why

    R.serve({ auth = "basic" }, function(r, w) reg, why = r, w end)

    it("a push or a base elsewhere is refused before any request; --allow-registry allows it", function()
      if not reg then return pending(why) end
      local p = project(finally)
      local v = victim(p)
      local creds = "giteaAdmin:developer"
      -- the user's private image, in the registry
      local code, out, err = T.ocibuild("--store", p.store, "push", "victim:1", reg.host .. "/team/private:1",
        "--creds", creds)
      assert.equal(0, code, out .. err)
      local n0 = #reg.requests()
      local steal = ([[
local img = oci.image { from = %q }
img:labels { stolen = os.getenv("HOME") or "none" }
return img:save { tag = "loot:1", push = %q }
]]):format(reg.host .. "/team/private:1", reg.host .. "/attacker/loot:1")
      fails(p, "local x\n" .. steal, 4, no_registry("push to " .. reg.host .. "/attacker/loot:1", reg.host),
        "--creds", creds)
      fails(p, 'local x\nreturn oci.build { context = "site", push = "' .. reg.host .. '/a/b:1" }\n', 2,
        no_registry("push to " .. reg.host .. "/a/b:1", reg.host), "--creds", creds)
      fails(p, ('local x\nreturn oci.image { from = "%s/team/private:1" }:save { tag = "l:1" }\n'):format(reg.host), 2,
        no_registry("base image " .. reg.host .. "/team/private:1", reg.host), "--creds", creds)
      fails(p, ('local x\nreturn oci.image { from = "docker://%s/team/private:1" }:save {}\n'):format(reg.host), 2,
        no_registry("base image " .. reg.host .. "/team/private:1", reg.host), "--creds", creds)
      fails(p, 'local x\nreturn oci.image { from = "alpine:3" }:save {}\n', 2,
        no_registry("base image alpine:3", "docker.io"))
      -- another registry allowed does not allow this one
      fails(p, "local x\n" .. steal, 4, no_registry("push to " .. reg.host .. "/attacker/loot:1", reg.host),
        "--creds", creds, "--allow-registry", "registry.example.com:5000")
      assert.equal(n0, #reg.requests())
      assert.is_false(has(p, "loot:1"))

      -- allowed: the script pulls and pushes with the user's credentials
      code, out, err = run(p, steal:gsub("attacker/loot", "team/app"), "--creds", creds,
        "--allow-registry", reg.host)
      assert.equal(0, code, out .. err)
      local app = T.image(p.store, "loot:1")
      assert.equal(v.manifest.layers[1].digest, app.manifest.layers[1].digest)
      assert.equal("none", app.config.config.Labels.stolen)
      assert.truthy(out:find("pushed:   " .. reg.host .. "/team/app@" .. app.desc.digest, 1, true), out)
      -- an image the registry holds is pulled again, not taken from the store
      code, out, err = run(p, ('return oci.image { from = "%s/team/private:1" }:save { tag = "again:1" }\n')
        :format(reg.host), "--creds", creds, "--allow-registry", reg.host:upper())
      assert.equal(0, code, out .. err)
    end)
  end)

  describe("registry options", function()
    it("name a credentials file or a CA in the script's folder only; literal creds are the script's", function()
      local p = project(finally)
      T.write(p.outside .. "/auth.json", '{"auths":{}}\n')
      local out_auth = p.outside .. "/auth.json"
      local function outside(what, at)
        return ("%s %s is outside the build script's folder %s: a build script reads and writes only there %s")
          :format(what, at, p.proj, HINT)
      end
      for _, c in ipairs {
        { 'oci.image {}:save { tag = "x:1", registry = { authfile = "../outside/auth.json" } }', "authfile" },
        { 'oci.image {}:save { tag = "x:1", registry = { ca_file = "../outside/auth.json" } }', "ca_file" },
        { 'oci.build { context = "site", registry = { authfile = "../outside/auth.json" } }', "authfile" },
        { 'oci.index { oci.image {} }:save { registry = { ca_file = "../outside/auth.json" } }', "ca_file" },
      } do
        fails(p, "local x\n" .. c[1] .. "\n", 2, outside(c[2], out_auth))
      end
      -- nor turn off TLS or its checks for the user's credentials
      for _, k in ipairs { "insecure", "plain_http" } do
        fails(p, ('local x\noci.image {}:save { tag = "x:1", registry = { %s = true } }\n'):format(k), 2,
          ("registry.%s: a build script cannot turn off TLS or its checks for the user's credentials "
            .. "(the command line's --%s can)"):format(k, k:gsub("_", "-")))
      end
      T.write(p.proj .. "/auth.json", '{"auths":{}}\n')
      local code, out, err = run(p, 'return oci.image {}:save { tag = "x:1", registry = { authfile = "auth.json", '
        .. 'creds = "me:mine" } }\n')
      assert.equal(0, code, out .. err)
    end)
  end)

  describe("a Dockerfile's ADD of a URL", function()
    it("fetches only from a host --allow-registry names, refused before any request", function()
      local p = project(finally)
      -- a port nothing listens on: a request would fail otherwise
      T.write(p.proj .. "/Dockerfile", "FROM scratch\nADD --checksum=sha256:" .. ("0"):rep(64)
        .. " http://127.0.0.1:9/f /f\n")
      local script = 'local x\nreturn oci.dockerfile { file = "Dockerfile", context = "." }:save { tag = "u:1" }\n'
      local code, out, err = run(p, script)
      assert.equal(1, code, out .. err)
      assert.truthy(err:find("ADD http://127.0.0.1:9/f: a build script fetches only from the hosts the user names "
        .. "(--allow-registry 127.0.0.1:9 allows it)", 1, true), err)
      code, out, err = run(p, script, "--allow-registry", "127.0.0.1:9")
      assert.equal(1, code, out .. err)
      assert.falsy(err:find("fetches only from", 1, true), err)
    end)
  end)

  describe("os.getenv", function()
    it("sees only the variables --env passes", function()
      local p = project(finally)
      T.write(p.proj .. "/build.lua", 'print(os.getenv("SECRET_TOKEN"), os.getenv("HOME"), os.getenv("GIVEN"), '
        .. 'os.getenv("SET"), os.getenv("UNSET_HERE"))\nprint(pcall(os.getenv))\n')
      local code, out, err = T.sh(("SECRET_TOKEN=s3cr3t GIVEN=from-env %s run %s --env GIVEN --env SET=x=y "
        .. "--env UNSET_HERE"):format(T.q(T.bin), T.q(p.proj .. "/build.lua")))
      assert.equal(0, code, err)
      assert.equal("nil\tnil\tfrom-env\tx=y\tnil\n"
        .. "false\tbad argument #1 to 'getenv' (string expected, got nil)\n", out)
    end)
  end)

  describe("flags and opts", function()
    it("a bad entry is a usage error; --unsafe takes none of them", function()
      local p = project(finally)
      T.write(p.proj .. "/build.lua", "print(1)\n")
      for _, c in ipairs {
        { { "--allow-registry", "https://reg.example.com" },
          '--allow-registry needs a registry as HOST[:PORT], got "https://reg.example.com"' },
        { { "--allow-registry", "reg.example.com/team" },
          '--allow-registry needs a registry as HOST[:PORT], got "reg.example.com/team"' },
        { { "--allow-registry", "alpine" }, '--allow-registry needs a registry as HOST[:PORT], got "alpine"' },
        { { "--allow-image", "Not A Ref" },
          '--allow-image needs an image of the store (a tag, digest or ID), got "Not A Ref"' },
        { { "--env", "1X=2" }, '--env needs NAME or NAME=VALUE, got "1X=2"' },
        { { "--unsafe", "--env", "HOME" },
          "--unsafe gives a script everything: --allow-registry, --allow-image and --env are for sandboxed scripts" },
      } do
        local words = { "run", p.proj .. "/build.lua" }
        for _, w in ipairs(c[1]) do words[#words + 1] = w end
        local code, out, err = T.ocibuild(table.unpack(words))
        assert.same({ 2, "", ("ocibuild: %s (see 'ocibuild run --help')\n"):format(c[2]) }, { code, out, err })
      end
    end)

    it("oci.run from Lua: the same lists in opts", function()
      local p = project(finally)
      local v = victim(p)
      local oci = require "ocibuild"
      T.write(p.proj .. "/b.lua", 'local r = oci.image { from = "victim:1" }:save { tag = "y:1" }\n'
        .. 'return r.digest .. " " .. tostring(os.getenv("GIVEN"))\n')
      local ok, err = pcall(oci.run, p.proj .. "/b.lua", {}, { store = p.store })
      assert.is_false(ok)
      assert.equal(p.proj .. "/b.lua:1: " .. no_image("victim:1"), err)
      local r = oci.run(p.proj .. "/b.lua", {}, { store = p.store, allow_image = { "victim:1" }, env = { "GIVEN=g" } })
      assert.equal(T.image(p.store, "y:1").desc.digest .. " g", r)
      assert.is_table(v)
      ok, err = pcall(oci.run, p.proj .. "/b.lua", {}, { store = p.store, allow_registry = { "a/b" } })
      assert.is_false(ok)
      assert.equal('allow_registry[1]: --allow-registry needs a registry as HOST[:PORT], got "a/b"', err)
    end)
  end)
end)
