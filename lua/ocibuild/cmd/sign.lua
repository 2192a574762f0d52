--- `ocibuild sign --key KEY REF`: cosign signatures for an image.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local ref = require "ocibuild.oci.ref"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild sign --key KEY [--recursive] [--identity REPO] REF [options]

Signs the image REF with the private key KEY (from `ocibuild keygen`, or
any ECDSA P-256 key in PEM: PKCS#8 or EC PRIVATE KEY, encrypted or not),
the way cosign signs with a key: a "simple signing" payload naming the
manifest digest and the repository, signed with SHA-256/ECDSA, stored as
one more layer of the manifest tagged sha256-<hex>.sig beside the image
(signatures already there are kept; signing again with the same key adds
nothing). In a registry the signature is also written alone under a tag
of its own, sha256-<hex>.sig.<id>, so that signers at once never drop
each other's. skopeo and podman verify it with a policy.json `sigstoreSigned`
requirement and `use-sigstore-attachments: true`; cosign with `verify
--key KEY.pub --insecure-ignore-tlog`.

REF is a registry reference (HOST/NAME:TAG, HOST/NAME@sha256:...,
docker://REF), oci:DIR[:TAG] (a layout), or an image of the store (a
name, digest or ID prefix; with --local, also a name with a registry). An encrypted key's passphrase comes
from $OCIBUILD_KEY_PASSWORD, else it is asked at the terminal. Prints one
line per manifest signed: where, and "signed" or "already signed".

  --key KEY              the private key file (required)
  --recursive            for a multi-platform image, also sign each image
                         of the index (policies check the platform's image)
  --identity REPO        the repository the signature names (default:
                         REF's; needed for a layout whose names are tags)
  --local                REF is an image of the store, even when its name
                         has a registry
  --store DIR            the image store
]] .. "\n" .. reg_cli.HELP

local SPEC = reg_cli.spec { key = "value", recursive = "flag", identity = "value", ["local"] = "flag" }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "sign")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error("sign needs exactly one image", "sign") end
  if not opts.key then return getopt.usage_error("sign needs --key KEY", "sign") end
  if opts.identity and not ref.parse(opts.identity .. ":x") then
    return getopt.usage_error(("--identity needs a repository such as host/path, got %q"):format(opts.identity), "sign")
  end
  local o, err, code = reg_cli.options(opts, "sign")
  if not o then return nil, err, code end
  local r
  r, err, code = ops.sign(g.ctx:with { registry = o }, { ref = rest[1], key = opts.key, recursive = opts.recursive,
    identity = opts.identity, ["local"] = opts["local"],
    on_signed = function(s)
      io.stdout:write(s.action == "signed" and "signed: " or "already signed: ", s.where, "\n")
      io.stdout:flush()
    end })
  if not r then return nil, err, code end
  return true
end

return M
