-- ocibuild's own image (scripts/image), run as Kubernetes' restricted
-- profile runs a pod: umoci unpacks it, bubblewrap runs it as the image's
-- user (65532) with the root file system read-only, a tmpfs at HOME (the
-- emptyDir), the context, the docker config and the CA bound read-only,
-- no capabilities and no_new_privs. Inside, it builds the context and
-- pushes it to a registry over TLS with Basic auth; skopeo checks what
-- arrived. The loader's own account of what it maps shows that the image
-- holds exactly the libraries the program loads.
local R = require "support.registry"
local T = require "support"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

local function missing()
  for _, cmd in ipairs { "bwrap", "umoci", "skopeo", "ldconfig" } do
    if not have(cmd) then return cmd .. " is not installed (scripts/setup installs it)" end
  end
  if T.sh("bwrap --unshare-user --ro-bind / / true") ~= 0 then return "bwrap cannot make a user namespace here" end
  local ok, why = R.available { tls = true, auth = "basic" }
  if not ok then return why end
end

local VERSION = T.must(T.q(T.bin) .. " --version"):match("^ocibuild (%S+)\n$")

local function config_of(layout)
  local index = T.json(T.read(layout .. "/index.json"))
  local function blob(d) return layout .. "/blobs/sha256/" .. d:sub(8) end
  local desc = index.manifests[1]
  local manifest = T.json(T.read(blob(desc.digest)))
  return desc, manifest, T.json(T.read(blob(manifest.config.digest))), blob
end

local function env_of(config)
  local env = {}
  for _, kv in ipairs(config.config.Env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    env[k] = v
  end
  return env
end

-- Runs the image as a restricted pod runs it. opts: binds ({{src, dest}},
-- read-only; the mount points are made in the root file system first, as
-- a container runtime makes them), env ({NAME = VALUE}, over the image's),
-- hide (folders of the image to cover with an empty tmpfs), entrypoint
-- (instead of the image's), args (after it). Returns code, stdout, stderr.
local function run_image(img, opts)
  local env = env_of(img.config)
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local uid, gid = img.config.config.User:match("^(%d+):(%d+)$")
  local words = { "bwrap", "--unshare-user", "--uid", uid, "--gid", gid, "--unshare-pid", "--unshare-ipc",
    "--new-session", "--die-with-parent", "--cap-drop", "ALL", "--ro-bind", img.rootfs, "/", "--proc", "/proc",
    "--dev", "/dev", "--tmpfs", env.HOME, "--clearenv", "--chdir", img.config.config.WorkingDir }
  for _, b in ipairs(opts.binds or {}) do
    local at = img.rootfs .. b[2]
    if T.sh("test -d " .. T.q(b[1])) == 0 then
      T.must("mkdir -p " .. T.q(at))
    else
      T.must(("mkdir -p %s && touch %s"):format(T.q(at:match("^(.*)/")), T.q(at)))
    end
    table.move({ "--ro-bind", b[1], b[2] }, 1, 3, #words + 1, words)
  end
  for _, dir in ipairs(opts.hide or {}) do table.move({ "--tmpfs", dir }, 1, 2, #words + 1, words) end
  local names = {}
  for k in pairs(env) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do table.move({ "--setenv", k, env[k] }, 1, 3, #words + 1, words) end
  words[#words + 1] = "--"
  for _, w in ipairs(opts.entrypoint or img.config.config.Entrypoint) do words[#words + 1] = w end
  for _, w in ipairs(opts.args or {}) do words[#words + 1] = w end
  for i, w in ipairs(words) do words[i] = T.q(w) end
  return T.sh(table.concat(words, " "))
end

-- What a pod of the image reports about itself (run with the image's own
-- program as the Lua interpreter): the lines of /proc/self/status that
-- say who it is and what it may do, and whether each path can be written.
local PROBE = [[
for line in io.lines("/proc/self/status") do
  local k, v = line:match("^(%w+):%s*(.-)%s*$")
  if k == "Uid" or k == "Gid" or k == "CapEff" or k == "CapPrm" or k == "CapBnd" or k == "NoNewPrivs" then
    print(k .. "=" .. v:gsub("%s+", " "))
  end
end
for _, p in ipairs { "/probe.txt", "/etc/probe.txt", "/usr/local/bin/probe.txt", "/workspace/context/probe.txt",
    os.getenv("HOME") .. "/probe.txt", os.getenv("TMPDIR") .. "/probe2.txt" } do
  local f, err = io.open(p, "w")
  print("write " .. p .. ": " .. (f and "ok" or err:gsub("^.-: ", "")))
  if f then f:close() os.remove(p) end
end
]]

describe("ocibuild's own image", function()
  local why = missing()
  if why then
    pending(why)
    return
  end

  local d, img, reg

  setup(function()
    d = T.tmpdir()
    local archive = d .. "/ocibuild.tar"
    T.must(("OCIBUILD_BUILD_DIR=%s scripts/image %s"):format(T.q(T.build), T.q(archive)))
    T.must(("mkdir %s/layout && tar -xf %s -C %s/layout"):format(T.q(d), T.q(archive), T.q(d)))
    img = { archive = archive, layout = d .. "/layout" }
    img.desc, img.manifest, img.config, img.blob = config_of(img.layout)
    local rootless = T.must("id -u") ~= "0\n" and "--rootless " or ""
    T.must(("umoci unpack %s--image %s %s/bundle"):format(rootless, T.q(img.layout .. ":ocibuild:" .. VERSION),
      T.q(d)))
    img.rootfs = d .. "/bundle/rootfs"
    -- the mount points of /proc and /dev, which a container runtime makes
    T.must(("mkdir -p %s/proc %s/dev"):format(T.q(img.rootfs), T.q(img.rootfs)))
    reg = R.start { tls = true, auth = "basic" }
  end)

  teardown(function()
    if reg then reg.stop() end
    if d then T.sh("chmod -R u+rwx " .. T.q(d) .. "; rm -rf " .. T.q(d)) end
  end)

  it("is ocibuild:VERSION for this machine, user 65532 with HOME and TMPDIR one folder, the same bytes twice",
    function()
      assert.equal("ocibuild:" .. VERSION, img.desc.annotations["org.opencontainers.image.ref.name"])
      local host = require("ocibuild.oci.platform").host()
      assert.same({ os = "linux", architecture = host.architecture, variant = host.variant }, img.desc.platform)
      local c = img.config.config
      assert.same({ "/usr/local/bin/ocibuild" }, c.Entrypoint)
      assert.equal("65532:65532", c.User)
      local env = env_of(img.config)
      assert.equal("/home/ocibuild", env.HOME)
      assert.equal(env.HOME, env.TMPDIR)
      assert.equal(env.HOME, c.WorkingDir)
      assert.truthy(T.read(img.rootfs .. "/etc/passwd"):find("\nocibuild:x:65532:65532:", 1, true))
      assert.truthy(T.read(img.rootfs .. "/etc/group"):find("\nocibuild:x:65532:\n", 1, true))
      local home
      for _, e in ipairs(T.tar_entries(img.blob(img.manifest.layers[1].digest))) do
        if e.name == "home/ocibuild" then home = e end
      end
      assert.same({ type = "5", uid = 65532, gid = 65532 }, { type = home.type, uid = home.uid, gid = home.gid })
      -- nothing of the build machine's locale or time leaks in
      T.must(("OCIBUILD_BUILD_DIR=%s LANG=C TZ=Pacific/Kiritimati scripts/image %s")
        :format(T.q(T.build), T.q(d .. "/again.tar")))
      assert.equal(T.sha256_file(img.archive), T.sha256_file(d .. "/again.tar"))
    end)

  it("runs as 65532 with a read-only root, no capabilities and no_new_privs, writing only to its HOME", function()
    T.write(d .. "/probe/probe.lua", PROBE)
    T.write(d .. "/ctx/hello.txt", "hello\n")
    local code, out, err = run_image(img, { binds = { { d .. "/probe", "/probe" },
      { d .. "/ctx", "/workspace/context" } }, args = { "run", "--unsafe", "/probe/probe.lua" } })
    assert.equal(0, code, out .. err)
    assert.equal(table.concat({
      "Uid=65532 65532 65532 65532",
      "Gid=65532 65532 65532 65532",
      "CapPrm=0000000000000000",
      "CapEff=0000000000000000",
      "CapBnd=0000000000000000",
      "NoNewPrivs=1",
      "write /probe.txt: Read-only file system",
      "write /etc/probe.txt: Read-only file system",
      "write /usr/local/bin/probe.txt: Read-only file system",
      "write /workspace/context/probe.txt: Read-only file system",
      "write /home/ocibuild/probe.txt: ok",
      "write /home/ocibuild/probe2.txt: ok",
    }, "\n") .. "\n", out)
  end)

  -- A context with a .dockerignore, a folder, an executable and a name
  -- that is not ASCII; a kubernetes.io/dockerconfigjson Secret's config.json.
  local function context(dir, ascii)
    T.write(dir .. "/ctx/.dockerignore", "secret.txt\n")
    T.write(dir .. "/ctx/secret.txt", "not for the image\n")
    T.write(dir .. "/ctx/site/index.html", "<p>hello from " .. dir .. "</p>\n")
    T.write(dir .. "/ctx/bin/run", "#!/bin/sh\n", tonumber("755", 8))
    if not ascii then T.write(dir .. "/ctx/site/caf\xc3\xa9.txt", "caf\xc3\xa9\n") end
    local auth = T.must("printf %s giteaAdmin:developer | base64 -w0")
    T.write(dir .. "/docker/config.json", ('{"auths":{"%s":{"username":"giteaAdmin","password":"developer",'
      .. '"auth":"%s"}}}'):format(reg.host, auth))
  end

  -- Builds ctx in the image and pushes it as ref; checks with skopeo that
  -- the registry has what the same context gives on this machine.
  local function pushes(dir, ref, opts)
    local code, out, err = run_image(img, { binds = opts.binds, env = opts.env, hide = opts.hide,
      args = { "build", "/workspace/context", "-t", ref, "--push", "-q" } })
    assert.equal(0, code, out .. err)
    local digest = assert(out:match("^(sha256:%x+)\n$"), out)
    code, out, err = T.ocibuild("--store", dir .. "/here", "build", dir .. "/ctx", "-t", "here:1", "-q")
    assert.equal(0, code, out .. err)
    assert.equal(digest .. "\n", out)
    local certs, remote = T.q(reg.cert_dir), T.q("docker://" .. ref)
    local raw = T.must(("skopeo inspect --raw --cert-dir %s --creds giteaAdmin:developer %s"):format(certs, remote))
    assert.equal(digest, "sha256:" .. require("ocibuild.core").sha256():update(raw):digest():sub(8))
    T.must(("skopeo --insecure-policy copy --src-cert-dir %s --src-creds giteaAdmin:developer %s %s")
      :format(certs, remote, T.q("oci:" .. dir .. "/pulled:app")))
    local m = T.json(raw)
    local names = {}
    for _, e in ipairs(T.tar_entries(dir .. "/pulled/blobs/sha256/" .. m.layers[1].digest:sub(8))) do
      names[#names + 1] = e.name
    end
    return names
  end

  it("builds a read-only context and pushes it over TLS with Basic auth, trusting $SSL_CERT_FILE", function()
    local dir = d .. "/ssl-cert-file"
    context(dir)
    local ref = reg.host .. "/giteaadmin/site:1"
    local names = pushes(dir, ref, {
      binds = { { dir .. "/ctx", "/workspace/context" }, { dir .. "/docker", "/docker" },
        { reg.ca, "/certs/ca.crt" } },
      env = { DOCKER_CONFIG = "/docker", SSL_CERT_FILE = "/certs/ca.crt" },
    })
    assert.same({ ".dockerignore", "bin", "bin/run", "site", "site/caf\xc3\xa9.txt", "site/index.html" }, names)
  end)

  it("loads, as it builds and pushes, exactly the shared libraries it holds", function()
    local dir = d .. "/libraries"
    context(dir)
    -- the loader names every object it maps: the program's own and libcurl,
    -- loaded for the push
    local code, out, err = run_image(img, {
      binds = { { dir .. "/ctx", "/workspace/context" }, { dir .. "/docker", "/docker" }, { reg.ca, "/certs/ca.crt" } },
      env = { DOCKER_CONFIG = "/docker", SSL_CERT_FILE = "/certs/ca.crt", LD_DEBUG = "files" },
      args = { "build", "/workspace/context", "-t", reg.host .. "/giteaadmin/site:libs", "--push", "-q" } })
    assert.equal(0, code, out .. err)
    local loaded = {}
    for name in err:gmatch("file=(%S+) %[0%];  generating link map") do loaded[name] = true end
    assert.truthy(loaded["libcurl.so.4"], err)
    local interp = T.must("readelf -l " .. T.q(img.rootfs .. "/usr/local/bin/ocibuild")):match("interpreter: (%S+)%]")
    loaded[interp:match("[^/]+$")] = true
    local held = {}
    local files = T.must(("cd %s && find . -type f -name '*.so*' -printf '%%f\\n'"):format(T.q(img.rootfs)))
    for f in files:gmatch("[^\n]+") do held[f] = true end
    assert.same(loaded, held)
  end)

  it("trusts a CA mounted into certs.d, and needs no locale files for ASCII names", function()
    local dir = d .. "/certs-d"
    context(dir, true)
    local ref = reg.host .. "/giteaadmin/site:2"
    local names = pushes(dir, ref, {
      binds = { { dir .. "/ctx", "/workspace/context" }, { dir .. "/docker", "/docker" },
        { reg.ca, "/etc/containers/certs.d/" .. reg.host .. "/ca.crt" } },
      env = { DOCKER_CONFIG = "/docker" },
      hide = { "/usr/lib/locale" },
    })
    assert.same({ ".dockerignore", "bin", "bin/run", "site", "site/index.html" }, names)
  end)
end)
