--- Registry authentication: WWW-Authenticate challenges (RFC 7235, names
-- matched case-insensitively), Basic credentials, and Bearer tokens from
-- the challenge's realm, asked for with one `scope` parameter per
-- repository and cached per scope set until shortly before they expire.
-- A token may grant less than was asked (registries answer with the
-- intersection), which only the next request's 401 tells.
local base64 = require "ocibuild.registry.base64"
local json = require "ocibuild.oci.json"
local url = require "ocibuild.registry.url"

local M = {}

local TOKEN_CHARS = "^[!#$%%&'*+%-.^_`|~%w]+"

local function quoted(s, pos)
  local out = {}
  local i = pos + 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == "\\" then
      out[#out + 1] = s:sub(i + 1, i + 1)
      i = i + 2
    elseif c == '"' then
      return table.concat(out), i + 1
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out), i
end

--- The challenges of a WWW-Authenticate value (several headers may have
-- been joined with ", "): a list of {scheme= (lower case), params=
-- {name (lower case) = value}}. Never fails; what cannot be read is left out.
function M.challenges(s)
  local list, cur, pos = {}, nil, 1
  s = s or ""
  while true do
    pos = s:find("[^%s,]", pos)
    if not pos then break end
    local tok = s:match(TOKEN_CHARS, pos)
    if not tok then break end
    local after = pos + #tok
    local eq = s:match("^%s*=", after)
    if cur and eq and s:sub(after + #eq, after + #eq) ~= "=" then
      local vpos = s:find("[^%s]", after + #eq) or #s + 1
      local value
      if s:sub(vpos, vpos) == '"' then
        value, pos = quoted(s, vpos)
      else
        value = s:match("^[^%s,]*", vpos)
        pos = vpos + #value
      end
      cur.params[tok:lower()] = value
    else
      cur = { scheme = tok:lower(), params = {} }
      list[#list + 1] = cur
      pos = after
    end
  end
  return list
end

--- The first challenge of the given scheme ("basic", "bearer"), or nil.
function M.find(list, scheme)
  for _, c in ipairs(list) do
    if c.scheme == scheme then return c end
  end
end

-- ---- scopes: {["repository:name"] = {pull=true, push=true}} ----

--- Adds the scope string "type:name:a,b" (actions in any order) to set.
-- Returns set. Scopes that cannot be read are ignored.
function M.add_scope(set, s)
  local first = s:find(":", 1, true)
  local last = s:match("^.*():")
  if not first or last == first then return set end
  local res = s:sub(1, last - 1)
  set[res] = set[res] or {}
  for a in s:sub(last + 1):gmatch("[^,]+") do set[res][a] = true end
  return set
end

--- A scope set from a list of scope strings; a string may hold several
-- scopes separated by spaces (a challenge's scope="a b").
function M.scopes(list)
  local set = {}
  for _, s in ipairs(list or {}) do
    for one in s:gmatch("%S+") do M.add_scope(set, one) end
  end
  return set
end

--- true when the scope set have grants everything in want.
function M.covers(have, want)
  for res, actions in pairs(want) do
    local h = have[res]
    if not h then return false end
    for a in pairs(actions) do
      if not h[a] then return false end
    end
  end
  return true
end

--- The union of two scope sets (a new set).
function M.union(a, b)
  local u = {}
  for _, set in ipairs { a, b } do
    for res, actions in pairs(set) do
      u[res] = u[res] or {}
      for act in pairs(actions) do u[res][act] = true end
    end
  end
  return u
end

--- The scope strings of a set, sorted, actions sorted: one `scope`
-- parameter each.
function M.scope_strings(set)
  local out = {}
  for res, actions in pairs(set) do
    local acts = {}
    for a in pairs(actions) do acts[#acts + 1] = a end
    table.sort(acts)
    out[#out + 1] = res .. ":" .. table.concat(acts, ",")
  end
  table.sort(out)
  return out
end

--- The scopes an operation on repository `path` needs ("pull" or "push",
-- and for a mount the repository the blob comes from).
function M.repo_scopes(path, action, from)
  local set = {}
  M.add_scope(set, "repository:" .. path .. (action == "push" and ":pull,push" or ":pull"))
  if from then M.add_scope(set, "repository:" .. from .. ":pull") end
  return set
end

--- "Authorization: Basic ..." for creds {username=, password=}.
function M.basic_header(creds)
  return "Authorization: Basic " .. base64.encode(creds.username .. ":" .. creds.password)
end

-- ---- the token cache ----

local Cache = {}
Cache.__index = Cache

--- A token cache: tokens by realm and service, each with the scopes it
-- was asked for and when it expires (monotonic seconds).
function M.cache()
  return setmetatable({ list = {} }, Cache)
end

--- A token granting `want` at realm/service, valid at `now`, or nil.
function Cache:get(realm, service, want, now)
  for _, t in ipairs(self.list) do
    if t.realm == realm and t.service == service and now < t.expires and M.covers(t.scopes, want) then
      return t
    end
  end
end

-- A token may be granted less than it was asked for, so a new one
-- never pushes out others; the oldest go past a few dozen.
function Cache:put(t)
  table.insert(self.list, 1, t)
  if #self.list > 32 then table.remove(self.list) end
end

function Cache:drop(t)
  for i = #self.list, 1, -1 do
    if self.list[i] == t then table.remove(self.list, i) end
  end
end

--- The URL of a token request: realm?service=&scope=... (one parameter
-- per scope) [&account=user, as docker and skopeo send it].
function M.token_url(realm, service, scopes, account)
  local u = realm
  if service and service ~= "" then u = url.with_query(u, "service", service) end
  for _, s in ipairs(M.scope_strings(scopes)) do u = url.with_query(u, "scope", s) end
  if account then u = url.with_query(u, "account", account) end
  return u
end

--- Reads a token endpoint's answer: token (or access_token) and its
-- lifetime in seconds (expires_in, default 60). Returns token, seconds,
-- or nil, msg.
function M.read_token(body)
  local t = json.decode(body, "token response", { plain = true })
  if type(t) ~= "table" or not json.is_object(t) then
    return nil, "the token endpoint did not answer a JSON object", "BADTOKEN"
  end
  local tok = t.token
  if type(tok) ~= "string" or tok == "" then tok = t.access_token end
  if type(tok) ~= "string" or tok == "" then return nil, "the token endpoint's answer holds no token", "BADTOKEN" end
  if tok:find("[%c%s]") then return nil, "the token endpoint's token is not a header value", "BADTOKEN" end
  local ttl = math.tointeger(t.expires_in)
  if not ttl or ttl < 1 then ttl = 60 end
  return tok, ttl
end

return M
