-- core.http against real servers (docker-registry on loopback, plain and
-- TLS): bodies from store blobs, answers into store blobs published only
-- under the right digest, requests side by side, and failures as codes.
local core = require "ocibuild.core"
local R = require "support.registry"
local T = require "support"

local ZERO = "sha256:" .. ("0"):rep(64)

-- Waits for req (the only one in flight, or among those of list).
local function finish(c, req)
  while not req:info().done do c:wait(1) end
  return req:result()
end

local function run(c, spec)
  local req, err, code = c:start(spec)
  if not req then return nil, err, code end
  return finish(c, req)
end

local store, put = T.core_store, T.put_blob

local function temps(dir) return T.must("ls -A " .. T.q(dir .. "/.ocibuild-tmp")) end

describe("ocibuild.core", function()
  describe("http()", function()
    local reg, tls

    setup(function()
      if R.available {} then reg = R.start {} end
      if R.available { tls = true } then tls = R.start { tls = true } end
    end)

    teardown(function()
      if reg then reg.stop() end
      if tls then tls.stop() end
    end)

    it("answers status, headers by lower-case name, and the body", function()
      if not reg then return pending("docker-registry is not installed") end
      local c = assert(core.http {})
      local res = assert(run(c, { url = reg.url .. "/v2/" }))
      assert.equal(200, res.status)
      assert.equal("{}", res.body)
      assert.equal("registry/2.0", res.headers["docker-distribution-api-version"])
      assert.equal(reg.url .. "/v2/", res.url)
      res = assert(run(c, { method = "HEAD", url = reg.url .. "/v2/no/such/blobs/" .. ZERO }))
      assert.equal(404, res.status)
      assert.equal("", res.body)
      c:close()
      c:close()
    end)

    it("sends a store blob, verified as it goes; fetches one into a store, verified", function()
      if not reg then return pending("docker-registry is not installed") end
      local src = store(finally)
      local dst, ddir = store(finally)
      local data = ("0123456789abcdef"):rep(200000) -- 3.2 MB: curl asks for 100-continue
      local digest, size = put(src, data)
      local c = assert(core.http {})
      local res = assert(run(c, { method = "POST", url = reg.url .. "/v2/core/blob/blobs/uploads/" }))
      assert.equal(202, res.status)
      local loc = res.headers.location
      res = assert(run(c, { method = "PUT", url = loc .. "&digest=" .. digest,
        headers = { "Content-Type: application/octet-stream" }, blob = { store = src, digest = digest, size = size } }))
      assert.equal(201, res.status)
      assert.equal(digest, res.headers["docker-content-digest"])

      res = assert(run(c, { url = reg.url .. "/v2/core/blob/blobs/" .. digest, into = { store = dst,
        digest = digest } }))
      assert.same({ 200, digest, size, "" }, { res.status, res.digest, res.size, res.body })
      assert.equal(data, T.read(ddir .. "/blobs/sha256/" .. digest:sub(8)))
      assert.equal("", temps(ddir))

      -- a byte range of a blob (not its end: nothing to check)
      res = assert(run(c, { method = "POST", url = reg.url .. "/v2/core/blob/blobs/uploads/" }))
      local part = data:sub(11, 20)
      local pdigest = core.sha256():update(part):digest()
      res = assert(run(c, { method = "PUT", url = res.headers.location .. "&digest=" .. pdigest,
        blob = { store = src, digest = digest, offset = 10, length = 10 } }))
      assert.equal(201, res.status)
    end)

    it("stops a damaged store blob before its last byte, whole or in ranges", function()
      if not reg then return pending("docker-registry is not installed") end
      local src, sdir = store(finally)
      local data = ("0123456789abcdef"):rep(100000)
      local digest, size = put(src, data)
      local file = sdir .. "/blobs/sha256/" .. digest:sub(8)
      local bad = data:sub(1, 999) .. "X" .. data:sub(1001)
      T.must("chmod u+w " .. T.q(file))
      T.write(file, bad)
      local got = core.sha256():update(bad):digest()
      local why = ("CORRUPT: store blob %s is damaged: its bytes hash to %s"):format(digest, got)
      local c = assert(core.http {})
      local loc = assert(run(c, { method = "POST", url = reg.url .. "/v2/core/dmg/blobs/uploads/" })).headers.location
      local req = assert(c:start { method = "PUT", url = loc .. "&digest=" .. digest, blob = { store = src,
        digest = digest } })
      assert.same({ nil, why, "CORRUPT" }, { finish(c, req) })
      -- the last bytes never left
      assert.is_true(req:info().sent < size)

      -- consecutive ranges through one hasher: the range that ends the blob
      -- stops, the ones before go
      loc = assert(run(c, { method = "POST", url = reg.url .. "/v2/core/dmg/blobs/uploads/" })).headers.location
      local hasher = core.sha256()
      local half = size // 2
      local res = assert(run(c, { method = "PATCH", url = loc, headers = { ("Content-Range: 0-%d"):format(half - 1) },
        blob = { store = src, digest = digest, offset = 0, length = half, hasher = hasher } }))
      assert.equal(202, res.status)
      assert.same({ nil, why, "CORRUPT" }, { run(c, { method = "PATCH", url = res.headers.location,
        headers = { ("Content-Range: %d-%d"):format(half, size - 1) },
        blob = { store = src, digest = digest, offset = half, hasher = hasher } }) })
      -- a range starting past bytes never sent reads them from the file
      assert.same({ nil, why, "CORRUPT" }, { run(c, { method = "PUT", url = reg.url .. "/x",
        blob = { store = src, digest = digest, offset = size - 10, hasher = core.sha256() } }) })
      -- an empty blob whose file is not empty, and the reverse
      local empty = core.sha256():digest()
      T.write(sdir .. "/blobs/sha256/" .. empty:sub(8), "")
      assert.equal(201, assert(run(c, { method = "PUT", url = assert(run(c, { method = "POST",
        url = reg.url .. "/v2/core/dmg/blobs/uploads/" })).headers.location .. "&digest=" .. empty,
        blob = { store = src, digest = empty } })).status)
      local one = core.sha256():update("1"):digest()
      T.write(sdir .. "/blobs/sha256/" .. one:sub(8), "")
      assert.same({ nil, ("CORRUPT: store blob %s is damaged: its bytes hash to %s"):format(one, empty), "CORRUPT" },
        { c:start { method = "PUT", url = reg.url .. "/x", blob = { store = src, digest = one } } })
    end)

    it("never publishes an answer that is not the digest asked for", function()
      if not reg then return pending("docker-registry is not installed") end
      local src = store(finally)
      local dst, ddir = store(finally)
      local digest, size = put(src, "some bytes")
      local c = assert(core.http {})
      local res = assert(run(c, { method = "POST", url = reg.url .. "/v2/core/bad/blobs/uploads/" }))
      assert(run(c, { method = "PUT", url = res.headers.location .. "&digest=" .. digest,
        blob = { store = src, digest = digest, size = size } }))
      assert.same({ nil, ("BADDIGEST: expected %s, got %s"):format(ZERO, digest), "BADDIGEST" },
        { run(c, { url = reg.url .. "/v2/core/bad/blobs/" .. digest, into = { store = dst, digest = ZERO } }) })
      assert.is_false(T.exists(ddir .. "/blobs/sha256/" .. ZERO:sub(8)))
      assert.is_false(T.exists(ddir .. "/blobs/sha256/" .. digest:sub(8)))
      assert.equal("", temps(ddir))
      -- a non-2xx answer stays in memory, and no blob is made
      res = assert(run(c, { url = reg.url .. "/v2/core/bad/blobs/" .. ZERO, into = { store = dst, digest = ZERO } }))
      assert.equal(404, res.status)
      assert.matches("BLOB_UNKNOWN", res.body)
      assert.is_nil(res.digest)
      assert.equal("", temps(ddir))
    end)

    it("writes a range of a blob (206) into a file at an offset; any other answer stays in memory", function()
      if not reg then return pending("docker-registry is not installed") end
      local src = store(finally)
      local dir = T.tmpdir(finally)
      local data = ("0123456789abcdef"):rep(65536) -- 1 MiB
      local digest, size = put(src, data)
      local c = assert(core.http {})
      local loc = assert(run(c, { method = "POST", url = reg.url .. "/v2/core/rng/blobs/uploads/" })).headers.location
      assert.equal(201, assert(run(c, { method = "PUT", url = loc .. "&digest=" .. digest,
        blob = { store = src, digest = digest, size = size } })).status)
      local file = dir .. "/holes"
      T.write(file, ("."):rep(40))
      local url = reg.url .. "/v2/core/rng/blobs/" .. digest
      local res = assert(run(c, { url = url, headers = { "Range: bytes=5-14" },
        into_file = { path = file, offset = 20, size = 10 } }))
      assert.same({ 206, "", 10 }, { res.status, res.body, res.written })
      assert.equal(("."):rep(20) .. "56789abcde" .. ("."):rep(10), T.read(file))
      -- more than asked for is cut off
      assert.same({ nil, "TOOBIG: the answer goes on past the 4 bytes expected: " .. url, "TOOBIG" },
        { run(c, { url = url, headers = { "Range: bytes=0-9" }, into_file = { path = file, offset = 0, size = 4 } }) })
      -- a whole answer (no Range) is not a range: kept in memory, capped
      res = assert(run(c, { url = url, max = 2 << 20, into_file = { path = file, offset = 0, size = 10 } }))
      assert.same({ 200, size, 0 }, { res.status, #res.body, res.written })
      -- only a regular file, never through a link
      T.must("ln -s holes " .. T.q(dir .. "/link"))
      local r, _, code = c:start { url = url, into_file = { path = dir .. "/link" } }
      assert.same({ nil, "ELOOP" }, { r, code })
      r, _, code = c:start { url = url, into_file = { path = dir } }
      assert.is_nil(r)
      assert.truthy(code == "EISDIR" or code == "EINVAL", code)
      c:close()
    end)

    it("caps bodies kept in memory and blobs fetched; checks the size of a blob sent", function()
      if not reg then return pending("docker-registry is not installed") end
      local src = store(finally)
      local dst, ddir = store(finally)
      local digest = put(src, "twelve bytes")
      local c = assert(core.http {})
      local msg = ("TOOBIG: response body over 1 bytes: %s/v2/"):format(reg.url)
      assert.same({ nil, msg, "TOOBIG" }, { run(c, { url = reg.url .. "/v2/", max = 1 }) })
      assert.same({ nil, ("BADSIZE: blob %s has 12 bytes, its descriptor says 13"):format(digest), "BADSIZE" },
        { c:start { method = "PUT", url = reg.url .. "/x", blob = { store = src, digest = digest, size = 13 } } })
      local r, err, code = c:start { method = "PUT", url = reg.url .. "/x", blob = { store = src, digest = ZERO } }
      assert.is_nil(r)
      assert.equal("ENOENT", code)
      assert.matches(ZERO:sub(8), err, 1, true)

      local loc = assert(run(c, { method = "POST", url = reg.url .. "/v2/core/cap/blobs/uploads/" })).headers.location
      assert.equal(201, assert(run(c, { method = "PUT", url = loc .. "&digest=" .. digest,
        blob = { store = src, digest = digest } })).status)
      local url = reg.url .. "/v2/core/cap/blobs/" .. digest
      assert.same({ nil, "TOOBIG: the answer goes on past the 11 bytes expected: " .. url, "TOOBIG" },
        { run(c, { url = url .. "?x=1", into = { store = dst, digest = digest, size = 11 } }) })
      assert.equal("", temps(ddir))
      assert.same({ 200, 12 }, { assert(run(c, { url = url, into = { store = dst, digest = digest,
        size = 12 } })).status,
        T.exists(ddir .. "/blobs/sha256/" .. digest:sub(8)) and 12 })
    end)

    it("runs requests side by side and hands each back when it ends", function()
      if not reg then return pending("docker-registry is not installed") end
      local c = assert(core.http {})
      local reqs = {}
      for i = 1, 4 do reqs[i] = assert(c:start { url = reg.url .. "/v2/side/" .. i .. "/tags/list" }) end
      local seen, n = {}, 0
      while n < 4 do
        for _, r in ipairs(c:wait(1)) do
          seen[r] = true
          n = n + 1
        end
      end
      for i = 1, 4 do
        assert.is_true(seen[reqs[i]])
        assert.equal(404, reqs[i]:result().status)
      end
      assert.same({}, c:wait(0))
      assert.is_number(c:now())
    end)

    it("fails with codes a client can act on", function()
      if not reg then return pending("docker-registry is not installed") end
      local c = assert(core.http { connect_timeout = 5 })
      assert.same({ nil, "ECONNREFUSED: Connection refused: http://127.0.0.1:1/v2/", "ECONNREFUSED" },
        { run(c, { url = "http://127.0.0.1:1/v2/?secret=x" }) })
      local r = assert(c:start { url = "https://" .. reg.host .. "/v2/" })
      local res, err, code = finish(c, r)
      assert.is_nil(res)
      assert.equal("NOTLS", code)
      assert.matches("^NOTLS: .*wrong version number: https://" .. reg.host:gsub("%.", "%%.") .. "/v2/$", err)
      assert.equal("127.0.0.1", r:info().ip)
      assert.has_error(function() c:start { url = reg.url, metod = "GET" } end, "unknown option metod")
      assert.has_error(function() c:start { url = reg.url, headers = { "A: b\r\nC: d" } } end,
        "option headers: no line breaks allowed")
      assert.has_error(function() core.http { insecure = "yes" } end, "option insecure: boolean expected, got string")
    end)

    it("checks TLS against the system, a CA file or PEM text; names what the server presents", function()
      if not tls then return pending("openssl or docker-registry is not installed") end
      local c = assert(core.http {})
      local res, err, code = run(c, { url = tls.url .. "/v2/" })
      assert.is_nil(res)
      assert.equal("X509", code)
      assert.matches("^X509: SSL certificate problem", err)
      res = assert(run(c, { url = tls.url .. "/v2/", insecure = true, certinfo = true }))
      assert.equal(200, res.status)
      local r = assert(c:start { url = tls.url .. "/v2/", insecure = true, certinfo = true })
      finish(c, r)
      assert.matches("Issuer:%s*CN%s*=%s*ocibuild spec CA", r:info().certs)
      c:close()

      c = assert(core.http { ca_file = tls.ca })
      assert.equal(200, assert(run(c, { url = tls.url .. "/v2/" })).status)
      c = assert(core.http { ca_pem = T.read(tls.ca) })
      assert.equal(200, assert(run(c, { url = tls.url .. "/v2/" })).status)
      c = assert(core.http { insecure = true })
      assert.equal(200, assert(run(c, { url = tls.url .. "/v2/" })).status)
    end)
  end)
end)
