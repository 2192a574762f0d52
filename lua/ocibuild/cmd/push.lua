--- `ocibuild push SRC [DEST]`: an image of the store to a registry.
local getopt = require "ocibuild.cli.getopt"
local progress = require "ocibuild.cli.progress"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild push SRC [DEST] [options]

Pushes the image SRC of the store (a tag such as site:dev, or NAME@DIGEST)
to the registry reference DEST (default: SRC, when SRC names its registry,
as in gitea.cnoe.localtest.me:8443/giteaadmin/site:dev). Blobs the registry
has are skipped, blobs another repository of the same registry has are
mounted, the rest are uploaded, several at once, and in chunks when larger
than --chunk-size or refused with HTTP 413 by a proxy; the tag moves last.
Prints what happened to each blob (exists, mounted, uploaded) and, last,
DEST@sha256:...

options:
]] .. reg_cli.QUIET_HELP .. [[
  --jobs N               blobs transferred at once (default 4)
  --chunk-size SIZE      upload blobs larger than SIZE in chunks (default 64M)
  --store DIR            the image store
]] .. progress.HELP .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { jobs = "value", ["chunk-size"] = "value", progress = "value", quiet = "flag",
  alias = { q = "quiet" } }

M.run = reg_cli.transfer("push", SPEC, function(rest)
  if #rest < 1 or #rest > 2 then return getopt.usage_error("push needs SRC and optionally DEST", "push") end
  return { src = rest[1], dest = rest[2] }
end, function(r) io.stdout:write(r.reference, "\n") end)

return M
