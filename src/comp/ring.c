/*
 * ring.c: ocb_comp, the compression pipeline: input cut into blocks in a
 * bounded ring (at fixed sizes, or where the caller cuts), hashed in order
 * and compressed in any order by worker threads, written out in order by
 * the caller, so output never depends on threads or timing. Pieces of an
 * earlier output (prior.c) stand in for blocks known or found to be the
 * same; where earlier outputs are found is the caller's business. The
 * blocks of a candidate (an output elsewhere, known by its blocks only)
 * leave holes the caller fills and checks afterwards (ocb_comp_fill). The
 * output side, where pieces go out in order, is out.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#include "ring.h"

/* Memory the ring's buffers may take (see ocb_comp_new). */
#define RING_BUDGET (32u << 20)
/* Room in a block past the nominal size, for the caller's cuts. */
#define CUT_ROOM (64u << 10)

static void set_failed(ocb_comp *c, const ocb_err *err) {
  if (!c->failed) c->werr = *err;
  c->failed = 1;
  pthread_cond_broadcast(&c->done);
}

/* ---- workers ---- */

/* Ordered: the input hash, and its state after this block. */
static void hash_block(ocb_comp *c, ocb_slot *s) {
  ocb_sha256_update(c->ih, s->in, s->in_len);
  /* A block that ends off a 64-byte boundary leaves no state to resume from. */
  if (ocb_sha256_save(c->ih, &s->st) < 0) memset(&s->st, 0, sizeof s->st);
}

/* Compresses a block, unless a block of the earlier output has its bytes. */
static int compress_block(ocb_comp *c, void *w, ocb_slot *s, ocb_err *err) {
  int64_t j;
  if ((c->flags & OCB_TRACK_IDS) && !s->has_id) ocb_sha256_digest(s->in, s->in_len, s->id);
  if (c->old.b.n && (j = ocb_prior_lookup(&c->old, s->id, s->in_len)) >= 0 &&
      (!c->deferred || (uint32_t)libdeflate_crc32(0, s->in, s->in_len) == c->old.b.v[j].crc)) {
    /* (a candidate's word is checked against what the input is, here and
     * again, against its piece, when the hole is filled) */
    const ocb_block *b = &c->old.b.v[j];
    s->from = j, s->crc = b->crc, s->ocrc = b->ocrc;
    s->out_len = (size_t)(b->oend - ocb_blocks_ostart(&c->old.b, (uint64_t)j));
    return 0;
  }
  if (c->eng->passthrough) {
    s->crc = s->ocrc = (uint32_t)libdeflate_crc32(0, s->in, s->in_len);
    s->out_len = s->in_len;
    return 0;
  }
  s->out_len = c->eng->block_fn(w, s->in, s->in_len, s->out, c->pcap - OCB_PIECE_SLACK, &s->crc);
  if (s->out_len == 0) return ocb_errf(err, "EIO", "%s compression failed", c->eng->name);
  s->ocrc = (uint32_t)libdeflate_crc32(0, s->out, s->out_len);
  return 0;
}

/* A block's work besides the hash: see the kinds above. The worker's
 * decompressor, *d, is made when first needed. */
static int prep_block(ocb_comp *c, void *w, void **d, ocb_slot *s, ocb_err *err) {
  const ocb_block *b = s->from >= 0 ? &c->old.b.v[s->from] : NULL;
  if (s->kind == K_OLD) {
    if (!*d && !(*d = c->eng->dnew())) return ocb_errno(err, ENOMEM, "decompressor");
    if (ocb_prior_input(&c->old, c->eng, *d, (uint64_t)s->from, s->out, c->pcap, s->in, c->cap,
                        &s->in_len, err) < 0)
      return -1;
    s->out_len = (size_t)(b->oend - ocb_blocks_ostart(&c->old.b, (uint64_t)s->from));
  } else if (s->kind == K_KNOWN && (uint32_t)libdeflate_crc32(0, s->in, s->in_len) != b->crc) {
    s->kind = K_FRESH, s->from = -1; /* not what the caller thought: made afresh */
    return compress_block(c, w, s, err);
  } else if (s->kind == K_FRESH) {
    return compress_block(c, w, s, err);
  } else {
    s->out_len = (size_t)(b->oend - ocb_blocks_ostart(&c->old.b, (uint64_t)s->from));
  }
  memcpy(s->id, b->id, 32);
  s->crc = b->crc, s->ocrc = b->ocrc;
  return 0;
}

/* The next block to hash, in order: its input is there. */
static ocb_slot *hashable(ocb_comp *c) {
  ocb_slot *s = &c->ring[c->hashed % c->nslots];
  if (c->hashing || c->hashed == c->submitted || s->hash != W_TODO) return NULL;
  return s->kind == K_OLD && s->prep != W_DONE ? NULL : s;
}

/* The oldest block waiting for its other work, or NULL. A block made
 * afresh waits until the earlier output is known (at the first block). */
static ocb_slot *preppable(ocb_comp *c) {
  uint64_t k;
  for (k = c->written; k < c->submitted; k++) {
    ocb_slot *s = &c->ring[k % c->nslots];
    if (s->prep == W_TODO && (s->kind != K_FRESH || c->ready || k == 0)) return s;
  }
  return NULL;
}

static void *worker(void *arg) {
  ocb_comp *c = arg;
  void *w = NULL, *d = NULL;
  ocb_err err;
  pthread_mutex_lock(&c->mu);
  if (!c->eng->passthrough && !(w = c->eng->wnew(c->codec.level))) {
    ocb_errno(&err, ENOMEM, "compressor");
    set_failed(c, &err);
  }
  while (!c->quit && !c->failed) {
    ocb_slot *s;
    int r = 0;
    if ((s = hashable(c)) != NULL) {
      c->hashing = 1, s->hash = W_BUSY;
      pthread_mutex_unlock(&c->mu);
      hash_block(c, s);
      pthread_mutex_lock(&c->mu);
      c->hashing = 0, s->hash = W_DONE;
      c->hashed++;
    } else if ((s = preppable(c)) != NULL) {
      s->prep = W_BUSY;
      pthread_mutex_unlock(&c->mu);
      r = prep_block(c, w, &d, s, &err);
      pthread_mutex_lock(&c->mu);
      s->prep = W_DONE;
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
  if (d) c->eng->dfree(d);
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
  if (c->lead) ocb_lead_stop(c->lead);
  ocb_sha256_free(c->ih);
  ocb_sha256_free(c->oh);
  ocb_blocks_free(&c->now);
  ocb_prior_free(&c->old);
  free(c->holes);
  free(c->copy);
  free(c->oin);
  free(c->opiece);
  if (c->dec) c->eng->dfree(c->dec);
  free(c);
}

ocb_comp *ocb_comp_new(const ocb_codec *codec, ocb_out_fn out, void *ud, ocb_err *err) {
  const ocb_engine *eng = ocb_engine_of(codec->kind);
  int threads = codec->threads;
  ocb_comp *c;
  size_t max;
  int i;
  if (ocb_codec_check(codec, err) < 0) return NULL;
  if (!(c = calloc(1, sizeof *c))) {
    ocb_errno(err, ENOMEM, "compressor");
    return NULL;
  }
  c->eng = eng, c->codec = *codec, c->out = out, c->ud = ud;
  c->bs = eng->block, c->cap = eng->block + CUT_ROOM;
  c->pcap = eng->bound(c->cap) + OCB_PIECE_SLACK;
  c->ready = 1, c->oj = -1;
  ocb_prior_init(&c->old);
  c->crc = (uint32_t)crc32(0, Z_NULL, 0);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->work, NULL);
  pthread_cond_init(&c->done, NULL);
  max = RING_BUDGET / (c->cap + (eng->passthrough ? 0 : c->pcap));
  /* Four blocks per worker within the budget (a run of blocks that is
   * cheap for the workers and dear for the writer, such as stored pieces,
   * then lets them work ahead), never less than one each plus the one
   * being filled and the one being written. */
  c->nslots = 4 * (size_t)threads + 4;
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

int ocb_comp_track(ocb_comp *c, ocb_prior_fn find, void *ud, int flags, ocb_err *err) {
  unsigned char h[32];
  if (c->submitted || c->cur) return ocb_errf(err, "EINVAL", "track before writing");
  if (!(c->ih = ocb_sha256_new()) || !(c->oh = ocb_sha256_new()))
    return ocb_errno(err, ENOMEM, "SHA-256 context");
  c->now.ohead = c->eng->header(h, c->codec.level);
  pthread_mutex_lock(&c->mu);
  c->track = 1, c->flags = flags | (find ? OCB_TRACK_IDS : 0);
  c->find = find, c->find_ud = ud, c->ready = find == NULL;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

int ocb_comp_prior(ocb_comp *c, ocb_prior *prior, uint64_t k, ocb_err *err) {
  const ocb_blocks *b = &prior->b;
  uint64_t i;
  if (!c->track || c->submitted || c->cur || k > b->n ||
      (k > 0 && b->v[k - 1].st.bytes != b->v[k - 1].tend))
    return ocb_errf(err, "EINVAL", "cannot resume at block %llu", (unsigned long long)k);
  if (ocb_prior_index(prior) < 0) return ocb_errno(err, ENOMEM, "reuse");
  if (k > 0) {
    ocb_sha256_free(c->ih);
    if (!(c->ih = ocb_sha256_resume(&b->v[k - 1].st)))
      return ocb_errno(err, ENOMEM, "SHA-256 context");
    c->isize = b->v[k - 1].tend;
  }
  for (i = 0; i < k; i++) {
    if (ocb_blocks_push(&c->now, &b->v[i]) < 0) return ocb_errno(err, ENOMEM, "blocks");
    c->crc = (uint32_t)crc32_combine(c->crc, b->v[i].crc,
                                     (z_off_t)(b->v[i].tend - ocb_blocks_tstart(b, i)));
  }
  ocb_prior_free(&c->old);
  c->old = *prior; /* taken over: its blob supplies pieces */
  ocb_prior_init(prior);
  c->nreused = k;
  pthread_mutex_lock(&c->mu);
  c->matching = k == 0, c->ready = 1, c->find = NULL;
  c->submitted = c->hashed = c->written = k;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

const ocb_blocks *ocb_comp_prior_blocks(const ocb_comp *c) {
  return c->old.b.n ? &c->old.b : NULL;
}

const char *ocb_comp_prior_digest(const ocb_comp *c) {
  return c->old.b.n && !c->deferred ? c->old.blob : NULL;
}

void ocb_comp_set_skip(ocb_comp *c, ocb_skip_fn skip) {
  c->skip = skip;
}

void ocb_comp_set_copy(ocb_comp *c, ocb_copy_fn copy) {
  c->clone = copy;
}

void ocb_comp_set_behind(ocb_comp *c, ocb_skip_fn skip, ocb_at_fn at) {
  c->behind_skip = skip, c->behind_at = at;
}

/* Writes finished blocks in order, waiting while the ring holds more than
 * `keep` blocks that are not written yet. */
static int drain(ocb_comp *c, uint64_t keep, ocb_err *err) {
  pthread_mutex_lock(&c->mu);
  for (;;) {
    ocb_slot *s = &c->ring[c->written % c->nslots];
    int r;
    if (c->failed) {
      *err = c->werr;
      pthread_mutex_unlock(&c->mu);
      return -1;
    }
    if (c->written == c->submitted) break;
    if (s->prep != W_DONE || s->hash != W_DONE) {
      if (c->submitted - c->written <= keep) break;
      pthread_cond_wait(&c->done, &c->mu);
      continue;
    }
    pthread_mutex_unlock(&c->mu);
    r = ocb_ring_emit(c, s, err);
    pthread_mutex_lock(&c->mu);
    if (r < 0) {
      set_failed(c, err);
      pthread_mutex_unlock(&c->mu);
      return -1;
    }
    c->written++;
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* The slot for the next block, with its buffers. */
static ocb_slot *take_slot(ocb_comp *c, ocb_err *err) {
  ocb_slot *s;
  if (drain(c, c->nslots - 1, err) < 0) return NULL;
  s = &c->ring[c->submitted % c->nslots];
  if (!s->in) {
    if (!(s->in = malloc(c->cap))) {
      ocb_errno(err, ENOMEM, "compression buffer");
      return NULL;
    }
    s->out = c->eng->passthrough ? s->in : malloc(c->pcap);
    if (!s->out) {
      ocb_errno(err, ENOMEM, "compression buffer");
      return NULL;
    }
  }
  s->seq = c->submitted;
  s->in_len = s->out_len = 0;
  return s;
}

/* The first block, before the workers see it: the earlier output (or a
 * candidate) that began with the same block, looked up on this thread. */
static void first_block(ocb_comp *c, ocb_slot *s) {
  int r;
  ocb_sha256_digest(s->in, s->in_len, s->id);
  s->has_id = 1;
  r = c->find(c->find_ud, s->id, &c->old);
  if (r == 2 && (!c->skip || c->old.fd >= 0)) r = 0; /* no holes to leave */
  if (r > 0 && ocb_prior_index(&c->old) == 0) {
    c->deferred = r == 2, c->matching = r == 1;
  } else {
    ocb_prior_free(&c->old);
  }
}

static void submit(ocb_comp *c, ocb_slot *s, int kind, int64_t from) {
  if (s == c->cur) c->cur = NULL;
  s->kind = kind, s->from = from;
  memset(s->id, 0, sizeof s->id);
  memset(&s->st, 0, sizeof s->st);
  s->has_id = 0;
  if (s->seq == 0 && !c->ready && c->find && kind == K_FRESH) first_block(c, s);
  pthread_mutex_lock(&c->mu);
  if (s->seq == 0) c->ready = 1;
  s->prep = W_TODO;
  s->hash = c->track ? W_TODO : W_DONE;
  c->submitted++;
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
}

int ocb_comp_write(ocb_comp *c, const void *buf, size_t len, ocb_err *err) {
  const unsigned char *p = buf;
  size_t limit = c->flags & OCB_TRACK_CUTS ? c->cap : c->bs;
  while (len) {
    size_t n;
    if (!c->cur && !(c->cur = take_slot(c, err))) return -1;
    n = limit - c->cur->in_len;
    if (n > len) n = len;
    memcpy(c->cur->in + c->cur->in_len, p, n);
    c->cur->in_len += n;
    p += n, len -= n;
    if (c->cur->in_len == limit) submit(c, c->cur, K_FRESH, -1);
  }
  return 0;
}

int ocb_comp_cut(ocb_comp *c, int64_t known, ocb_err *err) {
  ocb_slot *s = c->cur;
  (void)err;
  if (!s || s->in_len == 0) return 0;
  if (known >= 0 &&
      ((uint64_t)known >= c->old.b.n ||
       c->old.b.v[known].tend - ocb_blocks_tstart(&c->old.b, (uint64_t)known) != s->in_len))
    known = -1;
  submit(c, s, known >= 0 ? K_KNOWN : K_FRESH, known);
  return 0;
}

int ocb_comp_reuse(ocb_comp *c, uint64_t j, ocb_err *err) {
  ocb_slot *s;
  if (j >= c->old.b.n || c->old.b.v[j].tend - ocb_blocks_tstart(&c->old.b, j) > c->cap)
    return ocb_errf(err, "EINVAL", "no earlier block %llu", (unsigned long long)j);
  if (ocb_comp_cut(c, -1, err) < 0) return -1;
  if (!c->cur && !(c->cur = take_slot(c, err))) return -1;
  s = c->cur;
  submit(c, s, K_OLD, (int64_t)j);
  return 0;
}

int ocb_comp_old(ocb_comp *c, uint64_t j, const unsigned char **buf, size_t *len, ocb_err *err) {
  if (j >= c->old.b.n)
    return ocb_errf(err, "EINVAL", "no earlier block %llu", (unsigned long long)j);
  if (c->oj != (int64_t)j) {
    if ((!c->oin && !(c->oin = malloc(c->cap))) || (!c->opiece && !(c->opiece = malloc(c->pcap))) ||
        (!c->dec && !(c->dec = c->eng->dnew())))
      return ocb_errno(err, ENOMEM, "reuse");
    c->oj = -1;
    if (ocb_prior_input(&c->old, c->eng, c->dec, j, c->opiece, c->pcap, c->oin, c->cap, &c->olen,
                        err) < 0)
      return -1;
    c->oj = (int64_t)j;
  }
  *buf = c->oin, *len = c->olen;
  return 0;
}

int ocb_comp_finish(ocb_comp *c, ocb_err *err) {
  unsigned char t[32];
  /* The last block is whatever is left; an empty input is one empty block. */
  if (!c->cur && c->submitted == 0 && !(c->cur = take_slot(c, err))) return -1;
  if (c->cur && (c->cur->in_len > 0 || c->submitted == 0)) submit(c, c->cur, K_FRESH, -1);
  c->cur = NULL;
  if (drain(c, 0, err) < 0) return -1;
  stop_threads(c);
  if (c->matching && c->nreused == c->old.b.n && c->nreused == c->submitted) return 0;
  if (!c->started && ocb_ring_start(c, c->submitted, err) < 0) return -1;
  if (ocb_ring_put(c, t, c->eng->trailer(t, c->crc, c->isize), err) < 0) return -1;
  if (c->lead) {
    ocb_lead *l = c->lead;
    c->lead = NULL;
    return ocb_lead_join(l, err);
  }
  return 0;
}

void ocb_comp_result_get(const ocb_comp *c, ocb_comp_result *r) {
  unsigned char d[32];
  memset(r, 0, sizeof *r);
  if (c->track) {
    ocb_sha256_peek(c->ih, d);
    ocb_digest_hex(d, r->diff_id);
    ocb_sha256_peek(c->oh, d);
    ocb_digest_hex(d, r->digest);
  }
  r->isize = c->isize;
  r->osize = c->osize;
  r->blocks = c->submitted;
  r->reused = c->nreused;
  r->whole = c->track && !c->started && c->matching && c->nreused == c->submitted;
  r->holes = c->filled[0] ? 0 : c->nholes;
  if (c->nholes) memcpy(r->digest, c->filled, sizeof r->digest); /* "" until filled */
  if (r->whole) {
    memcpy(r->blob, c->old.blob, sizeof r->blob);
    r->blob_size = c->old.size;
  }
}

const ocb_blocks *ocb_comp_blocks(const ocb_comp *c) {
  return &c->now;
}

const ocb_hole *ocb_comp_holes(const ocb_comp *c, uint64_t *n) {
  *n = c->nholes;
  return c->holes;
}

int ocb_comp_fill(ocb_comp *c, int fd, int threads, ocb_err *err) {
  ocb_fill f;
  if (!c->nholes || c->filled[0]) return 0;
  f.eng = c->eng, f.cand = &c->old.b, f.now = &c->now, f.holes = c->holes, f.n = c->nholes;
  f.fd = fd, f.cap = c->cap, f.pcap = c->pcap;
  if (ocb_fill_check(&f, threads, err) < 0) return -1;
  return ocb_fill_hash(&f, &c->of, &c->now, c->holes[0].k, c->osize, c->filled, err);
}

size_t ocb_comp_block_size(const ocb_comp *c) {
  return c->bs;
}

size_t ocb_comp_block_cap(const ocb_comp *c) {
  return c->cap;
}

const ocb_codec *ocb_comp_codec(const ocb_comp *c) {
  return &c->codec;
}
