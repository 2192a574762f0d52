--- A layer of selected sources: what COPY and ADD put into an image, as
-- BuildKit's file operations do it. Sources are paths of a context folder
-- (through its .dockerignore) or of another image's file system, with
-- wildcards; files given whole (heredocs); files fetched by URL (ADD,
-- with a checksum); local archives unpacked (ADD). The destination's
-- trailing slash, an existing folder there and symlinks in the image
-- decide where each source lands: a folder's contents go into the
-- destination, a file into it or onto its name. Options: chown (names
-- from the image's /etc/passwd and /etc/group), chmod (octal or
-- symbolic), parents (source paths kept below the destination), exclude
-- (patterns relative to each source), link (the layer does not depend on
-- what the image holds: planned on an empty tree).
-- spec() checks a copy once; plan() resolves it on the image as it is
-- (ocibuild.build.view) into the layer's entries, or a folder walked by
-- the core with its layer state (one folder of a context, the common
-- case). Functions return nil, msg, code.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local ignore = require "ocibuild.build.ignore"
local perm = require "ocibuild.build.perm"
local srcfs = require "ocibuild.build.srcfs"
local unpack = require "ocibuild.build.unpack"
local view_mod = require "ocibuild.build.view"
local split = require("ocibuild.util.path").components

local M = {}

M.OPTIONS = { "sources", "contents", "urls", "dest", "context", "ignore", "from", "platform", "chown", "chmod",
  "parents", "exclude", "link", "unpack", "created_by", "comment" }

local function join(comps) return table.concat(comps, "/") end

--- Checks a copy spec. Returns the record plan() takes.
function M.spec(spec, where)
  if type(spec) ~= "table" then return nil, "copy needs a table with sources and dest", "BADVALUE" end
  local ok, err = check.keys(spec, M.OPTIONS, "copy")
  if not ok then return nil, err, "BADVALUE" end
  local c = { where = where, sources = spec.sources or {}, contents = spec.contents or {}, urls = spec.urls or {},
    parents = spec.parents or false, link = spec.link or false, unpack = spec.unpack or false,
    created_by = spec.created_by, comment = spec.comment, context = spec.context, from = spec.from }
  if spec.platform ~= nil then
    local p, perr = require("ocibuild.oci.platform").parse(spec.platform)
    if not p then return nil, "copy: " .. perr, "BADVALUE" end
    c.platform = p
  end
  ok, err = check.strings(c.sources, "copy: sources")
  if not ok then return nil, err, "BADVALUE" end
  if not check.abs_path(spec.dest) then
    return nil, ("copy: dest must be an absolute path in the image, got %s"):format(check.show(spec.dest)), "BADVALUE"
  end
  c.dest = { comps = split(spec.dest), slash = spec.dest:sub(-1) == "/" or spec.dest:sub(-2) == "/.", text = spec.dest }
  for _, comp in ipairs(c.dest.comps) do
    if comp:sub(1, 4) == ".wh." then
      return nil, ("copy: dest %s has a component starting with .wh."):format(check.show(spec.dest)), "BADVALUE"
    end
  end
  if #c.sources > 0 and not c.context and not c.from then
    return nil, "copy: sources need a context folder or an image to come from", "BADVALUE"
  end
  if spec.chmod ~= nil and spec.chmod ~= "" then
    c.chmod, err = perm.chmod(spec.chmod)
    if not c.chmod then return nil, err, "BADVALUE" end
    c.chmod_text = spec.chmod
  end
  if spec.chown ~= nil and spec.chown ~= "" then
    if type(spec.chown) ~= "string" or not spec.chown:match("^[^:]*:?[^:]*$") then
      return nil, ("copy: bad chown %s: expected user[:group]"):format(check.show(spec.chown)), "BADVALUE"
    end
    c.chown = spec.chown
  end
  local ex = spec.exclude or {}
  ok, err = check.strings(ex, "copy: exclude")
  if not ok then return nil, err, "BADVALUE" end
  c.exclude_patterns = {}
  for _, x in ipairs(ex) do
    local p = ignore.clean_pattern(x)
    if p then c.exclude_patterns[#c.exclude_patterns + 1] = p end
  end
  if #c.exclude_patterns > 0 then
    local m, e2 = core.matcher(c.exclude_patterns)
    if not m then return nil, "copy: exclude: " .. e2, "BADPATTERN" end
    c.exclude = m
  end
  if c.context then
    local m, e2, code = ignore.compile(spec.ignore or {})
    if not m then return nil, e2, code end
    c.matcher, c.ignore_patterns = m, {}
    for i, e in ipairs(spec.ignore or {}) do c.ignore_patterns[i] = e.pattern end
  end
  return c
end

-- ---- the entries of one copy ----

local Out = {}
Out.__index = Out

local function new_out(v, k, c, ctx)
  local o = setmetatable({ v = v, k = k, c = c, ctx = ctx, items = {}, order = {}, mt = ctx.mt }, Out)
  o.dir_mode = c.chmod and c.chmod.octal or 493
  return o
end

function Out.fail(_, msg, code)
  error({ msg = msg, code = code or "ECOPY" }, 0)
end

function Out:lookup(comps, follow)
  local info, resolved = self.v:lookup(comps, follow)
  if info == "?" then
    self:fail(("/%s: a symlink inside a directory layer is in the way; it cannot be followed while planning")
      :format(join(comps)), "ELOOP")
  end
  return info, resolved
end

-- Records the entry it (a tar item without name) at comps.
function Out:put(comps, it, t, extra)
  local name = join(comps)
  it.name = t == "d" and name .. "/" or name
  it.mtime = self.mt
  if self.items[name] == nil then self.order[#self.order + 1] = name end
  self.items[name] = it
  for _, v in ipairs { self.v, self.main } do
    local node = v:put(comps, t, it.target, self.k)
    node.src, node.data = extra and extra.src, it.data
    if t ~= "d" then node.kids = nil end
  end
end

-- MkdirAll: the folders of comps the image lacks, 0755 (or the octal
-- chmod) and owned like the copy.
function Out:mkdir_all(comps)
  for i = 1, #comps do
    local sub = table.move(comps, 1, i, 1, {})
    local info, resolved = self:lookup(sub, true)
    if info == nil then
      self:put(resolved, { kind = "dir", mode = self.dir_mode, uid = self.uid or 0, gid = self.gid or 0 }, "d")
    elseif info.t ~= "d" then
      self:fail(("mkdir /%s: not a directory"):format(join(resolved)), "ENOTDIR")
    end
  end
end

function Out:owner(e)
  if self.uid then return self.uid, self.gid end
  return e.uid or 0, e.gid or 0
end

function Out:mode(e)
  if self.c.chmod and e.t ~= "l" then return perm.apply(self.c.chmod, e.mode, e.t == "d") end
  return e.mode
end

-- One entry e of a source (walked or named) at comps of the image.
function Out:entry(comps, e, fs)
  local uid, gid = self:owner(e)
  if comps[#comps]:sub(1, 4) == ".wh." then
    self:fail(("/%s: a name starting with .wh. would be read as a whiteout"):format(join(comps)), "WHITEOUT")
  end
  local here = self.v:lookup(comps, false)
  if here == "?" then here = nil end
  if e.t == "d" then
    if here and here.t ~= "d" then self:fail(("cannot copy to non-directory: /%s"):format(join(comps)), "ENOTDIR") end
    self:put(comps, { kind = "dir", mode = self:mode(e), uid = uid, gid = gid }, "d")
  elseif e.t == "l" then
    if here and here.t == "d" and here.seq ~= self.k then
      self:fail(("cannot replace to directory /%s with file"):format(join(comps)), "EISDIR")
    end
    self:put(comps, { kind = "symlink", target = e.target, mode = 511, uid = uid, gid = gid }, "l")
  elseif e.t == "f" then
    if here and here.t == "d" and here.seq ~= self.k then
      self:fail(("cannot replace to directory /%s with file"):format(join(comps)), "EISDIR")
    end
    local it = { kind = "file", mode = self:mode(e), uid = uid, gid = gid, path = e.path, data = e.data }
    if it.data then it.kind, it.path = "data", nil end
    if fs and fs.kind == "image" then it.want = fs:want(e) end
    it.link_key = e.nlink and e.nlink > 1 and (e.dev .. ":" .. e.ino) or nil
    self:put(comps, it, "f", { src = e.path })
  elseif e.kind == "socket" then
    if self.ctx.warn then self.ctx.warn(("skipping socket %s"):format(e.path or join(comps))) end
  elseif e.kind == "fifo" then
    self:put(comps, { kind = "fifo", mode = self:mode(e), uid = uid, gid = gid }, "o")
  else
    self:fail(("/%s: devices cannot be copied"):format(join(comps)), "DEVICE")
  end
end

-- Walks the folder real of fs into comps: each entry kept by the
-- exclusions (and the --parents pattern), with the folders above a kept
-- entry brought along as they are in the source.
function Out:tree(fs, real, comps, include)
  local ex = self.c.exclude
  local pending = {}
  local skip
  local ok, err, code = fs:walk(real, function(rel, e)
    if skip and (rel == skip or rel:sub(1, #skip + 1) == skip .. "/") then return true end
    skip = nil
    local out = table.move(comps, 1, #comps, 1, {})
    for x in rel:gmatch("[^/]+") do out[#out + 1] = x end
    while #pending > 0 and rel:sub(1, #pending[#pending].rel + 1) ~= pending[#pending].rel .. "/" do
      pending[#pending] = nil
    end
    local excluded = ex and ex:matches(rel)
    local included = not include or include:matches(rel)
    if excluded or not included then
      if e.t == "d" and ((excluded and ex:descend(rel)) or (not excluded and not included)) then
        pending[#pending + 1] = { rel = rel, comps = out, e = e }
      elseif e.t == "d" then
        skip = rel
      end
      return true
    end
    for _, p in ipairs(pending) do
      if not p.done then
        self:entry(p.comps, p.e, fs)
        p.done = true
      end
    end
    self:entry(out, e, fs)
    return true
  end)
  if not ok then self:fail(err, code) end
end

-- BuildKit's ensureDstPath: the destination folder, or the one holding
-- the destination's name.
function Out:ensure_dest()
  local d = self.c.dest
  self:mkdir_all(d.slash and d.comps or table.move(d.comps, 1, #d.comps - 1, 1, {}))
end

-- Copies one source (s: as written, for its base name; real: resolved in
-- fs; e: what is there) to the destination (BuildKit's prepareTargetDir
-- and copy).
function Out:copy_one(fs, s, real, e)
  local dest = self.c.dest.comps
  local dinfo, dpath = self:lookup(dest, true)
  if self.c.unpack and fs and fs.kind == "context" and e.t == "f" and unpack.is_archive(e.path) then
    return unpack.unpack(self, e.path, dest)
  end
  if e.t ~= "d" and dinfo and dinfo.t == "d" then
    dpath = table.move(dpath, 1, #dpath, 1, {})
    dpath[#dpath + 1] = s[#s]
    dinfo = self:lookup(dpath, true)
  end
  if e.t == "d" and not dinfo then
    self:mkdir_all(dpath)
  else
    self:mkdir_all(table.move(dpath, 1, #dpath - 1, 1, {}))
  end
  if e.t == "d" then
    local here = self:lookup(dpath, true)
    if here and here.t ~= "d" then self:fail(("cannot copy to non-directory: /%s"):format(join(dpath)), "ENOTDIR") end
    self:tree(fs, real, dpath, self.include)
  else
    if #dpath == 0 then self:fail("cannot copy a file onto /", "EISDIR") end
    self:entry(dpath, e, fs)
  end
end

-- Owner ids from chown, read against the image (or none for link).
local function owner_of(o)
  local c = o.c
  if not c.chown then return end
  local uid, gid = perm.owner(c.chown, function(kind)
    if o.ctx.read then return o.ctx.read({ "etc", kind }) end
  end, true)
  if not uid then o:fail(("--chown=%s: %s"):format(c.chown, gid), "EOWNER") end
  o.uid, o.gid = uid, gid
end

-- The fast case: one folder of a context, walked by the core.
local function fast_case(o, fs, real, e)
  local c = o.c
  if fs.kind ~= "context" or e.t ~= "d" or c.parents or (c.chmod and not c.chmod.octal) then return false end
  local base = join(real)
  if base:find("[*?%[\\]") then return false end
  for _, p in ipairs(c.exclude_patterns) do
    if p:sub(1, 1) == "!" then return false end
  end
  local dest = c.dest.comps
  local dinfo, dpath = o:lookup(dest, true)
  if not dinfo then o:mkdir_all(dpath) end
  if dinfo and dinfo.t ~= "d" then o:fail(("cannot copy to non-directory: /%s"):format(join(dpath)), "ENOTDIR") end
  local _, resolved = o:lookup(dpath, true)
  local pats = table.move(c.ignore_patterns, 1, #c.ignore_patterns, 1, {})
  for _, p in ipairs(c.exclude_patterns) do pats[#pats + 1] = base ~= "" and base .. "/" .. p or p end
  local m, err = core.matcher(pats)
  if not m then o:fail(err, "BADPATTERN") end
  o.v:mount(resolved, o.k, e.path, m, false, base)
  local octal = c.chmod and ("%04o"):format(c.chmod.octal)
  local rules = octal and { { "*", mode = octal, dir_mode = octal } }
  return { root = e.path, match_base = base ~= "" and base or nil, matcher = m, patterns = pats,
    prefix = #resolved > 0 and join(resolved) .. "/" or "", owner = ("%d:%d"):format(o.uid or 0, o.gid or 0),
    rules = rules, display = fs.root .. (base ~= "" and "/" .. base or "") }
end

local function sort_items(o)
  local list = {}
  for _, name in ipairs(o.order) do list[#list + 1] = o.items[name] end
  local plan = require("ocibuild.build.plan")
  plan.sort(list)
  local first = {}
  for _, it in ipairs(list) do
    if it.link_key then
      if first[it.link_key] then
        it.kind, it.target, it.path = "hardlink", first[it.link_key], nil
      else
        first[it.link_key] = it.name
      end
      it.link_key = nil
    end
  end
  return list
end

--- Plans the copy step s (index k) on the view v. ctx: {mt=, warn=,
-- fs= (the source fs of the step), tmp= (temp files), read= (function
-- (comps) -> the text of a file of the image), fetch= (function(url,
-- checksum) -> a local path)}. Returns {items=, fast=, created_by=,
-- comment=}.
function M.plan(v, s, k, ctx)
  local c = s.copy
  -- a linked copy is planned on nothing; the image then has it on top
  local o = new_out(c.link and view_mod.new() or v, k, c, ctx)
  if c.link then o.main = v end
  local ok, err = pcall(function()
    owner_of(o)
    local fs = ctx.fs
    local fast
    for _, src in ipairs(c.sources) do
      local scomps = split(src)
      if c.parents then
        -- the part after "/./" (or all of it) is kept below the destination
        local parent, pattern = src:match("^(.-)/%./(.*)$")
        local root = split(parent or "")
        scomps = split(pattern or src)
        local inc, ierr = core.matcher { join(scomps) }
        if not inc then o:fail(ierr, "BADPATTERN") end
        o.include = inc
        local rreal = fs:resolve(root)
        local re = rreal and fs:lstat(rreal)
        if not srcfs.wildcards(src) then
          local full = table.move(root, 1, #root, 1, {})
          table.move(scomps, 1, #scomps, #full + 1, full)
          local real = fs:resolve(full)
          if not (real and fs:lstat(real)) then o:fail(("%s: not found"):format(src), "ENOENT") end
        end
        if not re or re.t ~= "d" then o:fail(("%s: not found"):format(parent or "."), "ENOENT") end
        o:ensure_dest()
        o:copy_one(fs, root, rreal, re)
      else
        local list, wild = srcfs.matches(fs, scomps)
        if #list > 0 then
          for _, m in ipairs(list) do
            local real, rerr = fs:resolve(m)
            if not real then o:fail(rerr, "ELOOP") end
            local e = fs:lstat(real)
            if not e then
              if wild then goto continue end
              o:fail(("%s: not found"):format(src), "ENOENT")
            end
            if #c.sources == 1 and #c.contents == 0 and #c.urls == 0 and not wild then
              fast = fast_case(o, fs, real, e)
              if fast then goto continue end
            end
            o:ensure_dest()
            o:copy_one(fs, m, real, e)
            ::continue::
          end
        end
      end
    end
    for _, u in ipairs(c.urls) do
      local path, ferr, fcode = ctx.fetch(u.url, u.checksum)
      if not path then o:fail(ferr, fcode) end
      o:ensure_dest()
      o:copy_one(nil, { u.name }, nil, { t = "f", mode = 384, uid = 0, gid = 0, path = path })
    end
    for _, h in ipairs(c.contents) do
      o:ensure_dest()
      o:copy_one(nil, { h.name }, nil, { t = "f", mode = 420, uid = 0, gid = 0, data = h.data })
    end
    o.fast = fast
  end)
  if not ok then
    if type(err) == "table" then return nil, err.msg, err.code end
    error(err, 0)
  end
  return { items = sort_items(o), fast = o.fast, created_by = c.created_by, comment = c.comment }
end

return M
