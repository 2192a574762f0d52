--- `ocibuild copy SRC DST`: one image from any place to any other.
local getopt = require "ocibuild.cli.getopt"
local progress = require "ocibuild.cli.progress"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild copy SRC DST [options]

Copies one image (a manifest, or a multi-platform index and every image
it holds) from SRC to DST, as `skopeo copy` does, keeping its digest:
every blob is checked against its digest on the way, blobs DST has are
skipped, and the name is written last. SRC and DST are any of:

  NAME, store:NAME        the store (SRC: a name, a digest, NAME@DIGEST or
                          an ID or digest prefix; DST: a name)
  oci:DIR[:TAG]           an OCI image layout folder (DST: created when
                          missing; TAG is its ref.name, as skopeo writes it)
  oci-archive:FILE[:TAG]  an OCI archive
  docker-archive:FILE[:REF]  a docker archive (docker save's, which docker
                          load and podman load read)
  docker://REF            a registry; as DST, HOST/NAME[:TAG] alone too

An archive or a registry SRC is read into the store first (unnamed: prune
removes it). Prints DST and the digest; for a registry, HOST/NAME@sha256:...

options:
  --jobs N               blobs transferred at once (default 4)
  --chunk-size SIZE      upload blobs larger than SIZE in chunks (default 64M)
  --store DIR            the image store
]] .. progress.HELP .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { jobs = "value", ["chunk-size"] = "value", progress = "value" }

M.run = reg_cli.transfer("copy", SPEC, function(rest)
  if #rest ~= 2 then return getopt.usage_error("copy needs SRC and DST", "copy") end
  return { src = rest[1], dst = rest[2] }
end, function(r, rest)
  io.stdout:write(("copied:   %s -> %s\n"):format(rest[1], r.reference or r.dst), ("digest:   %s\n"):format(r.digest))
end, { blobs = false })

return M
