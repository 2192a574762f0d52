--- OCI documents: platform, image config, image manifest, media types.
-- Every document is a Lua table shaped for the canonical encoder (arrays
-- and objects marked); `M.encode` gives the bytes that get hashed.
local json = require "ocibuild.json"

local M = {}

M.MANIFEST = "application/vnd.oci.image.manifest.v1+json"
M.CONFIG = "application/vnd.oci.image.config.v1+json"
M.LAYER = {
  gzip = "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd = "application/vnd.oci.image.layer.v1.tar+zstd",
  none = "application/vnd.oci.image.layer.v1.tar",
}

-- uname -m -> GOARCH (and variant), as container runtimes name platforms.
local MACHINES = {
  x86_64 = { "amd64" }, amd64 = { "amd64" }, aarch64 = { "arm64" }, arm64 = { "arm64" },
  armv7l = { "arm", "v7" }, armv6l = { "arm", "v6" }, i686 = { "386" }, i386 = { "386" },
  ppc64le = { "ppc64le" }, s390x = { "s390x" }, riscv64 = { "riscv64" },
  mips64 = { "mips64" }, loongarch64 = { "loong64" },
}

local host_platform
--- The platform of this machine: {os=, architecture=, variant=}.
function M.host_platform()
  if host_platform then return host_platform end
  local machine
  local f = io.open("/proc/sys/kernel/arch", "r")
  if f then
    machine = f:read("l")
    f:close()
  end
  if not machine then
    local p = io.popen("uname -m 2>/dev/null")
    machine = p and p:read("l")
    if p then p:close() end
  end
  local m = MACHINES[machine or ""] or { machine or "amd64" }
  host_platform = { os = "linux", architecture = m[1], variant = m[2] }
  return host_platform
end

--- Parses "os/arch[/variant]". Returns a platform or nil, msg.
function M.parse_platform(s)
  local os_, arch, variant = s:match("^([%w_]+)/([%w_]+)/?([%w_]*)$")
  if not os_ then return nil, ("bad platform %q: expected os/arch[/variant], as linux/amd64"):format(s) end
  if arch == "arm64" and (variant == "v8" or variant == "8") then variant = "" end
  if arch == "amd64" and variant == "v1" then variant = "" end
  if arch == "arm" and variant == "" then variant = "v7" end
  return { os = os_, architecture = arch, variant = variant ~= "" and variant or nil }
end

--- RFC 3339 UTC time for epoch seconds.
function M.rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

--- A descriptor.
function M.descriptor(media_type, digest, size, extra)
  local d = json.object { mediaType = media_type, digest = digest, size = size }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- The image config document.
-- spec: {platform=, created= (epoch seconds), labels=, env= (map or list),
-- entrypoint=, cmd=, workdir=, user=, ports=, volumes=, stopsignal=,
-- layers = { {diff_id=, created_by=}, ... }}
function M.config(spec)
  local c = json.object {}
  if spec.labels and next(spec.labels) then c.Labels = json.object(spec.labels) end
  if spec.env then
    local env = json.array {}
    if #spec.env > 0 then
      for _, e in ipairs(spec.env) do env[#env + 1] = e end
    else
      for _, k in ipairs(sorted_keys(spec.env)) do env[#env + 1] = k .. "=" .. spec.env[k] end
    end
    if #env > 0 then c.Env = env end
  end
  if spec.entrypoint then c.Entrypoint = json.array(spec.entrypoint) end
  if spec.cmd then c.Cmd = json.array(spec.cmd) end
  if spec.workdir then c.WorkingDir = spec.workdir end
  if spec.user then c.User = spec.user end
  if spec.stopsignal then c.StopSignal = spec.stopsignal end
  if spec.ports and #spec.ports > 0 then
    c.ExposedPorts = json.object {}
    for _, p in ipairs(spec.ports) do c.ExposedPorts[p] = json.object {} end
  end
  if spec.volumes and #spec.volumes > 0 then
    c.Volumes = json.object {}
    for _, v in ipairs(spec.volumes) do c.Volumes[v] = json.object {} end
  end
  local created = M.rfc3339(spec.created)
  local diff_ids, history = json.array {}, json.array {}
  for i, l in ipairs(spec.layers) do
    diff_ids[i] = l.diff_id
    history[i] = json.object { created = created, created_by = l.created_by }
  end
  local p = spec.platform
  return json.object {
    architecture = p.architecture,
    os = p.os,
    variant = p.variant,
    created = created,
    config = c,
    rootfs = json.object { type = "layers", diff_ids = diff_ids },
    history = history,
  }
end

--- The image manifest document.
function M.manifest(config_desc, layer_descs, annotations)
  local m = json.object {
    schemaVersion = 2,
    mediaType = M.MANIFEST,
    config = config_desc,
    layers = json.array(layer_descs),
  }
  if annotations and next(annotations) then m.annotations = json.object(annotations) end
  return m
end

M.encode = json.encode

return M
