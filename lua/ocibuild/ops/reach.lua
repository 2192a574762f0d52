--- What a sandboxed build script reaches beyond its folder and the store
-- it saves into: only what the user named on the command line. Registries
-- (bases pulled, images pushed, with the user's credentials): those of
-- --allow-registry HOST[:PORT]. Images of the store as bases: those the
-- script saved in this run, and those --allow-image REF names (a store in
-- the script's own folder is the script's).
-- Environment variables: those of --env NAME[=VALUE]. Anything else is
-- refused before any request, in one line naming the flag that allows it.
-- oci.run takes the same lists in opts: allow_registry, allow_image, env.
local digest = require "ocibuild.oci.digest"
local ref = require "ocibuild.oci.ref"

local M = {}

local HUB = { ["docker.io"] = true, ["index.docker.io"] = true, ["registry-1.docker.io"] = true }

-- A registry host as the policy compares it: lower case, Docker Hub's
-- names as docker.io.
local function key(domain)
  domain = domain:lower()
  return HUB[domain] and "docker.io" or domain
end

--- The host HOST[:PORT] names, as references name it; or nil, msg.
function M.parse_host(s)
  local r = type(s) == "string" and not s:find("[/@]") and ref.parse(s .. "/x")
  if not r or (r.domain == "docker.io" and not HUB[s:lower()]) then
    return nil, ("--allow-registry needs a registry as HOST[:PORT], got %q"):format(tostring(s)), "BADVALUE"
  end
  return key(r.domain)
end

--- Whether s names an image as a base would: a reference, a digest, or an
-- ID prefix. Returns s, or nil, msg.
function M.parse_image(s)
  if type(s) == "string" and (ref.parse(s) or digest.valid(s) or (s:match("^%x+$") and #s >= 4)) then
    return s
  end
  return nil, ("--allow-image needs an image of the store (a tag, digest or ID), got %q"):format(tostring(s)),
    "BADVALUE"
end

--- NAME=VALUE, or NAME (its value from this environment). Returns name,
-- value (nil when unset), or nil, msg.
function M.parse_env(s)
  local name, value = tostring(s):match("^([%a_][%w_]*)=(.*)$")
  if name then return name, value end
  if tostring(s):match("^[%a_][%w_]*$") then return s, os.getenv(s) end
  return nil, ("--env needs NAME or NAME=VALUE, got %q"):format(tostring(s)), "BADVALUE"
end

--- The policy for opts {allow_registry= {HOST...}, allow_image= {REF...},
-- env= {"NAME" | "NAME=VALUE"...}}; mine(path): whether a path is the
-- script's own (in its folder: a store there is the script's). Returns it,
-- or nil, msg (a bad entry). The policy: registry(domain, what) -> true |
-- nil, msg; fetch(host, what) the same for a file fetched by URL;
-- registry_options(o) -> true | nil, msg for a script's registry table;
-- image(desc, lookup, dir) -> true when the script may use the
-- image desc of the store at dir as a base (lookup(REF) -> that store's
-- descriptor for an --allow-image); saved(result) records what the script
-- saved; getenv(name).
function M.new(opts, mine)
  local hosts, images, env, saved = {}, {}, {}, {}
  for i, h in ipairs(opts.allow_registry or {}) do
    local k, err = M.parse_host(h)
    if not k then return nil, ("allow_registry[%d]: %s"):format(i, err), "BADVALUE" end
    hosts[k] = true
  end
  for i, s in ipairs(opts.allow_image or {}) do
    local ok, err = M.parse_image(s)
    if not ok then return nil, ("allow_image[%d]: %s"):format(i, err), "BADVALUE" end
    images[#images + 1] = s
  end
  for i, s in ipairs(opts.env or {}) do
    local name, value = M.parse_env(s)
    if not name then return nil, ("env[%d]: %s"):format(i, value), "BADVALUE" end
    env[name] = value
  end
  local p = {}

  function p.registry(domain, what)
    if hosts[key(domain)] then return true end
    return nil, ("%s: a build script reaches only the registries the user names (--allow-registry %s allows it)")
      :format(what, domain), "DENIED"
  end

  function p.fetch(host, what)
    if hosts[key(host)] then return true end
    return nil, ("%s: a build script fetches only from the hosts the user names (--allow-registry %s allows it)")
      :format(what, host), "DENIED"
  end

  -- Options that would lower the transport's safety for the user's
  -- credentials are the command line's, never a script's.
  function p.registry_options(o)
    for _, k in ipairs { "insecure", "plain_http" } do
      if o[k] then
        return nil, ("registry.%s: a build script cannot turn off TLS or its checks for the user's credentials "
          .. "(the command line's --%s can)"):format(k, k:gsub("_", "-")), "DENIED"
      end
    end
    return true
  end

  function p.image(desc, lookup, dir)
    if saved[desc.digest] or (mine and mine(dir)) then return true end
    for _, s in ipairs(images) do
      local d = lookup(s)
      if d and d.digest == desc.digest then return true end
    end
    return false
  end

  function p.refused_image(s)
    return ("base image %s is in the store: a build script uses only the images it saved and those the user "
      .. "names (--allow-image %s allows it)"):format(s, s), "DENIED"
  end

  function p.saved(r)
    saved[r.digest] = true
    for _, im in ipairs(r.images or {}) do saved[im.desc.digest] = true end
  end

  function p.getenv(name) return env[name] end

  return p
end

return M
, "BADVALUE", "BADVALUE"