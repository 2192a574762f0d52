-- The one grammar of image places (ocibuild.locate), as every
-- verb reads it: what each form names, what stays a name of the store,
-- and what is refused before anything is read or written.
local locate = require "ocibuild.locate"

local KNOWN = "the known ones are store:, oci:, oci-archive:, docker-archive:, docker://"

describe("ocibuild.locate", function()
  describe("parse()", function()
    it("reads each transport, a path and its tag", function()
      local function kind(s, opts)
        local loc = assert(locate.parse(s, opts))
        return { loc.kind, loc.path or loc.name or loc.ref.normalized, loc.tag }
      end
      assert.same({ "oci", "/tmp/lay", "v1" }, kind("oci:/tmp/lay:v1"))
      assert.same({ "oci", "rel/lay" }, kind("oci:rel/lay"))
      assert.same({ "oci-archive", "a.tar", "site:dev" }, kind("oci-archive:a.tar:site:dev"))
      assert.same({ "docker-archive", "/x/d.tar", "team/app:1" }, kind("docker-archive:/x/d.tar:team/app:1"))
      assert.same({ "registry", "reg.example:5000/team/app:1" }, kind("docker://reg.example:5000/team/app:1"))
      assert.same({ "registry", "docker.io/library/alpine:latest" }, kind("docker://alpine"))
      assert.same({ "store", "site:dev" }, kind("store:site:dev"))
    end)

    it("keeps names of the store names: name:tag, host:port/name, digests and ID prefixes", function()
      for _, s in ipairs { "site:dev", "site", "localhost:5000/team/app:1", "reg.example:443/a/b",
        "sha256:" .. ("a"):rep(64), "0a1b2c3d", "team/app@sha256:" .. ("b"):rep(64), "docker.io/library/x:1" } do
        local loc = assert(locate.parse(s))
        assert.same({ "store", s }, { loc.kind, loc.name }, s)
      end
    end)

    it("takes a name with a registry host for that registry where a registry is meant", function()
      assert.equal("registry", assert(locate.parse("reg.example/team/app:1", { bare = "auto" })).kind)
      assert.equal("store", assert(locate.parse("team/app:1", { bare = "auto" })).kind)
      assert.equal("registry", assert(locate.parse("team/app:1", { bare = "registry" })).kind)
      assert.same({ nil, 'invalid reference "Bad/App": repository name "App" must be lowercase '
        .. '(try "bad/app")', "BADREF" }, { locate.parse("Bad/App", { bare = "registry" }) })
    end)

    it("takes a word without a transport for a file where a file is meant", function()
      local loc = assert(locate.parse("out.tar", { bare = "file" }))
      assert.same({ "oci-archive", "out.tar" }, { loc.kind, loc.path })
    end)

    it("refuses a transport it does not know, naming the known ones and the nearest", function()
      for _, c in ipairs {
        { "tarball:/tmp/x.tar", nil, '"tarball:/tmp/x.tar": unknown transport "tarball:": ' .. KNOWN },
        { "oci-archiv:x.tar", nil, '"oci-archiv:x.tar": unknown transport "oci-archiv:" (did you mean '
          .. '"oci-archive:"?): ' .. KNOWN },
        { "dockr:x", nil, '"dockr:x": unknown transport "dockr:" (did you mean "docker://"?): ' .. KNOWN },
        -- where a file is meant, any word: is a transport
        { "foo:bar.tar", { bare = "file" }, '"foo:bar.tar": unknown transport "foo:": ' .. KNOWN },
        { "docker:x/y", nil, '"docker:x/y": docker: needs //, as docker://HOST/NAME[:TAG]' },
        { "oci:", nil, '"oci:": oci: needs a folder, as oci:DIR[:TAG]' },
        { "docker-archive::t", nil, '"docker-archive::t": docker-archive: needs a file, as docker-archive:FILE[:TAG]' },
        { "store:", nil, '"store:": store: needs a name, as store:NAME[:TAG]' },
      } do
        assert.same({ nil, c[3], "BADREF" }, { locate.parse(c[1], c[2]) }, c[1])
      end
      -- a name:tag of the store stays one, even where a file is not meant
      assert.equal("store", assert(locate.parse("foo:bar.tar")).kind)
    end)

    it("refuses what is no place at all", function()
      assert.same({ nil, "an image location is needed", "BADREF" }, { locate.parse("") })
      assert.same({ nil, "an image location is needed", "BADREF" }, { locate.parse(nil) })
    end)
  end)
end)
