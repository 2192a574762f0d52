-- ocibuild copy between every place an image lives (ocibuild.ops.copy):
-- one image goes store -> oci -> oci-archive -> docker-archive ->
-- registry -> store and comes back with the same manifest digest; skopeo
-- reads it at each stop, and podman load takes the docker archive.
local R = require "support.registry"
local T = require "support"

local function have(cmd) return T.sh("command -v " .. T.q(cmd)) == 0 end

local function skopeo(args)
  return T.sh("skopeo --insecure-policy " .. args)
end

local function sha256(s)
  return "sha256:" .. require("ocibuild.core").sha256():update(s):digest():sub(8)
end

describe("ocibuild copy", function()
  local reg, why
  R.serve({}, function(r, w) reg, why = r, w end, function()
    if not have("skopeo") then return false, "skopeo is not installed" end
    return true
  end)

  it("takes one image through every transport and back, keeping its manifest digest, each stop read by skopeo",
    function()
      if not reg then return pending(why) end
      local d = T.tmpdir(finally)
      local s = d .. "/s"
      T.write(d .. "/ctx/index.html", "<h1>copy</h1>\n")
      T.write(d .. "/ctx/bin/tool", ("x"):rep(70000))
      assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "site:1")))
      local img = T.image(s, "site:1")
      local digest = img.desc.digest
      local remote = reg.host .. "/team/site:copied"
      local hops = {
        { "site:1", "oci:" .. d .. "/layout:v1", "oci:" .. d .. "/layout:v1" },
        { "oci:" .. d .. "/layout:v1", "oci-archive:" .. d .. "/a.tar:v2", "oci-archive:" .. d .. "/a.tar:v2" },
        { "oci-archive:" .. d .. "/a.tar:v2", "docker-archive:" .. d .. "/d.tar:team/site:v3",
          "docker-archive:" .. d .. "/d.tar:team/site:v3" },
        { "docker-archive:" .. d .. "/d.tar:team/site:v3", "docker://" .. remote, "docker://" .. remote },
        { "docker://" .. remote, "back:1" },
      }
      for _, hop in ipairs(hops) do
        local code, out, err = T.ocibuild("--store", s, "copy", hop[1], hop[2])
        assert.equal(0, code, out .. err)
        assert.equal(("copied:   %s -> %s\ndigest:   %s\n"):format(hop[1], hop[2]:match("^docker://") and
          (reg.host .. "/team/site@" .. digest) or hop[2], digest), out)
        if hop[3] then
          -- skopeo reads each stop: the OCI ones and the registry give back
          -- the very manifest; a docker archive, read through its
          -- manifest.json, the same config
          code, out, err = skopeo(("inspect --tls-verify=false --raw %s"):format(T.q(hop[3])))
          assert.equal(0, code, out .. err)
          if hop[3]:match("^docker%-archive:") then
            assert.equal(img.manifest.config.digest, T.json(out).config.digest)
          else
            assert.equal(digest, sha256(out))
          end
          code, out, err = skopeo(("inspect --tls-verify=false --raw --config %s"):format(T.q(hop[3])))
          assert.equal(0, code, out .. err)
          assert.equal(T.read(img.blob(img.manifest.config.digest)), out)
        end
      end
      -- back in the store under its new name: the same image, byte for byte
      assert.equal(digest, T.image(s, "back:1").desc.digest)
      -- the docker archive is docker save's layout: manifest.json names it
      local m = T.json(T.must("tar -xOf " .. T.q(d .. "/d.tar") .. " manifest.json"))
      assert.same({ "team/site:v3" }, m[1].RepoTags)
      assert.equal("blobs/sha256/" .. img.manifest.config.digest:sub(8), m[1].Config)
    end)

  it("writes a docker archive podman load reads, and one skopeo copies out again", function()
    if not have("podman") then return pending("podman is not installed") end
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/ctx/f", "podman\n")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "podman-load:1")))
    local code, out, err = T.ocibuild("--store", s, "export", "podman-load:1", "-o", "docker-archive:" .. d .. "/d.tar")
    assert.equal(0, code, out .. err)
    local root, run = d .. "/podman-root", d .. "/podman-run"
    local podman = ("podman --root %s --runroot %s --storage-driver vfs"):format(T.q(root), T.q(run))
    T.finally(finally, function()
      T.sh(podman .. " system reset -f >/dev/null 2>&1; rm -rf " .. T.q(root) .. " " .. T.q(run))
    end)
    code, out, err = T.sh(podman .. " load -i " .. T.q(d .. "/d.tar"))
    assert.equal(0, code, out .. err)
    assert.truthy((out .. err):find("podman-load:1", 1, true), out .. err)
    code, out, err = T.sh(podman .. " image inspect --format '{{.Id}}' podman-load:1")
    assert.equal(0, code, out .. err)
    local img = T.image(s, "podman-load:1")
    assert.equal(img.manifest.config.digest:sub(8), out:match("%x+"))
    code, out, err = skopeo(("copy docker-archive:%s oci:%s:x"):format(T.q(d .. "/d.tar"), T.q(d .. "/out")))
    assert.equal(0, code, out .. err)
    assert.equal(1, #T.json(T.read(d .. "/out/index.json")).manifests)
  end)

  it("refuses a transport it does not know, listing those it does, and writes nothing", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/ctx/f", "x\n")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "a:1")))
    local known = 'the known ones are store:, oci:, oci-archive:, docker-archive:, docker://'
    for _, c in ipairs {
      { { "copy", "a:1", "tarball:" .. d .. "/x.tar" }, '"tarball:' .. d .. '/x.tar": unknown transport "tarball:": '
        .. known },
      { { "copy", "a:1", "oci-archiv:x.tar" }, '"oci-archiv:x.tar": unknown transport "oci-archiv:" (did you mean '
        .. '"oci-archive:"?): ' .. known },
      { { "export", "a:1", "-o", "docker-archiv:" .. d .. "/x.tar" }, '"docker-archiv:' .. d .. '/x.tar": unknown '
        .. 'transport "docker-archiv:" (did you mean "docker-archive:"?): ' .. known },
      { { "push", "a:1", "docker:" .. "x/y:1" }, '"docker:x/y:1": docker: needs //, as docker://HOST/NAME[:TAG]' },
    } do
      local code, out, err = T.ocibuild("--store", s, table.unpack(c[1]))
      assert.same({ 2, "", ("ocibuild: %s (see 'ocibuild %s --help')\n"):format(c[2], c[1][1]) }, { code, out, err })
    end
    assert.same({ "ctx", "s" }, (function()
      local l = {}
      for n in T.must("ls " .. T.q(d)):gmatch("[^\n]+") do l[#l + 1] = n end
      return l
    end)())
  end)
end)
