local ref = require "ocibuild.oci.ref"

local H64 = ("a"):rep(64)

describe("ocibuild.oci.ref", function()
  describe("parse()", function()
    it("normalizes as Docker does", function()
      local cases = {
        { "ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest" },
        { "index.docker.io/ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest" },
        { "docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu:22.04", "ubuntu:22.04" },
        { "myhost/app", "docker.io/myhost/app:latest", "myhost/app:latest" },
        { "localhost/app:1", "localhost/app:1", "localhost/app:1" },
        { "localhost:5000/app:1", "localhost:5000/app:1", "localhost:5000/app:1" },
        { "Registry.Example.com:5000/team/app:v1", "Registry.Example.com:5000/team/app:v1",
          "Registry.Example.com:5000/team/app:v1" },
        { "gitea.cnoe.localtest.me:8443/giteaadmin/site:dev",
          "gitea.cnoe.localtest.me:8443/giteaadmin/site:dev", "gitea.cnoe.localtest.me:8443/giteaadmin/site:dev" },
        { "site:V1", "docker.io/library/site:V1", "site:V1" },
        { "a--b/c__d/e.f_g-h", "docker.io/a--b/c__d/e.f_g-h:latest", "a--b/c__d/e.f_g-h:latest" },
        { "app:1@sha256:" .. H64, "docker.io/library/app:1@sha256:" .. H64, "app:1@sha256:" .. H64 },
        { "app:" .. ("t"):rep(128), "docker.io/library/app:" .. ("t"):rep(128), "app:" .. ("t"):rep(128) },
      }
      for _, c in ipairs(cases) do
        local r, err = ref.parse(c[1])
        assert.is_nil(err, c[1])
        assert.equal(c[2], r.normalized, c[1])
        assert.equal(c[3], r.familiar, c[1])
      end
    end)

    it("splits domain, path and tag", function()
      local r = assert(ref.parse("localhost:5000/team/app:v2"))
      assert.same({ "localhost:5000", "team/app", "v2" }, { r.domain, r.path, r.tag })
    end)

    it("rejects what the grammar rejects, quoting the rule", function()
      local cases = {
        { "registry.example.com/Team/app", "must be lowercase" },
        { "Ubuntu", "must be lowercase" },
        { "app:-bad", "tag must match" },
        { "app:.bad", "tag must match" },
        { "app:" .. ("t"):rep(129), "tag must match" },
        { "a___b", "bad repository name component" },
        { "a-/b", "bad repository name component" },
        { "my_host:5000/app", "bad registry host" },
        { "app@sha256:" .. ("A"):rep(64), "invalid checksum digest format" },
        { H64, "64-character hexadecimal" },
        { "", "empty reference" },
        { "app:", "tag must match" },
        { "/app", "bad repository name component" },
        { ("a"):rep(256), "longer than 255" },
      }
      for _, c in ipairs(cases) do
        local r, err = ref.parse(c[1])
        assert.is_nil(r, c[1])
        assert.truthy(err:find(c[2], 1, true), err)
        assert.truthy(err:find("invalid reference", 1, true), err)
      end
    end)

    -- found by fuzz/ref.lua: the familiar form must parse back to the same
    -- reference (docker.io/library/a/b is not docker.io/a/b; docker.io/a.b/c
    -- would read as the registry a.b)
    it("gives a familiar form that parses back to the same reference", function()
      for _, c in ipairs {
        { "docker.io/library/a/b:1", "library/a/b:1" },
        { "docker.io/a.b/c:1", "docker.io/a.b/c:1" },
        { "docker.io/library/a.b/c", "library/a.b/c:latest" },
        { "docker.io/localhost/c", "docker.io/localhost/c:latest" },
        { "docker.io/library/ubuntu", "ubuntu:latest" },
        { "docker.io/team/app", "team/app:latest" },
      } do
        local r = assert(ref.parse(c[1]))
        assert.equal(c[2], r.familiar)
        assert.equal(r.normalized, assert(ref.parse(r.familiar)).normalized)
      end
    end)

    -- found by fuzz/ref.lua: %q breaks a line after a backslash
    it("quotes a reference holding a newline on one line", function()
      for _, s in ipairs { "\0\0\0\0\n\0\0\0", "a\nb", "Host.io/A\nB:1", "x/a\n/b" } do
        local r, err = ref.parse(s)
        assert.is_nil(r)
        assert.is_nil(err:find("\n", 1, true), err)
        assert.truthy(err:find("\\n", 1, true), err)
      end
    end)
  end)
end)
