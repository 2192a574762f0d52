/*
 * net.h: what the client (client.c) and its requests (request.c) share:
 * both structures, the growable buffer responses are kept in (buf.c), and
 * the calls the client makes into a request: set up, finish a transfer,
 * release. The calls go one way: client.c -> request.c -> body.c, buf.c,
 * curl.c (a request reads its client's options, never calls it).
 * Private to src/net/: everyone else goes through http.h.
 */
#ifndef OCB_NET_H
#define OCB_NET_H

#include <curl/curl.h>

#include "http.h"

/* The libcurl functions used, loaded by ocb_curl_load (curl.c). */
typedef struct ocb_curl_api {
  int loaded;
  CURLcode (*global_init)(long flags);
  CURL *(*easy_init)(void);
  void (*easy_reset)(CURL *e);
  void (*easy_cleanup)(CURL *e);
  CURLcode (*easy_setopt)(CURL *e, CURLoption opt, ...);
  CURLcode (*easy_getinfo)(CURL *e, CURLINFO info, ...);
  const char *(*easy_strerror)(CURLcode rc);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_setopt)(CURLM *m, CURLMoption opt, ...);
  CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
  CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
  CURLMcode (*multi_perform)(CURLM *m, int *running);
  CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd fds[], unsigned n, int ms, int *ret);
  CURLMsg *(*multi_info_read)(CURLM *m, int *left);
  CURLMcode (*multi_cleanup)(CURLM *m);
  const char *(*multi_strerror)(CURLMcode rc);
  CURLSH *(*share_init)(void);
  CURLSHcode (*share_setopt)(CURLSH *s, CURLSHoption opt, ...);
  CURLSHcode (*share_cleanup)(CURLSH *s);
  struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
  void (*slist_free_all)(struct curl_slist *l);
} ocb_curl_api;
extern const ocb_curl_api *ocb_curl;
/* Loads libcurl and runs its global init, once per process. */
int ocb_curl_load(ocb_err *err);

typedef struct ocb_buf {
  char *p;
  size_t len, cap;
} ocb_buf;
/* buf.c: appends, refusing to grow past max: 0, or -1 (out of memory or max). */
int ocb_buf_add(ocb_buf *b, const void *data, size_t len, size_t max);
void ocb_buf_free(ocb_buf *b);

#define OCB_HTTP_IDLE 8

struct ocb_http {
  CURLM *multi;
  CURLSH *share;
  char *ca_file, *ca_pem, *user_agent, *cert_file, *key_file;
  size_t ca_pem_len;
  int insecure;
  long connect_timeout, low_speed_time, low_speed_limit;
  CURL *idle[OCB_HTTP_IDLE]; /* easy handles kept for the next requests */
  int nidle;
  ocb_hreq *active;           /* in flight (doubly linked) */
  ocb_hreq *done, *done_tail; /* finished, not yet taken (singly linked) */
};

enum { OCB_HREQ_RUNNING, OCB_HREQ_DONE, OCB_HREQ_TAKEN };

struct ocb_hreq {
  ocb_http *c; /* NULL once the client is gone */
  CURL *easy;
  int state;
  ocb_hreq *prev, *next;
  struct curl_slist *out_headers;
  char *url;
  /* the body going out: from memory, or a range of a store blob checked
   * as it goes (see http.h) */
  char *mem;
  int fd;
  uint64_t off, size, pos;
  ocb_sha256 *const *fh; /* the blob's hasher, at *fpos: shared, or own_h */
  uint64_t *fpos;
  ocb_sha256 *own_h;
  uint64_t own_pos;
  char src_digest[OCB_DIGEST_BUF];
  uint64_t src_size;
  /* what comes back */
  ocb_buf headers, body, wbuf;
  size_t max;
  const ocb_store *into;
  char want[OCB_DIGEST_BUF];
  int64_t want_size;
  uint64_t blob_got;
  ocb_blobw blob;
  int blob_open, decided, to_blob, certinfo;
  int file_fd, to_file; /* a 206 body goes into file_fd at file_off */
  uint64_t file_off, file_got;
  uint64_t sent, received;
  long timeout;
  /* the outcome */
  int failed;
  ocb_err err;
  long status;
  char digest[OCB_DIGEST_BUF];
  uint64_t blob_size;
  char *eff_url, *certs;
  char ip[64];
  char errbuf[CURL_ERROR_SIZE];
};

/* body.c: the body of the spec (a blob's file is taken), the read and
 * seek callbacks on r's easy handle, and freeing what it holds. */
int ocb_hreq_body_setup(ocb_hreq *r, const ocb_hreq_spec *s, ocb_err *err);
void ocb_hreq_body_opts(ocb_hreq *r);
void ocb_hreq_body_free(ocb_hreq *r);
/* request.c: sets up r's easy handle from the spec and the client's options. */
int ocb_hreq_setup(ocb_hreq *r, const ocb_hreq_spec *s, ocb_err *err);
/* request.c: records the outcome of a transfer that ended with rc. */
void ocb_hreq_finish(ocb_hreq *r, CURLcode rc);
/* request.c: frees r and what it holds (r is in no client's lists). */
void ocb_hreq_release(ocb_hreq *r);

#endif
