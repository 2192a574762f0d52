/*
 * none.c: the `none` engine: pieces are the input blocks themselves, with
 * no framing, for uncompressed layers.
 */
#include <string.h>

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

/* No state to keep, but a worker needs a non-NULL one. */
static void *none_dnew(void) {
  static int token;
  return &token;
}

static void none_dfree(void *d) {
  (void)d;
}

static int none_unblock(void *d, unsigned char *in, size_t n, unsigned char *out, size_t want) {
  (void)d;
  if (n != want) return -1;
  if (out != in) memmove(out, in, n);
  return 0;
}

const ocb_engine ocb_engine_none = {"none",   1u << 20,   1,          NULL,
                                    NULL,     none_bound, NULL,       none_frame,
                                    none_end, none_dnew,  none_dfree, none_unblock};
