--- What the SBOM writers share: the image's package, the time a document
-- says it was made, an identifier per package that stays the same from
-- build to build, and the ocibuild version line. Never fails.
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"

local M = {}

--- The creation time: SOURCE_DATE_EPOCH's (spec.epoch), else spec.now.
function M.created(spec)
  return doc.rfc3339(spec.epoch or spec.now or os.time())
end

local function hash(s) return core.sha256():update(s):digest():sub(8) end

--- A short identifier of package p (type, name, version and where it was
-- found), made of letters, digits, '.' and '-'.
function M.id(p)
  local base = ("%s-%s-%s"):format(p.type, p.name, p.version or ""):gsub("[^%w%.%-]+", "-")
  return base:sub(1, 80) .. "-" .. hash(table.concat({ p.purl or "", p.path or "", p.layer or "" }, "\0")):sub(1, 12)
end

--- Where p came from, in words.
function M.origin(p)
  if p.layer then return ("found in layer %s at %s"):format(p.layer, p.path) end
  return ("found at %s"):format(p.path)
end

--- packages without the ones whose identifier came before (the same
-- package found twice at one place).
function M.unique(packages)
  local seen, out = {}, {}
  for _, p in ipairs(packages) do
    local id = M.id(p)
    if not seen[id] then
      seen[id] = true
      out[#out + 1] = p
    end
  end
  return out
end

M.hash = hash

return M
