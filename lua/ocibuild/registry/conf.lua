--- containers-registries.conf(5), version 2, as podman and skopeo read it:
-- `[[registry]]` tables (prefix, location, insecure, blocked,
-- mirror-by-digest-only, `[[registry.mirror]]` with location, insecure,
-- pull-from-mirror) from $CONTAINERS_REGISTRIES_CONF, else
-- ~/.config/containers/registries.conf, else /etc/containers/registries.conf,
-- then the *.conf drop-ins of registries.conf.d (the system's, then the
-- user's; only the user's beside a user file), a later table replacing an
-- earlier one of the same prefix. The v1 lists [registries.insecure] and
-- [registries.block] are read too. What ocibuild does not use (search
-- registries, short names, aliases, credential helpers) is left unread;
-- what it uses is checked strictly, a mistake naming FILE:LINE.
local core = require "ocibuild.core"
local ref_mod = require "ocibuild.oci.ref"
local toml = require "ocibuild.registry.toml"

local M = {}

M.SYSTEM = "/etc/containers/registries.conf"
M.SYSTEM_D = "/etc/containers/registries.conf.d"

local REGISTRY_KEYS = { prefix = "string", location = "string", insecure = "boolean", blocked = "boolean",
  ["mirror-by-digest-only"] = "boolean", mirror = "list" }
local MIRROR_KEYS = { location = "string", insecure = "boolean", ["pull-from-mirror"] = "string" }
local PULL_FROM = { all = true, ["digest-only"] = true, ["tag-only"] = true }

--- The files to read: the main one (and whether it must exist) and the
-- drop-in folders, from env (a function like os.getenv).
function M.sources(env)
  env = env or os.getenv
  local home = env("HOME")
  local user = home and home ~= "" and (home .. "/.config/containers/registries.conf") or nil
  local user_d = user and (user .. ".d") or nil
  local override = env("CONTAINERS_REGISTRIES_CONF")
  if override and override ~= "" then return { main = override, must = true, dirs = { M.SYSTEM_D, user_d } } end
  if user and core.stat(user) then return { main = user, dirs = { user_d } } end
  return { main = M.SYSTEM, dirs = { M.SYSTEM_D, user_d } }
end

local function location(v, at)
  v = v:gsub("/+$", "")
  if v:match("^https?://") then
    return nil, ("%s: location %q names a scheme: give HOST[:PORT][/PATH] (insecure = true allows plain HTTP)")
      :format(at, v), "BADCONF"
  end
  return v
end

local function is_list(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then return false end
  end
  return true
end

-- Checks the keys of table t against known: nil, or the message.
local function check_keys(t, known, where, what, file)
  local w = where[t] or {}
  for k, v in pairs(t) do
    local want = known[k]
    local line = ("%s:%d"):format(file, w[k] or w[0] or 0)
    if not want then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      return ("%s: unknown key %q in %s (ocibuild reads %s)"):format(line, k, what, table.concat(names, ", "))
    end
    if (want == "list" and not is_list(v)) or (want ~= "list" and type(v) ~= want) then
      return ("%s: %s of %s must be %s"):format(line, k, what, want == "list" and "a list of tables" or ("a " .. want))
    end
  end
end

local function mirror(m, where, file, reg_at)
  if type(m) ~= "table" then return nil, reg_at .. ": a mirror must be a table", "BADCONF" end
  local at = ("%s:%d"):format(file, where[m] and where[m][0] or 0)
  local bad = check_keys(m, MIRROR_KEYS, where, "[[registry.mirror]]", file)
  if bad then return nil, bad, "BADCONF" end
  if not m.location or m.location == "" then return nil, at .. ": a mirror needs a location", "BADCONF" end
  local loc, err = location(m.location, at)
  if not loc then return nil, err, "BADCONF" end
  if m["pull-from-mirror"] and not PULL_FROM[m["pull-from-mirror"]] then
    return nil, ("%s: pull-from-mirror must be all, digest-only or tag-only, not %q"):format(at, m["pull-from-mirror"]),
      "BADCONF"
  end
  return { location = loc, insecure = m.insecure == true, pull_from = m["pull-from-mirror"] or "all" }
end

-- One [[registry]] table as an entry: {prefix=, location=, insecure=,
-- blocked=, digest_only=, mirrors=, at="FILE:LINE"}.
local function entry(t, where, file)
  local at = ("%s:%d"):format(file, (where[t] or {})[0] or 0)
  if type(t) ~= "table" then return nil, file .. ": registry must be [[registry]] tables", "BADCONF" end
  local bad = check_keys(t, REGISTRY_KEYS, where, "[[registry]]", file)
  if bad then return nil, bad, "BADCONF" end
  local e = { at = at, insecure = t.insecure == true, blocked = t.blocked == true,
    digest_only = t["mirror-by-digest-only"] == true, mirrors = {} }
  local err
  e.location, err = location(t.location or "", at)
  if not e.location then return nil, err, "BADCONF" end
  e.prefix = (t.prefix or ""):gsub("/+$", "")
  if e.prefix == "" then e.prefix = e.location end
  if e.prefix == "" then return nil, at .. ": a registry needs a location or a prefix", "BADCONF" end
  if e.prefix:match("^%*%.") then
    if e.prefix:find("[/@:]") then
      return nil, ("%s: a wildcard prefix is *.DOMAIN only, not %q"):format(at, e.prefix), "BADCONF"
    end
  elseif e.location == "" then
    return nil, ("%s: prefix %q needs a location (only a *.DOMAIN prefix goes without)"):format(at, e.prefix), "BADCONF"
  end
  for _, m in ipairs(t.mirror or {}) do
    local me
    me, err = mirror(m, where, file, at)
    if not me then return nil, err, "BADCONF" end
    if e.digest_only and m["pull-from-mirror"] then
      return nil, ("%s: mirror-by-digest-only and a mirror's pull-from-mirror exclude each other"):format(at), "BADCONF"
    end
    e.mirrors[#e.mirrors + 1] = me
  end
  return e
end

-- The v1 lists as entries.
local function v1(t, where, file)
  local list = {}
  for _, kind in ipairs { "insecure", "block" } do
    local sub = type(t[kind]) == "table" and t[kind].registries or {}
    local at = ("%s:%d"):format(file, (where[t] or {})[kind] or (where[t] or {})[0] or 0)
    if type(sub) ~= "table" then return nil, at .. ": registries must be a list of strings", "BADCONF" end
    for _, host in ipairs(sub) do
      if type(host) ~= "string" then return nil, at .. ": registries must be a list of strings", "BADCONF" end
      local loc, err = location(host, at)
      if not loc then return nil, err, "BADCONF" end
      list[#list + 1] = { at = at, prefix = loc, location = loc, insecure = kind == "insecure",
        blocked = kind == "block", mirrors = {} }
    end
  end
  return list
end

--- The entries of one file's text (name: for messages; dropin: the v1
-- format is refused there, as containers refuses it), or nil, msg.
function M.parse(text, name, dropin)
  local root, where = toml.parse(text, name)
  if not root then return nil, where, "BADCONF" end
  local regs = root.registry
  if regs ~= nil and not is_list(regs) then
    return nil, ("%s:%d: registry must be [[registry]] tables"):format(name, where[root].registry), "BADCONF"
  end
  local list = {}
  if type(root.registries) == "table" then
    if dropin or (regs and #regs > 0) then
      return nil, ("%s:%d: the v1 format ([registries.*]) cannot be mixed with [[registry]] tables or used in a "
        .. "drop-in"):format(name, where[root].registries), "BADCONF"
    end
    return v1(root.registries, where, name)
  end
  local seen = {}
  for _, t in ipairs(regs or {}) do
    local e, err = entry(t, where, name)
    if not e then return nil, err, "BADCONF" end
    if not seen[e.prefix] then -- the first of a prefix wins, as in containers
      seen[e.prefix] = true
      list[#list + 1] = e
    end
  end
  return list
end

local function read(path)
  local text, err, code = core.read_file(path, { max = 1 << 20 })
  if not text then return nil, err, code end
  return text
end

-- The drop-in files of dir, sorted.
local function dropins(dir)
  local names = dir and core.list_dir(dir) or {}
  local files = {}
  for _, n in ipairs(names) do
    local st = n:match("%.conf$") and core.stat(dir .. "/" .. n)
    if st and st.type == "file" then files[#files + 1] = dir .. "/" .. n end
  end
  table.sort(files)
  return files
end

-- No two entries for one location may disagree on insecure or blocked.
local function conflicts(list)
  local by = {}
  for _, e in ipairs(list) do
    local o = e.location ~= "" and by[e.location]
    if o and (o.insecure ~= e.insecure or o.blocked ~= e.blocked) then
      return ("%s: registry %q is also at %s, with another insecure or blocked setting"):format(e.at, e.location, o.at)
    end
    if e.location ~= "" then by[e.location] = by[e.location] or e end
  end
end

--- Loads the configuration (env as in sources). Returns {entries=,
-- files=}, or nil, msg, code.
function M.load(env)
  local src = M.sources(env)
  local entries, files = {}, {}
  local text, err, code = read(src.main)
  if not text and (src.must or code ~= "ENOENT") then
    return nil, ("registries.conf: %s"):format(err), code
  end
  local function merge(t, name, dropin)
    local list, perr = M.parse(t, name, dropin)
    if not list then return nil, perr, "BADCONF" end
    files[#files + 1] = name
    for _, e in ipairs(list) do
      local replaced = false
      for i, old in ipairs(entries) do
        if old.prefix == e.prefix then entries[i], replaced = e, true end
      end
      if not replaced then entries[#entries + 1] = e end
    end
    return true
  end
  if text then
    local ok, merr = merge(text, src.main)
    if not ok then return nil, merr, "BADCONF" end
  end
  for _, dir in ipairs(src.dirs) do
    for _, f in ipairs(dropins(dir)) do
      text, err, code = read(f)
      if not text then return nil, ("registries.conf.d: %s"):format(err), code end
      local ok, merr = merge(text, f, true)
      if not ok then return nil, merr, "BADCONF" end
    end
  end
  local bad = conflicts(entries)
  if bad then return nil, bad, "BADCONF" end
  return { entries = entries, files = files }
end

-- How much of ref (a reference string) the prefix matches: its length,
-- or nil. A *.DOMAIN prefix matches the registry hosts under DOMAIN.
local function matches(ref, prefix)
  if prefix:sub(1, 2) == "*." then
    local host = ref:match("^[^/]*")
    local hostname = host:gsub(":%d+$", "")
    if hostname:sub(-(#prefix - 1)) == prefix:sub(2) then return #hostname end
    return nil
  end
  if ref == prefix then return #prefix end
  if ref:sub(1, #prefix) == prefix and ref:sub(#prefix + 1, #prefix + 1):match("[:/@]") then return #prefix end
end

--- The entry for the parsed reference r (longest prefix), and how much of
-- r.normalized it matched; or nil.
function M.find(cfg, r)
  local best, len, best_p = nil, nil, -1
  for _, e in ipairs(cfg.entries) do
    local n = matches(r.normalized, e.prefix)
    if n and #e.prefix > best_p then best, len, best_p = e, n, #e.prefix end
  end
  return best, len
end

--- Where to reach r (a parsed reference) for action "pull" or "push": a
-- list of {ref= (parsed, rewritten), insecure=, mirror= (true for a
-- mirror)}, mirrors first for a pull; or nil, msg, code (BLOCKED).
function M.endpoints(cfg, r, action)
  local e, len = M.find(cfg, r)
  if not e then return { { ref = r, insecure = false } } end
  if e.blocked then
    return nil, ("%s is blocked by registries.conf (%s)"):format(r.familiar, e.at), "BLOCKED"
  end
  local list = {}
  local function add(loc, insecure, is_mirror)
    local text = loc == "" and r.normalized or (loc .. r.normalized:sub(len + 1))
    local rr, err = ref_mod.parse(text)
    if not rr then return nil, ("%s: %s rewrites %s to %q: %s"):format(e.at, loc, r.familiar, text, err), "BADCONF" end
    list[#list + 1] = { ref = rr, insecure = insecure, mirror = is_mirror or nil }
    return true
  end
  if action == "pull" then
    for _, m in ipairs(e.mirrors) do
      local by_digest = r.digest ~= nil
      local use = (e.digest_only and by_digest) or (not e.digest_only and (m.pull_from == "all"
        or (m.pull_from == "digest-only" and by_digest) or (m.pull_from == "tag-only" and not by_digest)))
      if use then
        local ok, err = add(m.location, m.insecure, true)
        if not ok then return nil, err, "BADCONF" end
      end
    end
  end
  local ok, err = add(e.location, e.insecure)
  if not ok then return nil, err, "BADCONF" end
  return list
end

return M
