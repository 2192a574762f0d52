/*
 * layout.c: the file-system side of an OCI image layout: its folders, an
 * exclusive flock on a separate, stable lock file (never index.json, whose
 * inode a rename swaps), atomic replacement of small files such as
 * index.json, and removal of temp files nobody holds any more.
 * Lua: core.layout_init, core.lock, core.replace_file, core.gc_temps.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocb.h"

/* mkdir -p for path; existing directories are fine. */
static int mkdirs(const char *path, ocb_err *err) {
  char buf[4096];
  size_t i, n = strlen(path);
  if (n == 0 || n >= sizeof buf) return ocb_errno(err, ENAMETOOLONG, path);
  memcpy(buf, path, n + 1);
  for (i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      struct stat st;
      buf[i] = '\0';
      if (mkdir(buf, 0755) < 0) {
        int e = errno;
        if (e != EEXIST || stat(buf, &st) < 0) return ocb_errno(err, e, buf);
        if (!S_ISDIR(st.st_mode)) return ocb_errno(err, ENOTDIR, buf);
      }
      buf[i] = c;
    }
  }
  return 0;
}

/* core.layout_init(store) -> true | nil, msg, code: creates the folders. */
static int l_layout_init(lua_State *L) {
  const char *store = luaL_checkstring(L, 1);
  static const char *const sub[] = {"blobs/sha256", ".ocibuild-tmp"};
  char path[4200];
  ocb_err err;
  size_t i;
  for (i = 0; i < sizeof sub / sizeof *sub; i++) {
    snprintf(path, sizeof path, "%s/%s", store, sub[i]);
    if (mkdirs(path, &err) < 0) return ocb_pushfail(L, &err);
  }
  if (access(store, W_OK) < 0) {
    ocb_errno(&err, errno, store);
    return ocb_pushfail(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.replace_file(path, data, tmpdir) -> true | nil, msg, code */
static int l_replace_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  const char *tmpdir = luaL_checkstring(L, 3);
  ocb_afile f;
  ocb_err err;
  if (ocb_afile_open(&f, tmpdir, "file-", &err) < 0) return ocb_pushfail(L, &err);
  if (ocb_afile_write(&f, data, len, &err) < 0) {
    ocb_afile_abort(&f);
    return ocb_pushfail(L, &err);
  }
  if (ocb_afile_commit(&f, path, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

#define LOCK_T "ocibuild.Lock"

typedef struct {
  int fd;
} LLock;

/* core.lock(path [, shared]) -> lock | nil, msg, code; blocks until the
 * lock is free. Shared locks exclude only exclusive ones. */
static int l_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int how = lua_toboolean(L, 2) ? LOCK_SH : LOCK_EX;
  LLock *lk = lua_newuserdatauv(L, sizeof *lk, 0);
  ocb_err err;
  lk->fd = -1;
  luaL_setmetatable(L, LOCK_T);
  if ((lk->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  while (flock(lk->fd, how) < 0) {
    if (errno == EINTR) continue;
    ocb_errno(&err, errno, path);
    close(lk->fd);
    lk->fd = -1;
    return ocb_pushfail(L, &err);
  }
  return 1;
}

static int lock_gc(lua_State *L) {
  LLock *lk = luaL_checkudata(L, 1, LOCK_T);
  if (lk->fd >= 0) close(lk->fd); /* closing releases the flock */
  lk->fd = -1;
  return 0;
}

/* core.gc_temps(tmpdir) -> removed count | nil, msg, code: temp files whose
 * writer is gone (their flock is free) are deleted. */
static int l_gc_temps(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  DIR *d = opendir(dir);
  struct dirent *de;
  lua_Integer removed = 0;
  ocb_err err;
  if (!d) {
    if (errno == ENOENT) {
      lua_pushinteger(L, 0);
      return 1;
    }
    ocb_errno(&err, errno, dir);
    return ocb_pushfail(L, &err);
  }
  while ((de = readdir(d))) {
    int fd;
    if (de->d_name[0] == '.') continue;
    fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dirfd(d), de->d_name, 0) == 0) removed++;
    close(fd);
  }
  closedir(d);
  lua_pushinteger(L, removed);
  return 1;
}

void ocb_open_layout(lua_State *L) {
  static const luaL_Reg methods[] = {{"close", lock_gc}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"gc_temps", l_gc_temps},
                                   {"layout_init", l_layout_init},
                                   {"lock", l_lock},
                                   {"replace_file", l_replace_file},
                                   {NULL, NULL}};
  ocb_createmeta(L, LOCK_T, methods, lock_gc);
  luaL_setfuncs(L, funcs, 0);
}
