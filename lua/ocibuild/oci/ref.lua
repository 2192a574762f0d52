--- Image references, as Docker and the distribution spec read them.
-- `M.parse` applies ParseNormalizedNamed's rules: the first component is a
-- registry only when it holds `.` or `:`, is `localhost`, or has upper
-- case; Docker Hub names get `docker.io/` and `library/`; no tag means
-- `latest`. It returns both the normalized form (stored, and given to
-- containerd as io.containerd.image.name) and the familiar one (shown).
local M = {}

local DEFAULT_DOMAIN, LEGACY_DOMAIN, OFFICIAL = "docker.io", "index.docker.io", "library/"
local MAX_PATH = 255

local function domain_component_ok(c)
  return c:match("^[A-Za-z0-9]$") ~= nil or c:match("^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$") ~= nil
end

local function domain_ok(d)
  local host, port = d:match("^(.-):(%d+)$")
  host = host or d
  if d:find(":", 1, true) and not port then
    -- "[::1]" style IPv6 literal without a port
    if not d:match("^%[[%x:]+%]$") then return false end
    return true
  end
  if host:match("^%[[%x:]+%]$") then return true end
  if host == "" then return false end
  for comp in (host .. "."):gmatch("(.-)%.") do
    if not domain_component_ok(comp) then return false end
  end
  return true
end

-- A path component: [a-z0-9]+ joined by ".", "_", "__" or runs of "-".
local function path_component_ok(c)
  if not c:match("^[a-z0-9]") or not c:match("[a-z0-9]$") then return false end
  local rest = c
  while #rest > 0 do
    local alnum = rest:match("^[a-z0-9]+")
    if not alnum then return false end
    rest = rest:sub(#alnum + 1)
    if #rest > 0 then
      local sep = rest:match("^__") or rest:match("^[._]") or rest:match("^%-+")
      if not sep then return false end
      rest = rest:sub(#sep + 1)
      if rest == "" then return false end
    end
  end
  return true
end

local function tag_ok(t)
  return #t <= 128 and t:match("^[%w_][%w_.%-]*$") ~= nil
end

local function digest_check(d)
  local alg, hex = d:match("^([A-Za-z][A-Za-z0-9]*[-_+.A-Za-z0-9]*):(%x+)$")
  if not alg or #hex < 32 then return "invalid reference format" end
  if alg == "sha256" then
    if not hex:match("^[a-f0-9]+$") or #hex ~= 64 then return "invalid checksum digest format" end
  elseif alg == "sha512" then
    if not hex:match("^[a-f0-9]+$") or #hex ~= 128 then return "invalid checksum digest format" end
  else
    return "unsupported digest algorithm"
  end
end

-- s quoted for a message, on one line (%q breaks lines after a backslash).
local function show(s)
  return (("%q"):format(s):gsub("\\\n", "\\n"))
end

local function fail(s, why) return nil, ("invalid reference %s: %s"):format(show(s), why), "BADREF" end

--- Parses a reference. Returns `{domain=, path=, tag=, digest=, name=,
-- normalized=, familiar=}`, or nil and a message quoting the rule broken.
function M.parse(s)
  if type(s) ~= "string" or s == "" then return fail(tostring(s), "empty reference") end
  if s:match("^%x+$") and #s == 64 and s == s:lower() then
    return fail(s, "cannot use a 64-character hexadecimal string as a name")
  end
  local domain, remainder
  local i = s:find("/", 1, true)
  local first = i and s:sub(1, i - 1)
  if not i or (not first:find("[.:]") and first ~= "localhost" and first:lower() == first) then
    domain, remainder = DEFAULT_DOMAIN, s
  else
    domain, remainder = first, s:sub(i + 1)
  end
  if domain == LEGACY_DOMAIN then domain = DEFAULT_DOMAIN end
  if domain == DEFAULT_DOMAIN and not remainder:find("/", 1, true) then
    remainder = OFFICIAL .. remainder
  end
  local remote = remainder:match("^[^:]*")
  if remote:lower() ~= remote then
    return fail(s, ("repository name %s must be lowercase (try %s)"):format(show(remote), show(s:lower())))
  end
  if not domain_ok(domain) then return fail(s, ("bad registry host %s"):format(show(domain))) end
  local rest, digest = remainder:match("^([^@]*)@(.*)$")
  rest = rest or remainder
  if digest then
    local why = digest_check(digest)
    if why then return fail(s, why) end
  end
  local path, tag = rest:match("^([^:]*):(.*)$")
  path = path or rest
  if tag and not tag_ok(tag) then
    return fail(s, "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
  end
  if path == "" then return fail(s, "repository name is empty") end
  for comp in (path .. "/"):gmatch("(.-)/") do
    if not path_component_ok(comp) then
      return fail(s, ("bad repository name component %s (lowercase letters and digits, separated by '.', '_', "
        .. "'__' or '-')"):format(show(comp)))
    end
  end
  if #path > MAX_PATH then return fail(s, "repository name longer than 255 characters") end
  if not tag and not digest then tag = "latest" end
  local name = domain .. "/" .. path
  local r = { domain = domain, path = path, tag = tag, digest = digest, name = name }
  r.normalized = name .. (tag and (":" .. tag) or "") .. (digest and ("@" .. digest) or "")
  local fam = name
  if domain == DEFAULT_DOMAIN then
    -- as Docker's FamiliarName: "library/" goes only when nothing nested
    -- follows; and docker.io stays when the first component would read as
    -- a registry (docker.io/a.b/c), so that the familiar form parses back
    local short = path:sub(#OFFICIAL + 1)
    fam = (path:sub(1, #OFFICIAL) == OFFICIAL and not short:find("/", 1, true)) and short or path
    local head = fam:match("^[^/]*")
    if fam:find("/", 1, true) and (head:find("[.:]") or head == "localhost") then fam = name end
  end
  r.familiar = fam .. (tag and (":" .. tag) or "") .. (digest and ("@" .. digest) or "")
  return r
end

--- true when the reference text s names its registry itself (its first
-- component has a dot or a colon, or is localhost), so that a push of it
-- never goes to Docker Hub unasked. Never fails.
function M.names_registry(s)
  local first = type(s) == "string" and s:match("^([^/]+)/")
  return first ~= nil and first ~= false and (first:find("[.:]") ~= nil or first == "localhost")
end

return M
