--- provenance: the SLSA provenance attached to an image, read back as
-- the sbom verb reads SBOMs (ocibuild.ops.sbom).
local sbom = require "ocibuild.ops.sbom"

local M = {}

--- args: as for ocibuild.ops.sbom.
M.OPTIONS = sbom.OPTIONS

--- Reads the provenance. Returns what ocibuild.ops.sbom.run returns.
function M.run(ctx, a)
  return sbom.read(ctx, a, "provenance")
end

return M
