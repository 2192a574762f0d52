/*
 * gostr.c: strings and paths as Go sees them, for the exclusion matcher:
 * UTF-8 decoded and encoded the way Go's utf8 package and string(rune) do
 * it, strings.TrimSpace, filepath.Clean, and a small growing byte buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rx.h"

int32_t ocb_utf8_decode(const unsigned char *s, size_t n, size_t *w) {
  unsigned c = s[0], lo = 0x80, hi = 0xbf;
  size_t len, i;
  int32_t r;
  *w = 1;
  if (c < 0x80) return (int32_t)c;
  if (c < 0xc2 || c > 0xf4) return OCB_RUNE_ERROR;
  if (c < 0xe0)
    len = 2, r = c & 0x1f;
  else if (c < 0xf0)
    len = 3, r = c & 0x0f, lo = c == 0xe0 ? 0xa0 : lo, hi = c == 0xed ? 0x9f : hi;
  else
    len = 4, r = c & 0x07, lo = c == 0xf0 ? 0x90 : lo, hi = c == 0xf4 ? 0x8f : hi;
  if (n < 2 || s[1] < lo || s[1] > hi) return OCB_RUNE_ERROR;
  r = (r << 6) | (s[1] & 0x3f);
  for (i = 2; i < len; i++) {
    if (i >= n || (s[i] & 0xc0) != 0x80) return OCB_RUNE_ERROR;
    r = (r << 6) | (s[i] & 0x3f);
  }
  *w = len;
  return r;
}

/* Go's string(rune): surrogates and out-of-range runes become U+FFFD. */
static size_t enc(char *o, int32_t r) {
  if (r < 0 || r > OCB_MAX_RUNE || (r >= 0xd800 && r <= 0xdfff)) r = OCB_RUNE_ERROR;
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
  case '\t':
  case '\n':
  case '\v':
  case '\f':
  case '\r':
  case ' ':
  case 0x85:
  case 0xa0:
  case 0x1680:
  case 0x2028:
  case 0x2029:
  case 0x202f:
  case 0x205f:
  case 0x3000: return 1;
  }
  return r >= 0x2000 && r <= 0x200a;
}

void ocb_trim_space(const char *s, size_t n, size_t *a, size_t *b) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, w, end = 0;
  int lead = 1;
  *a = n;
  while (i < n) {
    int sp = is_space(ocb_utf8_decode(u + i, n - i, &w));
    if (!sp && lead) *a = i, lead = 0;
    i += w;
    if (!sp) end = i;
  }
  *b = lead ? n : end;
}

size_t ocb_clean_path(const char *s, size_t n, char *out) {
  size_t r = 0, w = 0, dotdot = 0;
  int rooted = n > 0 && s[0] == '/';
  if (rooted) out[w++] = '/', r = 1, dotdot = 1;
  while (r < n) {
    if (s[r] == '/')
      r++;
    else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/'))
      r++;
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

void ocb_sb_add(ocb_sbuf *b, const char *s, size_t n) {
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

void ocb_sb_rune(ocb_sbuf *b, int32_t r) {
  char u[4];
  ocb_sb_add(b, u, enc(u, r));
}
