/*
 * l_sha256.c: core.sha256() -> hasher; hasher:update(s) -> hasher,
 * hasher:digest() -> "sha256:<hex>", size (the hasher is done after it).
 */
#include "lcore.h"

typedef ocb_lhash LHash;

ocb_lhash *ocb_checkhasher(lua_State *L, int idx) {
  LHash *lh = luaL_checkudata(L, idx, OCB_SHA256_T);
  luaL_argcheck(L, lh->h != NULL, idx, "hasher already finished");
  return lh;
}

static LHash *check_hash(lua_State *L) {
  return ocb_checkhasher(L, 1);
}

int ocb_l_sha256(lua_State *L) {
  LHash *lh = lua_newuserdatauv(L, sizeof *lh, 0);
  lh->h = NULL;
  lh->size = 0;
  luaL_setmetatable(L, OCB_SHA256_T);
  if (!(lh->h = ocb_sha256_new())) return luaL_error(L, "cannot create a SHA-256 context");
  return 1;
}

int ocb_l_sha256_update(lua_State *L) {
  LHash *lh = check_hash(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ocb_sha256_update(lh->h, s, len);
  lh->size += len;
  lua_settop(L, 1);
  return 1;
}

int ocb_l_sha256_digest(lua_State *L) {
  LHash *lh = check_hash(L);
  char out[OCB_DIGEST_BUF];
  ocb_sha256_final(lh->h, out);
  ocb_sha256_free(lh->h);
  lh->h = NULL;
  lua_pushstring(L, out);
  lua_pushinteger(L, (lua_Integer)lh->size);
  return 2;
}

int ocb_l_sha256_gc(lua_State *L) {
  LHash *lh = luaL_checkudata(L, 1, OCB_SHA256_T);
  ocb_sha256_free(lh->h);
  lh->h = NULL;
  return 0;
}
