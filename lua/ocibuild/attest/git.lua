--- What a build context's git checkout says about it, read from the .git
-- files (no git program): the commit HEAD names (a detached HEAD, a loose
-- ref or one of packed-refs) and the origin remote's URL, with any
-- credentials in it left out. Never fails: nil when there is no checkout
-- or it cannot be read.
local core = require "ocibuild.core"
local path = require "ocibuild.util.path"

local M = {}

local MAX = 1 << 20

local function read(p)
  local s = core.read_file(p, { max = MAX })
  return s
end

-- The .git folder for dir or one of its parents (a .git file points
-- elsewhere: worktrees, submodules).
local function git_dir(dir)
  dir = path.abs(dir)
  while true do
    local g = dir .. "/.git"
    local st = core.stat(g)
    if st and st.type == "dir" then return g end
    if st and st.type == "file" then
      local target = (read(g) or ""):match("^gitdir:%s*(.-)%s*$")
      if target then return path.abs(target, dir) end
    end
    if dir == "/" then return nil end
    dir = path.dirname(dir)
  end
end

-- The folder shared refs live in (a worktree's commondir).
local function common(g)
  local c = (read(g .. "/commondir") or ""):match("^%s*(.-)%s*$")
  return c ~= "" and path.abs(c, g) or g
end

local function resolve(g, ref, depth)
  if depth > 5 then return nil end
  local loose = read(g .. "/" .. ref) or read(common(g) .. "/" .. ref)
  if loose then
    local sym = loose:match("^ref:%s*(%S+)")
    if sym then return resolve(g, sym, depth + 1) end
    return loose:match("^(%x+)%s*$")
  end
  for line in (read(common(g) .. "/packed-refs") or ""):gmatch("[^\n]+") do
    local hash, name = line:match("^(%x+) (%S+)$")
    if name == ref then return hash end
  end
end

-- user:password@ or token@ taken out of a URL.
local function no_credentials(url)
  return (url:gsub("^(%a[%w+.-]*://)[^/@]*@", "%1"))
end

--- {commit=, remote=} of the checkout dir is in, or nil.
function M.info(dir)
  local g = git_dir(dir)
  if not g then return nil end
  local head = read(g .. "/HEAD")
  if not head then return nil end
  local commit = head:match("^(%x+)%s*$") or resolve(g, head:match("^ref:%s*(%S+)") or "", 0)
  if not commit or not (#commit == 40 or #commit == 64) then return nil end
  local remote
  local section
  for line in (read(common(g) .. "/config") or ""):gmatch("[^\n]+") do
    local s = line:match("^%s*%[(.-)%]%s*$")
    if s then section = s end
    local url = section == 'remote "origin"' and line:match("^%s*url%s*=%s*(.-)%s*$")
    if url then remote = no_credentials(url) end
  end
  return { commit = commit, remote = remote }
end

return M
