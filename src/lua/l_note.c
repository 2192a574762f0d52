/*
 * l_note.c: a store's notes (see store/note.c): store:note_read(kind,
 * digest [, max]) -> bytes | nil, msg, code (ENOENT: none yet);
 * store:note_write(kind, digest, data) -> true; store:prune_notes() ->
 * removed count.
 */
#include "lcore.h"

/* note_read(kind, digest [, max = 64 MiB]) */
int ocb_l_store_note_read(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  const char *kind = luaL_checkstring(L, 2), *digest = luaL_checkstring(L, 3);
  lua_Integer max = luaL_optinteger(L, 4, 64 << 20);
  ocb_err err;
  int fd = ocb_note_open(s, kind, digest, &err);
  if (fd < 0) return ocb_pushfail(L, &err);
  if (ocb_push_fd(L, fd, lua_pushfstring(L, "note %s of %s", kind, digest), max, NULL, &err) < 0)
    return ocb_pushfail(L, &err);
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
