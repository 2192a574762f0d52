--- import: images into the store (created when missing) from an OCI
-- archive (plain, gzip or zstd), a docker archive, an OCI layout folder,
-- or standard input (ocibuild.import): every blob checked against its
-- digest as it is copied; images keep the names the archive gives them,
-- or take `tags`. Events: an `import` stage (id and path: the source),
-- its blob events and warnings.
local check = require "ocibuild.util.check"
local events = require "ocibuild.events"
local import = require "ocibuild.import"
local locate = require "ocibuild.locate"

local M = {}

--- args: src (a file or folder, oci-archive:FILE, docker-archive:FILE,
-- oci:DIR, or "-": standard input), tags (names
-- replacing the archive's: a string or a list; the archive must then hold
-- one image), select (only the image with this name).
M.OPTIONS = { "src", "tags", "select" }

--- Imports. Returns {images={ {descriptor=, names={full}, tags={familiar}} },
-- descriptors=, names=}, or nil, msg, code.
function M.run(ctx, a)
  local err, code
  if type(a.src) ~= "string" then return nil, "import needs an archive, a folder or \"-\"", "BADVALUE" end
  local tags
  if a.tags ~= nil then
    tags, err, code = check.list(a.tags, "import tags")
    if not tags then return nil, err, code end
  end
  if a.select ~= nil and type(a.select) ~= "string" then return nil, "import: select must be a name", "BADVALUE" end
  local src, select = a.src, a.select
  if src ~= "-" then
    local loc
    loc, err, code = locate.parse(src, { bare = "file" })
    if not loc then return nil, err, code end
    if loc.kind == "store" or loc.kind == "registry" then
      return nil, ("%s: import reads an archive or a layout: FILE, DIR, oci-archive:FILE, docker-archive:FILE or "
        .. "oci:DIR (pull takes images from registries)"):format(check.show(src)), "BADREF"
    end
    src, err, code = ctx:path(loc.path, "import source")
    if not src then return nil, err, code end
    select = select or loc.tag
  end
  local st
  st, err, code = ctx:open_store { create = true }
  if not st then return nil, err, code end
  local shown = src == "-" and "standard input" or src
  ctx:emit { type = "start", stage = "import", id = shown, path = src }
  local r
  r, err, code = import.any(src, st, { tags = tags, select = select,
    on_event = events.tagged(ctx:sink(), { stage = "import", id = shown }) })
  if not r then return nil, err, code end
  ctx:emit { type = "end", stage = "import", id = shown, path = src, store = st.dir }
  return r
end

return M
