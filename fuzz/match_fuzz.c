/*
 * match_fuzz.c: the .dockerignore matcher. The input is patterns, one a
 * line, an empty line, then paths. Every path is answered per path
 * (MatchesOrParentMatches), by a walk that matched each ancestor first
 * (MatchesUsingParentResults) and for descent. Without exceptions ('!')
 * the two answers must agree, each the reference of the other (with
 * exceptions they may differ, as in BuildKit: a parent's skipped exception
 * is not carried down). Nothing may crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/match.h"

#define MAXP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The walk's answer for path: each ancestor matched with its parent's state. */
static int walk_answer(const ocb_matcher *m, const char *path, size_t len) {
  size_t ss = ocb_matcher_state_size(m), i;
  unsigned char *a = calloc(1, ss + 1), *b = calloc(1, ss + 1), *parent = NULL, *t;
  int why, r = 0;
  for (i = 0; i <= len; i++) {
    if (i < len && path[i] != '/') continue;
    if (i == 0) continue;
    r = ocb_matcher_walk(m, path, i, parent, a, &why);
    t = a, a = b, b = t;
    parent = b;
  }
  free(a);
  free(b);
  return r;
}

/* 1 for a path as the walk makes them: relative, components neither
 * empty nor "." nor "..", no NUL. */
static int clean_path(const char *p, size_t len) {
  size_t i, start = 0;
  if (len == 0 || memchr(p, '\0', len)) return 0;
  for (i = 0; i <= len; i++) {
    if (i < len && p[i] != '/') continue;
    if (i == start || (i - start == 1 && p[start] == '.') ||
        (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
      return 0;
    start = i + 1;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *pats[MAXP];
  size_t lens[MAXP], n = 0, bad, pos = 0;
  int excepts = 0;
  const char *s = (const char *)data;
  ocb_matcher *m;
  ocb_err err;
  while (pos < size && n < MAXP) {
    const char *nl = memchr(s + pos, '\n', size - pos);
    size_t len = nl ? (size_t)(nl - (s + pos)) : size - pos;
    if (len == 0) {
      pos++;
      break;
    }
    pats[n] = s + pos, lens[n++] = len;
    pos += len + (nl ? 1 : 0);
  }
  if (!(m = ocb_matcher_new(pats, lens, n, &bad, &err))) return 0;
  for (bad = 0; bad < n; bad++) excepts |= lens[bad] && pats[bad][0] == '!';
  while (pos < size) {
    const char *nl = memchr(s + pos, '\n', size - pos);
    size_t len = nl ? (size_t)(nl - (s + pos)) : size - pos;
    const char *p = s + pos;
    int why;
    pos += len + 1;
    /* paths as the walk makes them: relative, clean, no NUL */
    if (!clean_path(p, len)) continue;
    ocb_matcher_descend(m, p, len);
    if (ocb_matcher_path(m, p, len, &why) != walk_answer(m, p, len) && !excepts) {
      fprintf(stderr, "per-path and walk answers differ for %.*s\n", (int)len, p);
      abort();
    }
  }
  ocb_matcher_free(m);
  return 0;
}
