-- ocibuild's own image, built by ocibuild. scripts/image stages its files
-- under `root` (one folder per layer, derived from the program: see there)
-- and runs this script with the program it just built:
--   ocibuild run --unsafe deploy/image/build.lua root=DIR version=V -o OUT.tar
-- The platform is this machine's, the one whose program and libraries
-- were staged.
-- The image runs as 65532:65532 with a read-only root file system: HOME
-- and TMPDIR are one folder the pod mounts writable (an emptyDir), and
-- the store goes there ($HOME/.local/share/ocibuild/store).
-- luacheck: read globals args
local oci = require "ocibuild"

for _, k in ipairs { "root", "version" } do
  if not args[k] or args[k] == "" then error(k .. "= is required (scripts/image sets it)") end
end

local HOME = "/home/ocibuild"

local img = oci.image {}
-- changes least: passwd and group, nsswitch.conf, CA certificates, the
-- C.UTF-8 LC_CTYPE (for names that are not ASCII), the home folder
img:layer { context = args.root .. "/system", ignorefile = false,
  rules = { { HOME:sub(2), owner = "65532:65532" } } }
-- the shared libraries the program and what it dlopen()s need
img:layer { context = args.root .. "/libraries", ignorefile = false }
-- the program and its Lua side, which change with every commit
img:layer { context = args.root .. "/program", ignorefile = false }
img:config {
  entrypoint = { "/usr/local/bin/ocibuild" },
  cmd = { "--help" },
  user = "65532:65532",
  workdir = HOME,
  env = { HOME = HOME, TMPDIR = HOME, PATH = "/usr/local/bin" },
}
img:annotations { title = "ocibuild", version = args.version, created = true,
  description = "ocibuild: OCI images from directories, without a daemon or privileges" }
return img:save { tag = "ocibuild:" .. args.version }
