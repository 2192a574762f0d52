/*
 * http.h: HTTP over libcurl for the registry client. A client holds the
 * connections (one curl multi handle, reused easy handles, shared TLS
 * sessions); requests run side by side and finish through ocb_http_wait.
 * Bodies go out from memory or from a byte range of a store blob, which is
 * verified as it goes (its last byte leaves only when the blob's bytes are
 * its digest), and come back into memory (capped) or, for a 2xx answer,
 * into a store blob that is hashed as it arrives, cut off past its expected
 * size and published only when it is the expected digest, or (a range of a
 * blob, 206) into a file at an offset.
 */
#ifndef OCB_HTTP_H
#define OCB_HTTP_H

#include <stdint.h>

#include "ocb.h"
#include "store/store.h"

typedef struct ocb_http_opts {
  const char *ca_file; /* PEM bundle trusted instead of the system's (NULL: system) */
  const char *ca_pem;  /* PEM text trusted instead (certs.d files joined), or NULL */
  size_t ca_pem_len;
  int insecure;          /* no verification of the peer's certificate or name */
  const char *cert_file; /* PEM client certificate presented when asked, or NULL */
  const char *key_file;  /* ... and its key */
  long connect_timeout;  /* seconds */
  long low_speed_time;   /* seconds under low_speed_limit bytes/s abort a transfer */
  long low_speed_limit;
  const char *user_agent;
} ocb_http_opts;

typedef struct ocb_http ocb_http;
typedef struct ocb_hreq ocb_hreq;

int ocb_http_new(ocb_http **out, const ocb_http_opts *o, ocb_err *err);
/* Stops what is in flight (those requests fail with ECANCELED). */
void ocb_http_free(ocb_http *c);
/* Monotonic seconds. */
double ocb_http_now(void);

typedef struct ocb_hreq_spec {
  const char *method; /* GET, HEAD, POST, PUT, PATCH, DELETE */
  const char *url;
  const char *const *headers; /* "Name: value" lines */
  size_t nheaders;
  const void *body; /* a body in memory (copied), or NULL */
  size_t body_len;
  int body_fd; /* or a range of this store blob (taken: closed by the request), or -1 */
  uint64_t body_off, body_size;
  /* The blob the range belongs to: its name and size. Its bytes are hashed
   * in file order as they go out (once, however often curl or a resumed
   * upload sends them; bytes before the range that this process never sent
   * are read from the file), through `file_hash` at *file_pos when given
   * (a hasher shared by the requests that send consecutive ranges), else a
   * hasher of the request's own when the range ends the blob. When the
   * blob's last byte is about to go, the hash must be blob_digest: else
   * the transfer stops there (CORRUPT), before the registry has it all.
   * Through a pointer: a hasher finished meanwhile (NULL) takes nothing. */
  const char *blob_digest;
  uint64_t blob_size;
  ocb_sha256 *const *file_hash;
  uint64_t *file_pos;
  size_t max;            /* response body kept in memory up to this (TOOBIG past it) */
  const ocb_store *into; /* a 2xx body becomes a blob of this store ... */
  const char *want;      /* ... that must be this digest (BADDIGEST otherwise) */
  int64_t want_size;     /* ... and is cut off past this many bytes (TOOBIG), -1: any */
  /* Or a 206 (partial content) body is written into this file at into_off
   * (the descriptor is taken: closed by the request), cut off past
   * want_size bytes; any other answer's body is kept in memory (max). */
  int into_fd; /* -1: none */
  uint64_t into_off;
  int follow;   /* follow redirects (Authorization stays with the first host) */
  long timeout; /* whole-request seconds, 0: none */
  int insecure; /* this request only: no verification */
  int certinfo; /* keep the certificates the server presented */
} ocb_hreq_spec;

/* Starts a request. On failure nothing is left (the body fd is closed). */
int ocb_hreq_start(ocb_http *c, const ocb_hreq_spec *s, ocb_hreq **out, ocb_err *err);
/* Drives the transfers until one finishes or `seconds` pass. Finished
 * requests are then taken one by one with ocb_http_done. */
int ocb_http_wait(ocb_http *c, double seconds, ocb_err *err);
ocb_hreq *ocb_http_done(ocb_http *c);
/* Cancels the request when still in flight, and frees it. */
void ocb_hreq_free(ocb_hreq *r);

/* What a finished request gives. */
typedef struct ocb_hres {
  int failed; /* err holds why */
  ocb_err err;
  long status;
  const char *headers; /* the final response's header lines, "\r\n" ended */
  size_t headers_len;
  const char *body; /* a non-blob body */
  size_t body_len;
  char digest[OCB_DIGEST_BUF]; /* into: the published blob */
  uint64_t size;
  uint64_t written;  /* into_fd: the bytes written into the file */
  const char *url;   /* effective URL (after redirects) */
  const char *ip;    /* the peer's address, "" when none was reached */
  const char *certs; /* certinfo: "Subject:...\nIssuer:...\n" per certificate, or NULL */
} ocb_hres;

int ocb_hreq_finished(const ocb_hreq *r);
void ocb_hreq_result(ocb_hreq *r, ocb_hres *res);
/* Bytes sent and received so far. */
void ocb_hreq_progress(const ocb_hreq *r, uint64_t *sent, uint64_t *received);

#endif
