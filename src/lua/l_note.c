/*
 * l_note.c: a store's notes (see store/note.c): store:note_read(kind,
 * digest [, max]) -> bytes | nil, msg, code (ENOENT: none yet);
 * store:note_write(kind, digest, data) -> true; store:prune_notes() ->
 * removed count.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcore.h"

/* note_read(kind, digest [, max = 64 MiB]) */
int ocb_l_store_note_read(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  const char *kind = luaL_checkstring(L, 2), *digest = luaL_checkstring(L, 3);
  lua_Integer max = luaL_optinteger(L, 4, 64 << 20), total = 0;
  luaL_Buffer b;
  struct stat st;
  ocb_err err;
  int fd = ocb_note_open(s, kind, digest, &err);
  if (fd < 0) return ocb_pushfail(L, &err);
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > max) {
    close(fd);
    ocb_errf(&err, "BADTYPE", "BADTYPE: not a regular file of at most %lld bytes: note %s of %s",
             (long long)max, kind, digest);
    return ocb_pushfail(L, &err);
  }
  luaL_buffinit(L, &b);
  for (;;) {
    char *p = luaL_prepbuffer(&b);
    ssize_t n = read(fd, p, LUAL_BUFFERSIZE);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (total += n) > max) {
      if (n < 0)
        ocb_errno(&err, errno, digest);
      else
        ocb_errf(&err, "TOOBIG", "TOOBIG: note %s of %s grew past %lld bytes", kind, digest,
                 (long long)max);
      close(fd);
      return ocb_pushfail(L, &err);
    }
    if (n == 0) break;
    luaL_addsize(&b, (size_t)n);
  }
  close(fd);
  luaL_pushresult(&b);
  return 1;
}

int ocb_l_store_note_write(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  const char *kind = luaL_checkstring(L, 2), *digest = luaL_checkstring(L, 3);
  size_t len;
  const char *data = luaL_checklstring(L, 4, &len);
  ocb_err err;
  if (ocb_note_write(s, kind, digest, data, len, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

int ocb_l_store_prune_notes(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  uint64_t removed;
  ocb_err err;
  if (ocb_note_prune(s, &removed, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushinteger(L, (lua_Integer)removed);
  return 1;
}
