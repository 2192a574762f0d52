/*
 * engine.h: what the codec files share beyond comp.h: the per-block
 * engines the pipeline (ring.c) drives, and the deflate block scanner that
 * lets independently deflated blocks join into one gzip member.
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

/* The engine for an OCB_COMP_* kind, NULL for another number. */
const ocb_engine *ocb_engine_of(int kind);

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
