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
enum { OCB_F_INDEX, OCB_F_LAYOUT, OCB_F_LOCK, OCB_F_GCLOCK, OCB_F_TMP, OCB_F_REUSE, OCB_F_BLOBS };
/* dir/<name of role> into out (malloc'ed), NULL when out of memory. */
char *ocb_store_path(const ocb_store *s, int role);
/* dir/blobs/sha256/<hex>, after checking the digest's form (BADDIGEST). */
char *ocb_store_blob_path(const ocb_store *s, const char *digest, size_t len, ocb_err *err);

/* Replaces index.json or oci-layout with data, atomically. */
int ocb_store_replace(const ocb_store *s, int role, const void *data, size_t len, ocb_err *err);
/* Takes the index lock or the prune lock (shared: many builds, one prune).
 * Returns the locked descriptor (close it to unlock), or -1. Blocks. */
int ocb_store_lock(const ocb_store *s, int role, int shared, ocb_err *err);
/* Removes the temp files nobody holds; *removed counts them. */
int ocb_store_gc_temps(const ocb_store *s, uint64_t *removed, ocb_err *err);

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
 * Reuse records (reuse.c): per codec key, per layer build, the blocks of
 * its tar (see comp.h) and the blob they were written to, so the next
 * build of a layer that starts with the same bytes copies unchanged
 * pieces. A record is a cache: anything odd about one means no reuse.
 */
typedef struct ocb_reuse {
  const ocb_store *store;
  char key[128]; /* the codec key */
} ocb_reuse;
/* An ocb_prior_fn: ud is an ocb_reuse. */
int ocb_reuse_find(void *ud, const unsigned char pd0[32], ocb_prior *prior);
/* Records the blocks of a finished pipeline whose output is blob digest. */
int ocb_reuse_write(const ocb_reuse *r, const ocb_comp *c, const char *digest, uint64_t size,
                    ocb_err *err);
/* Drops the record of the build whose first block hashed to pd0. */
int ocb_reuse_forget(const ocb_reuse *r, const unsigned char pd0[32]);
/* Removes records whose blob is gone (all: every record). */
int ocb_reuse_prune(const ocb_store *s, int all, uint64_t *removed, ocb_err *err);

#endif
