/*
 * ring.c: ocb_comp, the compression pipeline: input cut into fixed blocks
 * in a bounded ring, hashed in order and compressed in any order by worker
 * threads, written out in order by the caller, so output never depends on
 * threads or timing; pieces of an earlier output stand in for unchanged
 * blocks (where earlier outputs are found is the caller's business).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h>

#include "engine.h"

/* Memory the ring's buffers may take (see ocb_comp_new). */
#define RING_BUDGET (32u << 20)
#define COPY_CHUNK (256u << 10)

enum { S_FREE, S_FILLED, S_READY, S_BUSY, S_DONE };

typedef struct slot {
  unsigned char *in, *out;
  size_t in_len, out_len;
  uint64_t seq;
  uint32_t crc;
  int state;
  int reused; /* the piece comes from the earlier build */
} slot;

struct ocb_comp {
  const ocb_engine *eng;
  ocb_codec codec;
  ocb_out_fn out;
  void *ud;

  pthread_mutex_t mu;
  pthread_cond_t work, done;
  pthread_t *threads;
  int nthreads, quit, failed;
  ocb_err werr;
  slot *ring;
  size_t nslots;
  slot *cur;          /* being filled by the caller */
  uint64_t submitted; /* blocks handed to the workers */
  uint64_t hashed;    /* blocks hashed, in order */
  int hashing;        /* a worker is hashing block `hashed` */
  uint64_t written;   /* blocks written out, in order */

  /* Output side (caller thread). */
  int started;
  uint32_t crc;  /* of the input */
  uint32_t ocrc; /* of the output */
  uint64_t isize, osize, nreused;

  /* Tracking (hashing worker until finish). */
  int track;
  ocb_sha256 *ih;
  unsigned char last_pd[32];
  ocb_prior_fn find;
  void *find_ud;
  ocb_blocks now; /* this input; pd by the hasher, end/crc by the caller */
  uint64_t pd_cap, end_cap;
  ocb_prior old; /* the earlier output */
  int matching;  /* every block so far matched `old` */
};

static void set_failed(ocb_comp *c, const ocb_err *err) {
  if (!c->failed) c->werr = *err;
  c->failed = 1;
  pthread_cond_broadcast(&c->done);
}

void ocb_blocks_free(ocb_blocks *b) {
  free(b->pd);
  free(b->end);
  free(b->crc);
  free(b->ocrc);
  free(b->st);
  memset(b, 0, sizeof *b);
}

/* ---- workers ---- */

static int grow(void **p, uint64_t *cap, uint64_t need, size_t size) {
  uint64_t n = *cap ? *cap : 64;
  void *q;
  if (need <= *cap) return 0;
  while (n < need) n *= 2;
  if (!(q = realloc(*p, n * size))) return -1;
  *p = q;
  *cap = n;
  return 0;
}

/* Room for block k in this input's per-block digests and hash states. */
static int grow_hashed(ocb_comp *c, uint64_t k, ocb_err *err) {
  void *p = c->now.pd, *q = c->now.st;
  uint64_t cap = c->pd_cap;
  if (grow(&p, &cap, k + 1, 32) < 0) return ocb_errno(err, ENOMEM, "block digests");
  c->now.pd = p;
  if (grow(&q, &c->pd_cap, k + 1, sizeof *c->now.st) < 0)
    return ocb_errno(err, ENOMEM, "block digests");
  c->now.st = q;
  return 0;
}

/* Ordered: the input hash, this block's prefix digest and hash state, the
 * reuse decision. */
static int hash_block(ocb_comp *c, slot *s, ocb_err *err) {
  unsigned char pd[32];
  uint64_t k = s->seq;
  ocb_sha256_update(c->ih, s->in, s->in_len);
  ocb_sha256_peek(c->ih, pd);
  if (k == 0 && c->find) c->matching = c->find(c->find_ud, pd, &c->old) == 1;
  if (c->matching && k < c->old.b.n && memcmp(pd, c->old.b.pd[k], 32) == 0)
    s->reused = 1;
  else
    c->matching = 0;
  if (grow_hashed(c, k, err) < 0) return -1;
  memcpy(c->now.pd[k], pd, 32);
  /* A short last block leaves no state to resume from: it stays zero. */
  if (ocb_sha256_save(c->ih, &c->now.st[k]) < 0) memset(&c->now.st[k], 0, sizeof c->now.st[k]);
  memcpy(c->last_pd, pd, 32);
  return 0;
}

static int compress_block(ocb_comp *c, void *w, slot *s, ocb_err *err) {
  s->out_len = c->eng->block_fn(w, s->in, s->in_len, s->out, c->eng->bound(s->in_len), &s->crc);
  if (s->out_len == 0) return ocb_errf(err, "EIO", "EIO: %s compression failed", c->eng->name);
  return 0;
}

/* The oldest block waiting to be compressed, or NULL. */
static slot *next_ready(ocb_comp *c) {
  uint64_t k;
  for (k = c->written; k < c->submitted; k++) {
    slot *s = &c->ring[k % c->nslots];
    if (s->state == S_READY) return s;
  }
  return NULL;
}

static void *worker(void *arg) {
  ocb_comp *c = arg;
  void *w = NULL;
  ocb_err err;
  pthread_mutex_lock(&c->mu);
  if (!c->eng->passthrough && !(w = c->eng->wnew(c->codec.level))) {
    ocb_errno(&err, ENOMEM, "compressor");
    set_failed(c, &err);
  }
  while (!c->quit && !c->failed) {
    slot *s = &c->ring[c->hashed % c->nslots];
    int r;
    if (c->track && !c->hashing && c->hashed < c->submitted && s->state == S_FILLED) {
      c->hashing = 1;
      pthread_mutex_unlock(&c->mu);
      r = hash_block(c, s, &err);
      pthread_mutex_lock(&c->mu);
      c->hashing = 0;
      c->hashed++;
      s->state = s->reused || c->eng->passthrough ? S_DONE : S_READY;
    } else if ((s = next_ready(c)) != NULL) {
      s->state = S_BUSY;
      pthread_mutex_unlock(&c->mu);
      r = compress_block(c, w, s, &err);
      pthread_mutex_lock(&c->mu);
      s->state = S_DONE;
    } else {
      pthread_cond_wait(&c->work, &c->mu);
      continue;
    }
    if (r < 0) set_failed(c, &err);
    pthread_cond_broadcast(&c->work);
    pthread_cond_broadcast(&c->done);
  }
  pthread_mutex_unlock(&c->mu);
  if (w) c->eng->wfree(w);
  return NULL;
}

/* ---- the caller's side ---- */

static void stop_threads(ocb_comp *c) {
  int i;
  if (!c->threads) return;
  pthread_mutex_lock(&c->mu);
  c->quit = 1;
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
  for (i = 0; i < c->nthreads; i++) pthread_join(c->threads[i], NULL);
  free(c->threads);
  c->threads = NULL;
}

void ocb_comp_free(ocb_comp *c) {
  size_t i;
  if (!c) return;
  stop_threads(c);
  for (i = 0; c->ring && i < c->nslots; i++) {
    if (c->ring[i].out != c->ring[i].in) free(c->ring[i].out);
    free(c->ring[i].in);
  }
  free(c->ring);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->work);
  pthread_cond_destroy(&c->done);
  ocb_sha256_free(c->ih);
  ocb_blocks_free(&c->now);
  ocb_blocks_free(&c->old.b);
  if (c->old.fd >= 0) close(c->old.fd);
  free(c);
}

ocb_comp *ocb_comp_new(const ocb_codec *codec, ocb_out_fn out, void *ud, ocb_err *err) {
  const ocb_engine *eng = ocb_engine_of(codec->kind);
  int threads = codec->threads;
  ocb_comp *c;
  size_t per, max;
  int i;
  if (ocb_codec_check(codec, err) < 0) return NULL;
  if (!(c = calloc(1, sizeof *c))) {
    ocb_errno(err, ENOMEM, "compressor");
    return NULL;
  }
  c->eng = eng, c->codec = *codec, c->out = out, c->ud = ud;
  c->old.fd = -1;
  c->crc = (uint32_t)crc32(0, Z_NULL, 0);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->work, NULL);
  pthread_cond_init(&c->done, NULL);
  per = eng->block + (eng->passthrough ? 0 : eng->bound(eng->block));
  max = RING_BUDGET / per;
  /* Two blocks per worker within the budget, never less than one each
   * plus the one being filled and the one being written. */
  c->nslots = 2 * (size_t)threads + 2;
  if (c->nslots > max) c->nslots = max;
  if (c->nslots < (size_t)threads + 2) c->nslots = (size_t)threads + 2;
  if (!(c->ring = calloc(c->nslots, sizeof *c->ring)) ||
      !(c->threads = calloc((size_t)threads, sizeof *c->threads))) {
    ocb_errno(err, ENOMEM, "compressor");
    ocb_comp_free(c);
    return NULL;
  }
  for (i = 0; i < threads; i++) {
    int e = pthread_create(&c->threads[i], NULL, worker, c);
    if (e) {
      ocb_errno(err, e, "compression thread");
      ocb_comp_free(c);
      return NULL;
    }
    c->nthreads++;
  }
  return c;
}

int ocb_comp_track(ocb_comp *c, ocb_prior_fn find, void *ud, ocb_err *err) {
  if (c->submitted || c->cur) return ocb_errf(err, "EINVAL", "EINVAL: track before writing");
  if (!(c->ih = ocb_sha256_new())) return ocb_errno(err, ENOMEM, "SHA-256 context");
  c->find = find, c->find_ud = ud;
  pthread_mutex_lock(&c->mu);
  c->track = 1;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* Copies block i of `from` into slot i of `to` (both with room). */
static void copy_block(ocb_blocks *to, const ocb_blocks *from, uint64_t i) {
  memcpy(to->pd[i], from->pd[i], 32);
  to->st[i] = from->st[i];
  to->end[i] = from->end[i];
  to->crc[i] = from->crc[i];
  to->ocrc[i] = from->ocrc[i];
}

int ocb_comp_resume(ocb_comp *c, ocb_prior *prior, uint64_t k, ocb_err *err) {
  const ocb_blocks *b = &prior->b;
  uint64_t i, bs = c->eng->block;
  void *e = NULL, *r = NULL, *o = NULL;
  uint64_t cap = 0, cap2 = 0;
  if (!c->track || c->submitted || c->cur || k == 0 || k > b->n || b->st[k - 1].bytes != k * bs)
    return ocb_errf(err, "EINVAL", "EINVAL: cannot resume at block %llu", (unsigned long long)k);
  ocb_sha256_free(c->ih);
  if (!(c->ih = ocb_sha256_resume(&b->st[k - 1]))) return ocb_errno(err, ENOMEM, "SHA-256 context");
  if (grow_hashed(c, k - 1, err) < 0) return -1;
  if (grow(&e, &cap, k, 8) < 0 || grow(&o, &cap2, k, 4) < 0 || grow(&r, &c->end_cap, k, 4) < 0) {
    free(e), free(o), free(r);
    return ocb_errno(err, ENOMEM, "block offsets");
  }
  c->now.end = e, c->now.crc = r, c->now.ocrc = o;
  for (i = 0; i < k; i++) {
    copy_block(&c->now, b, i);
    c->crc = (uint32_t)crc32_combine(c->crc, b->crc[i], (z_off_t)bs);
  }
  memcpy(c->last_pd, b->pd[k - 1], 32);
  c->isize = k * bs;
  c->nreused = k;
  c->old = *prior; /* taken over: its blob supplies the first k pieces */
  memset(prior, 0, sizeof *prior);
  prior->fd = -1;
  pthread_mutex_lock(&c->mu);
  c->submitted = c->hashed = c->written = k;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* Hands bytes to the output, counting and checksumming them. */
static int put(ocb_comp *c, const void *buf, size_t n, ocb_err *err) {
  c->ocrc = (uint32_t)libdeflate_crc32(c->ocrc, buf, n);
  c->osize += n;
  return n ? c->out(c->ud, buf, n, err) : 0;
}

/* Copies the earlier blob's bytes up to the end of block k - 1 to the
 * output (its header and the pieces of the blocks that matched), checking
 * them against the CRC-32 recorded when they were written. */
static int copy_prefix(ocb_comp *c, uint64_t k, ocb_err *err) {
  uint64_t n = c->old.b.end[k - 1], off = 0;
  unsigned char *buf = malloc(COPY_CHUNK);
  int rc = 0;
  if (!buf) return ocb_errno(err, ENOMEM, "reuse");
  while (rc == 0 && off < n) {
    size_t want = n - off < COPY_CHUNK ? (size_t)(n - off) : COPY_CHUNK;
    ssize_t got = pread(c->old.fd, buf, want, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      char what[160];
      snprintf(what, sizeof what, "reading blob %s", c->old.blob);
      rc = ocb_errno(err, got < 0 ? errno : EIO, what);
      break;
    }
    rc = put(c, buf, (size_t)got, err);
    off += (uint64_t)got;
  }
  free(buf);
  if (rc == 0 && c->ocrc != c->old.b.ocrc[k - 1])
    rc = ocb_errf(err, "CORRUPT",
                  "CORRUPT: blob %s in the store changed since it was written; "
                  "its reuse record is dropped, build again",
                  c->old.blob);
  return rc;
}

/* The first bytes out: the engine's header, or the earlier blob up to the
 * end of block k - 1 when blocks before k were reused. */
static int start(ocb_comp *c, uint64_t k, ocb_err *err) {
  unsigned char h[32];
  c->started = 1;
  if (k > 0) return copy_prefix(c, k, err);
  return put(c, h, c->eng->header(h, c->codec.level), err);
}

static int note_block(ocb_comp *c, uint64_t k, uint64_t end, uint32_t crc, uint32_t ocrc,
                      ocb_err *err) {
  void *e = c->now.end, *r = c->now.crc, *o = c->now.ocrc;
  uint64_t cap = c->end_cap, cap2 = c->end_cap;
  if (!c->track) return 0;
  if (grow(&e, &cap, k + 1, 8) < 0) return ocb_errno(err, ENOMEM, "block offsets");
  c->now.end = e;
  if (grow(&o, &cap2, k + 1, 4) < 0) return ocb_errno(err, ENOMEM, "block offsets");
  c->now.ocrc = o;
  if (grow(&r, &c->end_cap, k + 1, 4) < 0) return ocb_errno(err, ENOMEM, "block offsets");
  c->now.crc = r;
  c->now.end[k] = end;
  c->now.crc[k] = crc;
  c->now.ocrc[k] = ocrc;
  return 0;
}

/* Writes one finished block's piece (or, for a reused one, only notes it). */
static int emit(ocb_comp *c, slot *s, ocb_err *err) {
  uint64_t k = s->seq;
  uint32_t crc = s->reused ? c->old.b.crc[k] : s->crc;
  c->crc = (uint32_t)crc32_combine(c->crc, crc, (z_off_t)s->in_len);
  c->isize += s->in_len;
  if (s->reused) {
    c->nreused++;
    return note_block(c, k, c->old.b.end[k], crc, c->old.b.ocrc[k], err);
  }
  if (!c->started && start(c, k, err) < 0) return -1;
  if (put(c, s->out, s->out_len, err) < 0) return -1;
  return note_block(c, k, c->osize, crc, c->ocrc, err);
}

/* Writes finished blocks in order, waiting while the ring holds more than
 * `keep` blocks that are not written yet. */
static int drain(ocb_comp *c, uint64_t keep, ocb_err *err) {
  pthread_mutex_lock(&c->mu);
  for (;;) {
    slot *s = &c->ring[c->written % c->nslots];
    int r;
    if (c->failed) {
      *err = c->werr;
      pthread_mutex_unlock(&c->mu);
      return -1;
    }
    if (c->written == c->submitted) break;
    if (s->state != S_DONE) {
      if (c->submitted - c->written <= keep) break;
      pthread_cond_wait(&c->done, &c->mu);
      continue;
    }
    pthread_mutex_unlock(&c->mu);
    r = emit(c, s, err);
    pthread_mutex_lock(&c->mu);
    if (r < 0) {
      set_failed(c, err);
      pthread_mutex_unlock(&c->mu);
      return -1;
    }
    s->state = S_FREE;
    c->written++;
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* The slot for the next block, with its buffers. */
static slot *take_slot(ocb_comp *c, ocb_err *err) {
  slot *s;
  if (drain(c, c->nslots - 1, err) < 0) return NULL;
  s = &c->ring[c->submitted % c->nslots];
  if (!s->in) {
    if (!(s->in = malloc(c->eng->block))) {
      ocb_errno(err, ENOMEM, "compression buffer");
      return NULL;
    }
    s->out = c->eng->passthrough ? s->in : malloc(c->eng->bound(c->eng->block));
    if (!s->out) {
      ocb_errno(err, ENOMEM, "compression buffer");
      return NULL;
    }
  }
  s->seq = c->submitted;
  s->in_len = s->out_len = 0;
  s->reused = 0;
  return s;
}

static void submit(ocb_comp *c) {
  slot *s = c->cur;
  c->cur = NULL;
  if (c->eng->passthrough) s->out_len = s->in_len;
  pthread_mutex_lock(&c->mu);
  s->state = c->track ? S_FILLED : c->eng->passthrough ? S_DONE : S_READY;
  c->submitted++;
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
}

int ocb_comp_write(ocb_comp *c, const void *buf, size_t len, ocb_err *err) {
  const unsigned char *p = buf;
  while (len) {
    size_t n;
    if (!c->cur && !(c->cur = take_slot(c, err))) return -1;
    n = c->eng->block - c->cur->in_len;
    if (n > len) n = len;
    memcpy(c->cur->in + c->cur->in_len, p, n);
    c->cur->in_len += n;
    p += n, len -= n;
    if (c->cur->in_len == c->eng->block) submit(c);
  }
  return 0;
}

int ocb_comp_finish(ocb_comp *c, ocb_err *err) {
  unsigned char t[32];
  /* The last block is whatever is left; an empty input is one empty block. */
  if (!c->cur && c->submitted == 0 && !(c->cur = take_slot(c, err))) return -1;
  if (c->cur) submit(c);
  if (drain(c, 0, err) < 0) return -1;
  stop_threads(c);
  if (c->track) c->now.n = c->submitted;
  if (c->matching && c->nreused == c->old.b.n && c->nreused == c->submitted) return 0;
  if (!c->started && start(c, c->submitted, err) < 0) return -1;
  return put(c, t, c->eng->trailer(t, c->crc, c->isize), err);
}

void ocb_comp_result_get(const ocb_comp *c, ocb_comp_result *r) {
  memset(r, 0, sizeof *r);
  ocb_digest_hex(c->last_pd, r->diff_id);
  r->isize = c->isize;
  r->osize = c->osize;
  r->blocks = c->submitted;
  r->reused = c->nreused;
  r->whole = c->track && !c->started && c->matching && c->nreused == c->submitted;
  if (r->whole) {
    memcpy(r->blob, c->old.blob, sizeof r->blob);
    r->blob_size = c->old.size;
  }
}

const ocb_blocks *ocb_comp_blocks(const ocb_comp *c) {
  return &c->now;
}

size_t ocb_comp_block_size(const ocb_comp *c) {
  return c->eng->block;
}

const ocb_codec *ocb_comp_codec(const ocb_comp *c) {
  return &c->codec;
}
