-- ocibuild.attest.catalog: an image's packages and files as its file
-- system shows them, from each layer's analysis (whiteouts, opaque
-- folders and later entries hide what is below), and a rebuild's analysis
-- made of what it read and what it kept from the earlier blob's note.
local T = require "support"

local catalog = require "ocibuild.attest.catalog"
local store = require "ocibuild.store"

local function rec(t, path, o)
  o = o or {}
  return ("%s%d %d %s %s\t%s\0%s\0"):format(t, o.size or 1, o.mode or 420, o.sha256 or "-", o.sha1 or "-", path,
    o.link or "")
end

local function hex(c, n) return c:rep(n) end

local function layer(digest, records, packages, os)
  return { digest = digest, records = table.concat(records), packages = packages or {}, os = os, warnings = {} }
end

local function pkg(name, path, detector)
  return { type = detector == "dpkg" and "deb" or "pypi", name = name, version = "1", path = path,
    detector = detector or "python" }
end

local function names(found)
  local t = {}
  for _, p in ipairs(found.packages) do t[#t + 1] = p.name end
  table.sort(t)
  return t
end

describe("ocibuild.attest.catalog", function()
  describe("packages()", function()
    it("drops a package whose file a later layer removes, replaces, or hides under an opaque folder", function()
      local l1 = layer("sha256:" .. hex("1", 64), {
        rec("f", "var/lib/dpkg/status"), rec("f", "app/a.dist-info/METADATA"), rec("f", "app/b.dist-info/METADATA"),
        rec("f", "opt/c.dist-info/METADATA"), rec("f", "keep/d.dist-info/METADATA"),
      }, { pkg("libc6", "/var/lib/dpkg/status", "dpkg"), pkg("a", "/app/a.dist-info/METADATA"),
        pkg("b", "/app/b.dist-info/METADATA"), pkg("c", "/opt/c.dist-info/METADATA"),
        pkg("d", "/keep/d.dist-info/METADATA") }, { id = "debian", version_id = "12" })
      local l2 = layer("sha256:" .. hex("2", 64), {
        rec("f", "app/.wh.a.dist-info"),        -- a gone
        rec("f", "opt/.wh..wh..opq"),           -- c hidden
        rec("f", "var/lib/dpkg/status"),        -- replaced: its packages are this layer's
      }, { pkg("libc6-new", "/var/lib/dpkg/status", "dpkg") })
      local found = catalog.packages { l1, l2 }
      assert.same({ "b", "d", "libc6-new" }, names(found))
      for _, p in ipairs(found.packages) do
        if p.name == "libc6-new" then
          assert.equal("pkg:deb/debian/libc6-new@1?distro=debian-12", p.purl)
          assert.equal(l2.digest, p.layer or l2.digest)
        end
      end
      -- the analyses themselves are left as they were
      assert.is_nil(l1.packages[1].purl)
    end)
  end)

  describe("files()", function()
    it("lists the regular files the image shows, each with the digests of the layer it comes from", function()
      local a, b = hex("a", 64), hex("b", 64)
      local l1 = layer("sha256:" .. hex("1", 64), {
        rec("d", "etc"), rec("f", "etc/passwd", { sha256 = a, sha1 = hex("a", 40), size = 10 }),
        rec("f", "etc/gone", { sha256 = a, sha1 = hex("a", 40) }),
        rec("f", "srv/x/old", { sha256 = a, sha1 = hex("a", 40) }),
        rec("f", "data/f", { sha256 = a, sha1 = hex("a", 40) }),
        rec("f", "lib/one", { sha256 = b, sha1 = hex("b", 40), size = 7 }),
        rec("h", "lib/two", { link = "lib/one" }),
        rec("l", "lib/sym", { link = "one" }),
      })
      local l2 = layer("sha256:" .. hex("2", 64), {
        rec("f", "etc/.wh.gone"),
        rec("f", "srv/x/.wh..wh..opq"), rec("f", "srv/x/new", { sha256 = b, sha1 = hex("b", 40) }),
        rec("f", "data", { sha256 = b, sha1 = hex("b", 40) }), -- a file where a folder was
        rec("f", "etc/passwd", { sha256 = b, sha1 = hex("b", 40), size = 20 }),
      })
      local files = catalog.files { l1, l2 }
      local got = {}
      for _, f in ipairs(files) do got[#got + 1] = ("%s %s %d %s"):format(f.path, f.sha256:sub(1, 1), f.size,
        f.layer:sub(8, 8)) end
      assert.same({ "/data b 1 2", "/etc/passwd b 20 2", "/lib/one b 7 1", "/lib/two b 7 1", "/srv/x/new b 1 2" },
        got)
    end)
  end)

  describe("layer()", function()
    local d, st, settings
    before_each(function()
      d = T.tmpdir()
      st = assert(store.open(d .. "/s", { create = true }))
      settings = assert(catalog.settings(true))
    end)
    after_each(function() T.sh("rm -rf " .. T.q(d)) end)

    it("takes what a rebuild kept unread from the earlier blob's note, its packages with it", function()
      local old, new = "sha256:" .. hex("0", 64), "sha256:" .. hex("9", 64)
      local s = hex("c", 64)
      assert(catalog.layer(st, { digest = old, catalog = table.concat {
        rec("f", "etc/os-release", { sha256 = s, sha1 = hex("c", 40) }),
        rec("f", "var/lib/dpkg/status", { sha256 = s, sha1 = hex("c", 40), size = 99 }),
        rec("f", "app/x.dist-info/METADATA", { sha256 = s, sha1 = hex("c", 40) }) } },
        { packages = { pkg("libc6", "/var/lib/dpkg/status", "dpkg"), pkg("x", "/app/x.dist-info/METADATA") },
          os = { id = "debian", version_id = "12", from = "etc/os-release" }, warnings = {} }, settings))
      -- the rebuild read only the METADATA again (a new version in it), kept the rest
      local a = assert(catalog.layer(st, { digest = new, prior = old, catalog = table.concat {
        rec("k", "etc/os-release"), rec("k", "var/lib/dpkg/status"),
        rec("f", "app/x.dist-info/METADATA", { sha256 = hex("d", 64), sha1 = hex("d", 40) }),
        rec("k", "app/lost") } },
        { packages = { pkg("x2", "/app/x.dist-info/METADATA") }, warnings = {} }, settings))
      local by = {}
      catalog.each(a.records, function(t, size, _, s256, _, p) by[p] = { t, size, s256:sub(1, 1) } end)
      assert.same({ "f", 99, "c" }, by["var/lib/dpkg/status"])
      assert.same({ "f", 1, "d" }, by["app/x.dist-info/METADATA"])
      assert.same({ "f", 0, "-" }, by["app/lost"])
      assert.same({ "/app/lost: the earlier build's catalog does not list it" }, a.warnings)
      assert.same({ "libc6", "x2" }, names(catalog.packages { a }))
      assert.equal("debian", a.os.id)
      -- and the new blob's note holds it all
      local again = assert(catalog.noted(st, new, settings))
      assert.equal(a.records, again.records)
      assert.same({ "libc6", "x2" }, names(catalog.packages { again }))
    end)

    it("fails, naming the layer, when the earlier blob's note is gone (the build then reads the layer whole)",
      function()
      local ok, err, code = catalog.layer(st, { digest = "sha256:" .. hex("9", 64), prior = "sha256:" .. hex("8", 64),
        catalog = rec("k", "a") }, { packages = {}, warnings = {} }, settings)
      assert.same({ nil, ("layer sha256:%s: entries were kept from an earlier build whose catalog is gone")
        :format(hex("9", 64)), "ENOENT" }, { ok, err, code })
    end)
  end)
end)
