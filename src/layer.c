/*
 * layer.c: the fused layer path. One pass, memory bounded whatever the
 * tree: walk -> tar -> SHA-256 (diff_id) -> compress -> SHA-256 (digest)
 * -> temp file -> blobs/sha256/<hex>. No file bytes reach Lua; Lua gets
 * the descriptors back, and the warnings to print.
 * Lua: core.layer(root, matcher, store, opts...) -> result | nil, msg, code
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ocb.h"

#define JOB_T "ocibuild.LayerJob"

/* Everything a build holds, boxed in a userdata so a Lua error cannot leak it. */
typedef struct {
  ocb_walk *walk;
  ocb_tar *tar;
  ocb_comp *comp;
  ocb_blobw blob;
  ocb_sha256 *diff;
  uint64_t tar_size;
} Job;

static void job_release(Job *j) {
  ocb_walk_close(j->walk);
  ocb_tar_free(j->tar);
  ocb_comp_free(j->comp);
  ocb_blobw_abort(&j->blob);
  ocb_sha256_free(j->diff);
  memset(j, 0, sizeof *j);
  j->blob.f.fd = -1;
}

static int job_gc(lua_State *L) {
  job_release(luaL_checkudata(L, 1, JOB_T));
  return 0;
}

/* Tar bytes: hashed for the diff_id, then compressed. */
static int tar_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  Job *j = ud;
  ocb_sha256_update(j->diff, buf, len);
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

/*
 * core.layer(root, matcher, store, prefix, display, mtime, keep_mtime, clamp,
 *            keep_owner, uid, gid, normalize_mode, compression, level, jobs,
 *            skip_paths)
 * -> {diff_id=, digest=, size=, tar_size=, entries=, warnings={...}}
 */
static int l_layer(lua_State *L) {
  const char *root = luaL_checkstring(L, 1);
  ocb_matcher *m = ocb_check_matcher(L, 2);
  const char *store = luaL_checkstring(L, 3);
  ocb_tar_policy pol;
  int kind, level, jobs, r, nwarn = 0;
  lua_Integer entries = 0;
  char digest[72], diff_id[72];
  uint64_t size, tar_size;
  ocb_entry e;
  ocb_err err;
  Job *j;
  memset(&pol, 0, sizeof pol);
  pol.prefix = luaL_checkstring(L, 4);
  pol.display = luaL_checkstring(L, 5);
  pol.mtime = luaL_checkinteger(L, 6);
  pol.keep_mtime = lua_toboolean(L, 7);
  pol.clamp = lua_toboolean(L, 8);
  pol.keep_owner = lua_toboolean(L, 9);
  pol.uid = (uint32_t)luaL_checkinteger(L, 10);
  pol.gid = (uint32_t)luaL_checkinteger(L, 11);
  pol.normalize_mode = lua_toboolean(L, 12);
  kind = comp_kind(L, 13);
  level = (int)luaL_checkinteger(L, 14);
  jobs = (int)luaL_checkinteger(L, 15);
  luaL_argcheck(L, pol.mtime >= 0, 6, "mtime must not be negative");
  luaL_argcheck(L, jobs >= 1 && jobs <= 256, 15, "jobs out of range");

  lua_newtable(L); /* warnings */
  j = lua_newuserdatauv(L, sizeof *j, 0);
  memset(j, 0, sizeof *j);
  j->blob.f.fd = -1;
  luaL_setmetatable(L, JOB_T);
  if (!(j->diff = ocb_sha256_new())) return luaL_error(L, "cannot create SHA-256 context");
  if (!(j->walk = ocb_walk_open(root, m, 0, &err))) goto fail;
  skip_paths(L, 16, j->walk);
  if (ocb_blobw_open(&j->blob, store, &err) < 0 ||
      !(j->comp = ocb_comp_new(kind, level, jobs, ocb_blobw_write, &j->blob, &err)) ||
      !(j->tar = ocb_tar_new(tar_out, j, &err)) || add_prefix(j, &pol, &err) < 0)
    goto fail;
  while ((r = ocb_walk_next(j->walk, &e, &err)) > 0) {
    int a = ocb_tar_add_walked(j->tar, &pol, &e, &err);
    if (a < 0) goto fail;
    if (a == 1) {
      char q[1024];
      ocb_quote(q, sizeof q, e.path, e.pathlen);
      lua_pushfstring(L, "skipping socket %s/%s", pol.display, q);
      lua_rawseti(L, -3, ++nwarn);
      continue;
    }
    entries++;
  }
  if (r < 0 || ocb_tar_finish(j->tar, &err) < 0 || ocb_comp_finish(j->comp, &err) < 0 ||
      ocb_blobw_commit(&j->blob, digest, &size, &err) < 0)
    goto fail;
  ocb_sha256_final(j->diff, diff_id);
  tar_size = j->tar_size;
  job_release(j);

  lua_createtable(L, 0, 6);
  lua_pushstring(L, diff_id);
  lua_setfield(L, -2, "diff_id");
  lua_pushstring(L, digest);
  lua_setfield(L, -2, "digest");
  lua_pushinteger(L, (lua_Integer)size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)tar_size);
  lua_setfield(L, -2, "tar_size");
  lua_pushinteger(L, entries);
  lua_setfield(L, -2, "entries");
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "warnings");
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
