--- `ocibuild import FILE.tar|DIR|- [-t TAG]`: images into the store.
local check = require "ocibuild.util.check"
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild import FILE.tar|DIR|- [-t TAG]...

Imports images into the store (created when missing) from an OCI archive
(plain, gzip or zstd; what `ocibuild export`, `skopeo copy ...
oci-archive:` and `docker save` write), a docker archive (`docker save`'s
manifest.json, with `<id>/layer.tar` or `blobs/sha256/` layers), an OCI
layout folder, or standard input (-). Every blob is checked against its
digest as it is copied. Images keep the names the archive gives them
(index.json annotations and manifest.json RepoTags); an image without one
is listed as <none> until `ocibuild prune`. A name that is not a valid
reference is refused, never dropped: name the image with --tag.

  -t, --tag TAG   name the image TAG instead (repeatable; the archive
                  must then hold one image)

An archive is refused at the first entry no OCI or docker archive holds,
or whose name is absolute or holds '..', a link pointing out of the
archive, a device, FIFO or socket, a second oci-layout, index.json or
manifest.json, or a JSON file over 4 MiB; and when indexes nest more than
8 deep or an image has more than 100,000 descriptors. Nothing is ever
written outside the store; a failed import leaves only what `ocibuild
prune` removes.
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, { tag = "list", alias = { t = "tag" } }, "import")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("import needs exactly one archive, folder or -", "import") end
  local ctx = g.ctx:with { warn = function(msg) io.stderr:write("ocibuild: warning: ", check.line(msg), "\n") end }
  local r, err, code = ops.import(ctx, { src = rest[1], tags = opts.tag })
  if not r then return nil, err, code end
  for _, im in ipairs(r.images) do
    io.stdout:write(("imported: %s %s\n"):format(im.descriptor.digest, #im.tags > 0 and table.concat(im.tags, " ")
      or "<none>"))
  end
  return true
end

return M
