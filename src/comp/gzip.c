/*
 * gzip.c: the gzip engine: each block (1 MiB, or where the caller cuts)
 * deflated alone by libdeflate, its final block turned into a sync flush
 * with dscan.c's help, so pieces join into one member under our header:
 * MTIME 0, no name, zlib's XFL, OS 3. A piece inflates alone once a final
 * empty block follows it.
 */
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define GZ_BLOCK (1u << 20)

typedef struct {
  struct libdeflate_compressor *z, *store; /* the level's; level 0 (stored blocks) */
  ocb_dscan *scan;
} gz_worker;

static void gz_wfree(void *w) {
  gz_worker *g = w;
  if (!g) return;
  libdeflate_free_compressor(g->z);
  libdeflate_free_compressor(g->store);
  ocb_dscan_free(g->scan);
  free(g);
}

static void *gz_wnew(int level) {
  gz_worker *g = calloc(1, sizeof *g);
  if (g && (g->z = libdeflate_alloc_compressor(level)) &&
      (g->store = libdeflate_alloc_compressor(0)) && (g->scan = ocb_dscan_new()))
    return g;
  gz_wfree(g);
  return NULL;
}

/* The piece can outgrow the deflate stream by the sync flush's 5 bytes. */
static size_t gz_bound(size_t n) {
  return libdeflate_deflate_compress_bound(NULL, n) + 5;
}

/* Sum of the squared byte counts of p[0..n): n + n(n-1)/256 on average for
 * random bytes, far more for anything deflate can shrink. */
static uint64_t collisions(const unsigned char *p, size_t n, uint32_t *total) {
  uint32_t h[256] = {0};
  uint64_t sum = 0;
  size_t i;
  for (i = 0; i < n; i++) h[p[i]]++;
  for (i = 0; i < 256; i++) {
    sum += (uint64_t)h[i] * h[i];
    total[i] += h[i];
  }
  return sum;
}

/*
 * Already compressed data (media, archives) costs deflate as much time as
 * text and gains nothing: a block whose 16 sampled 4 KiB windows all look
 * like random bytes is stored instead. Integer counts only, so the choice,
 * and with it the output, is the same on every machine.
 */
static int looks_random(const unsigned char *in, size_t n) {
  enum { WIN = 4096, NWIN = 16 };
  uint32_t total[256] = {0};
  uint64_t sum = 0, N = (uint64_t)WIN * NWIN;
  size_t w;
  int i;
  if (n < 4 * WIN * NWIN) return 0;
  for (w = 0; w < NWIN; w++) {
    /* 4096 + 4096 * 4095 / 256 = 69616 expected; 80000 is eight sigmas */
    if (collisions(in + (n - WIN) / (NWIN - 1) * w, WIN, total) > 80000) return 0;
  }
  for (i = 0; i < 256; i++) sum += (uint64_t)total[i] * total[i];
  return sum * 100 <= (N + N * (N - 1) / 256) * 103;
}

static size_t gz_block(void *w, const unsigned char *in, size_t n, unsigned char *out, size_t cap,
                       uint32_t *crc) {
  gz_worker *g = w;
  uint64_t hdr, end;
  size_t m = libdeflate_deflate_compress(looks_random(in, n) ? g->store : g->z, in, n, out,
                                         cap - 5),
         len, last;
  if (m == 0 || ocb_dscan_run(g->scan, out, m, &hdr, &end) < 0) return 0;
  /* Not the final block after all: clear BFINAL, and after its end-of-block
   * code put what a zlib sync flush puts there, an empty stored block (3
   * header bits, zero bits up to a byte boundary, 00 00 ff ff). */
  out[hdr >> 3] &= (unsigned char)~(1u << (hdr & 7));
  last = (size_t)(end >> 3);
  len = (size_t)((end + 3 + 7) >> 3);
  out[last] &= (unsigned char)((1u << (end & 7)) - 1);
  if (len > last + 1) memset(out + last + 1, 0, len - last - 1);
  memcpy(out + len, "\0\0\377\377", 4);
  *crc = (uint32_t)libdeflate_crc32(0, in, n);
  return len + 4;
}

static size_t gz_header(unsigned char *out, int level) {
  static const unsigned char h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  memcpy(out, h, sizeof h);
  /* XFL: 2 for the slowest level, 4 for the fastest, as zlib writes it. */
  out[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
  return sizeof h;
}

/* A final empty block with fixed codes (as zlib ends a flushed stream),
 * then CRC-32 and ISIZE, little-endian. */
static size_t gz_trailer(unsigned char *out, uint32_t crc, uint64_t isize) {
  int i;
  out[0] = 3, out[1] = 0;
  for (i = 0; i < 4; i++) {
    out[2 + i] = (unsigned char)(crc >> (8 * i));
    out[6 + i] = (unsigned char)(isize >> (8 * i));
  }
  return 10;
}

static void *gz_dnew(void) {
  return libdeflate_alloc_decompressor();
}

static void gz_dfree(void *d) {
  libdeflate_free_decompressor(d);
}

static int gz_unblock(void *d, unsigned char *in, size_t n, unsigned char *out, size_t want) {
  size_t got_in, got_out;
  in[n] = 3, in[n + 1] = 0; /* the final empty block gz_trailer writes */
  return libdeflate_deflate_decompress_ex(d, in, n + 2, out, want, &got_in, &got_out) ==
                     LIBDEFLATE_SUCCESS &&
                 got_in == n + 2 && got_out == want
             ? 0
             : -1;
}

const ocb_engine ocb_engine_gzip = {"gzip",   GZ_BLOCK,  0,          gz_wnew, gz_wfree, gz_bound,
                                    gz_block, gz_header, gz_trailer, gz_dnew, gz_dfree, gz_unblock};
