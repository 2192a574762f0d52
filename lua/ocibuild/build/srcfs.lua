--- The file systems a copy reads from, behind one interface:
--   host(root, matcher)   a context folder as BuildKit's context transfer
--                         shows it: what the .dockerignore excludes is not
--                         there (an excluded folder is, when a path kept
--                         below it brings it along); owners read as 0:0
--   image(st, layers)     an image's root file system: its layers merged
--                         (whiteouts applied, later layers winning), with
--                         each entry's mode, owner and link target; bodies
--                         are extracted only for what a copy takes
-- Paths are lists of components relative to the root. Each fs has
-- lstat(comps) -> info {t = "d"|"f"|"l"|"o", mode=, uid=, gid=, target=,
-- size=} or nil; list(comps) -> sorted names; walk(comps, fn) calling
-- fn(rel, info) depth first in byte order; resolve(comps) (symlinks
-- followed inside the root, as BuildKit's RootPath does). Functions
-- return nil, msg, code on failure.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local clean = require("ocibuild.util.path").below
local view = require "ocibuild.build.view"

local M = {}

local MAX_LINKS = 255
local TYPE = { dir = "d", file = "f", symlink = "l", hardlink = "h" }

local function join(comps, i, j)
  return table.concat(comps, "/", i or 1, j or #comps)
end

--- comps with every symlink followed inside the fs (".." never climbs
-- above the root; a missing component ends the lookups, the rest kept as
-- written). Returns the resolved comps, or nil, msg, "ELOOP".
local function resolve(fs, comps)
  local out, queue, hops = {}, table.move(comps, 1, #comps, 1, {}), 0
  while #queue > 0 do
    local c = table.remove(queue, 1)
    if c == ".." then
      out[#out] = nil
    elseif c ~= "." and c ~= "" then
      out[#out + 1] = c
      local info = fs:lstat(out)
      if info and info.t == "l" then
        hops = hops + 1
        if hops > MAX_LINKS then return nil, ("/%s: too many levels of symbolic links"):format(join(comps)), "ELOOP" end
        out[#out] = nil
        if info.target:sub(1, 1) == "/" then out = {} end
        local t = {}
        for x in info.target:gmatch("[^/]+") do t[#t + 1] = x end
        queue = table.move(queue, 1, #queue, #t + 1, t)
      elseif not info then
        for _, x in ipairs(queue) do
          if x == ".." then out[#out] = nil elseif x ~= "." and x ~= "" then out[#out + 1] = x end
        end
        return out
      end
    end
  end
  return out
end

-- ---- a host folder ----

local Host = {}
Host.__index = Host
Host.resolve = resolve

--- The context folder root (absolute) seen through matcher (or nil);
-- skip: paths walks leave out (the store, an output inside the context).
function M.host(root, matcher, skip)
  return setmetatable({ root = root, matcher = matcher, kind = "context", skip = skip }, Host)
end

function Host:path(comps)
  return #comps == 0 and self.root or self.root .. "/" .. join(comps)
end

-- Whether something is kept below the excluded folder rel.
function Host:keeps_below(rel)
  if not self.matcher:descend(rel) then return false end
  local w = core.walk(self.root .. "/" .. rel, self.matcher, { match_base = rel })
  return w ~= nil and w:next() ~= nil
end

function Host:lstat(comps)
  local st = core.stat(self:path(comps), true)
  if not st then return nil end
  local t = TYPE[st.type] or "o"
  if #comps > 0 and self.matcher and self.matcher:matches(join(comps)) then
    if t ~= "d" or not self:keeps_below(join(comps)) then return nil end
  end
  return { t = t, mode = st.mode, uid = 0, gid = 0, size = st.size, target = st.target, path = self:path(comps),
    dev = st.dev, ino = st.ino, nlink = st.nlink, kind = st.type }
end

function Host:list(comps)
  local names = core.list_dir(self:path(comps)) or {}
  local out = {}
  for _, n in ipairs(names) do
    local c = table.move(comps, 1, #comps, 1, {})
    c[#c + 1] = n
    if self:lstat(c) then out[#out + 1] = n end
  end
  table.sort(out)
  return out
end

--- Walks below comps (a folder): fn(rel, info) for each entry the
-- .dockerignore keeps, depth first, names in byte order.
function Host:walk(comps, fn)
  local base = join(comps)
  local w, err, code = core.walk(self:path(comps), self.matcher, { match_base = base ~= "" and base or nil,
    skip = self.skip })
  if not w then return nil, err, code end
  while true do
    local p, info
    p, info, code = w:next()
    if not p then
      if info then return nil, info, code end
      return true
    end
    local ok
    ok, err, code = fn(p, { t = TYPE[info.type] or "o", mode = info.mode, uid = 0, gid = 0, size = info.size,
      target = info.target, path = self:path(comps) .. "/" .. p, dev = info.dev, ino = info.ino,
      nlink = info.nlink, kind = info.type })
    if ok == nil then return nil, err, code end
  end
end

-- ---- an image's root file system ----

local Image = {}
Image.__index = Image
Image.resolve = resolve

-- Entries of layers read in this process, by digest.
local entries_cache = {}

-- Every entry of the layer blob digest: {comps=, t=, mode=, uid=, gid=,
-- size=, target=, idx=, link= (a hardlink's body: the idx of its target)}.
local function read_entries(st, digest, what)
  if entries_cache[digest] then return entries_cache[digest] end
  local r, err, code = core.tar_reader(st.core, digest)
  if not r then return nil, ("%s: %s"):format(what, err), code end
  local list, by_name, idx = {}, {}, 0
  while true do
    local e
    e, err, code = r:next()
    if not e then
      r:close()
      if err then return nil, ("%s: %s"):format(what, err), code end
      break
    end
    idx = idx + 1
    if idx > doc.MAX_LAYER_ENTRIES then
      r:close()
      return nil, doc.too_many_entries(what)
    end
    local comps = clean(e.name)
    local bad, bcode = doc.bad_entry_name(what, e.name)
    if bad then
      r:close()
      return nil, bad, bcode
    end
    if comps then
      local name = join(comps)
      local x = { comps = comps, t = TYPE[e.type] or "o", mode = e.mode, uid = e.uid, gid = e.gid, size = e.size,
        target = e.target, idx = idx, kind = e.type }
      if x.t == "h" then
        local tc = clean(e.target or "")
        x.t, x.target, x.link = "f", nil, tc and by_name[join(tc)]
        if not x.link then return nil, ("%s: hardlink %s to %s, which the layer does not hold before it"):format(
          what, check.show(name), check.show(e.target or "")), "BADLAYER" end
      elseif x.t == "f" then
        by_name[name] = idx
      end
      list[#list + 1] = x
    end
  end
  entries_cache[digest] = list
  return list
end

local function new_dir() return { t = "d", mode = 493, uid = 0, gid = 0, kids = {} } end

--- The root file system of an image of st whose layers are the
-- descriptors `layers`; what names the image in messages.
function M.image(st, layers, what)
  local fs = setmetatable({ root = new_dir(), st = st, kind = "image", what = what, wants = {} }, Image)
  for i, l in ipairs(layers) do
    local list, err, code = read_entries(st, l.digest, ("%s: layer %d (%s)"):format(what, i, l.digest))
    if not list then return nil, err, code end
    fs:add_layer(list, l.digest)
  end
  return fs
end

function Image:dir_at(comps, upto, make)
  local n = self.root
  for i = 1, upto do
    local k = n.kids[comps[i]]
    if not k or k.t ~= "d" then
      if not make then return nil end
      k = new_dir()
      n.kids[comps[i]] = k
    end
    n = k
  end
  return n
end

function Image:add_layer(list, digest)
  for _, e in ipairs(list) do
    local name = e.comps[#e.comps]
    if name:sub(1, 4) == ".wh." then
      local d = self:dir_at(e.comps, #e.comps - 1, false)
      if d then
        if name == ".wh..wh..opq" then d.kids = {} else d.kids[name:sub(5)] = nil end
      end
    end
  end
  for _, e in ipairs(list) do
    local name = e.comps[#e.comps]
    if name:sub(1, 4) ~= ".wh." then
      local d = self:dir_at(e.comps, #e.comps - 1, true)
      local old = d.kids[name]
      local node = { t = e.t, mode = e.mode, uid = e.uid, gid = e.gid, size = e.size, target = e.target,
        kind = e.kind, body = e.t == "f" and { layer = digest, idx = e.link or e.idx } or nil }
      if e.t == "d" then node.kids = old and old.t == "d" and old.kids or {} end
      d.kids[name] = node
    end
  end
end

-- The node at comps, as in a view (no link followed).
Image.node = view.plain

function Image:lstat(comps)
  return self:node(comps)
end

function Image:list(comps)
  local n = self:node(comps)
  local out = {}
  for k in pairs(n and n.kids or {}) do out[#out + 1] = k end
  table.sort(out)
  return out
end

function Image:walk(comps, fn)
  local function visit(n, prefix)
    local names = {}
    for k in pairs(n.kids or {}) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      local p = prefix == "" and k or prefix .. "/" .. k
      local kid = n.kids[k]
      local ok, err, code = fn(p, kid)
      if ok == nil then return nil, err, code end
      if kid.t == "d" then
        ok, err, code = visit(kid, p)
        if not ok then return nil, err, code end
      end
    end
    return true
  end
  local n = self:node(comps)
  if not n then return true end
  return visit(n, "")
end

--- Asks for the body of the file node info: the path its bytes will be
-- at once extract() has run.
function Image:want(info)
  local key = info.body.layer .. "#" .. info.body.idx
  local w = self.wants[key]
  if not w then
    w = { layer = info.body.layer, idx = info.body.idx }
    self.wants[key] = w
  end
  return w
end

--- Extracts every body asked for into the temp folder tmp (an object
-- with path(name) and add(path)), one pass over each layer concerned.
function Image:extract(tmp)
  local by_layer = {}
  for _, w in pairs(self.wants) do
    if not w.path then
      by_layer[w.layer] = by_layer[w.layer] or {}
      by_layer[w.layer][w.idx] = w
    end
  end
  for digest, need in pairs(by_layer) do
    local r, err, code = core.tar_reader(self.st.core, digest)
    if not r then return nil, ("%s: %s"):format(self.what, err), code end
    local idx = 0
    while next(need) do
      local e
      e, err, code = r:next()
      if not e then
        r:close()
        return nil, ("%s: layer %s: %s"):format(self.what, digest, err or "ended early"), code or "BADLAYER"
      end
      idx = idx + 1
      local w = need[idx]
      if w then
        local p = tmp:path()
        local ok
        ok, err, code = r:to_file(p)
        if not ok then
          r:close()
          return nil, ("%s: %s"):format(self.what, err), code
        end
        local key = digest .. "#" .. idx
        tmp:add(p, function() self.wants[key] = nil end)
        w.path, need[idx] = p, nil
      end
    end
    r:close()
  end
  return true
end

-- ---- sources with wildcards ----

local GLOB = "[*?[]"

local function split(p)
  local out = {}
  for c in p:gmatch("[^/]+") do out[#out + 1] = c end
  return out
end

--- Go's containsWildcards: *, ? or [ not escaped by a backslash.
function M.wildcards(s)
  local i = 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == "\\" then
      i = i + 1
    elseif c:match(GLOB) then
      return true
    end
    i = i + 1
  end
  return false
end

-- filepath.Match of a whole relative path against a pattern (no "**").
local function glob_match(pattern, s)
  local m = core.matcher { pattern }
  return m ~= nil and m:matches(s) and #split(pattern) == #split(s)
end

--- The paths of fs that the source s (comps, may hold wildcards) names,
-- and whether s had wildcards: BuildKit's ResolveWildcards (a matched
-- folder is not entered).
function M.matches(fs, s)
  local lit, rest = {}, nil
  for i, c in ipairs(s) do
    if M.wildcards(c) then
      rest = table.move(s, i, #s, 1, {})
      break
    end
    lit[#lit + 1] = c
  end
  if not rest then return { s }, false end
  local base = fs:resolve(lit) or lit
  local pattern = join(rest)
  local out = {}
  local function visit(dir, prefix)
    for _, name in ipairs(fs:list(dir)) do
      local rel = prefix == "" and name or prefix .. "/" .. name
      local full = table.move(dir, 1, #dir, 1, {})
      full[#full + 1] = name
      if glob_match(pattern, rel) then
        local m = table.move(lit, 1, #lit, 1, {})
        for x in rel:gmatch("[^/]+") do m[#m + 1] = x end
        out[#out + 1] = m
      else
        local info = fs:lstat(full)
        if info and info.t == "d" and #split(rel) < #rest then visit(full, rel) end
      end
    end
  end
  if fs:lstat(base) then visit(base, "") end
  return out, true
end

return M
