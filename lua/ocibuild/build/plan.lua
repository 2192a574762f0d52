--- Planning a build's layers on what the image already holds (the base
-- and the layers before, as an ocibuild.build.view): for each layer the
-- entries written besides its directory's files:
-- - the folders of a destination (or of a file's path) the image does not
--   have yet, 0755 and owned like the layer; a folder the image has, or a
--   symlink to one (a symlinked /var/run), is left out so its attributes
--   stay; a file in the way is an error;
-- - `replace = true`: an opaque marker that hides what the destination held;
-- - files (`content` or `source`) and removals: whiteouts (`.wh.NAME`) for
--   paths, opaque markers for "DIR/*" and "DIR/**", and one whiteout per
--   topmost path of the image that a wildcard pattern matches.
-- Everything is checked here, before any layer is written. Returns nil,
-- msg, code, where on a conflict.
local check = require "ocibuild.util.check"

local M = {}

local function origin(steps, seq)
  if seq == 0 then return "the base image" end
  local s = steps[seq]
  return ("the layer made at %s"):format(s and s.where or ("layer " .. seq))
end

local KIND = { f = "a file", l = "a symlink", o = "a special file", d = "a folder" }

-- Folders for comps[1..upto] the view lacks: emit(name) for each, each put
-- into the view as layer seq's. Returns true, false when a symlink inside
-- a directory hides the rest (nothing more is emitted), or nil, msg.
local function parents(v, comps, upto, seq, emit, steps, what)
  for i = 1, upto do
    local sub = table.move(comps, 1, i, 1, {})
    local info, resolved = v:lookup(sub, true)
    if info == "?" then return false end
    if info == nil then
      emit(table.concat(sub, "/") .. "/")
      v:put(resolved, "d", nil, seq)
    elseif info.t ~= "d" then
      return nil, ("%s: /%s is %s in %s"):format(what, table.concat(resolved, "/"), KIND[info.t] or "not a folder",
        origin(steps, info.seq)), "ENOTDIR"
    end
  end
  return true
end

-- Byte order by components, whiteouts before their siblings (the opaque
-- marker first), parents before children.
local function rank(c)
  if c == ".wh..wh..opq" then return 0 end
  if c:sub(1, 4) == ".wh." then return 1 end
  return 2
end

local function sort(items)
  for _, it in ipairs(items) do
    it._comps = {}
    for c in it.name:gmatch("[^/]+") do it._comps[#it._comps + 1] = c end
  end
  table.sort(items, function(a, b)
    local x, y = a._comps, b._comps
    for i = 1, math.min(#x, #y) do
      if x[i] ~= y[i] then
        local rx, ry = rank(x[i]), rank(y[i])
        if rx ~= ry then return rx < ry end
        return x[i] < y[i]
      end
    end
    return #x < #y
  end)
  for _, it in ipairs(items) do it._comps = nil end
  return items
end

local function dir_item(name, mt, uid, gid)
  return { kind = "dir", name = name, mode = 493, mtime = mt, uid = uid, gid = gid }
end

local function owner_ids(owner)
  local u, g = owner:match("^(%d+):(%d+)$")
  return tonumber(u or 0), tonumber(g or 0)
end

-- A layer from a directory: its destination's missing folders, then the
-- opaque marker of `replace`; the directory is then mounted in the view.
local function plan_context(v, s, k, steps, mt)
  local l = s.l
  local comps = {}
  for c in l.prefix:gmatch("[^/]+") do comps[#comps + 1] = c end
  local uid, gid = owner_ids(l.owner)
  local items = {}
  local before = #comps == 0 and { t = "d" } or v:lookup(comps, true)
  local ok, err, code = parents(v, comps, #comps, k, function(name)
    items[#items + 1] = dir_item(name, mt, uid, gid)
  end, steps, ("dest %s"):format(l.dest))
  if ok == nil then return nil, err, code end
  if ok then
    local _, resolved = v:lookup(comps, true)
    if l.replace and before then
      items[#items + 1] = { kind = "data", name = l.prefix .. ".wh..wh..opq", mode = 0, mtime = mt, data = "" }
    end
    v:mount(resolved, k, l.context, l.matcher, l.replace)
  end
  return { items = items, created_by = "ocibuild layer " .. l.dest }
end

local function whiteout_name(comps, last)
  local parent = table.concat(comps, "/", 1, #comps - 1)
  return (parent ~= "" and parent .. "/" or "") .. last
end

-- The removals of a generated layer, applied to the view first (they hide
-- only what is below this layer).
local function plan_removes(v, s, k, mt, items, warn)
  for _, r in ipairs(s.removes) do
    local where = ("%s: remove %s"):format(r.where, check.show(r.text))
    if r.kind == "path" then
      local info, resolved = v:lookup(r.comps, false)
      if info == nil then
        warn(where .. ": the image has nothing there")
      else
        items[#items + 1] = { kind = "data", name = whiteout_name(r.comps, ".wh." .. r.comps[#r.comps]), mode = 0,
          mtime = mt, data = "" }
        if info ~= "?" then v:whiteout(resolved, k) end
      end
    elseif r.kind == "contents" then
      local info, resolved = v:lookup(r.comps, true)
      if info == nil then
        warn(where .. ": the image has nothing there")
      elseif info ~= "?" and info.t ~= "d" then
        return nil, ("remove %s: /%s is not a folder"):format(check.show(r.text), table.concat(resolved, "/")),
          "ENOTDIR", r.where
      else
        items[#items + 1] = { kind = "data", name = table.concat(r.comps, "/") .. "/.wh..wh..opq", mode = 0,
          mtime = mt, data = "" }
        if info ~= "?" then v:opaque(resolved, k) end
      end
    else
      local hits = {}
      v:each(function(p)
        if r.matcher:matches(p) then
          hits[#hits + 1] = p
          return true
        end
      end)
      if #hits == 0 then warn(where .. ": matches nothing in the image") end
      for _, p in ipairs(hits) do
        local comps = {}
        for c in p:gmatch("[^/]+") do comps[#comps + 1] = c end
        items[#items + 1] = { kind = "data", name = whiteout_name(comps, ".wh." .. comps[#comps]), mode = 0,
          mtime = mt, data = "" }
        v:whiteout(comps, k)
      end
    end
  end
  return true
end

-- A layer of files and removals.
local function plan_generated(v, s, k, steps, mt, warn)
  local items, seen, files = {}, {}, {}
  local ok, err, code, where = plan_removes(v, s, k, mt, items, warn)
  if not ok then return nil, err, code, where end
  local function emit(name)
    if not seen[name] then
      seen[name] = true
      items[#items + 1] = dir_item(name, mt, 0, 0)
    end
  end
  for _, f in ipairs(s.files) do
    local what = ("file %s"):format(f.path)
    if files[f.path] then
      return nil, ("%s is added twice in one layer (also at %s)"):format(what, files[f.path].where), "EEXIST",
        f.where
    end
    local name = table.concat(f.comps, "/")
    if seen[name .. "/"] then
      return nil, ("%s: another file of this layer goes below it"):format(what), "EEXIST", f.where
    end
    files[f.path] = f
    ok, err, code = parents(v, f.comps, #f.comps - 1, k, emit, steps, what)
    if ok == nil then return nil, err, code, f.where end
    local info, resolved = v:lookup(f.comps, false)
    if info and info ~= "?" and info.t == "d" then
      return nil, ("%s: the image has a folder there (from %s); remove it first"):format(what,
        origin(steps, info.seq)), "EISDIR", f.where
    end
    local it = { name = name, mode = f.mode, mtime = mt, uid = f.uid, gid = f.gid }
    if f.content then
      it.kind, it.data = "data", f.content
    else
      it.kind, it.path = "file", f.source
    end
    items[#items + 1] = it
    if info ~= "?" then v:put(resolved, "f", nil, k) end
  end
  -- A whiteout of a path this layer writes again: the new entry replaces
  -- it anyway, and one layer must not name a path twice.
  local kept = {}
  for _, it in ipairs(items) do
    local dir, base = it.name:match("^(.-)%.wh%.([^/]+)$")
    if not (base and base ~= ".wh..opq" and files["/" .. dir .. base]) then kept[#kept + 1] = it end
  end
  local parts = {}
  if #s.files > 0 then
    local names = {}
    for i, f in ipairs(s.files) do names[i] = f.path end
    parts[#parts + 1] = "file " .. table.concat(names, " ")
  end
  if #s.removes > 0 then
    local names = {}
    for i, r in ipairs(s.removes) do names[i] = r.text end
    parts[#parts + 1] = "remove " .. table.concat(names, " ")
  end
  return { items = sort(kept), created_by = "ocibuild " .. table.concat(parts, "; ") }
end

--- Sorts tar items by path: parents first, whiteouts before their
-- siblings. Returns items.
M.sort = sort

-- A folder and its parents the image lacks (WORKDIR), owned by s.owner
-- (uid, gid).
local function plan_mkdir(v, s, k, mt)
  local items = {}
  for i = 1, #s.comps do
    local sub = table.move(s.comps, 1, i, 1, {})
    local info, resolved = v:lookup(sub, true)
    if info == "?" then
      return nil, ("mkdir %s: a symlink of a directory layer is in the way"):format(s.path), "ELOOP"
    elseif info == nil then
      items[#items + 1] = dir_item(table.concat(resolved, "/") .. "/", mt, s.uid, s.gid)
      v:put(resolved, "d", nil, k)
    elseif info.t ~= "d" then
      return nil, ("mkdir %s: /%s is not a folder"):format(s.path, table.concat(resolved, "/")), "ENOTDIR"
    end
  end
  return { items = items }
end

--- Whether a step needs to know what the image holds.
function M.needs_view(s)
  if s.kind == "copy" or s.kind == "mkdir" then return true end
  if s.kind == "history" then return false end
  return s.kind == "generated" or s.l.prefix ~= "" or s.l.replace
end

--- Plans every step of steps on the view v. ctx: {sde=, warn=, copy=
-- (function(s) -> the context a copy step plans with, see
-- ocibuild.build.copy), owner= (function(s) -> uid, gid of a mkdir step)}.
-- Returns a list of {items=, created_by=}, or nil, msg, code, where.
function M.plan(steps, v, ctx)
  local mt = ctx.sde or 0
  local warn = ctx.warn or function() end
  local out = {}
  for k, s in ipairs(steps) do
    local p, err, code, where
    if s.kind == "context" then
      p, err, code = plan_context(v, s, k, steps, mt)
      where = s.where
    elseif s.kind == "copy" then
      local cctx
      cctx, err, code = ctx.copy(s)
      if cctx then p, err, code = require("ocibuild.build.copy").plan(v, s, k, cctx) end
      where = s.where
    elseif s.kind == "mkdir" then
      s.uid, s.gid = ctx.owner(s)
      p, err, code = plan_mkdir(v, s, k, mt)
      where = s.where
    elseif s.kind == "history" then
      p = { history = true }
    else
      p, err, code, where = plan_generated(v, s, k, steps, mt, warn)
    end
    if not p then return nil, err, code, where or s.where end
    out[k] = p
  end
  return out
end

return M
