/*
 * err.c: the error record shared by every primitive (nil, msg, code once
 * in Lua), errno names, quoting of untrusted names for messages, and a
 * UTF-8 check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocb.h"

const char *ocb_errno_name(int errnum, char buf[16]) {
  /* glibc knows every errno's name; EWOULDBLOCK is EAGAIN there too. */
  const char *name = strerrorname_np(errnum);
  if (name) return name;
  snprintf(buf, 16, "E%d", errnum);
  return buf;
}

int ocb_errno(ocb_err *err, int errnum, const char *what) {
  char q[sizeof err->msg];
  ocb_quote(q, sizeof err->msg - 120, what, strlen(what));
  return ocb_errno_q(err, errnum, q);
}

int ocb_errno_q(ocb_err *err, int errnum, const char *quoted) {
  char buf[16];
  snprintf(err->code, sizeof err->code, "%s", ocb_errno_name(errnum, buf));
  /* ocibuild opens with O_NOFOLLOW: ELOOP is mostly a symlink refused */
  snprintf(err->msg, sizeof err->msg, "%s: %s: %s", err->code,
           errnum == ELOOP ? "a symbolic link, which is not followed here (or a loop of them)"
                           : strerror(errnum),
           quoted);
  return -1;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len, i;
  unsigned cp;
  if (c < 0x80) return c ? 1 : 0;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (len > n) return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

int ocb_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    size_t k = utf8_seq(p + i, len - i);
    if (k == 0) return 0;
    i += k;
  }
  return 1;
}

/* Bytes the unit at p[i] takes once quoted, and its length in *k; bs: a
 * backslash is doubled. A C1 control (U+0080-U+009F, which terminals may
 * act on) is escaped byte by byte. */
static size_t unit(const unsigned char *p, size_t i, size_t len, size_t *k, int bs) {
  *k = utf8_seq(p + i, len - i);
  if (*k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) *k = 0;
  if (*k > 1 || (*k == 1 && p[i] >= 0x20 && p[i] != 0x7f && (p[i] != '\\' || !bs))) return *k;
  *k = 1;
  return p[i] == '\\' ? 2 : 4;
}

/* Quotes units of s[from..to) into out at *o while they fit below lim. */
static size_t put_units(char *out, size_t *o, size_t lim, const unsigned char *p, size_t from,
                        size_t to, int bs) {
  size_t i = from, k, w;
  while (i < to && *o + (w = unit(p, i, to, &k, bs)) <= lim) {
    if (w == k)
      memcpy(out + *o, p + i, k);
    else if (w == 2)
      memcpy(out + *o, "\\\\", 2);
    else
      snprintf(out + *o, 5, "\\x%02x", p[i]);
    *o += w, i += k;
  }
  return i;
}

static void quote(char *out, size_t outlen, const char *s, size_t len, int bs) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i, k, o = 0, total = 0, head, tail, cum;
  if (outlen == 0) return;
  for (i = 0; i < len; i += k) total += unit(p, i, len, &k, bs);
  if (total < outlen) {
    put_units(out, &o, outlen - 1, p, 0, len, bs);
    out[o] = '\0';
    return;
  }
  /* Too long: the start and the end (where a path names its file), with
   * "..." marking the cut, never a silent truncation. */
  if (outlen < 16) {
    out[0] = '\0';
    return;
  }
  head = (outlen - 4) / 4;
  tail = outlen - 4 - head - 1;
  head = put_units(out, &o, head, p, 0, len, bs); /* now: where the head ends in s */
  memcpy(out + o, "...", 3), o += 3;
  for (i = 0, cum = 0; i < len && (i < head || total - cum > tail); i += k)
    cum += unit(p, i, len, &k, bs);
  put_units(out, &o, outlen - 1, p, i, len, bs);
  out[o] = '\0';
}

void ocb_quote(char *out, size_t outlen, const char *s, size_t len) {
  quote(out, outlen, s, len, 1);
}

void ocb_quote_path(char *out, size_t outlen, const char *dir, const char *rel, size_t rellen) {
  size_t dlen = strlen(dir), n = dlen + rellen + 2;
  char *joined = malloc(n);
  if (!joined) {
    ocb_quote(out, outlen, rel, rellen);
    return;
  }
  memcpy(joined, dir, dlen);
  n = dlen;
  if (dlen && dir[dlen - 1] != '/' && rellen) joined[n++] = '/';
  memcpy(joined + n, rel, rellen);
  ocb_quote(out, outlen, joined, n + rellen);
  free(joined);
}

/* err's code, and its message: prefix, then fmt filled from ap. */
static int fill(ocb_err *err, const char *code, const char *prefix, const char *fmt, va_list ap) {
  char raw[4 * sizeof err->msg];
  int p = snprintf(raw, sizeof raw, "%s", prefix), n;
  snprintf(err->code, sizeof err->code, "%s", code);
  n = vsnprintf(raw + p, sizeof raw - (size_t)p, fmt, ap);
  if (n < 0) n = 0;
  n += p;
  if ((size_t)n >= sizeof raw) n = sizeof raw - 1;
  /* One line whatever a value held: parts quoted already pass unchanged. */
  quote(err->msg, sizeof err->msg, raw, (size_t)n, 0);
  return -1;
}

int ocb_errf(ocb_err *err, const char *code, const char *fmt, ...) {
  char prefix[sizeof err->code + 2];
  va_list ap;
  snprintf(prefix, sizeof prefix, "%s: ", code);
  va_start(ap, fmt);
  fill(err, code, prefix, fmt, ap);
  va_end(ap);
  return -1;
}

int ocb_errf_bare(ocb_err *err, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fill(err, code, "", fmt, ap);
  va_end(ap);
  return -1;
}
