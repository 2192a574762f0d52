/*
 * sys.c: small facts about the machine and the file system that the Lua
 * side needs for its decisions: stat of a path, the current directory,
 * the number of online cores, folder listings, removal.
 * Lua: core.stat, core.cwd, core.ncpu, core.list_dir, core.unlink.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
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

#define DIR_T "ocibuild.Dir"

static int dir_gc(lua_State *L) {
  DIR **d = luaL_checkudata(L, 1, DIR_T);
  if (*d) closedir(*d);
  *d = NULL;
  return 0;
}

/* core.list_dir(path) -> {names...} (unsorted, no . or ..) | nil, msg, code */
static int l_list_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR **d = lua_newuserdatauv(L, sizeof *d, 0); /* closes the DIR if a push raises */
  struct dirent *de;
  lua_Integer n = 0;
  ocb_err err;
  *d = NULL;
  luaL_setmetatable(L, DIR_T);
  lua_newtable(L);
  if (!(*d = opendir(path))) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  for (;;) {
    errno = 0;
    if (!(de = readdir(*d))) break;
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    lua_pushstring(L, de->d_name);
    lua_rawseti(L, -2, ++n);
  }
  if (errno) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  closedir(*d);
  *d = NULL;
  return 1;
}

/* core.unlink(path) -> true | nil, msg, code */
static int l_unlink(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ocb_err err;
  if (unlink(path) < 0) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.ncpu() -> number of online cores (at least 1) */
static int l_ncpu(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

void ocb_open_sys(lua_State *L) {
  static const luaL_Reg methods[] = {{NULL, NULL}};
  static const luaL_Reg funcs[] = {{"cwd", l_cwd},   {"list_dir", l_list_dir}, {"ncpu", l_ncpu},
                                   {"stat", l_stat}, {"unlink", l_unlink},     {NULL, NULL}};
  ocb_createmeta(L, DIR_T, methods, dir_gc);
  luaL_setfuncs(L, funcs, 0);
}
