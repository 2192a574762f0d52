--- `ocibuild export NAME... -o FILE.tar|-`: images of the store into one
-- OCI archive.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild export NAME|DIGEST|ID... -o FILE.tar|-

Writes the images named into one OCI archive (`-o -`: standard output),
which `skopeo copy oci-archive:FILE.tar ...`, `podman load`, `docker load`
(either image store), umoci (once unpacked) and `ocibuild import` read.
Each image is written once, however many of its names are given: the
names, in the order given, are the image's names in the archive. The
first goes into index.json (the name skopeo, podman and Docker's
containerd store apply: podman applies one name per image); all of them
go into manifest.json (Docker's graphdriver store and `ocibuild import`
apply every one). An image given by digest or ID alone is written
unnamed. Entries are sorted, owned by 0:0, dated SOURCE_DATE_EPOCH (else
1970): the same images give the same bytes. Every blob is checked against
its digest as it is written; on failure no file is left (a stream to
standard output is cut short). The store is never created.

  -o, --output FILE.tar|-   where the archive goes (required)
]]

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, { output = "value", alias = { o = "output" } }, "export")
  if not opts then return nil, rest, "USAGE" end
  if #rest == 0 then return getopt.usage_error("export needs at least one image", "export") end
  if not opts.output then
    return getopt.usage_error("export needs -o FILE.tar (or -o - for standard output)", "export")
  end
  local r, err, code = ops.export(g.ctx, { srcs = rest, dest = opts.output })
  if not r then return nil, err, code end
  if r.path ~= "-" then
    for _, im in ipairs(r.images) do
      io.stdout:write(("exported: %s %s\n"):format(im.descriptor.digest, table.concat(im.names, " ")))
    end
    io.stdout:write(("archive:  %s (%d bytes, %s)\n"):format(r.path, r.size, r.digest))
  end
  return true
end

return M
