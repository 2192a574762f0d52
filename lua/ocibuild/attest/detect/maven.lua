--- Java packages: the META-INF/maven/GROUP/ARTIFACT/pom.properties of
-- JARs (and WARs, EARs), read from the archive's central directory, and
-- of the JARs inside them one level down (Spring Boot's BOOT-INF/lib);
-- purl pkg:maven/<groupId>/<artifactId>@<version>.
local purl = require "ocibuild.attest.purl"
local zip = require "ocibuild.attest.detect.zip"

local M = { name = "maven" }

local MAX = 64 << 20
local MAX_PROPS = 64 << 10

function M.wants(path)
  if path:match("%.[jwe]ar$") then return MAX end
end

local function properties(text)
  local t = {}
  for line in text:gmatch("[^\r\n]+") do
    local k, v = line:match("^%s*([^#!=:%s][^=:]-)%s*[=:]%s*(.-)%s*$")
    if k then t[k] = v end
  end
  return t
end

local function scan(data, where, out, depth)
  local entries, err, code = zip.entries(data)
  if not entries then return nil, err, code end
  for _, e in ipairs(entries) do
    if e.name:match("^META%-INF/maven/[^/]+/[^/]+/pom%.properties$") then
      local text = zip.read(data, e, MAX_PROPS)
      local p = text and properties(text)
      if p and p.groupId and p.artifactId and p.version then
        out[#out + 1] = { type = "maven", namespace = p.groupId, name = p.artifactId, version = p.version,
          inner = depth > 0 and where or nil }
      end
    elseif depth == 0 and e.name:match("%.jar$") and e.size <= MAX then
      local inner = zip.read(data, e, MAX)
      if inner then scan(inner, e.name, out, 1) end -- an inner archive that is not one: no packages
    end
  end
  return out
end

function M.parse(path, data, opts)
  if opts.cut then return nil, ("larger than %d MiB: not read"):format(MAX >> 20), "TOOBIG" end
  return scan(data, path, {}, 0)
end

function M.purl(p)
  return purl.build { type = "maven", namespace = p.namespace, name = p.name, version = p.version }
end

return M
