/*
 * l_cand.c: a layer job's candidate, asked from Lua: candidate(id0) with
 * the first block's SHA-256 (hex) returns nil, or {blob=, size=, head=,
 * blocks={{id, tend, oend, crc, ocrc}, ...}}: the blob's digest and size,
 * the bytes before its first piece, and per block the SHA-256 of its input
 * (hex), the end of its input and of its piece, and the CRC-32 of both. It
 * comes from elsewhere (a registry's record): anything that does not add
 * up (ends that go back, pieces past the blob, a first block that is not
 * id0) makes it no candidate; each piece is checked again when it is used.
 */
#include <string.h>

#include "lcore.h"

#define MAX_BLOCKS (1u << 22)

static int unhex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int unhex32(const char *s, size_t len, unsigned char out[32]) {
  size_t i;
  if (len != 64) return -1;
  for (i = 0; i < 32; i++) {
    int a = unhex(s[2 * i]), b = unhex(s[2 * i + 1]);
    if (a < 0 || b < 0) return -1;
    out[i] = (unsigned char)(a << 4 | b);
  }
  return 0;
}

/* Field i of the block table at the top: a non-negative integer, or -1. */
static int64_t field(lua_State *L, int i) {
  lua_Integer v;
  int ok;
  lua_geti(L, -1, i);
  v = lua_tointegerx(L, -1, &ok);
  lua_pop(L, 1);
  return ok && v >= 0 ? (int64_t)v : -1;
}

/* One block (the table at the top) after prev: 0, or -1 when it does not add up. */
static int block(lua_State *L, ocb_block *k, const ocb_block *prev, uint64_t size) {
  int64_t tend = field(L, 2), oend = field(L, 3), crc = field(L, 4), ocrc = field(L, 5);
  const char *id;
  size_t len;
  memset(k, 0, sizeof *k);
  lua_geti(L, -1, 1);
  id = lua_tolstring(L, -1, &len);
  if (!id || unhex32(id, len, k->id) < 0) len = 0;
  lua_pop(L, 1);
  if (!len || tend <= (int64_t)prev->tend || oend <= (int64_t)prev->oend || (uint64_t)oend > size ||
      crc < 0 || crc > 0xffffffffLL || ocrc < 0 || ocrc > 0xffffffffLL)
    return -1;
  k->tend = (uint64_t)tend, k->oend = (uint64_t)oend;
  k->crc = (uint32_t)crc, k->ocrc = (uint32_t)ocrc;
  return 0;
}

/* Called protected: (fn, id0 hex, prior, id0) -> true with the
 * candidate read into prior, or false. */
static int call(lua_State *L) {
  ocb_prior *p = lua_touserdata(L, 3);
  const unsigned char *id0 = lua_touserdata(L, 4);
  const char *blob;
  lua_Integer i, n;
  int64_t size, head;
  ocb_block k, prev;
  lua_settop(L, 4);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 1, 1);
  if (lua_isnil(L, 5)) return 0;
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_getfield(L, 5, "blob"); /* 6: kept, it anchors blob */
  blob = lua_tostring(L, 6);
  lua_getfield(L, 5, "size");
  size = lua_isinteger(L, 7) ? (int64_t)lua_tointeger(L, 7) : -1;
  lua_getfield(L, 5, "head");
  head = lua_isinteger(L, 8) ? (int64_t)lua_tointeger(L, 8) : -1;
  lua_getfield(L, 5, "blocks"); /* 9 */
  n = lua_istable(L, 9) ? luaL_len(L, 9) : 0;
  if (!blob || !ocb_digest_valid(blob, strlen(blob)) || size <= 0 || head < 0 || head > 32 ||
      n <= 0 || (uint64_t)n > MAX_BLOCKS)
    return 0;
  memset(&prev, 0, sizeof prev);
  prev.oend = (uint64_t)head;
  for (i = 1; i <= n; i++) {
    int bad;
    if (lua_geti(L, 9, i) != LUA_TTABLE) return 0;
    bad = block(L, &k, &prev, (uint64_t)size) < 0;
    lua_pop(L, 1);
    if (bad || (i == 1 && memcmp(k.id, id0, 32) != 0)) return 0;
    if (ocb_blocks_push(&p->b, &k) < 0) return luaL_error(L, "out of memory");
    prev = k;
  }
  p->b.ohead = (uint64_t)head;
  p->size = (uint64_t)size;
  memcpy(p->blob, blob, OCB_DIGEST_BUF);
  p->fd = -1;
  lua_pushboolean(L, 1);
  return 1;
}

int ocb_l_candidate(lua_State *L, int fn, const unsigned char id0[32], ocb_prior *prior) {
  char hex[OCB_DIGEST_BUF];
  int r;
  ocb_prior_init(prior);
  ocb_digest_hex(id0, hex);
  lua_pushcfunction(L, call);
  lua_pushvalue(L, fn);
  lua_pushstring(L, hex + 7);
  lua_pushlightuserdata(L, prior);
  lua_pushlightuserdata(L, (void *)id0);
  if (lua_pcall(L, 4, 1, 0) != LUA_OK) {
    ocb_prior_free(prior);
    return -1; /* the error stays on the stack */
  }
  r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!r) ocb_prior_free(prior);
  return r;
}
