-- `ocibuild init --template go-binary`: a static Go binary on an empty
-- (scratch) image.
local M = {}

M.summary = "a static Go binary on an empty image"

M.build = [[
-- build.lua: the Go program of this folder as a static binary on an empty
-- image (nothing else in it: no shell, no libc, no package manager).
--
--   CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o app .
--   ocibuild run build.lua tag=@NAME@:dev
--
-- CGO_ENABLED=0 makes the binary static (it needs no libc); -trimpath and an
-- empty build ID make it the same bytes on every machine, so the image
-- digest is too. Build scripts cannot run commands: compile first.
-- Paths here are relative to this file, whatever the working directory.
local oci = require "ocibuild"

-- Without the binary the image would hold nothing: say so instead.
local bin = io.open("app")
if not bin then
  error("no ./app next to build.lua to package: compile it first "
    .. "(CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o app .)", 0)
end
bin:close()

local img = oci.image {
  -- platform = "linux/arm64",       -- with GOARCH=arm64 above
}

img:layer {
  context = ".",                     -- this folder; .dockerignore keeps only ./app
  dest = "/",
  owner = "65532:65532",             -- the files' owner in the image
}

img:config {
  entrypoint = { "/app" },
  user = "65532:65532",              -- no root inside the container
  -- env = { GODEBUG = "..." },
  -- ports = { "8080/tcp" },
}
-- A program that makes TLS connections needs CA certificates: add a
-- layer holding etc/ssl/certs/ca-certificates.crt (copied from the build
-- machine's /etc/ssl/certs), or build on a base image that has them.

img:labels {
  ["org.opencontainers.image.title"] = "@NAME@",
  ["org.opencontainers.image.source"] = args.source,
}

return img:save { tag = args.tag or "@NAME@:dev" }
]]

M.dockerignore = [[
# Only the binary goes into the image: everything is left out, then
# ./app is let back in. Add lines such as !static/ for more files.
*
!app
]]

M.next = [[
next: CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o app .
      ocibuild run build.lua tag=@NAME@:dev]]

return M
