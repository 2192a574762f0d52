--- The flags build, run and push share for attestations and signatures:
-- their getopt spec, help text, and the save options they make
-- (ocibuild.attest.build).
local getopt = require "ocibuild.cli.getopt"

local M = {}

M.SPEC = { sbom = "flag", ["sbom-format"] = "value", ["sbom-files"] = "flag", provenance = "flag",
  ["sign-key"] = "value", ["attest-signed"] = "flag" }

M.HELP = [[
attestation options:
  --sbom                 attach an SBOM of what the image holds, learnt as
                         its layers are written (base layers read once):
                         Debian, Alpine, Python, npm, Maven and Go packages
  --sbom-format FORMAT   spdx (SPDX 2.3 JSON, the default) or cyclonedx
                         (CycloneDX 1.5)
  --sbom-files           list every file too, with its SHA-1 and SHA-256
                         (from the same pass: no file is read again)
  --provenance           attach SLSA v1 provenance: the script or
                         Dockerfile and its SHA-256, args, target,
                         platform, bases with their digests, the context's
                         git commit, start and end (SOURCE_DATE_EPOCH's)
  --sign-key KEY         sign the image (the index and each platform image)
                         as cosign does, in the store and where it is
                         pushed; an encrypted key's passphrase comes from
                         $OCIBUILD_KEY_PASSWORD, else the terminal
  --attest-signed        sign the attestation manifests too
Attestations are attached as BuildKit attaches them: an image manifest of
platform unknown/unknown per platform image, in the image index (a
single-platform image becomes an index of it and its attestations);
`ocibuild sbom REF` and `ocibuild provenance REF` print them.
]]

--- Adds the flags to a getopt spec; returns it.
function M.spec(s)
  for k, v in pairs(M.SPEC) do s[k] = v end
  return s
end

--- The save options opts (parsed flags of the command `cmd`) ask for:
-- {sbom=, provenance=, sign=} (each nil when not asked), or nil, msg,
-- "USAGE".
function M.options(opts, cmd)
  local o, usage = {}, function(msg) return getopt.usage_error(msg, cmd or "build") end
  if opts["sbom-format"] or opts["sbom-files"] then
    if not opts.sbom then return usage("--sbom-format and --sbom-files go with --sbom") end
  end
  if opts.sbom then o.sbom = { format = opts["sbom-format"] or "spdx", files = opts["sbom-files"] or false } end
  if opts.sbom and o.sbom.format ~= "spdx" and o.sbom.format ~= "cyclonedx" then
    return usage(("--sbom-format must be spdx or cyclonedx, got %q"):format(o.sbom.format))
  end
  o.provenance = opts.provenance or nil
  if opts["attest-signed"] and not opts["sign-key"] then return usage("--attest-signed needs --sign-key") end
  if opts["attest-signed"] and not (opts.sbom or opts.provenance) then
    return usage("--attest-signed signs the attestations: give --sbom or --provenance too")
  end
  if opts["sign-key"] then
    o.sign = { key = require("ocibuild.util.path").abs(opts["sign-key"]), attest = opts["attest-signed"] or false }
  end
  return o
end

return M
