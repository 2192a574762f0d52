/*
 * sha256.c: SHA-256 as a stream, through OpenSSL's EVP (which uses the
 * CPU's SHA instructions where present), and digests in OCI form,
 * "sha256:<64 lower-case hex>": made, and checked before they become paths.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocb.h"

struct ocb_sha256 {
  EVP_MD_CTX *ctx;
};

ocb_sha256 *ocb_sha256_new(void) {
  ocb_sha256 *h = malloc(sizeof *h);
  if (!h) return NULL;
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(h->ctx);
    free(h);
    return NULL;
  }
  return h;
}

void ocb_sha256_update(ocb_sha256 *h, const void *buf, size_t len) {
  if (len) EVP_DigestUpdate(h->ctx, buf, len);
}

void ocb_sha256_final(ocb_sha256 *h, char out[OCB_DIGEST_BUF]) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(h->ctx, md, &n);
  ocb_digest_hex(md, out);
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

void ocb_sha256_free(ocb_sha256 *h) {
  if (!h) return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}
