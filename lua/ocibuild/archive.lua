--- OCI archive export: a tar of an image layout holding one image, which
-- skopeo, podman, umoci and both Docker image stores load. Besides
-- oci-layout, index.json and the blobs it carries Docker's manifest.json
-- (the graphdriver store needs it). Entries are sorted, owned by 0:0 with
-- a fixed mtime; the file appears whole (temp file + rename) or not at all.
local core = require "ocibuild.core"
local json = require "ocibuild.json"
local store_mod = require "ocibuild.store"

local M = {}

--- Writes the image whose manifest descriptor is mdesc, tagged refs (parsed
-- references), from store st to the file dest. Returns true or nil, msg.
function M.write(st, mdesc, refs, dest, mtime)
  local mtext, err, code = st:get_blob(mdesc.digest)
  if not mtext then return nil, err, code end
  local manifest
  manifest, err = json.decode(mtext, mdesc.digest)
  if not manifest then return nil, err end
  local blobs, seen = {}, {}
  local function add(d)
    if not seen[d.digest] then
      seen[d.digest] = true
      blobs[#blobs + 1] = d.digest
    end
  end
  add(mdesc)
  add(manifest.config)
  local layers = {}
  for _, l in ipairs(manifest.layers or {}) do
    add(l)
    layers[#layers + 1] = "blobs/sha256/" .. l.digest:sub(8)
  end
  table.sort(blobs)

  local entries = {}
  for _, r in ipairs(refs) do entries[#entries + 1] = store_mod.tagged(mdesc, r) end
  if #entries == 0 then entries[1] = mdesc end
  local index = store_mod.encode_index(entries)
  local repo_tags = json.array {}
  for _, r in ipairs(refs) do repo_tags[#repo_tags + 1] = r.familiar end
  local docker = json.encode(json.array { json.object {
    Config = "blobs/sha256/" .. manifest.config.digest:sub(8),
    RepoTags = repo_tags,
    Layers = json.array(layers),
  } })

  local w <close>, werr, wcode = core.tar_writer(dest)
  if not w then return nil, ("cannot write %s: %s"):format(dest, werr), wcode end
  local function add_entry(kind, name, mode, arg)
    local ok, e, c = w:add(kind, name, mode, mtime, 0, 0, arg)
    if not ok then error({ e, c }) end
  end
  local ok, e = pcall(function()
    add_entry("dir", "blobs/", 493)
    add_entry("dir", "blobs/sha256/", 493)
    for _, digest in ipairs(blobs) do
      local p = assert(st:blob_path(digest))
      add_entry("file", "blobs/sha256/" .. digest:sub(8), 420, p)
    end
    add_entry("data", "index.json", 420, index)
    add_entry("data", "manifest.json", 420, docker)
    add_entry("data", "oci-layout", 420, store_mod.LAYOUT)
  end)
  if not ok then -- leaving the scope drops the temp file
    if type(e) == "table" then return nil, e[1], e[2] end
    error(e, 0)
  end
  local size
  size, err, code = w:close()
  if not size then return nil, err, code end
  return true
end

return M
