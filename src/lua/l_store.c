/*
 * l_store.c: core.store(dir [, {create=}]) -> store, the one object that
 * knows a layout's paths. store:read(name [, max]) and store:replace(name,
 * data) for "index.json" and "oci-layout"; store:lock("index"|"prune"
 * [, shared]); blobs: blob_writer(), blob_read(digest [, max]),
 * blob_verify(digest [, size]), blob_path(digest), blobs() (the digests
 * present), remove_blob(digest); gc_temps([dry]); prune_reuse([all]);
 * reuse_record(codec, digest); temp_dir(prefix), remove_temp(path).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcore.h"

ocb_store *ocb_checkstore(lua_State *L, int idx) {
  ocb_store *s = luaL_checkudata(L, idx, OCB_STORE_T);
  luaL_argcheck(L, s->dir != NULL, idx, "store closed");
  return s;
}

int ocb_l_store(lua_State *L) {
  static const char *const keys[] = {"create", NULL};
  const char *dir = luaL_checkstring(L, 1);
  int create = 0;
  ocb_store *s;
  ocb_err err;
  if (!lua_isnoneornil(L, 2)) {
    ocb_opt_known(L, 2, keys);
    create = ocb_opt_bool(L, 2, "create", 0);
  }
  s = lua_newuserdatauv(L, sizeof *s, 0);
  s->dir = NULL;
  luaL_setmetatable(L, OCB_STORE_T);
  if (ocb_store_open(s, dir, create, &err) < 0) return ocb_pushfail(L, &err);
  return 1;
}

int ocb_l_store_gc(lua_State *L) {
  ocb_store_close(luaL_checkudata(L, 1, OCB_STORE_T));
  return 0;
}

/* The role of a top-level file Lua may read or replace. */
static int file_role(lua_State *L, int idx) {
  static const char *const names[] = {"index.json", "oci-layout", NULL};
  static const int roles[] = {OCB_F_INDEX, OCB_F_LAYOUT};
  return roles[luaL_checkoption(L, idx, NULL, names)];
}

/* store:read(name [, max=4 MiB]) -> bytes | nil, msg, code */
int ocb_l_store_read(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  int role = file_role(L, 2);
  lua_Integer max = luaL_optinteger(L, 3, 4 << 20);
  char *path = ocb_store_path(s, role);
  ocb_err err;
  int fd;
  if (!path) return luaL_error(L, "not enough memory");
  lua_pushstring(L, path);
  free(path);
  path = (char *)lua_tostring(L, -1);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  if (ocb_push_fd(L, fd, path, max, NULL, &err) < 0) return ocb_pushfail(L, &err);
  return 1;
}

/* store:replace(name, data) -> true | nil, msg, code */
int ocb_l_store_replace(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  int role = file_role(L, 2);
  size_t len;
  const char *data = luaL_checklstring(L, 3, &len);
  ocb_err err;
  if (ocb_store_replace(s, role, data, len, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:lock("index"|"prune" [, shared]) -> lock | nil, msg, code */
int ocb_l_store_lock(lua_State *L) {
  static const char *const names[] = {"index", "prune", NULL};
  ocb_store *s = ocb_checkstore(L, 1);
  int role = luaL_checkoption(L, 2, NULL, names) == 0 ? OCB_F_LOCK : OCB_F_GCLOCK;
  int shared = lua_toboolean(L, 3);
  int *fd = lua_newuserdatauv(L, sizeof *fd, 0);
  ocb_err err;
  *fd = -1;
  luaL_setmetatable(L, OCB_FD_T);
  if ((*fd = ocb_store_lock(s, role, shared, &err)) < 0) return ocb_pushfail(L, &err);
  return 1;
}

/* lock:try_exclusive() -> true | false: makes a shared flock exclusive
 * when nobody else holds it; false leaves the lock released or shared. */
int ocb_l_fd_try_exclusive(lua_State *L) {
  int *fd = luaL_checkudata(L, 1, OCB_FD_T);
  luaL_argcheck(L, *fd >= 0, 1, "lock closed");
  lua_pushboolean(L, flock(*fd, LOCK_EX | LOCK_NB) == 0);
  return 1;
}

int ocb_l_fd_close(lua_State *L) {
  int *fd = luaL_checkudata(L, 1, OCB_FD_T);
  if (*fd >= 0) close(*fd); /* closing releases the flock */
  *fd = -1;
  return 0;
}

/* store:blob_path(digest) -> path | nil, msg, "BADDIGEST" */
int ocb_l_store_blob_path(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  size_t len;
  const char *digest = luaL_checklstring(L, 2, &len);
  ocb_err err;
  char *p = ocb_store_blob_path(s, digest, len, &err);
  if (!p) return ocb_pushfail(L, &err);
  lua_pushstring(L, p);
  free(p);
  return 1;
}

typedef struct {
  lua_State *L;
  luaL_Buffer *b;
} Collect;

static int collect(void *ud, const void *buf, size_t len, ocb_err *err) {
  Collect *c = ud;
  (void)err;
  luaL_addlstring(c->b, buf, len);
  return 0;
}

/* Opens a blob and checks it (size when given, then all its bytes);
 * with a buffer, keeps them. */
static int check_blob(lua_State *L, ocb_store *s, int with_bytes, lua_Integer size, lua_Integer max,
                      ocb_err *err) {
  size_t dlen;
  const char *digest = luaL_checklstring(L, 2, &dlen);
  char *path = ocb_store_blob_path(s, digest, dlen, err);
  struct stat st;
  luaL_Buffer b;
  Collect c;
  int fd, r;
  if (!path) return -1;
  lua_pushstring(L, path); /* the message's name for it, freed with the stack */
  free(path);
  path = (char *)lua_tostring(L, -1);
  if ((fd = ocb_blob_open(s, digest, dlen, err)) < 0) return -1;
  if (with_bytes && fstat(fd, &st) == 0 && st.st_size > max) {
    close(fd);
    return ocb_errf(err, "TOOBIG", "blob larger than %lld bytes: %s", (long long)max, path);
  }
  if (with_bytes) luaL_buffinit(L, &b);
  c.L = L, c.b = &b;
  r = ocb_blob_verify_fd(fd, digest, size, path, with_bytes ? collect : NULL, &c, err);
  close(fd);
  if (r == 0 && with_bytes) luaL_pushresult(&b);
  return r;
}

/* store:blob_read(digest [, max=64 MiB]) -> bytes (verified) | nil, msg, code */
int ocb_l_store_blob_read(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  lua_Integer max = luaL_optinteger(L, 3, 64 << 20);
  ocb_err err;
  lua_settop(L, 3);
  if (check_blob(L, s, 1, -1, max, &err) < 0) return ocb_pushfail(L, &err);
  return 1;
}

/* store:blob_verify(digest [, size]) -> true | nil, msg, code */
int ocb_l_store_blob_verify(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  lua_Integer size = luaL_optinteger(L, 3, -1);
  ocb_err err;
  if (check_blob(L, s, 0, size, 0, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:blobs() -> {digest = size, ...}, {names that are not digests}
 * | nil, msg, code */
int ocb_l_store_blobs(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  char *p = ocb_store_path(s, OCB_F_BLOBS);
  const char *dir;
  DIR **d;
  struct dirent *de;
  lua_Integer odd = 0;
  ocb_err err;
  if (!p) return luaL_error(L, "not enough memory");
  lua_pushstring(L, p);
  free(p);
  dir = lua_tostring(L, -1);
  d = lua_newuserdatauv(L, sizeof *d, 0); /* closes the DIR if a push raises */
  *d = NULL;
  luaL_setmetatable(L, OCB_DIR_T);
  lua_newtable(L);
  lua_newtable(L);
  if (!(*d = opendir(dir))) {
    ocb_errno(&err, errno, dir);
    return ocb_pushfail(L, &err);
  }
  for (;;) {
    char digest[OCB_DIGEST_BUF];
    struct stat st;
    errno = 0;
    if (!(de = readdir(*d))) break;
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    memcpy(digest, "sha256:", 7);
    if (strlen(de->d_name) == 64) memcpy(digest + 7, de->d_name, 65);
    if (strlen(de->d_name) != 64 || !ocb_digest_valid(digest, OCB_DIGEST_LEN) ||
        fstatat(dirfd(*d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      lua_pushstring(L, de->d_name);
      lua_rawseti(L, -2, ++odd);
      continue;
    }
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_setfield(L, -3, digest);
  }
  if (errno) {
    ocb_errno(&err, errno, dir);
    return ocb_pushfail(L, &err);
  }
  closedir(*d);
  *d = NULL;
  return 2;
}

/* store:remove_blob(digest) -> true | nil, msg, code */
int ocb_l_store_remove_blob(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  size_t len;
  const char *digest = luaL_checklstring(L, 2, &len);
  ocb_err err;
  char *p = ocb_store_blob_path(s, digest, len, &err);
  int r;
  if (!p) return ocb_pushfail(L, &err);
  r = unlink(p) < 0 ? ocb_errno(&err, errno, p) : 0;
  free(p);
  if (r < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:gc_temps([dry]) -> removed count, bytes | nil, msg, code */
int ocb_l_store_gc_temps(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  uint64_t n, bytes;
  ocb_err err;
  if (ocb_store_gc_temps(s, lua_toboolean(L, 2), &n, &bytes, &err) < 0)
    return ocb_pushfail(L, &err);
  lua_pushinteger(L, (lua_Integer)n);
  lua_pushinteger(L, (lua_Integer)bytes);
  return 2;
}

/* store:prune_reuse([all]) -> records, states | nil, msg, code: the reuse
 * records and layer states whose blob is gone (all: every one) removed. */
int ocb_l_store_prune_reuse(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  uint64_t records, states = 0;
  ocb_err err;
  if (ocb_reuse_prune(s, lua_toboolean(L, 2), &records, &err) < 0 ||
      ocb_lstate_prune(s, lua_toboolean(L, 2), &states, &err) < 0)
    return ocb_pushfail(L, &err);
  lua_pushinteger(L, (lua_Integer)records);
  lua_pushinteger(L, (lua_Integer)states);
  return 2;
}

/* store:temp_dir(prefix) -> path, lock | nil, msg, code: a new folder in
 * the store's temp folder, held by lock (an Fd: close it to let go), which
 * prune removes with all it holds once nobody holds it. */
int ocb_l_store_temp_dir(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  const char *prefix = luaL_checkstring(L, 2);
  char *tmp, *path = NULL;
  int *fd;
  ocb_err err;
  luaL_argcheck(L, !strchr(prefix, '/') && prefix[0] != '.', 2, "a name prefix expected");
  fd = lua_newuserdatauv(L, sizeof *fd, 0);
  *fd = -1;
  luaL_setmetatable(L, OCB_FD_T);
  if (!(tmp = ocb_store_path(s, OCB_F_TMP))) return luaL_error(L, "out of memory");
  *fd = ocb_adir_open(tmp, prefix, &path, &err);
  free(tmp);
  if (*fd < 0) return ocb_pushfail(L, &err);
  lua_pushstring(L, path);
  free(path);
  lua_insert(L, -2);
  return 2;
}

/* store:remove_temp(path) -> true | nil, msg, code: a folder or file of
 * the store's temp folder removed with all it holds (links not followed). */
int ocb_l_store_remove_temp(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  const char *path = luaL_checkstring(L, 2), *name;
  char *tmp = ocb_store_path(s, OCB_F_TMP);
  uint64_t files = 0, bytes = 0;
  size_t n;
  int at, r;
  ocb_err err;
  if (!tmp) return luaL_error(L, "out of memory");
  n = strlen(tmp);
  name = path + n + 1;
  if (strncmp(path, tmp, n) != 0 || path[n] != '/' || !*name || strchr(name, '/') || *name == '.') {
    free(tmp);
    return luaL_argerror(L, 2, "a path in the store's temp folder expected");
  }
  at = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(tmp);
  ocb_adir_done(path);
  r = at < 0 ? -1 : ocb_rmtree(at, name, &files, &bytes);
  if (r < 0) ocb_errno(&err, errno, path);
  if (at >= 0) close(at);
  if (r < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:reuse_record(codec, digest) -> {diff_id=, tar_size=, blob=, size=,
 * head=, blocks={{id, tend, oend, crc, ocrc}...}} | nil: the blocks of the
 * store's blob digest (made by codec) as its reuse record says, when the
 * record is usable (its blob untouched since). */
int ocb_l_store_reuse_record(lua_State *L) {
  ocb_reuse r;
  ocb_prior p;
  ocb_reuse_input in;
  size_t dlen;
  const char *digest;
  uint64_t i;
  char hex[OCB_DIGEST_BUF];
  r.store = ocb_checkstore(L, 1);
  ocb_codec_key(ocb_checkcodec(L, 2), r.key, sizeof r.key);
  digest = luaL_checklstring(L, 3, &dlen);
  if (!ocb_digest_valid(digest, dlen) || !ocb_reuse_read(&r, digest, &p, &in)) {
    lua_pushnil(L);
    return 1;
  }
  close(p.fd), p.fd = -1; /* only its blocks are wanted */
  lua_createtable(L, 0, 6);
  lua_pushstring(L, in.diff_id);
  lua_setfield(L, -2, "diff_id");
  lua_pushinteger(L, (lua_Integer)in.size);
  lua_setfield(L, -2, "tar_size");
  lua_pushstring(L, p.blob);
  lua_setfield(L, -2, "blob");
  lua_pushinteger(L, (lua_Integer)p.size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)p.b.ohead);
  lua_setfield(L, -2, "head");
  lua_createtable(L, (int)p.b.n, 0);
  for (i = 0; i < p.b.n; i++) {
    const ocb_block *k = &p.b.v[i];
    lua_createtable(L, 5, 0);
    ocb_digest_hex(k->id, hex);
    lua_pushstring(L, hex + 7);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, (lua_Integer)k->tend);
    lua_rawseti(L, -2, 2);
    lua_pushinteger(L, (lua_Integer)k->oend);
    lua_rawseti(L, -2, 3);
    lua_pushinteger(L, (lua_Integer)k->crc);
    lua_rawseti(L, -2, 4);
    lua_pushinteger(L, (lua_Integer)k->ocrc);
    lua_rawseti(L, -2, 5);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "blocks");
  ocb_prior_free(&p);
  return 1;
}

/* store:copy_blob(from, digest, size) -> true | nil, msg, code: the blob
 * of the store `from`, copied into this one and verified on the way (a
 * blob whose bytes are not its digest never appears here). */
int ocb_l_store_copy_blob(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1), *from = ocb_checkstore(L, 2);
  size_t dlen;
  const char *digest = luaL_checklstring(L, 3, &dlen);
  lua_Integer size = luaL_checkinteger(L, 4);
  char got[OCB_DIGEST_BUF];
  uint64_t n;
  ocb_blobw *b;
  ocb_err err;
  int *fd;
  fd = lua_newuserdatauv(L, sizeof *fd, 0); /* closed with the stack if a call raises */
  *fd = -1;
  luaL_setmetatable(L, OCB_FD_T);
  b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  b->f.fd = -1;
  luaL_setmetatable(L, OCB_BLOBW_T);
  if ((*fd = ocb_blob_open(from, digest, dlen, &err)) < 0 || ocb_blobw_open(b, s, &err) < 0 ||
      ocb_blob_verify_fd(*fd, digest, size, digest, ocb_blobw_write, b, &err) < 0 ||
      ocb_blobw_commit(b, digest, got, &n, &err) < 0) {
    ocb_blobw_abort(b); /* now, not whenever the collector runs */
    return ocb_pushfail(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* store:blob_writer() -> writer | nil, msg, code; writer:write(s) ->
 * writer; writer:close() -> digest, size (published). */
int ocb_l_store_blob_writer(lua_State *L) {
  ocb_store *s = ocb_checkstore(L, 1);
  ocb_blobw *b = lua_newuserdatauv(L, sizeof *b, 0);
  ocb_err err;
  memset(b, 0, sizeof *b);
  b->f.fd = -1;
  luaL_setmetatable(L, OCB_BLOBW_T);
  if (ocb_blobw_open(b, s, &err) < 0) return ocb_pushfail(L, &err);
  return 1;
}

static ocb_blobw *check_blobw(lua_State *L) {
  ocb_blobw *b = luaL_checkudata(L, 1, OCB_BLOBW_T);
  luaL_argcheck(L, b->h != NULL, 1, "blob writer closed");
  return b;
}

int ocb_l_blobw_write(lua_State *L) {
  ocb_blobw *b = check_blobw(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ocb_err err;
  if (ocb_blobw_write(b, s, len, &err) < 0) return ocb_pushfail(L, &err);
  lua_settop(L, 1);
  return 1;
}

int ocb_l_blobw_close(lua_State *L) {
  ocb_blobw *b = check_blobw(L);
  char digest[OCB_DIGEST_BUF];
  uint64_t size;
  ocb_err err;
  if (ocb_blobw_commit(b, NULL, digest, &size, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushstring(L, digest);
  lua_pushinteger(L, (lua_Integer)size);
  lua_pushboolean(L, b->created);
  return 3;
}

int ocb_l_blobw_gc(lua_State *L) {
  ocb_blobw_abort(luaL_checkudata(L, 1, OCB_BLOBW_T));
  return 0;
}
