-- cosign's simple-signing payload and signature manifest: the bytes
-- written, and the payload read back with the rules containers/image
-- applies (exact fields, optional present, a digest).
local simplesign = require "ocibuild.attest.simplesign"
local json = require "ocibuild.oci.json"

local D = "sha256:" .. ("ab"):rep(32)

describe("ocibuild.attest.simplesign", function()
  describe("tag() and payload()", function()
    it("names the signatures sha256-<hex>.sig and writes the payload canonically", function()
      assert.equal("sha256-" .. ("ab"):rep(32) .. ".sig", simplesign.tag(D))
      assert.equal('{"critical":{"identity":{"docker-reference":"r.example/team/app"},'
        .. '"image":{"docker-manifest-digest":"'
        .. D .. '"},"type":"cosign container image signature"},"optional":null}',
        simplesign.payload("r.example/team/app", D))
      assert.equal('{"critical":{"identity":{"docker-reference":"x/y"},"image":{"docker-manifest-digest":"' .. D
        .. '"},"type":"cosign container image signature"},"optional":{"creator":"ocibuild 1"}}',
        simplesign.payload("x/y", D, { creator = "ocibuild 1" }))
    end)
  end)

  describe("read_payload()", function()
    it("gives the claims of a payload, ours or cosign's", function()
      local c = assert(simplesign.read_payload(simplesign.payload("x/y", D, { creator = "c" })))
      assert.same({ "x/y", D, "cosign container image signature", "c" }, { c.identity, c.digest, c.type,
        c.optional.creator })
      c = assert(simplesign.read_payload('{"optional":{"timestamp":1700000000,"other":[1]},"critical":{"type":'
        .. '"cosign container image signature","image":{"docker-manifest-digest":"' .. D
        .. '"},"identity":{"docker-reference":"q"}}}'))
      assert.equal(1700000000, c.optional.timestamp)
    end)

    it("refuses what containers/image refuses, saying why", function()
      local function refused(text, why)
        local v, m, code = simplesign.read_payload(text)
        assert.same({ nil, why, "BADPAYLOAD" }, { v, m, code })
      end
      local crit = '"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"' .. D
        .. '"},"type":"cosign container image signature"}'
      refused("{" .. crit .. "}", 'payload top level has no "optional"')
      refused("{" .. crit .. ',"optional":null,"extra":1}', "payload top level must have exactly critical, optional")
      refused('{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"' .. D
        .. '"},"type":"cosign container image signature","x":1},"optional":null}',
        "payload critical must have exactly identity, image, type")
      refused('{"critical":{"image":{"docker-manifest-digest":"' .. D .. '"},"type":"t"},"optional":null}',
        'payload critical has no "identity"')
      refused("{" .. crit:gsub("cosign container image signature", "other") .. ',"optional":null}',
        'payload critical.type is "other", not "cosign container image signature"')
      refused("{" .. crit:gsub(D, "sha256:abc") .. ',"optional":null}',
        "payload critical.image.docker-manifest-digest is not a sha256 digest")
      refused("{" .. crit:gsub('"x"', "7") .. ',"optional":null}',
        "payload critical.identity.docker-reference must be a string")
      refused("{" .. crit .. ',"optional":"x"}', "payload optional must be an object or null")
      refused("{" .. crit .. ',"optional":{"timestamp":1.5}}', "payload optional.timestamp must be an integer")
      refused("{" .. crit .. ',"optional":{"creator":1}}', "payload optional.creator must be a string")
      local v, m, code = simplesign.read_payload("{" .. crit .. ',"optional":null,"optional":null}')
      assert.is_nil(v)
      assert.equal("BADPAYLOAD", code)
      assert.matches("duplicate", m)
      v, m, code = simplesign.read_payload("not json")
      assert.same({ nil, "BADPAYLOAD" }, { v, code })
      assert.matches("^payload: invalid JSON", m)
    end)
  end)

  describe("layer() and manifest()", function()
    it("make one layer per signature and a config listing them", function()
      local l1 = simplesign.layer("p1", "\1\2\3")
      local l2 = simplesign.layer("p2", "\4")
      assert.equal(simplesign.MEDIA_TYPE, l1.mediaType)
      assert.equal("AQID", l1.annotations[simplesign.ANNOTATION])
      assert.equal(2, l1.size)
      local text, config, cdesc = simplesign.manifest { l1, l2 }
      local m = json.decode(text)
      assert.equal("application/vnd.oci.image.manifest.v1+json", m.mediaType)
      assert.same({ m.config.mediaType, m.config.digest, m.config.size }, { cdesc.mediaType, cdesc.digest, cdesc.size })
      assert.equal(#config, cdesc.size)
      assert.same({ l1.digest, l2.digest }, { m.layers[1].digest, m.layers[2].digest })
      assert.equal('{"architecture":"","config":{},"os":"","rootfs":{"diff_ids":["' .. l1.digest .. '","' .. l2.digest
        .. '"],"type":"layers"}}', config)
      assert.is_true(simplesign.same(m.layers[2], l2))
      assert.is_false(simplesign.same(m.layers[1], l2))
      assert.truthy(simplesign.read_manifest(text, "sig"))
    end)

    it("file each signature under a tag of its own, named by its signature annotation", function()
      local d = "sha256:" .. ("ab"):rep(32)
      local l1, l1b = simplesign.layer("p1", "\1\2\3"), simplesign.layer("p2", "\1\2\3")
      local l2 = simplesign.layer("p1", "\4")
      local t = simplesign.own_tag(d, l1)
      assert.equal(("sha256-" .. ("ab"):rep(32) .. ".sig."):len() + 20, #t)
      assert.truthy(t:find("^sha256%-" .. ("ab"):rep(32) .. "%.sig%.%x+$"), t)
      -- the same signature bytes over another payload: the same tag; another signature: another
      assert.equal(t, simplesign.own_tag(d, l1b))
      assert.not_equal(t, simplesign.own_tag(d, l2))
      assert.truthy(#t <= 128) -- a tag is at most 128 characters
    end)
  end)
end)
