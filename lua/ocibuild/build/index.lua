--- A multi-platform image: one image per platform (ocibuild.build.image),
-- built into the same store, listed in an image index that one tag names:
-- `oci.index { img_amd64, img_arm64 }:save { tag = "app:1" }`. Two images
-- of one platform are an error (found before anything is built unless a
-- platform comes from a base).
-- Internal: functions return nil, msg, code (and where); init.lua raises.
local check = require "ocibuild.util.check"
local config = require "ocibuild.build.config"
local doc = require "ocibuild.oci.doc"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local platform = require "ocibuild.oci.platform"

local M = {}
M.__index = M

M.OPTIONS = { "annotations" }

--- A new index of the images in list (ocibuild.build.image objects, at
-- 1..n), with list.annotations for the index itself.
function M.new(list)
  if type(list) ~= "table" then
    return nil, "index needs a list of images, like { img_amd64, img_arm64 }", "BADVALUE"
  end
  local known = {}
  for _, k in ipairs(M.OPTIONS) do known[k] = true end
  for k in pairs(list) do
    if not (math.type(k) == "integer" and k >= 1 and k <= #list) and not known[k] then
      local s = type(k) == "string" and check.suggest(k, M.OPTIONS)
      local hint = s and (" (did you mean %q?)"):format(s) or ""
      return nil, ("index: unknown option %s%s"):format(check.show(tostring(k)), hint), "BADVALUE"
    end
  end
  if #list == 0 then return nil, "index needs at least one image", "BADVALUE" end
  local self = setmetatable({ images = {}, annotations = {} }, M)
  local image = require("ocibuild.build.image")
  for i, img in ipairs(list) do
    if getmetatable(img) ~= image then
      return nil, ("index[%d] is not an image made with oci.image"):format(i), "BADVALUE"
    end
    self.images[i] = img
  end
  local first = self.images[1]
  for i, img in ipairs(self.images) do
    if img.store_dir ~= first.store_dir then
      return nil, ("index[%d] goes to another store than index[1]"):format(i), "BADVALUE"
    end
  end
  self.base, self.sde, self.store_dir, self.created = first.base, first.sde, first.store_dir, first.created
  if list.annotations ~= nil then
    local ok, err = config.annotations(self.annotations, list.annotations)
    if not ok then return nil, "index " .. err, "BADVALUE" end
  end
  return self
end

--- Builds every image into st, then the index. ctx as for an image.
-- Returns {desc=, size=, layers=, images={results}}.
function M:build(st, ctx)
  local descs, seen, results, total = {}, {}, {}, 0
  for i, img in ipairs(self.images) do
    local known = img.platform or (not img.from and platform.host())
    if known then
      local p = platform.format(known)
      if seen[p] then
        return nil, ("index[%d] and index[%d] are both %s: an index holds one image per platform")
          :format(seen[p], i, p), "EEXIST", img.where
      end
      seen[p] = i
    end
  end
  for i, img in ipairs(self.images) do
    local r, err, code, where = img:build(st, ctx)
    if not r then return nil, err, code, where end
    local p = platform.format(r.platform)
    if seen[p] and seen[p] ~= i then
      return nil, ("index[%d] and index[%d] are both %s: an index holds one image per platform"):format(seen[p], i, p),
        "EEXIST", img.where
    end
    seen[p] = i
    descs[i], results[i] = r.desc, r
    total = total + r.size
  end
  local a = {}
  for k, v in pairs(self.annotations) do a[k] = v == true and doc.rfc3339(self.created) or v end
  local idx = doc.index(descs)
  if next(a) then idx.annotations = json.object(a) end
  local text = doc.encode(idx)
  local ok, err, code = doc.fits("index", idx, text)
  if not ok then return nil, err, code end
  local digest, size, new = st:put_blob(text)
  if not digest then return nil, size, new end
  if new and ctx.created then ctx.created[#ctx.created + 1] = digest end
  return { desc = doc.descriptor(media.INDEX, digest, size), size = total + size, images = results, layers = {} }
end

return M
