-- Fuzz check for what signatures and SBOMs read from images (hostile
-- bytes all): base64, PEM keys, signature payloads, zip archives (JARs),
-- ELF files (Go build information), package databases and metadata,
-- raw deflate, windows a layer catalog keeps from Go binaries, catalog
-- records (a store's notes). Nothing raises; base64 decodes back to what
-- encodes it; zip entries stay within the archive.
local catalog = require "ocibuild.attest.catalog"
local core = require "ocibuild.core"
local golang = require "ocibuild.attest.detect.golang"
local simplesign = require "ocibuild.attest.simplesign"
local zip = require "ocibuild.attest.detect.zip"

local detectors = {}
for _, n in ipairs { "os", "dpkg", "apk", "python", "node", "golang", "maven" } do
  detectors[#detectors + 1] = require("ocibuild.attest.detect." .. n)
end

return function(s)
  local raw = core.base64_decode(s)
  if raw then assert(core.base64_decode(core.base64_encode(raw)) == raw, "base64 does not round-trip") end
  core.key_load(s, { name = "fuzz" })
  core.key_load(s, { name = "fuzz", public = true })
  core.key_load(s, { name = "fuzz", password = "pw" })
  simplesign.read_payload(s)
  core.inflate(s, 1 << 20)
  local entries = zip.entries(s)
  for i, e in ipairs(entries or {}) do
    if i > 16 then break end
    local body = zip.read(s, e, 1 << 20)
    assert(body == nil or #body <= 1 << 20, "zip entry past its bound")
  end
  golang.parse_window(s)
  catalog.entries(s)
  catalog.files { { digest = "sha256:" .. ("0"):rep(64), records = s, packages = {}, warnings = {} } }
  local ctx = {}
  for _, d in ipairs(detectors) do
    d.parse("fuzz", s, { cut = false, ctx = ctx, info = { mode = 493, size = #s, type = "file" } })
  end
end
