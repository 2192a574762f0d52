/*
 * ring.h: the pipeline's insides, shared by its two files: ring.c (the
 * ring of blocks, the workers, the caller's writes and cuts) and out.c
 * (the output side: pieces written in order, after the earlier output's
 * leading pieces when a rebuild resumes, or holes for a candidate's).
 */
#ifndef OCB_RING_H
#define OCB_RING_H

#include <pthread.h>

#include "engine.h"

/* A block's input is written by the caller (FRESH), written and known to
 * be a block of the earlier output (KNOWN), or taken from that block's
 * piece (OLD). Its two tasks, compressing (prep) and hashing in order
 * (hash), are each TODO, BUSY or DONE. */
enum { K_FRESH, K_KNOWN, K_OLD };
enum { W_TODO, W_BUSY, W_DONE };

typedef struct ocb_slot {
  unsigned char *in, *out;
  size_t in_len, out_len;
  uint64_t seq;
  int kind, prep, hash;
  int64_t from; /* the earlier output's block whose piece is this one's, or -1 */
  unsigned char id[32];
  int has_id; /* id computed already (the first block, for find) */
  ocb_sha256_state st;
  uint32_t crc, ocrc;
} ocb_slot;

struct ocb_comp {
  const ocb_engine *eng;
  ocb_codec codec;
  ocb_out_fn out;
  void *ud;
  size_t bs, cap, pcap; /* nominal block, most a block holds, piece buffer */

  pthread_mutex_t mu;
  pthread_cond_t work, done;
  pthread_t *threads;
  int nthreads, quit, failed;
  ocb_err werr;
  ocb_slot *ring;
  size_t nslots;
  ocb_slot *cur;      /* being filled by the caller */
  uint64_t submitted; /* blocks handed to the workers */
  uint64_t hashed;    /* blocks hashed, in order */
  uint64_t written;   /* blocks written out, in order */
  int hashing;

  /* Output side (caller thread). */
  int started;
  uint32_t crc; /* of the input */
  uint64_t isize, osize, nreused;
  unsigned char *copy;         /* pieces copied from the earlier output */
  unsigned char *oin, *opiece; /* ocb_comp_old's block */
  void *dec;                   /* and its decompressor */
  int64_t oj;                  /* the block in oin, or -1 */
  size_t olen;

  /* Tracking. */
  int track, flags;
  ocb_sha256 *ih, *oh; /* the input's hash, the output's */
  uint64_t oskip;      /* output bytes the output's hash resumed after */
  ocb_prior_fn find;
  void *find_ud;
  int ready;      /* the earlier output is known, or none will be */
  ocb_blocks now; /* this input's */
  ocb_prior old;  /* the earlier output */
  int matching;   /* every block so far is the earlier output's, in place */

  /* A candidate's blocks leave holes (see ocb_comp_holes). */
  int deferred;            /* old is a candidate: no blob to copy pieces from */
  ocb_skip_fn skip;        /* how the output leaves a hole, or NULL: no candidates */
  ocb_copy_fn clone;       /* how the output shares a file's extents, or NULL */
  ocb_skip_fn behind_skip; /* with behind_at: the leading pieces copied behind */
  ocb_at_fn behind_at;
  ocb_lead *lead;  /* copying them, until finish */
  ocb_hole *holes; /* in output order */
  uint64_t nholes, caph;
  ocb_sha256_state of;         /* the output's hash state before the first hole */
  char filled[OCB_DIGEST_BUF]; /* once they are filled: the output's digest */
};

/* out.c: bytes handed to the output, counted and hashed (an ocb_out_fn);
 * the first bytes out, up to the end of the earlier output's block k - 1
 * when the blocks before k are its own; one finished block written. */
int ocb_ring_put(void *ud, const void *buf, size_t n, ocb_err *err);
int ocb_ring_start(ocb_comp *c, uint64_t k, ocb_err *err);
int ocb_ring_emit(ocb_comp *c, ocb_slot *s, ocb_err *err);

#endif
