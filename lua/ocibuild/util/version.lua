--- The version of ocibuild: one place for the CLI's --version, the API's
-- VERSION, the registry client's User-Agent, a layer's build record and
-- a signature's creator.
local M = {}

--- The version string.
M.VERSION = "0.1.0"

--- "ocibuild/VERSION", as a User-Agent names its program.
M.AGENT = "ocibuild/" .. M.VERSION

return M
