/*
 * embed.c: the searcher of the Lua modules compiled into the program. A
 * module is loaded from its bytecode only when its source in the Lua folder
 * is the one it was compiled from (same size and CRC-32, read each time:
 * never stale bytecode, even when lua/ changed since the build), or when
 * there is no source at all; otherwise Lua's own searcher reads the source.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <lauxlib.h>
#include <lua.h>

#include "embed.h"

static const ocb_embedded *find(const char *name) {
  size_t lo = 0, hi = ocb_embedded_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(ocb_embedded_modules[mid].name, name);
    if (c == 0) return &ocb_embedded_modules[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* 1 when the source at path is what m was compiled from, or is absent. */
static int fresh(const ocb_embedded *m, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC), ok = 0;
  struct stat st;
  unsigned char *b;
  if (fd < 0) return access(path, F_OK) != 0;
  if (fstat(fd, &st) == 0 && (size_t)st.st_size == m->size && (b = malloc(m->size + 1))) {
    ok = read(fd, b, m->size + 1) == (ssize_t)m->size &&
         (unsigned long)libdeflate_crc32(0, b, m->size) == m->crc;
    free(b);
  }
  close(fd);
  return ok;
}

static int searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1), *dir = lua_tostring(L, lua_upvalueindex(1));
  const ocb_embedded *m = find(name);
  const char *path;
  if (!m) {
    lua_pushfstring(L, "no module '%s' in the program", name);
    return 1;
  }
  path = lua_pushfstring(L, "%s/%s", dir, m->rel);
  if (!fresh(m, path)) {
    lua_pushfstring(L, "the program's module '%s' is older than %s", name, path);
    return 1;
  }
  if (luaL_loadbufferx(L, (const char *)m->code, m->len, path, "b") != LUA_OK) {
    lua_pushfstring(L, "the program's module '%s' does not load: %s", name, lua_tostring(L, -1));
    return 1;
  }
  lua_insert(L, -2); /* the chunk, then its file name (as Lua's own searcher passes it) */
  return 2;
}

void ocb_embed_install(lua_State *L, const char *dir) {
  lua_Integer i;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushstring(L, dir);
  lua_pushcclosure(L, searcher, 1);
  for (i = (lua_Integer)luaL_len(L, -2); i >= 2; i--) {
    lua_geti(L, -2, i);
    lua_seti(L, -3, i + 1);
  }
  lua_seti(L, -2, 2);
  lua_pop(L, 2);
}
