/*
 * match.c: the exclusion matcher, meaning what `docker build` means by a
 * .dockerignore (moby/patternmatcher v0.5.0). Each pattern is trimmed,
 * cleaned, checked with filepath.Match's syntax and turned into the regular
 * expression Docker derives from it, run as a small NFA over runes (rx.h
 * names the files for each step). Compiled once, read only after.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "rx.h"

/* ---------- patterns ---------- */

enum { T_EXACT, T_PREFIX, T_SUFFIX, T_REGEX };

typedef struct pat {
  int type, excl;
  size_t idx; /* position in the caller's list */
  char *str;  /* the cleaned pattern, without its '!' */
  size_t len;
  size_t trimlen; /* length without a trailing slash-star-star, then slash-star */
  int trimmeta;   /* that much holds a pattern character */
  ocb_prog *re;
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
  r = ocb_utf8_decode(sc->s + sc->pos, sc->n - sc->pos, &w);
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
static void translate_stars(scan *sc, ocb_sbuf *re, int *type, int first) {
  scan_next(sc);
  if (scan_peek(sc) == '/') scan_next(sc);
  if (scan_peek(sc) == -1) {
    if (*type == T_EXACT)
      *type = T_PREFIX;
    else
      ocb_sb_add(re, ".*", 2), *type = T_REGEX;
  } else
    ocb_sb_add(re, "(.*/)?", 6), *type = T_REGEX;
  if (first) *type = T_SUFFIX;
}

/* What Docker escapes: it means ".+()|{}$", but its bitmap holds only the
 * bytes below 64, so '|', '{' and '}' reach the expression as they are. */
static const char ESCAPED[] = ".+()$";

/* Docker's pattern-to-expression translation; the match type. */
static int translate(const char *p, size_t n, ocb_sbuf *re) {
  scan sc = {(const unsigned char *)p, n, 0, -2};
  int type = T_EXACT, i;
  ocb_sb_add(re, "^", 1);
  for (i = 0; scan_peek(&sc) != -1; i++) {
    int32_t c = scan_next(&sc);
    if (c == '*' && scan_peek(&sc) == '*')
      translate_stars(&sc, re, &type, i == 0);
    else if (c == '*')
      ocb_sb_add(re, "[^/]*", 5), type = T_REGEX;
    else if (c == '?')
      ocb_sb_add(re, "[^/]", 4), type = T_REGEX;
    else if (c < 0x80 && c && strchr(ESCAPED, c))
      ocb_sb_add(re, "\\", 1), ocb_sb_rune(re, c);
    else if (c == '\\' && scan_peek(&sc) != -1)
      ocb_sb_add(re, "\\", 1), ocb_sb_rune(re, scan_next(&sc)), type = T_REGEX;
    else if (c == '[' || c == ']')
      ocb_sb_rune(re, c), type = T_REGEX;
    else
      ocb_sb_rune(re, c);
  }
  ocb_sb_add(re, "$", 1);
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
  ocb_sbuf re = {0};
  if (!(p->str = malloc(n + 2))) return -2;
  p->len = ocb_clean_path(s, n, p->str);
  if (p->str[0] == '!') {
    if (p->len == 1) return snprintf(msg, msglen, "illegal exclusion pattern: \"!\""), -1;
    p->excl = 1;
    memmove(p->str, p->str + 1, p->len--);
  }
  if (ocb_glob_match(p->str, p->len, ".", 1, &why) < 0)
    return snprintf(msg, msglen, "syntax error in pattern: %s", why), -1;
  p->type = translate(p->str, p->len, &re);
  if (re.oom) return -2;
  if (p->type == T_REGEX && !(p->re = ocb_prog_new(re.p, re.n, &why))) {
    char q[256];
    ocb_quote(q, sizeof q, re.p, re.n);
    if (why == ocb_oom)
      snprintf(msg, msglen, "%s", why);
    else if (!strncmp(why, "unsupported", 11))
      snprintf(msg, msglen, "%s", why);
    else
      snprintf(msg, msglen, "syntax error in pattern: %s, in regular expression %s", why, q);
    free(re.p);
    return why == ocb_oom ? -2 : -1;
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
  const ocb_prog *g = p->re;
  const ocb_onechar *t = &g->tail[0];
  unsigned c;
  if (g->nsuf)
    ends_add(p, (unsigned char)g->suf[g->nsuf - 1]);
  else if (g->literal && g->npre)
    ends_add(p, (unsigned char)g->pre[g->npre - 1]);
  else if (!g->ntail || t->op == OCB_N_ANY)
    ends_all(p, 0);
  else {
    ends_all(p, 0x80);
    for (c = 0; c < 0x80; c++)
      if (t->op == OCB_N_LIT ? (int32_t)c == t->r
                             : ocb_ranges_hold(g->rg + t->lo, t->nr, (int32_t)c))
        ends_add(p, c);
  }
}

/* Fills p->ends; a non-empty string must end with one of them to match. */
static void pat_ends(pat *p) {
  switch (p->type) {
  case T_EXACT: ends_add(p, (unsigned char)p->str[p->len - 1]); break;
  case T_SUFFIX:
    if (p->len > 2)
      ends_add(p, (unsigned char)p->str[p->len - 1]);
    else
      ends_all(p, 0);
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
  case T_EXACT: return n == p->len && ocb_same(s, p->str, n);
  case T_PREFIX: return n >= sn && ocb_same(s, p->str, sn);
  case T_SUFFIX:
    if (n >= sn && ocb_same(s + n - sn, suf, sn)) return 1;
    return sn > 0 && suf[0] == '/' && n == sn - 1 && ocb_same(s, suf + 1, n);
  default: return ocb_prog_match(p->re, s, n);
  }
}

/* Go's filepath.Dir(path) for the parent checks. */
#define MAX_CUTS 64

typedef struct pdir {
  const char *p;
  size_t n;
  int none; /* Dir is ".": no parents to check */
  int ncut; /* lengths of the directories to check, or -1: too many */
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
    return d->n >= p->len && (d->n == p->len || d->p[p->len] == '/') &&
           ocb_same(d->p, p->str, p->len);
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
      d->n = ocb_clean_path(s, i, out);
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
    ocb_prog_free(m->p[i].re);
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
    ocb_trim_space(pats[i], lens[i], &a, &b);
    if (a == b) continue;
    p->idx = i;
    m->n++;
    if ((r = pat_init(p, pats[i] + a, b - a, why, sizeof why)) < 0) {
      ocb_quote(q, sizeof q, pats[i], lens[i]);
      if (r == -2)
        ocb_errno(err, ENOMEM, q);
      else
        ocb_errf_bare(err, "BADPATTERN", "bad pattern '%s': %s", q, why);
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

#define BIT(st, i) ((st)[(i) >> 3] & (1u << ((i)&7)))
#define SET(st, i) ((st)[(i) >> 3] |= (unsigned char)(1u << ((i)&7)))

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
  int matched = 0, have_dir = 0;
  size_t i;
  *why = -1;
  for (i = 0; i < m->n; i++) {
    const pat *p = &m->p[i];
    int hit;
    if (p->excl != matched) continue;
    if (!(hit = pat_match(p, path, len))) {
      if (!have_dir) pdir_init(&d, path, len), have_dir = 1; /* only once a pattern needs it */
      hit = !d.none && pat_match_dirs(p, &d);
    }
    if (hit) matched = !p->excl, *why = (int)p->idx;
  }
  if (have_dir) pdir_free(&d);
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
