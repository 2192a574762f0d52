--- Debian packages: /var/lib/dpkg/status, and the one-file-per-package
-- status.d/ of distroless images. Each installed package: name, version
-- (with its epoch), architecture, source package; purl
-- pkg:deb/<distro id>/<name>@<version>?arch=&distro=<id>-<version id>.
local purl = require "ocibuild.attest.purl"
local stanza = require "ocibuild.attest.detect.stanza"

local M = { name = "dpkg" }

local MAX = 64 << 20

M.patterns = { { "var/lib/dpkg/status", MAX }, { "var/lib/dpkg/status.d/*", MAX } }

function M.wants(path)
  if path == "var/lib/dpkg/status" then return MAX end
  local f = path:match("^var/lib/dpkg/status%.d/([^/]+)$")
  if f and not f:find(".", 1, true) then return MAX end
end

--- The installed packages of a status file (a stanza whose Status says
-- "installed"; status.d/ files have no Status: all count).
function M.parse(path, text)
  local out = {}
  for _, s in ipairs(stanza.parse(text)) do
    local f = s.fields
    local state = f.Status and f.Status:match("(%S+)$")
    if f.Package and f.Version and (state == "installed" or (not f.Status and path ~= "var/lib/dpkg/status")) then
      out[#out + 1] = { type = "deb", name = f.Package, version = f.Version, arch = f.Architecture,
        source_package = f.Source and f.Source:match("^(%S+)") }
    end
  end
  return out
end

function M.purl(p, os)
  return purl.distro("deb", "debian", p, os)
end

return M
