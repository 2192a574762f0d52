/*
 * comp.h: codecs. A codec (kind, level, threads) is checked once; a
 * pipeline made from it takes bytes in, cut into blocks (at fixed sizes,
 * or where its caller says), hands compressed bytes to its output callback
 * in order, on the thread that calls write and finish, while worker threads
 * compress blocks in between. Output depends only on the input, the cuts,
 * and the codec's kind and level, never on the threads. A tracked pipeline
 * also hashes its input (the diff_id) and each block, and takes the pieces
 * of an earlier output for blocks it knows or finds to be the same.
 */
#ifndef OCB_COMP_H
#define OCB_COMP_H

#include <stddef.h>
#include <stdint.h>

#include "ocb.h"

enum { OCB_COMP_NONE = 0, OCB_COMP_GZIP = 1, OCB_COMP_ZSTD = 2 };

typedef struct ocb_codec {
  int kind;    /* OCB_COMP_* */
  int level;   /* gzip 1-9, zstd 1-19; ignored for none */
  int threads; /* 1-256 */
} ocb_codec;

/* The kind named "gzip", "zstd" or "none", or -1. */
int ocb_codec_kind(const char *name);
const char *ocb_codec_name(int kind);
/* 0 when the codec's fields are in range, else -1 with err saying which. */
int ocb_codec_check(const ocb_codec *c, ocb_err *err);
/* Names everything the output bytes depend on besides the input, as a
 * file-name-safe key: "gzip-5-libdeflate1.14-b1024k-f3". */
void ocb_codec_key(const ocb_codec *c, char *out, size_t len);
/* Input bytes per block of the codec's engine (the size fixed cuts make). */
size_t ocb_codec_block(const ocb_codec *c);

/* One block of an output: what its input was, and where its piece is. */
typedef struct ocb_block {
  unsigned char id[32]; /* SHA-256 of the block's input */
  ocb_sha256_state st;  /* the input's hash state after the block (bytes 0: none) */
  ocb_sha256_state ost; /* the output's, after the last 64 bytes before the piece's end */
  uint64_t tend;        /* end of the block in the input */
  uint64_t oend;        /* end of its piece in the output */
  uint32_t crc;         /* CRC-32 of the block's input */
  uint32_t ocrc;        /* CRC-32 of its piece */
} ocb_block;

typedef struct ocb_blocks {
  ocb_block *v;
  uint64_t n, cap;
  uint64_t ohead; /* output bytes before the first piece (the stream's header) */
} ocb_blocks;
void ocb_blocks_free(ocb_blocks *b);
/* Appends one block; -1 when out of memory. */
int ocb_blocks_push(ocb_blocks *b, const ocb_block *k);
/* Where block j starts, in the input and in the output. */
uint64_t ocb_blocks_tstart(const ocb_blocks *b, uint64_t j);
uint64_t ocb_blocks_ostart(const ocb_blocks *b, uint64_t j);
/* The block starting at input offset off, or -1. */
int64_t ocb_blocks_starting(const ocb_blocks *b, uint64_t off);
/* The block holding input offset off, or -1 past the end. */
int64_t ocb_blocks_holding(const ocb_blocks *b, uint64_t off);

/* An earlier output that pieces may be copied from: its blocks, and its
 * blob open for reading. The pipeline owns both once it has them. */
typedef struct ocb_prior {
  ocb_blocks b;
  int fd;
  char blob[OCB_DIGEST_BUF];
  uint64_t size;
  uint64_t *tab; /* block ids, hashed: block + 1, or 0 */
  uint64_t ntab;
} ocb_prior;
void ocb_prior_init(ocb_prior *p);
void ocb_prior_free(ocb_prior *p);

/* Called on the thread that writes, with the id of this input's first
 * block, before the block is compressed: returns 1 with *prior filled when
 * an earlier output began with the same block, 2 when a candidate did (an
 * output elsewhere, known by its blocks and blob digest only: fd -1), else
 * 0 (nothing to reuse; never an error: reuse is only a cache). */
typedef int (*ocb_prior_fn)(void *ud, const unsigned char id0[32], ocb_prior *prior);

/* How an output takes n bytes of the file open on fd, from offset off,
 * as if they were written, by sharing the file's extents (a reflink): 1
 * when it did, 0 when it cannot here (nothing done: they are written
 * instead), or -1 with err. */
typedef int (*ocb_copy_fn)(void *ud, int fd, uint64_t off, uint64_t n, ocb_err *err);

/* How an output leaves a hole of n bytes (its bytes come later). */
typedef int (*ocb_skip_fn)(void *ud, uint64_t n, ocb_err *err);

/* How an output writes n bytes at offset at, inside a hole it left
 * through skip; called from another thread than the writes. */
typedef int (*ocb_at_fn)(void *ud, const void *buf, size_t n, uint64_t at, ocb_err *err);

/* A hole of the output: block k's piece, at [at, at + len), is to be the
 * candidate's piece of its block j. */
typedef struct ocb_hole {
  uint64_t k, j, at, len;
} ocb_hole;

typedef struct ocb_comp ocb_comp;
ocb_comp *ocb_comp_new(const ocb_codec *codec, ocb_out_fn out, void *ud, ocb_err *err);

/* Before the first write: hash the input and the output (and, with
 * OCB_TRACK_IDS, each block, for reuse records); with find, look for an earlier output by the
 * id of the first block;
 * with OCB_TRACK_CUTS, blocks end only where ocb_comp_cut says (or, as a
 * last resort, at ocb_comp_block_cap). */
enum { OCB_TRACK_IDS = 1, OCB_TRACK_CUTS = 2 };
int ocb_comp_track(ocb_comp *c, ocb_prior_fn find, void *ud, int flags, ocb_err *err);
/* After track, before the first write: the earlier output to take pieces
 * from (taken over); the input goes on from the end of its block k - 1
 * (k = 0: from the start): the first k blocks are prior's (their pieces
 * copied, checked, when output starts; the hash resumes from their
 * state), and the bytes written are the input from there on. */
int ocb_comp_prior(ocb_comp *c, ocb_prior *prior, uint64_t k, ocb_err *err);
/* The earlier output's blocks (or the candidate's), or NULL; and the
 * earlier output's blob digest, or NULL. */
const ocb_blocks *ocb_comp_prior_blocks(const ocb_comp *c);
const char *ocb_comp_prior_digest(const ocb_comp *c);
/* Before the first write: blocks a candidate has (same input, checked by
 * digest, length and CRC-32) are not compressed: their pieces are left as
 * holes in the output through skip, not hashed. Without it, candidates
 * are ignored. */
void ocb_comp_set_skip(ocb_comp *c, ocb_skip_fn skip);
/* Before the first write: a rebuild that resumes the output's hash has
 * the earlier output's leading pieces shared by copy where it can (then
 * checks them, read from the earlier blob), else writes them. */
void ocb_comp_set_copy(ocb_comp *c, ocb_copy_fn copy);
/* Before the first write: a rebuild that resumes the output's hash and
 * cannot share the earlier output's leading pieces leaves a hole for them
 * (skip) and has them copied, checked, into it (at) on a thread of their
 * own while the rest of the output is written. */
void ocb_comp_set_behind(ocb_comp *c, ocb_skip_fn skip, ocb_at_fn at);
/* After finish: the holes, in output order (*n of them). */
const ocb_hole *ocb_comp_holes(const ocb_comp *c, uint64_t *n);
/* After finish, once the caller wrote the candidate's pieces into the
 * holes of the output, the file open on fd: each piece is checked (its
 * CRC-32 as the candidate says, then decompressed: it must be the block's
 * input, by SHA-256 and CRC-32; BADPIECE when not), on `threads` threads,
 * then the output is hashed from the first hole on (the result's digest,
 * and the blocks' output states). */
int ocb_comp_fill(ocb_comp *c, int fd, int threads, ocb_err *err);
/* Nominal input bytes per block, and the most a cut block may hold. */
size_t ocb_comp_block_size(const ocb_comp *c);
size_t ocb_comp_block_cap(const ocb_comp *c);
int ocb_comp_write(ocb_comp *c, const void *buf, size_t len, ocb_err *err);
/* Ends the block being written (nothing when it is empty). known >= 0:
 * its bytes are known to be the earlier output's block `known` (checked
 * by CRC), whose piece stands in for it. */
int ocb_comp_cut(ocb_comp *c, int64_t known, ocb_err *err);
/* At a cut: the next block is the earlier output's block j, whole; its
 * input is taken from its piece, decompressed and checked. */
int ocb_comp_reuse(ocb_comp *c, uint64_t j, ocb_err *err);
/* The input bytes of the earlier output's block j, decompressed and checked
 * (valid until the next call). */
int ocb_comp_old(ocb_comp *c, uint64_t j, const unsigned char **buf, size_t *len, ocb_err *err);
int ocb_comp_finish(ocb_comp *c, ocb_err *err);
void ocb_comp_free(ocb_comp *c);

typedef struct ocb_comp_result {
  char diff_id[OCB_DIGEST_BUF]; /* "sha256:<hex>" of the input */
  char digest[OCB_DIGEST_BUF];  /* and of the output */
  uint64_t isize;               /* input bytes */
  uint64_t osize;               /* output bytes */
  int whole;                    /* 1: the earlier blob is the result, nothing was written */
  char blob[OCB_DIGEST_BUF];    /* with whole: that blob's digest */
  uint64_t blob_size;           /* with whole: its size */
  uint64_t blocks, reused;      /* blocks in all, and taken from the earlier output */
  uint64_t holes;               /* holes left (then digest is "" until filled) */
} ocb_comp_result;

/* After ocb_comp_finish of a tracked pipeline. */
void ocb_comp_result_get(const ocb_comp *c, ocb_comp_result *r);
/* After ocb_comp_finish of a tracked pipeline: this input's blocks. */
const ocb_blocks *ocb_comp_blocks(const ocb_comp *c);
const ocb_codec *ocb_comp_codec(const ocb_comp *c);

/* inflate.c: raw deflate data (a zip entry's body) expanded into out, at
 * most max bytes (TOOBIG past it; CORRUPT for damaged or cut data). */
int ocb_inflate_raw(const void *in, size_t len, uint64_t max, ocb_out_fn out, void *ud,
                    ocb_err *err);

#endif
