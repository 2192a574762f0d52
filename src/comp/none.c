/*
 * none.c: the `none` engine: pieces are the input blocks themselves, with
 * no framing, for uncompressed layers.
 */
#include "engine.h"

static size_t none_bound(size_t n) {
  return n;
}

static size_t none_frame(unsigned char *out, int level) {
  (void)out, (void)level;
  return 0;
}

static size_t none_end(unsigned char *out, uint32_t crc, uint64_t isize) {
  (void)out, (void)crc, (void)isize;
  return 0;
}

const ocb_engine ocb_engine_none = {"none",     1u << 20, 1,          NULL,    NULL,
                                    none_bound, NULL,     none_frame, none_end};
