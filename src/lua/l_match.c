/*
 * l_match.c: core.matcher{patterns} -> matcher | nil, msg, code, index;
 * matcher:matches(path) -> excluded, why; matcher:walk(path, parent_state)
 * -> excluded, state, why; matcher:descend(dir) -> boolean.
 */
#include "lcore.h"

typedef struct {
  ocb_matcher *m;
} LMatcher;

ocb_matcher *ocb_tomatcher(lua_State *L, int idx) {
  LMatcher *lm;
  if (lua_isnoneornil(L, idx)) return NULL;
  lm = luaL_checkudata(L, idx, OCB_MATCHER_T);
  luaL_argcheck(L, lm->m != NULL, idx, "matcher is closed");
  return lm->m;
}

int ocb_l_matcher(lua_State *L) {
  lua_Integer n, i;
  const char **pats;
  size_t *lens, bad = 0;
  LMatcher *lm;
  ocb_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = luaL_len(L, 1);
  luaL_checkstack(L, (int)(n < 1000000 ? n : 1000000) + 4, "too many patterns");
  pats = lua_newuserdatauv(L, (size_t)n * sizeof *pats + 1, 0);
  lens = lua_newuserdatauv(L, (size_t)n * sizeof *lens + 1, 0);
  for (i = 1; i <= n; i++) { /* the strings stay on the stack while they are used */
    if (lua_geti(L, 1, i) != LUA_TSTRING) luaL_argerror(L, 1, "patterns must be strings");
    pats[i - 1] = lua_tolstring(L, -1, &lens[i - 1]);
  }
  lm = lua_newuserdatauv(L, sizeof *lm, 0);
  lm->m = NULL;
  luaL_setmetatable(L, OCB_MATCHER_T);
  if (!(lm->m = ocb_matcher_new(pats, lens, (size_t)n, &bad, &err))) {
    ocb_pushfail(L, &err);
    lua_pushinteger(L, (lua_Integer)bad + 1);
    return 4;
  }
  return 1;
}

static int push_why(lua_State *L, int why) {
  if (why < 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, why + 1);
  return 1;
}

int ocb_l_matcher_matches(lua_State *L) {
  ocb_matcher *m = ocb_tomatcher(L, 1);
  size_t len;
  const char *path = luaL_checklstring(L, 2, &len);
  int why, r;
  luaL_argcheck(L, m != NULL, 1, "matcher expected");
  r = ocb_matcher_path(m, path, len, &why);
  lua_pushboolean(L, r);
  return 1 + push_why(L, why);
}

int ocb_l_matcher_walk(lua_State *L) {
  ocb_matcher *m = ocb_tomatcher(L, 1);
  size_t len, slen = 0, size;
  const char *path = luaL_checklstring(L, 2, &len);
  const char *parent = luaL_optlstring(L, 3, NULL, &slen);
  unsigned char *out;
  int why, r;
  luaL_argcheck(L, m != NULL, 1, "matcher expected");
  size = ocb_matcher_state_size(m);
  luaL_argcheck(L, !parent || slen == size, 3, "state of another matcher");
  out = lua_newuserdatauv(L, size + 1, 0);
  r = ocb_matcher_walk(m, path, len, (const unsigned char *)parent, out, &why);
  lua_pushboolean(L, r);
  lua_pushlstring(L, (const char *)out, size);
  return 2 + push_why(L, why);
}

int ocb_l_matcher_descend(lua_State *L) {
  ocb_matcher *m = ocb_tomatcher(L, 1);
  size_t len;
  const char *dir = luaL_checklstring(L, 2, &len);
  luaL_argcheck(L, m != NULL, 1, "matcher expected");
  lua_pushboolean(L, ocb_matcher_descend(m, dir, len));
  return 1;
}

int ocb_l_matcher_gc(lua_State *L) {
  LMatcher *lm = luaL_checkudata(L, 1, OCB_MATCHER_T);
  ocb_matcher_free(lm->m);
  lm->m = NULL;
  return 0;
}
