/*
 * sha256.c: SHA-256 as a stream, through OpenSSL's EVP (which uses the
 * CPU's SHA instructions where present). Digests come out in OCI form,
 * "sha256:<64 lower-case hex>". Lua: core.sha256() -> hasher.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocb.h"

struct ocb_sha256 {
  EVP_MD_CTX *ctx;
};

ocb_sha256 *ocb_sha256_new(void) {
  ocb_sha256 *h = malloc(sizeof *h);
  if (!h) return NULL;
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(h->ctx);
    free(h);
    return NULL;
  }
  return h;
}

void ocb_sha256_update(ocb_sha256 *h, const void *buf, size_t len) {
  if (len) EVP_DigestUpdate(h->ctx, buf, len);
}

void ocb_sha256_final(ocb_sha256 *h, char out[72]) {
  unsigned char md[32];
  unsigned int n = 0, i;
  EVP_DigestFinal_ex(h->ctx, md, &n);
  memcpy(out, "sha256:", 7);
  for (i = 0; i < 32; i++) snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

void ocb_sha256_free(ocb_sha256 *h) {
  if (!h) return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

/* Lua side: a hasher userdata holding an ocb_sha256 (NULL once done). */
#define SHA_T "ocibuild.Sha256"

typedef struct {
  ocb_sha256 *h;
  lua_Integer size;
} LHash;

static LHash *check_hash(lua_State *L) {
  LHash *lh = luaL_checkudata(L, 1, SHA_T);
  luaL_argcheck(L, lh->h != NULL, 1, "hasher already finished");
  return lh;
}

static int l_sha256(lua_State *L) {
  LHash *lh = lua_newuserdatauv(L, sizeof *lh, 0);
  lh->h = NULL;
  lh->size = 0;
  luaL_setmetatable(L, SHA_T);
  if (!(lh->h = ocb_sha256_new())) return luaL_error(L, "cannot create SHA-256 context");
  return 1;
}

static int h_update(lua_State *L) {
  LHash *lh = check_hash(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ocb_sha256_update(lh->h, s, len);
  lh->size += (lua_Integer)len;
  lua_settop(L, 1);
  return 1;
}

/* hasher:digest() -> "sha256:...", size; the hasher is finished after it. */
static int h_digest(lua_State *L) {
  LHash *lh = check_hash(L);
  char out[72];
  ocb_sha256_final(lh->h, out);
  ocb_sha256_free(lh->h);
  lh->h = NULL;
  lua_pushstring(L, out);
  lua_pushinteger(L, lh->size);
  return 2;
}

static int h_gc(lua_State *L) {
  LHash *lh = luaL_checkudata(L, 1, SHA_T);
  ocb_sha256_free(lh->h);
  lh->h = NULL;
  return 0;
}

void ocb_open_sha256(lua_State *L) {
  static const luaL_Reg methods[] = {{"digest", h_digest}, {"update", h_update}, {NULL, NULL}};
  ocb_createmeta(L, SHA_T, methods, h_gc);
  lua_pushcfunction(L, l_sha256);
  lua_setfield(L, -2, "sha256");
}
