/*
 * ocb.h: what every C file of ocibuild's core shares: the error record each
 * primitive fills, the byte-stream contract stages chain through, digest
 * sizes, SHA-256 and atomic files. No Lua here: engines know nothing of
 * Lua; the bindings in src/lua/ turn these into Lua values.
 */
#ifndef OCB_H
#define OCB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* A failure of the environment, as Lua will see it: nil, msg, code. */
typedef struct ocb_err {
  char code[24];  /* "ENOENT", "EACCES", "CHANGED", ... */
  char msg[1280]; /* "ENOENT: No such file or directory: site/x" */
} ocb_err;

/* Fill err from an errno value: "<ENAME>: <strerror>: <what>", what quoted
 * (ocb_quote). Returns -1. */
int ocb_errno(ocb_err *err, int errnum, const char *what);
/* Fill err with a code and a printf-style message, which gets the code
 * in front ("<CODE>: <message>"). Returns -1. */
int ocb_errf(ocb_err *err, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Like ocb_errf, without the code in front: for the one message Lua shows
 * inside its own (a .dockerignore's "FILE:LINE: bad pattern ..."). */
int ocb_errf_bare(ocb_err *err, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The errno's own name ("ENOENT", "EOVERFLOW", ...), "E<number>" if unknown. */
const char *ocb_errno_name(int errnum, char buf[16]);
/* Like ocb_errno, for a name quoted already (ocb_quote). */
int ocb_errno_q(ocb_err *err, int errnum, const char *quoted);
/* Quote a name for a message, on one line: control bytes, DEL, C1 controls
 * and invalid UTF-8 as \xNN, '\' doubled. What does not fit in out keeps its start and
 * its end (where a path names its file) around "...". */
void ocb_quote(char *out, size_t outlen, const char *s, size_t len);
/* ocb_quote of dir + "/" + rel. */
void ocb_quote_path(char *out, size_t outlen, const char *dir, const char *rel, size_t rellen);
/* 1 when s[0..len) is valid UTF-8 without NUL bytes. */
int ocb_utf8_valid(const char *s, size_t len);

/* The stream contract: a stage hands its output to the next one through
 * an ocb_out_fn, which returns 0 or -1 with err filled. */
typedef int (*ocb_out_fn)(void *ud, const void *buf, size_t len, ocb_err *err);

/* "sha256:" + 64 hex digits + NUL. */
#define OCB_DIGEST_LEN 71
#define OCB_DIGEST_BUF 72
/* 1 when s is "sha256:" followed by 64 lower-case hex digits: the only
 * strings that ever become blob paths. */
int ocb_digest_valid(const char *s, size_t len);
/* "sha256:<hex>" of 32 raw bytes. */
void ocb_digest_hex(const unsigned char raw[32], char out[OCB_DIGEST_BUF]);

/* SHA-256 over a stream (OpenSSL EVP). */
typedef struct ocb_sha256 ocb_sha256;
ocb_sha256 *ocb_sha256_new(void);
void ocb_sha256_update(ocb_sha256 *h, const void *buf, size_t len);
/* Writes "sha256:<64 hex>" into out; the hasher cannot be updated after. */
void ocb_sha256_final(ocb_sha256 *h, char out[OCB_DIGEST_BUF]);
void ocb_sha256_free(ocb_sha256 *h);
/* The raw SHA-256 of buf[0..len), at once. */
void ocb_sha256_digest(const void *buf, size_t len, unsigned char out[32]);
/* The raw digest of what was hashed so far; the hasher goes on. */
void ocb_sha256_peek(const ocb_sha256 *h, unsigned char out[32]);
/* The state after a multiple of 64 bytes, to resume from later. */
typedef struct ocb_sha256_state {
  uint32_t h[8];
  uint64_t bytes;
} ocb_sha256_state;
/* -1 when the bytes hashed are not a multiple of 64. */
int ocb_sha256_save(const ocb_sha256 *h, ocb_sha256_state *st);
/* The state after the last multiple of 64 bytes hashed (the rest waits in
 * the hasher's buffer), to resume from there. */
void ocb_sha256_save_floor(const ocb_sha256 *h, ocb_sha256_state *st);
/* A hasher that goes on from st, as if its bytes had been hashed again. */
ocb_sha256 *ocb_sha256_resume(const ocb_sha256_state *st);

/*
 * Atomic files (afile.c): a temp file, flock'ed while it is written so that
 * `prune` can tell abandoned ones, made visible by fsync + rename + fsync
 * of the directory, or removed.
 */
typedef struct ocb_afile {
  int fd;
  char *tmp;        /* path of the temp file while open */
  uint64_t written; /* bytes written so far */
  uint64_t started; /* bytes whose writeback has been started */
  void *reg;        /* its entry in the process's temp file registry */
} ocb_afile;
/* Creates a temp file in tmpdir named "<prefix>XXXXXX", after removing the
 * abandoned temps of that prefix there (see ocb_afile_sweep). */
int ocb_afile_open(ocb_afile *f, const char *tmpdir, const char *prefix, ocb_err *err);
/* What a sweep found: with dry set, it only counts. */
typedef struct ocb_swept {
  int dry;
  uint64_t files, bytes;
} ocb_swept;
/* Removes the temp files "<prefix>*" in dir whose writer is gone (their
 * flock is free); out (may be NULL) counts them. Skips the sweep when a
 * temp is being created there at that moment. */
int ocb_afile_sweep(const char *dir, const char *prefix, ocb_swept *out, ocb_err *err);
/* Handlers for SIGHUP, SIGINT, SIGTERM, SIGPIPE and SIGXFSZ that remove the
 * process's temp files, then let the signal do what it would have done.
 * A signal ignored is left ignored; with only_default, a signal that
 * already has a handler (a host program's) is left to it. */
void ocb_signals_install(int only_default);
/* Removes the process's temp files now (what the signal handlers do). */
void ocb_temps_remove(void);

/* A watch over the calling thread (stall.c): when it burns more than
 * limit seconds of CPU with no ocb_stall_beat and no hold between, the
 * watcher writes "ocibuild: " and say(ud, limit) on stderr, removes the
 * temp files and ends the process with status 1. NULL when no thread. */
typedef const char *(*ocb_stall_say)(void *ud, double limit);
typedef struct ocb_stall ocb_stall;
ocb_stall *ocb_stall_start(double limit, ocb_stall_say say, void *ud);
void ocb_stall_beat(ocb_stall *s);
void ocb_stall_hold(ocb_stall *s, int held); /* 1: not watched until 0 */
void ocb_stall_stop(ocb_stall *s);
int ocb_afile_write(ocb_afile *f, const void *buf, size_t len, ocb_err *err);
/* Writes at offset at, below what was written (a hole), from any thread;
 * its writeback starts as ocb_afile_write's does. */
int ocb_afile_pwrite(ocb_afile *f, const void *buf, size_t len, uint64_t at, ocb_err *err);
/* fsync, rename to dst (replacing it), fsync dst's directory. */
int ocb_afile_commit(ocb_afile *f, const char *dst, ocb_err *err);
void ocb_afile_abort(ocb_afile *f);
/* A temp folder in tmpdir, "<prefix>XXXXXX" (*path, malloc'ed), flock'ed,
 * after removing the abandoned folders and files of that prefix there (a
 * killed maker's): its descriptor (close it to unlock), or -1. A sweep
 * (ocb_afile_sweep) removes it with all it holds once nobody holds its
 * lock. */
int ocb_adir_open(const char *tmpdir, const char *prefix, char **path, ocb_err *err);
/* The folder path of ocb_adir_open is removed by its user: a signal no
 * longer needs to. */
void ocb_adir_done(const char *path);
/* Removes the entry `name` of the folder open on at, and everything below
 * it (links are removed, never followed); counts the files removed and
 * their bytes. 0, or -1 with errno (what could be removed is). */
int ocb_rmtree(int at, const char *name, uint64_t *files, uint64_t *bytes);
/* fsync the directory holding path. */
int ocb_fsync_parent(const char *path, ocb_err *err);
/* mkdir -p; existing directories are fine, anything else in the way is not. */
int ocb_mkdirs(const char *path, mode_t mode, ocb_err *err);

/* One line typed at the terminal fd, not echoed (secret.c), after prompt
 * is written to standard error: into buf (at most cap - 1 bytes,
 * NUL-terminated, the newline dropped), its length in *len. The terminal's
 * settings are restored whatever happens; a signal that stops the read is
 * raised again once they are. */
int ocb_read_secret(int fd, const char *prompt, char *buf, size_t cap, size_t *len, ocb_err *err);

#endif
