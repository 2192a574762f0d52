--- `ocibuild verify --key PUB REF`: checks an image's cosign signatures.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild verify --key PUB [--identity REPO] REF [options]

Checks the cosign signatures of the image REF (found in the manifest
tagged sha256-<hex>.sig beside it, and in a registry also under the
signers' own tags, sha256-<hex>.sig.<id>) with the public key PUB: each
signature over its payload's exact bytes, then the payload as skopeo and
podman read it (critical holds exactly identity, image and type; optional
is null or an object), then that it names exactly REF's manifest digest.
Exits 0 when one signature passes, and prints the key and the claims it
checked; otherwise 1, with why each signature was refused. REF is read as
for `ocibuild sign` (a registry reference, oci:DIR[:TAG], the store).

  --key PUB              the public key file (PEM, PUBLIC KEY; required)
  --identity REPO        also require the signature to name repository
                         REPO (critical.identity.docker-reference)
  --local                REF is an image of the store, even when its name
                         has a registry
  --store DIR            the image store
]] .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { key = "value", identity = "value", ["local"] = "flag" }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "verify")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("verify needs exactly one image", "verify") end
  if not opts.key then return getopt.usage_error("verify needs --key PUB", "verify") end
  local o, err, code = reg_cli.options(opts, "verify")
  if not o then return nil, err, code end
  local r
  r, err, code = ops.verify(g.ctx:with { registry = o }, { ref = rest[1], key = opts.key, identity = opts.identity,
    ["local"] = opts["local"] })
  if not r then return nil, err, code end
  local c = r.claims
  io.stdout:write(("verified: %s\n  key: %s (%s)\n  signature: %s layer %d (payload %s)\n"
    .. "  critical.identity.docker-reference: %s%s\n  critical.image.docker-manifest-digest: %s\n"
    .. "  critical.type: %s\n"):format(r.where, opts.key, r.key:id(), r.manifest, r.layer, r.payload,
    c.identity, opts.identity and " (required)" or " (not checked)", c.digest, c.type))
  if #r.refused > 0 then
    io.stdout:write(("  %d of %d signatures refused:\n"):format(#r.refused, r.checked))
    for _, why in ipairs(r.refused) do io.stdout:write("    ", why, "\n") end
  end
  return true
end

return M
