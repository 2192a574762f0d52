/*
 * err.c: the error record shared by every primitive (nil, msg, code once
 * in Lua), errno names, quoting of untrusted names for messages, and a
 * UTF-8 check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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
  char buf[16];
  snprintf(err->code, sizeof err->code, "%s", ocb_errno_name(errnum, buf));
  snprintf(err->msg, sizeof err->msg, "%s: %s: %s", err->code, strerror(errnum), what);
  return -1;
}

int ocb_errf(ocb_err *err, const char *code, const char *fmt, ...) {
  va_list ap;
  snprintf(err->code, sizeof err->code, "%s", code);
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
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

void ocb_quote(char *out, size_t outlen, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, o = 0;
  if (outlen == 0) return;
  while (i < len) {
    size_t k = utf8_seq(p + i, len - i);
    if (k > 1 || (k == 1 && p[i] >= 0x20 && p[i] != 0x7f && p[i] != '\\')) {
      if (o + k + 4 >= outlen) break;
      memcpy(out + o, p + i, k);
      o += k, i += k;
    } else {
      if (o + 5 >= outlen) break;
      o += (size_t)snprintf(out + o, outlen - o, p[i] == '\\' ? "\\\\" : "\\x%02x", p[i]);
      i++;
    }
  }
  if (i < len && o + 4 < outlen) memcpy(out + o, "...", 3), o += 3;
  out[o] = '\0';
}
