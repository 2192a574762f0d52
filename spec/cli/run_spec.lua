local T = require "support"

describe("ocibuild run", function()
  it("runs a script with name=value args, paths relative to the script, from any folder", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/proj/site/index.html", "<p>hi</p>")
    T.write(d .. "/proj/build.lua", [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/amd64" }
img:layer { context = "site", dest = "/usr/share/site" }
img:labels { version = args.version, ["org.opencontainers.image.source"] = args.source }
img:config { entrypoint = { "/bin/httpd" }, env = { PORT = "8080" }, ports = { "80/tcp" } }
return img:save { tag = args.tag, archive = "out/site.tar" }
]])
    T.must("mkdir " .. T.q(d .. "/proj/out") .. " " .. T.q(d .. "/elsewhere"))
    local code, out,
      err = T.sh(("cd %s && %s --store %s run ../proj/build.lua tag=site:dev version=1.2 source=https://x.example")
      :format(T.q(d .. "/elsewhere"), T.q(T.bin), T.q(d .. "/s")))
    assert.equal(0, code, err)
    local img = T.image(d .. "/s", "site:dev")
    assert.truthy(out:find(img.desc.digest, 1, true))
    assert.same({ version = "1.2", ["org.opencontainers.image.source"] = "https://x.example" },
      img.config.config.Labels)
    assert.same({ "/bin/httpd" }, img.config.config.Entrypoint)
    assert.same({ "PORT=8080" }, img.config.config.Env)
    assert.same({ ["80/tcp"] = {} }, img.config.config.ExposedPorts)
    assert.is_true(T.exists(d .. "/proj/out/site.tar"))
    assert.is_false(T.exists(d .. "/elsewhere/out"))
  end)

  it("builds the same image as `ocibuild build` for the same directory", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/site/a.txt", "a")
    T.write(d .. "/b.lua", 'return require("ocibuild").build { context = "site", tag = "same:1" }')
    local c1, o1, e1 = T.ocibuild("--store", d .. "/s1", "run", d .. "/b.lua")
    local c2, o2, e2 = T.ocibuild("--store", d .. "/s2", "build", d .. "/site", "-t", "same:1")
    assert.equal(0, c1, e1)
    assert.equal(0, c2, e2)
    assert.equal(o1:match("digest:%s+(sha256:%x+)"), o2:match("digest:%s+(sha256:%x+)"))
  end)

  it("reports a script's syntax error as ocibuild: FILE:LINE: message, exit 1", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/bad.lua", "local x = \nlocal oci = require 'ocibuild'\nthis is not lua\n")
    local code, out, err = T.sh(("cd %s && %s --store s run bad.lua"):format(T.q(d), T.q(T.bin)))
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("^ocibuild: bad%.lua:%d+: [^\n]+\n$", err)
    assert.is_false(T.exists(d .. "/s"))
  end)

  it("reports an API misuse at the script's own line", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/b.lua", "local oci = require 'ocibuild'\nlocal img = oci.image()\nimg:layer { context = 'nope' }\n")
    local code, _, err = T.sh(("cd %s && %s --store s run b.lua"):format(T.q(d), T.q(T.bin)))
    assert.equal(1, code)
    assert.equal(("ocibuild: b.lua:3: context %s/nope does not exist\n"):format(d), err)
  end)

  it("refuses args that are not name=value (exit 2)", function()
    local code, _, err = T.ocibuild("run", "x.lua", "novalue")
    assert.equal(2, code)
    assert.equal("ocibuild: bad argument \"novalue\": expected name=value (see 'ocibuild run --help')\n", err)
  end)
end)

describe("require \"ocibuild\" from plain lua5.4", function()
  it("builds an image with the module found through LUA_PATH/LUA_CPATH", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/f.txt", "from lua")
    T.write(d .. "/app.lua", [[
local oci = require "ocibuild"
local r = oci.build { context = arg[1], tag = "lib:1", store = arg[2], labels = { via = "lua5.4" } }
print(r.digest, r.image_id, r.size, r.path)
]])
    local cmd = ("cd %s && LUA_PATH=%s LUA_CPATH=%s lua5.4 app.lua ctx s"):format(T.q(d),
      T.q(T.root .. "/lua/?.lua;" .. T.root .. "/lua/?/init.lua;;"), T.q(T.build .. "/lib/?.so;;"))
    local out = T.must(cmd)
    local digest, id, size, path = out:match("^(sha256:%x+)\t(sha256:%x+)\t(%d+)\t(%S+)\n$")
    assert.equal(d .. "/s", path)
    local img = T.image(d .. "/s", "lib:1")
    assert.equal(img.desc.digest, digest)
    assert.equal(img.manifest.config.digest, id)
    assert.is_true(tonumber(size) > 0)
    assert.same({ via = "lua5.4" }, img.config.config.Labels)
  end)
end)
