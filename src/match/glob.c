/*
 * glob.c: filepath.Match, kept for its syntax check. Docker validates a
 * .dockerignore pattern by matching it against "." with filepath.Match,
 * which reports a syntax error only in the parts it reaches, so the check
 * has to run the match as Go does, mismatches included.
 */
#include <stdint.h>
#include <string.h>

#include "rx.h"

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
  *r = ocb_utf8_decode((const unsigned char *)*c, *cn, &w);
  if (*r == OCB_RUNE_ERROR && w == 1) return glob_fail(why, "invalid UTF-8 in a character class");
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
      if (!failed) r = ocb_utf8_decode(u, sn, &w), u += w, sn -= w;
      c++, cn--;
      if (glob_class(&c, &cn, r, &hit, why) < 0) return -1;
      if (!hit) failed = 1;
      continue;
    }
    if (*c == '?') {
      if (!failed) {
        if (*u == '/') failed = 1;
        ocb_utf8_decode(u, sn, &w), u += w, sn -= w;
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
    } else if (p[i] == '[')
      inrange = 1;
    else if (p[i] == ']')
      inrange = 0;
    else if (p[i] == '*' && !inrange)
      break;
  }
  return i;
}

int ocb_glob_match(const char *p, size_t pn, const char *s, size_t sn, const char **why) {
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
