/*
 * layer.c: the fused layer path, one pass in bounded memory: walk -> tar ->
 * pipeline (diff_id and blocks on worker threads, unchanged blocks of the
 * earlier build reused) -> SHA-256 -> blobs/sha256/<hex>. No file bytes reach
 * Lua. Lua: core.layer(root, matcher, store, opts...) -> result | nil, msg, code
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "comp.h"

#define JOB_T "ocibuild.LayerJob"

/* Everything a build holds, boxed in a userdata so a Lua error cannot leak it. */
typedef struct {
  ocb_walk *walk;
  ocb_tar *tar;
  ocb_comp *comp;
  ocb_blobw blob;
  uint64_t tar_size;
} Job;

static void job_release(Job *j) {
  ocb_walk_close(j->walk);
  ocb_tar_free(j->tar);
  ocb_comp_free(j->comp);
  ocb_blobw_abort(&j->blob);
  memset(j, 0, sizeof *j);
  j->blob.f.fd = -1;
}

static int job_gc(lua_State *L) {
  job_release(luaL_checkudata(L, 1, JOB_T));
  return 0;
}

/* Tar bytes, into the pipeline (which hashes them for the diff_id). */
static int tar_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  Job *j = ud;
  j->tar_size += len;
  return ocb_comp_write(j->comp, buf, len, err);
}

/* Directory entries for each component of the destination prefix. */
static int add_prefix(Job *j, const ocb_tar_policy *p, ocb_err *err) {
  char name[4096];
  size_t i, n = strlen(p->prefix);
  if (n >= sizeof name) return ocb_errno(err, ENAMETOOLONG, p->prefix);
  for (i = 0; i < n; i++) {
    if (p->prefix[i] != '/') continue;
    memcpy(name, p->prefix, i + 1);
    name[i + 1] = '\0';
    if (ocb_tar_add_dir(j->tar, name, 0755, p->mtime, p->uid, p->gid, err) < 0) return -1;
  }
  return 0;
}

static int comp_kind(lua_State *L, int idx) {
  static const char *const names[] = {"none", "gzip", "zstd", NULL};
  static const int kinds[] = {OCB_COMP_NONE, OCB_COMP_GZIP, OCB_COMP_ZSTD};
  return kinds[luaL_checkoption(L, idx, "gzip", names)];
}

/* Skips the (dev, ino) of each path in the table at idx that exists. */
static void skip_paths(lua_State *L, int idx, ocb_walk *w) {
  lua_Integer i, n;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  n = luaL_len(L, idx);
  for (i = 1; i <= n; i++) {
    struct stat st;
    lua_geti(L, idx, i);
    if (lua_isstring(L, -1) && stat(lua_tostring(L, -1), &st) == 0)
      ocb_walk_skip(w, st.st_dev, st.st_ino);
    lua_pop(L, 1);
  }
}

/* What a layer build hands back. */
typedef struct {
  char digest[72];
  uint64_t size, tar_size;
  lua_Integer entries;
  ocb_comp_result res;
} Outcome;

/* Walks and tars everything into the pipeline; warnings go into the table
 * at stack index `warn`. */
static int fill(lua_State *L, Job *j, const ocb_tar_policy *pol, Outcome *o, int warn,
                ocb_err *err) {
  ocb_entry e;
  int r, nwarn = 0;
  if (add_prefix(j, pol, err) < 0) return -1;
  while ((r = ocb_walk_next(j->walk, &e, err)) > 0) {
    int a = ocb_tar_add_walked(j->tar, pol, &e, err);
    if (a < 0) return -1;
    if (a == 1) {
      char q[1024];
      ocb_quote(q, sizeof q, e.path, e.pathlen);
      lua_pushfstring(L, "skipping socket %s/%s", pol->display, q);
      lua_rawseti(L, warn, ++nwarn);
      continue;
    }
    o->entries++;
  }
  return r;
}

/* Ends the tar and the pipeline, then publishes the blob, or drops it when
 * the earlier build's blob is the result, and records the blocks. */
static int publish(lua_State *L, Job *j, Outcome *o, int warn, ocb_err *err) {
  if (ocb_tar_finish(j->tar, err) < 0 || ocb_comp_finish(j->comp, err) < 0) return -1;
  ocb_comp_result_get(j->comp, &o->res);
  o->tar_size = j->tar_size;
  if (o->res.whole) {
    ocb_blobw_abort(&j->blob);
    memcpy(o->digest, o->res.blob, sizeof o->digest);
    o->size = o->res.blob_size;
    return 0;
  }
  if (ocb_blobw_commit(&j->blob, o->digest, &o->size, err) < 0) return -1;
  if (ocb_comp_remember(j->comp, o->digest, o->size, err) < 0) {
    /* The record only speeds up the next build: say so, go on. */
    lua_pushfstring(L, "cannot record the layer's blocks for reuse: %s", err->msg);
    lua_rawseti(L, warn, (lua_Integer)luaL_len(L, warn) + 1);
  }
  return 0;
}

static void push_outcome(lua_State *L, const Outcome *o, int warnings) {
  lua_createtable(L, 0, 9);
  lua_pushstring(L, o->res.diff_id);
  lua_setfield(L, -2, "diff_id");
  lua_pushstring(L, o->digest);
  lua_setfield(L, -2, "digest");
  lua_pushinteger(L, (lua_Integer)o->size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)o->tar_size);
  lua_setfield(L, -2, "tar_size");
  lua_pushinteger(L, o->entries);
  lua_setfield(L, -2, "entries");
  lua_pushinteger(L, (lua_Integer)o->res.blocks);
  lua_setfield(L, -2, "blocks");
  lua_pushinteger(L, (lua_Integer)o->res.reused);
  lua_setfield(L, -2, "reused");
  lua_pushboolean(L, o->res.whole);
  lua_setfield(L, -2, "whole");
  lua_pushvalue(L, warnings);
  lua_setfield(L, -2, "warnings");
}

static void check_policy(lua_State *L, ocb_tar_policy *pol) {
  memset(pol, 0, sizeof *pol);
  pol->prefix = luaL_checkstring(L, 4);
  pol->display = luaL_checkstring(L, 5);
  pol->mtime = luaL_checkinteger(L, 6);
  pol->keep_mtime = lua_toboolean(L, 7);
  pol->clamp = lua_toboolean(L, 8);
  pol->keep_owner = lua_toboolean(L, 9);
  pol->uid = (uint32_t)luaL_checkinteger(L, 10);
  pol->gid = (uint32_t)luaL_checkinteger(L, 11);
  pol->normalize_mode = lua_toboolean(L, 12);
  luaL_argcheck(L, pol->mtime >= 0, 6, "mtime must not be negative");
}

/*
 * core.layer(root, matcher, store, prefix, display, mtime, keep_mtime, clamp,
 *            keep_owner, uid, gid, normalize_mode, compression, level, jobs,
 *            skip_paths [, reuse_dir])
 * -> {diff_id=, digest=, size=, tar_size=, entries=, blocks=, reused=,
 *     whole=, warnings={...}}
 * reuse_dir: the folder of block records for this compression setting
 * (nil: neither use nor write records).
 */
static int l_layer(lua_State *L) {
  const char *root = luaL_checkstring(L, 1);
  ocb_matcher *m = ocb_check_matcher(L, 2);
  const char *store = luaL_checkstring(L, 3);
  const char *recdir = luaL_optstring(L, 17, NULL);
  ocb_tar_policy pol;
  int kind, level, jobs, warnings;
  Outcome o;
  ocb_err err;
  Job *j;
  check_policy(L, &pol);
  kind = comp_kind(L, 13);
  level = (int)luaL_checkinteger(L, 14);
  jobs = (int)luaL_checkinteger(L, 15);
  luaL_argcheck(L, jobs >= 1 && jobs <= 256, 15, "jobs out of range");
  luaL_argcheck(L,
                kind == OCB_COMP_NONE || (level >= 1 && level <= (kind == OCB_COMP_ZSTD ? 19 : 9)),
                14, "level out of range");
  memset(&o, 0, sizeof o);
  lua_newtable(L); /* warnings */
  warnings = lua_gettop(L);
  j = lua_newuserdatauv(L, sizeof *j, 0);
  memset(j, 0, sizeof *j);
  j->blob.f.fd = -1;
  luaL_setmetatable(L, JOB_T);
  if (!(j->walk = ocb_walk_open(root, m, 0, &err))) goto fail;
  skip_paths(L, 16, j->walk);
  if (ocb_blobw_open(&j->blob, store, &err) < 0 ||
      !(j->comp = ocb_comp_new(kind, level, jobs, ocb_blobw_write, &j->blob, &err)) ||
      ocb_comp_track(j->comp, recdir, store, &err) < 0 ||
      !(j->tar = ocb_tar_new(tar_out, j, &err)) || fill(L, j, &pol, &o, warnings, &err) < 0 ||
      publish(L, j, &o, warnings, &err) < 0)
    goto fail;
  job_release(j);
  push_outcome(L, &o, warnings);
  return 1;
fail:
  job_release(j);
  return ocb_pushfail(L, &err);
}

void ocb_open_layer(lua_State *L) {
  static const luaL_Reg methods[] = {{"close", job_gc}, {NULL, NULL}};
  ocb_createmeta(L, JOB_T, methods, job_gc);
  lua_pushcfunction(L, l_layer);
  lua_setfield(L, -2, "layer");
}
