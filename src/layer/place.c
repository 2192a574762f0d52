/*
 * place.c: where each block of a layer's tar comes from. Bytes arrive in
 * tar order, made now (from files) or as a range of the earlier tar (an
 * unchanged entry, not read); the cut rule (cut.c) ends blocks. A block
 * that is exactly a block of the earlier output is that block: its piece
 * is copied, and the pipeline takes its input from the piece for the
 * diff_id, so no file of it is read. The earlier tar's bytes of any other
 * block are decompressed from its pieces and compressed again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

/* What the block being placed holds so far. */
enum {
  M_EMPTY, /* nothing */
  M_OLD,   /* the earlier tar's bytes from `map`, none written yet */
  M_KNOWN, /* bytes written, known to be the earlier tar's from `map` */
  M_MADE   /* bytes written, not known to be anything earlier */
};

struct ocb_place {
  ocb_comp *comp;
  const ocb_blocks *old; /* the earlier output's blocks, or NULL */
  ocb_cut cut;
  uint64_t pos;  /* tar offset of the next byte */
  int mode;      /* M_* */
  uint64_t map;  /* with M_OLD, M_KNOWN: the earlier offset of the block's start */
  int64_t known; /* the earlier offset of the next bytes written, or -1 */
};

ocb_place *ocb_place_new(ocb_comp *comp, uint64_t pos) {
  ocb_place *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->comp = comp;
  p->old = ocb_comp_prior_blocks(comp);
  ocb_cut_init(&p->cut, ocb_comp_block_size(comp), pos);
  p->pos = pos, p->mode = M_EMPTY, p->known = -1;
  return p;
}

void ocb_place_free(ocb_place *p) {
  free(p);
}

uint64_t ocb_place_pos(const ocb_place *p) {
  return p->pos;
}

/* The earlier offset the block's next byte would have, or -1. */
static int64_t mapped_end(const ocb_place *p) {
  if (p->mode != M_OLD && p->mode != M_KNOWN) return -1;
  return (int64_t)(p->map + (p->pos - p->cut.start));
}

int ocb_place_maps(const ocb_place *p, uint64_t off) {
  return mapped_end(p) == (int64_t)off;
}

/* Writes the earlier tar's bytes [off, off + len) into the pipeline. */
static int materialize(ocb_place *p, uint64_t off, uint64_t len, ocb_err *err) {
  while (len) {
    const unsigned char *buf;
    size_t n;
    int64_t j = p->old ? ocb_blocks_holding(p->old, off) : -1;
    uint64_t at, take;
    if (j < 0) return ocb_errf(err, "STALE", "layer state damaged");
    if (ocb_comp_old(p->comp, (uint64_t)j, &buf, &n, err) < 0) return -1;
    at = off - ocb_blocks_tstart(p->old, (uint64_t)j);
    take = n - at < len ? n - at : len;
    if (ocb_comp_write(p->comp, buf + at, (size_t)take, err) < 0) return -1;
    off += take, len -= take;
  }
  return 0;
}

/* An M_OLD block becomes M_KNOWN: its bytes written. */
static int flush_old(ocb_place *p, ocb_err *err) {
  if (p->mode != M_OLD) return 0;
  if (materialize(p, p->map, p->pos - p->cut.start, err) < 0) return -1;
  p->mode = M_KNOWN;
  return 0;
}

/* The earlier output's block that is exactly this one, or -1. */
static int64_t same_block(const ocb_place *p) {
  int64_t j;
  if ((p->mode != M_OLD && p->mode != M_KNOWN) || !p->old) return -1;
  j = ocb_blocks_starting(p->old, p->map);
  return j >= 0 && p->old->v[j].tend == (uint64_t)mapped_end(p) ? j : -1;
}

/* Ends the block at pos. */
static int close_block(ocb_place *p, ocb_err *err) {
  int64_t j = same_block(p);
  int r = 0;
  if (p->pos == p->cut.start) return 0;
  if (j >= 0 && p->mode == M_OLD)
    r = ocb_comp_reuse(p->comp, (uint64_t)j, err);
  else if (flush_old(p, err) < 0)
    return -1;
  else
    r = ocb_comp_cut(p->comp, j, err);
  ocb_cut_made(&p->cut, p->pos);
  p->mode = M_EMPTY;
  return r;
}

int ocb_place_entry(ocb_place *p, uint64_t data, const char *name, size_t len, ocb_err *err) {
  p->known = -1;
  if (ocb_cut_entry(&p->cut, p->pos, data, name, len) && close_block(p, err) < 0) return -1;
  return 0;
}

void ocb_place_known(ocb_place *p, uint64_t off) {
  p->known = (int64_t)off;
}

/* How much of len fits before the next forced cut. */
static uint64_t room(const ocb_place *p, uint64_t len) {
  uint64_t f = ocb_cut_forced(&p->cut);
  return f - p->pos < len ? f - p->pos : len;
}

/* Ends the block when pos reached a forced cut. */
static int at_forced(ocb_place *p, ocb_err *err) {
  return p->pos == ocb_cut_forced(&p->cut) ? close_block(p, err) : 0;
}

/* The mode of a block that goes on with bytes from the earlier offset off
 * (-1: unknown). */
static int next_mode(const ocb_place *p, int64_t off, int written) {
  if (off < 0 || !p->old) return M_MADE;
  if (p->mode == M_EMPTY)
    return ocb_blocks_starting(p->old, (uint64_t)off) >= 0 ? (written ? M_KNOWN : M_OLD) : M_MADE;
  if (mapped_end(p) != off) return M_MADE;
  return written ? M_KNOWN : p->mode;
}

int ocb_place_write(ocb_place *p, const void *buf, size_t len, ocb_err *err) {
  const char *b = buf;
  while (len) {
    size_t n = (size_t)room(p, len);
    int mode = next_mode(p, p->known, 1);
    if (mode != M_MADE && p->mode == M_EMPTY) p->map = (uint64_t)p->known;
    if (flush_old(p, err) < 0 || ocb_comp_write(p->comp, b, n, err) < 0) return -1;
    p->mode = mode;
    if (p->known >= 0) p->known += (int64_t)n;
    p->pos += n, b += n, len -= n;
    if (at_forced(p, err) < 0) return -1;
  }
  return 0;
}

int ocb_place_old(ocb_place *p, uint64_t off, uint64_t len, ocb_err *err) {
  while (len) {
    uint64_t n = room(p, len);
    int mode = next_mode(p, (int64_t)off, 0);
    if (mode != M_MADE && p->mode == M_EMPTY) p->map = off;
    if (mode == M_MADE || mode == M_KNOWN) {
      if (flush_old(p, err) < 0 || materialize(p, off, n, err) < 0) return -1;
    }
    p->mode = mode;
    p->pos += n, off += n, len -= n;
    if (at_forced(p, err) < 0) return -1;
  }
  return 0;
}

int ocb_place_finish(ocb_place *p, ocb_err *err) {
  return close_block(p, err);
}
