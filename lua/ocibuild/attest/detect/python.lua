--- Python distributions: *.dist-info/METADATA (and *.egg-info/PKG-INFO),
-- whose headers give Name, Version and the licence (License-Expression,
-- else a one-line License, else the License :: classifiers); purl
-- pkg:pypi/<normalized name>@<version>.
local purl = require "ocibuild.attest.purl"
local stanza = require "ocibuild.attest.detect.stanza"

local M = { name = "python" }

local MAX = 1 << 20

M.patterns = { { "**/*.dist-info/METADATA", MAX }, { "**/*.egg-info/PKG-INFO", MAX } }

function M.wants(path)
  if path:match("[^/]%.dist%-info/METADATA$") or path:match("[^/]%.egg%-info/PKG%-INFO$") then return MAX end
end

local function licence(f, all)
  if f["License-Expression"] then return f["License-Expression"] end
  local l = f.License
  if l and l ~= "" and l ~= "UNKNOWN" and not l:find("\n", 1, true) and #l <= 80 then return l end
  local names = {}
  for _, c in ipairs(all.Classifier or {}) do
    local n = c:match("^License :: .* :: (.+)$") or c:match("^License :: (.+)$")
    if n and n ~= "OSI Approved" then names[#names + 1] = n end
  end
  if #names > 0 then return table.concat(names, " OR ") end
end

function M.parse(_, text)
  local s = stanza.parse(text, 1)[1]
  if not s or not s.fields.Name or not s.fields.Version then return {} end
  return { { type = "pypi", name = s.fields.Name, version = s.fields.Version, license = licence(s.fields, s.all) } }
end

function M.purl(p)
  return purl.build { type = "pypi", name = p.name:lower():gsub("[-_.]+", "-"), version = p.version }
end

return M
