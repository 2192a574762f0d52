/*
 * client.c: the HTTP client: one curl multi handle whose connection cache
 * every request shares (with DNS and TLS sessions through a share handle),
 * easy handles kept for reuse, and the loop that drives the transfers and
 * hands finished requests back in the order they finish.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

double ocb_http_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_or_null(const char *s, size_t len, int *oom) {
  char *p;
  if (!s) return NULL;
  if (!(p = malloc(len + 1))) {
    *oom = 1;
    return NULL;
  }
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

int ocb_http_new(ocb_http **out, const ocb_http_opts *o, ocb_err *err) {
  ocb_http *c;
  int oom = 0;
  *out = NULL;
  if (ocb_curl_load(err) < 0) return -1;
  if (!(c = calloc(1, sizeof *c))) return ocb_errno(err, ENOMEM, "http client");
  c->ca_file = dup_or_null(o->ca_file, o->ca_file ? strlen(o->ca_file) : 0, &oom);
  c->ca_pem = dup_or_null(o->ca_pem, o->ca_pem_len, &oom);
  c->ca_pem_len = o->ca_pem_len;
  c->user_agent = dup_or_null(o->user_agent, o->user_agent ? strlen(o->user_agent) : 0, &oom);
  c->cert_file = dup_or_null(o->cert_file, o->cert_file ? strlen(o->cert_file) : 0, &oom);
  c->key_file = dup_or_null(o->key_file, o->key_file ? strlen(o->key_file) : 0, &oom);
  c->insecure = o->insecure;
  c->connect_timeout = o->connect_timeout;
  c->low_speed_time = o->low_speed_time;
  c->low_speed_limit = o->low_speed_limit;
  if (!oom && (c->multi = ocb_curl->multi_init()) && (c->share = ocb_curl->share_init())) {
    ocb_curl->share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    ocb_curl->share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    ocb_curl->multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 16L);
    *out = c;
    return 0;
  }
  ocb_http_free(c);
  return ocb_errno(err, ENOMEM, "http client");
}

/* An easy handle, reused or new. */
static CURL *easy(ocb_http *c) {
  if (c->nidle > 0) return c->idle[--c->nidle];
  return ocb_curl->easy_init();
}

/* Gives easy handle e back: kept for the next request, or cleaned up. */
static void release(ocb_http *c, CURL *e) {
  if (c && c->nidle < OCB_HTTP_IDLE) {
    ocb_curl->easy_reset(e);
    c->idle[c->nidle++] = e;
  } else {
    ocb_curl->easy_cleanup(e);
  }
}

static void unlink_active(ocb_http *c, ocb_hreq *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    c->active = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

/* Moves a request whose transfer ended from the active list to the done list. */
static void retire(ocb_http *c, ocb_hreq *r, CURLcode rc) {
  ocb_curl->multi_remove_handle(c->multi, r->easy);
  ocb_hreq_finish(r, rc);
  release(c, r->easy);
  r->easy = NULL;
  unlink_active(c, r);
  r->state = OCB_HREQ_DONE;
  if (c->done_tail)
    c->done_tail->next = r;
  else
    c->done = r;
  c->done_tail = r;
}

int ocb_hreq_start(ocb_http *c, const ocb_hreq_spec *s, ocb_hreq **out, ocb_err *err) {
  ocb_hreq *r = calloc(1, sizeof *r);
  CURLMcode mc;
  *out = NULL;
  if (!r) {
    if (s->body_fd >= 0) close(s->body_fd);
    if (s->into_fd >= 0) close(s->into_fd);
    return ocb_errno(err, ENOMEM, s->url);
  }
  r->c = c;
  r->fd = -1;
  r->file_fd = s->into_fd; /* taken */
  r->blob.f.fd = -1;
  if (!(r->easy = easy(c))) {
    if (s->body_fd >= 0) close(s->body_fd);
    if (r->file_fd >= 0) close(r->file_fd);
    free(r);
    return ocb_errno(err, ENOMEM, s->url);
  }
  if (ocb_hreq_setup(r, s, err) < 0) {
    r->c = NULL; /* not in flight: freed right here */
    release(c, r->easy);
    r->easy = NULL;
    ocb_hreq_free(r);
    return -1;
  }
  ocb_curl->easy_setopt(r->easy, CURLOPT_SHARE, c->share);
  if ((mc = ocb_curl->multi_add_handle(c->multi, r->easy)) != CURLM_OK) {
    ocb_errf(err, "HTTP", "%s: %s", ocb_curl->multi_strerror(mc), r->url);
    r->c = NULL;
    release(c, r->easy);
    r->easy = NULL;
    ocb_hreq_free(r);
    return -1;
  }
  r->state = OCB_HREQ_RUNNING;
  r->next = c->active;
  if (c->active) c->active->prev = r;
  c->active = r;
  *out = r;
  return 0;
}

static void collect(ocb_http *c) {
  CURLMsg *m;
  int left;
  while ((m = ocb_curl->multi_info_read(c->multi, &left))) {
    ocb_hreq *r = NULL;
    if (m->msg != CURLMSG_DONE) continue;
    ocb_curl->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r) retire(c, r, m->data.result);
  }
}

int ocb_http_wait(ocb_http *c, double seconds, ocb_err *err) {
  double deadline = ocb_http_now() + seconds;
  for (;;) {
    int running;
    double left;
    CURLMcode mc = ocb_curl->multi_perform(c->multi, &running);
    if (mc != CURLM_OK) return ocb_errf(err, "HTTP", "%s", ocb_curl->multi_strerror(mc));
    collect(c);
    if (c->done) return 0;
    left = deadline - ocb_http_now();
    if (left <= 0) return 0;
    mc = ocb_curl->multi_poll(c->multi, NULL, 0, (int)(left * 1000) + 1, NULL);
    if (mc != CURLM_OK) return ocb_errf(err, "HTTP", "%s", ocb_curl->multi_strerror(mc));
  }
}

ocb_hreq *ocb_http_done(ocb_http *c) {
  ocb_hreq *r = c->done;
  if (!r) return NULL;
  c->done = r->next;
  if (!c->done) c->done_tail = NULL;
  r->next = NULL;
  r->state = OCB_HREQ_TAKEN;
  return r;
}

/* Takes r out of the client's lists, cancelling it when in flight. */
static void detach(ocb_http *c, ocb_hreq *r) {
  if (r->state == OCB_HREQ_RUNNING) {
    ocb_curl->multi_remove_handle(c->multi, r->easy);
    release(c, r->easy);
    r->easy = NULL;
    unlink_active(c, r);
  } else if (r->state == OCB_HREQ_DONE) {
    ocb_hreq **p = &c->done, *prev = NULL;
    while (*p && *p != r) prev = *p, p = &(*p)->next;
    if (*p) *p = r->next;
    if (c->done_tail == r) c->done_tail = prev;
    r->next = NULL;
  }
  r->c = NULL;
}

void ocb_hreq_free(ocb_hreq *r) {
  if (!r) return;
  if (r->c) detach(r->c, r);
  ocb_hreq_release(r);
}

void ocb_http_free(ocb_http *c) {
  int i;
  if (!c) return;
  while (c->active) {
    ocb_hreq *r = c->active;
    detach(c, r);
    r->failed = 1;
    r->state = OCB_HREQ_DONE;
    ocb_errf(&r->err, "ECANCELED", "the client was closed: %s", r->url);
    ocb_hreq_finish(r, CURLE_ABORTED_BY_CALLBACK);
  }
  while (c->done) detach(c, c->done);
  for (i = 0; i < c->nidle; i++) ocb_curl->easy_cleanup(c->idle[i]);
  if (c->multi) ocb_curl->multi_cleanup(c->multi);
  if (c->share) ocb_curl->share_cleanup(c->share);
  free(c->ca_file);
  free(c->ca_pem);
  free(c->user_agent);
  free(c->cert_file);
  free(c->key_file);
  free(c);
}
