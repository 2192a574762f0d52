-- `ocibuild init --template python-app`: a Python program on the official
-- Python image, with its dependencies installed beside it beforehand.
local M = {}

M.summary = "a Python program on the official Python image"
M.base = "docker.io/library/python:3.12-slim"

M.build = [[
-- build.lua: the Python program of this folder on the official Python image.
--
--   pip install --target vendor -r requirements.txt   (if it has dependencies)
--   ocibuild run build.lua tag=@NAME@:dev --allow-registry docker.io
--
-- The script runs sandboxed: it pulls its base only from a registry named
-- with --allow-registry (or builds on a base of the store named with
-- --allow-image REF).
-- ocibuild copies files; it runs nothing inside the image. Install the
-- dependencies into ./vendor first, with the same Python version as the
-- base image (packages with C extensions must match its platform too, e.g.
-- pip's --platform manylinux2014_x86_64 --only-binary=:all:).
-- Paths here are relative to this file, whatever the working directory.
local oci = require "ocibuild"

-- The Python the program runs on. Pin a digest (python@sha256:...) for
-- builds that never change under you, or pass base=REF on the command line.
local img = oci.image { from = args.base or "@BASE@" }

img:layer {
  context = ".",                     -- this folder; .dockerignore leaves out the rest
  dest = "/app",
  mode = "normalize",
}

img:config {
  workdir = "/app",
  env = {
    PYTHONPATH = "/app/vendor",      -- where the dependencies were installed
    PYTHONUNBUFFERED = "1",          -- logs appear at once
  },
  cmd = { "python", "main.py" },     -- or { "python", "-m", "yourpackage" }
  user = "65532:65532",
  -- ports = { "8000/tcp" },
}

img:labels {
  ["org.opencontainers.image.title"] = "@NAME@",
  ["org.opencontainers.image.source"] = args.source,
}

return img:save { tag = args.tag or "@NAME@:dev" }
]]

M.dockerignore = [[
# What `ocibuild run build.lua` leaves out of the image (.dockerignore syntax).
# `ocibuild ls --why .` shows what goes in.
.git
.dockerignore
build.lua
*.tar
**/__pycache__
**/*.pyc
.venv
venv
.pytest_cache
.mypy_cache
.tox
dist
*.egg-info
]]

M.next = [[
next: pip install --target vendor -r requirements.txt   (if it has dependencies)
      ocibuild run build.lua tag=@NAME@:dev --allow-registry docker.io]]

return M
