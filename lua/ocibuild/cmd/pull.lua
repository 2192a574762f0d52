--- `ocibuild pull REF`: an image from a registry into the store.
local events = require "ocibuild.events"
local getopt = require "ocibuild.cli.getopt"
local platform = require "ocibuild.oci.platform"
local progress = require "ocibuild.cli.progress"
local ref = require "ocibuild.oci.ref"
local registry = require "ocibuild.registry"
local reg_cli = require "ocibuild.cli.registry"
local store = require "ocibuild.store"

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
                         image (default: this machine's); its attestations
                         stay behind
  --all                  take the whole index: every platform image and
                         the attestations attached to them
  --jobs N               blobs transferred at once (default 4)
  --store DIR            the image store (created when missing)
]] .. progress.HELP .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { jobs = "value", platform = "value", progress = "value", quiet = "flag",
  all = "flag", alias = { q = "quiet" } }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "pull")
  if not opts then return nil, rest, 2 end
  if #rest ~= 1 then return getopt.usage_error("pull needs exactly one reference", "pull") end
  local o, err, code = reg_cli.options(opts, "pull")
  if not o then return nil, err, code end
  local r
  r, err = ref.parse(rest[1])
  if not r then return getopt.usage_error(err, "pull") end
  if opts.platform then
    local p, perr = platform.parse(opts.platform)
    if not p then return getopt.usage_error(perr, "pull") end
  end
  if opts.all and opts.platform then
    return getopt.usage_error("--all takes every platform: give --all or --platform", "pull")
  end
  o.platform, o.all = opts.platform, opts.all
  local dir, source = store.default_dir(g.store)
  if not dir then return nil, source, 1 end
  local st
  st, err = store.open(dir, { create = true, source = source })
  if not st then return nil, err, 1 end
  return progress.run(opts.progress or (opts.quiet and "quiet"), "pull", function(rep)
    o.on_event = reg_cli.reporter(rep, opts.quiet)
    events.emit(rep.on_event, { type = "start", stage = "pull", id = rest[1], ref = r.normalized })
    local desc, perr = registry.pull(r, st, o)
    if not desc then return nil, perr, 1 end
    events.emit(rep.on_event, { type = "end", stage = "pull", id = rest[1], ref = r.name .. "@" .. desc.digest,
      digest = desc.digest, store = st.dir })
    rep.finish()
    io.stdout:write(r.name, "@", desc.digest, "\n")
    return true
  end, { quiet = opts.quiet })
end

return M
