/*
 * sha256.c: SHA-256 as a stream, through OpenSSL (which uses the CPU's SHA
 * instructions where present), whose state can be saved at a 64-byte
 * boundary and resumed later (a rebuild continues a layer's diff_id from
 * the last unchanged block), and digests in OCI form, "sha256:<64 hex>":
 * made, and checked before they become paths.
 */
/* The state must be read and restored, which only the SHA256_CTX interface
 * allows; OpenSSL 3 marks it deprecated but keeps it (the same code as EVP). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocb.h"

struct ocb_sha256 {
  SHA256_CTX ctx;
};

ocb_sha256 *ocb_sha256_new(void) {
  ocb_sha256 *h = malloc(sizeof *h);
  if (h && SHA256_Init(&h->ctx) != 1) {
    free(h);
    return NULL;
  }
  return h;
}

void ocb_sha256_update(ocb_sha256 *h, const void *buf, size_t len) {
  if (len) SHA256_Update(&h->ctx, buf, len);
}

void ocb_sha256_final(ocb_sha256 *h, char out[OCB_DIGEST_BUF]) {
  unsigned char md[32];
  SHA256_Final(md, &h->ctx);
  ocb_digest_hex(md, out);
}

void ocb_sha256_digest(const void *buf, size_t len, unsigned char out[32]) {
  SHA256(buf, len, out);
}

void ocb_sha256_peek(const ocb_sha256 *h, unsigned char out[32]) {
  SHA256_CTX copy = h->ctx;
  SHA256_Final(out, &copy);
}

int ocb_sha256_save(const ocb_sha256 *h, ocb_sha256_state *st) {
  int i;
  if (h->ctx.num != 0) return -1; /* bytes wait in the buffer: not a boundary */
  for (i = 0; i < 8; i++) st->h[i] = h->ctx.h[i];
  st->bytes = (((uint64_t)h->ctx.Nh << 32) | h->ctx.Nl) >> 3;
  return 0;
}

void ocb_sha256_save_floor(const ocb_sha256 *h, ocb_sha256_state *st) {
  int i;
  for (i = 0; i < 8; i++) st->h[i] = h->ctx.h[i];
  st->bytes = ((((uint64_t)h->ctx.Nh << 32) | h->ctx.Nl) >> 3) - h->ctx.num;
}

ocb_sha256 *ocb_sha256_resume(const ocb_sha256_state *st) {
  ocb_sha256 *h;
  uint64_t bits = st->bytes << 3;
  int i;
  if (st->bytes % 64 != 0 || !(h = ocb_sha256_new())) return NULL;
  for (i = 0; i < 8; i++) h->ctx.h[i] = st->h[i];
  h->ctx.Nl = (SHA_LONG)(bits & 0xffffffffu);
  h->ctx.Nh = (SHA_LONG)(bits >> 32);
  return h;
}

void ocb_sha256_free(ocb_sha256 *h) {
  free(h);
}

void ocb_digest_hex(const unsigned char raw[32], char out[OCB_DIGEST_BUF]) {
  static const char x[] = "0123456789abcdef";
  int i;
  memcpy(out, "sha256:", 7);
  for (i = 0; i < 32; i++) out[7 + 2 * i] = x[raw[i] >> 4], out[8 + 2 * i] = x[raw[i] & 15];
  out[OCB_DIGEST_LEN] = '\0';
}

int ocb_digest_valid(const char *s, size_t len) {
  size_t i;
  if (len != OCB_DIGEST_LEN || memcmp(s, "sha256:", 7) != 0) return 0;
  for (i = 7; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}
