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

-- The files of the image (spec.files), each with its SHA-1 (which SPDX
-- requires) and SHA-256, CONTAINED by the image, whose verification code
-- they make (SPDX 2.3, 7.9: the SHA-1 of their sorted SHA-1s).
local function add_files(root, files, rels)
  local out, sums = json.array {}, {}
  for i, f in ipairs(files) do
    local id = "SPDXRef-File-" .. common.hash(f.path):sub(1, 24)
    out[i] = json.object { SPDXID = id, fileName = "." .. f.path,
      checksums = json.array { json.object { algorithm = "SHA1", checksumValue = f.sha1 },
        json.object { algorithm = "SHA256", checksumValue = f.sha256 } },
      comment = f.layer and ("layer %s"):format(f.layer) or nil }
    rels[#rels + 1] = json.object { spdxElementId = "SPDXRef-Image", relationshipType = "CONTAINS",
      relatedSpdxElement = id }
    sums[i] = f.sha1
  end
  table.sort(sums)
  root.filesAnalyzed = true
  root.packageVerificationCode = json.object {
    packageVerificationCodeValue = require("ocibuild.core").sha1_hex(table.concat(sums)) }
  return out
end

--- The document (a table for the canonical encoder). spec: {image=
-- {name=, digest=, purl=}, packages= (see ocibuild.attest.detect),
-- files= (optional: {path=, sha256=, sha1=, layer=}, see
-- ocibuild.attest.catalog.files), tool= ("ocibuild-0.1.0"), epoch= or
-- now= (epoch seconds)}.
function M.build(spec)
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
  -- the namespace is derived from the document without its files (one
  -- encoding of a small table) and the files' names and digests
  local listed = {}
  for i, f in ipairs(spec.files or {}) do listed[i] = f.path .. "\0" .. f.sha256 end
  local ids = {}
  for id in pairs(extracted) do ids[#ids + 1] = id end
  table.sort(ids)
  if #ids > 0 then
    d.hasExtractedLicensingInfos = json.array {}
    for i, id in ipairs(ids) do
      d.hasExtractedLicensingInfos[i] = json.object { licenseId = id, extractedText = extracted[id] }
    end
  end
  local content = json.encode(d)
  if spec.files then
    d.files = add_files(root, spec.files, rels)
    content = content .. "\0" .. table.concat(listed, "\n")
  end
  d.documentNamespace = M.NAMESPACE .. (img.name or "image"):gsub("[^%w%.%-_]+", "-") .. "-"
    .. common.hash(content)
  return d
end

--- The document's bytes (spec as for M.build).
function M.document(spec)
  return json.encode(M.build(spec))
end

return M
