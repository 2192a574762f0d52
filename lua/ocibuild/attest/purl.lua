--- Package URLs (purl: pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH)
-- as the purl specification writes them: each component percent-encoded
-- except the unreserved characters and ':' ('/' too in qualifier
-- values), namespace segments and subpath segments each on their own,
-- qualifiers (lower-case keys) sorted, empty ones left out. Never fails
-- on strings.
local M = {}

local function encode(s, keep)
  return (s:gsub("[^%w%.%-_~:" .. (keep or "") .. "]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function segments(s)
  local out = {}
  for seg in s:gmatch("[^/]+") do out[#out + 1] = encode(seg) end
  return table.concat(out, "/")
end

--- The purl of p: {type=, namespace=, name=, version=, qualifiers= (a
-- table of strings), subpath=}.
function M.build(p)
  local parts = { "pkg:", p.type:lower(), "/" }
  if p.namespace and p.namespace ~= "" then parts[#parts + 1] = segments(p.namespace) .. "/" end
  parts[#parts + 1] = encode(p.name)
  if p.version and p.version ~= "" then parts[#parts + 1] = "@" .. encode(p.version) end
  local keys = {}
  for k, v in pairs(p.qualifiers or {}) do
    if v ~= "" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for i, k in ipairs(keys) do
    parts[#parts + 1] = (i == 1 and "?" or "&") .. k:lower() .. "=" .. encode(p.qualifiers[k], "/")
  end
  if p.subpath and p.subpath ~= "" then parts[#parts + 1] = "#" .. segments(p.subpath) end
  return table.concat(parts)
end

--- The purl of a distribution's package p ({name=, version=, arch=}) of
-- type kind (deb, apk), its namespace the os-release ID (os: {id=,
-- version_id=}, or nil for the distribution `default`), with the
-- qualifiers arch and distro (ID-VERSION_ID) when known.
function M.distro(kind, default, p, os)
  local id = os and os.id or default
  return M.build { type = kind, namespace = id, name = p.name, version = p.version,
    qualifiers = { arch = p.arch or "", distro = os and os.version_id and (id .. "-" .. os.version_id) or "" } }
end

--- The purl of an OCI image: pkg:oci/NAME@DIGEST?repository_url=HOST/PATH
-- (name: the repository's last component), with tag and arch when known.
function M.oci(repository, digest, opts)
  opts = opts or {}
  local name = repository and repository:match("([^/]+)$") or "image"
  return M.build { type = "oci", name = name, version = digest,
    qualifiers = { repository_url = repository or "", tag = opts.tag or "", arch = opts.arch or "" } }
end

return M
