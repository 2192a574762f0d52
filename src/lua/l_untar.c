/*
 * l_untar.c: core.tar_reader(path | "-" | store, digest) -> reader over a
 * tar (plain, gzip or zstd; core.tar_reader(path, {any = true}) also reads
 * bzip2 and xz); reader:next() -> entry | nil at the end |
 * nil, msg, code, with entry {name=, type=, mode=, uid=, gid=, mtime=,
 * size=, target=, devmajor=, devminor=}; reader:read([max [, prefix]])
 * -> the current entry's body (with prefix, its first max bytes, and true
 * when there was more); reader:sha256() -> digest of the body; reader:to_blob(store
 * [, digest, size]) -> digest, size: the body as a store blob, checked
 * against digest and size when given; reader:to_file(path) -> size: the
 * body as a new file (0600, never over an existing one; removed when the
 * write fails; a sparse entry's trailing hole stays a hole);
 * reader:finish() -> digest, size of the whole raw input, and the digest
 * of the tar stream it held (a layer's diff_id). Names are returned as
 * stored: callers check them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lcore.h"

typedef struct {
  ocb_untar *u;
  int done;     /* the end was reached */
  int64_t size; /* the current entry's declared size */
} LUntar;

static LUntar *check_reader(lua_State *L) {
  LUntar *r = luaL_checkudata(L, 1, OCB_TARR_T);
  luaL_argcheck(L, r->u != NULL, 1, "tar reader closed");
  return r;
}

int ocb_l_tar_reader(lua_State *L) {
  LUntar *r;
  ocb_err err;
  const char *what;
  int fd, any = 0;
  if (lua_type(L, 1) == LUA_TSTRING && lua_istable(L, 2)) {
    static const char *const keys[] = {"any", NULL};
    ocb_opt_known(L, 2, keys);
    any = ocb_opt_bool(L, 2, "any", 0);
  }
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *path = lua_tostring(L, 1);
    what = strcmp(path, "-") == 0 ? "standard input" : path;
    fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && strcmp(path, "-") != 0) fcntl(fd, F_SETFL, 0); /* blocking reads once open */
    if (fd < 0) return ocb_pushfail(L, (ocb_errno(&err, errno, what), &err));
  } else {
    ocb_store *s = ocb_checkstore(L, 1);
    size_t dlen;
    const char *digest = luaL_checklstring(L, 2, &dlen);
    what = digest;
    if ((fd = ocb_blob_open(s, digest, dlen, &err)) < 0) return ocb_pushfail(L, &err);
    fcntl(fd, F_SETFL, 0);
  }
  r = lua_newuserdatauv(L, sizeof *r, 0);
  r->u = NULL, r->done = 0;
  luaL_setmetatable(L, OCB_TARR_T);
  if (!(r->u = any ? ocb_untar_open_any(fd, what, &err) : ocb_untar_open(fd, what, &err)))
    return ocb_pushfail(L, &err);
  return 1;
}

static const char *kind_name(const ocb_untar_entry *e) {
  static const char *const names[] = {"dir", "file", "file", "symlink", "hardlink", "fifo"};
  if (e->type >= 0) return names[e->type];
  return ocb_type_name((mode_t)e->filetype);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

int ocb_l_tarr_next(lua_State *L) {
  LUntar *r = check_reader(L);
  ocb_untar_entry e;
  ocb_err err;
  int n;
  if (r->done) return 0;
  if ((n = ocb_untar_next(r->u, &e, &err)) < 0) return ocb_pushfail(L, &err);
  if (n == 0) {
    r->done = 1;
    return 0;
  }
  r->size = (int64_t)e.size;
  lua_createtable(L, 0, 10);
  lua_pushstring(L, e.name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, kind_name(&e));
  lua_setfield(L, -2, "type");
  set_int(L, "mode", e.mode);
  set_int(L, "uid", e.uid);
  set_int(L, "gid", e.gid);
  set_int(L, "mtime", e.mtime);
  set_int(L, "size", e.size);
  if (e.link) {
    lua_pushstring(L, e.link);
    lua_setfield(L, -2, "target");
  }
  if (e.type < 0) {
    set_int(L, "devmajor", e.devmajor);
    set_int(L, "devminor", e.devminor);
  }
  return 1;
}

typedef struct {
  luaL_Buffer *b;
  lua_Integer left;
  int prefix, cut; /* keep the first bytes only; and some were left out */
} Capped;

static int add_capped(void *ud, const void *buf, size_t len, ocb_err *err) {
  Capped *c = ud;
  if ((lua_Integer)len > c->left && c->prefix) {
    c->cut = 1;
    len = (size_t)c->left;
  }
  if ((lua_Integer)len > c->left) return ocb_errf(err, "TOOBIG", "entry larger than allowed");
  c->left -= (lua_Integer)len;
  luaL_addlstring(c->b, buf, len);
  return 0;
}

/* reader:read([max = 4 MiB [, prefix]]) -> body [, cut] | nil, msg, code */
int ocb_l_tarr_read(lua_State *L) {
  LUntar *r = check_reader(L);
  luaL_Buffer b;
  Capped c;
  ocb_err err;
  c.left = luaL_optinteger(L, 2, 4 << 20);
  c.prefix = lua_toboolean(L, 3), c.cut = 0;
  c.b = &b;
  luaL_argcheck(L, c.left >= 0, 2, "max must not be negative");
  luaL_buffinit(L, &b);
  if (ocb_untar_data(r->u, add_capped, &c, &err) < 0) return ocb_pushfail(L, &err);
  luaL_pushresult(&b);
  if (!c.prefix) return 1;
  lua_pushboolean(L, c.cut);
  return 2;
}

static int hash_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  (void)err;
  ocb_sha256_update(ud, buf, len);
  return 0;
}

/* reader:sha256() -> digest, size of the current entry's body */
int ocb_l_tarr_sha256(lua_State *L) {
  LUntar *r = check_reader(L);
  ocb_sha256 **h = lua_newuserdatauv(L, sizeof *h, 0);
  char digest[OCB_DIGEST_BUF];
  ocb_err err;
  *h = NULL;
  luaL_setmetatable(L, OCB_SHA256_T); /* frees the hasher if anything raises */
  if (!(*h = ocb_sha256_new())) return luaL_error(L, "cannot create a SHA-256 context");
  if (ocb_untar_data(r->u, hash_out, *h, &err) < 0) return ocb_pushfail(L, &err);
  ocb_sha256_final(*h, digest);
  lua_pushstring(L, digest);
  return 1;
}

/* reader:to_blob(store [, digest [, size]]) -> digest, size | nil, msg, code */
int ocb_l_tarr_to_blob(lua_State *L) {
  LUntar *r = check_reader(L);
  ocb_store *s = ocb_checkstore(L, 2);
  const char *want = luaL_optstring(L, 3, NULL);
  lua_Integer want_size = luaL_optinteger(L, 4, -1);
  char digest[OCB_DIGEST_BUF];
  uint64_t size;
  ocb_blobw *b = lua_newuserdatauv(L, sizeof *b, 0);
  ocb_err err;
  memset(b, 0, sizeof *b);
  b->f.fd = -1;
  luaL_setmetatable(L, OCB_BLOBW_T);
  if (want && !ocb_digest_valid(want, strlen(want)))
    return ocb_pushfail(L, (ocb_errf(&err, "BADDIGEST", "not a sha256 digest"), &err));
  if (ocb_blobw_open(b, s, &err) < 0 || ocb_untar_data(r->u, ocb_blobw_write, b, &err) < 0) {
    ocb_blobw_abort(b);
    return ocb_pushfail(L, &err);
  }
  if (want_size >= 0 && b->size != (uint64_t)want_size) {
    ocb_errf(&err, "BADSIZE", "expected %lld bytes, got %llu for %s", (long long)want_size,
             (unsigned long long)b->size, want);
    ocb_blobw_abort(b);
    return ocb_pushfail(L, &err);
  }
  if (ocb_blobw_commit(b, want, digest, &size, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushstring(L, digest);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

typedef struct {
  int fd;
  const char *path;
  uint64_t size;
} FileOut;

static int file_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  FileOut *f = ud;
  const char *p = buf;
  while (len) {
    ssize_t n = write(f->fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ocb_errno(err, errno, f->path);
    p += n, len -= (size_t)n, f->size += (uint64_t)n;
  }
  return 0;
}

/* reader:to_file(path) -> size | nil, msg, code */
int ocb_l_tarr_to_file(lua_State *L) {
  LUntar *r = check_reader(L);
  FileOut f;
  ocb_err err;
  int e;
  f.path = luaL_checkstring(L, 2);
  f.size = 0;
  if ((f.fd = open(f.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
    return ocb_pushfail(L, (ocb_errno(&err, errno, f.path), &err));
  if (ocb_untar_data(r->u, file_out, &f, &err) < 0) {
    close(f.fd);
    unlink(f.path);
    return ocb_pushfail(L, &err);
  }
  /* A sparse entry's trailing hole is not read out: it stays a hole. */
  if (r->size > 0 && f.size < (uint64_t)r->size) {
    if (ftruncate(f.fd, (off_t)r->size) < 0) {
      e = errno;
      close(f.fd);
      unlink(f.path);
      return ocb_pushfail(L, (ocb_errno(&err, e, f.path), &err));
    }
    f.size = (uint64_t)r->size;
  }
  if (close(f.fd) < 0) {
    e = errno;
    unlink(f.path);
    return ocb_pushfail(L, (ocb_errno(&err, e, f.path), &err));
  }
  lua_pushinteger(L, (lua_Integer)f.size);
  return 1;
}

/* reader:unpack(dir [, {max_entries=, max_bytes=}]) -> {entries=, bytes=}
 * | nil, msg, code: what is left of the archive unpacked below the
 * folder dir (see unpack.c: BADTAR for an entry refused). */
int ocb_l_tarr_unpack(lua_State *L) {
  static const char *const keys[] = {"max_entries", "max_bytes", NULL};
  LUntar *r = check_reader(L);
  const char *dir = luaL_checkstring(L, 2);
  ocb_unpack_limits lim;
  ocb_unpack_stats st;
  ocb_err err;
  int fd, rc;
  lim.max_entries = 1u << 22, lim.max_bytes = (uint64_t)1 << 40;
  if (!lua_isnoneornil(L, 3)) {
    ocb_opt_known(L, 3, keys);
    lim.max_entries = (uint64_t)ocb_opt_int(L, 3, "max_entries", 1 << 22, 0, LUA_MAXINTEGER);
    lim.max_bytes =
        (uint64_t)ocb_opt_int(L, 3, "max_bytes", (lua_Integer)1 << 40, 0, LUA_MAXINTEGER);
  }
  if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    return ocb_pushfail(L, (ocb_errno(&err, errno, dir), &err));
  rc = ocb_unpack(r->u, fd, &lim, &st, &err);
  close(fd);
  if (rc < 0) return ocb_pushfail(L, &err);
  r->done = 1;
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)st.entries);
  lua_setfield(L, -2, "entries");
  lua_pushinteger(L, (lua_Integer)st.bytes);
  lua_setfield(L, -2, "bytes");
  return 1;
}

/* reader:finish() -> digest, size of the whole input, digest of the tar
 * stream it held (the diff_id of a layer) | nil, msg, code */
int ocb_l_tarr_finish(lua_State *L) {
  LUntar *r = check_reader(L);
  char digest[OCB_DIGEST_BUF], plain[OCB_DIGEST_BUF];
  uint64_t size;
  ocb_err err;
  if (ocb_untar_finish(r->u, digest, &size, plain, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushstring(L, digest);
  lua_pushinteger(L, (lua_Integer)size);
  lua_pushstring(L, plain);
  return 3;
}

int ocb_l_tarr_gc(lua_State *L) {
  LUntar *r = luaL_checkudata(L, 1, OCB_TARR_T);
  ocb_untar_close(r->u);
  r->u = NULL;
  return 0;
}
