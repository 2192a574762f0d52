--- `ocibuild pull REF`: an image from a registry into the store.
local getopt = require "ocibuild.cli.getopt"
local progress = require "ocibuild.cli.progress"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild pull REF [options]

Pulls REF (HOST/NAME:TAG or HOST/NAME@sha256:...) into the store and tags
it REF there. A multi-platform image resolves to the image for --platform.
Blobs are downloaded several at once straight into the store, each checked
against its digest; blobs the store has are skipped; the tag is written
only once every blob is in. Prints what happened to each blob (exists,
downloaded) and, last, REF@sha256:...

options:
]] .. reg_cli.QUIET_HELP .. [[
  --platform OS/ARCH[/VARIANT]  the image to take from a multi-platform
                         image (default: this machine's)
  --jobs N               blobs transferred at once (default 4)
  --store DIR            the image store (created when missing)
]] .. progress.HELP .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { jobs = "value", platform = "value", progress = "value", quiet = "flag",
  alias = { q = "quiet" } }

M.run = reg_cli.transfer("pull", SPEC, function(rest, opts)
  if #rest ~= 1 then return getopt.usage_error("pull needs exactly one reference", "pull") end
  return { ref = rest[1], platform = opts.platform }
end, function(r) io.stdout:write(r.reference, "\n") end)

return M
