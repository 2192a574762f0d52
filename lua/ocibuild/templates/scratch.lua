-- `ocibuild init --template scratch`: this folder's files on an empty
-- image, the most general start.
local M = {}

M.summary = "this folder's files on an empty image (the general start)"

M.build = [[
-- build.lua: this folder's files as an image of their own, on nothing.
--
--   ocibuild run build.lua tag=@NAME@:dev
--   ocibuild ls --why .        what goes in, and which pattern left each other file out
--
-- Paths here are relative to this file, whatever the working directory.
-- Values given as name=value on the command line arrive in `args`.
local oci = require "ocibuild"

local img = oci.image {
  -- platform = "linux/arm64",       -- default: this machine's
  -- from = "docker.io/library/alpine:3.20",   -- a base image to add the files to
}

-- One layer per call, in order; each folder's .dockerignore applies.
img:layer {
  context = ".",
  dest = "/",                        -- where the folder goes in the image
  -- exclude = { "*.log" },          -- more patterns, after .dockerignore
  -- mode = "normalize",             -- 0644/0755 instead of the bits on disk
  -- owner = "1000:1000",            -- default 0:0
}

img:config {
  -- entrypoint = { "/bin/app" },
  -- cmd = { "--help" },
  -- env = { KEY = "value" },
  -- workdir = "/",
  -- user = "65532:65532",
  -- ports = { "8080/tcp" },
}

img:labels {
  ["org.opencontainers.image.title"] = "@NAME@",
  ["org.opencontainers.image.source"] = args.source,
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
]]

M.next = [[
next: ocibuild ls --why .   (what goes into the image)
      ocibuild run build.lua tag=@NAME@:dev]]

return M
