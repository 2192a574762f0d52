/*
 * body.c: the body of a request going out, from memory or from a byte
 * range of a store blob. A blob's bytes are hashed in file order as curl
 * reads them, and the read that would hand over the blob's last byte
 * first checks that all of them hash to the blob's name: a damaged store
 * copy stops the transfer before any registry holds the whole of it,
 * whatever the upload (one PUT, ordered chunks, a resumed chunk).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

#define CATCH_UP_BUF (64u << 10)

static int fail(ocb_hreq *r) {
  r->failed = 1;
  return -1;
}

static ssize_t read_at(ocb_hreq *r, char *buf, size_t want, uint64_t at) {
  ssize_t got;
  do got = pread(r->fd, buf, want, (off_t)at);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    ocb_errno(&r->err, errno, r->src_digest);
    return -1;
  }
  if (got == 0) {
    ocb_errf(&r->err, "CHANGED", "store blob %s got shorter while it was sent", r->src_digest);
    return -1;
  }
  return got;
}

/* The blob's bytes [*fpos, at) that this process never sent (an upload
 * resumed past them), read from the file so that the hash is whole. */
static int catch_up(ocb_hreq *r, uint64_t at) {
  char buf[CATCH_UP_BUF];
  while (*r->fpos < at) {
    uint64_t left = at - *r->fpos;
    ssize_t got = read_at(r, buf, left < sizeof buf ? (size_t)left : sizeof buf, *r->fpos);
    if (got < 0) return fail(r);
    ocb_sha256_update(*r->fh, buf, (size_t)got);
    *r->fpos += (uint64_t)got;
  }
  return 0;
}

static int check_whole(ocb_hreq *r) {
  unsigned char raw[32];
  char got[OCB_DIGEST_BUF];
  ocb_sha256_peek(*r->fh, raw);
  ocb_digest_hex(raw, got);
  if (strcmp(got, r->src_digest) == 0) return 0;
  ocb_errf(&r->err, "CORRUPT", "store blob %s is damaged: its bytes hash to %s", r->src_digest,
           got);
  return fail(r);
}

/* Hashes the bytes just read at [at, at + n) of the blob; checks the
 * whole when they end it. */
static int hash_sent(ocb_hreq *r, const char *buf, size_t n, uint64_t at) {
  uint64_t end = at + n;
  if (!r->fh || !*r->fh) return 0;
  if (*r->fpos < at && catch_up(r, at) < 0) return -1;
  if (*r->fpos < end) {
    ocb_sha256_update(*r->fh, buf + (*r->fpos - at), (size_t)(end - *r->fpos));
    *r->fpos = end;
  }
  return end == r->src_size ? check_whole(r) : 0;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud) {
  ocb_hreq *r = ud;
  uint64_t left = r->size - r->pos;
  size_t want = sz * n;
  ssize_t got;
  if (want > left) want = (size_t)left;
  if (want == 0) return 0;
  if (r->fd >= 0) {
    if ((got = read_at(r, buf, want, r->off + r->pos)) < 0) {
      fail(r);
      return CURL_READFUNC_ABORT;
    }
    if (hash_sent(r, buf, (size_t)got, r->off + r->pos) < 0) return CURL_READFUNC_ABORT;
  } else {
    memcpy(buf, r->mem + r->pos, want);
    got = (ssize_t)want;
  }
  r->pos += (uint64_t)got;
  r->sent = r->pos;
  return (size_t)got;
}

/* curl rewinds a body it must send again (a reused connection that had
 * died, a redirect); bytes hashed once are not hashed again. */
static int on_seek(void *ud, curl_off_t offset, int origin) {
  ocb_hreq *r = ud;
  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->size) return CURL_SEEKFUNC_FAIL;
  r->pos = (uint64_t)offset;
  r->sent = r->pos;
  return CURL_SEEKFUNC_OK;
}

/* A blob whose range sends nothing can still end it: an empty blob, or a
 * shared hasher that is whole already. */
static int check_now(ocb_hreq *r, ocb_err *err) {
  if (r->fh && *r->fh && *r->fpos == r->src_size && r->off + r->size == r->src_size &&
      check_whole(r) < 0) {
    *err = r->err;
    r->failed = 0;
    return -1;
  }
  return 0;
}

int ocb_hreq_body_setup(ocb_hreq *r, const ocb_hreq_spec *s, ocb_err *err) {
  r->fd = s->body_fd;
  r->off = s->body_off;
  if (s->body) {
    if (!(r->mem = malloc(s->body_len ? s->body_len : 1))) return ocb_errno(err, ENOMEM, s->url);
    memcpy(r->mem, s->body, s->body_len);
    r->size = s->body_len;
    return 0;
  }
  if (s->body_fd < 0) return 0;
  r->size = s->body_size;
  if (!s->blob_digest || !ocb_digest_valid(s->blob_digest, strlen(s->blob_digest)))
    return ocb_errf(err, "EINVAL", "a blob body needs the blob's digest: %s", s->url);
  snprintf(r->src_digest, sizeof r->src_digest, "%s", s->blob_digest);
  r->src_size = s->blob_size;
  if (s->file_hash && s->file_pos) {
    r->fh = s->file_hash, r->fpos = s->file_pos;
  } else if (r->off + r->size == r->src_size) {
    if (!(r->own_h = ocb_sha256_new())) return ocb_errno(err, ENOMEM, s->url);
    r->fh = &r->own_h, r->fpos = &r->own_pos;
  }
  return check_now(r, err);
}

void ocb_hreq_body_opts(ocb_hreq *r) {
  ocb_curl->easy_setopt(r->easy, CURLOPT_READFUNCTION, on_read);
  ocb_curl->easy_setopt(r->easy, CURLOPT_READDATA, r);
  ocb_curl->easy_setopt(r->easy, CURLOPT_SEEKFUNCTION, on_seek);
  ocb_curl->easy_setopt(r->easy, CURLOPT_SEEKDATA, r);
}

void ocb_hreq_body_free(ocb_hreq *r) {
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  ocb_sha256_free(r->own_h);
  r->own_h = NULL;
  free(r->mem);
  r->mem = NULL;
}
