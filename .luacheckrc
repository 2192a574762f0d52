-- luacheck (Debian's lua-check) for ocibuild's Lua, run by scripts/test:
-- zero warnings, as -Werror holds the C.
std = "lua54"
max_line_length = 120
include_files = { "**/*.lua", "*.rockspec", "config.ld", ".luacheckrc" }
exclude_files = { "build/**", "build-san/**", "coverage/**" }

files["spec"] = { std = "+busted" }
-- the LuaLS stub of the core module: functions without bodies, and type
-- annotations that are one line each
files["lua/meta"] = { ignore = { "211", "212", "241", "631" } }
-- build scripts (and scripts/gendoc.lua, one) get their name=value
-- pairs as `args`
files["examples"] = { read_globals = { "args" } }
files["scripts/gendoc.lua"] = { read_globals = { "args" } }
-- LDoc's and LuaRocks' configurations set globals
files["config.ld"] = { allow_defined_top = true, ignore = { "131" } }
files["*.rockspec"] = { allow_defined_top = true, ignore = { "131" } }
