--- An OCI image layout as a copy endpoint: the store itself, or any
-- layout folder (`oci:DIR`). Blobs come from another layout through the
-- core, verified as they are copied, or from a source that can fetch
-- them into a store (a registry: downloaded and verified on the way);
-- blobs it has are verified before they are skipped; manifests are put as
-- the exact bytes read from the source, checked against their digest.
local doc = require "ocibuild.oci.doc"

local M = {}
M.__index = M

--- The endpoint of the opened store st (see ocibuild.store).
function M.new(st)
  return setmetatable({ store = st }, M)
end

function M:get_json(desc)
  return doc.sized(desc, self.store:get_json(desc.digest))
end

-- A blob counts as there only when its bytes are right: a damaged one is
-- copied again, which replaces it (what makes `pull` a repair).
function M:has_blob(desc)
  return self.store:verify_blob(desc.digest, desc.size) ~= nil
end

function M:put_blob(desc, src)
  if src.fetch_blob then return src:fetch_blob(desc, self.store.core) end
  if not src.store then
    return nil, ("cannot copy %s from this source"):format(desc.digest), "ENOTSUP"
  end
  return self.store.core:copy_blob(src.store.core, desc.digest, desc.size)
end

function M:put_manifest(desc, text)
  local digest, size, code = self.store:put_blob(text)
  if not digest then return nil, size, code end
  if digest ~= desc.digest then
    return nil, ("manifest bytes hash to %s, not %s"):format(digest, desc.digest), "BADDIGEST"
  end
  return true
end

--- Names desc with the parsed references refs.
function M:tag(desc, refs)
  return self.store:tag(desc, refs)
end

--- Names desc `name` the way skopeo names an image of a layout: its
-- ref.name exactly as given (an entry of that name moves); with no name,
-- desc is listed unnamed unless it is listed already.
function M:name(desc, name)
  local index = require("ocibuild.store.index")
  return self.store:update_index(function(idx)
    local kept, listed = {}, false
    for _, d in ipairs(idx.manifests) do
      local n = (d.annotations or {})[index.REF_NAME]
      if name == nil or n ~= name then
        kept[#kept + 1] = d
        listed = listed or d.digest == desc.digest
      end
    end
    if name or not listed then
      local e = index.untagged(desc)
      if name then
        e.annotations = e.annotations or {}
        e.annotations[index.REF_NAME] = name
      end
      kept[#kept + 1] = e
    end
    idx.manifests = index.sort(kept)
    return true
  end)
end

return M
