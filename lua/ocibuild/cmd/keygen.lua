--- `ocibuild keygen`: an ECDSA P-256 key pair for signing images.
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild keygen [--output-key-prefix PREFIX] [--force]

Writes an ECDSA P-256 key pair for `ocibuild sign` and `ocibuild verify`
(and cosign, skopeo and podman): PREFIX.key, the private key (PKCS#8 PEM,
mode 0600), and PREFIX.pub, the public key (PEM SubjectPublicKeyInfo).
The private key is encrypted (scrypt, AES-256-CBC) with the passphrase
in $OCIBUILD_KEY_PASSWORD, or the one typed at the terminal (asked twice,
not shown); without either, or with an empty one, it is not encrypted.
Each file appears whole or not at all; an existing one is never replaced
without --force. Prints both paths and the key's ID (the SHA-256 of the
public key).

  --output-key-prefix PREFIX  the files' path without .key/.pub
                         (default: cosign)
  --force                replace existing files
]]

local SPEC = { ["output-key-prefix"] = "value", force = "flag" }

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "keygen")
  if not opts then return nil, rest, "USAGE" end
  if #rest > 0 then return getopt.usage_error("keygen takes no operands", "keygen") end
  local prefix = opts["output-key-prefix"] or "cosign"
  if prefix == "" or prefix:sub(-1) == "/" then
    return getopt.usage_error("--output-key-prefix needs a file name, as DIR/NAME", "keygen")
  end
  local r, err, code = ops.keygen(g.ctx, { prefix = prefix, force = opts.force })
  if not r then return nil, err, code end
  io.stdout:write(("private key: %s (%s)\npublic key:  %s\nkey id:      %s\n"):format(r.key,
    r.encrypted and "encrypted" or "not encrypted", r.pub, r.id))
  return true
end

return M
