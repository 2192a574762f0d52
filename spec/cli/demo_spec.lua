-- scripts/demo, on the build under test (its setup step skipped): it
-- leaves `ocibuild` on PATH and says so, builds a busybox base offline and
-- examples/hello on it, and that image runs: its command, busybox httpd,
-- serves the site from the unpacked image.
local T = require "support"

local IS_ROOT = T.must("id -u"):match("^0%s") ~= nil

describe("scripts/demo", function()
  it("leaves ocibuild on PATH and builds, offline, a hello image that serves its site", function()
    if not T.exists("/bin/busybox") then
      return pending("busybox-static is not installed (scripts/setup installs it)")
    end
    local d = T.tmpdir(finally)
    local bin = d .. "/bin"
    local code, out, err = T.sh(("cd %s && env OCIBUILD_DEMO_SETUP=no OCIBUILD_BUILD_DIR=%s OCIBUILD_BIN_DIR=%s "
      .. "OCIBUILD_STORE=%s PATH=%s:$PATH sh scripts/demo"):format(T.q(T.root), T.q(T.build), T.q(bin),
      T.q(d .. "/store"), T.q(bin)))
    assert.equal(0, code, out .. err)
    assert.truthy(out:find(("demo: ocibuild is on PATH: %s/ocibuild -> %s\n"):format(bin, T.bin), 1, true), out)
    assert.equal("ocibuild " .. require("ocibuild").VERSION .. "\n",
      T.must(("env PATH=%s:/usr/bin:/bin ocibuild --version"):format(T.q(bin))))
    -- off PATH, it says what to add
    code, out = T.sh(("cd %s && env OCIBUILD_DEMO_SETUP=no OCIBUILD_BUILD_DIR=%s OCIBUILD_BIN_DIR=%s "
      .. "OCIBUILD_STORE=%s sh scripts/demo"):format(T.q(T.root), T.q(T.build), T.q(d .. "/bin2"), T.q(d .. "/store")))
    assert.equal(0, code, out)
    assert.truthy(out:find(("add %s/bin2 to PATH"):format(d), 1, true), out)

    local img = T.image(d .. "/store", "hello:demo")
    local base = T.image(d .. "/store", "busybox:demo")
    assert.same(base.manifest.layers[1], img.manifest.layers[1])
    if not IS_ROOT then return pending("running the image needs root (umoci unpack, chroot)") end
    T.must(("umoci unpack --image %s %s"):format(T.q(d .. "/store:hello:demo"), T.q(d .. "/bundle")))
    local args = T.json(T.read(d .. "/bundle/config.json")).process.args
    assert.same({ "/bin/httpd", "-f", "-h", "/usr/share/site" }, args)
    local port = T.must("/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); "
      .. "print(s.getsockname()[1])'"):match("%d+")
    local words = {}
    for i, a in ipairs(args) do words[i] = T.q(a) end
    local pid = T.must(("chroot %s %s -p 127.0.0.1:%s >/dev/null 2>&1 & echo $!"):format(T.q(d .. "/bundle/rootfs"),
      table.concat(words, " "), port)):match("%d+")
    T.finally(finally, function() T.sh("kill " .. pid) end)
    local page
    for _ = 1, 50 do
      local c, o = T.sh(("curl -sf http://127.0.0.1:%s/"):format(port))
      if c == 0 then
        page = o
        break
      end
      T.sh("sleep 0.1")
    end
    assert.equal(T.read(T.root .. "/examples/hello/site/index.html"), page)
  end)
end)
