/*
 * rxrun.c: running a program over a string's runes, as Pike's simulation
 * without submatches, or for small anchored programs as a bit-parallel run
 * on one 64-bit word; the prefilters go first, and matching never
 * allocates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rx.h"

static int is_word(int32_t r) {
  return (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || r == '_';
}

/* The empty-width conditions between rune a (-1: start) and b (-1: end). */
static int context(int32_t a, int32_t b) {
  int f = (a < 0 ? OCB_E_BEGIN : 0) | (b < 0 ? OCB_E_END : 0);
  return f | (is_word(a) != is_word(b) ? OCB_E_WORD : OCB_E_NOTWORD);
}

int ocb_ranges_hold(const int32_t *r, int n, int32_t c) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (c < r[2 * mid])
      hi = mid;
    else if (c > r[2 * mid + 1])
      lo = mid + 1;
    else
      return 1;
  }
  return 0;
}

static int in_class(const ocb_prog *g, const ocb_inst *in, int32_t c) {
  return ocb_ranges_hold(g->rg + in->x, in->y, c);
}

typedef struct threads {
  uint16_t pc[OCB_MAX_INST];
  int n;
} threads;

/* Adds pc and what it reaches without reading (1 when that is a match). */
static int add(const ocb_prog *g, threads *l, uint64_t *seen, uint16_t *stk, int pc, int ctx) {
  int sp = 0;
  stk[sp++] = (uint16_t)pc;
  while (sp) {
    const ocb_inst *in;
    pc = stk[--sp];
    if (seen[pc >> 6] & (UINT64_C(1) << (pc & 63))) continue;
    seen[pc >> 6] |= UINT64_C(1) << (pc & 63);
    in = &g->code[pc];
    switch (in->op) {
    case OCB_I_MATCH: return 1;
    case OCB_I_JMP: stk[sp++] = (uint16_t)in->x; break;
    case OCB_I_SPLIT: stk[sp++] = (uint16_t)in->y, stk[sp++] = (uint16_t)in->x; break;
    case OCB_I_EMPTY:
      if ((in->r & ctx) == in->r) stk[sp++] = (uint16_t)(pc + 1);
      break;
    default: l->pc[l->n++] = (uint16_t)pc;
    }
  }
  return 0;
}

static int32_t rune_at(const unsigned char *s, size_t n, size_t i, size_t *w) {
  if (i >= n) return *w = 0, -1;
  if (s[i] < 0x80) return *w = 1, s[i];
  return ocb_utf8_decode(s + i, n - i, w);
}

/* Pike's simulation, without submatches: does some match exist? */
static int run(const ocb_prog *g, const unsigned char *s, size_t n) {
  threads lists[2], *cl = &lists[0], *nl = &lists[1], *t;
  uint64_t seen[OCB_MAX_INST / 64];
  uint16_t stk[2 * OCB_MAX_INST + 2];
  size_t i = g->anchored ? g->npre : 0, w, nw, words = (size_t)(g->n + 63) / 64;
  int32_t c = rune_at(s, n, i, &w), prev = g->anchored ? g->prev : -1;
  cl->n = 0;
  memset(seen, 0, words * sizeof *seen);
  if (add(g, cl, seen, stk, g->start, context(prev, c))) return 1;
  while (c >= 0 && (cl->n || !g->anchored)) {
    int32_t next = rune_at(s, n, i + w, &nw);
    int ctx = context(c, next), k;
    nl->n = 0;
    memset(seen, 0, words * sizeof *seen);
    for (k = 0; k < cl->n; k++) {
      const ocb_inst *in = &g->code[cl->pc[k]];
      int ok = in->op == OCB_I_RUNE  ? c == in->r
               : in->op == OCB_I_ANY ? c != '\n'
                                     : in_class(g, in, c);
      if (ok && add(g, nl, seen, stk, cl->pc[k] + 1, ctx)) return 1;
    }
    if (!g->anchored && add(g, nl, seen, stk, 0, ctx)) return 1;
    t = cl, cl = nl, nl = t;
    i += w, c = next, w = nw;
  }
  return 0;
}

/* ---------- the same run on a 64-bit word ---------- */

/* For an anchored program with at most 64 reading instructions and no word
 * boundaries, the set of threads is a word, and what each thread leads to
 * after reading is computed once. */
typedef struct ocb_bitnfa {
  uint64_t succ[64];   /* reading instructions reached after reading with one */
  uint64_t ascii[128]; /* reading instructions that take each ASCII character */
  uint64_t done;       /* after these, a match is reached */
  uint64_t done_end;   /* after these, a match is reached at the end of the text */
  uint64_t init;       /* active at the start */
  int init_done, init_done_end;
  int pc[64], k;
} bitnfa;

/* The reading instructions reached from pc without reading, given which of
 * ^ and $ hold; *match when the match instruction is reached. */
static uint64_t closure(const ocb_prog *g, const int *bitof, int pc, int begin, int end, int *match,
                        unsigned char *seen, int *stk) {
  uint64_t out = 0;
  int sp = 0;
  memset(seen, 0, (size_t)g->n);
  *match = 0;
  stk[sp++] = pc;
  while (sp) {
    const ocb_inst *in = &g->code[pc = stk[--sp]];
    if (seen[pc]) continue;
    seen[pc] = 1;
    switch (in->op) {
    case OCB_I_MATCH: *match = 1; break;
    case OCB_I_JMP: stk[sp++] = in->x; break;
    case OCB_I_SPLIT: stk[sp++] = in->y, stk[sp++] = in->x; break;
    case OCB_I_EMPTY:
      if ((in->r == OCB_E_BEGIN && begin) || (in->r == OCB_E_END && end)) stk[sp++] = pc + 1;
      break;
    default: out |= UINT64_C(1) << bitof[pc];
    }
  }
  return out;
}

static int takes(const ocb_prog *g, const ocb_inst *in, int32_t c) {
  if (in->op == OCB_I_RUNE) return c == in->r;
  if (in->op == OCB_I_ANY) return c != '\n';
  return in_class(g, in, c);
}

int ocb_prog_bits(ocb_prog *g) {
  bitnfa *b;
  int *bitof, *stk, pc, j, m;
  unsigned char *seen;
  if (!g->anchored) return 0;
  for (pc = 0, j = 0; pc < g->n; pc++) {
    const ocb_inst *in = &g->code[pc];
    if (in->op == OCB_I_EMPTY && in->r != OCB_E_BEGIN && in->r != OCB_E_END) return 0;
    j += in->op == OCB_I_RUNE || in->op == OCB_I_CLASS || in->op == OCB_I_ANY;
  }
  if (j > 64) return 0;
  b = calloc(1, sizeof *b), bitof = malloc((size_t)g->n * sizeof *bitof);
  stk = malloc((size_t)(2 * g->n + 2) * sizeof *stk), seen = malloc((size_t)g->n);
  if (!b || !bitof || !stk || !seen) {
    free(b), free(bitof), free(stk), free(seen);
    return -1;
  }
  for (pc = 0; pc < g->n; pc++) {
    int op = g->code[pc].op;
    if (op == OCB_I_RUNE || op == OCB_I_CLASS || op == OCB_I_ANY)
      bitof[pc] = b->k, b->pc[b->k++] = pc;
  }
  for (j = 0; j < b->k; j++) {
    int32_t c;
    b->succ[j] = closure(g, bitof, b->pc[j] + 1, 0, 0, &m, seen, stk);
    if (m) b->done |= UINT64_C(1) << j;
    closure(g, bitof, b->pc[j] + 1, 0, 1, &m, seen, stk);
    if (m) b->done_end |= UINT64_C(1) << j;
    for (c = 0; c < 128; c++)
      if (takes(g, &g->code[b->pc[j]], c)) b->ascii[c] |= UINT64_C(1) << j;
  }
  b->init = closure(g, bitof, g->start, g->npre == 0, 0, &b->init_done, seen, stk);
  closure(g, bitof, g->start, g->npre == 0, 1, &b->init_done_end, seen, stk);
  free(bitof), free(stk), free(seen);
  g->bits = b;
  return 0;
}

static int lowest_bit(uint64_t v) {
#if defined(__GNUC__)
  return __builtin_ctzll(v);
#else
  int k = 0;
  while (!(v & 1)) v >>= 1, k++;
  return k;
#endif
}

/* run() for a program with g->bits. */
static int run_bits(const ocb_prog *g, const unsigned char *s, size_t n) {
  const bitnfa *b = g->bits;
  size_t i = g->npre, w = 1;
  uint64_t st = b->init;
  if (b->init_done) return 1;
  if (i == n) return b->init_done_end;
  while (st) {
    int32_t c = s[i] < 0x80 ? s[i] : ocb_utf8_decode(s + i, n - i, &w);
    uint64_t t, took;
    if (c < 0x80) {
      t = st & b->ascii[c], w = 1;
    } else {
      for (t = 0, took = st; took; took &= took - 1) {
        int j = lowest_bit(took);
        if (takes(g, &g->code[b->pc[j]], c)) t |= UINT64_C(1) << j;
      }
    }
    if (t & b->done) return 1;
    if ((i += w) == n) return (t & b->done_end) != 0;
    for (st = 0, took = t; took; took &= took - 1) st |= b->succ[lowest_bit(took)];
  }
  return 0;
}

/* Does hay[0, n) hold needle[0, m)? (Short strings: no setup to pay.) */
static int holds(const char *hay, size_t n, const char *needle, size_t m) {
  size_t i;
  for (i = 0; i + m <= n; i++)
    if (hay[i] == needle[0] && ocb_same(hay + i, needle, m)) return 1;
  return 0;
}

/* Do the ASCII characters before s[end] fit the tail items? (Any other
 * byte ends the check: only a full decode could tell which rune it is in.) */
static int tail_fits(const ocb_prog *g, const unsigned char *s, size_t end) {
  int k;
  for (k = 0; k < g->ntail; k++, end--) {
    const ocb_onechar *t = &g->tail[k];
    int32_t c;
    if (end <= g->npre) return 0; /* each item needs a rune after the prefix */
    if ((c = s[end - 1]) >= 0x80) return 1;
    if (t->op == OCB_N_LIT   ? c != t->r
        : t->op == OCB_N_ANY ? c == '\n'
                             : !ocb_ranges_hold(g->rg + t->lo, t->nr, c))
      return 0;
  }
  return 1;
}

int ocb_prog_run(const ocb_prog *g, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (g->ntail && !tail_fits(g, u, n - g->nsuf)) return 0;
  if (g->nmid && !holds(s + g->npre, n - g->npre - g->nsuf, g->mid, g->nmid)) return 0;
  return g->bits ? run_bits(g, u, n) : run(g, u, n);
}
