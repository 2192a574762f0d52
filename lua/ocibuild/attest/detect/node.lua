--- npm packages: node_modules/NAME/package.json and
-- node_modules/@SCOPE/NAME/package.json, at any depth: name, version and
-- the licence (license, or the older licenses list); purl
-- pkg:npm/<scope>/<name>@<version>. A package.json that is not strict
-- JSON is skipped, with a warning.
local json = require "ocibuild.oci.json"
local purl = require "ocibuild.attest.purl"

local M = { name = "node" }

local MAX = 4 << 20

function M.wants(path)
  if path:match("^node_modules/[^/]+/package%.json$") or path:match("/node_modules/[^/]+/package%.json$")
    or path:match("^node_modules/@[^/]+/[^/]+/package%.json$")
    or path:match("/node_modules/@[^/]+/[^/]+/package%.json$") then
    return MAX
  end
end

local function licence(t)
  if type(t.license) == "string" then return t.license end
  if json.is_object(t.license) and type(t.license.type) == "string" then return t.license.type end
  if json.is_array(t.licenses) then
    local names = {}
    for _, l in ipairs(t.licenses) do
      local n = type(l) == "string" and l or (json.is_object(l) and type(l.type) == "string" and l.type)
      if n then names[#names + 1] = n end
    end
    if #names > 0 then return table.concat(names, " OR ") end
  end
end

function M.parse(path, text)
  local t, err = json.decode(text, path)
  if t == nil then return nil, err:sub(#path + 3), "BADPACKAGE" end
  if not json.is_object(t) or type(t.name) ~= "string" or type(t.version) ~= "string" then return {} end
  return { { type = "npm", name = t.name, version = t.version, license = licence(t) } }
end

function M.purl(p)
  local scope, name = p.name:match("^(@[^/]+)/(.+)$")
  return purl.build { type = "npm", namespace = scope, name = name or p.name, version = p.version }
end

return M
