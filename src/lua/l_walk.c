/*
 * l_walk.c: core.walk(root [, matcher [, {excluded=, skip={paths},
 * match_base=, threads=}]]) -> walker (match_base: root's path as the
 * matcher sees it, see ocb_walk_open_sub; threads: lstat made ahead on
 * threads - 1 helpers); walker:next() -> path, info | nil at the end | nil,
 * msg, code.
 */
#include <errno.h>
#include <unistd.h>

#include "lcore.h"

typedef struct {
  ocb_walk *w;
} LWalk;

int ocb_l_walk(lua_State *L) {
  static const char *const keys[] = {"excluded", "skip", "match_base", "threads", NULL};
  const char *root = luaL_checkstring(L, 1);
  ocb_matcher *m = ocb_tomatcher(L, 2);
  const char *base = NULL;
  int flags = 0;
  LWalk *lw;
  ocb_err err;
  if (!lua_isnoneornil(L, 3)) {
    ocb_opt_known(L, 3, keys);
    flags = ocb_opt_bool(L, 3, "excluded", 0) ? OCB_WALK_EXCLUDED : 0;
    base = ocb_opt_str(L, 3, "match_base", NULL);
  }
  lw = lua_newuserdatauv(L, sizeof *lw, 1);
  lw->w = NULL;
  luaL_setmetatable(L, OCB_WALKER_T);
  lua_pushvalue(L, 2); /* keep the matcher alive while walking */
  lua_setiuservalue(L, -2, 1);
  if (!(lw->w = ocb_walk_open_sub(root, base, m, flags, &err))) return ocb_pushfail(L, &err);
  if (!lua_isnoneornil(L, 3)) {
    struct stat skip[OCB_WALK_MAXSKIP];
    int i, n = ocb_opt_skip(L, 3, skip);
    for (i = 0; i < n; i++) ocb_walk_skip(lw->w, skip[i].st_dev, skip[i].st_ino);
    ocb_walk_threads(lw->w, (int)ocb_opt_int(L, 3, "threads", 1, 1, 256));
  }
  return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

int ocb_l_walker_next(lua_State *L) {
  LWalk *lw = luaL_checkudata(L, 1, OCB_WALKER_T);
  ocb_entry e;
  ocb_err err;
  int r;
  if (!lw->w) return 0;
  r = ocb_walk_next(lw->w, &e, &err);
  if (r <= 0) {
    ocb_walk_close(lw->w);
    lw->w = NULL;
    return r < 0 ? ocb_pushfail(L, &err) : 0;
  }
  lua_pushlstring(L, e.path, e.pathlen);
  lua_createtable(L, 0, 12);
  lua_pushstring(L, ocb_type_name(e.st->st_mode));
  lua_setfield(L, -2, "type");
  set_int(L, "mode", e.st->st_mode & 07777);
  set_int(L, "size", (lua_Integer)e.st->st_size);
  set_int(L, "uid", e.st->st_uid);
  set_int(L, "gid", e.st->st_gid);
  set_int(L, "mtime", (lua_Integer)e.st->st_mtime);
  set_int(L, "dev", (lua_Integer)e.st->st_dev);
  set_int(L, "ino", (lua_Integer)e.st->st_ino);
  set_int(L, "nlink", (lua_Integer)e.st->st_nlink);
  if (S_ISLNK(e.st->st_mode)) {
    char buf[4096];
    ssize_t n = readlinkat(e.dirfd, e.name, buf, sizeof buf);
    if (n >= 0) {
      lua_pushlstring(L, buf, (size_t)n);
      lua_setfield(L, -2, "target");
    }
  }
  if (e.excluded) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "excluded");
  }
  if (e.why >= 0) set_int(L, "why", e.why + 1);
  return 2;
}

int ocb_l_walker_gc(lua_State *L) {
  LWalk *lw = luaL_checkudata(L, 1, OCB_WALKER_T);
  ocb_walk_close(lw->w);
  lw->w = NULL;
  return 0;
}
