-- LuaRocks: `luarocks make` in a checkout builds ocibuild with CMake and
-- installs the `ocibuild` program and the `ocibuild` Lua module (with its
-- C core, ocibuild/core.so) into the tree. Needs cmake, pkg-config, and
-- the development files of Lua 5.4, libarchive, libdeflate, libzstd,
-- zlib and OpenSSL (scripts/setup installs them on Debian).
rockspec_format = "3.0"
package = "ocibuild"
version = "dev-1"
-- `luarocks make` builds the checkout it runs in; the URL is for packing a
-- source rock once the project has a public home.
source = {
  url = "git+file:///ocibuild",
}
description = {
  summary = "Build OCI images from directories, without a daemon, scripted in Lua",
  detailed = [[
ocibuild turns directories into OCI images: .dockerignore applied exactly
as docker build applies it, reproducible digests, layers compressed on
every core, images stored in an OCI image layout and written as OCI
archives. Build scripts are Lua, run sandboxed by default.]],
  labels = { "oci", "containers", "docker", "build" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    OCIBUILD_LUADIR = "$(LUADIR)",
    OCIBUILD_LIBDIR = "$(LIBDIR)",
  },
}
