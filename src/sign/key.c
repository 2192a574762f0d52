/*
 * key.c: ECDSA P-256 keys: made, read from PEM (PKCS#8 plain or
 * encrypted, SEC 1 "EC PRIVATE KEY", SubjectPublicKeyInfo) and written as
 * PEM (PKCS#8, encrypted with scrypt and AES-256-CBC when a passphrase is
 * given), and named by the digest of their public half. Every failure is
 * one line naming the file and what is wrong with it.
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <string.h>

#include "sign/sign.h"

/* scrypt's cost as `openssl pkcs8 -scrypt` sets it (N=16384, r=8, p=1:
 * 16 MiB, within OpenSSL's 32 MiB bound for reading it back). */
#define SCRYPT_N 16384
#define SCRYPT_R 8
#define SCRYPT_P 1

/* OpenSSL's own reason for the last failure, for "damaged" messages. */
static const char *ssl_reason(void) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  return r ? r : "unreadable";
}

static int ssl_fail(ocb_err *err, const char *code, const char *fmt, const char *what) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, what);
  ocb_errf(err, code, "%s (%s)", msg, ssl_reason());
  ERR_clear_error();
  return -1;
}

EVP_PKEY *ocb_key_generate(ocb_err *err) {
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  if (!k) ssl_fail(err, "ENOMEM", "cannot make an ECDSA P-256 key%s", "");
  return k;
}

/* The key, when it is ECDSA P-256; else NULL (KEYTYPE), k freed. */
static EVP_PKEY *p256_only(EVP_PKEY *k, const char *what, ocb_err *err) {
  char group[64] = "";
  if (EVP_PKEY_is_a(k, "EC") &&
      EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL) &&
      strcmp(group, "prime256v1") == 0)
    return k;
  if (EVP_PKEY_is_a(k, "EC"))
    ocb_errf(err, "KEYTYPE", "%s is an ECDSA key on curve %s, not P-256", what,
             group[0] ? group : "(unnamed)");
  else
    ocb_errf(err, "KEYTYPE", "%s is a %s key (%d bits), not ECDSA P-256", what,
             EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "non-EC",
             EVP_PKEY_get_bits(k));
  EVP_PKEY_free(k);
  ERR_clear_error();
  return NULL;
}

/* One PEM block of a file. */
typedef struct {
  char *name, *header;
  unsigned char *data;
  long len;
} pem_block;

static void pem_free(pem_block *b) {
  OPENSSL_free(b->name);
  OPENSSL_free(b->header);
  OPENSSL_free(b->data);
}

static int pem_read(const char *pem, size_t len, const char *what, pem_block *b, ocb_err *err) {
  BIO *bio = BIO_new_mem_buf(pem, (int)(len > 0x7fffffff ? 0x7fffffff : len));
  int ok;
  memset(b, 0, sizeof *b);
  if (!bio) return ssl_fail(err, "ENOMEM", "cannot read %s", what);
  ok = PEM_read_bio(bio, &b->name, &b->header, &b->data, &b->len);
  BIO_free(bio);
  if (ok) return 0;
  ERR_clear_error();
  if (memmem(pem, len, "-----BEGIN ", 11))
    return ocb_errf(err, "BADPEM", "%s holds a damaged PEM block", what);
  return ocb_errf(err, "BADPEM", "%s is not a PEM file (no -----BEGIN line)", what);
}

static int ask_none(char *buf, int size, int rw, void *u) {
  (void)buf, (void)size, (void)rw, (void)u;
  return -1;
}

static int give_pass(char *buf, int size, int rw, void *u) {
  size_t n = strlen(u);
  (void)rw;
  if (n > (size_t)size) return -1;
  memcpy(buf, u, n);
  return (int)n;
}

static EVP_PKEY *from_pkcs8(const unsigned char *p, long len, const char *what, ocb_err *err) {
  PKCS8_PRIV_KEY_INFO *inf = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
  EVP_PKEY *k = inf ? EVP_PKCS82PKEY(inf) : NULL;
  PKCS8_PRIV_KEY_INFO_free(inf);
  if (!k) ssl_fail(err, "BADKEY", "%s holds damaged key data", what);
  return k;
}

static EVP_PKEY *from_encrypted(const unsigned char *p, long len, const char *pass,
                                const char *what, ocb_err *err) {
  X509_SIG *sig = d2i_X509_SIG(NULL, &p, len);
  PKCS8_PRIV_KEY_INFO *inf;
  EVP_PKEY *k = NULL;
  if (!sig) {
    ssl_fail(err, "BADKEY", "%s holds damaged key data", what);
    return NULL;
  }
  if (!pass) {
    ocb_errf(err, "NEEDPASS", "%s is encrypted and no passphrase was given", what);
  } else if (!(inf = PKCS8_decrypt(sig, pass, (int)strlen(pass)))) {
    ocb_errf(err, "BADPASS", "wrong passphrase for %s", what);
    ERR_clear_error();
  } else {
    k = EVP_PKCS82PKEY(inf);
    PKCS8_PRIV_KEY_INFO_free(inf);
    if (!k) ssl_fail(err, "BADKEY", "%s holds damaged key data", what);
  }
  X509_SIG_free(sig);
  return k;
}

/* SEC 1, with its legacy PEM encryption (Proc-Type: 4,ENCRYPTED) when
 * the header says so. */
static EVP_PKEY *from_sec1(pem_block *b, const char *pass, const char *what, ocb_err *err) {
  EVP_CIPHER_INFO cipher;
  const unsigned char *p;
  EVP_PKEY *k;
  if (!PEM_get_EVP_CIPHER_INFO(b->header, &cipher)) {
    ssl_fail(err, "BADPEM", "%s has a damaged PEM header", what);
    return NULL;
  }
  if (cipher.cipher && !pass) {
    ocb_errf(err, "NEEDPASS", "%s is encrypted and no passphrase was given", what);
    return NULL;
  }
  if (!PEM_do_header(&cipher, b->data, &b->len, pass ? give_pass : ask_none, (void *)pass)) {
    ocb_errf(err, "BADPASS", "wrong passphrase for %s", what);
    ERR_clear_error();
    return NULL;
  }
  p = b->data;
  if (!(k = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, b->len)))
    ssl_fail(err, cipher.cipher ? "BADPASS" : "BADKEY",
             cipher.cipher ? "wrong passphrase for %s" : "%s holds damaged key data", what);
  return k;
}

EVP_PKEY *ocb_key_private(const char *pem, size_t len, const char *pass, const char *what,
                          ocb_err *err) {
  pem_block b;
  EVP_PKEY *k = NULL;
  if (pem_read(pem, len, what, &b, err) < 0) return NULL;
  if (strcmp(b.name, "PRIVATE KEY") == 0)
    k = from_pkcs8(b.data, b.len, what, err);
  else if (strcmp(b.name, "ENCRYPTED PRIVATE KEY") == 0)
    k = from_encrypted(b.data, b.len, pass, what, err);
  else if (strcmp(b.name, "EC PRIVATE KEY") == 0)
    k = from_sec1(&b, pass, what, err);
  else if (strstr(b.name, "SIGSTORE PRIVATE KEY") || strstr(b.name, "COSIGN PRIVATE KEY"))
    ocb_errf(err, "NOTSUP",
             "%s is in cosign's own encrypted format (%s), which ocibuild does not "
             "read: use a PKCS#8 key (ocibuild keygen, or openssl genpkey)",
             what, b.name);
  else if (strcmp(b.name, "PUBLIC KEY") == 0)
    ocb_errf(err, "BADKEY", "%s holds a public key; signing needs the private key", what);
  else
    ocb_errf(err, "BADKEY", "%s holds a %s, not a private key", what, b.name);
  pem_free(&b);
  return k ? p256_only(k, what, err) : NULL;
}

EVP_PKEY *ocb_key_public(const char *pem, size_t len, const char *what, ocb_err *err) {
  pem_block b;
  EVP_PKEY *k = NULL;
  if (pem_read(pem, len, what, &b, err) < 0) return NULL;
  if (strcmp(b.name, "PUBLIC KEY") == 0) {
    const unsigned char *p = b.data;
    if (!(k = d2i_PUBKEY(NULL, &p, b.len)))
      ssl_fail(err, "BADKEY", "%s holds damaged key data", what);
  } else if (strstr(b.name, "PRIVATE KEY")) {
    ocb_errf(err, "BADKEY", "%s holds a private key; verifying takes the public key", what);
  } else {
    ocb_errf(err, "BADKEY", "%s holds a %s, not a public key", what, b.name);
  }
  pem_free(&b);
  return k ? p256_only(k, what, err) : NULL;
}

/* The bytes written into bio, copied into out (OCB_PEM_MAX). */
static int take_bio(BIO *bio, char *out, size_t *len, ocb_err *err) {
  char *p;
  long n = BIO_get_mem_data(bio, &p);
  if (n <= 0 || (size_t)n >= OCB_PEM_MAX) {
    BIO_free(bio);
    return ocb_errf(err, "ENOMEM", "cannot write the key as PEM");
  }
  memcpy(out, p, (size_t)n);
  *len = (size_t)n;
  BIO_free(bio);
  return 0;
}

static int write_encrypted(BIO *bio, EVP_PKEY *k, const char *pass) {
  PKCS8_PRIV_KEY_INFO *inf = EVP_PKEY2PKCS8(k);
  X509_ALGOR *alg =
      inf ? PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL, SCRYPT_N, SCRYPT_R, SCRYPT_P)
          : NULL;
  X509_SIG *sig = alg ? PKCS8_set0_pbe(pass, (int)strlen(pass), inf, alg) : NULL;
  int ok = sig && PEM_write_bio_PKCS8(bio, sig);
  if (!sig) X509_ALGOR_free(alg);
  X509_SIG_free(sig);
  PKCS8_PRIV_KEY_INFO_free(inf);
  return ok;
}

int ocb_key_private_pem(EVP_PKEY *k, const char *pass, char *out, size_t *len, ocb_err *err) {
  BIO *bio = BIO_new(BIO_s_mem());
  int ok;
  if (!bio) return ocb_errf(err, "ENOMEM", "cannot write the key as PEM");
  ok = pass ? write_encrypted(bio, k, pass)
            : PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
  if (!ok) {
    BIO_free(bio);
    return ssl_fail(err, "ENOMEM", "cannot write the private key%s", "");
  }
  return take_bio(bio, out, len, err);
}

int ocb_key_public_pem(EVP_PKEY *k, char *out, size_t *len, ocb_err *err) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio) return ocb_errf(err, "ENOMEM", "cannot write the key as PEM");
  if (!PEM_write_bio_PUBKEY(bio, k)) {
    BIO_free(bio);
    return ssl_fail(err, "ENOMEM", "cannot write the public key%s", "");
  }
  return take_bio(bio, out, len, err);
}

int ocb_key_id(EVP_PKEY *k, char out[OCB_DIGEST_BUF], ocb_err *err) {
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(k, &der);
  ocb_sha256 *h;
  if (n <= 0) return ssl_fail(err, "ENOMEM", "cannot encode the public key%s", "");
  if (!(h = ocb_sha256_new())) {
    OPENSSL_free(der);
    return ocb_errf(err, "ENOMEM", "cannot hash the public key");
  }
  ocb_sha256_update(h, der, (size_t)n);
  ocb_sha256_final(h, out);
  ocb_sha256_free(h);
  OPENSSL_free(der);
  return 0;
}
