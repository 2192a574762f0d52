-- `ocibuild init --template static-site`: a folder of HTML, CSS and
-- images served by nginx.
local core = require "ocibuild.core"

local M = {}

M.summary = "a static site (HTML, CSS, images) served by nginx"
M.base = "docker.io/library/nginx:1.27-alpine"

--- The folder holding the site: the first of public, dist, _site, site,
-- build, out with an index.html, else "." when the project folder has one.
function M.context(dir)
  for _, d in ipairs { "public", "dist", "_site", "site", "build", "out" } do
    if core.stat(dir .. "/" .. d .. "/index.html") then return d end
  end
  if core.stat(dir .. "/index.html") then return "." end
end

M.build = [[
-- build.lua: the static site in @CONTEXT@/ served by nginx.
--
--   ocibuild run build.lua tag=@NAME@:dev --allow-registry docker.io   build it into the local store
--   ocibuild run build.lua tag=@NAME@:dev --allow-registry docker.io -o @NAME@.tar   ... and an OCI archive
--   podman load -i @NAME@.tar && podman run -p 8080:80 @NAME@:dev
--
-- The script runs sandboxed: it pulls its base only from a registry named
-- with --allow-registry (or builds on a base of the store named with
-- --allow-image REF).
-- Paths here are relative to this file, whatever the working directory.
-- Values given as name=value on the command line arrive in `args`.
local oci = require "ocibuild"

-- The web server the site goes on: nginx serves /usr/share/nginx/html on
-- port 80. Pin a digest (nginx@sha256:...) for builds that never change
-- under you, or pass base=REF on the command line.
local img = oci.image { from = args.base or "@BASE@" }

img:layer {
  context = "@CONTEXT@",                -- the site; its .dockerignore applies
  dest = "/usr/share/nginx/html",
  mode = "normalize",                -- 0644 files, 0755 folders: readable by nginx's user
}

img:labels {
  ["org.opencontainers.image.title"] = "@NAME@",
  ["org.opencontainers.image.source"] = args.source,   -- e.g. source=https://git.example.com/team/@NAME@
}

return img:save { tag = args.tag or "@NAME@:dev" }
]]

M.dockerignore = [[
# What `ocibuild run build.lua` leaves out of the image (.dockerignore syntax,
# as docker build reads it). `ocibuild ls --why .` shows what goes in.
.git
.dockerignore
build.lua
*.tar
node_modules
**/.DS_Store
]]

M.next = [[
next: ocibuild ls --why @CONTEXT@   (what goes into the image)
      ocibuild run build.lua tag=@NAME@:dev --allow-registry docker.io]]

return M
