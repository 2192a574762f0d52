/*
 * main.c: the `ocibuild` program. It only sets up Lua: opens the standard
 * libraries, preloads the core module, points package.path at the Lua side
 * (the source tree for a build folder, the install prefix otherwise) and
 * runs ocibuild.cli under a protected call with a traceback handler.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua/embed.h"
#include "ocb_config.h"

int luaopen_ocibuild_core(lua_State *L);
void ocb_signals_install(int only_default);

/* The folder holding the Lua side: $OCIBUILD_LUA_DIR, else the source tree
 * when this binary sits in the build folder it was configured for, else the
 * installed copy found from the binary's own place (PREFIX/bin/ocibuild ->
 * PREFIX/share/lua/5.4), so that any install prefix works. */
static const char *lua_dir(void) {
  static char dir[PATH_MAX + 64];
  char exe[PATH_MAX];
  const char *env = getenv("OCIBUILD_LUA_DIR");
  ssize_t n;
  if (env && *env) return env;
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    char *slash;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/'))) *slash = '\0';
    if (strcmp(exe, OCB_BUILD_DIR) == 0) return OCB_SOURCE_LUA_DIR;
    if ((slash = strrchr(exe, '/'))) {
      *slash = '\0';
      snprintf(dir, sizeof dir, "%s/%s", exe, OCB_LUA_INSTALL_REL);
      return dir;
    }
  }
  return OCB_INSTALL_LUA_DIR;
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs require("ocibuild.cli").main(argv) and returns its exit status. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  const char *dir = lua_dir();
  int i;
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_ocibuild_core);
  lua_setfield(L, -2, "ocibuild.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  ocb_embed_install(L, dir);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "ocibuild.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 0);
  for (i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  struct rlimit rl;
  int status, code;
  if (!L) {
    fprintf(stderr, "ocibuild: cannot create Lua state: not enough memory\n");
    return 1;
  }
  /* Deep trees keep one descriptor per directory level open. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* Killed by SIGINT or SIGTERM, ocibuild removes its temp files first. */
  ocb_signals_install(0);
  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 1);
  if (status != LUA_OK) {
    fprintf(stderr, "ocibuild: internal error: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 70;
  }
  code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
  lua_close(L);
  return code;
}
