--- SPDX 2.3 JSON: the image as the root package (purl pkg:oci/..., its
-- manifest digest as a SHA256 checksum), DESCRIBES from the document and
-- CONTAINS to each package found, each with its purl, declared licence
-- (an SPDX expression, or free text as a LicenseRef with its text) and
-- where it was found (sourceInfo). Canonical and reproducible: the same
-- packages and time give the same bytes; the namespace is derived from
-- the document's content, never random. Never fails.
local common = require "ocibuild.attest.sbom.common"
local json = require "ocibuild.oci.json"
local license = require "ocibuild.attest.license"

local M = {}

M.PREDICATE_TYPE = "https://spdx.dev/Document"
M.NAMESPACE = "https://spdx.org/spdxdocs/ocibuild/"

local function purl_ref(p)
  return json.array { json.object { referenceCategory = "PACKAGE-MANAGER", referenceType = "purl",
    referenceLocator = p } }
end

local function package(p, extracted)
  local e = json.object { SPDXID = "SPDXRef-Package-" .. common.id(p), name = p.name, downloadLocation = "NOASSERTION",
    filesAnalyzed = false, externalRefs = purl_ref(p.purl), sourceInfo = common.origin(p) }
  if p.version and p.version ~= "" then e.versionInfo = p.version end
  local l = license.declared(p.license)
  if l and l.expression then
    e.licenseDeclared = l.expression
  elseif l then
    local id = license.ref(l.text)
    e.licenseDeclared = id
    extracted[id] = l.text
  end
  return e
end

--- The document's bytes. spec: {image= {name=, digest=, purl=},
-- packages= (see ocibuild.attest.detect), tool= ("ocibuild-0.1.0"),
-- epoch= or now= (epoch seconds)}.
function M.document(spec)
  local img = spec.image
  local root = json.object { SPDXID = "SPDXRef-Image", name = img.name or img.digest, versionInfo = img.digest,
    downloadLocation = "NOASSERTION", filesAnalyzed = false, primaryPackagePurpose = "CONTAINER",
    checksums = json.array { json.object { algorithm = "SHA256", checksumValue = img.digest:match("%x+$") } },
    externalRefs = purl_ref(img.purl) }
  local packages, rels, extracted = json.array { root }, json.array {}, {}
  rels[1] = json.object { spdxElementId = "SPDXRef-DOCUMENT", relationshipType = "DESCRIBES",
    relatedSpdxElement = "SPDXRef-Image" }
  for _, p in ipairs(common.unique(spec.packages)) do
    local e = package(p, extracted)
    packages[#packages + 1] = e
    rels[#rels + 1] = json.object { spdxElementId = "SPDXRef-Image", relationshipType = "CONTAINS",
      relatedSpdxElement = e.SPDXID }
  end
  local d = json.object {
    spdxVersion = "SPDX-2.3", dataLicense = "CC0-1.0", SPDXID = "SPDXRef-DOCUMENT",
    name = img.name or img.digest,
    creationInfo = json.object { created = common.created(spec), creators = json.array { "Tool: " .. spec.tool } },
    packages = packages, relationships = rels,
  }
  local ids = {}
  for id in pairs(extracted) do ids[#ids + 1] = id end
  table.sort(ids)
  if #ids > 0 then
    d.hasExtractedLicensingInfos = json.array {}
    for i, id in ipairs(ids) do
      d.hasExtractedLicensingInfos[i] = json.object { licenseId = id, extractedText = extracted[id] }
    end
  end
  d.documentNamespace = M.NAMESPACE .. (img.name or "image"):gsub("[^%w%.%-_]+", "-") .. "-"
    .. common.hash(json.encode(d))
  return json.encode(d)
end

return M
