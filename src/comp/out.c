/*
 * out.c: the output side of the pipeline, on the caller's thread: each
 * finished block's piece written in order and hashed, or, in a rebuild,
 * only noted while the blocks are the earlier output's in place; the
 * earlier output's leading pieces copied (shared, written, or behind a
 * hole on a thread of their own) where the output's hash resumes; holes
 * left for a candidate's pieces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ring.h"

/* Leading pieces worth a thread of their own (see ocb_comp_set_behind). */
#define LEAD_MIN (256u << 10)

/* Hands bytes to the output, counting and hashing them (but those the
 * output's hash resumed after). */
int ocb_ring_put(void *ud, const void *buf, size_t n, ocb_err *err) {
  ocb_comp *c = ud;
  uint64_t skip = c->oskip > c->osize ? c->oskip - c->osize : 0;
  if (c->oh && !c->nholes && skip < n)
    ocb_sha256_update(c->oh, (const char *)buf + skip, n - (size_t)skip);
  c->osize += n;
  return n ? c->out(c->ud, buf, n, err) : 0;
}

static int need_copy(ocb_comp *c, ocb_err *err) {
  if (!c->copy && !(c->copy = malloc(c->pcap))) return ocb_errno(err, ENOMEM, "reuse");
  return 0;
}

/* Counts and hashes bytes as put does, for bytes the output has already. */
static int tally(void *ud, const void *buf, size_t n, ocb_err *err) {
  ocb_comp *c = ud;
  uint64_t skip = c->oskip > c->osize ? c->oskip - c->osize : 0;
  (void)err;
  if (skip < n) ocb_sha256_update(c->oh, (const char *)buf + skip, n - (size_t)skip);
  c->osize += n;
  return 0;
}

/* The earlier output's pieces [m, k), written and hashed (past oskip). */
static int put_pieces(ocb_comp *c, uint64_t m, uint64_t k, ocb_err *err) {
  size_t n;
  for (; m < k; m++)
    if (ocb_prior_piece(&c->old, m, c->copy, c->pcap, &n, err) < 0 ||
        ocb_ring_put(c, c->copy, n, err) < 0)
      return -1;
  return 0;
}

/* The earlier output's leading bytes before block k's end, whose hash
 * resumed at `from`: the pieces wholly before it go behind a hole, on the
 * lead's thread; 0 when there are too few to be worth it. */
static int behind(ocb_comp *c, uint64_t k, uint64_t from, ocb_err *err) {
  uint64_t m = 0, lead;
  while (m < k && c->old.b.v[m].oend <= from) m++;
  lead = ocb_blocks_ostart(&c->old.b, m);
  if (!c->behind_at || m == 0 || lead < LEAD_MIN) return 0;
  if (c->behind_skip(c->ud, lead, err) < 0) return -1;
  c->osize = lead; /* before oskip: nothing to hash */
  if (!(c->lead =
            ocb_lead_start(&c->old, c->eng, c->codec.level, m, c->pcap, c->behind_at, c->ud, err)))
    return -1;
  return put_pieces(c, m, k, err) < 0 ? -1 : 1;
}

/* The first bytes out: the engine's header, or the earlier output up to
 * the end of block k - 1 when blocks before k are its own (its hash
 * resumed from their last state: those bytes are copied, not hashed). */
int ocb_ring_start(ocb_comp *c, uint64_t k, ocb_err *err) {
  unsigned char h[32];
  const ocb_sha256_state *st = k ? &c->old.b.v[k - 1].ost : NULL;
  uint64_t end = k ? c->old.b.v[k - 1].oend : 0;
  c->started = 1;
  if (k == 0) return ocb_ring_put(c, h, c->eng->header(h, c->codec.level), err);
  if (need_copy(c, err) < 0) return -1;
  if (c->oh && st->bytes > 0 && st->bytes <= end) {
    ocb_sha256 *r = ocb_sha256_resume(st);
    if (!r) return ocb_errno(err, ENOMEM, "SHA-256 context");
    ocb_sha256_free(c->oh);
    c->oh = r, c->oskip = st->bytes;
    /* Shared by the output where it can, then checked as they would be
     * when written: read from the blob, which is in the page cache, where
     * the shared copy is not. */
    if (c->clone && c->osize == 0) {
      int shared = c->clone(c->ud, c->old.fd, 0, end, err);
      if (shared < 0) return -1;
      if (shared)
        return ocb_prior_prefix(&c->old, c->eng, c->codec.level, k, c->copy, c->pcap, tally, c,
                                err);
    }
    if (c->osize == 0) {
      int b = behind(c, k, st->bytes, err);
      if (b != 0) return b < 0 ? -1 : 0;
    }
  }
  return ocb_prior_prefix(&c->old, c->eng, c->codec.level, k, c->copy, c->pcap, ocb_ring_put, c,
                          err);
}

static int note_block(ocb_comp *c, const ocb_slot *s, uint64_t oend, ocb_err *err) {
  ocb_block b;
  if (!c->track) return 0;
  memcpy(b.id, s->id, 32);
  b.st = s->st, b.tend = c->isize, b.oend = oend, b.crc = s->crc, b.ocrc = s->ocrc;
  /* The output's state is known only where it went through this output
   * (after a hole, ocb_comp_fill finds it). */
  if (c->nholes)
    memset(&b.ost, 0, sizeof b.ost);
  else if (oend == c->osize)
    ocb_sha256_save_floor(c->oh, &b.ost);
  else
    b.ost = c->old.b.v[s->seq].ost;
  return ocb_blocks_push(&c->now, &b) < 0 ? ocb_errno(err, ENOMEM, "blocks") : 0;
}

/* Leaves a hole for the candidate's piece of block s->from (the output's
 * hash stops before the first one). */
static int hole(ocb_comp *c, ocb_slot *s, ocb_err *err) {
  ocb_hole h;
  if (c->nholes == c->caph) {
    uint64_t cap = c->caph ? 2 * c->caph : 64;
    ocb_hole *v = realloc(c->holes, cap * sizeof *v);
    if (!v) return ocb_errno(err, ENOMEM, "blocks");
    c->holes = v, c->caph = cap;
  }
  if (!c->nholes) ocb_sha256_save_floor(c->oh, &c->of);
  h.k = s->seq, h.j = (uint64_t)s->from, h.at = c->osize, h.len = s->out_len;
  c->holes[c->nholes++] = h;
  if (c->skip(c->ud, h.len, err) < 0) return -1;
  c->osize += h.len;
  return note_block(c, s, c->osize, err);
}

/* Writes one finished block's piece (or, while every block so far is the
 * earlier output's own, only notes it). */
int ocb_ring_emit(ocb_comp *c, ocb_slot *s, ocb_err *err) {
  uint64_t k = s->seq;
  size_t n;
  c->crc = (uint32_t)crc32_combine(c->crc, s->crc, (z_off_t)s->in_len);
  c->isize += s->in_len;
  if (s->from >= 0) c->nreused++;
  if (c->matching && s->from == (int64_t)k && !c->started)
    return note_block(c, s, c->old.b.v[k].oend, err);
  c->matching = 0;
  if (!c->started && ocb_ring_start(c, k, err) < 0) return -1;
  if (s->from >= 0 && c->deferred && !c->eng->passthrough) return hole(c, s, err);
  if (s->from >= 0 && s->kind != K_OLD && !c->eng->passthrough) {
    if (need_copy(c, err) < 0 ||
        ocb_prior_piece(&c->old, (uint64_t)s->from, c->copy, c->pcap, &n, err) < 0 ||
        ocb_ring_put(c, c->copy, n, err) < 0)
      return -1;
  } else if (ocb_ring_put(c, s->out, s->out_len, err) < 0) {
    return -1;
  }
  return note_block(c, s, c->osize, err);
}
