/*
 * blob.c: content-addressed blobs of a layout. A writer hashes what it is
 * given while writing it to a flock'ed temp file in <store>/.ocibuild-tmp,
 * then publishes it as blobs/sha256/<hex>; readers verify size and digest.
 * Digests are validated before they become paths.
 * Lua: core.blob_writer(store), core.blob_read(store, digest), core.blob_verify.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocb.h"

#define TMPDIR_NAME ".ocibuild-tmp"

int ocb_digest_valid(const char *s, size_t len) {
  size_t i;
  if (len != 71 || memcmp(s, "sha256:", 7) != 0) return 0;
  for (i = 7; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

int ocb_blobw_open(ocb_blobw *b, const char *store, ocb_err *err) {
  char *tmpdir;
  int r;
  memset(b, 0, sizeof *b);
  b->f.fd = -1;
  if (!(b->store = strdup(store)) || !(b->h = ocb_sha256_new()) ||
      !(tmpdir = join(store, TMPDIR_NAME))) {
    ocb_blobw_abort(b);
    return ocb_errno(err, ENOMEM, store);
  }
  r = ocb_afile_open(&b->f, tmpdir, "blob-", err);
  free(tmpdir);
  if (r < 0) ocb_blobw_abort(b);
  return r;
}

int ocb_blobw_write(void *ud, const void *buf, size_t len, ocb_err *err) {
  ocb_blobw *b = ud;
  ocb_sha256_update(b->h, buf, len);
  b->size += len;
  return ocb_afile_write(&b->f, buf, len, err);
}

int ocb_blobw_commit(ocb_blobw *b, char digest[72], uint64_t *size, ocb_err *err) {
  char rel[96];
  char *dst;
  int r;
  ocb_sha256_final(b->h, digest);
  *size = b->size;
  snprintf(rel, sizeof rel, "blobs/sha256/%s", digest + 7);
  if (!(dst = join(b->store, rel))) {
    ocb_blobw_abort(b);
    return ocb_errno(err, ENOMEM, b->store);
  }
  r = ocb_afile_commit_new(&b->f, dst, err);
  free(dst);
  ocb_blobw_abort(b);
  return r;
}

void ocb_blobw_abort(ocb_blobw *b) {
  ocb_afile_abort(&b->f);
  ocb_sha256_free(b->h);
  b->h = NULL;
  free(b->store);
  b->store = NULL;
}

/* Opens <store>/blobs/sha256/<hex> after checking the digest's form. */
static int open_blob(const char *store, const char *digest, size_t dlen, char *path, size_t pathlen,
                     ocb_err *err) {
  int fd;
  char q[160];
  if (!ocb_digest_valid(digest, dlen)) {
    ocb_quote(q, sizeof q, digest, dlen);
    return ocb_errf(err, "BADDIGEST", "BADDIGEST: not a sha256 digest: %s", q);
  }
  snprintf(path, pathlen, "%s/blobs/sha256/%s", store, digest + 7);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ocb_errno(err, errno, path);
  return fd;
}

/* Hashes fd to the end; keeps the bytes in a Lua buffer when b is given. */
static int hash_fd(int fd, char digest[72], uint64_t *size, luaL_Buffer *b, const char *path,
                   ocb_err *err) {
  ocb_sha256 *h = ocb_sha256_new();
  static const size_t chunk = 1 << 20;
  char *buf = malloc(chunk);
  int rc = 0;
  *size = 0;
  if (!h || !buf) rc = ocb_errno(err, ENOMEM, path);
  while (rc == 0) {
    ssize_t n = read(fd, buf, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = ocb_errno(err, errno, path);
    if (n <= 0) break;
    ocb_sha256_update(h, buf, (size_t)n);
    if (b) luaL_addlstring(b, buf, (size_t)n);
    *size += (uint64_t)n;
  }
  if (rc == 0) ocb_sha256_final(h, digest);
  ocb_sha256_free(h);
  free(buf);
  return rc;
}

/* core.blob_read(store, digest [, maxsize]) -> bytes | nil, msg, code */
static int l_blob_read(lua_State *L) {
  const char *store = luaL_checkstring(L, 1);
  size_t dlen;
  const char *digest = luaL_checklstring(L, 2, &dlen);
  lua_Integer max = luaL_optinteger(L, 3, 64 << 20);
  char path[4200], got[72];
  uint64_t size;
  struct stat st;
  luaL_Buffer b;
  ocb_err err;
  int fd = open_blob(store, digest, dlen, path, sizeof path, &err), r;
  if (fd < 0) return ocb_pushfail(L, &err);
  if (fstat(fd, &st) == 0 && st.st_size > max) {
    close(fd);
    ocb_errf(&err, "TOOBIG", "TOOBIG: blob larger than %lld bytes: %s", (long long)max, path);
    return ocb_pushfail(L, &err);
  }
  luaL_buffinit(L, &b);
  r = hash_fd(fd, got, &size, &b, path, &err);
  close(fd);
  if (r < 0) return ocb_pushfail(L, &err);
  if (strcmp(got, digest) != 0) {
    ocb_errf(&err, "BADDIGEST", "BADDIGEST: expected %s got %s from %s", digest, got, path);
    return ocb_pushfail(L, &err);
  }
  luaL_pushresult(&b);
  return 1;
}

/* core.blob_verify(store, digest [, size]) -> true | nil, msg, code */
static int l_blob_verify(lua_State *L) {
  const char *store = luaL_checkstring(L, 1);
  size_t dlen;
  const char *digest = luaL_checklstring(L, 2, &dlen);
  lua_Integer want = luaL_optinteger(L, 3, -1);
  char path[4200], got[72];
  uint64_t size;
  struct stat st;
  ocb_err err;
  int fd = open_blob(store, digest, dlen, path, sizeof path, &err), r;
  if (fd < 0) return ocb_pushfail(L, &err);
  if (want >= 0 && fstat(fd, &st) == 0 && st.st_size != want) {
    close(fd);
    ocb_errf(&err, "BADSIZE", "BADSIZE: expected %lld bytes, found %lld: %s", (long long)want,
             (long long)st.st_size, path);
    return ocb_pushfail(L, &err);
  }
  r = hash_fd(fd, got, &size, NULL, path, &err);
  close(fd);
  if (r < 0) return ocb_pushfail(L, &err);
  if (strcmp(got, digest) != 0) {
    ocb_errf(&err, "BADDIGEST", "BADDIGEST: expected %s got %s from %s", digest, got, path);
    return ocb_pushfail(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

#define BLOBW_T "ocibuild.BlobWriter"

static ocb_blobw *check_blobw(lua_State *L) {
  ocb_blobw *b = luaL_checkudata(L, 1, BLOBW_T);
  luaL_argcheck(L, b->h != NULL, 1, "blob writer closed");
  return b;
}

/* core.blob_writer(store) -> writer | nil, msg, code */
static int l_blob_writer(lua_State *L) {
  const char *store = luaL_checkstring(L, 1);
  ocb_blobw *b = lua_newuserdatauv(L, sizeof *b, 0);
  ocb_err err;
  memset(b, 0, sizeof *b);
  b->f.fd = -1;
  luaL_setmetatable(L, BLOBW_T);
  if (ocb_blobw_open(b, store, &err) < 0) return ocb_pushfail(L, &err);
  return 1;
}

static int bw_write(lua_State *L) {
  ocb_blobw *b = check_blobw(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ocb_err err;
  if (ocb_blobw_write(b, s, len, &err) < 0) return ocb_pushfail(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* writer:close() -> digest, size | nil, msg, code */
static int bw_close(lua_State *L) {
  ocb_blobw *b = check_blobw(L);
  char digest[72];
  uint64_t size;
  ocb_err err;
  if (ocb_blobw_commit(b, digest, &size, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushstring(L, digest);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

static int bw_gc(lua_State *L) {
  ocb_blobw_abort(luaL_checkudata(L, 1, BLOBW_T));
  return 0;
}

void ocb_open_blob(lua_State *L) {
  static const luaL_Reg methods[] = {{"close", bw_close}, {"write", bw_write}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"blob_read", l_blob_read},
                                   {"blob_verify", l_blob_verify},
                                   {"blob_writer", l_blob_writer},
                                   {NULL, NULL}};
  ocb_createmeta(L, BLOBW_T, methods, bw_gc);
  luaL_setfuncs(L, funcs, 0);
}
