--- The image config a script sets: entrypoint, cmd, env, workdir, user,
-- ports, volumes, stopsignal, and labels, each checked when it is set so a
-- mistake points at the script's line. Returns nil, msg on a bad value.
local check = require "ocibuild.build.check"

local M = {}

local KINDS = { entrypoint = "list", cmd = "list", env = "env", workdir = "string",
  user = "string", ports = "ports", volumes = "list", stopsignal = "string" }

M.FIELDS = {}
for k in pairs(KINDS) do M.FIELDS[#M.FIELDS + 1] = k end
table.sort(M.FIELDS)

local PROTOCOLS = { tcp = true, udp = true, sctp = true }

--- "80", "80/tcp", "53/udp": a port from 1 to 65535 and a protocol Docker
-- knows. Returns the port in the config's form ("80/tcp"), or nil, why.
function M.port(p)
  local n, proto = tostring(p):match("^(%d+)/?(%a*)$")
  local num = n and #n <= 5 and tonumber(n)
  if not num or num < 1 or num > 65535 or (proto ~= "" and not PROTOCOLS[proto]) then
    return nil, ("bad port %s (expected 1-65535, optionally /tcp, /udp or /sctp)"):format(check.show(p))
  end
  return ("%d/%s"):format(num, proto ~= "" and proto or "tcp")
end

local function check_env(v)
  if type(v) ~= "table" then return nil, "config.env must be a table" end
  for k, e in pairs(v) do
    if math.type(k) == "integer" then
      if type(e) ~= "string" or not e:find("=", 1, true) or e:sub(1, 1) == "=" then
        return nil, ("config.env[%d] must be a KEY=VALUE string, got %s"):format(k, check.show(e))
      end
    elseif type(k) ~= "string" or k == "" or k:find("=", 1, true) or type(e) ~= "string" then
      return nil, "config.env keys and values must be strings, keys non-empty and without '='"
    end
  end
  return v
end

--- Checks the fields of t and copies them into cfg. Returns cfg.
function M.set(cfg, t)
  if type(t) ~= "table" then return nil, "config needs a table" end
  local ok, err = check.keys(t, M.FIELDS, "config")
  if not ok then return nil, err end
  for k, v in pairs(t) do
    local kind = KINDS[k]
    if kind == "string" and type(v) ~= "string" then
      return nil, ("config.%s must be a string"):format(k)
    elseif kind == "list" or kind == "ports" then
      ok, err = check.strings(v, "config." .. k)
      if not ok then return nil, err end
    elseif kind == "env" then
      ok, err = check_env(v)
      if not ok then return nil, err end
    end
    if kind == "ports" then
      local norm = {}
      for i, p in ipairs(v) do
        norm[i], err = M.port(p)
        if not norm[i] then return nil, "config.ports: " .. err end
      end
      v = norm
    end
    cfg[k] = v
  end
  return cfg
end

--- Sets one label.
function M.label(labels, k, v)
  if type(k) ~= "string" or type(v) ~= "string" then return nil, "label keys and values must be strings" end
  if k == "" then return nil, "label key must not be empty" end
  labels[k] = v
  return labels
end

return M
