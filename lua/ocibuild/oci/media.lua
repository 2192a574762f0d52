--- Media types ocibuild writes and reads, and what each kind of document
-- is. Docker's v2 types are read as their OCI counterparts.
local M = {}

M.MANIFEST = "application/vnd.oci.image.manifest.v1+json"
M.INDEX = "application/vnd.oci.image.index.v1+json"
M.CONFIG = "application/vnd.oci.image.config.v1+json"
M.LAYER = {
  gzip = "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd = "application/vnd.oci.image.layer.v1.tar+zstd",
  none = "application/vnd.oci.image.layer.v1.tar",
}
M.DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
M.DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
M.DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
M.DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

local KIND = {
  [M.MANIFEST] = "manifest", [M.DOCKER_MANIFEST] = "manifest",
  [M.INDEX] = "index", [M.DOCKER_LIST] = "index",
  [M.CONFIG] = "config", [M.DOCKER_CONFIG] = "config",
  [M.LAYER.gzip] = "layer", [M.LAYER.zstd] = "layer", [M.LAYER.none] = "layer",
  [M.DOCKER_LAYER] = "layer",
  ["application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"] = "layer",
  ["application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"] = "layer",
}

--- "manifest", "index", "config", "layer", or nil for a type ocibuild
-- does not interpret (kept and copied as an opaque blob). Never fails.
function M.kind(media_type)
  return KIND[media_type]
end

--- The accepted manifest and index types, for an HTTP Accept header.
M.ACCEPT = { M.MANIFEST, M.INDEX, M.DOCKER_MANIFEST, M.DOCKER_LIST }

return M
