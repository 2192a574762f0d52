/*
 * ecdsa.c: SHA-256/ECDSA signatures as cosign makes and checks them: the
 * SHA-256 of the exact bytes, signed, the signature ASN.1 DER.
 */
#include <openssl/err.h>

#include "sign/sign.h"

int ocb_ecdsa_sign(EVP_PKEY *k, const void *data, size_t len, unsigned char sig[OCB_SIG_MAX],
                   size_t *siglen, ocb_err *err) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok;
  *siglen = OCB_SIG_MAX;
  ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
       EVP_DigestSign(ctx, sig, siglen, data, len) == 1;
  EVP_MD_CTX_free(ctx);
  if (ok) return 0;
  ERR_clear_error();
  return ocb_errf(err, "EINVAL", "cannot sign with this key");
}

int ocb_ecdsa_verify(EVP_PKEY *k, const void *data, size_t len, const unsigned char *sig,
                     size_t siglen) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
           EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}
