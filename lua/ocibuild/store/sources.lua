--- Where the store's blobs came from or went to: per blob, the registry
-- repositories ("host/path") it was pulled from or pushed to, newest
-- first, so that a push to another repository of the same registry can
-- mount it instead of uploading it; an image's manifest too, so that
-- `fsck` can tell which damaged images a pull repairs. Kept in STORE/.ocibuild/sources.json,
-- merged and replaced atomically under the store's index lock. It is a
-- cache: a file that is missing, unreadable or odd means no mounts, and a
-- failure to write it costs only speed, so neither is ever an error.
local core = require "ocibuild.core"
local digest = require "ocibuild.oci.digest"
local json = require "ocibuild.oci.json"

local M = {}
local Sources = {}
Sources.__index = Sources

M.PER_BLOB = 4
M.MAX_BLOBS = 20000

local function file_of(st) return st.dir .. "/.ocibuild/sources.json" end

local function read(st)
  local text = core.read_file(file_of(st), { max = 16 << 20 })
  local t = text and json.decode(text)
  local map = {}
  if type(t) == "table" and json.is_object(t.blobs) then
    for d, list in pairs(t.blobs) do
      if digest.valid(d) and json.is_array(list) then
        local ok = {}
        for _, s in ipairs(list) do
          if type(s) == "string" and s:find("/", 1, true) then ok[#ok + 1] = s end
        end
        map[d] = ok
      end
    end
  end
  return map
end

--- The records of the store st (an ocibuild.store). Never fails.
function M.load(st)
  return setmetatable({ st = st, map = read(st), new = {} }, Sources)
end

--- Repositories of registry `host` other than `path` that hold the blob,
-- newest first (paths only).
function Sources:candidates(d, host, path)
  local out = {}
  for _, s in ipairs(self.map[d] or {}) do
    local h, p = s:match("^([^/]+)/(.+)$")
    if h == host and p ~= path then out[#out + 1] = p end
  end
  return out
end

--- Records that the blob is in repository "host/path".
function Sources:note(d, host, path)
  self.new[#self.new + 1] = { d, host .. "/" .. path }
end

local function add(map, d, where)
  local list = { where }
  for _, s in ipairs(map[d] or {}) do
    if s ~= where and #list < M.PER_BLOB then list[#list + 1] = s end
  end
  map[d] = list
end

--- Writes what was noted, merged with what is on disk now (other
-- processes may have written meanwhile); records of blobs the store no
-- longer has are dropped. Returns true (failures are ignored).
function Sources:save()
  if #self.new == 0 then return true end
  local st = self.st
  local lock = st.core:lock("index")
  if not lock then return true end
  local map = read(st)
  for _, n in ipairs(self.new) do add(map, n[1], n[2]) end
  self.new = {}
  local blobs = json.object {}
  local count = 0
  for d, list in pairs(map) do
    if count < M.MAX_BLOBS and st:has_blob(d) then
      blobs[d] = json.array(list)
      count = count + 1
    end
  end
  self.map = map
  if core.mkdirs(st.dir .. "/.ocibuild") then
    core.replace_file(file_of(st), json.encode(json.object { version = 1, blobs = blobs }))
  end
  lock:close()
  return true
end

return M
