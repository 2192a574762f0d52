/*
 * sign.h: what signing needs from the core, without Lua: ECDSA P-256 keys
 * (made, read from PEM, written as PEM), SHA-256/ECDSA signatures in DER,
 * base64, key files that never replace one unasked, and a passphrase read
 * from the terminal without echo. Keys are OpenSSL's EVP_PKEY.
 */
#ifndef OCB_SIGN_H
#define OCB_SIGN_H

#include <openssl/evp.h>

#include "ocb.h"

/* A PEM key of ours is far below this (an encrypted PKCS#8 P-256 key
 * takes about 550 bytes). */
#define OCB_PEM_MAX 4096
/* A DER ECDSA P-256 signature takes at most 72 bytes. */
#define OCB_SIG_MAX 80

/* key.c. Failures fill err with one line naming `what` (the file): codes
 * BADPEM (no PEM block, or a damaged one), BADKEY (a PEM block holding
 * something else, or damaged key data), NEEDPASS (encrypted, and no
 * passphrase given), BADPASS (the passphrase does not decrypt it),
 * KEYTYPE (not ECDSA P-256), NOTSUP (cosign's own encrypted format). */
EVP_PKEY *ocb_key_generate(ocb_err *err);
/* pass NULL: no passphrase. PEM types read: PRIVATE KEY, ENCRYPTED
 * PRIVATE KEY (PKCS#8) and EC PRIVATE KEY (SEC 1, encrypted or not). */
EVP_PKEY *ocb_key_private(const char *pem, size_t len, const char *pass, const char *what,
                          ocb_err *err);
/* A PUBLIC KEY (SubjectPublicKeyInfo) PEM block. */
EVP_PKEY *ocb_key_public(const char *pem, size_t len, const char *what, ocb_err *err);
/* The private key as PKCS#8 PEM, encrypted (PBES2: scrypt, AES-256-CBC)
 * when pass is not NULL; out holds OCB_PEM_MAX bytes. */
int ocb_key_private_pem(EVP_PKEY *k, const char *pass, char *out, size_t *len, ocb_err *err);
/* The public key as SubjectPublicKeyInfo PEM. */
int ocb_key_public_pem(EVP_PKEY *k, char *out, size_t *len, ocb_err *err);
/* "sha256:<hex>" of the DER SubjectPublicKeyInfo: what names a key. */
int ocb_key_id(EVP_PKEY *k, char out[OCB_DIGEST_BUF], ocb_err *err);

/* ecdsa.c: SHA-256 over data, signed with the private key k; the
 * signature is ASN.1 DER (as cosign and `openssl dgst -sign` make). */
int ocb_ecdsa_sign(EVP_PKEY *k, const void *data, size_t len, unsigned char sig[OCB_SIG_MAX],
                   size_t *siglen, ocb_err *err);
/* 1 when sig is k's signature over data, 0 when it is not (or is not
 * DER at all). */
int ocb_ecdsa_verify(EVP_PKEY *k, const void *data, size_t len, const unsigned char *sig,
                     size_t siglen);

/* b64.c. Encoding: standard alphabet, padded; out holds
 * OCB_B64_LEN(len) + 1 bytes; returns the length written. */
#define OCB_B64_LEN(n) (((n) + 2) / 3 * 4)
size_t ocb_b64_encode(const void *in, size_t len, char *out);
/* Decoding takes the standard or the URL-safe alphabet, padded or not,
 * and nothing else (no white space, no bits left over); out holds
 * len / 4 * 3 + 3 bytes. Returns 0, or -1 (BADBASE64, naming the byte). */
int ocb_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen, ocb_err *err);

/* keyfile.c: writes data as the file path, complete or not at all (a
 * temp file beside it, fsync'ed, then linked into place), with `mode`
 * set before it appears. An existing path is EEXIST unless replace. */
int ocb_keyfile_write(const char *path, const void *data, size_t len, mode_t mode, int replace,
                      ocb_err *err);

#endif
