/*
 * l_layer.c: core.layer_job{root=, matcher=, store=, policy=, codec=,
 * reuse=, state=, skip={paths}, items={...}} -> job, everything checked
 * once (items: entries written before the walk, in order, instead of the
 * prefix's folders; without root, only they are written; state: the layer
 * state's id, see job.c); job:run([on_event [, candidate]]) -> {diff_id=,
 * digest=, size=, tar_size=, made=, entries=, blocks=, reused=, whole=,
 * holes=} | nil, msg, code; made counts the tar bytes this build produced
 * (less than tar_size when a rebuild skipped unchanged entries).
 * on_event(ev) is called on this thread, at most ten times a second with
 * {type="progress", entries=, bytes=, out=}, and with {type="warning",
 * message=}; an error it raises stops the job, which removes what it had
 * written, and is raised again from run. candidate(id0) (id0: the first
 * block's SHA-256, hex), called once when the store knows no earlier
 * output, may return a candidate {blob=, size=, head=, blocks={{id, tend,
 * oend, crc, ocrc}...}} (see l_cand.c): its blocks are then left as holes
 * (holes > 0, digest ""), listed by job:holes() -> {path=, saved=,
 * runs={{from=, to=, at=}...}} (bytes [from, to) of the candidate's blob
 * go at `at` of the file `path`; saved: the input bytes of those blocks), then job:fill() checks
 * them and publishes the blob -> the same table, or nil, msg, code (BADPIECE: a piece is not its
 * block); job:close() drops what waits.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "lcore.h"

enum {
  UV_MATCHER = 1,
  UV_STORE,
  UV_POLICY,
  UV_CODEC,
  UV_ROOT,
  UV_ITEMS,
  UV_STATE,
  UV_BASE,
  UV_CATALOG,
  UV_KEY,
  NUV = UV_KEY
};

/* A layer state id becomes a file name in the store: letters, digits,
 * '-', '_' and '.', not first, at most 128. */
static int state_id_ok(const char *s) {
  size_t i, n = strlen(s);
  if (n == 0 || n > 128 || s[0] == '.') return 0;
  for (i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
      return 0;
  return 1;
}

typedef struct {
  ocb_layer_spec spec;
  struct stat skip[OCB_WALK_MAXSKIP];
  ocb_layer_job *pending; /* a run that left holes, until fill or close */
  ocb_layer_result res;   /* and its result so far */
} LJob;

/* items = {{kind=, name=, ...}, ...}: an array of ocb_tar_item kept as the
 * job's user value, its strings anchored in the array's own user value. */
static void check_items(lua_State *L, LJob *j) {
  static const char *const strs[] = {"name", "data", "target", "path", NULL};
  lua_Integer i, n;
  ocb_tar_item *items;
  int k, nanchor = 0;
  if (lua_getfield(L, 1, "items") == LUA_TNIL) return;
  luaL_checktype(L, -1, LUA_TTABLE);
  n = luaL_len(L, -1);
  items = lua_newuserdatauv(L, (size_t)n * sizeof *items + 1, 1);
  lua_newtable(L);
  for (i = 1; i <= n; i++) {
    if (lua_geti(L, -3, i) != LUA_TTABLE) luaL_error(L, "option items: list of tables expected");
    ocb_check_item(L, lua_gettop(L), &items[i - 1], 1);
    for (k = 0; strs[k]; k++) {
      if (lua_getfield(L, -1, strs[k]) == LUA_TSTRING)
        lua_rawseti(L, -3, ++nanchor);
      else
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_setiuservalue(L, -2, 1);
  j->spec.items = items, j->spec.nitems = (size_t)n;
  lua_setiuservalue(L, -3, UV_ITEMS);
}

int ocb_l_layer_job(lua_State *L) {
  static const char *const keys[] = {"root",    "matcher",     "store", "policy", "codec",
                                     "reuse",   "state",       "skip",  "items",  "match_base",
                                     "catalog", "catalog_key", NULL};
  LJob *j;
  ocb_opt_known(L, 1, keys);
  j = lua_newuserdatauv(L, sizeof *j, NUV);
  memset(j, 0, sizeof *j);
  luaL_setmetatable(L, OCB_JOB_T);
  lua_getfield(L, 1, "root");
  j->spec.root = luaL_optstring(L, -1, NULL);
  lua_setiuservalue(L, -2, UV_ROOT);
  check_items(L, j);
  lua_pop(L, 1);
  luaL_argcheck(L, j->spec.root || j->spec.items, 1, "root or items expected");
  lua_getfield(L, 1, "match_base");
  j->spec.match_base = luaL_optstring(L, -1, NULL);
  lua_setiuservalue(L, -2, UV_BASE);
  lua_getfield(L, 1, "matcher");
  j->spec.matcher = ocb_tomatcher(L, -1);
  lua_setiuservalue(L, -2, UV_MATCHER);
  lua_getfield(L, 1, "store");
  j->spec.store = ocb_checkstore(L, -1);
  lua_setiuservalue(L, -2, UV_STORE);
  lua_getfield(L, 1, "policy");
  j->spec.policy = ocb_checkpolicy(L, -1);
  lua_setiuservalue(L, -2, UV_POLICY);
  lua_getfield(L, 1, "codec");
  j->spec.codec = ocb_checkcodec(L, -1);
  lua_setiuservalue(L, -2, UV_CODEC);
  j->spec.reuse = ocb_opt_bool(L, 1, "reuse", 1);
  if ((j->spec.state = ocb_opt_str(L, 1, "state", NULL))) {
    luaL_argcheck(L, state_id_ok(j->spec.state), 1,
                  "option state: a name of letters, digits, '-', '_', '.'");
    lua_getfield(L, 1, "state");
    j->spec.state = lua_tostring(L, -1);
    lua_setiuservalue(L, -2, UV_STATE);
  }
  j->spec.nskip = ocb_opt_skip(L, 1, j->skip);
  j->spec.skip = j->skip;
  if (lua_getfield(L, 1, "catalog") != LUA_TNIL) j->spec.catalog = ocb_checkcatspec(L, -1);
  lua_setiuservalue(L, -2, UV_CATALOG);
  if ((j->spec.catalog_key = ocb_opt_str(L, 1, "catalog_key", NULL))) {
    lua_getfield(L, 1, "catalog_key");
    j->spec.catalog_key = lua_tostring(L, -1);
    lua_setiuservalue(L, -2, UV_KEY);
  }
  return 1;
}

typedef struct {
  lua_State *L;
  int fn;     /* stack index of on_event, 0 for none */
  int cand;   /* stack index of candidate, 0 for none */
  int failed; /* on_event or candidate raised: its error is on the stack */
  int rec;    /* stack index where the catalog's records go */
} Hooks;

static void set_int(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* Called protected: (on_event, stats) or (on_event, nil, message). */
static int call_event(lua_State *L) {
  const ocb_layer_stats *s = lua_touserdata(L, 2);
  lua_settop(L, 3);
  lua_pushvalue(L, 1);
  lua_createtable(L, 0, 4);
  if (s) {
    lua_pushliteral(L, "progress");
    lua_setfield(L, -2, "type");
    set_int(L, "entries", s->entries);
    set_int(L, "bytes", s->tar_bytes);
    set_int(L, "out", s->out_bytes);
  } else {
    lua_pushliteral(L, "warning");
    lua_setfield(L, -2, "type");
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, "message");
  }
  lua_call(L, 1, 0);
  return 0;
}

static int event(Hooks *h, const ocb_layer_stats *s, const char *msg, ocb_err *err) {
  lua_State *L = h->L;
  lua_pushcfunction(L, call_event);
  lua_pushvalue(L, h->fn);
  lua_pushlightuserdata(L, (void *)s);
  lua_pushstring(L, msg);
  if (lua_pcall(L, 3, 0, 0) == LUA_OK) return 0;
  h->failed = 1;
  return ocb_errf(err, "ECANCELED", "stopped by the event callback");
}

static int on_progress(void *ud, const ocb_layer_stats *s, ocb_err *err) {
  return event(ud, s, NULL, err);
}

static int on_warn(void *ud, const char *msg, ocb_err *err) {
  Hooks *h = ud;
  if (!h->fn) return 0;
  return event(h, NULL, msg, err);
}

static int on_capture(void *ud, const ocb_capture *c, ocb_err *err) {
  Hooks *h = ud;
  if (!h->fn) return 0;
  if (ocb_l_call_capture(h->L, h->fn, c) == LUA_OK) return 0;
  h->failed = 1;
  return ocb_errf(err, "ECANCELED", "ECANCELED: stopped by the event callback");
}

/* Called protected: (records as light userdata, length). */
static int push_records(lua_State *L) {
  lua_pushlstring(L, lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
  return 1;
}

static int on_records(void *ud, const char *rec, size_t len, ocb_err *err) {
  Hooks *h = ud;
  lua_State *L = h->L;
  lua_pushcfunction(L, push_records);
  lua_pushlightuserdata(L, (void *)rec);
  lua_pushinteger(L, (lua_Integer)len);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return ocb_errno(err, ENOMEM, "catalog");
  }
  lua_replace(L, h->rec);
  return 0;
}

static int on_candidate(void *ud, const unsigned char id0[32], ocb_prior *prior, ocb_err *err) {
  Hooks *h = ud;
  int r = ocb_l_candidate(h->L, h->cand, id0, prior);
  if (r >= 0) return r;
  h->failed = 1;
  return ocb_errf(err, "ECANCELED", "stopped by the candidate callback");
}

/* The result table of a run or a fill. */
static int push_result(lua_State *L, const LJob *j, const ocb_layer_result *r, int rec) {
  lua_createtable(L, 0, 11);
  lua_pushstring(L, r->comp.diff_id);
  lua_setfield(L, -2, "diff_id");
  lua_pushstring(L, r->digest);
  lua_setfield(L, -2, "digest");
  set_int(L, "size", r->size);
  set_int(L, "tar_size", r->tar_size);
  set_int(L, "made", r->stats.tar_bytes);
  set_int(L, "entries", r->stats.entries);
  set_int(L, "blocks", r->comp.blocks);
  set_int(L, "reused", r->comp.reused);
  set_int(L, "holes", r->comp.holes);
  lua_pushboolean(L, r->comp.whole);
  lua_setfield(L, -2, "whole");
  lua_pushboolean(L, r->created);
  lua_setfield(L, -2, "created");
  if (j->spec.catalog && rec) {
    lua_pushvalue(L, rec);
    lua_setfield(L, -2, "catalog");
  }
  if (r->prior[0]) {
    lua_pushstring(L, r->prior);
    lua_setfield(L, -2, "prior");
  }
  return 1;
}

static LJob *check_job(lua_State *L) {
  return luaL_checkudata(L, 1, OCB_JOB_T);
}

int ocb_l_job_run(lua_State *L) {
  LJob *j = check_job(L);
  ocb_layer_hooks hooks;
  Hooks h;
  ocb_err err;
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  luaL_argcheck(L, !j->pending, 1, "job waits for its fill");
  luaL_checkstack(L, 8, "layer job");
  h.L = L, h.fn = lua_isnoneornil(L, 2) ? 0 : 2, h.cand = lua_isnoneornil(L, 3) ? 0 : 3;
  h.failed = 0;
  hooks.progress = h.fn ? on_progress : NULL;
  hooks.warn = on_warn;
  hooks.candidate = h.cand ? on_candidate : NULL;
  hooks.capture = on_capture;
  hooks.records = on_records;
  hooks.ud = &h;
  hooks.interval_ms = 100;
  lua_settop(L, 4); /* 4: the records, when there are some */
  h.rec = 4;
  if (ocb_layer_build(&j->spec, &hooks, &j->res, &j->pending, &err) < 0) {
    if (h.failed) return lua_error(L); /* the callback's own error, left on the stack */
    return ocb_pushfail(L, &err);
  }
  return push_result(L, j, &j->res, h.rec);
}

int ocb_l_job_holes(lua_State *L) {
  LJob *j = check_job(L);
  const ocb_blocks *cand, *now;
  const ocb_hole *v;
  const char *path;
  uint64_t n, i, k = 0, saved = 0;
  luaL_argcheck(L, j->pending != NULL, 1, "job has no holes");
  v = ocb_layer_holes(j->pending, &cand, &now, &path, &n);
  for (i = 0; i < n; i++) saved += now->v[v[i].k].tend - ocb_blocks_tstart(now, v[i].k);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  set_int(L, "saved", saved);
  lua_newtable(L);
  for (i = 0; i < n; i = k) {
    /* holes next to each other, of pieces next to each other: one range */
    uint64_t from = ocb_blocks_ostart(cand, v[i].j), to = cand->v[v[i].j].oend;
    for (k = i + 1;
         k < n && v[k].at == v[k - 1].at + v[k - 1].len && ocb_blocks_ostart(cand, v[k].j) == to;
         k++)
      to = cand->v[v[k].j].oend;
    lua_createtable(L, 0, 3);
    set_int(L, "from", from);
    set_int(L, "to", to);
    set_int(L, "at", v[i].at);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  }
  lua_setfield(L, -2, "runs");
  return 1;
}

int ocb_l_job_fill(lua_State *L) {
  LJob *j = check_job(L);
  ocb_err err;
  int r;
  luaL_argcheck(L, j->pending != NULL, 1, "job has no holes");
  r = ocb_layer_fill(j->pending, &j->res, &err);
  ocb_layer_free(j->pending);
  j->pending = NULL;
  if (r < 0) return ocb_pushfail(L, &err);
  return push_result(L, j, &j->res, 0);
}

int ocb_l_job_gc(lua_State *L) {
  LJob *j = check_job(L);
  ocb_layer_free(j->pending);
  j->pending = NULL;
  return 0;
}