/*
 * ocb.h: what the C files of ocibuild's core share: the error record every
 * primitive fills, the byte-sink interface the stream stages chain through,
 * and the registration hooks core.c calls. Shared symbols start with ocb_.
 */
#ifndef OCB_H
#define OCB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>

/* A failure of the environment, as Lua will see it: nil, msg, code. */
typedef struct ocb_err {
  char code[24];  /* "ENOENT", "EACCES", "CHANGED", ... */
  char msg[1024]; /* "ENOENT: No such file or directory: site/x" */
} ocb_err;

/* Fill err from an errno value: "<CODE>: <strerror>: <what>". Returns -1. */
int ocb_errno(ocb_err *err, int errnum, const char *what);
/* Fill err with a code and a printf-style message. Returns -1. */
int ocb_errf(ocb_err *err, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Push nil, msg, code and return 3 (for `return ocb_pushfail(L, &err)`). */
int ocb_pushfail(lua_State *L, const ocb_err *err);
/* Quote a path for a message: control bytes and invalid UTF-8 escaped as
 * \xNN, the whole truncated to fit out. */
void ocb_quote(char *out, size_t outlen, const char *s, size_t len);
/* 1 when s[0..len) is valid UTF-8 without NUL bytes. */
int ocb_utf8_valid(const char *s, size_t len);

/* A byte sink: one stage of a stream. write returns 0 or -1 with err set. */
typedef struct ocb_sink ocb_sink;
struct ocb_sink {
  int (*write)(ocb_sink *s, const void *buf, size_t len, ocb_err *err);
};

/* SHA-256 over a stream (OpenSSL EVP). */
typedef struct ocb_sha256 ocb_sha256;
ocb_sha256 *ocb_sha256_new(void);
void ocb_sha256_update(ocb_sha256 *h, const void *buf, size_t len);
/* Writes "sha256:<64 hex>" (72 bytes incl. NUL) into out; resets nothing. */
void ocb_sha256_final(ocb_sha256 *h, char out[72]);
void ocb_sha256_free(ocb_sha256 *h);

/*
 * Exclusion matcher (match.c): Docker's .dockerignore semantics, as
 * moby/patternmatcher implements them. Patterns are the strings Docker's
 * reader yields (cleaned, exceptions prefixed with '!'); every pattern is
 * checked and compiled up front, and matching never allocates.
 */
typedef struct ocb_matcher ocb_matcher;
/* NULL on a bad pattern: err names it, *bad is its index in pats. */
ocb_matcher *ocb_matcher_new(const char *const *pats, const size_t *lens, size_t n, size_t *bad,
                             ocb_err *err);
void ocb_matcher_free(ocb_matcher *m);
/* Bytes of the per-directory state ocb_matcher_walk reads and writes. */
size_t ocb_matcher_state_size(const ocb_matcher *m);
/* MatchesUsingParentResults: parent is the state of the parent directory, or
 * NULL for a top-level path. Fills out (state_size bytes). Returns 1 when path
 * is excluded; *why is the index (in pats) of the deciding pattern, or -1. */
int ocb_matcher_walk(const ocb_matcher *m, const char *path, size_t len,
                     const unsigned char *parent, unsigned char *out, int *why);
/* MatchesOrParentMatches: the per-path answer, parents included. */
int ocb_matcher_path(const ocb_matcher *m, const char *path, size_t len, int *why);
/* For an excluded directory: 1 when an exception could re-include something
 * below it, so the walk must go in (tonistiigi/fsutil's rule). */
int ocb_matcher_descend(const ocb_matcher *m, const char *dir, size_t len);
/* The matcher held by the userdata at idx ("ocibuild.Matcher"), NULL for nil. */
ocb_matcher *ocb_check_matcher(lua_State *L, int idx);

/*
 * Walk (walk.c): depth first, each directory's entries in byte order, lstat
 * metadata, symlinks never followed, exclusions applied as BuildKit's
 * context transfer applies them. Excluded subtrees are not read unless an
 * exception could match below them.
 */
typedef struct ocb_walk ocb_walk;
typedef struct ocb_entry {
  const char *path; /* relative to the root, no leading or trailing '/' */
  size_t pathlen;
  const char *name; /* last component of path */
  int dirfd;        /* descriptor of the directory holding it, for openat */
  struct stat *st;  /* lstat of the entry */
  int excluded;     /* only with OCB_WALK_EXCLUDED: 1 for an excluded path */
  int why;          /* deciding pattern index, or -1 */
} ocb_entry;
enum {
  OCB_WALK_EXCLUDED = 1, /* also report excluded paths (for `ocibuild ls`) */
};
/* The walker owns m only for the walk's duration; m may be NULL. */
ocb_walk *ocb_walk_open(const char *root, const ocb_matcher *m, int flags, ocb_err *err);
/* Leave out the file or directory (dev, ino), whatever the patterns say:
 * the store or an output inside the context must not be read into it. */
int ocb_walk_skip(ocb_walk *w, dev_t dev, ino_t ino);
/* 1: *e filled (valid until the next call); 0: the end; -1: err filled. */
int ocb_walk_next(ocb_walk *w, ocb_entry *e, ocb_err *err);
void ocb_walk_close(ocb_walk *w);

/*
 * Atomic files (afile.c): a temp file, flock'ed while it is written so that
 * `gc` can tell abandoned ones, made visible by fsync + rename + fsync of
 * the directory, or removed.
 */
typedef struct ocb_afile {
  int fd;
  char *tmp;        /* path of the temp file while open */
  uint64_t written; /* bytes written so far */
  uint64_t started; /* bytes whose writeback has been started */
} ocb_afile;
/* Creates a temp file in tmpdir named "<prefix>XXXXXX". */
int ocb_afile_open(ocb_afile *f, const char *tmpdir, const char *prefix, ocb_err *err);
int ocb_afile_write(ocb_afile *f, const void *buf, size_t len, ocb_err *err);
/* fsync, rename to dst (replacing it), fsync dst's directory. */
int ocb_afile_commit(ocb_afile *f, const char *dst, ocb_err *err);
/* fsync then publish at dst only if dst does not exist yet (blobs). */
int ocb_afile_commit_new(ocb_afile *f, const char *dst, ocb_err *err);
void ocb_afile_abort(ocb_afile *f);
/* fsync the directory holding path. */
int ocb_fsync_parent(const char *path, ocb_err *err);

/*
 * Blobs (blob.c): bytes hashed as they are written to a temp file in
 * <store>/.ocibuild-tmp, published as <store>/blobs/sha256/<hex>.
 */
typedef struct ocb_blobw {
  ocb_afile f;
  ocb_sha256 *h;
  uint64_t size;
  char *store;
} ocb_blobw;
int ocb_blobw_open(ocb_blobw *b, const char *store, ocb_err *err);
int ocb_blobw_write(void *b, const void *buf, size_t len, ocb_err *err); /* an ocb_out_fn */
/* Publishes the blob; digest gets "sha256:<hex>". */
int ocb_blobw_commit(ocb_blobw *b, char digest[72], uint64_t *size, ocb_err *err);
void ocb_blobw_abort(ocb_blobw *b);
/* 1 when s is "sha256:" followed by 64 lower-case hex digits. */
int ocb_digest_valid(const char *s, size_t len);

/* Output callback for stream stages. */
typedef int (*ocb_out_fn)(void *ud, const void *buf, size_t len, ocb_err *err);

/*
 * Compressors (comp.c, engines in gzip.c and zstd.c): bytes in, compressed
 * bytes out through the callback, in order, on the thread that calls write
 * and finish; `threads` workers compress blocks in between. Output depends
 * only on the input and the settings, never on the thread count.
 */
enum { OCB_COMP_NONE = 0, OCB_COMP_GZIP = 1, OCB_COMP_ZSTD = 2 };
typedef struct ocb_comp ocb_comp;
ocb_comp *ocb_comp_new(int kind, int level, int threads, ocb_out_fn out, void *ud, ocb_err *err);
int ocb_comp_write(ocb_comp *c, const void *buf, size_t len, ocb_err *err);
int ocb_comp_finish(ocb_comp *c, ocb_err *err);
void ocb_comp_free(ocb_comp *c);

/*
 * Tar (tar.c): libarchive's restricted pax format with a fixed header
 * policy, written through an ocb_out_fn, no padding after the two zero
 * blocks that end it.
 */
typedef struct ocb_tar ocb_tar;
typedef struct ocb_tar_policy {
  const char *prefix;  /* joined before every name: "" or "usr/share/site/" */
  const char *display; /* how messages name the context root */
  int64_t mtime;       /* every entry's mtime, or the clamp with keep_mtime */
  int keep_mtime;      /* entries keep their own mtime (whole seconds, >= 0) */
  int clamp;           /* with keep_mtime: mtimes above `mtime` become `mtime` */
  int keep_owner;      /* numeric uid/gid from disk, else uid/gid below */
  uint32_t uid, gid;
  int normalize_mode; /* dirs 0755; files 0755 if any x bit, else 0644 */
} ocb_tar_policy;
ocb_tar *ocb_tar_new(ocb_out_fn out, void *ud, ocb_err *err);
/* Adds one walked entry. Returns 0 when written, 1 when skipped (a socket:
 * the caller warns), -1 on failure. */
int ocb_tar_add_walked(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e, ocb_err *err);
/* Adds a directory entry not backed by a walked one (the dest prefix). */
int ocb_tar_add_dir(ocb_tar *t, const char *name, unsigned mode, int64_t mtime, uint32_t uid,
                    uint32_t gid, ocb_err *err);
int ocb_tar_finish(ocb_tar *t, ocb_err *err);
void ocb_tar_free(ocb_tar *t);

/* Registration of each primitive family (called from core.c). */
void ocb_open_sha256(lua_State *L);
void ocb_open_sys(lua_State *L);
void ocb_open_gzip(lua_State *L);
void ocb_open_walk(lua_State *L);
void ocb_open_match(lua_State *L);
void ocb_open_tar(lua_State *L);
void ocb_open_blob(lua_State *L);
void ocb_open_layout(lua_State *L);
void ocb_open_layer(lua_State *L);

/* Create a metatable named tname with methods, __index, __gc/__close = gc. */
void ocb_createmeta(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc);

#endif
