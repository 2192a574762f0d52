--- Platforms: os/architecture[/variant], as container runtimes name them.
local core = require "ocibuild.core"

local M = {}

-- uname -m -> GOARCH (and variant).
local MACHINES = {
  x86_64 = { "amd64" }, amd64 = { "amd64" }, aarch64 = { "arm64" }, arm64 = { "arm64" },
  armv7l = { "arm", "v7" }, armv6l = { "arm", "v6" }, i686 = { "386" }, i386 = { "386" },
  ppc64le = { "ppc64le" }, s390x = { "s390x" }, riscv64 = { "riscv64" },
  mips64 = { "mips64" }, loongarch64 = { "loong64" },
}

local host
--- The platform of this machine: {os=, architecture=, variant=}. Never fails.
function M.host()
  if not host then
    local machine = core.machine()
    local m = MACHINES[machine] or { machine }
    host = { os = "linux", architecture = m[1], variant = m[2] }
  end
  return { os = host.os, architecture = host.architecture, variant = host.variant }
end

--- Parses "os/arch[/variant]", normalised as containerd's Normalize does:
-- lower case; x86_64 is amd64, aarch64 arm64, i386 386, armhf arm/v7,
-- armel arm/v6, macos darwin; arm64/v8 and amd64/v1 lose their variant,
-- arm gets v7, a bare variant number gets its v. Returns a platform, or
-- nil, msg, "BADPLATFORM".
function M.parse(s)
  local os_, arch, variant = tostring(s):match("^([%w_]+)/([%w_%-]+)/?([%w_.]*)$")
  if not os_ then
    return nil, ("bad platform %q: expected os/arch[/variant], as linux/amd64"):format(tostring(s)), "BADPLATFORM"
  end
  os_, arch, variant = os_:lower(), arch:lower(), variant:lower()
  if os_ == "macos" then os_ = "darwin" end
  if arch == "i386" then
    arch, variant = "386", ""
  elseif arch == "x86_64" or arch == "x86-64" or arch == "amd64" then
    arch = "amd64"
    if variant == "v1" then variant = "" end
  elseif arch == "aarch64" or arch == "arm64" then
    arch = "arm64"
    if variant == "8" or variant == "v8" or variant == "v8.0" then
      variant = ""
    elseif variant == "9" or variant == "9.0" or variant == "v9.0" then
      variant = "v9"
    end
  elseif arch == "armhf" then
    arch, variant = "arm", "v7"
  elseif arch == "armel" then
    arch, variant = "arm", "v6"
  elseif arch == "arm" then
    if variant == "" or variant == "7" then
      variant = "v7"
    elseif variant == "5" or variant == "6" or variant == "8" then
      variant = "v" .. variant
    end
  end
  return { os = os_, architecture = arch, variant = variant ~= "" and variant or nil }
end

--- "os/arch[/variant]". Never fails.
function M.format(p)
  return ("%s/%s%s"):format(p.os or "?", p.architecture or "?", p.variant and ("/" .. p.variant) or "")
end

--- true when the platform p (from a descriptor or config) is `want`;
-- a want without a variant matches any variant.
function M.matches(p, want)
  if type(p) ~= "table" or p.os ~= want.os or p.architecture ~= want.architecture then return false end
  local norm = M.parse(M.format(p))
  return not want.variant or (norm and norm.variant == want.variant)
end

-- The variants a machine of platform want runs, best first, as
-- containerd's matcher takes them: an ARM v8 CPU runs v7, v6 and v5
-- images, an amd64 v3 one v2 and plain amd64 (false: no variant).
local function variants(want)
  local n = want.variant and tonumber(want.variant:match("^v(%d)$"))
  local out = {}
  if n and want.architecture == "arm" then
    for i = n, 5, -1 do out[#out + 1] = "v" .. i end
  elseif n and want.architecture == "amd64" then
    for i = n, 2, -1 do out[#out + 1] = "v" .. i end
    out[#out + 1] = false
  else
    out[1] = want.variant or false
  end
  return out
end

--- The descriptor of list (each with .platform) that a machine of
-- platform want runs best, or nil: the variant asked for, else the best
-- one it also runs; any variant when want names none.
function M.best(list, want)
  if not want.variant then
    for _, d in ipairs(list) do
      if M.matches(d.platform, want) then return d end
    end
    return nil
  end
  for _, v in ipairs(variants(want)) do
    for _, d in ipairs(list) do
      local p = d.platform
      if type(p) == "table" and p.os == want.os and p.architecture == want.architecture then
        local norm = M.parse(M.format(p))
        if norm and (norm.variant or false) == v then return d end
      end
    end
  end
  return nil
end

return M
