/*
 * l_comp.c: core.codec{kind=, level=, threads=} -> codec, checked once;
 * codec:key() -> what its output depends on; codec:compressor() -> a
 * stream whose :write(data) returns the output so far and :close() the
 * rest (for specs and small data; layers go through core.layer_job);
 * core.inflate(data, max) -> raw deflate data expanded (zip entries).
 */
#include <string.h>

#include "lcore.h"

int ocb_l_noop_gc(lua_State *L) {
  (void)L;
  return 0;
}

/* Levels by default: gzip 5 (as small as `gzip -6` for less CPU), zstd 3. */
int ocb_l_codec(lua_State *L) {
  static const char *const keys[] = {"kind", "level", "threads", NULL};
  ocb_codec c, *u;
  ocb_err err;
  const char *name;
  ocb_opt_known(L, 1, keys);
  name = ocb_opt_str(L, 1, "kind", "gzip");
  if ((c.kind = ocb_codec_kind(name)) < 0)
    return luaL_error(L, "option kind: expected 'gzip', 'zstd' or 'none', got '%s'", name);
  c.level = (int)ocb_opt_int(L, 1, "level", c.kind == OCB_COMP_ZSTD ? 3 : 5, 0, 99);
  c.threads = (int)ocb_opt_int(L, 1, "threads", 1, 1, 256);
  if (ocb_codec_check(&c, &err) < 0) return luaL_error(L, "%s", err.msg);
  u = lua_newuserdatauv(L, sizeof *u, 0);
  *u = c;
  luaL_setmetatable(L, OCB_CODEC_T);
  return 1;
}

const ocb_codec *ocb_checkcodec(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, OCB_CODEC_T);
}

int ocb_l_codec_key(lua_State *L) {
  char key[128];
  ocb_codec_key(ocb_checkcodec(L, 1), key, sizeof key);
  lua_pushstring(L, key);
  return 1;
}

typedef struct {
  ocb_comp *c;
  lua_State *L;
  int n; /* pieces pushed during one call */
} LComp;

static int collect(void *ud, const void *buf, size_t len, ocb_err *err) {
  LComp *g = ud;
  (void)err;
  lua_pushlstring(g->L, buf, len);
  if (++g->n >= 16) {
    lua_concat(g->L, g->n);
    g->n = 1;
  }
  return 0;
}

int ocb_l_codec_compressor(lua_State *L) {
  const ocb_codec *codec = ocb_checkcodec(L, 1);
  LComp *g = lua_newuserdatauv(L, sizeof *g, 0);
  ocb_err err;
  g->c = NULL, g->L = L, g->n = 0;
  luaL_setmetatable(L, OCB_COMPRESSOR_T);
  if (!(g->c = ocb_comp_new(codec, collect, g, &err))) return ocb_pushfail(L, &err);
  return 1;
}

static LComp *check_comp(lua_State *L) {
  LComp *g = luaL_checkudata(L, 1, OCB_COMPRESSOR_T);
  luaL_argcheck(L, g->c != NULL, 1, "compressor closed");
  g->L = L, g->n = 0;
  return g;
}

int ocb_l_compressor_write(lua_State *L) {
  LComp *g = check_comp(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ocb_err err;
  if (ocb_comp_write(g->c, s, len, &err) < 0) return ocb_pushfail(L, &err);
  lua_concat(L, g->n);
  return 1;
}

int ocb_l_compressor_close(lua_State *L) {
  LComp *g = check_comp(L);
  ocb_err err;
  int r = ocb_comp_finish(g->c, &err);
  ocb_comp_free(g->c);
  g->c = NULL;
  if (r < 0) return ocb_pushfail(L, &err);
  lua_concat(L, g->n);
  return 1;
}

int ocb_l_compressor_gc(lua_State *L) {
  LComp *g = luaL_checkudata(L, 1, OCB_COMPRESSOR_T);
  ocb_comp_free(g->c);
  g->c = NULL;
  return 0;
}

typedef struct {
  char *p;
  size_t n, cap;
} Into;

static int into(void *ud, const void *buf, size_t len, ocb_err *err) {
  Into *t = ud;
  if (t->p) {
    if (len > t->cap - t->n) return ocb_errf(err, "CORRUPT", "deflate data changed");
    memcpy(t->p + t->n, buf, len);
  }
  t->n += len;
  return 0;
}

/* core.inflate(data, max) -> the raw deflate data expanded (a zip entry)
 * | nil, msg, code (TOOBIG past max bytes, CORRUPT). Twice: once to size
 * the result, once into it, so that no zlib state is held while Lua may
 * raise. */
int ocb_l_inflate(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  lua_Integer max = luaL_checkinteger(L, 2);
  Into t = {NULL, 0, 0};
  luaL_Buffer b;
  ocb_err err;
  luaL_argcheck(L, max >= 0, 2, "max must not be negative");
  if (ocb_inflate_raw(data, len, (uint64_t)max, into, &t, &err) < 0) return ocb_pushfail(L, &err);
  t.cap = t.n, t.n = 0;
  t.p = luaL_buffinitsize(L, &b, t.cap);
  if (ocb_inflate_raw(data, len, (uint64_t)max, into, &t, &err) < 0) return ocb_pushfail(L, &err);
  luaL_pushresultsize(&b, t.n);
  return 1;
}
