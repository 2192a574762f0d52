/*
 * rxparse.c: Go's regular expressions, parsed as regexp/syntax.Parse does
 * with the Perl flags Go's regexp package uses, for the expressions Docker
 * derives from .dockerignore patterns. Errors read as Go's; Unicode classes
 * and (? groups are refused as unsupported.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rx.h"

const char ocb_oom[] = "out of memory";

static const char *rx_fail(ocb_rx *x, const char *why) {
  x->why = why;
  return NULL;
}

static int rx_node(ocb_rx *x, int op) {
  ocb_rxnode *n;
  if (x->nn == x->ncap) {
    int c = x->ncap ? x->ncap * 2 : 32;
    ocb_rxnode *nd = realloc(x->nd, (size_t)c * sizeof *nd);
    if (!nd) return -1;
    x->nd = nd, x->ncap = c;
  }
  n = &x->nd[x->nn];
  memset(n, 0, sizeof *n);
  n->op = op, n->sub = n->next = -1;
  return x->nn++;
}

/* Appends a node to the sequence being parsed. */
static int rx_add(ocb_rx *x, int op, int32_t r) {
  int i = rx_node(x, op);
  ocb_rxlevel *l = &x->lv[x->depth];
  if (i < 0) return -1;
  x->nd[i].r = r;
  if (l->tail < 0)
    l->head = i;
  else
    x->nd[l->tail].next = i;
  l->tail = i;
  return i;
}

static void level_init(ocb_rxlevel *l, int grp) {
  l->head = l->tail = l->alts = l->last = -1;
  l->grp = grp;
}

/* '|': the sequence read so far becomes an alternative. */
static int rx_bar(ocb_rx *x) {
  int c = rx_node(x, OCB_N_CAT);
  ocb_rxlevel *l = &x->lv[x->depth];
  if (c < 0) return -1;
  x->nd[c].sub = l->head;
  if (l->last < 0)
    l->alts = c;
  else
    x->nd[l->last].next = c;
  l->last = c;
  l->head = l->tail = -1;
  return 0;
}

/* Ends the current level: its contents as a sequence (-2: out of memory). */
static int rx_level_end(ocb_rx *x) {
  int a;
  if (x->lv[x->depth].alts < 0) return x->lv[x->depth].head;
  if (rx_bar(x) < 0 || (a = rx_node(x, OCB_N_ALT)) < 0) return -2;
  x->nd[a].sub = x->lv[x->depth].alts;
  return a;
}

static int rx_range(ocb_rx *x, int32_t lo, int32_t hi) {
  if (x->nrg + 2 > x->rgcap) {
    int c = x->rgcap ? x->rgcap * 2 : 64;
    int32_t *rg = realloc(x->rg, (size_t)c * sizeof *rg);
    if (!rg) return -1;
    x->rg = rg, x->rgcap = c;
  }
  x->rg[x->nrg++] = lo, x->rg[x->nrg++] = hi;
  return 0;
}

/* Appends a group's ranges, or their complement. */
static int rx_group(ocb_rx *x, const int32_t *g, int n, int neg) {
  int i;
  int32_t next = 0;
  for (i = 0; i < n; i += 2) {
    if (!neg) {
      if (rx_range(x, g[i], g[i + 1]) < 0) return -1;
      continue;
    }
    if (next <= g[i] - 1 && rx_range(x, next, g[i] - 1) < 0) return -1;
    next = g[i + 1] + 1;
  }
  if (neg && next <= OCB_MAX_RUNE && rx_range(x, next, OCB_MAX_RUNE) < 0) return -1;
  return 0;
}

static int cmp_range(const void *a, const void *b) {
  const int32_t *p = a, *q = b;
  if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
  return p[1] > q[1] ? -1 : p[1] < q[1];
}

/* Sorts and merges the ranges from lo on, negates them if asked; the count. */
static int rx_class_end(ocb_rx *x, int lo, int neg) {
  int i, w = lo;
  qsort(x->rg + lo, (size_t)(x->nrg - lo) / 2, 2 * sizeof *x->rg, cmp_range);
  for (i = lo; i < x->nrg; i += 2) {
    if (w > lo && x->rg[i] <= x->rg[w - 1] + 1) {
      if (x->rg[i + 1] > x->rg[w - 1]) x->rg[w - 1] = x->rg[i + 1];
      continue;
    }
    x->rg[w] = x->rg[i], x->rg[w + 1] = x->rg[i + 1], w += 2;
  }
  x->nrg = w;
  if (neg) {
    int n = w - lo;
    int32_t *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!tmp) return -1;
    memcpy(tmp, x->rg + lo, (size_t)n * sizeof *tmp);
    x->nrg = lo;
    i = rx_group(x, tmp, n, 1);
    free(tmp);
    if (i < 0) return -1;
  }
  return (x->nrg - lo) / 2;
}

static const int32_t G_DIGIT[] = {'0', '9'};
static const int32_t G_SPACE[] = {'\t', '\n', '\f', '\r', ' ', ' '};
static const int32_t G_WORD[] = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};

static const struct posix {
  const char *name;
  int32_t r[8];
  int n;
} POSIX[] = {
    {"alnum", {'0', '9', 'A', 'Z', 'a', 'z'}, 6},
    {"alpha", {'A', 'Z', 'a', 'z'}, 4},
    {"ascii", {0, 0x7f}, 2},
    {"blank", {'\t', '\t', ' ', ' '}, 4},
    {"cntrl", {0, 0x1f, 0x7f, 0x7f}, 4},
    {"digit", {'0', '9'}, 2},
    {"graph", {'!', '~'}, 2},
    {"lower", {'a', 'z'}, 2},
    {"print", {' ', '~'}, 2},
    {"punct", {'!', '/', ':', '@', '[', '`', '{', '~'}, 8},
    {"space", {'\t', '\r', ' ', ' '}, 4},
    {"upper", {'A', 'Z'}, 2},
    {"word", {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}, 8},
    {"xdigit", {'0', '9', 'A', 'F', 'a', 'f'}, 6},
};

/* \d \D \s \S \w \W at t: appends the class and returns the text after it. */
static const char *rx_perl(ocb_rx *x, const char *t, int *ok) {
  const int32_t *g;
  int n;
  *ok = 0;
  if (x->end - t < 2 || t[0] != '\\') return t;
  switch (t[1] | 0x20) {
  case 'd': g = G_DIGIT, n = 2; break;
  case 's': g = G_SPACE, n = 6; break;
  case 'w': g = G_WORD, n = 8; break;
  default: return t;
  }
  *ok = 1;
  if (rx_group(x, g, n, t[1] < 'a') < 0) return rx_fail(x, ocb_oom);
  return t + 2;
}

/* [:name:] at t (Go looks for the closing ":]" anywhere further on). */
static const char *rx_posix(ocb_rx *x, const char *t, int *ok) {
  const char *q, *name;
  size_t len, i;
  int neg;
  *ok = 0;
  for (q = t + 2; q + 1 < x->end && !(q[0] == ':' && q[1] == ']'); q++) {}
  if (q + 1 >= x->end) return t;
  name = t + 2, len = (size_t)(q - name);
  neg = len > 0 && name[0] == '^';
  name += neg, len -= (size_t)neg;
  for (i = 0; i < sizeof POSIX / sizeof *POSIX; i++) {
    if (strlen(POSIX[i].name) == len && !memcmp(POSIX[i].name, name, len)) {
      *ok = 1;
      if (rx_group(x, POSIX[i].r, POSIX[i].n, neg) < 0) return rx_fail(x, ocb_oom);
      return q + 2;
    }
  }
  return rx_fail(x, "invalid character class range (unknown POSIX class)");
}

static int unhex(int32_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int32_t rx_next(ocb_rx *x, const char **t) {
  size_t w;
  int32_t r;
  if (*t >= x->end) return OCB_RUNE_ERROR; /* as Go's nextRune on "" */
  r = ocb_utf8_decode((const unsigned char *)*t, (size_t)(x->end - *t), &w);
  *t += w;
  return r;
}

/* \x41, \x{10FFFF}: t is past the 'x'. */
static const char *rx_hex(ocb_rx *x, const char *t, int32_t *r) {
  int32_t c, v = 0;
  int n = 0, hi, lo;
  if (t >= x->end) return NULL;
  if ((c = rx_next(x, &t)) != '{') {
    hi = unhex(c), lo = unhex(rx_next(x, &t));
    if (hi < 0 || lo < 0) return NULL;
    *r = hi * 16 + lo;
    return t;
  }
  for (;;) {
    if (t >= x->end) return NULL;
    if ((c = rx_next(x, &t)) == '}') break;
    if ((hi = unhex(c)) < 0 || (v = v * 16 + hi) > OCB_MAX_RUNE) return NULL;
    n++;
  }
  *r = v;
  return n ? t : NULL;
}

/* One escaped character at t (Go's parseEscape). */
static const char *rx_escape(ocb_rx *x, const char *t, int32_t *r) {
  const char *q;
  int32_t c;
  int i;
  if (++t >= x->end) return rx_fail(x, "trailing backslash at end of expression");
  c = rx_next(x, &t);
  switch (c) {
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
    if (t >= x->end || *t < '0' || *t > '7') break; /* a backreference */
    /* fall through */
  case '0':
    for (*r = c - '0', i = 1; i < 3 && t < x->end && *t >= '0' && *t <= '7'; i++, t++)
      *r = *r * 8 + (*t - '0');
    return t;
  case 'x':
    if ((q = rx_hex(x, t, r))) return q;
    break;
  case 'a': *r = '\a'; return t;
  case 'f': *r = '\f'; return t;
  case 'n': *r = '\n'; return t;
  case 'r': *r = '\r'; return t;
  case 't': *r = '\t'; return t;
  case 'v': *r = '\v'; return t;
  default:
    if (c < 0x80 && !((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) {
      *r = c;
      return t;
    }
  }
  return rx_fail(x, "invalid escape sequence");
}

static int rx_unicode(const ocb_rx *x, const char *t) {
  return x->end - t >= 2 && t[0] == '\\' && (t[1] == 'p' || t[1] == 'P');
}

#define UNICODE_UNSUPPORTED "unsupported: Unicode classes (\\p, \\P) in a regular expression"

/* A class [...] at t (Go's parseClass, with PerlX and ClassNL). */
static const char *rx_class(ocb_rx *x, const char *t) {
  int lo = x->nrg, first = 1, neg = 0, n, i, ok;
  t++;
  if (t < x->end && *t == '^') neg = 1, t++;
  while (t >= x->end || *t != ']' || first) {
    int32_t a, b;
    first = 0;
    if (x->end - t > 2 && t[0] == '[' && t[1] == ':') {
      if (!(t = rx_posix(x, t, &ok))) return NULL;
      if (ok) continue;
    }
    if (rx_unicode(x, t)) return rx_fail(x, UNICODE_UNSUPPORTED);
    if (!(t = rx_perl(x, t, &ok))) return NULL;
    if (ok) continue;
    if (t >= x->end) return rx_fail(x, "missing closing ]");
    if (*t == '\\') {
      if (!(t = rx_escape(x, t, &a))) return NULL;
    } else
      a = rx_next(x, &t);
    b = a;
    if (x->end - t >= 2 && t[0] == '-' && t[1] != ']') {
      t++;
      if (t >= x->end) return rx_fail(x, "missing closing ]");
      if (*t == '\\') {
        if (!(t = rx_escape(x, t, &b))) return NULL;
      } else
        b = rx_next(x, &t);
      if (b < a) return rx_fail(x, "invalid character class range");
    }
    if (rx_range(x, a, b) < 0) return rx_fail(x, ocb_oom);
  }
  if ((n = rx_class_end(x, lo, neg)) < 0) return rx_fail(x, ocb_oom);
  if ((i = rx_add(x, OCB_N_CLASS, 0)) < 0) return rx_fail(x, ocb_oom);
  if (n == 1 && x->rg[lo] == x->rg[lo + 1]) { /* one rune: a literal, as Go makes it */
    x->nd[i].op = OCB_N_LIT, x->nd[i].r = x->rg[lo], x->nrg = lo;
    return t + 1;
  }
  x->nd[i].lo = lo, x->nd[i].nr = n;
  return t + 1;
}

/* A backslash sequence outside classes. */
static const char *rx_backslash(ocb_rx *x, const char *t) {
  static const char empties[] = "AbBz";
  static const int32_t flags[] = {OCB_E_BEGIN, OCB_E_WORD, OCB_E_NOTWORD, OCB_E_END};
  const char *e;
  int32_t r;
  int ok, lo = x->nrg, i;
  if (x->end - t >= 2 && t[1] && (e = strchr(empties, t[1]))) {
    if (rx_add(x, OCB_N_EMPTY, flags[e - empties]) < 0) return rx_fail(x, ocb_oom);
    return t + 2;
  }
  if (x->end - t >= 2 && t[1] == 'C') return rx_fail(x, "invalid escape sequence");
  if (x->end - t >= 2 && t[1] == 'Q') { /* \Q...\E: literal text */
    for (t += 2; t < x->end && !(t[0] == '\\' && t + 1 < x->end && t[1] == 'E');)
      if (rx_add(x, OCB_N_LIT, rx_next(x, &t)) < 0) return rx_fail(x, ocb_oom);
    return t < x->end ? t + 2 : t;
  }
  if (rx_unicode(x, t)) return rx_fail(x, UNICODE_UNSUPPORTED);
  if (!(e = rx_perl(x, t, &ok))) return NULL;
  if (ok) {
    if ((i = rx_add(x, OCB_N_CLASS, 0)) < 0) return rx_fail(x, ocb_oom);
    x->nd[i].lo = lo, x->nd[i].nr = (x->nrg - lo) / 2;
    return e;
  }
  if (!(t = rx_escape(x, t, &r))) return NULL;
  if (rx_add(x, OCB_N_LIT, r) < 0) return rx_fail(x, ocb_oom);
  return t;
}

/* Wraps the last item of the sequence in a repeat node. */
static const char *rx_wrap(ocb_rx *x, int op, int min, int max, int nested, const char *after) {
  int last = x->lv[x->depth].tail, c;
  if (nested) return rx_fail(x, "invalid nested repetition operator");
  if (last < 0) return rx_fail(x, "missing argument to repetition operator");
  if ((c = rx_node(x, OCB_N_LIT)) < 0) return rx_fail(x, ocb_oom);
  x->nd[c] = x->nd[last];
  x->nd[c].next = -1;
  x->nd[last].op = op, x->nd[last].sub = c;
  x->nd[last].r = min, x->nd[last].lo = max;
  return after;
}

/* A decimal count at *t (Go's parseInt): -1 when too big, -2 when absent. */
static int rx_int(ocb_rx *x, const char **t) {
  const char *s = *t;
  int n = 0;
  if (s >= x->end || *s < '0' || *s > '9') return -2;
  if (x->end - s >= 2 && s[0] == '0' && s[1] >= '0' && s[1] <= '9') return -2;
  for (; s < x->end && *s >= '0' && *s <= '9'; s++)
    n = n < 0 || n >= 100000000 ? -1 : n * 10 + (*s - '0');
  *t = s;
  return n;
}

/* {n}, {n,} or {n,m} at t: 1 with the counts and *after, or 0 when it is not
 * one (the '{' is then a literal). */
static int rx_counts(ocb_rx *x, const char *t, int *min, int *max, const char **after) {
  t++;
  if ((*min = rx_int(x, &t)) == -2 || t >= x->end) return 0;
  if (*t != ',')
    *max = *min;
  else if (++t >= x->end)
    return 0;
  else if (*t == '}')
    *max = -1;
  else if ((*max = rx_int(x, &t)) == -2)
    return 0;
  else if (*max < 0)
    *min = -1;
  if (t >= x->end || *t != '}') return 0;
  *after = t + 1;
  return 1;
}

/* *, +, ? or {...} at t, applied to the last item of the sequence. */
static const char *rx_repeat(ocb_rx *x, const char *t, int nested, int *rep) {
  int min = 0, max = -1, op = OCB_N_REPEAT;
  const char *after = t + 1;
  if (*t == '{') {
    if (!rx_counts(x, t, &min, &max, &after)) {
      *rep = 0;
      return rx_add(x, OCB_N_LIT, '{') < 0 ? rx_fail(x, ocb_oom) : t + 1;
    }
    if (min < 0 || min > 1000 || max > 1000 || (max >= 0 && min > max))
      return rx_fail(x, "invalid repeat count");
  } else
    op = *t == '*' ? OCB_N_STAR : *t == '+' ? OCB_N_PLUS : OCB_N_QUEST;
  if (after < x->end && *after == '?') after++; /* non-greedy: the same language */
  *rep = 1;
  return rx_wrap(x, op, min, max, nested, after);
}

static const char *rx_paren(ocb_rx *x, const char *t) {
  int g;
  if (*t == '(') {
    if (t + 1 < x->end && t[1] == '?') return rx_fail(x, "unsupported: (? groups");
    if (x->depth + 1 >= OCB_MAX_DEPTH) return rx_fail(x, "expression nests too deeply");
    if ((g = rx_add(x, OCB_N_GROUP, 0)) < 0) return rx_fail(x, ocb_oom);
    level_init(&x->lv[++x->depth], g);
    return t + 1;
  }
  if (x->depth == 0) return rx_fail(x, "unexpected )");
  if ((g = rx_level_end(x)) == -2) return rx_fail(x, ocb_oom);
  x->nd[x->lv[x->depth].grp].sub = g;
  x->depth--;
  return t + 1;
}

static const char *rx_single(ocb_rx *x, const char *t, int op, int32_t r) {
  return rx_add(x, op, r) < 0 ? rx_fail(x, ocb_oom) : t + 1;
}

int ocb_rx_parse(ocb_rx *x, const char *s, size_t n) {
  const char *t = s;
  int rep = 0;
  x->end = s + n;
  level_init(&x->lv[0], -1);
  while (t && t < x->end) {
    int was = rep;
    rep = 0;
    switch (*t) {
    case '(':
    case ')': t = rx_paren(x, t); break;
    case '|': t = rx_bar(x) < 0 ? rx_fail(x, ocb_oom) : t + 1; break;
    case '^': t = rx_single(x, t, OCB_N_EMPTY, OCB_E_BEGIN); break;
    case '$': t = rx_single(x, t, OCB_N_EMPTY, OCB_E_END); break;
    case '.': t = rx_single(x, t, OCB_N_ANY, 0); break;
    case '[': t = rx_class(x, t); break;
    case '*':
    case '+':
    case '?':
    case '{': t = rx_repeat(x, t, was, &rep); break;
    case '\\': t = rx_backslash(x, t); break;
    default: {
      int32_t r = rx_next(x, &t);
      if (rx_add(x, OCB_N_LIT, r) < 0) t = rx_fail(x, ocb_oom);
    }
    }
  }
  if (!t) return -1;
  if (x->depth) return rx_fail(x, "missing closing )"), -1;
  if ((x->top = rx_level_end(x)) == -2) return rx_fail(x, ocb_oom), -1;
  return 0;
}
