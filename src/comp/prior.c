/*
 * prior.c: the blocks of an output, and an earlier output as the pipeline
 * takes pieces from it: blocks found by their input's offset or digest,
 * pieces read back and checked against the CRC-32 recorded when they were
 * written, decompressed alone and checked again. A blob that fails a check
 * changed since it was written: CORRUPT, and the caller drops its record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>

#include "engine.h"

void ocb_blocks_free(ocb_blocks *b) {
  free(b->v);
  memset(b, 0, sizeof *b);
}

int ocb_blocks_push(ocb_blocks *b, const ocb_block *k) {
  if (b->n == b->cap) {
    uint64_t cap = b->cap ? 2 * b->cap : 64;
    ocb_block *v = realloc(b->v, cap * sizeof *v);
    if (!v) return -1;
    b->v = v, b->cap = cap;
  }
  b->v[b->n++] = *k;
  return 0;
}

uint64_t ocb_blocks_tstart(const ocb_blocks *b, uint64_t j) {
  return j ? b->v[j - 1].tend : 0;
}

uint64_t ocb_blocks_ostart(const ocb_blocks *b, uint64_t j) {
  return j ? b->v[j - 1].oend : b->ohead;
}

int64_t ocb_blocks_holding(const ocb_blocks *b, uint64_t off) {
  uint64_t lo = 0, hi = b->n; /* the first block ending past off */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (b->v[mid].tend <= off)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < b->n ? (int64_t)lo : -1;
}

int64_t ocb_blocks_starting(const ocb_blocks *b, uint64_t off) {
  int64_t j = ocb_blocks_holding(b, off);
  return j >= 0 && ocb_blocks_tstart(b, (uint64_t)j) == off ? j : -1;
}

void ocb_prior_init(ocb_prior *p) {
  memset(p, 0, sizeof *p);
  p->fd = -1;
}

void ocb_prior_free(ocb_prior *p) {
  ocb_blocks_free(&p->b);
  free(p->tab);
  if (p->fd >= 0) close(p->fd);
  ocb_prior_init(p);
}

static uint64_t id_hash(const unsigned char id[32]) {
  uint64_t h;
  memcpy(&h, id, sizeof h); /* a digest: its bytes are as good as any hash */
  return h;
}

int ocb_prior_index(ocb_prior *p) {
  uint64_t n = 16, j;
  while (n < 2 * p->b.n) n *= 2;
  free(p->tab);
  if (!(p->tab = calloc(n, sizeof *p->tab))) return -1;
  p->ntab = n;
  for (j = 0; j < p->b.n; j++) {
    uint64_t h = id_hash(p->b.v[j].id) & (n - 1);
    while (p->tab[h]) h = (h + 1) & (n - 1);
    p->tab[h] = j + 1;
  }
  return 0;
}

int64_t ocb_prior_lookup(const ocb_prior *p, const unsigned char id[32], size_t len) {
  uint64_t h;
  if (!p->ntab) return -1;
  for (h = id_hash(id) & (p->ntab - 1); p->tab[h]; h = (h + 1) & (p->ntab - 1)) {
    uint64_t j = p->tab[h] - 1;
    if (memcmp(p->b.v[j].id, id, 32) == 0 &&
        p->b.v[j].tend - ocb_blocks_tstart(&p->b, j) == (uint64_t)len)
      return (int64_t)j;
  }
  return -1;
}

int ocb_prior_corrupt(const ocb_prior *p, ocb_err *err) {
  return ocb_errf(err, "CORRUPT",
                  "blob %s in the store changed since it was written; "
                  "its reuse record is dropped, build again",
                  p->blob);
}

/* Reads n bytes at off of the earlier blob. */
static int read_at(const ocb_prior *p, unsigned char *buf, size_t n, uint64_t off, ocb_err *err) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(p->fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      char what[160];
      snprintf(what, sizeof what, "reading blob %s", p->blob);
      return ocb_errno(err, r < 0 ? errno : EIO, what);
    }
    got += (size_t)r;
  }
  return 0;
}

int ocb_prior_piece(const ocb_prior *p, uint64_t j, unsigned char *buf, size_t cap, size_t *len,
                    ocb_err *err) {
  uint64_t start = ocb_blocks_ostart(&p->b, j), n = p->b.v[j].oend - start;
  if (n > cap) return ocb_prior_corrupt(p, err);
  if (read_at(p, buf, (size_t)n, start, err) < 0) return -1;
  if ((uint32_t)libdeflate_crc32(0, buf, (size_t)n) != p->b.v[j].ocrc)
    return ocb_prior_corrupt(p, err);
  *len = (size_t)n;
  return 0;
}

int ocb_prior_input(const ocb_prior *p, const ocb_engine *e, void *d, uint64_t j,
                    unsigned char *piece, size_t pcap, unsigned char *out, size_t cap, size_t *len,
                    ocb_err *err) {
  uint64_t want = p->b.v[j].tend - ocb_blocks_tstart(&p->b, j);
  size_t n;
  if (want > cap || pcap < OCB_PIECE_SLACK) return ocb_prior_corrupt(p, err);
  if (ocb_prior_piece(p, j, piece, pcap - OCB_PIECE_SLACK, &n, err) < 0) return -1;
  if (e->unblock(d, piece, n, out, (size_t)want) < 0 ||
      (uint32_t)libdeflate_crc32(0, out, (size_t)want) != p->b.v[j].crc)
    return ocb_prior_corrupt(p, err);
  *len = (size_t)want;
  return 0;
}

int ocb_prior_prefix(const ocb_prior *p, const ocb_engine *e, int level, uint64_t k,
                     unsigned char *buf, size_t cap, ocb_out_fn out, void *ud, ocb_err *err) {
  unsigned char h[32];
  size_t hn = e->header(h, level), n;
  uint64_t j;
  if (p->b.ohead != hn || cap < hn) return ocb_prior_corrupt(p, err);
  if (read_at(p, buf, hn, 0, err) < 0) return -1;
  if (memcmp(buf, h, hn) != 0) return ocb_prior_corrupt(p, err);
  if (hn && out(ud, buf, hn, err) < 0) return -1;
  for (j = 0; j < k; j++) {
    if (ocb_prior_piece(p, j, buf, cap, &n, err) < 0) return -1;
    if (n && out(ud, buf, n, err) < 0) return -1;
  }
  return 0;
}
