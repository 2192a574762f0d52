--- What the image holds at a path, while a build is planned: the base's
-- layers merged into one tree (whiteouts applied, later layers winning),
-- then each layer of the build on top, numbered from 1 (the base is 0).
-- A layer from a directory is not listed: it is "mounted" at its
-- destination and asked with lstat (and its exclusions) when a path below
-- it is looked up; whiteouts and opaque folders of later layers hide what
-- older layers and mounts have. Symlinks of the tree are followed as an
-- extractor follows them inside the root; a symlink inside a directory
-- is not (its target is not read): the answer there is "unknown".
local core = require "ocibuild.core"

local M = {}
M.__index = M

-- Node: {t = "d"|"f"|"l"|"o"|"w" (whiteout), seq = layer, kids = {name = node}
-- (folders), target = (symlinks), opq = layer of an opaque marker,
-- mounts = {{seq=, dir=, matcher=}} (folders)}.

local MAX_LINKS = 40
local STAT_TYPE = { dir = "d", file = "f", symlink = "l" }

--- An empty image.
function M.new()
  return setmetatable({ root = { t = "d", seq = 0, kids = {} } }, M)
end

--- "a/b/c" -> {"a", "b", "c"}.
function M.split(p)
  local t = {}
  for c in p:gmatch("[^/]+") do t[#t + 1] = c end
  return t
end

-- The node at comps, each component taken as it is (no link followed).
function M:plain(comps)
  local n = self.root
  for _, c in ipairs(comps) do
    n = n.kids and n.kids[c]
    if not n then return nil end
  end
  return n
end

--- Puts a node of type t at comps (a list of components, already
-- resolved), creating folders on the way; a folder put over a folder
-- keeps what is in it. Returns the node.
function M:put(comps, t, target, seq)
  local n = self.root
  for i = 1, #comps - 1 do
    local k = n.kids[comps[i]]
    if not k or k.t ~= "d" then
      k = { t = "d", seq = seq, kids = {} }
      n.kids[comps[i]] = k
    end
    n = k
  end
  if #comps == 0 then return n end
  local name, old = comps[#comps], n.kids[comps[#comps]]
  if t == "d" and old and old.t == "d" then
    old.seq = seq
    return old
  end
  local node = { t = t, seq = seq, target = target, kids = t == "d" and {} or nil }
  n.kids[name] = node
  return node
end

--- Adds one base layer's entries ({p=, t=, target=}, names clean): its
-- whiteouts first, since they hide only what is below the layer. Folders
-- are found through a cache of the folders of this layer (a tar lists a
-- folder's entries together), dropped when an entry replaces a folder.
-- blob: the layer's digest, kept on its files (see read).
function M:add_base_layer(list, blob)
  for _, e in ipairs(list) do
    local comps = M.split(e.p)
    local name = table.remove(comps)
    if name:sub(1, 4) == ".wh." then
      local n = self:plain(comps)
      if n and n.t == "d" then
        if name == ".wh..wh..opq" then n.kids = {} else n.kids[name:sub(5)] = nil end
      end
    end
  end
  local dirs = {}
  for _, e in ipairs(list) do
    local p = e.p
    local cut = p:match("^.*()/")
    local name = cut and p:sub(cut + 1) or p
    if name:sub(1, 4) ~= ".wh." then
      local dir = cut and p:sub(1, cut - 1) or ""
      local n = dirs[dir]
      if not n then
        n = dir == "" and self.root or self:put(M.split(dir), "d", nil, 0)
        dirs[dir] = n
      end
      local old = n.kids[name]
      if e.t == "d" then
        if not old or old.t ~= "d" then
          if old then dirs = {} end
          n.kids[name] = { t = "d", seq = 0, kids = {} }
        end
      else
        if old and old.t == "d" then dirs = {} end
        n.kids[name] = { t = e.t, seq = 0, target = e.target, blob = e.t == "f" and blob or nil, name = p }
      end
    end
  end
end

-- One step from pos {node=, mounts={{m=, rel=}}, floor=} into the name c:
-- the newest thing there ({t=, seq=, node=|m=, rel=, target=}) or nil,
-- and for a folder the position inside it.
local function step(pos, c)
  local n, floor = pos.node, pos.floor
  if n and n.opq and n.opq > floor then floor = n.opq end
  local kid = n and n.kids[c]
  if kid and kid.t == "w" then
    if kid.seq > floor then floor = kid.seq end
    kid = nil
  end
  local cands = {}
  if kid then cands[1] = { t = kid.t, seq = kid.seq, node = kid, target = kid.target } end
  for _, cur in ipairs(pos.mounts) do
    if cur.m.seq >= floor then
      local rel = cur.rel == "" and c or cur.rel .. "/" .. c
      local st = core.stat(cur.m.dir .. "/" .. rel, true)
      local mrel = cur.m.base and cur.m.base .. "/" .. rel or rel
      if st and not (cur.m.matcher and cur.m.matcher:matches(mrel)) then
        cands[#cands + 1] = { t = STAT_TYPE[st.type] or "o", seq = cur.m.seq, m = cur.m, rel = rel }
      end
    end
  end
  if #cands == 0 then return nil end
  table.sort(cands, function(a, b) return a.seq > b.seq end)
  local win = cands[1]
  if win.t ~= "d" then return win end
  -- A non-folder between two folders replaced the older one, contents and all.
  for _, x in ipairs(cands) do
    if x.t ~= "d" and x.seq > floor then floor = x.seq end
  end
  local nxt = { mounts = {}, floor = floor }
  for _, x in ipairs(cands) do
    if x.t == "d" and x.seq >= floor then
      if x.node then nxt.node = x.node else nxt.mounts[#nxt.mounts + 1] = { m = x.m, rel = x.rel } end
    end
  end
  for _, m in ipairs(nxt.node and nxt.node.mounts or {}) do
    nxt.mounts[#nxt.mounts + 1] = { m = m, rel = "" }
  end
  return win, nxt
end

function M:start()
  local pos = { node = self.root, mounts = {}, floor = 0 }
  for _, m in ipairs(self.root.mounts or {}) do pos.mounts[#pos.mounts + 1] = { m = m, rel = "" } end
  return pos
end

-- base (a list) joined with the components of target, "." and ".."
-- applied; ".." never climbs above the root.
local function join(base, target)
  local out = table.move(base, 1, #base, 1, {})
  for c in target:gmatch("[^/]+") do
    if c == ".." then out[#out] = nil elseif c ~= "." then out[#out + 1] = c end
  end
  return out
end

--- Looks comps up, following symlinks of the tree on the way (and at the
-- end with follow). Returns what is there ({t=, seq=, ...}), nil when
-- nothing is, or "?" when a symlink inside a directory is met; and the
-- path resolved (for a non-folder that stopped the walk, its own path).
function M:lookup(comps, follow)
  local path, hops = comps, 0
  while true do
    local pos, done, again = self:start(), {}, false
    for i, c in ipairs(path) do
      local win, nxt = step(pos, c)
      if not win then return nil, table.move(path, i, #path, #done + 1, done), "ENOENT" end
      local last = i == #path
      if win.t == "l" and (follow or not last) then
        if not win.node or hops >= MAX_LINKS then return "?", done end
        hops = hops + 1
        local np = join(win.target:sub(1, 1) == "/" and {} or done, win.target)
        path = table.move(path, i + 1, #path, #np + 1, np)
        again = true
        break
      end
      done[#done + 1] = c
      if last or win.t ~= "d" then return win, done end
      pos = nxt
    end
    if not again then return { t = "d", seq = 0, node = self.root }, done end
  end
end

--- Mounts the directory dir (with its exclusion matcher; base: dir's
-- path as the matcher sees it, or nil) at comps for layer seq; with
-- opaque, what older layers have there is hidden.
function M:mount(comps, seq, dir, matcher, opaque, base)
  local n = self:plain(comps)
  if not n or n.t ~= "d" then n = self:put(comps, "d", nil, seq) end
  if opaque then
    n.kids, n.opq = {}, seq
  end
  n.mounts = n.mounts or {}
  n.mounts[#n.mounts + 1] = { seq = seq, dir = dir, matcher = matcher, base = base }
end

-- Files of base layer blobs read for read(), by digest: {asked = {name =
-- true}, files = {name = body | false}}. One pass over a layer keeps
-- every file asked for so far and ALSO's, so that the lookups of a
-- --chown by name cost one read of a layer per process.
local bodies = {}
local ALSO = { "etc/passwd", "etc/group" }

-- Reads the blob of st once more, keeping the files asked for at most max
-- bytes each (false for none; {why=, code=} for one that could not be read).
local function scan(st, blob, rec, max)
  local r = core.tar_reader(st.core, blob)
  if not r then return end
  local files = {}
  while true do
    local e = r:next()
    if not e then break end
    local p = e.name:gsub("^%./", ""):gsub("/$", "")
    if rec.asked[p] and e.type == "file" then
      local body, err, code = r:read(max)
      files[p] = body or { why = code == "TOOBIG" and ("it has more than %d bytes"):format(max) or err, code = code }
    end
  end
  r:close()
  for p in pairs(rec.asked) do rec.files[p] = files[p] or false end
end

--- The bytes of the regular file at comps (symlinks followed), at most
-- max bytes (default 10 MiB), or nil when there is none there (and why,
-- for one that cannot be read). st: the
-- store holding the base layers. Reads a base layer's file from its blob,
-- a directory layer's from its folder, a copied file from its source.
function M:read(comps, st, max)
  max = max or (10 << 20)
  local info = self:lookup(comps, true)
  if type(info) ~= "table" or info.t ~= "f" then return nil end
  if info.m then return core.read_file(info.m.dir .. "/" .. info.rel, { max = max }) end
  local n = info.node
  if n.data then return n.data end
  if n.src then return core.read_file(n.src, { max = max }) end
  if not (n.blob and st) then return nil end
  local rec = bodies[n.blob]
  if not rec then
    rec = { asked = {}, files = {} }
    for _, p in ipairs(ALSO) do rec.asked[p] = true end
    bodies[n.blob] = rec
  end
  if rec.files[n.name] == nil then
    rec.asked[n.name] = true
    scan(st, n.blob, rec, max)
  end
  local got = rec.files[n.name]
  if type(got) == "table" then return nil, got.why, got.code end
  return got or nil
end

--- Records a whiteout of layer seq at comps (resolved).
function M:whiteout(comps, seq)
  local parent = self:plain(table.move(comps, 1, #comps - 1, 1, {}))
  if parent and parent.t == "d" then parent.kids[comps[#comps]] = { t = "w", seq = seq } end
end

--- Records an opaque marker of layer seq on the folder at comps.
function M:opaque(comps, seq)
  local n = self:plain(comps)
  if n and n.t == "d" then n.kids, n.opq = {}, seq end
end

--- Calls fn(path, node) for every node of the tree, parents first, in
-- byte order; fn returning true skips what is below that node.
function M:each(fn)
  local function visit(n, prefix)
    local names = {}
    for k, kid in pairs(n.kids or {}) do
      if kid.t ~= "w" then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do
      local p = prefix == "" and k or prefix .. "/" .. k
      if not fn(p, n.kids[k]) then visit(n.kids[k], p) end
    end
  end
  visit(self.root, "")
end

return M
