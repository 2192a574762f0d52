-- Credentials and trust against real registries: docker-registry over TLS
-- with htpasswd Basic auth, and behind nginx with a Gitea-shaped token
-- server. Untrusted certificates, wrong passwords, missing access,
-- credentials from files other tools write, login/logout, and no secret
-- in anything printed.
local R = require "support.registry"
local T = require "support"

local PASSWORD = "developer"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

-- Runs ocibuild with env (a table) and words; stdin from `input` when
-- given. Returns code, out, err; every output is kept in `seen`.
local function runner(seen)
  return function(env, input, ...)
    local words = { "env -u SSL_CERT_FILE -u REGISTRY_AUTH_FILE -u XDG_RUNTIME_DIR -u DOCKER_CONFIG" }
    for k, v in pairs(env or {}) do words[#words + 1] = T.q(k .. "=" .. v) end
    words[#words + 1] = T.q(T.bin)
    for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
    local cmd = table.concat(words, " ")
    if input then cmd = ("printf '%%s\\n' %s | %s"):format(T.q(input), cmd) end
    local code, out, err = T.sh(cmd)
    seen[#seen + 1] = out .. err
    return code, out, err
  end
end

local function no_secret(seen)
  for _, s in ipairs(seen) do assert.falsy(s:find(PASSWORD, 1, true), s) end
end

local function build(dir, store, tag)
  T.write(dir .. "/ctx/hello.txt", "hello from " .. dir .. "\n")
  T.built(store, dir .. "/ctx", "-t", tag)
  return T.image(store, tag)
end

describe("registry credentials and trust", function()
  describe("TLS with Basic auth", function()
    local reg, why, base

    R.serve({ tls = true, auth = "basic" }, function(r, w, b) reg, why, base = r, w, b end)

    it("an untrusted certificate names its issuer and the three fixes, which each work", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/x509", base .. "/x509/store"
      build(d, store, "app:v1")
      local dest = reg.host .. "/giteaadmin/app:v1"
      local env = { HOME = d }
      local code, out, err = run(env, nil, "--store", store, "push", "app:v1", dest, "--creds", "giteaAdmin:"
        .. PASSWORD)
      assert.equal(1, code, out)
      local ca = T.must("openssl x509 -noout -subject -nameopt oneline -in " .. T.q(reg.ca)):match("subject=(.-)%s*$")
      assert.equal(("ocibuild: %s's certificate is not trusted (issued by %q) (checked against the system's CA store: "
        .. "SSL certificate problem: unable to get local issuer certificate): pass --ca-file FILE, or put the CA into "
        .. "/etc/containers/certs.d/%s/ca.crt, or use --insecure\n"):format(reg.host, ca, reg.host), err)

      code, out, err = run(env, nil, "--store", store, "push", "app:v1", dest, "--creds", "giteaAdmin:" .. PASSWORD,
        "--ca-file", reg.ca)
      assert.equal(0, code, out .. err)
      T.write(d .. "/.config/containers/certs.d/" .. reg.host .. "/ca.crt", T.read(reg.ca))
      code, out, err = run(env, nil, "--store", store, "push", "app:v1", dest, "--creds", "giteaAdmin:" .. PASSWORD)
      assert.equal(0, code, out .. err)
      code, out, err = run({ HOME = d .. "/elsewhere" }, nil, "--store", store, "push", "app:v1", dest,
        "--creds", "giteaAdmin:" .. PASSWORD, "--insecure")
      assert.equal(0, code, out .. err)
      assert.matches("exists ", out)
      code, out, err = run(env, nil, "--store", store, "push", "app:v1", dest, "--plain-http")
      assert.same({ 1, "", ("ocibuild: %s speaks HTTPS, not plain HTTP: drop --plain-http\n"):format(reg.host) },
        { code, out, err })
      no_secret(seen)
    end)

    it("a wrong password or none: one line naming user, host and the fix", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/pw", base .. "/pw/store"
      build(d, store, "app:v1")
      local dest = reg.host .. "/giteaadmin/app:v1"
      local code, out, err = run({ HOME = d }, nil, "--store", store, "push", "app:v1", dest, "--ca-file", reg.ca,
        "--creds", "giteaAdmin:not-" .. PASSWORD .. "-x")
      assert.same({ 1, "", ('ocibuild: authentication failed for "giteaAdmin" at %s (credentials from --creds): '
        .. "check them, or run 'ocibuild login %s' (or pass --creds or --authfile)\n"):format(reg.host, reg.host) },
        { code, out, err })
      code, out, err = run({ HOME = d }, nil, "--store", store, "push", "app:v1", dest, "--ca-file", reg.ca)
      assert.same({ 1, "", ("ocibuild: %s wants credentials for giteaadmin/app and none were found: run 'ocibuild "
        .. "login %s' (or pass --creds or --authfile)\n"):format(reg.host, reg.host) }, { code, out, err })
      no_secret(seen)
    end)

    it("login at a terminal asks for the user and the password, which is never echoed", function()
      if not reg then return pending(why) end
      local d = base .. "/prompt"
      T.must("mkdir -p " .. T.q(d))
      -- a shell on a terminal runs login, then shows the terminal's settings (echo restored); a Ctrl-C
      -- goes to the shell too, which goes on (its trap is not inherited)
      local function at_terminal(sends, ...)
        local words = {}
        for i, w in ipairs { T.bin, ... } do words[i] = T.q(w) end
        local argv = { "/usr/bin/python3", T.root .. "/spec/support/ontty.py", "100" }
        for _, s in ipairs(sends) do
          argv[#argv + 1], argv[#argv + 2], argv[#argv + 3] = "--send", s[1], s[2]
        end
        argv[#argv + 1], argv[#argv + 2], argv[#argv + 3] = "--", "/bin/bash", "-c"
        argv[#argv + 1] = "trap true INT; " .. table.concat(words, " ") .. "; echo rc=$?; stty -a"
        for i, w in ipairs(argv) do argv[i] = T.q(w) end
        local code, raw = T.sh(("env HOME=%s %s"):format(T.q(d), table.concat(argv, " ")))
        assert.equal(0, code, raw)
        local rc = tonumber(raw:match("rc=(%d+)"))
        local settings = raw:match("rc=%d+(.*)$")
        assert.truthy(settings:find("%secho%s"), settings) -- not -echo
        return rc, raw:match("^(.-)rc=%d+")
      end
      local file = d .. "/auth.json"
      local rc, shown = at_terminal({ { "Username: ", "giteaAdmin\n" }, { "Password: ", PASSWORD .. "\n" } },
        "login", reg.host, "--ca-file", reg.ca, "--authfile", file)
      assert.equal(0, rc, shown)
      assert.equal(("Username: giteaAdmin\r\nPassword: \r\nlogged in to %s as giteaAdmin (credentials in %s)\r\n")
        :format(reg.host, file), shown)
      assert.truthy(T.read(file):find(T.must("printf %s " .. T.q("giteaAdmin:" .. PASSWORD) .. " | base64 -w0"), 1,
        true))
      -- with -u, the password only; a wrong one says so, without sending you to the command you ran
      rc, shown = at_terminal({ { "Password: ", "not-it\n" } }, "login", reg.host, "-u", "giteaAdmin",
        "--ca-file", reg.ca, "--authfile", d .. "/other.json")
      assert.equal(1, rc, shown)
      assert.equal(("Password: \r\nocibuild: authentication failed for \"giteaAdmin\" at %s: the user name or the "
        .. "password is wrong\r\n"):format(reg.host), shown)
      assert.is_false(T.exists(d .. "/other.json"))
      -- Ctrl-C at the prompt: gone, and the terminal echoes again (checked in at_terminal)
      rc, shown = at_terminal({ { "Password: ", "\3" } }, "login", reg.host, "-u", "giteaAdmin", "--ca-file", reg.ca)
      assert.equal(130, rc, shown)
      -- not at a terminal: a usage error saying what to do
      local code, out, err = T.sh(("%s login %s -u giteaAdmin < /dev/null"):format(T.q(T.bin), T.q(reg.host)))
      assert.same({ 2, "", "ocibuild: login needs --password-stdin or --creds when standard input is not a "
        .. "terminal (see 'ocibuild login --help')\n" }, { code, out, err })
    end)

    it("takes credentials from a docker config.json, and a password from stdin", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/cfg", base .. "/cfg/store"
      build(d, store, "app:v1")
      local b64 = T.must("printf %s " .. T.q("giteaAdmin:" .. PASSWORD) .. " | base64 -w0")
      T.write(d .. "/docker/config.json", ('{"auths":{"https://%s":{"auth":"%s"}}}'):format(reg.host, b64))
      local code, out, err = run({ HOME = d, DOCKER_CONFIG = d .. "/docker" }, nil, "--store", store, "push",
        "app:v1", reg.host .. "/giteaadmin/cfg:v1", "--ca-file", reg.ca)
      assert.equal(0, code, out .. err)
      code, out, err = run({ HOME = d }, PASSWORD, "--store", store, "push", "app:v1", reg.host
        .. "/giteaadmin/stdin:v1",
        "--ca-file", reg.ca, "-u", "giteaAdmin", "--password-stdin")
      assert.equal(0, code, out .. err)
      code, out, err = run({ HOME = d }, nil, "--store", store, "push", "app:v1", reg.host .. "/giteaadmin/stdin:v1",
        "-u", "giteaAdmin")
      assert.same({ 2, "", "ocibuild: --username needs --password-stdin (a password is never an argument) "
        .. "(see 'ocibuild push --help')\n" }, { code, out, err })
      no_secret(seen)
    end)

    it("login checks and stores credentials skopeo reads; logout forgets them", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/login", base .. "/login/store"
      build(d, store, "app:v1")
      local env = { HOME = d, DOCKER_CONFIG = d .. "/docker" }
      local file = d .. "/docker/config.json"
      local code, out, err = run(env, "wrong", "login", reg.host, "-u", "giteaAdmin", "--password-stdin", "--ca-file",
        reg.ca)
      assert.equal(1, code, out)
      assert.matches("authentication failed for \"giteaAdmin\" at " .. reg.host:gsub("%.", "%%."), err)
      assert.is_false(T.exists(file))

      code, out, err = run(env, PASSWORD, "login", "https://" .. reg.host .. "/", "-u", "giteaAdmin",
        "--password-stdin",
        "--ca-file", reg.ca)
      assert.same({ 0, ("logged in to %s as giteaAdmin (credentials in %s)\n"):format(reg.host, file), "" }, { code,
        out, err })
      assert.equal("600", T.must("stat -c %a " .. T.q(file)):match("%d+"))
      code, out, err = run(env, nil, "--store", store, "push", "app:v1", reg.host .. "/giteaadmin/login:v1",
        "--ca-file", reg.ca)
      assert.equal(0, code, out .. err)
      if have("skopeo") then
        local scode, sout, serr = T.sh(("skopeo inspect --authfile %s --cert-dir %s %s"):format(T.q(file),
          T.q(reg.cert_dir), T.q("docker://" .. reg.host .. "/giteaadmin/login:v1")))
        assert.equal(0, scode, sout .. serr)
      end

      code, out = run(env, nil, "logout", reg.host)
      assert.same({ 0, ("logged out of %s (%s)\n"):format(reg.host, file) }, { code, out })
      assert.is_nil(T.json(T.read(file)).auths[reg.host])
      code, out = run(env, nil, "logout", reg.host)
      assert.same({ 0, ("not logged in to %s (%s)\n"):format(reg.host, file) }, { code, out })
      local _
      code, _, err = run(env, nil, "--store", store, "push", "app:v1", reg.host .. "/giteaadmin/login:v1",
        "--ca-file", reg.ca)
      assert.equal(1, code)
      assert.matches("none were found", err)
      no_secret(seen)
    end)

    it("login and logout write through a symlinked credentials file, which stays a link", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d = base .. "/link"
      local link, real = d .. "/auth.json", d .. "/dots/real.json"
      T.write(real, "{}")
      T.must(("ln -s dots/real.json %s"):format(T.q(link)))
      local code, out, err = run({ HOME = d }, PASSWORD, "login", reg.host, "-u", "giteaAdmin", "--password-stdin",
        "--ca-file", reg.ca, "--authfile", link)
      assert.same({ 0, ("logged in to %s as giteaAdmin (credentials in %s)\n"):format(reg.host, link), "" },
        { code, out, err })
      assert.equal("dots/real.json\n", T.must("readlink " .. T.q(link)))
      assert.equal("600\n", T.must("stat -c %a " .. T.q(real)))
      assert.is_table(T.json(T.read(real)).auths[reg.host])
      code, out = run({ HOME = d }, nil, "logout", reg.host, "--authfile", link)
      assert.same({ 0, ("logged out of %s (%s)\n"):format(reg.host, link) }, { code, out })
      assert.equal("dots/real.json\n", T.must("readlink " .. T.q(link)))
      assert.is_nil(T.json(T.read(real)).auths[reg.host])
      no_secret(seen)
    end)
  end)

  describe("tokens from a Gitea-shaped endpoint behind nginx", function()
    local reg, why, base

    R.serve({ tls = true, auth = "token", users = { giteaAdmin = PASSWORD, other = "pw2-" .. PASSWORD } },
      function(r, w, b) reg, why, base = r, w, b end)

    it("pushes as the owner with one token; mounts ask for both repositories; anyone may pull", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/own", base .. "/own/store"
      local img = build(d, store, "site:v1")
      local n0 = #reg.token_requests()
      local code, out, err = run({ HOME = d }, nil, "--store", store, "push", "site:v1", reg.host
        .. "/giteaadmin/site:v1",
        "--ca-file", reg.ca, "--creds", "giteaAdmin:" .. PASSWORD)
      assert.equal(0, code, out .. err)
      local toks = table.move(reg.token_requests(), n0 + 1, #reg.token_requests(), 1, {})
      assert.equal(1, #toks, reg.log("token"))
      assert.same({ "giteaAdmin", "container_registry", { "repository:giteaadmin/site:pull,push" } },
        { toks[1].user, toks[1].service, toks[1].scopes })
      assert.matches("account=giteaAdmin", toks[1].query)

      n0 = #reg.token_requests()
      code, out, err = run({ HOME = d }, nil, "--store", store, "push", "site:v1", reg.host .. "/giteaadmin/copy:v1",
        "--ca-file", reg.ca, "--creds", "giteaAdmin:" .. PASSWORD)
      assert.equal(0, code, out .. err)
      assert.equal(2, select(2, out:gsub("mounted ", "")))
      local scopes = {}
      for i = n0 + 1, #reg.token_requests() do
        scopes[#scopes + 1] = table.concat(reg.token_requests()[i].scopes, " ")
      end
      assert.same({ "repository:giteaadmin/copy:pull,push",
        "repository:giteaadmin/copy:pull,push repository:giteaadmin/site:pull" }, scopes)

      code, out, err = run({ HOME = d }, nil, "--store", d .. "/pulled", "pull", reg.host .. "/giteaadmin/site:v1",
        "--ca-file", reg.ca)
      assert.equal(0, code, out .. err)
      assert.equal(img.desc.digest, T.image(d .. "/pulled", reg.host .. "/giteaadmin/site:v1").desc.digest)
      no_secret(seen)
    end)

    it("outside the user's namespace, or without credentials: no push access, said so", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/deny", base .. "/deny/store"
      build(d, store, "site:v1")
      local code, out, err = run({ HOME = d }, nil, "--store", store, "push", "site:v1", reg.host .. "/other/site:v1",
        "--ca-file", reg.ca, "--creds", "giteaAdmin:" .. PASSWORD)
      assert.equal("", out)
      assert.same({ 1, ('ocibuild: no push access to %s/other/site as "giteaAdmin" (Gitea: the owner must be your user '
        .. "or an organisation you belong to)\n"):format(reg.host) }, { code, err })
      code, out, err = run({ HOME = d }, nil, "--store", store, "push", "site:v1", reg.host .. "/giteaadmin/anon:v1",
        "--ca-file", reg.ca)
      assert.same({ 1, ("ocibuild: no push access to %s/giteaadmin/anon without credentials: run 'ocibuild login %s' "
        .. "(or pass --creds or --authfile)\n"):format(reg.host, reg.host) }, { code, err })
      assert.is_string(out)
      no_secret(seen)
    end)

    it("build --push asks the registry before building; a push refused after it names the image stored", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d = base .. "/early"
      T.write(d .. "/ctx/hello.txt", "hello\n")
      local function build_push(store, tag, ...)
        return run({ HOME = d }, nil, "--store", store, "build", d .. "/ctx", "-t", reg.host .. tag, "--push",
          "--ca-file", reg.ca, ...)
      end
      -- wrong credentials, or none: nothing is built (the store is not even made)
      local code, out, err = build_push(d .. "/s1", "/giteaadmin/early:v1", "--creds", "giteaAdmin:wrong")
      assert.same({ 1, "" }, { code, out })
      assert.matches("^ocibuild: authentication failed for \"giteaAdmin\" at .* refused the credentials", err)
      assert.is_false(T.exists(d .. "/s1"))
      code, out, err = build_push(d .. "/s2", "/giteaadmin/early:v1")
      assert.same({ 1, "", ("ocibuild: %s wants credentials for giteaadmin/early and none were found: run 'ocibuild "
        .. "login %s' (or pass --creds or --authfile)\n"):format(reg.host, reg.host) }, { code, out, err })
      assert.is_false(T.exists(d .. "/s2"))
      -- the token is granted, but without push (another owner's namespace): found out by the push itself
      code, out, err = build_push(d .. "/s3", "/other/early:v1", "--creds", "giteaAdmin:" .. PASSWORD)
      assert.same({ 1, "" }, { code, out })
      local img = T.image(d .. "/s3", reg.host .. "/other/early:v1")
      assert.equal(('ocibuild: no push access to %s/other/early as "giteaAdmin" (Gitea: the owner must be your user '
        .. "or an organisation you belong to); the image is stored as %s/other/early:v1 (%s)\n")
        :format(reg.host, reg.host, img.desc.digest), err)
      no_secret(seen)
    end)

    it("login asks the token endpoint; what it stores pushes", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/login", base .. "/login/store"
      build(d, store, "site:v1")
      local file = d .. "/auth.json"
      local n0 = #reg.token_requests()
      local code, out, err = run({ HOME = d }, PASSWORD, "login", reg.host, "-u", "giteaAdmin", "--password-stdin",
        "--ca-file", reg.ca, "--authfile", file)
      assert.same({ 0, ("logged in to %s as giteaAdmin (credentials in %s)\n"):format(reg.host, file), "" }, { code,
        out, err })
      local tok = reg.token_requests()[n0 + 1]
      assert.same({ "giteaAdmin", 200, {} }, { tok.user, tok.status, tok.scopes })
      code, out, err = run({ HOME = d }, nil, "--store", store, "push", "site:v1", reg.host .. "/giteaadmin/login:v1",
        "--ca-file", reg.ca, "--authfile", file)
      assert.equal(0, code, out .. err)
      local _
      code, _, err = run({ HOME = d }, "nope", "login", reg.host, "-u", "giteaAdmin", "--password-stdin",
        "--ca-file", reg.ca, "--authfile", d .. "/other.json")
      assert.equal(1, code)
      assert.matches("the token endpoint " .. reg.url:gsub("%p", "%%%0") .. "/v2/token refused the credentials", err)
      assert.is_false(T.exists(d .. "/other.json"))
      no_secret(seen)
    end)

    it("a wrong password: the token endpoint's refusal, named", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/wrong", base .. "/wrong/store"
      build(d, store, "site:v1")
      local code, out, err = run({ HOME = d }, "x" .. PASSWORD, "--store", store, "push", "site:v1",
        reg.host .. "/giteaadmin/site:v2", "--ca-file", reg.ca, "-u", "giteaAdmin", "--password-stdin")
      assert.same({ 1, "", ('ocibuild: authentication failed for "giteaAdmin" at %s (the token endpoint %s/v2/token '
        .. "refused the credentials) (credentials from --password-stdin): check them, or run 'ocibuild login %s' (or "
        .. "pass --creds or --authfile)\n"):format(reg.host, reg.url, reg.host) }, { code, out, err })
      no_secret(seen)
    end)

    it("an owner with capitals is refused before any traffic, with the lower-case name", function()
      if not reg then return pending(why) end
      local seen = {}
      local run = runner(seen)
      local d, store = base .. "/upper", base .. "/upper/store"
      build(d, store, "site:v1")
      local r0, t0 = #reg.requests(), #reg.token_requests()
      local code, out, err = run({ HOME = d }, nil, "--store", store, "push", "site:v1", reg.host
        .. "/GiteaAdmin/site:v1",
        "--ca-file", reg.ca, "--creds", "giteaAdmin:" .. PASSWORD)
      assert.same({ 2, "", ('ocibuild: invalid reference "%s/GiteaAdmin/site:v1": repository name "GiteaAdmin/site" '
        .. 'must be lowercase (try "%s/giteaadmin/site:v1") (see \'ocibuild push --help\')\n'):format(reg.host,
        reg.host) },
        { code, out, err })
      assert.same({ r0, t0 }, { #reg.requests(), #reg.token_requests() })
      no_secret(seen)
    end)
  end)
end)
