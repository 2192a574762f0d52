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
unnamed. For an archive of several images it says what each reader
needs: skopeo and podman take one image at a time, by its name
(`podman pull oci-archive:FILE:NAME` keeps its digest; `podman load`
writes each image again, with a new digest). Entries are sorted, owned by 0:0, dated SOURCE_DATE_EPOCH (else
1970): the same images give the same bytes. Every blob is checked against
its digest as it is written; on failure no file is left (a stream to
standard output is cut short). The store is never created.

  -o, --output FILE.tar|-   where the archive goes (required)
]]

-- What readers need of an archive of several images, said after it is
-- written: skopeo and podman read one image of an OCI archive at a time,
-- picked by its index.json name (podman load, given several, falls back
-- to manifest.json and writes each image again: new digests, localhost/
-- names); Docker and ocibuild import take them all.
-- A word for a shell: as it is when it needs no quoting.
local function shell(s)
  if s:match("^[%w/._:@+,=-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function readers(out, file, images)
  out:write(("note:     this archive holds %d images: skopeo and podman take one at a time, by its name\n")
    :format(#images), "          (podman load would write each again, with new digests and localhost/ names):\n")
  for _, im in ipairs(images) do
    local name = im.names[1]
    if name then
      local arg = shell(("oci-archive:%s:%s"):format(file, name))
      out:write(("            skopeo copy %s DEST\n"):format(arg), ("            podman pull %s\n"):format(arg))
    end
  end
  for _, im in ipairs(images) do
    if not im.names[1] then
      out:write(("          %s has no name here: skopeo and podman cannot pick it (name it, or export it alone)\n")
        :format(im.descriptor.digest))
    end
  end
  out:write("          docker load and ocibuild import take every image\n")
end

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
      io.stdout:write(("exported: %s %s\n"):format(im.descriptor.digest,
        #im.names > 0 and table.concat(im.names, " ") or "<none>"))
    end
    io.stdout:write(("archive:  %s (%d bytes, %s)\n"):format(r.path, r.size, r.digest))
    if #r.images > 1 then readers(io.stdout, r.path, r.images) end
  end
  return true
end

return M
