--- ADD's local archives: a tar (plain, gzip, bzip2, xz, zstd) found among
-- a copy's sources is unpacked below the destination instead of copied,
-- as BuildKit does (moby's archive.Untar with the copy's owner): names
-- cleaned below the destination (one climbing out is an error), hardlinks
-- within the archive, files extracted to the build's temp folder.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local split = require("ocibuild.util.path").components

local M = {}

local function join(comps) return table.concat(comps, "/") end

local parent_of

--- Whether the file at path is a tar archive (plain, gzip, bzip2, xz or
-- zstd) with at least one entry: what ADD unpacks. Never fails.
function M.is_archive(path)
  local r = core.tar_reader(path, { any = true })
  if not r then return false end
  local e = r:next()
  r:close()
  return e ~= nil
end

-- The folder of the entry rel (components below base), resolved in the
-- image as an extractor resolves it (symlinks followed inside the root,
-- the archive's own included), the folders missing made 0755 and owned by
-- root: an entry never lands below a symlink. parents caches resolved
-- folders until an entry that is not a folder may change them.
parent_of = function(self, base, rel, parents, path, name, r)
  local key = table.concat(rel, "/", 1, #rel - 1)
  if parents[key] then return table.move(parents[key], 1, #parents[key], 1, {}) end
  local comps = table.move(base, 1, #base, 1, {})
  for i = 1, #rel - 1 do
    comps[#comps + 1] = rel[i]
    local info, resolved = self.v:lookup(comps, true)
    if info == "?" or (info and info.t ~= "d") then
      r:close()
      self:fail(("%s: entry %s: /%s is not a directory%s"):format(path, check.show(name), join(resolved),
        info == "?" and " that can be followed while planning" or ""), "ENOTDIR")
    end
    if not info then self:put(resolved, { kind = "dir", mode = 493, uid = 0, gid = 0 }, "d") end
    comps = resolved
  end
  parents[key] = comps
  return table.move(comps, 1, #comps, 1, {})
end

--- Plans the entries of the archive at path below dest_comps for the copy
-- being planned (self: ocibuild.build.copy's), as BuildKit's ADD unpacks
-- it: the folder made like the copy's, missing parents 0755 and owned by
-- root, the archive's owners kept unless --chown, no --chmod, bodies
-- extracted into the copy's temp folder. Raises the copy's failures.
function M.unpack(self, path, dest_comps)
  self:mkdir_all(dest_comps)
  local _, base = self:lookup(dest_comps, true)
  local r, err, code = core.tar_reader(path, { any = true })
  if not r then self:fail(err, code) end
  local made, parents = {}, {}
  while true do
    local e
    e, err, code = r:next()
    if not e then
      if err then
        r:close()
        self:fail(("%s: %s"):format(path, err), code)
      end
      break
    end
    local depth = 0
    for x in e.name:gmatch("[^/]+") do
      if x == ".." then depth = depth - 1 elseif x ~= "." then depth = depth + 1 end
      if depth < 0 then
        r:close()
        self:fail(("%s: entry %s climbs out of the destination"):format(path, check.show(e.name)), "BADTAR")
      end
    end
    local rel = split(e.name)
    for _, x in ipairs(rel) do
      if x:sub(1, 4) == ".wh." then
        r:close()
        self:fail(("%s: entry %s: a name starting with .wh. would be read as a whiteout"):format(path,
          check.show(e.name)), "WHITEOUT")
      end
    end
    if #rel > 0 then
      local comps = parent_of(self, base, rel, parents, path, e.name, r)
      comps[#comps + 1] = rel[#rel]
      -- a link, or a file over a folder or a link, may change what a cached folder resolves to
      local old = e.type ~= "dir" and self.v:plain(comps)
      if e.type == "symlink" or (old and (old.t == "d" or old.t == "l")) then parents = {} end
      local x = { t = e.type == "dir" and "d" or e.type == "symlink" and "l" or (e.type == "file" or
        e.type == "hardlink") and "f" or "o", mode = e.mode, uid = e.uid, gid = e.gid, target = e.target,
        kind = e.type }
      if e.type == "hardlink" then
        local src = made[join(split(e.target or ""))]
        if not src then
          r:close()
          self:fail(("%s: hardlink %s to %s, which the archive does not hold before it"):format(path,
            check.show(e.name), check.show(e.target or "")), "BADTAR")
        end
        x.path = src
      elseif x.t == "f" then
        local p = self.ctx.tmp:path()
        local ok
        ok, err, code = r:to_file(p)
        if not ok then
          r:close()
          self:fail(err, code)
        end
        self.ctx.tmp:add(p)
        x.path = p
        made[join(rel)] = p
      end
      local uid, gid = self.uid, self.gid
      if uid then x.uid, x.gid = uid, gid end
      local saved = self.uid
      self.uid = nil
      local keep = self.c.chmod
      self.c.chmod = nil
      self:entry(comps, x)
      self.c.chmod, self.uid = keep, saved
    end
  end
  r:close()
end

return M
