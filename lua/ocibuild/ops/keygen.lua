--- keygen: an ECDSA P-256 key pair for sign and verify (and cosign,
-- skopeo, podman): PREFIX.key (PKCS#8 PEM, mode 0600, encrypted with the
-- passphrase of ocibuild.attest.keys) and PREFIX.pub; each file whole or
-- not at all, never replacing one without `force`.
local keys = require "ocibuild.attest.keys"

local M = {}

--- args: prefix (the files' path without .key/.pub; default "cosign"),
-- force.
M.OPTIONS = { "prefix", "force" }

--- Writes the pair. Returns {key=, pub=, id=, encrypted=}, or nil, msg,
-- code.
function M.run(_, a)
  local prefix = a.prefix or "cosign"
  if type(prefix) ~= "string" or prefix == "" or prefix:sub(-1) == "/" then
    return nil, "keygen needs a file name prefix, as DIR/NAME", "BADVALUE"
  end
  return keys.generate(prefix, { force = a.force })
end

return M
