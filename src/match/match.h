/*
 * match.h: the exclusion matcher: Docker's .dockerignore semantics, as
 * moby/patternmatcher implements them. Patterns are the strings Docker's
 * reader yields (cleaned, exceptions prefixed with '!'); every pattern is
 * checked and compiled up front, and matching never allocates.
 */
#ifndef OCB_MATCH_H
#define OCB_MATCH_H

#include <stddef.h>

#include "ocb.h"

typedef struct ocb_matcher ocb_matcher;
/* NULL on a bad pattern: err names it, *bad is its index in pats. */
ocb_matcher *ocb_matcher_new(const char *const *pats, const size_t *lens, size_t n, size_t *bad,
                             ocb_err *err);
void ocb_matcher_free(ocb_matcher *m);
/* Bytes of the per-directory state ocb_matcher_walk reads and writes. */
size_t ocb_matcher_state_size(const ocb_matcher *m);
/* MatchesUsingParentResults: parent is the state of the parent directory, or
 * NULL for a top-level path. Fills out (state_size bytes). Returns 1 when path
 * is excluded; *why is the index (in pats) of the deciding pattern, or -1. */
int ocb_matcher_walk(const ocb_matcher *m, const char *path, size_t len,
                     const unsigned char *parent, unsigned char *out, int *why);
/* MatchesOrParentMatches: the per-path answer, parents included. */
int ocb_matcher_path(const ocb_matcher *m, const char *path, size_t len, int *why);
/* For an excluded directory: 1 when an exception could re-include something
 * below it, so the walk must go in (tonistiigi/fsutil's rule). */
int ocb_matcher_descend(const ocb_matcher *m, const char *dir, size_t len);

#endif
