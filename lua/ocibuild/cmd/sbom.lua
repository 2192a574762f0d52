--- `ocibuild sbom REF`: the SBOM attached to an image, printed back (the
-- sbom verb, ocibuild.ops.sbom; `provenance` shares this command's code).
local getopt = require "ocibuild.cli.getopt"
local json = require "ocibuild.oci.json"
local reg_cli = require "ocibuild.cli.registry"

local M = {}

M.HELP = [[
usage: ocibuild sbom REF [--platform OS/ARCH] [--statement] [--key PUB] [options]

Prints the SBOM attached to the image REF (by `--sbom` at build time):
for each platform image of its index (or the one --platform names), the
SPDX 2.3 or CycloneDX 1.5 document, one JSON document per line. REF is a
registry reference (HOST/NAME:TAG, HOST/NAME@sha256:..., docker://REF),
oci:DIR[:TAG] (a layout), or an image of the store (a name, digest or ID
prefix). Exits 1 when the image has none.

  --platform OS/ARCH     only that platform image's
  --statement            the whole in-toto statement, as stored (its bytes)
  --key PUB              first check that the attestation manifest carries
                         a signature that verifies with PUB (built with
                         --attest-signed)
  --local                REF is an image of the store, even when its name
                         has a registry
  --store DIR            the image store
]] .. "\n" .. reg_cli.HELP

M.SPEC = reg_cli.spec { platform = "value", statement = "flag", key = "value", ["local"] = "flag" }

--- Prints the attestations of the verb `name` ("sbom", "provenance").
function M.main(argv, g, name)
  local opts, rest = getopt.parse(argv, M.SPEC, name)
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 1 then return getopt.usage_error(name .. " needs exactly one image", name) end
  if opts.platform then
    local p, perr = require("ocibuild.oci.platform").parse(opts.platform)
    if not p then return getopt.usage_error(perr, name) end
  end
  local o, err, code = reg_cli.options(opts, name)
  if not o then return nil, err, code end
  local list
  list, err, code = require("ocibuild.ops")[name](g.ctx:with { registry = o }, { ref = rest[1],
    platform = opts.platform, key = opts.key, ["local"] = opts["local"] })
  if not list then return nil, err, code end
  for _, s in ipairs(list) do
    io.stdout:write(opts.statement and s.bytes or json.encode(s.statement.predicate), "\n")
  end
  return true
end

function M.run(argv, g) return M.main(argv, g, "sbom") end

return M
