--- Alpine packages: /lib/apk/db/installed (blocks of "X:value" lines):
-- name (P), version (V), architecture (A), licence (L), origin (o);
-- purl pkg:apk/<distro id>/<name>@<version>?arch=&distro=<id>-<version id>.
local purl = require "ocibuild.attest.purl"

local M = { name = "apk" }

local MAX = 64 << 20

M.patterns = { { "lib/apk/db/installed", MAX } }

function M.wants(path)
  if path == "lib/apk/db/installed" then return MAX end
end

function M.parse(_, text)
  local out, cur = {}, {}
  local function flush()
    if cur.P and cur.V then
      out[#out + 1] = { type = "apk", name = cur.P, version = cur.V, arch = cur.A, license = cur.L, origin = cur.o }
    end
    cur = {}
  end
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line == "" then
      flush()
    else
      local k, v = line:match("^(%a):(.*)$")
      if k and cur[k] == nil then cur[k] = v end
    end
  end
  flush()
  return out
end

function M.purl(p, os)
  return purl.distro("apk", "alpine", p, os)
end

return M
