/*
 * engine.h: what the codec files share beyond comp.h: the per-block
 * engines the pipeline (ring.c) drives, the earlier output it takes pieces
 * from (prior.c), and the deflate block scanner that lets independently
 * deflated blocks join into one gzip member.
 */
#ifndef OCB_ENGINE_H
#define OCB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "comp.h"

/*
 * An engine turns one block of input into a self-contained piece of the
 * output: a piece depends only on the block's bytes and the level, so
 * blocks compress on any thread in any order, and pieces of an earlier
 * build can stand in for unchanged blocks, or be decompressed alone. Worker
 * state (one per thread) comes from wnew and dnew; the stream's framing
 * from header and trailer.
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
  void *(*dnew)(void); /* NULL on failure */
  void (*dfree)(void *d);
  /* Decompresses the piece in[0..n) (which has 8 bytes of room after it)
   * into exactly want bytes at out; 0, or -1 when it is not that. */
  int (*unblock)(void *d, unsigned char *in, size_t n, unsigned char *out, size_t want);
} ocb_engine;

/* Room a piece buffer needs past the engine's bound (see unblock). */
#define OCB_PIECE_SLACK 8

extern const ocb_engine ocb_engine_gzip;
extern const ocb_engine ocb_engine_zstd;
extern const ocb_engine ocb_engine_none;

/* The engine for an OCB_COMP_* kind, NULL for another number. */
const ocb_engine *ocb_engine_of(int kind);

/*
 * The earlier output (prior.c), as the pipeline reads it: pieces read
 * back and checked against the CRC-32 recorded when they were written,
 * decompressed and checked again; blocks found by the digest of their input.
 */
/* Hashes prior's block ids for ocb_prior_lookup; -1 when out of memory. */
int ocb_prior_index(ocb_prior *p);
/* The block of prior whose input is id and len bytes long, or -1. */
int64_t ocb_prior_lookup(const ocb_prior *p, const unsigned char id[32], size_t len);
/* Reads block j's piece into buf (cap bytes) and checks it: its length in
 * *len, or -1 with err (CORRUPT when the blob changed). */
int ocb_prior_piece(const ocb_prior *p, uint64_t j, unsigned char *buf, size_t cap, size_t *len,
                    ocb_err *err);
/* Block j's input into out (cap bytes), through its piece (read into
 * piece, pcap bytes), decompressed by d and checked; its length in *len. */
int ocb_prior_input(const ocb_prior *p, const ocb_engine *e, void *d, uint64_t j,
                    unsigned char *piece, size_t pcap, unsigned char *out, size_t cap, size_t *len,
                    ocb_err *err);
/* Hands the earlier output up to the end of block k - 1 to out (its
 * header checked against the engine's, each piece against its CRC),
 * through buf (cap bytes). */
int ocb_prior_prefix(const ocb_prior *p, const ocb_engine *e, int level, uint64_t k,
                     unsigned char *buf, size_t cap, ocb_out_fn out, void *ud, ocb_err *err);
/* The message of a blob found changed since it was written. */
int ocb_prior_corrupt(const ocb_prior *p, ocb_err *err);

/*
 * Leading pieces (lead.c): header and pieces 0..m-1 of the earlier output,
 * read, checked and written through at from offset 0, on a thread of
 * their own. join waits and gives the thread's result (CORRUPT when a
 * piece fails its check); stop abandons the copy. Both free the lead.
 */
typedef struct ocb_lead ocb_lead;
ocb_lead *ocb_lead_start(const ocb_prior *p, const ocb_engine *eng, int level, uint64_t m,
                         size_t cap, ocb_at_fn at, void *ud, ocb_err *err);
int ocb_lead_join(ocb_lead *l, ocb_err *err);
void ocb_lead_stop(ocb_lead *l);

/*
 * Filled holes (fill.c): a candidate's pieces, written by the caller into
 * an output's holes, checked against the blocks they stand for, then the
 * output hashed on from the state before the first hole.
 */
typedef struct ocb_fill {
  const ocb_engine *eng;
  const ocb_blocks *cand; /* the candidate's blocks */
  const ocb_blocks *now;  /* the output's */
  const ocb_hole *holes;
  uint64_t n;
  int fd;
  size_t cap, pcap; /* the most a block holds, and a piece buffer */
} ocb_fill;
/* Checks every hole's piece on `threads` threads (BADPIECE for one that
 * is not its block). */
int ocb_fill_check(const ocb_fill *f, int threads, ocb_err *err);
/* Hashes the output from `from` (a state at a multiple of 64 bytes) to
 * `size`; blocks from first on get their output states. digest gets the
 * output's. */
int ocb_fill_hash(const ocb_fill *f, const ocb_sha256_state *from, ocb_blocks *now, uint64_t first,
                  uint64_t size, char digest[OCB_DIGEST_BUF], ocb_err *err);

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
