/*
 * l_sha256.c: core.sha256() -> hasher; hasher:update(s) -> hasher,
 * hasher:digest() -> "sha256:<hex>", size (the hasher is done after it);
 * core.sha1_hex(s) -> the SHA-1 of s in hex (what SPDX requires of files).
 */
#include <openssl/evp.h>

#include "lcore.h"

int ocb_l_sha1_hex(lua_State *L) {
  static const char digits[] = "0123456789abcdef";
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char md[EVP_MAX_MD_SIZE];
  char out[2 * EVP_MAX_MD_SIZE];
  unsigned n = 0, i;
  if (EVP_Digest(s, len, md, &n, EVP_sha1(), NULL) != 1) return luaL_error(L, "SHA-1 unavailable");
  for (i = 0; i < n; i++) out[2 * i] = digits[md[i] >> 4], out[2 * i + 1] = digits[md[i] & 15];
  lua_pushlstring(L, out, 2 * n);
  return 1;
}

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
