--- Where package detectors read files, the same way whatever holds them:
-- a folder (a build context) or a layer blob of a store, read through
-- the tar reader. A source is {name=, layer= (the blob's digest, or nil),
-- each() -> an iterator of path, info (nil at the end; nil, msg, code on
-- a failure), read(path, max) -> the first max bytes of the file the
-- iteration is at, and true when there was more}. Paths are relative and
-- clean ("usr/lib/x"); info is {type=, size=, mode=, whiteout=, opaque=}:
-- in a layer, ".wh.NAME" is a whiteout of NAME and ".wh..wh..opq" makes
-- its folder opaque. A layer is read once, in order: read only the file
-- the iteration is at.
local core = require "ocibuild.core"

local M = {}

--- The folder root (its files walked in byte order, symlinks not
-- followed; only regular files are read).
function M.dir(root)
  local src = { name = root }
  function src.each()
    local w, err, code = core.walk(root)
    if not w then return function() return nil, err, code end end
    return function()
      local p, info, c = w:next()
      if not p then return nil, info, c end
      return p, { type = info.type, size = info.size, mode = info.mode }
    end
  end
  function src.read(p, max)
    return core.read_file(root .. "/" .. p, { max = max, prefix = true, nofollow = true })
  end
  return src
end

-- A tar entry's name, clean and relative, or nil for the root.
local function clean(name)
  name = name:gsub("^%./", ""):gsub("^/+", ""):gsub("/+$", "")
  if name == "" or name == "." then return nil end
  return name
end

--- The layer blob `digest` of the store st (an ocibuild.store).
function M.layer(st, digest)
  local src = { name = digest, layer = digest }
  function src.each()
    local r, err, code = core.tar_reader(st.core, digest)
    if not r then return function() return nil, err, code end end
    src.reader = r
    return function()
      while true do
        local e, eerr, ecode = r:next()
        if not e then
          r:close()
          return nil, eerr, ecode
        end
        local p = clean(e.name)
        if p then
          local dir, base = p:match("^(.-)/?([^/]*)$")
          if base == ".wh..wh..opq" then
            return dir, { type = "dir", size = 0, mode = 0, opaque = true }
          elseif base:sub(1, 4) == ".wh." then
            return (dir ~= "" and dir .. "/" or "") .. base:sub(5), { type = "whiteout", size = 0, mode = 0,
              whiteout = true }
          end
          return p, { type = e.type, size = e.size, mode = e.mode }
        end
      end
    end
  end
  function src.read(_, max)
    return src.reader:read(max, true)
  end
  return src
end

return M
