/*
 * comp.h: codecs. A codec (kind, level, threads) is checked once; a
 * pipeline made from it takes bytes in, hands compressed bytes to its
 * output callback in order, on the thread that calls write and finish,
 * while worker threads compress fixed blocks in between. Output depends
 * only on the input and the codec's kind and level, never on the threads.
 * A tracked pipeline also hashes its input (the diff_id) block by block and
 * can copy the pieces of an earlier output for blocks that did not change.
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
 * file-name-safe key: "gzip-5-libdeflate1.14-b1024k-f2". */
void ocb_codec_key(const ocb_codec *c, char *out, size_t len);

/* Per block of an input: SHA-256 of the input up to the block's end, the
 * end of the block's piece in the output, the CRC-32 of the block's input,
 * and the CRC-32 of the output up to the piece's end (so that copied
 * pieces are checked as they are read back). */
typedef struct ocb_blocks {
  unsigned char (*pd)[32];
  ocb_sha256_state *st; /* the hash state after the block (zero after a short one) */
  uint64_t *end;
  uint32_t *crc, *ocrc;
  uint64_t n;
} ocb_blocks;
void ocb_blocks_free(ocb_blocks *b);

/* An earlier output that pieces may be copied from: its blocks, and its
 * blob open for reading. The pipeline owns both once it has them. */
typedef struct ocb_prior {
  ocb_blocks b;
  int fd;
  char blob[OCB_DIGEST_BUF];
  uint64_t size;
} ocb_prior;

/* Called on a worker with the prefix digest of the first block: returns 1
 * with *prior filled when an earlier output starts with the same block,
 * else 0 (nothing to reuse; never an error: reuse is only a cache). */
typedef int (*ocb_prior_fn)(void *ud, const unsigned char pd0[32], ocb_prior *prior);

typedef struct ocb_comp ocb_comp;
ocb_comp *ocb_comp_new(const ocb_codec *codec, ocb_out_fn out, void *ud, ocb_err *err);
/* Before the first write: hash the input; with find, reuse earlier output. */
int ocb_comp_track(ocb_comp *c, ocb_prior_fn find, void *ud, ocb_err *err);
/* After track, before the first write: the input goes on from the end of
 * block k of prior (0 < k <= its blocks): the first k blocks are prior's
 * (their pieces copied, checked, when output starts; the hash resumes from
 * their state), and the bytes written are the input from k * block size
 * on. Takes prior over. */
int ocb_comp_resume(ocb_comp *c, ocb_prior *prior, uint64_t k, ocb_err *err);
/* Input bytes per block of the codec's engine. */
size_t ocb_comp_block_size(const ocb_comp *c);
int ocb_comp_write(ocb_comp *c, const void *buf, size_t len, ocb_err *err);
int ocb_comp_finish(ocb_comp *c, ocb_err *err);
void ocb_comp_free(ocb_comp *c);

typedef struct ocb_comp_result {
  char diff_id[OCB_DIGEST_BUF]; /* "sha256:<hex>" of the input */
  uint64_t isize;               /* input bytes */
  uint64_t osize;               /* output bytes */
  int whole;                    /* 1: the earlier blob is the result, nothing was written */
  char blob[OCB_DIGEST_BUF];    /* with whole: that blob's digest */
  uint64_t blob_size;           /* with whole: its size */
  uint64_t blocks, reused;      /* blocks in all, and taken from the earlier output */
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
