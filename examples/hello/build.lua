-- Builds the static site in ./site into an image, as a build script
-- committed next to it would. Run: ocibuild run examples/hello/build.lua
-- Values given as name=value on the command line arrive in `args`; an
-- OCI archive is written with `-o hello.tar` (or archive=NAME, a file in
-- this folder: build scripts write only beside themselves).
--
-- The command below is busybox's httpd: the image runs when its base has
-- it (base=busybox:demo, which scripts/demo builds offline). Without a
-- base the image holds the site alone, which nothing can run.
local oci = require "ocibuild"

local img = oci.image { from = args.base }
img:layer {
  context = "site",            -- relative to this file's folder
  dest = "/usr/share/site",    -- site/.dockerignore applies, as with docker build
}
img:labels {
  ["org.opencontainers.image.title"] = "hello",
  ["org.opencontainers.image.source"] = args.source or "https://example.com/hello",
}
img:config { cmd = { "/bin/httpd", "-f", "-h", "/usr/share/site" }, ports = { "80/tcp" } }

return img:save {
  tag = args.tag or "hello:latest",
  archive = args.archive,
}
