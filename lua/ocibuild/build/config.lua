--- The image config a script sets (entrypoint, cmd, env, workdir, user,
-- ports, volumes, stop_signal, labels, and Docker's healthcheck, onbuild,
-- shell, args_escaped; default_env: variables set only when the base has
-- none of that name) and the manifest annotations, each
-- checked when it is set so a mistake points at the script's line; then
-- merged over the base image's config the way Docker does: env per key
-- (later wins, so the base's PATH survives unless set; the base's order
-- first, an overridden key in its place, new keys in the order given: a
-- list's order, then a map's keys sorted), ports, volumes and
-- labels added, setting the entrypoint clears an inherited cmd unless a
-- cmd is given, everything else replaced when set. Returns nil, msg on a
-- bad value.
local check = require "ocibuild.util.check"
local json = require "ocibuild.oci.json"

local M = {}

local KINDS = { entrypoint = "list", cmd = "list", env = "env", workdir = "abs", user = "string",
  ports = "ports", volumes = "abs-list", stop_signal = "string", stopsignal = "string", labels = "labels",
  healthcheck = "healthcheck", onbuild = "list", shell = "list", args_escaped = "boolean",
  default_env = "env" }

M.FIELDS = {}
for k in pairs(KINDS) do M.FIELDS[#M.FIELDS + 1] = k end
table.sort(M.FIELDS)

--- The annotation keys with a short name: org.opencontainers.image.<name>.
M.SHORT = { "authors", "created", "description", "documentation", "licenses", "revision", "source",
  "title", "url", "vendor", "version" }

local PROTOCOLS = { tcp = true, udp = true, sctp = true }

-- The signal names Docker's ParseSignal knows (with or without SIG).
local SIGNALS = {}
for _, n in ipairs { "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
  "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU",
  "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX", "UNUSED" } do SIGNALS[n] = true end
for i = 1, 15 do SIGNALS["RTMIN+" .. i], SIGNALS["RTMAX-" .. i] = true, true end

--- true when s names a signal as Docker reads a stop signal: a name it
-- knows, or a positive number.
function M.signal_ok(s)
  local n = s:match("^%-?%d+$") and tonumber(s)
  if n then return n > 0 end
  return SIGNALS[(s:upper():gsub("^SIG", ""))] == true
end

--- "80", "80/tcp", "53/udp": a port from 1 to 65535 and a protocol Docker
-- knows. Returns the port in the config's form ("80/tcp"), or nil, why.
function M.port(p)
  local n, proto = tostring(p):match("^(%d+)/?(%a*)$")
  local num = n and #n <= 5 and tonumber(n)
  if not num or num < 1 or num > 65535 or (proto ~= "" and not PROTOCOLS[proto]) then
    return nil, ("bad port %s (expected 1-65535, optionally /tcp, /udp or /sctp)"):format(check.show(p)), "BADVALUE"
  end
  return ("%d/%s"):format(num, proto ~= "" and proto or "tcp")
end

--- A new, empty set of settings.
function M.new()
  return { env = { order = {}, values = {} }, default_env = { order = {}, values = {} }, ports = {}, volumes = {} }
end

local DURATIONS = { interval = "Interval", timeout = "Timeout", start_period = "StartPeriod",
  start_interval = "StartInterval" }

-- A healthcheck: {test = {"CMD", ...} | {"CMD-SHELL", "..."} | {"NONE"},
-- interval=, timeout=, start_period=, start_interval= (nanoseconds),
-- retries=}. Returns the config's Healthcheck object, or nil, msg.
local function healthcheck(h)
  if type(h) ~= "table" then return nil, "config.healthcheck must be a table with test = {...}", "BADVALUE" end
  local ok, err = check.keys(h, { "test", "interval", "timeout", "start_period", "start_interval", "retries" },
    "config.healthcheck")
  if not ok then return nil, err, "BADVALUE" end
  ok, err = check.strings(h.test or false, "config.healthcheck.test")
  if not ok or #h.test == 0 then return nil, err or "config.healthcheck.test must not be empty", "BADVALUE" end
  -- as Docker reads it: NONE alone, CMD and a command, CMD-SHELL and one
  local t, n = h.test[1], #h.test
  if not ((t == "NONE" and n == 1) or (t == "CMD" and n >= 2) or (t == "CMD-SHELL" and n == 2)) then
    return nil, ('config.healthcheck.test must be { "NONE" }, { "CMD", program, args... } or '
      .. '{ "CMD-SHELL", command }, got %s'):format(check.show(table.concat(h.test, " "))), "BADVALUE"
  end
  local o = json.object { Test = json.array(table.move(h.test, 1, #h.test, 1, {})) }
  for k, key in pairs(DURATIONS) do
    local v = h[k]
    if v ~= nil and (math.type(v) ~= "integer" or v < 0 or (v > 0 and v < 1000000)) then
      return nil, ("config.healthcheck.%s must be nanoseconds (an integer), 0 or at least 1 ms as Docker takes it")
        :format(k), "BADVALUE"
    end
    if v and v > 0 then o[key] = v end
  end
  if h.retries ~= nil and (math.type(h.retries) ~= "integer" or h.retries < 0) then
    return nil, "config.healthcheck.retries must be a non-negative integer", "BADVALUE"
  end
  if h.retries and h.retries > 0 then o.Retries = h.retries end
  return o
end

local function set_env(env, k, v)
  if env.values[k] == nil then env.order[#env.order + 1] = k end
  env.values[k] = v
end

-- Env as a map {KEY = "v"} or a list {"KEY=v"} (or both: the list first,
-- then the keys in order), merged per key into env.
local function add_env(env, v)
  if type(v) ~= "table" then
    return nil, "config.env must be a table of KEY = \"value\" or a list of \"KEY=value\"", "BADVALUE"
  end
  local keys = {}
  for k, e in pairs(v) do
    if math.type(k) == "integer" then
      if type(e) ~= "string" or not e:find("=", 1, true) or e:sub(1, 1) == "=" then
        return nil, ("config.env[%d] must be a KEY=VALUE string, got %s"):format(k, check.show(e)), "BADVALUE"
      end
    elseif type(k) ~= "string" or k == "" or k:find("=", 1, true) or type(e) ~= "string" then
      return nil, ("config.env: keys and values must be strings, keys non-empty and without '=', got %s = %s")
        :format(check.show(k), check.show(e)), "BADVALUE"
    else
      keys[#keys + 1] = k
    end
  end
  for _, e in ipairs(v) do
    local k, val = e:match("^([^=]+)=(.*)$")
    set_env(env, k, val)
  end
  table.sort(keys)
  for _, k in ipairs(keys) do set_env(env, k, v[k]) end
  return env
end

local function list_of(v, name, kind)
  local ok, err = check.strings(v, "config." .. name)
  if not ok then
    if type(v) == "string" and (name == "entrypoint" or name == "cmd") then
      err = err .. (' (for a shell command write { "/bin/sh", "-c", %s })'):format(check.show(v))
    end
    return nil, err, "BADVALUE"
  end
  if kind == "abs-list" then
    for i, x in ipairs(v) do
      if not check.abs_path(x) then
        return nil, ("config.%s[%d] must be an absolute path, got %s"):format(name, i, check.show(x)), "BADVALUE"
      end
    end
  end
  local copy = {}
  for i, x in ipairs(v) do copy[i] = x end
  return copy
end

-- The first string of v (a key or a value, at any depth) that is not
-- UTF-8, which no JSON document may hold; or nil.
local function not_utf8(v, seen)
  if type(v) == "string" then return not utf8.len(v) and v or nil end
  if type(v) == "table" then
    seen = seen or {}
    if seen[v] then return nil end -- a cycle: the field's own check refuses it
    seen[v] = true
    for k, x in pairs(v) do
      local bad = not_utf8(k, seen) or not_utf8(x, seen)
      if bad then return bad end
    end
  end
  return nil
end

--- nil, or a message saying that what (named `name`) holds a string that
-- is not UTF-8.
function M.utf8_check(v, name)
  local bad = not_utf8(v)
  return bad and ("%s: %s is not valid UTF-8"):format(name, check.show(bad)) or nil
end

--- Checks the fields of t and merges them into cfg (from M.new), labels
-- into labels. Returns cfg.
function M.set(cfg, t, labels)
  if type(t) ~= "table" then return nil, "config needs a table", "BADVALUE" end
  local ok, err = check.keys(t, M.FIELDS, "config")
  if not ok then return nil, err, "BADVALUE" end
  for _, k in ipairs(M.FIELDS) do
    err = M.utf8_check(t[k], "config." .. k)
    if err then return nil, err, "BADVALUE" end
  end
  if t.stop_signal ~= nil and t.stopsignal ~= nil then
    return nil, "config: give stop_signal or stopsignal (the same field), not both", "BADVALUE"
  end
  for _, k in ipairs(M.FIELDS) do
    local v, kind = t[k], KINDS[k]
    if v == false and (k == "entrypoint" or k == "cmd") then
      cfg[k] = false -- none: the field is left out
    elseif v ~= nil then
      if kind == "boolean" then
        if type(v) ~= "boolean" then return nil, ("config.%s must be true or false"):format(k), "BADVALUE" end
        cfg[k] = v
      elseif kind == "healthcheck" then
        cfg[k], err = healthcheck(v)
        if not cfg[k] then return nil, err, "BADVALUE" end
      elseif kind == "string" or kind == "abs" then
        if type(v) ~= "string" or v == "" then
          return nil, ("config.%s must be a non-empty string"):format(k), "BADVALUE"
        end
        if kind == "abs" and not check.abs_path(v) then
          return nil, ("config.%s must be an absolute path, got %s"):format(k, check.show(v)), "BADVALUE"
        end
        if (k == "stop_signal" or k == "stopsignal") and not M.signal_ok(v) then
          return nil, ("config.%s: %s is not a signal Docker knows (as SIGTERM, or a number)"):format(k,
            check.show(v)), "BADVALUE"
        end
        cfg[k == "stopsignal" and "stop_signal" or k] = v
      elseif kind == "list" then
        cfg[k], err = list_of(v, k, kind)
        if not cfg[k] then return nil, err, "BADVALUE" end
      elseif kind == "abs-list" or kind == "ports" then
        local l
        l, err = list_of(v, k, kind)
        if not l then return nil, err, "BADVALUE" end
        for _, x in ipairs(l) do
          if kind == "ports" then
            x, err = M.port(x)
            if not x then return nil, "config.ports: " .. err, "BADVALUE" end
          end
          table.insert(cfg[k], x)
        end
      elseif kind == "env" then
        ok, err = add_env(cfg[k], v)
        if not ok then return nil, err, "BADVALUE" end
      elseif kind == "labels" then
        ok, err = M.set_labels(labels, v)
        if not ok then return nil, err, "BADVALUE" end
      end
    end
  end
  return cfg
end

--- Sets one label.
function M.label(labels, k, v)
  if type(k) ~= "string" or type(v) ~= "string" then return nil, "label keys and values must be strings", "BADVALUE" end
  if k == "" then return nil, "label key must not be empty", "BADVALUE" end
  local err = M.utf8_check(k, "label key") or M.utf8_check(v, ("label %s"):format(check.show(k)))
  if err then return nil, err, "BADVALUE" end
  labels[k] = v
  return labels
end

--- Sets labels from a table of strings.
function M.set_labels(labels, t)
  if type(t) ~= "table" then return nil, "labels needs a table of strings", "BADVALUE" end
  for k, v in pairs(t) do
    local ok, err = M.label(labels, k, v)
    if not ok then return nil, err, "BADVALUE" end
  end
  return labels
end

-- true when s is a date and time as RFC 3339 writes it.
local function rfc3339(s)
  local t = "^%d%d%d%d%-%d%d%-%d%d[Tt]%d%d:%d%d:%d%d%.?%d*"
  return s:match(t .. "[Zz]$") ~= nil or s:match(t .. "[+-]%d%d:%d%d$") ~= nil
end

--- Checks annotations and merges them into into: full keys as they are,
-- short ones (M.SHORT) as org.opencontainers.image.<name>; `created =
-- true` means the image's creation time. Returns into.
function M.annotations(into, t)
  if type(t) ~= "table" then return nil, "annotations needs a table of strings", "BADVALUE" end
  local short = {}
  for _, s in ipairs(M.SHORT) do short[s] = true end
  for k, v in pairs(t) do
    if type(k) ~= "string" or k == "" then return nil, "annotations: keys must be non-empty strings", "BADVALUE" end
    local bad = M.utf8_check(k, "annotations") or M.utf8_check(v, ("annotations: %s"):format(check.show(k)))
    if bad then return nil, bad, "BADVALUE" end
    local key = k
    if not k:find(".", 1, true) then
      if not short[k] then
        local s = check.suggest(k, M.SHORT)
        return nil, ("annotations: unknown short name %q%s; use a full key such as \"com.example.%s\", or one of %s")
          :format(k, s and (" (did you mean %q?)"):format(s) or "", k, table.concat(M.SHORT, ", ")), "BADVALUE"
      end
      key = "org.opencontainers.image." .. k
    end
    if v == true and key == "org.opencontainers.image.created" then
      into[key] = true
    elseif type(v) ~= "string" then
      return nil, ("annotations: %s must be a string%s"):format(check.show(k),
        key == "org.opencontainers.image.created" and " or true (the image's creation time)" or ""), "BADVALUE"
    elseif key == "org.opencontainers.image.created" and not rfc3339(v) then
      return nil, ("annotations: %s must be a date and time as RFC 3339 writes it (2024-05-01T12:00:00Z), got %s")
        :format(check.show(k), check.show(v)), "BADVALUE"
    else
      into[key] = v
    end
  end
  return into
end

-- Checks a base config field's type; nil, msg when it is not `kind`.
local function base_field(c, k, kind)
  local v = c[k]
  if v == nil or v == json.null then
    c[k] = nil
    return true
  end
  local ok = kind == "string" and type(v) == "string"
    or kind == "strings" and json.is_array(v) and check.strings(v, k) ~= nil
    or kind == "object" and json.is_object(v)
  if not ok then return nil, ("the base image's config.%s is not a %s"):format(k, kind), "BADDOC" end
  return true
end

local function union(base_obj, list)
  local o = json.object {}
  for k in pairs(base_obj or {}) do o[k] = json.object {} end
  for _, k in ipairs(list) do o[k] = json.object {} end
  return next(o) and o or nil
end

--- The `config` object of an image config: the base's (a decoded object,
-- or nil) with cfg and labels merged over it. Returns it, or nil, msg.
function M.merge(base, cfg, labels)
  local c = json.object {}
  for k, v in pairs(base or {}) do
    if v ~= json.null then c[k] = v end
  end
  for k, kind in pairs { Env = "strings", Entrypoint = "strings", Cmd = "strings", WorkingDir = "string",
    User = "string", StopSignal = "string", ExposedPorts = "object", Volumes = "object", Labels = "object",
    OnBuild = "strings", Shell = "strings", Healthcheck = "object" } do
    local ok, err = base_field(c, k, kind)
    if not ok then return nil, err, "BADDOC" end
  end
  local order, entry = {}, {}
  for _, e in ipairs(c.Env or {}) do
    local k = e:match("^([^=]+)=") or e
    if not entry[k] then order[#order + 1] = k end
    entry[k] = e
  end
  for _, k in ipairs(cfg.default_env.order) do
    if not entry[k] then
      order[#order + 1] = k
      entry[k] = k .. "=" .. cfg.default_env.values[k]
    end
  end
  for _, k in ipairs(cfg.env.order) do
    if not entry[k] then order[#order + 1] = k end
    entry[k] = k .. "=" .. cfg.env.values[k]
  end
  c.Env = nil
  if #order > 0 then
    c.Env = json.array {}
    for i, k in ipairs(order) do c.Env[i] = entry[k] end
  end
  if cfg.entrypoint ~= nil then
    c.Entrypoint = cfg.entrypoint and json.array(table.move(cfg.entrypoint, 1, #cfg.entrypoint, 1, {})) or nil
    if cfg.cmd == nil then c.Cmd = nil end
    c.ArgsEscaped = nil
  end
  if cfg.cmd ~= nil then
    c.Cmd = cfg.cmd and json.array(table.move(cfg.cmd, 1, #cfg.cmd, 1, {})) or nil
    c.ArgsEscaped = nil
  end
  if cfg.args_escaped ~= nil then c.ArgsEscaped = cfg.args_escaped or nil end
  if cfg.healthcheck then c.Healthcheck = cfg.healthcheck end
  for k, key in pairs { onbuild = "OnBuild", shell = "Shell" } do
    if cfg[k] then c[key] = #cfg[k] > 0 and json.array(table.move(cfg[k], 1, #cfg[k], 1, {})) or nil end
  end
  c.WorkingDir = cfg.workdir or c.WorkingDir
  c.User = cfg.user or c.User
  c.StopSignal = cfg.stop_signal or c.StopSignal
  c.ExposedPorts = union(c.ExposedPorts, cfg.ports)
  c.Volumes = union(c.Volumes, cfg.volumes)
  local l = {}
  for k, v in pairs(c.Labels or {}) do
    if type(v) ~= "string" then
      return nil, ("the base image's label %s is not a string"):format(check.show(k)), "BADDOC"
    end
    l[k] = v
  end
  for k, v in pairs(labels) do l[k] = v end
  c.Labels = next(l) and json.object(l) or nil
  return c
end

return M
