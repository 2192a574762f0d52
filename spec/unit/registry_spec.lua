-- The registry client's pure parts: Location resolution, challenges and
-- scopes, base64, where credentials and CA certificates are found, and
-- what login and logout write.
local auth = require "ocibuild.registry.auth"
local base64 = require "ocibuild.registry.base64"
local creds = require "ocibuild.registry.creds"
local client = require "ocibuild.registry.client"
local errors = require "ocibuild.registry.errors"
local retry = require "ocibuild.registry.retry"
local T = require "support"
local trust = require "ocibuild.registry.trust"
local url = require "ocibuild.registry.url"

-- Runs fn with environment variables set (os.getenv is what the modules
-- read, so a child Lua process is used).
local function lua_with_env(env, code)
  local words = { "env" }
  for k, v in pairs(env) do words[#words + 1] = T.q(k .. "=" .. v) end
  local prog = ("package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path; package.cpath = %s .. '/lib/?.so;'" ..
    " .. package.cpath; %s")
    :format(("%q"):format(T.build), code)
  return T.sh(table.concat(words, " ") .. " lua5.4 -e " .. T.q(prog))
end

describe("ocibuild.registry", function()
  describe("url.resolve()", function()
    it("resolves Location values of every form against the request", function()
      local base = "https://reg.example:5000/v2/a/b/blobs/uploads/?mount=x"
      local cases = {
        { "http://other/v2/x?_state=abc", "http://other/v2/x?_state=abc" },
        { "/v2/a/b/blobs/uploads/u1?_state=s%3D", "https://reg.example:5000/v2/a/b/blobs/uploads/u1?_state=s%3D" },
        { "//cdn.example/blob", "https://cdn.example/blob" },
        { "reg.example:5000/v2/a/b/blobs/uploads/u2", "https://reg.example:5000/v2/a/b/blobs/uploads/u2" },
        { "u3?x=1", "https://reg.example:5000/v2/a/b/blobs/uploads/u3?x=1" },
        { "../../x", "https://reg.example:5000/v2/a/b/x" },
        { "?_state=q", "https://reg.example:5000/v2/a/b/blobs/uploads/?_state=q" },
      }
      for _, c in ipairs(cases) do assert.equal(c[2], url.resolve(base, c[1]), c[1]) end
      assert.same({ nil, "empty Location", "BADURL" }, { url.resolve(base, "") })
    end)

    it("adds query parameters after those there, escaped", function()
      assert.equal("http://h/u?_state=a%3D&digest=sha256%3Aab", url.with_query("http://h/u?_state=a%3D", "digest",
        "sha256:ab"))
      assert.equal("http://h/u?digest=x", url.with_query("http://h/u", "digest", "x"))
      assert.equal("http://h/u", url.show("http://h/u?_state=secret"))
      assert.equal("reg.example", url.host("HTTPS://Reg.Example:443/v2/"))
      assert.equal("reg.example:5000", url.host("https://reg.example:5000/v2/"))
    end)
  end)

  describe("auth", function()
    it("reads challenges, with names in any case and commas in quoted values", function()
      local list = auth.challenges('Bearer realm="https://h/v2/token",Service="container_registry",'
        .. 'scope="repository:a/b:push,pull repository:c:pull",error="insufficient_scope", Basic realm="x, y"')
      assert.same({
        { scheme = "bearer", params = { realm = "https://h/v2/token", service = "container_registry",
          scope = "repository:a/b:push,pull repository:c:pull", error = "insufficient_scope" } },
        { scheme = "basic", params = { realm = "x, y" } },
      }, list)
      assert.same({ { scheme = "basic", params = { realm = 'a"b' } } }, auth.challenges('BASIC realm="a\\"b"'))
      assert.same({}, auth.challenges(nil))
    end)

    it("splits scopes on spaces, sorts actions, and asks one parameter per scope", function()
      local set = auth.scopes { "repository:a/b:push,pull repository:h:5000/c:pull" }
      assert.same({ "repository:a/b:pull,push", "repository:h:5000/c:pull" }, auth.scope_strings(set))
      assert.is_true(auth.covers(set, auth.repo_scopes("a/b", "push")))
      assert.is_false(auth.covers(set, auth.repo_scopes("h:5000/c", "push")))
      assert.equal("https://h/t?service=s&scope=repository%3Aa%2Fb%3Apull%2Cpush&scope=repository%3Ac%3Apull"
        .. "&account=me",
        auth.token_url("https://h/t", "s", auth.repo_scopes("a/b", "push", "c"), "me"))
      assert.same({ "tok", 60 }, { auth.read_token('{"access_token":"tok"}') })
      assert.same({ "t1", 300 }, { auth.read_token('{"token":"t1","access_token":"t2","expires_in":300}') })
      assert.is_nil((auth.read_token('{"token":""}')))
    end)

    it("keeps tokens until shortly before they expire", function()
      local cache = auth.cache()
      local push = auth.repo_scopes("a/b", "push")
      cache:put { realm = "r", service = "s", scopes = push, token = "t", expires = 100 }
      assert.equal("t", cache:get("r", "s", auth.repo_scopes("a/b", "pull"), 50).token)
      assert.is_nil(cache:get("r", "s", push, 100))
      assert.is_nil(cache:get("r", "other", push, 50))
      assert.is_nil(cache:get("r", "s", auth.repo_scopes("c", "pull"), 50))
    end)
  end)

  it("base64 round-trips and refuses what is not base64", function()
    for _, s in ipairs { "", "a", "ab", "abc", "giteaAdmin:dev:el:oper", "\0\255\1" } do
      assert.equal(s, base64.decode(base64.encode(s)))
    end
    assert.equal("Z2l0ZWFBZG1pbjpkZXZlbG9wZXI=", base64.encode("giteaAdmin:developer"))
    assert.is_nil((base64.decode("a*b=")))
  end)

  it("reads a registry's JSON error, and nothing else", function()
    assert.same({ "DENIED: requested access to the resource is denied", "DENIED" },
      { errors.registry_error('{"errors":[{"code":"DENIED","message":"requested access to the resource is' ..
        ' denied"}]}') })
    assert.is_nil(errors.registry_error("<html><title>413</title></html>"))
    assert.equal("Connection refused", errors.reason("ECONNREFUSED: Connection refused: http://h:1/v2/"))
    assert.equal("reset (after 2 retries)", errors.reason("ECONNRESET: reset: http://h:1/v2/x?y=1 (after 2 retries)"))
  end)

  describe("retry", function()
    it("retries 408, 429 and 5xx but 501 and 505, resets and timeouts, nothing else", function()
      local got = {}
      for _, s in ipairs { 200, 400, 404, 408, 416, 429, 500, 501, 502, 503, 504, 505 } do
        if retry.retryable({ status = s }) then got[#got + 1] = s end
      end
      assert.same({ 408, 429, 500, 502, 503, 504 }, got)
      for code, want in pairs { ECONNRESET = true, ETIMEDOUT = true, EPIPE = true, ECONNREFUSED = false,
        CORRUPT = false, X509 = false } do
        assert.equal(want, retry.retryable(nil, code), code)
      end
    end)

    it("reads Retry-After as seconds or as an HTTP date", function()
      assert.equal(7, retry.after(" 7 "))
      assert.equal(0, retry.after("0"))
      -- 1994-11-06 08:49:37 UTC is 784111777 s after the epoch
      assert.equal(60, retry.after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 60))
      assert.equal(0, retry.after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 5))
      assert.equal(86400 * 366 + 3600, retry.after("Fri, 01 Mar 2024 01:00:00 GMT", 1677628800))
      for _, bad in ipairs { "", "soon", "-1", "1.5", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Foo 1994 08:49:37 GMT" } do
        assert.is_nil(retry.after(bad), bad)
      end
    end)

    it("refuses limits that are not numbers of the right kind", function()
      for opts, msg in pairs {
        [{ timeout = 0 }] = "registry option timeout must be a number from 1",
        [{ timeout = "60" }] = "registry option timeout must be a number from 1",
        [{ min_speed = 1.5 }] = "registry option min_speed must be an integer from 0",
        [{ speed_time = 0 }] = "registry option speed_time must be an integer from 1",
        [{ retries = -1 }] = "registry option retries must be an integer from 0",
      } do
        assert.same({ nil, msg, "EINVAL" }, { client.new("reg.example", opts) })
      end
    end)
  end)

  describe("creds", function()
    it("finds credentials in the order and by the keys other tools use", function()
      local d = T.tmpdir(finally)
      local auth_of = function(s) return base64.encode(s) end
      T.write(d .. "/docker/config.json", ([[{"auths":{
        "https://reg.example:5000/v1/":{"auth":"%s"},
        "https://index.docker.io/v1/":{"auth":"%s"},
        "plain.example":{"auth":"%s"}}}]]):format(auth_of("dock:pw1"), auth_of("hub:pw2"), auth_of("p:a:b\0")))
      T.write(d .. "/xdg/containers/auth.json", ([[{"auths":{
        "reg.example:5000/team":{"auth":"%s"}}}]]):format(auth_of("team:pw3")))
      local code, out, err = lua_with_env({ DOCKER_CONFIG = d .. "/docker", XDG_RUNTIME_DIR = d .. "/xdg", HOME = d },
        [[
        local c = require "ocibuild.registry.creds"
        local function show(host, path)
          local r, err = c.lookup(host, path)
          io.write(r and (r.username .. "/" .. r.password .. "@" .. r.source:gsub("^%S*/", "")) or tostring(r)
            .. tostring(err or ""), "\n")
        end
        show("reg.example:5000", "team/app")
        show("reg.example:5000", "other/app")
        show("docker.io", "library/ubuntu")
        show("plain.example", "x")
        show("none.example", "x")
        io.write(c.lookup("reg.example:5000", "x", { creds = "u:p:q" }).password, "\n")
      ]])
      assert.equal(0, code, err)
      assert.equal(table.concat({
        "team/pw3@auth.json (auths \"reg.example:5000/team\")",
        "dock/pw1@config.json (auths \"https://reg.example:5000/v1/\")",
        "hub/pw2@config.json (auths \"https://index.docker.io/v1/\")",
        "p/a:b@config.json (auths \"plain.example\")",
        "false",
        "p:q",
      }, "\n") .. "\n", out)
    end)

    it("asks credential helpers through stdin, and says what is wrong with a file", function()
      local d = T.tmpdir(finally)
      -- a helper speaking docker-credential-helpers' protocol
      T.write(d .. "/bin/docker-credential-spec", [[#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
case "$server" in
  reg.example:5000) printf '{"ServerURL":"%s","Username":"helped","Secret":"s3cret"}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
]], tonumber("755", 8))
      T.write(d .. "/docker/config.json", '{"credHelpers":{"reg.example:5000":"spec"},"credsStore":"spec","auths":{}}')
      T.write(d .. "/bad.json", '{"auths": [}')
      local code, out, err = lua_with_env({ DOCKER_CONFIG = d .. "/docker", PATH = d .. "/bin:" .. os.getenv("PATH"),
        HOME = d, XDG_RUNTIME_DIR = d .. "/none" }, ([[
        local c = require "ocibuild.registry.creds"
        local r = c.lookup("reg.example:5000", "a")
        io.write(r.username, " ", r.password, " ", r.source, "\n")
        io.write(tostring(c.lookup("other.example", "a")), "\n")
        io.write(select(2, c.lookup("x.example", "a", { authfile = %q })), "\n")
        io.write(select(2, c.lookup("x.example", "a", { authfile = %q })), "\n")
      ]]):format(d .. "/bad.json", d .. "/missing.json"))
      assert.equal(0, code, err)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.equal("helped s3cret docker-credential-spec", lines[1])
      assert.equal("false", lines[2])
      assert.matches("^credentials file .*/bad%.json: .*invalid JSON", lines[3])
      assert.matches("^cannot read credentials file .*/missing%.json: ENOENT", lines[4])
    end)

    it("login writes a 0600 file others read, keeping what was there; logout removes the entry", function()
      local d = T.tmpdir(finally)
      local file = d .. "/cfg/config.json"
      T.write(file, '{"auths":{"keep.example":{"auth":"a2VlcDpwdw=="}},"psFormat":"table"}')
      assert.equal(file, creds.store("reg.example:5000", { username = "u", password = "p:w" }, { authfile = file }))
      assert.equal("600", T.must("stat -c %a " .. T.q(file)):match("%d+"))
      local doc = T.json(T.read(file))
      assert.equal("table", doc.psFormat)
      assert.equal("a2VlcDpwdw==", doc.auths["keep.example"].auth)
      assert.equal("u:p:w", base64.decode(doc.auths["reg.example:5000"].auth))
      local r = creds.lookup("reg.example:5000", "x", { authfile = file })
      assert.same({ "u", "p:w" }, { r.username, r.password })
      assert.same({ file, true }, { creds.erase("reg.example:5000", { authfile = file }) })
      assert.same({ file, false }, { creds.erase("reg.example:5000", { authfile = file }) })
      assert.is_nil(T.json(T.read(file)).auths["reg.example:5000"])
      assert.equal("a2VlcDpwdw==", T.json(T.read(file)).auths["keep.example"].auth)
      -- a file that is not JSON is never overwritten
      T.write(d .. "/broken.json", "{")
      local ok, err = creds.store("h", { username = "u", password = "p" }, { authfile = d .. "/broken.json" })
      assert.is_nil(ok)
      assert.matches("broken%.json", err)
      assert.equal("{", T.read(d .. "/broken.json"))
    end)
  end)

  describe("trust.options()", function()
    it("takes --insecure, then --ca-file, then certs.d (each with the system's CAs), then SSL_CERT_FILE", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/.config/containers/certs.d/reg.example:5000/ca.crt", "PEM-A\n")
      T.write(d .. "/.config/containers/certs.d/reg.example:5000/more.crt", "PEM-B\n")
      T.write(d .. "/.config/containers/certs.d/reg.example:5000/client.cert", "not a CA\n")
      T.write(d .. "/.config/containers/certs.d/reg.example:5000/client.key", "its key\n")
      T.write(d .. "/.config/containers/certs.d/half.example/me.cert", "a certificate without its key\n")
      T.write(d .. "/ca.pem", "x")
      T.write(d .. "/sys.pem", "SYS\n")
      local code, out, err = lua_with_env({ HOME = d, SSL_CERT_FILE = d .. "/sys.pem" }, ([[
        local t = require "ocibuild.registry.trust"
        local o, why = t.options("reg.example:5000", {})
        io.write(("%%q"):format(o.ca_pem), "\n", why, "\n")
        o, why = t.options("other.example", {})
        io.write(o.ca_file:gsub("^.*/", ""), " ", why:gsub(" .*", ""), "\n")
        o, why = t.options("reg.example:5000", { ca_file = %q })
        io.write(("%%q"):format(o.ca_pem), " ", why:gsub("^%%S+ %%S+", ""), "\n")
        o, why = t.options("reg.example:5000", { insecure = true, ca_file = "x" })
        io.write(tostring(o.insecure), " ", why, "\n")
        io.write(select(2, t.options("a", { ca_file = "/nonexistent.pem" })), "\n")
        o = t.options("reg.example:5000", { insecure = true })
        io.write(o.cert_file:gsub("^.*/", ""), " ", o.key_file:gsub("^.*/", ""), "\n")
        io.write(table.concat({ select(2, t.options("half.example", {})) }, " "), "\n")
      ]]):format(d .. "/ca.pem"))
      assert.equal(0, code, err)
      local dir = d .. "/.config/containers/certs.d/reg.example:5000/"
      assert.equal(table.concat({
        '"SYS\\\n\\\nPEM-A\\\n\\\nPEM-B\\\n"', dir .. "ca.crt, " .. dir .. "more.crt and the system's CAs",
        "sys.pem SSL_CERT_FILE", '"SYS\\\n\\\nx"  and the system\'s CAs', "true --insecure",
        "--ca-file: ENOENT: No such file or directory: /nonexistent.pem", "client.cert client.key",
        d .. "/.config/containers/certs.d/half.example/me.cert has no me.key beside it: a client certificate needs "
          .. "both (PEM) CLIENTCERT" }, "\n") .. "\n", out)
      assert.same({ "/etc/containers/certs.d", os.getenv("HOME") .. "/.config/containers/certs.d",
        "/etc/docker/certs.d" },
        trust.dirs())
    end)
  end)
end)
