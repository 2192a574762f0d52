--- Where ocibuild may write a file the user names (an archive, an iidfile):
-- only a path that does not exist yet or is a regular file, never a
-- symlink (followed or replaced), a device, a FIFO or a directory, and
-- never anywhere inside an image layout (a store's index.json, blobs or
-- lock are not outputs). Returns the path, or nil and why.
local core = require "ocibuild.core"
local path = require "ocibuild.util.path"

local M = {}

-- The closest folder at or above dir holding an oci-layout file.
local function layout_above(dir)
  while true do
    if core.stat(dir .. "/oci-layout", true) then return dir end
    if dir == "/" then return nil end
    dir = path.dirname(dir)
  end
end

--- Checks that the file at p (absolute) may be written or replaced: not a
-- symlink or anything but a file, not inside an image layout; with probe,
-- in a folder where a new file can be made (checked by making one).
function M.check(p, probe)
  local st = core.stat(p, true)
  if st and st.type == "symlink" then
    return nil, ("output %s is a symlink: refusing to follow or replace it"):format(p), "EEXIST"
  end
  if st and st.type ~= "file" then
    return nil, ("output %s is a %s, not a regular file: refusing to replace it"):format(p, st.type), "EEXIST"
  end
  local dir = path.dirname(p)
  local real = core.realpath(dir)
  local layout = layout_above(real or dir)
  if layout then
    return nil, ("output %s is inside the image layout %s: refusing to write there"):format(p, layout), "EEXIST"
  end
  -- with probe: the file is written next to it, then renamed; a folder
  -- that takes no new entry fails now, before any work, not once the
  -- work is done
  if probe then
    local made, err, code = core.mkdtemp(dir .. "/.ocibuild-probe-")
    if not made then return nil, ("output %s cannot be written: %s"):format(p, err), code end
    core.rmdir(made)
  end
  return p
end

return M
