/*
 * match.c: the exclusion matcher, meaning what `docker build` means by a
 * .dockerignore (moby/patternmatcher v0.5.0). Each pattern is trimmed and
 * cleaned, checked with filepath.Match's syntax, turned into the regular
 * expression Docker derives from it, and that expression is parsed with Go's
 * RE2 rules and run as a small NFA over runes. Compiled once, read only after.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocb.h"

#define RUNE_ERROR 0xfffd
#define MAX_RUNE 0x10ffff
#define MAX_INST 2048 /* steps of one expression: bounds the matcher's stack */
#define MAX_DEPTH 32  /* nested groups in one expression */

static const char OOM[] = "out of memory";

/* ---------- UTF-8 and strings, as Go sees them ---------- */

/* Go's utf8.DecodeRune: an invalid or truncated sequence is U+FFFD, 1 byte. */
static int32_t dec(const unsigned char *s, size_t n, size_t *w) {
  unsigned c = s[0], lo = 0x80, hi = 0xbf;
  size_t len, i;
  int32_t r;
  *w = 1;
  if (c < 0x80) return (int32_t)c;
  if (c < 0xc2 || c > 0xf4) return RUNE_ERROR;
  if (c < 0xe0) len = 2, r = c & 0x1f;
  else if (c < 0xf0) len = 3, r = c & 0x0f, lo = c == 0xe0 ? 0xa0 : lo, hi = c == 0xed ? 0x9f : hi;
  else len = 4, r = c & 0x07, lo = c == 0xf0 ? 0x90 : lo, hi = c == 0xf4 ? 0x8f : hi;
  if (n < 2 || s[1] < lo || s[1] > hi) return RUNE_ERROR;
  r = (r << 6) | (s[1] & 0x3f);
  for (i = 2; i < len; i++) {
    if (i >= n || (s[i] & 0xc0) != 0x80) return RUNE_ERROR;
    r = (r << 6) | (s[i] & 0x3f);
  }
  *w = len;
  return r;
}

/* Go's string(rune): surrogates and out-of-range runes become U+FFFD. */
static size_t enc(char *o, int32_t r) {
  if (r < 0 || r > MAX_RUNE || (r >= 0xd800 && r <= 0xdfff)) r = RUNE_ERROR;
  if (r < 0x80) return o[0] = (char)r, 1;
  if (r < 0x800) {
    o[0] = (char)(0xc0 | (r >> 6)), o[1] = (char)(0x80 | (r & 0x3f));
    return 2;
  }
  if (r < 0x10000) {
    o[0] = (char)(0xe0 | (r >> 12)), o[1] = (char)(0x80 | ((r >> 6) & 0x3f));
    o[2] = (char)(0x80 | (r & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (r >> 18)), o[1] = (char)(0x80 | ((r >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((r >> 6) & 0x3f)), o[3] = (char)(0x80 | (r & 0x3f));
  return 4;
}

/* unicode.IsSpace */
static int is_space(int32_t r) {
  switch (r) {
  case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case 0x85: case 0xa0:
  case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
    return 1;
  }
  return r >= 0x2000 && r <= 0x200a;
}

/* strings.TrimSpace: the kept bytes are s[*a, *b). */
static void trim_space(const char *s, size_t n, size_t *a, size_t *b) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, w, end = 0;
  int lead = 1;
  *a = n;
  while (i < n) {
    int sp = is_space(dec(u + i, n - i, &w));
    if (!sp && lead) *a = i, lead = 0;
    i += w;
    if (!sp) end = i;
  }
  *b = lead ? n : end;
}

/* filepath.Clean (Unix) of s into out, which holds n + 2 bytes; the length. */
static size_t clean_path(const char *s, size_t n, char *out) {
  size_t r = 0, w = 0, dotdot = 0;
  int rooted = n > 0 && s[0] == '/';
  if (rooted) out[w++] = '/', r = 1, dotdot = 1;
  while (r < n) {
    if (s[r] == '/') r++;
    else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) r++;
    else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
      r += 2;
      if (w > dotdot) {
        for (w--; w > dotdot && out[w] != '/'; w--) {}
      } else if (!rooted) {
        if (w > 0) out[w++] = '/';
        out[w++] = '.', out[w++] = '.';
        dotdot = w;
      }
    } else {
      if ((rooted && w != 1) || (!rooted && w != 0)) out[w++] = '/';
      for (; r < n && s[r] != '/'; r++) out[w++] = s[r];
    }
  }
  if (w == 0) out[w++] = '.';
  out[w] = '\0';
  return w;
}

/* A growing byte buffer; a failed allocation sticks in oom. */
typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 64;
    char *np;
    while (c < b->n + n + 1) c *= 2;
    if (!(np = realloc(b->p, c))) {
      b->oom = 1;
      return;
    }
    b->p = np, b->cap = c;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void sb_rune(sbuf *b, int32_t r) {
  char u[4];
  sb_add(b, u, enc(u, r));
}

/* ---------- filepath.Match's syntax check ---------- */

/* Docker validates a pattern by matching it against "." with filepath.Match,
 * which reports a syntax error only in the parts it reaches. */

static int glob_fail(const char **why, const char *reason) {
  *why = reason;
  return -1;
}

/* A possibly escaped character of a class at *c (filepath's getEsc). */
static int glob_esc(const char **c, size_t *cn, int32_t *r, int hi, const char **why) {
  size_t w;
  if (*cn == 0) return glob_fail(why, "unterminated character class");
  if (**c == '-') return glob_fail(why, "'-' where a class character was expected");
  if (**c == ']')
    return glob_fail(why, hi ? "character range without an end" : "empty character class");
  if (**c == '\\') {
    (*c)++, (*cn)--;
    if (*cn == 0) return glob_fail(why, "unterminated character class");
  }
  *r = dec((const unsigned char *)*c, *cn, &w);
  if (*r == RUNE_ERROR && w == 1) return glob_fail(why, "invalid UTF-8 in a character class");
  *c += w, *cn -= w;
  if (*cn == 0) return glob_fail(why, "unterminated character class");
  return 0;
}

/* One class [...] at *c against rune r; *hit when it matches. */
static int glob_class(const char **c, size_t *cn, int32_t r, int *hit, const char **why) {
  int neg = 0, nrange = 0;
  *hit = 0;
  if (*cn && **c == '^') neg = 1, (*c)++, (*cn)--;
  for (;;) {
    int32_t lo, hi;
    if (*cn && **c == ']' && nrange > 0) {
      (*c)++, (*cn)--;
      break;
    }
    if (glob_esc(c, cn, &lo, 0, why) < 0) return -1;
    hi = lo;
    if (**c == '-') {
      (*c)++, (*cn)--;
      if (glob_esc(c, cn, &hi, 1, why) < 0) return -1;
    }
    if (lo <= r && r <= hi) *hit = 1;
    nrange++;
  }
  if (neg) *hit = !*hit;
  return 0;
}

/* filepath's matchChunk: 1 with *rest (bytes of s left), 0, or -1. It keeps
 * parsing the chunk after a mismatch, for the syntax errors. */
static int glob_chunk(const char *c, size_t cn, const char *s, size_t sn, size_t *rest,
                      const char **why) {
  const unsigned char *u = (const unsigned char *)s;
  int failed = 0;
  size_t w;
  while (cn > 0) {
    if (!failed && sn == 0) failed = 1;
    if (*c == '[') {
      int32_t r = 0;
      int hit;
      if (!failed) r = dec(u, sn, &w), u += w, sn -= w;
      c++, cn--;
      if (glob_class(&c, &cn, r, &hit, why) < 0) return -1;
      if (!hit) failed = 1;
      continue;
    }
    if (*c == '?') {
      if (!failed) {
        if (*u == '/') failed = 1;
        dec(u, sn, &w), u += w, sn -= w;
      }
      c++, cn--;
      continue;
    }
    if (*c == '\\') {
      c++, cn--;
      if (cn == 0) return glob_fail(why, "trailing backslash");
    }
    if (!failed) {
      if ((unsigned char)*c != *u) failed = 1;
      u++, sn--;
    }
    c++, cn--;
  }
  if (failed) return 0;
  *rest = sn;
  return 1;
}

/* Length of the chunk at p: up to the next '*' outside a class. */
static size_t glob_chunk_len(const char *p, size_t n) {
  size_t i;
  int inrange = 0;
  for (i = 0; i < n; i++) {
    if (p[i] == '\\') {
      if (i + 1 < n) i++;
    } else if (p[i] == '[') inrange = 1;
    else if (p[i] == ']') inrange = 0;
    else if (p[i] == '*' && !inrange) break;
  }
  return i;
}

/* filepath.Match(p, s): 1, 0, or -1 with *why. */
static int glob_match(const char *p, size_t pn, const char *s, size_t sn, const char **why) {
  while (pn > 0) {
    int star = 0, r;
    size_t cn, rest, i;
    while (pn && *p == '*') p++, pn--, star = 1;
    cn = glob_chunk_len(p, pn);
    if (star && cn == 0) return memchr(s, '/', sn) == NULL;
    r = glob_chunk(p, cn, s, sn, &rest, why);
    if (r < 0) return -1;
    if (r == 1 && (rest == 0 || pn > cn)) {
      s += sn - rest, sn = rest, p += cn, pn -= cn;
      continue;
    }
    if (!star) return 0;
    for (i = 0; i < sn && s[i] != '/'; i++) {
      r = glob_chunk(p, cn, s + i + 1, sn - i - 1, &rest, why);
      if (r < 0) return -1;
      if (r == 1 && !(pn == cn && rest > 0)) break;
    }
    if (i == sn || s[i] == '/') return 0;
    s += sn - rest, sn = rest, p += cn, pn -= cn;
  }
  return sn == 0;
}

/* ---------- Go regular expressions (the RE2 syntax Docker's strings use) ---------- */

enum { N_LIT, N_CLASS, N_ANY, N_EMPTY, N_GROUP, N_CAT, N_ALT, N_STAR, N_PLUS, N_QUEST, N_REPEAT };
enum { E_BEGIN = 1, E_END = 2, E_WORD = 4, E_NOTWORD = 8 };

/* A parsed expression: sequences are lists linked by next; a group or an
 * N_CAT holds one in sub; an N_ALT's sub is a list of N_CATs. */
typedef struct node {
  int op, sub, next; /* sub: contents (group, N_CAT, N_ALT) or operand (repeats) */
  int32_t r;         /* rune (N_LIT), E_* (N_EMPTY), minimum (N_REPEAT) */
  int lo, nr;        /* N_CLASS: first range and number of ranges; N_REPEAT: lo = max */
} node;

typedef struct level { /* the top, or one open group */
  int head, tail; /* the sequence being read */
  int alts, last; /* alternatives finished by '|' (N_CAT list) */
  int grp;        /* the N_GROUP node it fills */
} level;

typedef struct rxp {
  const char *end, *why;
  node *nd;
  int nn, ncap;
  int32_t *rg; /* class ranges as lo, hi pairs */
  int nrg, rgcap;
  level lv[MAX_DEPTH];
  int depth, top;
} rxp;

static const char *rx_fail(rxp *x, const char *why) {
  x->why = why;
  return NULL;
}

static int rx_node(rxp *x, int op) {
  node *n;
  if (x->nn == x->ncap) {
    int c = x->ncap ? x->ncap * 2 : 32;
    node *nd = realloc(x->nd, (size_t)c * sizeof *nd);
    if (!nd) return -1;
    x->nd = nd, x->ncap = c;
  }
  n = &x->nd[x->nn];
  memset(n, 0, sizeof *n);
  n->op = op, n->sub = n->next = -1;
  return x->nn++;
}

/* Appends a node to the sequence being parsed. */
static int rx_add(rxp *x, int op, int32_t r) {
  int i = rx_node(x, op);
  level *l = &x->lv[x->depth];
  if (i < 0) return -1;
  x->nd[i].r = r;
  if (l->tail < 0) l->head = i;
  else x->nd[l->tail].next = i;
  l->tail = i;
  return i;
}

static void level_init(level *l, int grp) {
  l->head = l->tail = l->alts = l->last = -1;
  l->grp = grp;
}

/* '|': the sequence read so far becomes an alternative. */
static int rx_bar(rxp *x) {
  int c = rx_node(x, N_CAT);
  level *l = &x->lv[x->depth];
  if (c < 0) return -1;
  x->nd[c].sub = l->head;
  if (l->last < 0) l->alts = c;
  else x->nd[l->last].next = c;
  l->last = c;
  l->head = l->tail = -1;
  return 0;
}

/* Ends the current level: its contents as a sequence (-2: out of memory). */
static int rx_level_end(rxp *x) {
  int a;
  if (x->lv[x->depth].alts < 0) return x->lv[x->depth].head;
  if (rx_bar(x) < 0 || (a = rx_node(x, N_ALT)) < 0) return -2;
  x->nd[a].sub = x->lv[x->depth].alts;
  return a;
}

static int rx_range(rxp *x, int32_t lo, int32_t hi) {
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
static int rx_group(rxp *x, const int32_t *g, int n, int neg) {
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
  if (neg && next <= MAX_RUNE && rx_range(x, next, MAX_RUNE) < 0) return -1;
  return 0;
}

static int cmp_range(const void *a, const void *b) {
  const int32_t *p = a, *q = b;
  if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
  return p[1] > q[1] ? -1 : p[1] < q[1];
}

/* Sorts and merges the ranges from lo on, negates them if asked; the count. */
static int rx_class_end(rxp *x, int lo, int neg) {
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
static const char *rx_perl(rxp *x, const char *t, int *ok) {
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
  if (rx_group(x, g, n, t[1] < 'a') < 0) return rx_fail(x, OOM);
  return t + 2;
}

/* [:name:] at t (Go looks for the closing ":]" anywhere further on). */
static const char *rx_posix(rxp *x, const char *t, int *ok) {
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
      if (rx_group(x, POSIX[i].r, POSIX[i].n, neg) < 0) return rx_fail(x, OOM);
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

static int32_t rx_next(rxp *x, const char **t) {
  size_t w;
  int32_t r;
  if (*t >= x->end) return RUNE_ERROR; /* as Go's nextRune on "" */
  r = dec((const unsigned char *)*t, (size_t)(x->end - *t), &w);
  *t += w;
  return r;
}

/* \x41, \x{10FFFF}: t is past the 'x'. */
static const char *rx_hex(rxp *x, const char *t, int32_t *r) {
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
    if ((hi = unhex(c)) < 0 || (v = v * 16 + hi) > MAX_RUNE) return NULL;
    n++;
  }
  *r = v;
  return n ? t : NULL;
}

/* One escaped character at t (Go's parseEscape). */
static const char *rx_escape(rxp *x, const char *t, int32_t *r) {
  const char *q;
  int32_t c;
  int i;
  if (++t >= x->end) return rx_fail(x, "trailing backslash at end of expression");
  c = rx_next(x, &t);
  switch (c) {
  case '1': case '2': case '3': case '4': case '5': case '6': case '7':
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

static int rx_unicode(const rxp *x, const char *t) {
  return x->end - t >= 2 && t[0] == '\\' && (t[1] == 'p' || t[1] == 'P');
}

#define UNICODE_UNSUPPORTED "unsupported: Unicode classes (\\p, \\P) in a regular expression"

/* A class [...] at t (Go's parseClass, with PerlX and ClassNL). */
static const char *rx_class(rxp *x, const char *t) {
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
    } else a = rx_next(x, &t);
    b = a;
    if (x->end - t >= 2 && t[0] == '-' && t[1] != ']') {
      t++;
      if (t >= x->end) return rx_fail(x, "missing closing ]");
      if (*t == '\\') {
        if (!(t = rx_escape(x, t, &b))) return NULL;
      } else b = rx_next(x, &t);
      if (b < a) return rx_fail(x, "invalid character class range");
    }
    if (rx_range(x, a, b) < 0) return rx_fail(x, OOM);
  }
  if ((n = rx_class_end(x, lo, neg)) < 0) return rx_fail(x, OOM);
  if ((i = rx_add(x, N_CLASS, 0)) < 0) return rx_fail(x, OOM);
  if (n == 1 && x->rg[lo] == x->rg[lo + 1]) { /* one rune: a literal, as Go makes it */
    x->nd[i].op = N_LIT, x->nd[i].r = x->rg[lo], x->nrg = lo;
    return t + 1;
  }
  x->nd[i].lo = lo, x->nd[i].nr = n;
  return t + 1;
}

/* A backslash sequence outside classes. */
static const char *rx_backslash(rxp *x, const char *t) {
  static const char empties[] = "AbBz";
  static const int32_t flags[] = {E_BEGIN, E_WORD, E_NOTWORD, E_END};
  const char *e;
  int32_t r;
  int ok, lo = x->nrg, i;
  if (x->end - t >= 2 && t[1] && (e = strchr(empties, t[1]))) {
    if (rx_add(x, N_EMPTY, flags[e - empties]) < 0) return rx_fail(x, OOM);
    return t + 2;
  }
  if (x->end - t >= 2 && t[1] == 'C') return rx_fail(x, "invalid escape sequence");
  if (x->end - t >= 2 && t[1] == 'Q') { /* \Q...\E: literal text */
    for (t += 2; t < x->end && !(t[0] == '\\' && t + 1 < x->end && t[1] == 'E');)
      if (rx_add(x, N_LIT, rx_next(x, &t)) < 0) return rx_fail(x, OOM);
    return t < x->end ? t + 2 : t;
  }
  if (rx_unicode(x, t)) return rx_fail(x, UNICODE_UNSUPPORTED);
  if (!(e = rx_perl(x, t, &ok))) return NULL;
  if (ok) {
    if ((i = rx_add(x, N_CLASS, 0)) < 0) return rx_fail(x, OOM);
    x->nd[i].lo = lo, x->nd[i].nr = (x->nrg - lo) / 2;
    return e;
  }
  if (!(t = rx_escape(x, t, &r))) return NULL;
  if (rx_add(x, N_LIT, r) < 0) return rx_fail(x, OOM);
  return t;
}

/* Wraps the last item of the sequence in a repeat node. */
static const char *rx_wrap(rxp *x, int op, int min, int max, int nested, const char *after) {
  int last = x->lv[x->depth].tail, c;
  if (nested) return rx_fail(x, "invalid nested repetition operator");
  if (last < 0) return rx_fail(x, "missing argument to repetition operator");
  if ((c = rx_node(x, N_LIT)) < 0) return rx_fail(x, OOM);
  x->nd[c] = x->nd[last];
  x->nd[c].next = -1;
  x->nd[last].op = op, x->nd[last].sub = c;
  x->nd[last].r = min, x->nd[last].lo = max;
  return after;
}

/* A decimal count at *t (Go's parseInt): -1 when too big, -2 when absent. */
static int rx_int(rxp *x, const char **t) {
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
static int rx_counts(rxp *x, const char *t, int *min, int *max, const char **after) {
  t++;
  if ((*min = rx_int(x, &t)) == -2 || t >= x->end) return 0;
  if (*t != ',') *max = *min;
  else if (++t >= x->end) return 0;
  else if (*t == '}') *max = -1;
  else if ((*max = rx_int(x, &t)) == -2) return 0;
  else if (*max < 0) *min = -1;
  if (t >= x->end || *t != '}') return 0;
  *after = t + 1;
  return 1;
}

/* *, +, ? or {...} at t, applied to the last item of the sequence. */
static const char *rx_repeat(rxp *x, const char *t, int nested, int *rep) {
  int min = 0, max = -1, op = N_REPEAT;
  const char *after = t + 1;
  if (*t == '{') {
    if (!rx_counts(x, t, &min, &max, &after)) {
      *rep = 0;
      return rx_add(x, N_LIT, '{') < 0 ? rx_fail(x, OOM) : t + 1;
    }
    if (min < 0 || min > 1000 || max > 1000 || (max >= 0 && min > max))
      return rx_fail(x, "invalid repeat count");
  } else op = *t == '*' ? N_STAR : *t == '+' ? N_PLUS : N_QUEST;
  if (after < x->end && *after == '?') after++; /* non-greedy: the same language */
  *rep = 1;
  return rx_wrap(x, op, min, max, nested, after);
}

static const char *rx_paren(rxp *x, const char *t) {
  int g;
  if (*t == '(') {
    if (t + 1 < x->end && t[1] == '?') return rx_fail(x, "unsupported: (? groups");
    if (x->depth + 1 >= MAX_DEPTH) return rx_fail(x, "expression nests too deeply");
    if ((g = rx_add(x, N_GROUP, 0)) < 0) return rx_fail(x, OOM);
    level_init(&x->lv[++x->depth], g);
    return t + 1;
  }
  if (x->depth == 0) return rx_fail(x, "unexpected )");
  if ((g = rx_level_end(x)) == -2) return rx_fail(x, OOM);
  x->nd[x->lv[x->depth].grp].sub = g;
  x->depth--;
  return t + 1;
}

static const char *rx_single(rxp *x, const char *t, int op, int32_t r) {
  return rx_add(x, op, r) < 0 ? rx_fail(x, OOM) : t + 1;
}

/* Parses s[0, n) into x (Go's regexp/syntax.Parse with syntax.Perl flags). */
static int rx_parse(rxp *x, const char *s, size_t n) {
  const char *t = s;
  int rep = 0;
  x->end = s + n;
  level_init(&x->lv[0], -1);
  while (t && t < x->end) {
    int was = rep;
    rep = 0;
    switch (*t) {
    case '(': case ')': t = rx_paren(x, t); break;
    case '|': t = rx_bar(x) < 0 ? rx_fail(x, OOM) : t + 1; break;
    case '^': t = rx_single(x, t, N_EMPTY, E_BEGIN); break;
    case '$': t = rx_single(x, t, N_EMPTY, E_END); break;
    case '.': t = rx_single(x, t, N_ANY, 0); break;
    case '[': t = rx_class(x, t); break;
    case '*': case '+': case '?': case '{': t = rx_repeat(x, t, was, &rep); break;
    case '\\': t = rx_backslash(x, t); break;
    default: {
      int32_t r = rx_next(x, &t);
      if (rx_add(x, N_LIT, r) < 0) t = rx_fail(x, OOM);
    }
    }
  }
  if (!t) return -1;
  if (x->depth) return rx_fail(x, "missing closing )"), -1;
  if ((x->top = rx_level_end(x)) == -2) return rx_fail(x, OOM), -1;
  return 0;
}

/* ---------- programs ---------- */

enum { I_MATCH, I_RUNE, I_CLASS, I_ANY, I_EMPTY, I_SPLIT, I_JMP };

typedef struct inst {
  int op;
  int32_t r; /* I_RUNE: the rune; I_EMPTY: E_* */
  int x, y;  /* I_CLASS: first range, count; I_SPLIT: targets; I_JMP: x */
} inst;

#define NTAIL 4

typedef struct onechar { /* an item that reads exactly one rune */
  int op;                /* N_LIT, N_CLASS or N_ANY */
  int32_t r;
  int lo, nr;
} onechar;

typedef struct prog {
  inst *code;
  int n;
  int32_t *rg;
  int anchored;     /* starts with ^: runs from the start only */
  int start;        /* pc after the literal prefix */
  int32_t prev;     /* last rune of that prefix, -1 when none */
  int literal;      /* the expression is ^pre$: a plain compare */
  char *pre, *suf;  /* bytes every match starts / ends with */
  char *mid;        /* bytes every match holds between those */
  size_t npre, nsuf, nmid;
  onechar tail[NTAIL]; /* what the last runes before the suffix must be */
  int ntail;
  struct bitnfa *bits; /* the faster run, when the program allows it */
} prog;

static void prog_free(prog *g) {
  if (!g) return;
  free(g->code);
  free(g->rg);
  free(g->pre);
  free(g->suf);
  free(g->mid);
  free(g->bits);
  free(g);
}

static int emit_list(prog *g, const rxp *x, int i, int cap);

static int emit_inst(prog *g, int op, int32_t r, int a, int b, int cap) {
  if (g->n >= cap) return -1;
  g->code[g->n].op = op, g->code[g->n].r = r, g->code[g->n].x = a, g->code[g->n].y = b;
  return g->n++;
}

/* x* or x? around node i: split; x; [jump back]. */
static int emit_loop(prog *g, const rxp *x, int i, int star, int cap);

/* One node. */
static int emit_node(prog *g, const rxp *x, int i, int cap) {
  const node *n = &x->nd[i];
  int at = g->n, k;
  switch (n->op) {
  case N_LIT: return emit_inst(g, I_RUNE, n->r, 0, 0, cap);
  case N_CLASS: return emit_inst(g, I_CLASS, 0, n->lo, n->nr, cap);
  case N_ANY: return emit_inst(g, I_ANY, 0, 0, 0, cap);
  case N_EMPTY: return emit_inst(g, I_EMPTY, n->r, 0, 0, cap);
  case N_GROUP: case N_CAT: return emit_list(g, x, n->sub, cap);
  case N_STAR: case N_QUEST: return emit_loop(g, x, n->sub, n->op == N_STAR, cap);
  case N_PLUS:
    if (emit_node(g, x, n->sub, cap) < 0) return -1;
    return emit_inst(g, I_SPLIT, 0, at, g->n + 1, cap);
  case N_REPEAT: /* x{min,max}: min copies, then x* or (max - min) times x? */
    for (k = 0; k < n->r; k++)
      if (emit_node(g, x, n->sub, cap) < 0) return -1;
    if (n->lo < 0) return emit_loop(g, x, n->sub, 1, cap);
    for (; k < n->lo; k++)
      if (emit_loop(g, x, n->sub, 0, cap) < 0) return -1;
    return 0;
  default: { /* N_ALT: split to each alternative; each jumps to the end */
    int a, split, jumps = -1, j;
    for (a = n->sub; x->nd[a].next >= 0; a = x->nd[a].next) {
      if ((split = emit_inst(g, I_SPLIT, 0, g->n + 1, 0, cap)) < 0) return -1;
      if (emit_node(g, x, a, cap) < 0 || (j = emit_inst(g, I_JMP, 0, jumps, 0, cap)) < 0)
        return -1;
      jumps = j;
      g->code[split].y = g->n;
    }
    if (emit_node(g, x, a, cap) < 0) return -1;
    for (; jumps >= 0; jumps = j) j = g->code[jumps].x, g->code[jumps].x = g->n;
    return 0;
  }
  }
}

static int emit_loop(prog *g, const rxp *x, int i, int star, int cap) {
  int at = emit_inst(g, I_SPLIT, 0, g->n + 1, 0, cap);
  if (at < 0 || emit_node(g, x, i, cap) < 0) return -1;
  if (star && emit_inst(g, I_JMP, 0, at, 0, cap) < 0) return -1;
  g->code[at].y = g->n;
  return 0;
}

/* A sequence. */
static int emit_list(prog *g, const rxp *x, int i, int cap) {
  for (; i >= 0; i = x->nd[i].next)
    if (emit_node(g, x, i, cap) < 0) return -1;
  return 0;
}

static int safe_lit(const node *n) {
  return n->op == N_LIT && n->r != RUNE_ERROR && n->r <= MAX_RUNE && !(n->r >= 0xd800 && n->r <= 0xdfff);
}

/* The bytes of the literals seq[a, b) into *out. */
static int lits(const rxp *x, const int *seq, int a, int b, char **out, size_t *n) {
  sbuf sb = {0};
  for (; a < b; a++) sb_rune(&sb, x->nd[seq[a]].r);
  if (sb.oom) return -1;
  *out = sb.p, *n = sb.n;
  return 0;
}

/* The longest run of literals in seq[a, b): its start (length in *len). */
static int longest_run(const rxp *x, const int *seq, int a, int b, int *len) {
  int best = a, i, run = 0;
  *len = 0;
  for (i = a; i < b; i++) {
    run = safe_lit(&x->nd[seq[i]]) ? run + 1 : 0;
    if (run > *len) *len = run, best = i - run + 1;
  }
  return best;
}

/* Items reading one rune each, right before seq[b], as far back as a. */
static void tail_items(prog *g, const rxp *x, const int *seq, int a, int b) {
  for (g->ntail = 0; b > a && g->ntail < NTAIL; b--) {
    const node *n = &x->nd[seq[b - 1]];
    onechar *t = &g->tail[g->ntail];
    if (n->op != N_LIT && n->op != N_CLASS && n->op != N_ANY) break;
    t->op = n->op, t->r = n->r, t->lo = n->lo, t->nr = n->nr;
    g->ntail++;
  }
}

/* Prefilters, for an expression that is one sequence starting with ^ (so
 * always, but for a top-level '|'): the literal prefix after ^ (which the
 * run then skips), the literal suffix before a final $, the items before
 * that suffix, and the longest literal in between. Each is a necessary
 * condition of a match. */
static int prog_filters(prog *g, const rxp *x) {
  int i = x->top, n = 0, k = 0, j, end, mid, len, *seq;
  g->prev = -1;
  if (i < 0 || x->nd[i].op != N_EMPTY || x->nd[i].r != E_BEGIN) return 0;
  g->anchored = 1;
  for (j = x->nd[i].next; j >= 0; j = x->nd[j].next) n++;
  if (!(seq = malloc((size_t)(n ? n : 1) * sizeof *seq))) return -1;
  for (n = 0, j = x->nd[i].next; j >= 0; j = x->nd[j].next) seq[n++] = j;
  while (k < n && safe_lit(&x->nd[seq[k]])) g->prev = x->nd[seq[k++]].r;
  g->start = k ? 1 + k : 0; /* ^ and each literal are one instruction */
  end = j = n;
  if (n > k && x->nd[seq[n - 1]].op == N_EMPTY && x->nd[seq[n - 1]].r == E_END) {
    for (end = j = n - 1; j > k && safe_lit(&x->nd[seq[j - 1]]); j--) {}
    g->literal = k == end;
    tail_items(g, x, seq, k, j);
  }
  mid = longest_run(x, seq, k, j, &len);
  if (lits(x, seq, 0, k, &g->pre, &g->npre) < 0 || lits(x, seq, j, end, &g->suf, &g->nsuf) < 0 ||
      lits(x, seq, mid, mid + len, &g->mid, &g->nmid) < 0) {
    free(seq);
    return -1;
  }
  free(seq);
  return 0;
}

static int bits_new(prog *g);

/* Compiles Docker's regular expression s[0, n); NULL with *why on failure. */
static prog *prog_new(const char *s, size_t n, const char **why) {
  rxp x;
  prog *g = calloc(1, sizeof *g);
  memset(&x, 0, sizeof x);
  *why = OOM;
  if (!g) return NULL;
  if (rx_parse(&x, s, n) < 0) {
    *why = x.why;
    goto fail;
  }
  if (!(g->code = malloc(MAX_INST * sizeof *g->code))) goto fail;
  if (emit_list(g, &x, x.top, MAX_INST - 1) < 0) {
    *why = "unsupported: its regular expression needs more than 2048 steps";
    goto fail;
  }
  emit_inst(g, I_MATCH, 0, 0, 0, MAX_INST);
  {
    inst *c = realloc(g->code, (size_t)g->n * sizeof *c); /* give back the unused steps */
    if (c) g->code = c;
  }
  if (prog_filters(g, &x) < 0) goto fail;
  g->rg = x.rg, x.rg = NULL;
  if (bits_new(g) < 0) goto fail;
  free(x.nd);
  return g;
fail:
  free(x.nd);
  free(x.rg);
  prog_free(g);
  return NULL;
}

/* ---------- running a program ---------- */

/* memcmp(a, b, n) == 0 for the short strings of patterns, without a call. */
static int same(const char *a, const char *b, size_t n) {
  for (; n && *a == *b; n--) a++, b++;
  return n == 0;
}

static int is_word(int32_t r) {
  return (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || r == '_';
}

/* The empty-width conditions between rune a (-1: start) and b (-1: end). */
static int context(int32_t a, int32_t b) {
  int f = (a < 0 ? E_BEGIN : 0) | (b < 0 ? E_END : 0);
  return f | (is_word(a) != is_word(b) ? E_WORD : E_NOTWORD);
}

/* Is c in the sorted ranges r[0, 2n)? */
static int ranges_hold(const int32_t *r, int n, int32_t c) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (c < r[2 * mid]) hi = mid;
    else if (c > r[2 * mid + 1]) lo = mid + 1;
    else return 1;
  }
  return 0;
}

static int in_class(const prog *g, const inst *in, int32_t c) {
  return ranges_hold(g->rg + in->x, in->y, c);
}

typedef struct threads {
  uint16_t pc[MAX_INST];
  int n;
} threads;

/* Adds pc and what it reaches without reading (1 when that is a match). */
static int add(const prog *g, threads *l, uint64_t *seen, uint16_t *stk, int pc, int ctx) {
  int sp = 0;
  stk[sp++] = (uint16_t)pc;
  while (sp) {
    const inst *in;
    pc = stk[--sp];
    if (seen[pc >> 6] & (UINT64_C(1) << (pc & 63))) continue;
    seen[pc >> 6] |= UINT64_C(1) << (pc & 63);
    in = &g->code[pc];
    switch (in->op) {
    case I_MATCH: return 1;
    case I_JMP: stk[sp++] = (uint16_t)in->x; break;
    case I_SPLIT: stk[sp++] = (uint16_t)in->y, stk[sp++] = (uint16_t)in->x; break;
    case I_EMPTY:
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
  return dec(s + i, n - i, w);
}

/* Pike's simulation, without submatches: does some match exist? */
static int run(const prog *g, const unsigned char *s, size_t n) {
  threads lists[2], *cl = &lists[0], *nl = &lists[1], *t;
  uint64_t seen[MAX_INST / 64];
  uint16_t stk[2 * MAX_INST + 2];
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
      const inst *in = &g->code[cl->pc[k]];
      int ok = in->op == I_RUNE ? c == in->r : in->op == I_ANY ? c != '\n' : in_class(g, in, c);
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
typedef struct bitnfa {
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
static uint64_t closure(const prog *g, const int *bitof, int pc, int begin, int end, int *match,
                        unsigned char *seen, int *stk) {
  uint64_t out = 0;
  int sp = 0;
  memset(seen, 0, (size_t)g->n);
  *match = 0;
  stk[sp++] = pc;
  while (sp) {
    const inst *in = &g->code[pc = stk[--sp]];
    if (seen[pc]) continue;
    seen[pc] = 1;
    switch (in->op) {
    case I_MATCH: *match = 1; break;
    case I_JMP: stk[sp++] = in->x; break;
    case I_SPLIT: stk[sp++] = in->y, stk[sp++] = in->x; break;
    case I_EMPTY:
      if ((in->r == E_BEGIN && begin) || (in->r == E_END && end)) stk[sp++] = pc + 1;
      break;
    default: out |= UINT64_C(1) << bitof[pc];
    }
  }
  return out;
}

static int takes(const prog *g, const inst *in, int32_t c) {
  if (in->op == I_RUNE) return c == in->r;
  if (in->op == I_ANY) return c != '\n';
  return in_class(g, in, c);
}

/* Builds g->bits when the program qualifies (0), or leaves it NULL. */
static int bits_new(prog *g) {
  bitnfa *b;
  int *bitof, *stk, pc, j, m;
  unsigned char *seen;
  if (!g->anchored) return 0;
  for (pc = 0, j = 0; pc < g->n; pc++) {
    const inst *in = &g->code[pc];
    if (in->op == I_EMPTY && in->r != E_BEGIN && in->r != E_END) return 0;
    j += in->op == I_RUNE || in->op == I_CLASS || in->op == I_ANY;
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
    if (op == I_RUNE || op == I_CLASS || op == I_ANY) bitof[pc] = b->k, b->pc[b->k++] = pc;
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
static int run_bits(const prog *g, const unsigned char *s, size_t n) {
  const bitnfa *b = g->bits;
  size_t i = g->npre, w = 1;
  uint64_t st = b->init;
  if (b->init_done) return 1;
  if (i == n) return b->init_done_end;
  while (st) {
    int32_t c = s[i] < 0x80 ? s[i] : dec(s + i, n - i, &w);
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
    if (hay[i] == needle[0] && same(hay + i, needle, m)) return 1;
  return 0;
}

/* Do the ASCII characters before s[end] fit the tail items? (Any other
 * byte ends the check: only a full decode could tell which rune it is in.) */
static int tail_fits(const prog *g, const unsigned char *s, size_t end) {
  int k;
  for (k = 0; k < g->ntail; k++, end--) {
    const onechar *t = &g->tail[k];
    int32_t c;
    if (end <= g->npre) return 0; /* each item needs a rune after the prefix */
    if ((c = s[end - 1]) >= 0x80) return 1;
    if (t->op == N_LIT ? c != t->r : t->op == N_ANY ? c == '\n' : !ranges_hold(g->rg + t->lo, t->nr, c))
      return 0;
  }
  return 1;
}

static int prog_match(const prog *g, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (n < g->npre + g->nsuf || !same(s, g->pre, g->npre)) return 0;
  if (!same(s + n - g->nsuf, g->suf, g->nsuf)) return 0;
  if (g->literal) return n == g->npre + g->nsuf;
  if (g->ntail && !tail_fits(g, u, n - g->nsuf)) return 0;
  if (g->nmid && !holds(s + g->npre, n - g->npre - g->nsuf, g->mid, g->nmid)) return 0;
  return g->bits ? run_bits(g, u, n) : run(g, u, n);
}

/* ---------- patterns ---------- */

enum { T_EXACT, T_PREFIX, T_SUFFIX, T_REGEX };

typedef struct pat {
  int type, excl;
  size_t idx;     /* position in the caller's list */
  char *str;      /* the cleaned pattern, without its '!' */
  size_t len;
  size_t trimlen; /* length without a trailing slash-star-star, then slash-star */
  int trimmeta;   /* that much holds a pattern character */
  prog *re;
  uint64_t ends[4]; /* bytes a matching string can end with */
} pat;

struct ocb_matcher {
  size_t n;
  int exclusions;  /* some pattern is an exception */
  int prefix_only; /* no exception has pattern characters (fsutil) */
  pat p[];
};

/* Text-scanner view of a pattern: runes, a leading U+FEFF skipped. */
typedef struct scan {
  const unsigned char *s;
  size_t n, pos;
  int32_t ch; /* look-ahead: -2 none yet, -1 end */
} scan;

static int32_t scan_raw(scan *sc) {
  size_t w;
  int32_t r;
  if (sc->pos >= sc->n) return -1;
  r = dec(sc->s + sc->pos, sc->n - sc->pos, &w);
  sc->pos += w;
  return r;
}

static int32_t scan_peek(scan *sc) {
  if (sc->ch == -2 && (sc->ch = scan_raw(sc)) == 0xfeff) sc->ch = scan_raw(sc);
  return sc->ch;
}

static int32_t scan_next(scan *sc) {
  int32_t c = scan_peek(sc);
  if (c != -1) sc->ch = scan_raw(sc);
  return c;
}

/* '**' at the scanner: what Docker makes of it. */
static void translate_stars(scan *sc, sbuf *re, int *type, int first) {
  scan_next(sc);
  if (scan_peek(sc) == '/') scan_next(sc);
  if (scan_peek(sc) == -1) {
    if (*type == T_EXACT) *type = T_PREFIX;
    else sb_add(re, ".*", 2), *type = T_REGEX;
  } else sb_add(re, "(.*/)?", 6), *type = T_REGEX;
  if (first) *type = T_SUFFIX;
}

/* What Docker escapes: it means ".+()|{}$", but its bitmap holds only the
 * bytes below 64, so '|', '{' and '}' reach the expression as they are. */
static const char ESCAPED[] = ".+()$";

/* Docker's pattern-to-expression translation; the match type. */
static int translate(const char *p, size_t n, sbuf *re) {
  scan sc = {(const unsigned char *)p, n, 0, -2};
  int type = T_EXACT, i;
  sb_add(re, "^", 1);
  for (i = 0; scan_peek(&sc) != -1; i++) {
    int32_t c = scan_next(&sc);
    if (c == '*' && scan_peek(&sc) == '*') translate_stars(&sc, re, &type, i == 0);
    else if (c == '*') sb_add(re, "[^/]*", 5), type = T_REGEX;
    else if (c == '?') sb_add(re, "[^/]", 4), type = T_REGEX;
    else if (c < 0x80 && c && strchr(ESCAPED, c)) sb_add(re, "\\", 1), sb_rune(re, c);
    else if (c == '\\' && scan_peek(&sc) != -1)
      sb_add(re, "\\", 1), sb_rune(re, scan_next(&sc)), type = T_REGEX;
    else if (c == '[' || c == ']') sb_rune(re, c), type = T_REGEX;
    else sb_rune(re, c);
  }
  sb_add(re, "$", 1);
  return type;
}

/* fsutil's patternWithoutTrailingGlob, and whether it holds "*[]?^\". */
static void pat_trim(pat *p) {
  size_t n = p->len, i;
  if (n >= 3 && !memcmp(p->str + n - 3, "/**", 3)) n -= 3;
  if (n >= 2 && !memcmp(p->str + n - 2, "/*", 2)) n -= 2;
  p->trimlen = n;
  for (i = 0; i < n; i++)
    if (p->str[i] && strchr("*[]?^\\", p->str[i])) p->trimmeta = 1;
}

static void pat_ends(pat *p);

/* Fills p from a trimmed, non-empty pattern. Returns 0, -1 with the reason
 * in msg, or -2 when out of memory. */
static int pat_init(pat *p, const char *s, size_t n, char *msg, size_t msglen) {
  const char *why = NULL;
  sbuf re = {0};
  if (!(p->str = malloc(n + 2))) return -2;
  p->len = clean_path(s, n, p->str);
  if (p->str[0] == '!') {
    if (p->len == 1) return snprintf(msg, msglen, "illegal exclusion pattern: \"!\""), -1;
    p->excl = 1;
    memmove(p->str, p->str + 1, p->len--);
  }
  if (glob_match(p->str, p->len, ".", 1, &why) < 0)
    return snprintf(msg, msglen, "syntax error in pattern: %s", why), -1;
  p->type = translate(p->str, p->len, &re);
  if (re.oom) return -2;
  if (p->type == T_REGEX && !(p->re = prog_new(re.p, re.n, &why))) {
    char q[256];
    ocb_quote(q, sizeof q, re.p, re.n);
    if (why == OOM) snprintf(msg, msglen, "%s", why);
    else if (!strncmp(why, "unsupported", 11)) snprintf(msg, msglen, "%s", why);
    else snprintf(msg, msglen, "syntax error in pattern: %s, in regular expression %s", why, q);
    free(re.p);
    return why == OOM ? -2 : -1;
  }
  free(re.p);
  pat_trim(p);
  pat_ends(p);
  return 0;
}

static void ends_add(pat *p, unsigned c) {
  p->ends[c >> 6] |= UINT64_C(1) << (c & 63);
}

static void ends_all(pat *p, unsigned from) {
  unsigned c;
  for (c = from; c < 256; c++) ends_add(p, c);
}

/* What a regular expression's match ends with: its literal suffix, else the
 * last item before $ (a non-ASCII rune ends with a byte >= 0x80). */
static void ends_regex(pat *p) {
  const prog *g = p->re;
  const onechar *t = &g->tail[0];
  unsigned c;
  if (g->nsuf) ends_add(p, (unsigned char)g->suf[g->nsuf - 1]);
  else if (g->literal && g->npre) ends_add(p, (unsigned char)g->pre[g->npre - 1]);
  else if (!g->ntail || t->op == N_ANY) ends_all(p, 0);
  else {
    ends_all(p, 0x80);
    for (c = 0; c < 0x80; c++)
      if (t->op == N_LIT ? (int32_t)c == t->r : ranges_hold(g->rg + t->lo, t->nr, (int32_t)c))
        ends_add(p, c);
  }
}

/* Fills p->ends; a non-empty string must end with one of them to match. */
static void pat_ends(pat *p) {
  switch (p->type) {
  case T_EXACT: ends_add(p, (unsigned char)p->str[p->len - 1]); break;
  case T_SUFFIX:
    if (p->len > 2) ends_add(p, (unsigned char)p->str[p->len - 1]);
    else ends_all(p, 0);
    break;
  case T_PREFIX: ends_all(p, 0); break;
  default: ends_regex(p);
  }
}

static int pat_match(const pat *p, const char *s, size_t n) {
  unsigned c = n ? (unsigned char)s[n - 1] : 0;
  const char *suf = p->str + 2;
  size_t sn = p->len - 2;
  if (n && !(p->ends[c >> 6] >> (c & 63) & 1)) return 0; /* the cheapest refusal */
  switch (p->type) {
  case T_EXACT: return n == p->len && same(s, p->str, n);
  case T_PREFIX: return n >= sn && same(s, p->str, sn);
  case T_SUFFIX:
    if (n >= sn && same(s + n - sn, suf, sn)) return 1;
    return sn > 0 && suf[0] == '/' && n == sn - 1 && same(s, suf + 1, n);
  default: return prog_match(p->re, s, n);
  }
}

/* Go's filepath.Dir(path) for the parent checks. */
#define MAX_CUTS 64

typedef struct pdir {
  const char *p;
  size_t n;
  int none;  /* Dir is ".": no parents to check */
  int ncut;  /* lengths of the directories to check, or -1: too many */
  size_t cut[MAX_CUTS];
  char *heap;
  char buf[512];
} pdir;

/* The directories of d: each prefix of d->p that ends before a '/', and
 * d->p itself. */
static void pdir_cuts(pdir *d) {
  size_t k;
  d->ncut = 0;
  for (k = 0; k <= d->n; k++) {
    if (k < d->n && d->p[k] != '/') continue;
    if (d->ncut == MAX_CUTS) {
      d->ncut = -1;
      return;
    }
    d->cut[d->ncut++] = k;
  }
}

/* Does p match one of the directories of d? */
static int pat_match_dirs(const pat *p, const pdir *d) {
  const char *q, *e = d->p + d->n;
  int k;
  if (p->type == T_EXACT)
    return d->n >= p->len && (d->n == p->len || d->p[p->len] == '/') && same(d->p, p->str, p->len);
  if (p->type == T_PREFIX) return pat_match(p, d->p, d->n);
  for (k = 0; k < d->ncut; k++)
    if (pat_match(p, d->p, d->cut[k])) return 1;
  if (d->ncut >= 0) return 0;
  for (q = d->p; (q = memchr(q, '/', (size_t)(e - q))); q++)
    if (pat_match(p, d->p, (size_t)(q - d->p))) return 1;
  return pat_match(p, d->p, d->n);
}

/* 1 when s[0, n) is a relative path filepath.Clean leaves as it is. */
static int is_clean(const char *s, size_t n) {
  size_t i, seg = 0;
  for (i = 0; i <= n; i++) {
    size_t len = i - seg;
    if (i < n && s[i] != '/') continue;
    if (len == 0 || (len == 1 && s[seg] == '.') || (len == 2 && s[seg] == '.' && s[seg + 1] == '.'))
      return 0;
    seg = i + 1;
  }
  return 1;
}

static void pdir_init(pdir *d, const char *s, size_t n) {
  size_t i = n;
  char *out;
  d->heap = NULL, d->none = 0;
  while (i > 0 && s[i - 1] != '/') i--;
  /* Dir is Clean(s[0, i)), s[0, i) being empty or ending with '/' */
  if (i == 0) {
    d->p = s, d->n = 0, d->none = 1;
    return;
  }
  d->p = s, d->n = i - 1;
  if (!is_clean(s, i - 1)) {
    out = i + 2 <= sizeof d->buf ? d->buf : (d->heap = malloc(i + 2));
    if (out) { /* without memory for an unclean path's parent, check it as written */
      d->n = clean_path(s, i, out);
      d->p = out;
      d->none = d->n == 1 && out[0] == '.';
    }
  }
  pdir_cuts(d);
}

static void pdir_free(pdir *d) {
  free(d->heap);
}

/* ---------- the interface in ocb.h ---------- */

void ocb_matcher_free(ocb_matcher *m) {
  size_t i;
  if (!m) return;
  for (i = 0; i < m->n; i++) {
    free(m->p[i].str);
    prog_free(m->p[i].re);
  }
  free(m);
}

ocb_matcher *ocb_matcher_new(const char *const *pats, const size_t *lens, size_t n, size_t *bad,
                             ocb_err *err) {
  ocb_matcher *m = calloc(1, sizeof *m + n * sizeof(pat));
  size_t i;
  if (!m) {
    ocb_errno(err, ENOMEM, "matcher");
    return NULL;
  }
  m->prefix_only = 1;
  for (i = 0; i < n; i++) {
    size_t a, b;
    char why[640], q[256];
    int r;
    pat *p = &m->p[m->n];
    trim_space(pats[i], lens[i], &a, &b);
    if (a == b) continue;
    p->idx = i;
    m->n++;
    if ((r = pat_init(p, pats[i] + a, b - a, why, sizeof why)) < 0) {
      ocb_quote(q, sizeof q, pats[i], lens[i]);
      if (r == -2) ocb_errno(err, ENOMEM, q);
      else ocb_errf(err, "BADPATTERN", "bad pattern '%s': %s", q, why);
      *bad = i;
      ocb_matcher_free(m);
      return NULL;
    }
    m->exclusions |= p->excl;
    if (p->excl && p->trimmeta) m->prefix_only = 0;
  }
  return m;
}

/* The state of a directory: Docker's parentMatched, a bit per pattern. */
size_t ocb_matcher_state_size(const ocb_matcher *m) {
  return (m->n + 7) / 8;
}

#define BIT(st, i) ((st)[(i) >> 3] & (1u << ((i) & 7)))
#define SET(st, i) ((st)[(i) >> 3] |= (unsigned char)(1u << ((i) & 7)))

int ocb_matcher_walk(const ocb_matcher *m, const char *path, size_t len,
                     const unsigned char *parent, unsigned char *out, int *why) {
  pdir d;
  int matched = 0, have_dir = 0;
  size_t i;
  *why = -1;
  if (m->n) memset(out, 0, ocb_matcher_state_size(m));
  for (i = 0; i < m->n; i++) {
    const pat *p = &m->p[i];
    int hit = parent && BIT(parent, i);
    if (!hit) {
      if (p->excl != matched) continue;
      hit = pat_match(p, path, len);
      if (!hit && !parent) {
        if (!have_dir) pdir_init(&d, path, len), have_dir = 1;
        hit = !d.none && pat_match_dirs(p, &d);
      }
    }
    if (hit) {
      SET(out, i);
      matched = !p->excl, *why = (int)p->idx;
    }
  }
  if (have_dir) pdir_free(&d);
  return matched;
}

int ocb_matcher_path(const ocb_matcher *m, const char *path, size_t len, int *why) {
  pdir d;
  int matched = 0;
  size_t i;
  *why = -1;
  pdir_init(&d, path, len);
  for (i = 0; i < m->n; i++) {
    const pat *p = &m->p[i];
    if (p->excl != matched) continue;
    if (pat_match(p, path, len) || (!d.none && pat_match_dirs(p, &d)))
      matched = !p->excl, *why = (int)p->idx;
  }
  pdir_free(&d);
  return matched;
}

int ocb_matcher_descend(const ocb_matcher *m, const char *dir, size_t len) {
  size_t i;
  if (!m || !m->exclusions) return 0;
  if (!m->prefix_only) return 1;
  for (i = 0; i < m->n; i++) {
    const pat *p = &m->p[i];
    if (p->excl && p->trimlen >= len && !memcmp(p->str, dir, len) &&
        (p->trimlen == len || p->str[len] == '/'))
      return 1;
  }
  return 0;
}

/* ---------- Lua: core.matcher{...}, m:matches(path), m:walk(path, state) ---------- */

#define MATCHER_T "ocibuild.Matcher"

typedef struct {
  ocb_matcher *m;
} LMatcher;

ocb_matcher *ocb_check_matcher(lua_State *L, int idx) {
  LMatcher *lm;
  if (lua_isnoneornil(L, idx)) return NULL;
  lm = luaL_checkudata(L, idx, MATCHER_T);
  luaL_argcheck(L, lm->m != NULL, idx, "matcher is closed");
  return lm->m;
}

static int l_matcher(lua_State *L) {
  lua_Integer n, i;
  const char **pats;
  size_t *lens, bad = 0;
  LMatcher *lm;
  ocb_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = luaL_len(L, 1);
  luaL_checkstack(L, (int)(n < 1000000 ? n : 1000000) + 4, "too many patterns");
  pats = lua_newuserdatauv(L, (size_t)n * sizeof *pats + 1, 0);
  lens = lua_newuserdatauv(L, (size_t)n * sizeof *lens + 1, 0);
  for (i = 1; i <= n; i++) { /* the strings stay on the stack while they are used */
    if (lua_geti(L, 1, i) != LUA_TSTRING) luaL_argerror(L, 1, "patterns must be strings");
    pats[i - 1] = lua_tolstring(L, -1, &lens[i - 1]);
  }
  lm = lua_newuserdatauv(L, sizeof *lm, 0);
  lm->m = NULL;
  luaL_setmetatable(L, MATCHER_T);
  if (!(lm->m = ocb_matcher_new(pats, lens, (size_t)n, &bad, &err))) {
    ocb_pushfail(L, &err);
    lua_pushinteger(L, (lua_Integer)bad + 1);
    return 4;
  }
  return 1;
}

static int push_why(lua_State *L, int why) {
  if (why < 0) lua_pushnil(L);
  else lua_pushinteger(L, why + 1);
  return 1;
}

static int m_matches(lua_State *L) {
  ocb_matcher *m = ocb_check_matcher(L, 1);
  size_t len;
  const char *path = luaL_checklstring(L, 2, &len);
  int why, r;
  luaL_argcheck(L, m != NULL, 1, "matcher expected");
  r = ocb_matcher_path(m, path, len, &why);
  lua_pushboolean(L, r);
  return 1 + push_why(L, why);
}

static int m_walk(lua_State *L) {
  ocb_matcher *m = ocb_check_matcher(L, 1);
  size_t len, slen = 0, size;
  const char *path = luaL_checklstring(L, 2, &len);
  const char *parent = luaL_optlstring(L, 3, NULL, &slen);
  unsigned char *out;
  int why, r;
  luaL_argcheck(L, m != NULL, 1, "matcher expected");
  size = ocb_matcher_state_size(m);
  luaL_argcheck(L, !parent || slen == size, 3, "state of another matcher");
  out = lua_newuserdatauv(L, size + 1, 0);
  r = ocb_matcher_walk(m, path, len, (const unsigned char *)parent, out, &why);
  lua_pushboolean(L, r);
  lua_pushlstring(L, (const char *)out, size);
  return 2 + push_why(L, why);
}

static int m_descend(lua_State *L) {
  ocb_matcher *m = ocb_check_matcher(L, 1);
  size_t len;
  const char *dir = luaL_checklstring(L, 2, &len);
  luaL_argcheck(L, m != NULL, 1, "matcher expected");
  lua_pushboolean(L, ocb_matcher_descend(m, dir, len));
  return 1;
}

static int m_gc(lua_State *L) {
  LMatcher *lm = luaL_checkudata(L, 1, MATCHER_T);
  ocb_matcher_free(lm->m);
  lm->m = NULL;
  return 0;
}

void ocb_open_match(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"descend", m_descend}, {"matches", m_matches}, {"walk", m_walk}, {NULL, NULL}};
  ocb_createmeta(L, MATCHER_T, methods, m_gc);
  lua_pushcfunction(L, l_matcher);
  lua_setfield(L, -2, "matcher");
}
