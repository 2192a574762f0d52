/*
 * sys.c: small facts about the machine and the file system that the Lua
 * side needs for its decisions: stat of a path, the current directory,
 * the number of online cores. Lua: core.stat, core.cwd, core.ncpu.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocb.h"

/* core.stat(path) -> {type=, size=, mode=, dev=, ino=} | nil, msg, code
 * (symlinks followed, as for a context root or a store given by path). */
static int l_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  ocb_err err;
  if (stat(path, &st) < 0) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  lua_createtable(L, 0, 5);
  lua_pushstring(L, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, st.st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_dev);
  lua_setfield(L, -2, "dev");
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  lua_setfield(L, -2, "ino");
  return 1;
}

/* core.cwd() -> the current directory | nil, msg, code */
static int l_cwd(lua_State *L) {
  char buf[4096];
  ocb_err err;
  if (!getcwd(buf, sizeof buf)) {
    ocb_errno(&err, errno, ".");
    return ocb_pushfail(L, &err);
  }
  lua_pushstring(L, buf);
  return 1;
}

/* core.ncpu() -> number of online cores (at least 1) */
static int l_ncpu(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

void ocb_open_sys(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"cwd", l_cwd}, {"ncpu", l_ncpu}, {"stat", l_stat}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
