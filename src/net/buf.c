/*
 * buf.c: the growable buffer a request keeps an answer's headers and body
 * in (see net.h), capped by the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "net.h"

int ocb_buf_add(ocb_buf *b, const void *data, size_t len, size_t max) {
  if (b->len + len > max) return -1;
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    char *p;
    while (cap < b->len + len + 1) cap *= 2;
    if (!(p = realloc(b->p, cap))) return -1;
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
  return 0;
}

void ocb_buf_free(ocb_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
