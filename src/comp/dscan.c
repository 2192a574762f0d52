/*
 * dscan.c: a deflate (RFC 1951) block-structure scanner: it reads a raw
 * deflate stream only far enough to know how many bits each symbol takes,
 * and reports the bit offsets of the final block's header and of the end
 * of its end-of-block code, which the gzip engine needs to join pieces.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define MAXBITS 15
#define TABLE_SIZE (1u << MAXBITS)

/* Table entries: low 5 bits = bits the symbol takes with its extra bits. */
#define E_LEN 0x20u /* a length: a distance symbol follows */
#define E_EOB 0x40u /* end of block */
#define E_BAD (E_LEN | E_EOB)

struct ocb_dscan {
  uint16_t lit[TABLE_SIZE];
  uint16_t dist[TABLE_SIZE];
  uint16_t pre[1u << 7];
};

/* Extra bits of length symbols 257..285 and distance symbols 0..29. */
static const unsigned char len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                            2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const unsigned char dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                             6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const unsigned char pre_order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                            11, 4,  12, 3, 13, 2, 14, 1, 15};

/* LSB-first bit reader. Bits above `cnt` in `buf` are either zero or the
 * stream's own next bits, so refills may OR overlapping bytes in. */
typedef struct {
  const unsigned char *start, *p, *end;
  uint64_t buf;
  unsigned cnt;
  size_t over; /* zero bytes fed past the end */
} bits;

static inline uint64_t load_le64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

static inline void refill(bits *b) {
  if (b->end - b->p >= 8) {
    b->buf |= load_le64(b->p) << b->cnt;
    b->p += (63 - b->cnt) >> 3;
    b->cnt |= 56;
    return;
  }
  while (b->cnt <= 56) {
    uint64_t byte = 0;
    if (b->p < b->end)
      byte = *b->p++;
    else
      b->over++;
    b->buf |= byte << b->cnt;
    b->cnt += 8;
  }
}

static uint64_t bitpos(const bits *b) {
  return ((uint64_t)(b->p - b->start) + b->over) * 8 - b->cnt;
}

/* Reads n <= 32 bits (refilling first). */
static unsigned take(bits *b, unsigned n) {
  unsigned v;
  if (b->cnt < 32) refill(b);
  v = (unsigned)(b->buf & ((1u << n) - 1));
  b->buf >>= n;
  b->cnt -= n;
  return v;
}

static void seek(bits *b, uint64_t pos) {
  b->p = b->start + (pos >> 3);
  b->buf = 0, b->cnt = 0, b->over = 0;
  refill(b);
  b->buf >>= pos & 7;
  b->cnt -= (unsigned)(pos & 7);
}

/* The low len bits of code, reversed (deflate's codes go MSB first). */
static unsigned reverse(unsigned code, unsigned len) {
  code = ((code & 0x5555u) << 1) | ((code >> 1) & 0x5555u);
  code = ((code & 0x3333u) << 2) | ((code >> 2) & 0x3333u);
  code = ((code & 0x0f0fu) << 4) | ((code >> 4) & 0x0f0fu);
  code = ((code & 0x00ffu) << 8) | ((code >> 8) & 0x00ffu);
  return code >> (16 - len);
}

/*
 * Fills table (2^*tbits entries) for a canonical code with the given
 * lengths; entry(sym, len) gives each symbol's entry, unused slots get
 * `bad`. Returns -1 for an over-subscribed code. Incomplete codes are
 * allowed: unused slots can only be reached by invalid streams.
 */
static int build(uint16_t *table, unsigned *tbits, const unsigned char *lens, unsigned n,
                 uint16_t (*entry)(unsigned sym, unsigned len), uint16_t bad) {
  unsigned count[MAXBITS + 1] = {0}, next[MAXBITS + 1];
  unsigned s, l, max = 1, code = 0;
  int left = 1;
  for (s = 0; s < n; s++) count[lens[s]]++;
  for (l = 1; l <= MAXBITS; l++) {
    left = left * 2 - (int)count[l];
    if (left < 0) return -1;
    if (count[l]) max = l;
  }
  count[0] = 0;
  for (l = 1; l <= MAXBITS; l++) next[l] = code = (code + count[l - 1]) << 1;
  if (left > 0)
    for (s = 0; s < (1u << max); s++) table[s] = bad;
  for (s = 0; s < n; s++) {
    unsigned len = lens[s], r, step;
    uint16_t e;
    if (!len) continue;
    r = reverse(next[len]++, len);
    e = entry(s, len);
    for (step = 1u << len; r < (1u << max); r += step) table[r] = e;
  }
  *tbits = max;
  return 0;
}

static uint16_t lit_entry(unsigned sym, unsigned len) {
  if (sym < 256) return (uint16_t)len;
  if (sym == 256) return (uint16_t)(len | E_EOB);
  if (sym > 285) return E_BAD;
  return (uint16_t)((len + len_extra[sym - 257]) | E_LEN);
}

static uint16_t dist_entry(unsigned sym, unsigned len) {
  return sym < 30 ? (uint16_t)(len + dist_extra[sym]) : 0;
}

static uint16_t pre_entry(unsigned sym, unsigned len) {
  return (uint16_t)((sym << 5) | len);
}

ocb_dscan *ocb_dscan_new(void) {
  return malloc(sizeof(ocb_dscan));
}

void ocb_dscan_free(ocb_dscan *s) {
  free(s);
}

static int fixed_tables(ocb_dscan *s, unsigned *lb, unsigned *db) {
  unsigned char lens[288 + 32];
  memset(lens, 8, 144);
  memset(lens + 144, 9, 112);
  memset(lens + 256, 7, 24);
  memset(lens + 280, 8, 8);
  memset(lens + 288, 5, 32);
  return build(s->lit, lb, lens, 288, lit_entry, E_BAD) |
         build(s->dist, db, lens + 288, 32, dist_entry, 0);
}

/* Reads a dynamic block's code lengths and builds its tables. */
static int dynamic_tables(ocb_dscan *s, bits *b, unsigned *lb, unsigned *db) {
  unsigned char lens[286 + 32 + 138], pl[19] = {0};
  unsigned nlit = take(b, 5) + 257, ndist = take(b, 5) + 1, npre = take(b, 4) + 4;
  unsigned i, pb, n = 0;
  if (nlit > 286 || ndist > 30) return -1;
  for (i = 0; i < npre; i++) pl[pre_order[i]] = (unsigned char)take(b, 3);
  if (build(s->pre, &pb, pl, 19, pre_entry, 0) < 0) return -1;
  while (n < nlit + ndist) {
    unsigned e, sym, rep, val = 0;
    if (b->cnt < 32) refill(b);
    e = s->pre[b->buf & ((1u << pb) - 1)];
    if ((e & 31) == 0) return -1;
    b->buf >>= e & 31;
    b->cnt -= e & 31;
    sym = e >> 5;
    if (sym < 16) {
      lens[n++] = (unsigned char)sym;
      continue;
    }
    if (sym == 16) {
      if (n == 0) return -1;
      val = lens[n - 1], rep = 3 + take(b, 2);
    } else if (sym == 17) {
      rep = 3 + take(b, 3);
    } else {
      rep = 11 + take(b, 7);
    }
    if (n + rep > nlit + ndist) return -1;
    memset(lens + n, (int)val, rep);
    n += rep;
  }
  if (lens[256] == 0) return -1;
  if (build(s->lit, lb, lens, nlit, lit_entry, E_BAD) < 0) return -1;
  return build(s->dist, db, lens + nlit, ndist, dist_entry, 0);
}

/* Skips the symbols of one Huffman-coded block up to and including its
 * end-of-block code. */
static int skip_symbols(const ocb_dscan *s, bits *b, unsigned lb, unsigned db) {
  const uint16_t *lit = s->lit, *dist = s->dist;
  const uint64_t lmask = (1u << lb) - 1, dmask = (1u << db) - 1;
  uint64_t buf = b->buf;
  unsigned cnt = b->cnt;
  for (;;) {
    unsigned e, d;
    if (cnt < 48) {
      b->buf = buf, b->cnt = cnt;
      refill(b);
      if (b->over > 16) return -1;
      buf = b->buf, cnt = b->cnt;
    }
    /* Two literals in a row are the common case: take them without a refill. */
    e = lit[buf & lmask];
    buf >>= e & 31;
    cnt -= e & 31;
    if (e < 32) {
      e = lit[buf & lmask];
      buf >>= e & 31;
      cnt -= e & 31;
      if (e < 32) continue;
    }
    if (e & E_EOB) {
      if (e & E_LEN) return -1;
      break;
    }
    /* A literal, a length and its distance can take 63 bits. */
    if (cnt < 28) {
      b->buf = buf, b->cnt = cnt;
      refill(b);
      buf = b->buf, cnt = b->cnt;
    }
    d = dist[buf & dmask];
    if (!d) return -1;
    buf >>= d;
    cnt -= d;
  }
  b->buf = buf, b->cnt = cnt;
  return 0;
}

int ocb_dscan_run(ocb_dscan *s, const unsigned char *in, size_t n, uint64_t *final_hdr,
                  uint64_t *end) {
  bits b;
  int last = 0;
  b.start = b.p = in, b.end = in + n, b.buf = 0, b.cnt = 0, b.over = 0;
  refill(&b);
  while (!last) {
    uint64_t hdr = bitpos(&b);
    unsigned type, lb, db;
    last = (int)take(&b, 1);
    type = take(&b, 2);
    if (last) *final_hdr = hdr;
    if (type == 0) {
      uint64_t pos = (bitpos(&b) + 7) & ~(uint64_t)7;
      unsigned len, nlen;
      seek(&b, pos);
      len = take(&b, 16), nlen = take(&b, 16);
      if ((len ^ 0xffffu) != nlen || (pos >> 3) + 4 + len > n) return -1;
      seek(&b, pos + 32 + (uint64_t)len * 8);
      continue;
    }
    if (type == 3) return -1;
    if ((type == 1 ? fixed_tables(s, &lb, &db) : dynamic_tables(s, &b, &lb, &db)) < 0) return -1;
    if (skip_symbols(s, &b, lb, db) < 0) return -1;
    if (bitpos(&b) > (uint64_t)n * 8) return -1;
  }
  *end = bitpos(&b);
  return *end <= (uint64_t)n * 8 ? 0 : -1;
}
