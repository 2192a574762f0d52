/*
 * request.c: one HTTP request on a client's easy handle: the body (see
 * body.c), the answer's headers and body kept, or a 2xx body hashed into
 * a store blob, cut off past the size it must have and published only
 * under the digest it must have, and curl's failures turned into error
 * codes the registry client can act on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net.h"

#define MAX_HEADERS (64u << 10)
/* curl hands an answer over 16 KiB at a time: blob bytes are gathered
 * into writes of this size (a sixty-fourth of the system calls). */
#define BLOB_BUF (1u << 20)

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  ocb_hreq *r = ud;
  size_t len = sz * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* a new response (after 100 Continue or a redirect): forget the last */
    r->headers.len = 0;
    r->body.len = 0;
    r->decided = 0;
  }
  if (ocb_buf_add(&r->headers, p, len, MAX_HEADERS) < 0) {
    r->failed = 1;
    ocb_errf(&r->err, "TOOBIG", "response headers over %u bytes: %s", MAX_HEADERS, r->url);
    return 0;
  }
  return len;
}

static int flush_blob(ocb_hreq *r) {
  if (r->wbuf.len && ocb_blobw_write(&r->blob, r->wbuf.p, r->wbuf.len, &r->err) < 0) {
    r->failed = 1;
    return -1;
  }
  r->wbuf.len = 0;
  return 0;
}

static int add_blob(ocb_hreq *r, const char *p, size_t len) {
  if (r->wbuf.len + len > BLOB_BUF && flush_blob(r) < 0) return -1;
  if (len >= BLOB_BUF) {
    if (ocb_blobw_write(&r->blob, p, len, &r->err) < 0) r->failed = 1;
  } else if (ocb_buf_add(&r->wbuf, p, len, BLOB_BUF) < 0) {
    ocb_errno(&r->err, ENOMEM, r->url);
    r->failed = 1;
  }
  return r->failed ? -1 : 0;
}

/* A range's bytes, written where they go in the file. */
static int to_file(ocb_hreq *r, const char *p, size_t len) {
  if (r->want_size >= 0 && r->file_got + len > (uint64_t)r->want_size) {
    char url[512];
    ocb_quote(url, sizeof url, r->url, strcspn(r->url, "?#"));
    r->failed = 1;
    return ocb_errf(&r->err, "TOOBIG", "the answer goes on past the %lld bytes expected: %s",
                    (long long)r->want_size, url);
  }
  while (len) {
    ssize_t w = pwrite(r->file_fd, p, len, (off_t)(r->file_off + r->file_got));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      r->failed = 1;
      return ocb_errno(&r->err, w < 0 ? errno : EIO, "writing a range into a file");
    }
    p += w, len -= (size_t)w, r->file_got += (uint64_t)w;
  }
  return 0;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
  ocb_hreq *r = ud;
  size_t len = sz * n;
  if (!r->decided) {
    long code = 0;
    ocb_curl->easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    r->decided = 1;
    r->to_blob = r->into && code >= 200 && code < 300;
    r->to_file = r->file_fd >= 0 && code == 206;
    if (r->to_blob && !r->blob_open) {
      if (ocb_blobw_open(&r->blob, r->into, &r->err) < 0) {
        r->failed = 1;
        return 0;
      }
      r->blob_open = 1;
    }
  }
  if (r->to_file) {
    if (to_file(r, p, len) < 0) return 0;
  } else if (r->to_blob) {
    if (r->want_size >= 0 && r->blob_got + len > (uint64_t)r->want_size) {
      char url[512];
      ocb_quote(url, sizeof url, r->url, strcspn(r->url, "?#"));
      r->failed = 1;
      ocb_errf(&r->err, "TOOBIG", "the answer goes on past the %lld bytes expected: %s",
               (long long)r->want_size, url);
      return 0;
    }
    r->blob_got += len;
    if (add_blob(r, p, len) < 0) return 0;
  } else if (ocb_buf_add(&r->body, p, len, r->max) < 0) {
    r->failed = 1;
    ocb_errf(&r->err, "TOOBIG", "response body over %zu bytes: %s", r->max, r->url);
    return 0;
  }
  r->received += len;
  return len;
}

static int set_headers(ocb_hreq *r, const ocb_hreq_spec *s, ocb_err *err) {
  size_t i;
  for (i = 0; i < s->nheaders; i++) {
    struct curl_slist *l = ocb_curl->slist_append(r->out_headers, s->headers[i]);
    if (!l) return ocb_errno(err, ENOMEM, s->url);
    r->out_headers = l;
  }
  return 0;
}

static void set_method(ocb_hreq *r, const ocb_hreq_spec *s) {
  CURL *e = r->easy;
  int has_body = s->body || s->body_fd >= 0;
  curl_off_t len = (curl_off_t)r->size;
  if (strcmp(s->method, "HEAD") == 0) {
    ocb_curl->easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(s->method, "GET") == 0 && !has_body) {
    ocb_curl->easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(s->method, "POST") == 0) {
    ocb_curl->easy_setopt(e, CURLOPT_POST, 1L);
    ocb_curl->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, len);
  } else if (!has_body && strcmp(s->method, "DELETE") == 0) {
    ocb_curl->easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
  } else {
    /* PUT and PATCH always carry a Content-Length (0 when empty), never a
     * chunked body: proxies reject those half-way through. */
    ocb_curl->easy_setopt(e, CURLOPT_UPLOAD, 1L);
    ocb_curl->easy_setopt(e, CURLOPT_INFILESIZE_LARGE, len);
    ocb_curl->easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
  }
  ocb_hreq_body_opts(r);
}

static void set_tls(ocb_hreq *r, const ocb_hreq_spec *s) {
  ocb_http *c = r->c;
  CURL *e = r->easy;
  if (c->insecure || s->insecure) {
    ocb_curl->easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    ocb_curl->easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (c->ca_file) {
    ocb_curl->easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  } else if (c->ca_pem) {
    struct curl_blob b;
    b.data = c->ca_pem, b.len = c->ca_pem_len, b.flags = CURL_BLOB_NOCOPY;
    ocb_curl->easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
  }
  if (c->cert_file && c->key_file) {
    ocb_curl->easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
    ocb_curl->easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    ocb_curl->easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
    ocb_curl->easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (s->certinfo) {
    /* certificates come with a handshake: a reused connection has none */
    ocb_curl->easy_setopt(e, CURLOPT_CERTINFO, 1L);
    ocb_curl->easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    ocb_curl->easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
}

int ocb_hreq_setup(ocb_hreq *r, const ocb_hreq_spec *s, ocb_err *err) {
  ocb_http *c = r->c;
  CURL *e = r->easy;
  r->fd = s->body_fd; /* taken: closed with the request whatever happens */
  r->max = s->max;
  r->into = s->into;
  r->want_size = s->into || s->into_fd >= 0 ? s->want_size : -1;
  r->file_off = s->into_off;
  r->certinfo = s->certinfo;
  r->timeout = s->timeout;
  if (s->want) snprintf(r->want, sizeof r->want, "%s", s->want);
  if (!(r->url = strdup(s->url))) return ocb_errno(err, ENOMEM, s->url);
  if (ocb_hreq_body_setup(r, s, err) < 0) return -1;
  if (set_headers(r, s, err) < 0) return -1;
  ocb_curl->easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  ocb_curl->easy_setopt(e, CURLOPT_URL, s->url);
  ocb_curl->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* what was asked over TLS is never followed to plain HTTP */
  ocb_curl->easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
                        strncasecmp(s->url, "https:", 6) == 0 ? "https" : "http,https");
  ocb_curl->easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  ocb_curl->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  ocb_curl->easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  ocb_curl->easy_setopt(e, CURLOPT_HTTPHEADER, r->out_headers);
  ocb_curl->easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  ocb_curl->easy_setopt(e, CURLOPT_HEADERDATA, r);
  ocb_curl->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  ocb_curl->easy_setopt(e, CURLOPT_WRITEDATA, r);
  ocb_curl->easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
  ocb_curl->easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
  if (s->follow) {
    ocb_curl->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    ocb_curl->easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
  }
  if (c->user_agent) ocb_curl->easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
  if (c->connect_timeout > 0) ocb_curl->easy_setopt(e, CURLOPT_CONNECTTIMEOUT, c->connect_timeout);
  if (c->low_speed_time > 0) {
    ocb_curl->easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->low_speed_time);
    ocb_curl->easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
                          c->low_speed_limit > 0 ? c->low_speed_limit : 1L);
  }
  if (s->timeout > 0) ocb_curl->easy_setopt(e, CURLOPT_TIMEOUT, s->timeout);
  set_tls(r, s);
  set_method(r, s);
  return 0;
}

/* The URL for messages: without its query (upload tokens, digests). */
static void short_url(const ocb_hreq *r, char *out, size_t n) {
  size_t len = strcspn(r->url, "?#");
  ocb_quote(out, n, r->url, len);
}

static int tls_unspoken(const char *msg) {
  return strstr(msg, "wrong version number") || strstr(msg, "packet length too long") ||
         strstr(msg, "unknown protocol") || strstr(msg, "record layer failure");
}

/* A timeout says which limit it hit: the speed, the connection or the
 * whole request's deadline. */
static void timed_out(ocb_hreq *r, const char *why, const char *url) {
  const ocb_http *c = r->c;
  if (c && strstr(why, "too slow"))
    ocb_errf(&r->err, "ETIMEDOUT", "slower than %ld bytes/s for %ld s: %s", c->low_speed_limit,
             c->low_speed_time, url);
  else if (c && (strstr(why, "onnection timed out") || strstr(why, "esolving timed out")))
    ocb_errf(&r->err, "ETIMEDOUT", "no connection within %ld s: %s", c->connect_timeout, url);
  else if (r->timeout > 0)
    ocb_errf(&r->err, "ETIMEDOUT", "no complete answer within %ld s: %s", r->timeout, url);
  else
    ocb_errf(&r->err, "ETIMEDOUT", "%s: %s", why, url);
}

static void fail_curl(ocb_hreq *r, CURLcode rc) {
  char url[512], ename[16];
  const char *why = r->errbuf[0] ? r->errbuf : ocb_curl->easy_strerror(rc);
  long oserr = 0;
  short_url(r, url, sizeof url);
  if (r->easy) ocb_curl->easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
  switch (rc) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: ocb_errf(&r->err, "UNKNOWNHOST", "%s: %s", why, url); break;
  case CURLE_COULDNT_CONNECT:
    if (oserr) {
      const char *name = ocb_errno_name((int)oserr, ename);
      ocb_errf(&r->err, name, "%s: %s", strerror((int)oserr), url);
    } else
      ocb_errf(&r->err, "ECONNREFUSED", "%s: %s", why, url);
    break;
  case CURLE_OPERATION_TIMEDOUT: timed_out(r, why, url); break;
  case CURLE_SSL_CERTPROBLEM: ocb_errf(&r->err, "CLIENTCERT", "%s: %s", why, url); break;
  case CURLE_PEER_FAILED_VERIFICATION: ocb_errf(&r->err, "X509", "%s: %s", why, url); break;
  case CURLE_SSL_CONNECT_ERROR:
    ocb_errf(&r->err, tls_unspoken(why) ? "NOTLS" : "TLS", "%s: %s", why, url);
    break;
  case CURLE_SSL_CACERT_BADFILE: ocb_errf(&r->err, "CAFILE", "%s: %s", why, url); break;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: ocb_errf(&r->err, "ECONNRESET", "%s: %s", why, url); break;
  default: ocb_errf(&r->err, "HTTP", "%s: %s", why, url);
  }
  r->failed = 1;
}

/* Subject and Issuer lines of the presented chain, leaf first. */
static void keep_certs(ocb_hreq *r) {
  struct curl_certinfo *ci = NULL;
  ocb_buf b = {0};
  int i;
  if (ocb_curl->easy_getinfo(r->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci) return;
  for (i = 0; i < ci->num_of_certs; i++) {
    struct curl_slist *l;
    for (l = ci->certinfo[i]; l; l = l->next)
      if (!strncmp(l->data, "Subject:", 8) || !strncmp(l->data, "Issuer:", 7)) {
        ocb_buf_add(&b, l->data, strlen(l->data), 1 << 16);
        ocb_buf_add(&b, "\n", 1, 1 << 16);
      }
  }
  r->certs = b.p;
}

void ocb_hreq_finish(ocb_hreq *r, CURLcode rc) {
  char *s = NULL;
  if (r->easy) {
    ocb_curl->easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (ocb_curl->easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &s) == CURLE_OK && s)
      r->eff_url = strdup(s);
    s = NULL;
    if (ocb_curl->easy_getinfo(r->easy, CURLINFO_PRIMARY_IP, &s) == CURLE_OK && s)
      snprintf(r->ip, sizeof r->ip, "%s", s);
    if (r->certinfo) keep_certs(r);
  }
  if (!r->failed && rc != CURLE_OK) fail_curl(r, rc);
  if (!r->failed && r->into && r->status >= 200 && r->status < 300) {
    if (!r->blob_open && ocb_blobw_open(&r->blob, r->into, &r->err) == 0) r->blob_open = 1;
    if (r->blob_open && flush_blob(r) == 0) {
      r->blob_open = 0; /* the commit closes it, whatever the outcome */
      if (ocb_blobw_commit(&r->blob, r->want[0] ? r->want : NULL, r->digest, &r->blob_size,
                           &r->err) < 0)
        r->failed = 1;
    } else {
      r->failed = 1;
    }
  }
  if (r->blob_open) ocb_blobw_abort(&r->blob);
  r->blob_open = 0;
  ocb_hreq_body_free(r);
}

int ocb_hreq_finished(const ocb_hreq *r) {
  return r->state != OCB_HREQ_RUNNING;
}

void ocb_hreq_result(ocb_hreq *r, ocb_hres *res) {
  memset(res, 0, sizeof *res);
  res->failed = r->failed;
  if (r->failed) res->err = r->err;
  res->status = r->status;
  res->headers = r->headers.p ? r->headers.p : "";
  res->headers_len = r->headers.len;
  res->body = r->body.p ? r->body.p : "";
  res->body_len = r->body.len;
  memcpy(res->digest, r->digest, sizeof r->digest);
  res->size = r->blob_size;
  res->written = r->file_got;
  res->url = r->eff_url ? r->eff_url : r->url;
  res->ip = r->ip;
  res->certs = r->certs;
}

void ocb_hreq_progress(const ocb_hreq *r, uint64_t *sent, uint64_t *received) {
  *sent = r->sent;
  *received = r->received;
}

void ocb_hreq_release(ocb_hreq *r) {
  if (r->easy) ocb_curl->easy_cleanup(r->easy);
  if (r->blob_open) ocb_blobw_abort(&r->blob);
  if (r->file_fd >= 0) close(r->file_fd);
  ocb_hreq_body_free(r);
  ocb_curl->slist_free_all(r->out_headers);
  ocb_buf_free(&r->headers);
  ocb_buf_free(&r->body);
  ocb_buf_free(&r->wbuf);
  free(r->url);
  free(r->eff_url);
  free(r->certs);
  free(r);
}
