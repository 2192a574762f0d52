--- `ocibuild provenance REF`: the SLSA provenance attached to an image,
-- printed back (as `ocibuild sbom` prints SBOMs).
local reg_cli = require "ocibuild.cli.registry"
local sbom = require "ocibuild.cmd.sbom"

local M = {}

M.HELP = [[
usage: ocibuild provenance REF [--platform OS/ARCH] [--statement] [--key PUB] [options]

Prints the provenance attached to the image REF (by `--provenance` at
build time): for each platform image of its index (or the one --platform
names), the SLSA v1 predicate (what built it, from what, on what bases,
when), one JSON document per line. REF is a registry reference
(HOST/NAME:TAG, HOST/NAME@sha256:..., docker://REF), oci:DIR[:TAG] (a
layout), or an image of the store (a name, digest or ID prefix). Exits 1
when the image has none.

  --platform OS/ARCH     only that platform image's
  --statement            the whole in-toto statement, as stored (its bytes)
  --key PUB              first check that the attestation manifest carries
                         a signature that verifies with PUB (built with
                         --attest-signed)
  --local                REF is an image of the store, even when its name
                         has a registry
  --store DIR            the image store
]] .. "\n" .. reg_cli.HELP

function M.run(argv, g) return sbom.main(argv, g, "provenance") end

return M
