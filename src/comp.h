/*
 * comp.h: what the compressor files share (comp.c, gzip.c, zstd.c,
 * dscan.c) and what layer.c uses beyond ocb.h: the per-block engines the
 * threaded pipeline drives, block reuse across builds, and the deflate
 * block scanner that joins independently compressed blocks.
 */
#ifndef OCB_COMP_H
#define OCB_COMP_H

#include <stddef.h>
#include <stdint.h>

#include "ocb.h"

/*
 * An engine turns one block of input into a self-contained piece of the
 * output: a piece depends only on the block's bytes and the level, so
 * blocks compress on any thread in any order, and pieces of an earlier
 * build can stand in for unchanged blocks. Worker state (one per thread)
 * comes from wnew; the stream's framing from header and trailer.
 */
typedef struct ocb_engine {
  const char *name;         /* "gzip", "zstd", "none" */
  size_t block;             /* input bytes per block */
  int passthrough;          /* pieces are the input itself */
  void *(*wnew)(int level); /* NULL on failure */
  void (*wfree)(void *w);
  size_t (*bound)(size_t n); /* worst-case piece size for n input bytes */
  /* Compresses in[0..n) into out[0..cap); *crc gets the CRC-32 of the
   * input. Returns the piece's size, 0 on failure. */
  size_t (*block_fn)(void *w, const unsigned char *in, size_t n, unsigned char *out, size_t cap,
                     uint32_t *crc);
  /* Bytes before the first piece and after the last (<= 32 each). */
  size_t (*header)(unsigned char *out, int level);
  size_t (*trailer)(unsigned char *out, uint32_t crc, uint64_t isize);
} ocb_engine;

extern const ocb_engine ocb_engine_gzip;
extern const ocb_engine ocb_engine_zstd;
extern const ocb_engine ocb_engine_none;

/* The engine for an OCB_COMP_* kind. */
const ocb_engine *ocb_engine_of(int kind);
/* Names everything the output bytes depend on besides the input, as a
 * file-name-safe key: "gzip-6-libdeflate1.14-b1m-f1". */
void ocb_engine_key(int kind, int level, char *out, size_t len);

/*
 * Input tracking (comp.c). With ocb_comp_track the pipeline hashes its
 * input (SHA-256: the diff_id) block by block, in order, on a worker.
 * With a record folder it also looks there for a record of an earlier
 * build whose first block had the same bytes, and while the input still
 * matches that build (the SHA-256 of everything up to the end of each
 * block is in the record) it compresses nothing: the earlier blob's
 * pieces are copied instead, or, when the whole input matches, the
 * earlier blob is the result and nothing is written at all.
 */
int ocb_comp_track(ocb_comp *c, const char *recdir, const char *store, ocb_err *err);

typedef struct ocb_comp_result {
  char diff_id[72];        /* "sha256:<hex>" of the input */
  uint64_t isize;          /* input bytes */
  int whole;               /* 1: the earlier blob is the result, nothing was written */
  char blob[72];           /* with whole: that blob's digest */
  uint64_t blob_size;      /* with whole: its size */
  uint64_t blocks, reused; /* blocks in all, and taken from the earlier build */
} ocb_comp_result;

/* After ocb_comp_finish of a tracked pipeline. */
void ocb_comp_result_get(ocb_comp *c, ocb_comp_result *r);
/* After the blob is published as digest/size: writes the record the next
 * build looks for. A record is a cache: callers may ignore a failure. */
int ocb_comp_remember(ocb_comp *c, const char *digest, uint64_t size, ocb_err *err);

/*
 * Deflate block scanner (dscan.c): walks a complete raw deflate stream
 * without producing output, decoding only the Huffman tables and the
 * symbols' lengths, and reports where its final block's header is and
 * where that block's end-of-block code ends, as bit offsets.
 */
typedef struct ocb_dscan ocb_dscan;
ocb_dscan *ocb_dscan_new(void);
void ocb_dscan_free(ocb_dscan *s);
/* 0 on success; -1 when the stream is not valid deflate. */
int ocb_dscan_run(ocb_dscan *s, const unsigned char *in, size_t n, uint64_t *final_hdr,
                  uint64_t *end);

#endif
