--- `ocibuild push SRC [DEST]`: an image of the store to a registry.
local events = require "ocibuild.events"
local getopt = require "ocibuild.cli.getopt"
local progress = require "ocibuild.cli.progress"
local registry = require "ocibuild.registry"
local reg_cli = require "ocibuild.cli.registry"
local store = require "ocibuild.store"

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
  --sign-key KEY         then sign it there as cosign does (the index and
                         each platform image; see `ocibuild sign`)
  --attest-signed        sign its attestation manifests too
  --jobs N               blobs transferred at once (default 4)
  --chunk-size SIZE      upload blobs larger than SIZE in chunks (default 64M)
  --store DIR            the image store
]] .. progress.HELP .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { jobs = "value", ["chunk-size"] = "value", progress = "value", quiet = "flag",
  ["sign-key"] = "value", ["attest-signed"] = "flag", alias = { q = "quiet" } }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "push")
  if not opts then return nil, rest, 2 end
  if #rest < 1 or #rest > 2 then return getopt.usage_error("push needs SRC and optionally DEST", "push") end
  local src, dest = rest[1], rest[2]
  if not dest then
    if not registry.names_registry(src) then
      return getopt.usage_error(("%q names no registry: give DEST, as HOST/NAME:TAG"):format(src), "push")
    end
    dest = src
  end
  local o, err, code = reg_cli.options(opts, "push")
  if not o then return nil, err, code end
  if opts["attest-signed"] and not opts["sign-key"] then
    return getopt.usage_error("--attest-signed needs --sign-key", "push")
  end
  local aspec = opts["sign-key"] and { sign = { key = opts["sign-key"], attest = opts["attest-signed"] or false } }
  local attest = require "ocibuild.attest.build"
  local loaded, kerr = attest.load_key(aspec)
  if not loaded then return nil, kerr, 1 end
  -- both references are checked before anything else happens
  local ok
  ok, err = require("ocibuild.oci.ref").parse(dest)
  if not ok then return getopt.usage_error(err, "push") end
  local dir, source = store.default_dir(g.store)
  if not dir then return nil, source, 1 end
  local st
  st, err = store.open(dir, { source = source })
  if not st then return nil, err, 1 end
  local desc
  desc, err, code = registry.local_image(st, src)
  if not desc then return getopt.fail(err, code, "push") end
  return progress.run(opts.progress or (opts.quiet and "quiet"), "push", function(rep)
    o.on_event = reg_cli.reporter(rep, opts.quiet)
    events.emit(rep.on_event, { type = "start", stage = "push", id = dest, ref = dest })
    o.keep = aspec and true or nil
    local r, perr = registry.push(st, desc, dest, o)
    if not r then return nil, perr, 1 end
    if aspec then
      local signed
      signed, perr = attest.sign_pushed(r, aspec, o, st)
      if not signed then return nil, ("%s: signing it there: %s"):format(r.reference, perr), 1 end
    end
    events.emit(rep.on_event, { type = "end", stage = "push", id = dest, ref = r.reference, digest = r.digest })
    rep.finish()
    io.stdout:write(r.reference, "\n")
    return true
  end, { quiet = opts.quiet })
end

return M
