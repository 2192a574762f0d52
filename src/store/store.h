/*
 * store.h: an OCI image layout on disk, as ocibuild keeps it: the only C
 * that knows the layout's paths. Blobs are written through a hashing temp
 * file and published under their digest; small files (index.json,
 * oci-layout) are replaced atomically; flocks order writers; temp files
 * nobody holds are removed; reuse records remember each layer's blocks.
 */
#ifndef OCB_STORE_H
#define OCB_STORE_H

#include <stdint.h>

#include "comp/comp.h"
#include "ocb.h"

typedef struct ocb_store {
  char *dir; /* absolute or as given; every path is dir + "/" + a fixed name */
} ocb_store;

/* Opens the layout at dir. With create, makes the folders it needs (a
 * store's own files are the caller's: Lua writes oci-layout and
 * index.json); without, a dir that is not a layout is ENOENT/ENOTDIR. */
int ocb_store_open(ocb_store *s, const char *dir, int create, ocb_err *err);
void ocb_store_close(ocb_store *s);

/* The file names a store holds at its top, by role. */
enum {
  OCB_F_INDEX,
  OCB_F_LAYOUT,
  OCB_F_LOCK,
  OCB_F_GCLOCK,
  OCB_F_TMP,
  OCB_F_REUSE,
  OCB_F_LAYERS,
  OCB_F_BLOBS,
  OCB_F_NOTES
};
/* dir/<name of role> into out (malloc'ed), NULL when out of memory. */
char *ocb_store_path(const ocb_store *s, int role);
/* dir/blobs/sha256/<hex>, after checking the digest's form (BADDIGEST). */
char *ocb_store_blob_path(const ocb_store *s, const char *digest, size_t len, ocb_err *err);

/* Replaces index.json or oci-layout with data, atomically. */
int ocb_store_replace(const ocb_store *s, int role, const void *data, size_t len, ocb_err *err);
/* Takes the index lock or the prune lock (shared: many builds, one prune).
 * Returns the locked descriptor (close it to unlock), or -1. Blocks. */
int ocb_store_lock(const ocb_store *s, int role, int shared, ocb_err *err);
/* Calls fn(ud, dirfd, name, err) on each entry of the folder `dir` (of
 * the folder open on at, or AT_FDCWD) whose name does not start with '.':
 * fn returns 1 to have the entry removed (counted in *removed), 0 to keep
 * it, -1 to stop with err. A missing folder has no entries; a symlink is
 * not followed. ocb_store_sweep sweeps a folder of the store by role. */
typedef int (*ocb_sweep_fn)(void *ud, int dirfd, const char *name, ocb_err *err);
int ocb_sweep(int at, const char *dir, ocb_sweep_fn fn, void *ud, uint64_t *removed, ocb_err *err);
int ocb_store_sweep(const ocb_store *s, int role, ocb_sweep_fn fn, void *ud, uint64_t *removed,
                    ocb_err *err);
/* Removes the temp files nobody holds (dry: only counts them); *removed
 * counts them, *bytes sums their sizes. */
int ocb_store_gc_temps(const ocb_store *s, int dry, uint64_t *removed, uint64_t *bytes,
                       ocb_err *err);

/*
 * Blobs (blob.c): a writer hashes what it is given while writing it to a
 * flock'ed temp file in the store, then publishes it as blobs/sha256/<hex>.
 */
typedef struct ocb_blobw {
  ocb_afile f;
  ocb_sha256 *h;
  uint64_t size;
  char *blobs; /* the store's blobs/sha256 folder */
  int created; /* after commit: the blob was not in the store before */
} ocb_blobw;
int ocb_blobw_open(ocb_blobw *b, const ocb_store *s, ocb_err *err);
int ocb_blobw_write(void *b, const void *buf, size_t len, ocb_err *err); /* an ocb_out_fn */
/* Leaves a hole of n bytes (an ocb_skip_fn), for an unhashed writer whose
 * caller writes them later, at their offset, through the temp file's path
 * or ocb_blobw_at. */
int ocb_blobw_skip(void *b, uint64_t n, ocb_err *err);
/* Writes n bytes at offset at, inside a hole skip left (an ocb_at_fn):
 * safe beside the writes that go on past it, on another thread. */
int ocb_blobw_at(void *b, const void *buf, size_t n, uint64_t at, ocb_err *err);
/* Appends n bytes of the file open on from, at off (an ocb_copy_fn), for
 * an unhashed writer, sharing its extents (FICLONERANGE) where the file
 * system has them and both offsets fall on its blocks (the last partial
 * block is written): 1; else 0, nothing done. */
int ocb_blobw_copy(void *b, int from, uint64_t off, uint64_t n, ocb_err *err);
/* Before the first write: what is written is hashed by the writer's
 * caller (a codec pipeline hashes its output), whose digest commit's want
 * must then give. */
void ocb_blobw_unhashed(ocb_blobw *b);
/* Publishes the blob; digest gets "sha256:<hex>". With want, bytes that
 * are not that digest fail with BADDIGEST and are never published. */
int ocb_blobw_commit(ocb_blobw *b, const char *want, char digest[OCB_DIGEST_BUF], uint64_t *size,
                     ocb_err *err);
void ocb_blobw_abort(ocb_blobw *b);
/* Opens the blob for reading (O_NOFOLLOW, a regular file), -1 with err. */
int ocb_blob_open(const ocb_store *s, const char *digest, size_t len, ocb_err *err);
/* Reads fd to its end through out (may be NULL), hashing it; fails with
 * BADDIGEST (expected and actual named) when the bytes are not `digest`,
 * BADSIZE when want_size >= 0 and differs. `what` names it in messages. */
int ocb_blob_verify_fd(int fd, const char *digest, int64_t want_size, const char *what,
                       ocb_out_fn out, void *ud, ocb_err *err);

/*
 * Reuse records (reuse.c): per codec key, per layer blob, the blocks of
 * its tar (see comp.h), so that later builds copy the pieces of blocks
 * they know or find to be the same. A record is a cache: anything odd
 * about one means no reuse.
 */
typedef struct ocb_reuse {
  const ocb_store *store;
  char key[128]; /* the codec key */
} ocb_reuse;
/* An ocb_prior_fn (ud is an ocb_reuse): the record of the blob whose first
 * block's input hashed to id0. */
int ocb_reuse_find(void *ud, const unsigned char id0[32], ocb_prior *prior);
/* The record of blob digest: 1 with prior filled when it is usable (the
 * blob's file as recorded), else 0. */
int ocb_reuse_open(const ocb_reuse *r, const char *digest, ocb_prior *prior);
/* The same, with what the record says of the blob's input (its tar). */
typedef struct ocb_reuse_input {
  char diff_id[OCB_DIGEST_BUF];
  uint64_t size;
} ocb_reuse_input;
int ocb_reuse_read(const ocb_reuse *r, const char *digest, ocb_prior *prior,
                   ocb_reuse_input *input);
/* Records the blocks of a finished pipeline whose output is blob digest. */
int ocb_reuse_write(const ocb_reuse *r, const ocb_comp *c, const char *digest, uint64_t size,
                    ocb_err *err);
/* Drops the record of blob digest. */
int ocb_reuse_forget(const ocb_reuse *r, const char *digest);
/* Removes records whose blob is gone (all: every record). */
int ocb_reuse_prune(const ocb_store *s, int all, uint64_t *removed, ocb_err *err);

/*
 * Layer states (lstate.c): what the last build of a layer saw and made,
 * keyed by an id that names everything else its bytes depend on (the
 * caller's: context, policy, exclusions, codec, version). A state is a
 * cache: missing, foreign or damaged, it is ignored.
 */
typedef struct ocb_lstate_head {
  char key[128];             /* the codec key (reuse records are kept per key) */
  char blob[OCB_DIGEST_BUF]; /* the layer's blob (and the reuse record of its blocks) */
  uint64_t blob_size;
  char diff_id[OCB_DIGEST_BUF]; /* and its tar */
  uint64_t tar_size;
  uint64_t since; /* file times at or after this (ns) were read too late to trust */
  uint64_t end;   /* tar offset of the end-of-archive blocks */
  uint64_t n;     /* entries */
} ocb_lstate_head;
typedef struct ocb_lstate_entry {
  const char *path; /* relative to the context, as the walk gives it */
  size_t pathlen;
  uint64_t off;                          /* tar offset of its first header byte */
  uint64_t dev, ino, size, mtime, ctime; /* times in ns */
  uint32_t mode, uid, gid, nlink;
} ocb_lstate_entry;
typedef struct ocb_lstate_reader ocb_lstate_reader;
typedef struct ocb_lstate_writer ocb_lstate_writer;
/* NULL when there is no usable state (its CRC and summary are checked). */
ocb_lstate_reader *ocb_lstate_open(const ocb_store *s, const char *id, ocb_lstate_head *h);
/* 1: *e filled (its path valid until the next call); 0: the end; -1: damaged. */
int ocb_lstate_next(ocb_lstate_reader *r, ocb_lstate_entry *e);
/* Another reader of the same state, from its first entry; NULL on failure. */
ocb_lstate_reader *ocb_lstate_again(const ocb_lstate_reader *r);
void ocb_lstate_close(ocb_lstate_reader *r);
ocb_lstate_writer *ocb_lstate_create(const ocb_store *s, const char *id, ocb_err *err);
int ocb_lstate_add(ocb_lstate_writer *w, const ocb_lstate_entry *e, ocb_err *err);
/* Publishes the state (atomically) with h as its summary; frees w, and
 * on failure drops its temp file. */
int ocb_lstate_commit(ocb_lstate_writer *w, const ocb_lstate_head *h, ocb_err *err);
void ocb_lstate_abort(ocb_lstate_writer *w);
int ocb_lstate_forget(const ocb_store *s, const char *id);
/* Removes states whose blob is gone (all: every state); adds to *removed. */
int ocb_lstate_prune(const ocb_store *s, int all, uint64_t *removed, ocb_err *err);

/*
 * Notes (note.c): what was learnt from a blob at some cost (a base layer's
 * entries), by kind (a lower-case word) and digest; a cache.
 */
/* The note, open for reading, or -1 (ENOENT when there is none). */
int ocb_note_open(const ocb_store *s, const char *kind, const char *digest, ocb_err *err);
/* Writes the note whole (temp file, rename), replacing an older one. */
int ocb_note_write(const ocb_store *s, const char *kind, const char *digest, const void *data,
                   size_t len, ocb_err *err);
/* Removes the notes whose blob is gone. */
int ocb_note_prune(const ocb_store *s, uint64_t *removed, ocb_err *err);

#endif
