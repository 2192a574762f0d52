/*
 * l_catalog.c: core.catalog_spec{files=, entries=, capture=matcher,
 * max={bytes per pattern of capture}, go_window=} -> spec, checked once:
 * what a layer
 * job's `catalog` option records and captures (see layer/catalog.c), and
 * spec:blob(store, digest [, on_capture [, diff_id]]) -> records, size | nil, msg,
 * code: the same, reading a layer blob of the store once (its digest
 * checked). on_capture(c) is called on this thread with {path=, data=,
 * size=, mode=, cut=, kind= "prefix" | "goinfo"}; an error it raises is
 * raised again once the blob is closed.
 */
#include <string.h>

#include "lcore.h"

#define MAX_PATTERNS 64

typedef struct {
  ocb_catalog_spec spec;
  uint64_t max[MAX_PATTERNS];
} LCatSpec;

int ocb_l_catalog_spec(lua_State *L) {
  static const char *const keys[] = {"files", "entries", "capture", "max", "go_window", NULL};
  LCatSpec *c;
  lua_Integer i, n = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  ocb_opt_known(L, 1, keys);
  c = lua_newuserdatauv(L, sizeof *c, 1);
  memset(c, 0, sizeof *c);
  luaL_setmetatable(L, OCB_CATSPEC_T);
  c->spec.files = ocb_opt_bool(L, 1, "files", 0);
  c->spec.entries = ocb_opt_bool(L, 1, "entries", 0);
  c->spec.go_window = (uint64_t)ocb_opt_int(L, 1, "go_window", 0, 0, (lua_Integer)1 << 30);
  lua_getfield(L, 1, "capture");
  c->spec.capture = ocb_tomatcher(L, -1);
  lua_setiuservalue(L, -2, 1); /* the matcher lives as long as the spec */
  if (lua_getfield(L, 1, "max") != LUA_TNIL) {
    luaL_argcheck(L, lua_istable(L, -1), 1, "option max: a list of byte counts");
    n = luaL_len(L, -1);
    luaL_argcheck(L, n <= MAX_PATTERNS, 1, "option max: at most 64 patterns");
    for (i = 1; i <= n; i++) {
      lua_Integer v;
      int ok;
      lua_geti(L, -1, i);
      v = lua_tointegerx(L, -1, &ok);
      luaL_argcheck(L, ok && v >= 0 && v <= ((lua_Integer)1 << 32), 1,
                    "option max: byte counts from 0 to 4 GiB");
      c->max[i - 1] = (uint64_t)v;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  luaL_argcheck(L, !c->spec.capture || n > 0, 1, "option capture needs max");
  c->spec.max = c->max, c->spec.nmax = (size_t)n;
  return 1;
}

const ocb_catalog_spec *ocb_checkcatspec(lua_State *L, int idx) {
  return &((LCatSpec *)luaL_checkudata(L, idx, OCB_CATSPEC_T))->spec;
}

/* Called protected: (on_capture, capture) -> on_capture{...}. */
static int call_capture(lua_State *L) {
  const ocb_capture *c = lua_touserdata(L, 2);
  lua_settop(L, 1);
  lua_createtable(L, 0, 8);
  lua_pushliteral(L, "capture");
  lua_setfield(L, -2, "type");
  lua_pushlstring(L, c->path, c->pathlen);
  lua_setfield(L, -2, "path");
  lua_pushlstring(L, c->data ? c->data : "", c->len);
  lua_setfield(L, -2, "data");
  lua_pushinteger(L, (lua_Integer)c->size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)c->mode);
  lua_setfield(L, -2, "mode");
  lua_pushboolean(L, c->cut);
  lua_setfield(L, -2, "cut");
  lua_pushstring(L, c->kind ? "goinfo" : "prefix");
  lua_setfield(L, -2, "kind");
  lua_call(L, 1, 0);
  return 0;
}

int ocb_l_call_capture(lua_State *L, int fn, const ocb_capture *c) {
  lua_pushcfunction(L, call_capture);
  lua_pushvalue(L, fn);
  lua_pushlightuserdata(L, (void *)c);
  return lua_pcall(L, 2, 0, 0);
}

typedef struct {
  lua_State *L;
  int fn, failed;
} Capt;

static int on_capture(void *ud, const ocb_capture *c, ocb_err *err) {
  Capt *k = ud;
  if (!k->fn) return 0;
  if (ocb_l_call_capture(k->L, k->fn, c) == LUA_OK) return 0;
  k->failed = 1;
  return ocb_errf(err, "ECANCELED", "ECANCELED: stopped by the capture callback");
}

/* The catalog of a blob read, boxed: freed by __gc whatever raises. */
typedef struct {
  ocb_catalog *c;
} LCat;

int ocb_l_catalog_gc(lua_State *L) {
  LCat *box = luaL_checkudata(L, 1, OCB_CATALOG_T);
  ocb_catalog_free(box->c);
  box->c = NULL;
  return 0;
}

/* spec:blob(store, digest [, on_capture [, diff_id]]) */
int ocb_l_catspec_blob(lua_State *L) {
  const ocb_catalog_spec *spec = ocb_checkcatspec(L, 1);
  ocb_store *s = ocb_checkstore(L, 2);
  const char *digest = luaL_checkstring(L, 3);
  const char *diff_id = luaL_optstring(L, 5, NULL);
  Capt k = {L, 0, 0};
  LCat *box;
  uint64_t size = 0;
  const char *rec;
  size_t n;
  ocb_err err;
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TFUNCTION);
  k.fn = lua_isnoneornil(L, 4) ? 0 : 4;
  lua_settop(L, 5);
  luaL_checkstack(L, 8, "catalog");
  box = lua_newuserdatauv(L, sizeof *box, 0);
  box->c = NULL;
  luaL_setmetatable(L, OCB_CATALOG_T);
  if (!(box->c = ocb_catalog_new(spec, on_capture, &k, &err))) return ocb_pushfail(L, &err);
  if (ocb_catalog_blob(box->c, s, digest, diff_id, &size, &err) < 0) {
    ocb_catalog_free(box->c);
    box->c = NULL;
    if (k.failed) return lua_error(L); /* the callback's own error, on top */
    return ocb_pushfail(L, &err);
  }
  rec = ocb_catalog_records(box->c, &n);
  lua_pushlstring(L, rec, n);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}
