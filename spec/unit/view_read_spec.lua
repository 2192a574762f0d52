-- ocibuild.build.view's read and ocibuild.build.perm's owners as a
-- --chown by name uses them on a base image: one read of a base layer for
-- /etc/passwd and /etc/group together, a hostile /etc/passwd parsed in
-- linear time.
local T = require "support"
local core = require "ocibuild.core"
local perm = require "ocibuild.build.perm"
local view = require "ocibuild.build.view"

describe("ocibuild.build.view", function()
  it("reads /etc/passwd and /etc/group of a base layer in one pass over the layer", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n")
    T.write(d .. "/ctx/etc/group", "root:x:0:\nstaff:x:1002:\n")
    T.write(d .. "/ctx/usr/other", "other\n")
    local r = assert(T.layer(d .. "/ctx", d .. "/s", { kind = "gzip" }))
    local st = { core = assert(core.store(d .. "/s")) }
    local v = view.new()
    v:add_base_layer({ { p = "etc", t = "d" }, { p = "etc/group", t = "f" }, { p = "etc/passwd", t = "f" },
      { p = "usr", t = "d" }, { p = "usr/other", t = "f" } }, r.digest)
    local reads, real = 0, core.tar_reader
    core.tar_reader = function(...)
      reads = reads + 1
      return real(...)
    end
    local ok, err = pcall(function()
      local uid, gid = perm.owner("app:staff", function(kind) return v:read({ "etc", kind }, st) end, true)
      assert.same({ 1000, 1002 }, { uid, gid })
      assert.equal(1, reads)
      assert.equal("other\n", v:read({ "usr", "other" }, st))
      assert.equal(2, reads)
      assert.equal("root:x:0:\nstaff:x:1002:\n", v:read({ "etc", "group" }, st))
      assert.equal(2, reads)
    end)
    core.tar_reader = real
    assert(ok, err)
  end)

  it("says why a base's /etc/passwd cannot be read, rather than that there is none", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/etc/passwd", ("#"):rep(200) .. "\napp:x:1000:1000::/:/bin/sh\n")
    local r = assert(T.layer(d .. "/ctx", d .. "/s", { kind = "gzip" }))
    local st = { core = assert(core.store(d .. "/s")) }
    local v = view.new()
    v:add_base_layer({ { p = "etc", t = "d" }, { p = "etc/passwd", t = "f" } }, r.digest)
    local uid, err = perm.owner("app", function(kind) return v:read({ "etc", kind }, st, 100) end, true)
    assert.is_nil(uid)
    assert.equal('cannot read the image\'s /etc/passwd to find user "app" in: it has more than 100 bytes', err)
  end)
end)

describe("ocibuild.build.perm", function()
  it("parses a passwd line of a million spaces in linear time, the first line of a name winning", function()
    local text = "a" .. (" "):rep(1000000) .. "b:x:7:7\napp:x:5:6::/:/bin/sh\napp:x:8:8\n" .. ("\t"):rep(1000) .. "\n"
    local db = perm.parse_db(text, "passwd")
    assert.same({ id = 5, gid = 6 }, db.app)
    assert.same({ id = 7, gid = 7 }, db["a" .. (" "):rep(1000000) .. "b"])
  end)
end)
