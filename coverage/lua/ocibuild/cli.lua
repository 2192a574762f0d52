-- Found before the real ocibuild.cli when OCIBUILD_LUA_DIR points here
-- (scripts/coverage): starts the line counter, then hands over to the
-- source tree's Lua side.
local src = os.getenv("OCIBUILD_LUA_COV_ROOT")
dofile(os.getenv("OCIBUILD_LUA_COV_COUNTER"))
package.path = src .. "/?.lua;" .. src .. "/?/init.lua;" .. package.path
package.loaded["ocibuild.cli"] = nil
return dofile(src .. "/ocibuild/cli/init.lua")
