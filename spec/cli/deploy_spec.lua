-- The deployment files (deploy/kubernetes/job.yaml, deploy/tekton/task.yaml)
-- read by a YAML parser (Debian's python3-yaml): every ocibuild flag they
-- name exists in the program's --help, every container runs under the
-- "restricted" Pod Security profile, HOME is the writable emptyDir, and
-- the Task's results step turns what ocibuild wrote into IMAGE_DIGEST and
-- IMAGE_URL.
local T = require "support"

local PY = "/usr/bin/python3"

local function missing()
  if T.sh(PY .. " -c 'import yaml'") ~= 0 then return "python3-yaml is not installed (scripts/setup installs it)" end
end

local function load(file)
  local out = T.must(("%s -c %s %s"):format(PY, T.q(
    "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1], encoding='utf-8')))))"),
    T.q(T.root .. "/" .. file)))
  local docs = T.json(out)
  assert.equal(1, #docs, file .. " holds one document")
  return docs[1]
end

local VERSION = T.must(T.q(T.bin) .. " --version"):match("^ocibuild (%S+)\n$")
-- HOME of the image, as deploy/image/build.lua sets it
local HOME = T.read(T.root .. "/deploy/image/build.lua"):match('local HOME = "([^"]+)"')

local function help(...)
  local code, out, err = T.ocibuild(...)
  assert.equal(0, code, err)
  return out
end

-- Every string in v (a decoded document), recursively.
local function strings(v, out)
  out = out or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" then
    for _, x in pairs(v) do strings(x, out) end
  end
  return out
end

-- The flags a list of arguments names, long or short ("--tag", "-t").
local function arg_flags(args, into)
  for _, a in ipairs(args or {}) do
    local f = a:match("^(%-%-?[%w][%w-]*)")
    if f then into[f] = true end
  end
end

-- Every flag must be one the help of `ocibuild CMD` or `ocibuild` lists.
local function assert_known(flags, cmd)
  local text = help(cmd, "--help") .. help("--help")
  for f in pairs(flags) do
    local pat = "[%s,]" .. f:gsub("%-", "%%-") .. "[%s,=]"
    assert.truthy(("\n" .. text):find(pat), ("%s is not an option of `ocibuild %s`"):format(f, cmd))
  end
end

local ALLOWED_VOLUMES = { configMap = true, csi = true, downwardAPI = true, emptyDir = true, ephemeral = true,
  persistentVolumeClaim = true, projected = true, secret = true }

local function assert_volumes(volumes)
  for _, v in ipairs(volumes or {}) do
    for k in pairs(v) do
      if k ~= "name" then assert.truthy(ALLOWED_VOLUMES[k], ("volume %s is a %s volume"):format(v.name, k)) end
    end
  end
end

-- The security context a container gets: its own over the pod's (or the
-- Task's stepTemplate's).
local function effective(outer, inner)
  local sc = {}
  for k, v in pairs(outer or {}) do sc[k] = v end
  for k, v in pairs(inner or {}) do sc[k] = v end
  return sc
end

local function assert_restricted(sc, who)
  assert.is_true(sc.runAsNonRoot, who .. ": runAsNonRoot")
  assert.is_false(sc.allowPrivilegeEscalation, who .. ": allowPrivilegeEscalation")
  assert.is_true(sc.readOnlyRootFilesystem, who .. ": readOnlyRootFilesystem")
  assert.same({ "ALL" }, sc.capabilities and sc.capabilities.drop, who .. ": capabilities.drop")
  assert.is_nil(sc.capabilities.add, who .. ": capabilities.add")
  assert.same({ type = "RuntimeDefault" }, sc.seccompProfile, who .. ": seccompProfile")
  assert.is_not.equal(0, sc.runAsUser, who .. ": runAsUser")
  assert.is_not_true(sc.privileged, who .. ": privileged")
end

local function mount_at(mounts, path)
  for _, m in ipairs(mounts or {}) do
    if m.mountPath == path then return m end
  end
end

describe("deploy/", function()
  local why = missing()
  if why then
    pending(why)
    return
  end

  it("kubernetes/job.yaml: a restricted Job whose flags ocibuild has, writing only to its HOME", function()
    local job = load("deploy/kubernetes/job.yaml")
    assert.same({ "batch/v1", "Job" }, { job.apiVersion, job.kind })
    local pod = job.spec.template.spec
    assert.is_not_true(pod.hostNetwork or pod.hostPID or pod.hostIPC)
    assert_volumes(pod.volumes)
    local volumes = {}
    for _, v in ipairs(pod.volumes) do volumes[v.name] = v end
    assert.equal(1, #pod.containers)
    assert.is_nil(pod.initContainers)
    local c = pod.containers[1]
    assert_restricted(effective(pod.securityContext, c.securityContext), "job " .. c.name)
    assert.equal(65532, pod.securityContext.runAsUser)
    assert.matches(":" .. VERSION:gsub("%p", "%%%0") .. "$", c.image)
    assert.equal("build", c.args[1])
    local flags = {}
    arg_flags(c.args, flags)
    assert_known(flags, "build")
    assert.same({ ["--tag"] = true, ["--push"] = true, ["--progress"] = true }, flags)
    -- the only writable mount is the emptyDir at the image's HOME
    for _, m in ipairs(c.volumeMounts) do
      if not m.readOnly then
        assert.equal(HOME, m.mountPath)
        assert.truthy(volumes[m.name].emptyDir)
      end
    end
    local ctx = mount_at(c.volumeMounts, c.args[2])
    assert.truthy(volumes[ctx.name].persistentVolumeClaim, "the context comes from a volume")
    -- credentials: the dockerconfigjson Secret's config.json in $DOCKER_CONFIG
    local dc = c.env[1]
    assert.same({ name = "DOCKER_CONFIG" }, { name = dc.name })
    local creds = volumes[mount_at(c.volumeMounts, dc.value).name].secret
    assert.same({ { key = ".dockerconfigjson", path = "config.json" } }, creds.items)
    -- trust: idpbuilder's CA as certs.d/HOST:PORT/ca.crt for the pushed host
    local host = c.args[3]:match("^%-%-tag=([^/]+)/")
    local ca = volumes[mount_at(c.volumeMounts, "/etc/containers/certs.d").name].secret
    assert.same({ "idpbuilder-cert", { { key = "ca.crt", path = host .. "/ca.crt" } } }, { ca.secretName, ca.items })
    assert.matches("/giteaadmin/", c.args[3])
  end)

  it("tekton/task.yaml: a restricted Task with IMAGE, CONTEXT, EXTRA_ARGS, source, dockerconfig and the results",
    function()
      local task = load("deploy/tekton/task.yaml")
      assert.same({ "tekton.dev/v1", "Task" }, { task.apiVersion, task.kind })
      local s = task.spec
      local names = function(list)
        local t = {}
        for _, x in ipairs(list) do t[#t + 1] = x.name end
        return t
      end
      assert.same({ "IMAGE", "CONTEXT", "EXTRA_ARGS", "BUILDER_IMAGE" }, names(s.params))
      assert.same({ "source", "dockerconfig", "sslcertdir" }, names(s.workspaces))
      assert.equal("/etc/containers/certs.d", s.workspaces[3].mountPath)
      assert.same({ "IMAGE_DIGEST", "IMAGE_URL" }, names(s.results))
      assert_volumes(s.volumes)
      assert.is_nil(s.sidecars)
      assert.equal(HOME, s.stepTemplate.volumeMounts[1].mountPath)
      assert.truthy(s.volumes[1].emptyDir)
      for _, step in ipairs(s.steps) do
        assert_restricted(effective(s.stepTemplate.securityContext, step.securityContext), "step " .. step.name)
      end
      local build = s.steps[1]
      assert.equal("$(params.BUILDER_IMAGE)", build.image)
      assert.matches(":" .. VERSION:gsub("%p", "%%%0") .. "$", s.params[4].default)
      assert.equal("build", build.args[1])
      assert.equal("$(params.EXTRA_ARGS[*])", build.args[#build.args])
      local flags = {}
      arg_flags(build.args, flags)
      -- and the long flags named anywhere else (descriptions)
      for _, str in ipairs(strings(s)) do
        for f in str:gmatch("%f[%w%-]%-%-[%l][%l%-]*") do flags[f] = true end
      end
      assert_known(flags, "build")
      -- IMAGE_DIGEST: straight from --digestfile
      local digestfile = false
      for _, a in ipairs(build.args) do digestfile = digestfile or a == "--digestfile=$(results.IMAGE_DIGEST.path)" end
      assert.is_true(digestfile)
      assert.truthy(flags["--push"] and flags["--from"])
    end)

  it("tekton/task.yaml: the results step writes IMAGE_DIGEST and IMAGE_URL from what ocibuild wrote", function()
    local task = load("deploy/tekton/task.yaml")
    local step = task.spec.steps[2]
    local d = T.tmpdir(finally)
    local ref = "registry.example:5000/team/site:1"
    -- the step as Tekton runs it, with the emptyDir and the results in d
    local script = step.script:gsub("%$%(results%.([%w_]+)%.path%)", d .. "/results/%1")
      :gsub(HOME:gsub("%p", "%%%0"), d .. "/home")
    T.write(d .. "/results.sh", script)
    T.must(("mkdir -p %s/results %s/home"):format(T.q(d), T.q(d)))
    local function run()
      return T.sh(("IMAGE=%s sh %s"):format(T.q(ref), T.q(d .. "/results.sh")))
    end
    assert.same({ { name = "IMAGE", value = "$(params.IMAGE)" } }, step.env)

    -- nothing written: the step fails
    local code, _, err = run()
    assert.equal(1, code)
    assert.equal("no pushed digest\n", err)

    -- what the build step's --metadata-file writes
    T.write(d .. "/ctx/f.txt", "f\n")
    local c, out, e = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "site:1", "-q",
      "--metadata-file", d .. "/home/metadata.json")
    assert.equal(0, c, e)
    code, _, err = run()
    assert.equal(0, code, err)
    assert.equal(out:gsub("\n$", ""), T.read(d .. "/results/IMAGE_DIGEST"))
    assert.equal(T.image(d .. "/s", "site:1").desc.digest, T.read(d .. "/results/IMAGE_DIGEST"))
    assert.equal(ref, T.read(d .. "/results/IMAGE_URL"))

    -- what the build step's --digestfile writes, without a metadata file
    os.remove(d .. "/home/metadata.json")
    os.remove(d .. "/results/IMAGE_DIGEST")
    T.write(d .. "/ctx/f.txt", "f2\n")
    c, out, e = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "site:2", "-q",
      "--digestfile", d .. "/results/IMAGE_DIGEST")
    assert.equal(0, c, e)
    code, _, err = run()
    assert.equal(0, code, err)
    assert.equal(out:gsub("\n$", ""), T.read(d .. "/results/IMAGE_DIGEST"))
    assert.equal(T.image(d .. "/s", "site:2").desc.digest, T.read(d .. "/results/IMAGE_DIGEST"))
  end)
end)
