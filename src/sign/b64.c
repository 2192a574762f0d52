/*
 * b64.c: base64 (RFC 4648). Signatures travel base64-encoded in cosign's
 * annotations and in DSSE envelopes, which allow either alphabet.
 */
#include "sign/sign.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ocb_b64_encode(const void *in, size_t len, char *out) {
  const unsigned char *p = in;
  size_t i, o = 0;
  for (i = 0; i + 2 < len; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
    out[o++] = ALPHABET[v >> 18], out[o++] = ALPHABET[(v >> 12) & 63];
    out[o++] = ALPHABET[(v >> 6) & 63], out[o++] = ALPHABET[v & 63];
  }
  if (i < len) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
    out[o++] = ALPHABET[v >> 18], out[o++] = ALPHABET[(v >> 12) & 63];
    out[o++] = i + 1 < len ? ALPHABET[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

/* The value of one character of either alphabet, or -1. */
static int value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

static int bad(ocb_err *err, size_t at, const char *why) {
  return ocb_errf(err, "BADBASE64", "%s at byte %zu", why, at + 1);
}

int ocb_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen, ocb_err *err) {
  size_t i, n = len, o = 0, bits = 0;
  unsigned acc = 0;
  /* Padding: up to two '=' that complete the last group of four. */
  while (n > 0 && in[n - 1] == '=' && len - n < 2) n--;
  for (i = 0; i < n; i++) {
    int v = value((unsigned char)in[i]);
    if (v < 0)
      return bad(err, i, in[i] == '=' ? "padding inside the text" : "not a base64 character");
    acc = (acc << 6) | (unsigned)v, bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (bits >= 6) return bad(err, n, "a dangling character");
  if (n < len && len % 4 != 0) return bad(err, n, "padding that does not end a group of four");
  if (acc != 0) return bad(err, n, "bits left over");
  *outlen = o;
  return 0;
}
