--- CycloneDX 1.5 JSON: the image as metadata.component (type container,
-- purl pkg:oci/...), each package found a component (library, or
-- application for a Go main module) with its purl, declared licence and
-- where it was found (properties ocibuild:layer and ocibuild:path), and
-- the image depending on all of them. Canonical and reproducible: the
-- serial number is derived from the content, never random. Never fails.
local common = require "ocibuild.attest.sbom.common"
local json = require "ocibuild.oci.json"
local license = require "ocibuild.attest.license"

local M = {}

M.PREDICATE_TYPE = "https://cyclonedx.org/bom"

local function licenses(text)
  local l = license.declared(text)
  if not l then return nil end
  if l.expression then return json.array { json.object { expression = l.expression } } end
  return json.array { json.object { license = json.object { name = l.text } } }
end

local function component(p)
  local c = json.object { type = p.main and "application" or "library", ["bom-ref"] = common.id(p), name = p.name,
    purl = p.purl, licenses = licenses(p.license) }
  if p.namespace and p.type == "maven" then c.group = p.namespace end
  if p.version and p.version ~= "" then c.version = p.version end
  local props = json.array { json.object { name = "ocibuild:path", value = p.path } }
  if p.layer then props[2] = json.object { name = "ocibuild:layer", value = p.layer } end
  c.properties = props
  return c
end

-- A UUID (RFC 9562 version 8: custom) made from the hex digest h.
local function uuid(h)
  local variant = ("%x"):format(8 | (tonumber(h:sub(17, 17), 16) & 3))
  local v = h:sub(1, 12) .. "8" .. h:sub(14, 16) .. variant .. h:sub(18, 32)
  return ("%s-%s-%s-%s-%s"):format(v:sub(1, 8), v:sub(9, 12), v:sub(13, 16), v:sub(17, 20), v:sub(21, 32))
end

--- The BOM's bytes; spec as for ocibuild.attest.sbom.spdx.
function M.document(spec)
  local img = spec.image
  local root = json.object { type = "container", ["bom-ref"] = "image", name = img.name or img.digest,
    version = img.digest, purl = img.purl,
    hashes = json.array { json.object { alg = "SHA-256", content = img.digest:match("%x+$") } } }
  local comps, deps = json.array {}, json.array {}
  for i, p in ipairs(common.unique(spec.packages)) do
    comps[i] = component(p)
    deps[i] = comps[i]["bom-ref"]
  end
  local tool, version = spec.tool:match("^(.-)%-([^-]+)$")
  local bom = json.object {
    bomFormat = "CycloneDX", specVersion = "1.5", version = 1,
    metadata = json.object { timestamp = common.created(spec), component = root,
      tools = json.object { components = json.array { json.object { type = "application", name = tool or spec.tool,
        version = version } } } },
    components = comps,
    dependencies = json.array { json.object { ref = "image", dependsOn = deps } },
  }
  bom.serialNumber = "urn:uuid:" .. uuid(common.hash(json.encode(bom)))
  return json.encode(bom)
end

return M
