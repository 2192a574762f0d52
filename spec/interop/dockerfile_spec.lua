-- A multi-stage, multi-platform Dockerfile built and pushed to a real
-- registry (Debian's docker-registry): a Go program compiled for two
-- platforms, copied --from a stage onto a busybox base that is itself a
-- two-platform image in the registry, named by two stages and pulled once
-- per platform. skopeo reads the pushed index back; each platform's
-- image holds that platform's binary; the busybox binary of the base runs.
local R = require "support.registry"
local T = require "support"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

-- Debian's busybox-static as a root file system, with a user.
local function busybox_rootfs(dir)
  T.must(("mkdir -p %s/bin %s/etc %s/tmp && chmod 1777 %s/tmp && cp /bin/busybox %s/bin/ && ln -s busybox %s/bin/sh")
    :format(T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir)))
  T.write(dir .. "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n", 420)
  T.write(dir .. "/etc/group", "root:x:0:\napp:x:1000:\n", 420)
end

local BASE = [[
local oci = require "ocibuild"
local imgs = {}
for _, arch in ipairs { "amd64", "arm64" } do
  local img = oci.image { platform = "linux/" .. arch }
  img:layer { context = "rootfs" }
  img:config { env = { PATH = "/bin" }, cmd = { "/bin/sh" } }
  imgs[#imgs + 1] = img
end
return oci.index(imgs):save { tag = args.tag, push = true }
]]

local DOCKERFILE = [[
# syntax=docker/dockerfile:1
ARG REGISTRY
FROM --platform=$BUILDPLATFORM scratch AS build
ARG TARGETARCH
COPY bin/hello-${TARGETARCH} /out/hello
FROM ${REGISTRY}/base/busybox:1 AS config
COPY --chown=app:app app.conf /etc/hello/
FROM ${REGISTRY}/base/busybox:1
ARG TARGETPLATFORM
LABEL org.opencontainers.image.title=hello platform=${TARGETPLATFORM}
COPY --from=config /etc/hello/ /etc/hello/
COPY --from=build /out/hello /usr/local/bin/hello
USER app
WORKDIR /home/app
ENTRYPOINT ["/usr/local/bin/hello"]
]]

describe("a multi-platform Dockerfile", function()
  local reg, why, d

  setup(function()
    local ok
    ok, why = R.available {}
    for _, cmd in ipairs { "skopeo", "go" } do
      if ok and not have(cmd) then ok, why = false, cmd .. " is not installed" end
    end
    if ok and not T.exists("/bin/busybox") then ok, why = false, "busybox-static is not installed" end
    if ok then reg = R.start {} end
    d = T.tmpdir()
  end)

  teardown(function()
    if reg then reg.stop() end
    if d then T.sh("chmod -R u+rwx " .. T.q(d) .. "; rm -rf " .. T.q(d)) end
  end)

  it("builds a Go binary from a stage onto a registry base, two platforms, pushed as an index", function()
    if not reg then return pending(why) end
    local store = d .. "/store"
    busybox_rootfs(d .. "/rootfs")
    T.write(d .. "/base.lua", BASE)
    local code, out, err = T.ocibuild("--store", store, "run", "--allow-registry", reg.host, d .. "/base.lua",
      "tag=" .. reg.host .. "/base/busybox:1")
    assert.equal(0, code, out .. err)
    -- the base comes from the registry: a store that does not hold it
    local store2 = d .. "/store2"
    local src = d .. "/src"
    T.write(src .. "/go.mod", "module example.com/hello\n\ngo 1.19\n")
    T.write(src .. "/main.go", 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n')
    for _, arch in ipairs { "amd64", "arm64" } do
      T.must(("cd %s && CGO_ENABLED=0 GOOS=linux GOARCH=%s GOCACHE=%s GOPATH=%s GOPROXY=off GOFLAGS=-mod=mod "
        .. "go build -trimpath -ldflags=-buildid= -o %s ."):format(T.q(src), arch, T.q(T.build .. "/go-cache"),
        T.q(d .. "/gopath"), T.q(d .. "/ctx/bin/hello-" .. arch)))
    end
    T.write(d .. "/ctx/app.conf", "greeting=hello\n", 420)
    T.write(d .. "/ctx/Dockerfile", DOCKERFILE)
    local tag = reg.host .. "/team/hello:1"
    code, out, err = T.ocibuild("--store", store2, "build", "--platform", "linux/amd64,linux/arm64",
      "--build-arg", "REGISTRY=" .. reg.host, "-t", tag, "--push", d .. "/ctx")
    assert.equal(0, code, out .. err)
    -- the base's tag was asked for once per platform, though two stages name it
    local tag_gets = 0
    for _, r in ipairs(reg.requests()) do
      if r.method == "GET" and r.path == "/v2/base/busybox/manifests/1" then tag_gets = tag_gets + 1 end
    end
    assert.equal(2, tag_gets)
    code, out, err = T.sh(("skopeo inspect --raw --tls-verify=false %s"):format(T.q("docker://" .. tag)))
    assert.equal(0, code, out .. err)
    local idx = T.json(out)
    assert.equal("application/vnd.oci.image.index.v1+json", idx.mediaType)
    assert.equal(2, #idx.manifests)
    local oci = d .. "/oci"
    for i, arch in ipairs { "amd64", "arm64" } do
      assert.same({ os = "linux", architecture = arch }, idx.manifests[i].platform)
      code, out, err = T.sh(("skopeo copy --src-tls-verify=false --override-arch %s %s %s"):format(arch,
        T.q("docker://" .. tag), T.q("oci:" .. oci .. ":" .. arch)))
      assert.equal(0, code, out .. err)
      local m
      for _, e in ipairs(T.json(T.read(oci .. "/index.json")).manifests) do
        if e.annotations["org.opencontainers.image.ref.name"] == arch then
          m = T.json(T.read(oci .. "/blobs/sha256/" .. e.digest:sub(8)))
        end
      end
      local c = T.json(T.read(oci .. "/blobs/sha256/" .. m.config.digest:sub(8)))
      assert.same({ arch, "linux/" .. arch, "app", "/home/app" }, { c.architecture, c.config.Labels.platform,
        c.config.User, c.config.WorkingDir })
      assert.same({ "/usr/local/bin/hello" }, c.config.Entrypoint)
      local found = {}
      for _, l in ipairs(m.layers) do
        for _, e in ipairs(T.tar_entries(oci .. "/blobs/sha256/" .. l.digest:sub(8))) do found[e.name] = e end
      end
      assert.equal(T.sha256_file(d .. "/ctx/bin/hello-" .. arch), found["usr/local/bin/hello"].sha256)
      assert.same({ 1000, 1000 }, { found["etc/hello/app.conf"].uid, found["etc/hello/app.conf"].gid })
      assert.equal(1000, found["home/app"].uid)
      assert.truthy(found["bin/busybox"])
    end
    -- the amd64 image's files run here: the base's shell and the binary
    T.must("mkdir -p " .. T.q(d .. "/root"))
    T.must(("cd %s && for l in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(\"" ..
      " \".join(x[\"digest\"][7:] for x in m[\"layers\"]))' %s); do tar -xzf %s/blobs/sha256/$l; done")
      :format(T.q(d .. "/root"), T.q(oci .. "/blobs/sha256/" .. (function()
        for _, e in ipairs(T.json(T.read(oci .. "/index.json")).manifests) do
          if e.annotations["org.opencontainers.image.ref.name"] == "amd64" then return e.digest:sub(8) end
        end
      end)()), T.q(oci)))
    assert.equal("hello\n", T.must(T.q(d .. "/root/usr/local/bin/hello")))
    assert.equal("ok\n", T.must(T.q(d .. "/root/bin/busybox") .. " echo ok"))
  end)
end)
