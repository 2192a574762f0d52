local json = require "ocibuild.oci.json"

describe("ocibuild.oci.json", function()
  describe("encode()", function()
    it("sorts keys bytewise and writes no white space", function()
      assert.equal('{"B":1,"a":2,"aa":3,"b":{"x":[1,2],"y":true}}',
        json.encode { b = { y = true, x = { 1, 2 } }, aa = 3, a = 2, B = 1 })
    end)

    it("escapes only quote, backslash and control characters", function()
      assert.equal('"a/b \\"q\\" \\\\ \\n\\t\\r\\b\\f \\u0001\\u001f \127 é 日本"',
        json.encode("a/b \"q\" \\ \n\t\r\b\f \1\31 \127 é 日本"))
    end)

    it("writes integers as integers and refuses floats", function()
      assert.equal("[0,-5,9007199254740993]", json.encode { 0, -5, 9007199254740993 })
      assert.has_error(function() json.encode { 1.5 } end, "json: only integers can be encoded, got 1.5")
      assert.has_error(function() json.encode { 2.0 } end)
    end)

    it("keeps [] and {} apart through marks, and refuses to guess", function()
      assert.equal('{"a":[],"o":{}}', json.encode { a = json.array(), o = json.object() })
      assert.has_error(function() json.encode { x = {} } end,
        "json: empty table must be marked with json.array or json.object")
    end)

    it("refuses invalid UTF-8 and non-string keys", function()
      assert.has_error(function() json.encode("\255") end)
      assert.has_error(function() json.encode { [true] = 1 } end)
    end)

    it("pins the digest of a known document", function()
      local core = require "ocibuild.core"
      local doc = json.encode {
        schemaVersion = 2, mediaType = "application/vnd.oci.image.manifest.v1+json",
        config = { mediaType = "application/vnd.oci.image.config.v1+json", size = 2,
          digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" },
        layers = json.array(),
      }
      assert.equal('{"config":{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",'
        .. '"mediaType":"application/vnd.oci.image.config.v1+json","size":2},"layers":[],'
        .. '"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}', doc)
      assert.equal("sha256:1a532c454699d73464c8a86e03915be89b826ed24cd326a0442f0a310fd496af",
        (core.sha256():update(doc):digest()))
    end)
  end)

  describe("decode()", function()
    it("gives integers back as integers and marks arrays and objects", function()
      local v = json.decode('{"size":7023,"list":[1,2],"obj":{"k":"v"}}')
      assert.equal("integer", math.type(v.size))
      assert.equal('{"list":[1,2],"obj":{"k":"v"},"size":7023}', json.encode(v))
    end)

    it("reads escapes and surrogate pairs, and refuses what RFC 8259 refuses", function()
      assert.equal('a"\\/\b\f\n\r\té😀', json.decode('"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"'))
      for _, c in ipairs {
        { '"\\ud83d"', "lone surrogate" }, { '"\\ude00"', "lone surrogate" }, { '"\\u12"', "bad \\u escape" },
        { '"\\x"', "bad escape" }, { '"a\nb"', "control character" }, { '"\255"', "not valid UTF-8" },
        { '{"a":1,"a":2}', "duplicate key" }, { "[1,]", "unexpected character" }, { "01", "bad number" },
        { "1 2", "trailing bytes" }, { ("["):rep(70) .. ("]"):rep(70), "nesting deeper than 64" },
        { "99999999999999999999", "integer out of range" }, { '{"a" 1}', "expected ':'" },
      } do
        local v, err, code = json.decode(c[1], "t")
        assert.is_nil(v, c[1])
        assert.equal("BADJSON", code)
        assert.truthy(err:find(c[2], 1, true), err)
      end
    end)

    it("takes DEL unescaped (RFC 8259 asks only U+0000 to U+001F escaped), as the encoder writes it", function()
      assert.equal("a\127b", json.decode('"a\127b"'))
      assert.equal("\127x\127", json.decode(json.encode("\127x\127")))
      for b = 0, 31 do
        local v, err, code = json.decode('"a' .. string.char(b) .. 'b"', "t")
        assert.same({ nil, "BADJSON" }, { v, code })
        assert.truthy(err:find("control character", 1, true), err)
      end
    end)

    it("keeps its marks out of reach, and fills tables raw: a changed mark sees nothing decoded", function()
      local a, o = json.decode("[1]"), json.decode("{}")
      assert.equal("ocibuild.json.array", getmetatable(a))
      assert.equal("ocibuild.json.object", getmetatable(o))
      assert.has_error(function() setmetatable(o, {}) end, "cannot change a protected metatable")
      -- marking again, or the other way, still works
      assert.equal("[]", json.encode(json.array(json.object(json.array()))))
      assert.has_error(function() json.array("s") end, "json: only a table can be marked, got a string")
      local seen = {}
      local function spy(_, k, v) seen[#seen + 1] = tostring(k) rawset(_, k, v) end
      local marks = { debug.getmetatable(a), debug.getmetatable(o) }
      for _, mt in ipairs(marks) do mt.__newindex = spy end
      local ok, v = pcall(json.decode, '{"auths":{"h":{"auth":"c2VjcmV0"}},"l":["x"]}')
      for _, mt in ipairs(marks) do mt.__newindex = nil end
      assert.is_true(ok, v)
      assert.same({}, seen)
      assert.equal("c2VjcmV0", v.auths.h.auth)
    end)

    it("plain: no marks at all (secrets share no metatable)", function()
      local v = json.decode('{"auths":{"h":{"auth":"x"}},"l":[1],"e":{}}', "t", { plain = true })
      assert.is_nil(debug.getmetatable(v))
      assert.is_nil(debug.getmetatable(v.auths.h))
      assert.is_nil(debug.getmetatable(v.l))
      assert.same({ auths = { h = { auth = "x" } }, l = { 1 }, e = {} }, v)
    end)

    it("returns nil and a message naming the input on bad JSON", function()
      local v, err = json.decode("{", "index.json")
      assert.is_nil(v)
      assert.matches("^index%.json: invalid JSON", err)
    end)
  end)
end)
