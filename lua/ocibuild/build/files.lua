--- Single files and removals, as build scripts give them:
--   img:file { path = "/etc/app.conf", content = "..." | source = "app.conf",
--              mode = "0644", owner = "0:0" }
--   img:remove { "/etc/motd", "/usr/share/doc/**", "/var/cache/*.bin" }
-- checked once, when the script calls them (so a mistake points at that
-- line). Consecutive file and remove calls make one layer of their own
-- (ocibuild.build.plan writes it). Functions return nil, msg.
local check = require "ocibuild.util.check"
local core = require "ocibuild.core"
local ignore = require "ocibuild.build.ignore"
local path = require "ocibuild.util.path"
local rules = require "ocibuild.build.rules"

local M = {}

M.FILE_OPTIONS = { "path", "content", "source", "mode", "owner" }

-- The components of an absolute path in the image, or nil, why.
local function image_path(p, what)
  if not check.abs_path(p) then
    return nil, ("%s must be an absolute path in the image, got %s"):format(what, check.show(p)), "BADVALUE"
  end
  local comps = {}
  for c in p:gmatch("[^/]+") do
    if c == ".." then return nil, ("%s must not contain '..', got %s"):format(what, check.show(p)), "BADVALUE" end
    if c:sub(1, 4) == ".wh." then
      return nil, ("%s %s has a component starting with .wh., which would be read as a whiteout")
        :format(what, check.show(p)), "BADVALUE"
    end
    if c ~= "." then comps[#comps + 1] = c end
  end
  if #comps == 0 then return nil, ("%s must name something below /, got %s"):format(what, check.show(p)), "BADVALUE" end
  return comps
end

--- Checks a :file spec; base is the folder relative sources resolve
-- against. Returns {comps=, path=, content=|source=, mode=, owner=}.
function M.file(spec, base)
  if type(spec) ~= "table" then
    return nil, 'file needs a table like { path = "/etc/app.conf", content = "..." }', "BADVALUE"
  end
  local ok, err = check.keys(spec, M.FILE_OPTIONS, "file")
  if not ok then return nil, err, "BADVALUE" end
  local f = {}
  f.comps, err = image_path(spec.path, "file: path")
  if not f.comps then return nil, err, "BADVALUE" end
  f.path = "/" .. table.concat(f.comps, "/")
  if spec.content ~= nil and spec.source ~= nil then
    return nil, ("file %s: give content or source, not both"):format(f.path), "BADVALUE"
  end
  if spec.content == nil and spec.source == nil then
    return nil, ("file %s needs content = \"...\" or source = \"file\""):format(f.path), "BADVALUE"
  end
  local mode = spec.mode
  if spec.content ~= nil then
    if type(spec.content) ~= "string" then
      return nil, ("file %s: content must be a string"):format(f.path), "BADVALUE"
    end
    f.content = spec.content
    mode = mode or "0644"
  else
    if type(spec.source) ~= "string" then return nil, ("file %s: source must be a path"):format(f.path), "BADVALUE" end
    f.source = path.abs(spec.source, base)
    local st, serr, code = core.stat(f.source)
    if not st then
      if code == "ENOENT" then return nil, ("file %s: source %s does not exist"):format(f.path, f.source), code end
      return nil, ("file %s: source %s: %s"):format(f.path, f.source, serr), code
    end
    if st.type ~= "file" then
      return nil, ("file %s: source %s is a %s, not a regular file"):format(f.path, f.source, st.type), "BADTYPE"
    end
    f.mode = st.mode & 4095
  end
  if mode ~= nil then
    f.mode, err = rules.mode(mode, ("file %s: mode"):format(f.path))
    if not f.mode then return nil, err, "BADVALUE" end
  end
  local owner = spec.owner or "0:0"
  local u, g
  if type(owner) == "string" then u, g = owner:match("^(%d+):(%d+)$") end
  if not u or #u > 10 or #g > 10 or tonumber(u) > 4294967294 or tonumber(g) > 4294967294 then
    return nil, ('file %s: owner must be "UID:GID" with ids from 0 to 4294967294, got %s')
      :format(f.path, check.show(spec.owner)), "BADVALUE"
  end
  f.uid, f.gid = tonumber(u), tonumber(g)
  return f
end

local GLOB = "[*?[\\]"

--- Checks a :remove list. Returns a list of {kind = "path"|"contents"|
-- "glob", comps=, pattern=, text=}: a path without wildcards is removed
-- (a whiteout); "DIR/*" or "DIR/**" empties DIR (an opaque marker); any
-- other pattern removes the paths of the base it matches.
function M.remove(list)
  if type(list) ~= "table" then return nil, 'remove needs a list of paths, like { "/usr/share/doc/**" }', "BADVALUE" end
  for k in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 or k > #list then
      return nil, ("remove: unknown option %s (remove takes a list of paths)"):format(check.show(tostring(k))),
        "BADVALUE"
    end
  end
  if #list == 0 then return nil, "remove needs at least one path", "BADVALUE" end
  local out = {}
  for i, p in ipairs(list) do
    local what = ("remove[%d]"):format(i)
    if not check.abs_path(p) then
      return nil, ("%s must be an absolute path in the image, got %s"):format(what, check.show(p)), "BADVALUE"
    end
    for c in p:gmatch("[^/]+") do
      if c == ".." then return nil, ("%s must not contain '..', got %s"):format(what, check.show(p)), "BADVALUE" end
    end
    local clean = ignore.clean(p)
    if clean == "/" then return nil, ("%s: the root cannot be removed"):format(what), "BADVALUE" end
    local rel = clean:sub(2)
    local r = { text = p }
    local dir = rel:match("^(.+)/%*%*?$")
    if not rel:find(GLOB) then
      r.kind, r.comps = "path", {}
      for c in rel:gmatch("[^/]+") do r.comps[#r.comps + 1] = c end
    elseif dir and not dir:find(GLOB) then
      r.kind, r.comps = "contents", {}
      for c in dir:gmatch("[^/]+") do r.comps[#r.comps + 1] = c end
    else
      local m, err = core.matcher { rel }
      if not m then return nil, ("%s: %s"):format(what, err), "BADPATTERN" end
      r.kind, r.pattern, r.matcher = "glob", rel, m
    end
    out[i] = r
  end
  return out
end

return M
