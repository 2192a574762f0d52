/*
 * skip.c: rebuilds that read no unchanged file. The walk's entries are
 * compared, in order, with the layer state of the last build; while they
 * match (path and every lstat field that decides the tar bytes, and not
 * touched after that build began), nothing is read or written: their tar
 * bytes are known. At the first difference, at tar offset N, the layer
 * resumes from the last block boundary B <= N: the entries that overlap
 * the block holding N (kept in a small window) are tarred again, and the
 * bytes before B are dropped, since the earlier blob supplies them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer.h"

/* File times this close before a build began may belong to writes the
 * build did not see (coarse clocks, file systems with 1-2 s granularity):
 * such entries are read again. */
#define RACY_NS 2000000000ull

typedef struct held {
  char *path;
  size_t pathlen;
  struct stat st;
  uint64_t off, end; /* its tar range */
} held;

struct ocb_skip {
  ocb_lstate_reader *r;
  ocb_lstate_head head;
  ocb_prior prior;            /* the last build's blocks and blob */
  ocb_lstate_entry next;      /* the state's next entry, not yet matched */
  int has_next;               /* 1: next is filled; 0: the state is done */
  uint64_t bs;                /* block size */
  held *win;                  /* entries overlapping the block being skipped: */
  size_t first, nwin, capwin; /* win[first, nwin) */
  uint64_t matched;           /* entries matched so far */
  uint64_t point;             /* the change's tar offset, once found */
};

static void drop_held(held *h) {
  free(h->path);
  h->path = NULL;
}

void ocb_skip_free(ocb_skip *k) {
  size_t i;
  if (!k) return;
  ocb_lstate_close(k->r);
  ocb_blocks_free(&k->prior.b);
  if (k->prior.fd >= 0) close(k->prior.fd);
  for (i = k->first; i < k->nwin; i++) drop_held(&k->win[i]);
  free(k->win);
  free(k);
}

static int advance(ocb_skip *k) {
  int r = ocb_lstate_next(k->r, &k->next);
  k->has_next = r == 1;
  return r;
}

ocb_skip *ocb_skip_open(const ocb_store *s, const char *id, const ocb_reuse *reuse, uint64_t bs) {
  ocb_skip *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  k->prior.fd = -1;
  k->bs = bs;
  /* The state, its blob as recorded (identity checked by the reuse
   * record's lookup), and the same codec: anything else, no skipping. */
  if (!(k->r = ocb_lstate_open(s, id, &k->head)) || strcmp(k->head.key, reuse->key) != 0 ||
      ocb_reuse_find((void *)reuse, k->head.pd0, &k->prior) != 1 ||
      strcmp(k->prior.blob, k->head.blob) != 0 || k->prior.size != k->head.blob_size ||
      advance(k) < 0) {
    ocb_skip_free(k);
    return NULL;
  }
  return k;
}

static uint64_t ns(const struct timespec *t) {
  return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* 1 when e is the state's next entry, unchanged. */
static int same(const ocb_skip *k, const ocb_entry *e) {
  const ocb_lstate_entry *n = &k->next;
  const struct stat *st = e->st;
  uint64_t since = k->head.since > RACY_NS ? k->head.since - RACY_NS : 0;
  return k->has_next && n->pathlen == e->pathlen && memcmp(n->path, e->path, e->pathlen) == 0 &&
         n->dev == (uint64_t)st->st_dev && n->ino == (uint64_t)st->st_ino &&
         n->size == (uint64_t)st->st_size && n->mtime == ns(&st->st_mtim) &&
         n->ctime == ns(&st->st_ctim) && n->mode == (uint32_t)st->st_mode &&
         n->uid == (uint32_t)st->st_uid && n->gid == (uint32_t)st->st_gid &&
         n->nlink == (uint32_t)st->st_nlink && ns(&st->st_mtim) < since && ns(&st->st_ctim) < since;
}

/* Lets go of held entries that end at or before the block boundary under
 * `upto`: their bytes are all in blocks the earlier blob supplies. */
static int trim(ocb_skip *k, uint64_t upto, const ocb_skip_hooks *h, ocb_err *err) {
  uint64_t b = upto / k->bs * k->bs;
  while (k->first < k->nwin && k->win[k->first].end <= b) {
    held *w = &k->win[k->first];
    if (h->leave && h->leave(h->ud, w->path, w->pathlen, &w->st, err) < 0) return -1;
    drop_held(w);
    k->first++;
  }
  return 0;
}

int ocb_skip_entry(ocb_skip *k, const ocb_entry *e, const ocb_skip_hooks *h, ocb_err *err) {
  held *w;
  uint64_t off = k->next.off, end;
  if (!same(k, e)) {
    k->point = k->has_next ? k->next.off : k->head.end;
    return trim(k, k->point, h, err) < 0 ? -1 : 0;
  }
  if (k->first > 0 && k->first == k->nwin) k->first = k->nwin = 0;
  if (k->nwin == k->capwin && k->first > k->capwin / 2) {
    /* Most of the array was let go of: move the rest to its start. */
    memmove(k->win, k->win + k->first, (k->nwin - k->first) * sizeof *k->win);
    k->nwin -= k->first, k->first = 0;
  }
  if (k->nwin == k->capwin) {
    size_t cap = k->capwin ? 2 * k->capwin : 64;
    held *p = realloc(k->win, cap * sizeof *p);
    if (!p) return ocb_errno(err, ENOMEM, "rebuild window");
    k->win = p, k->capwin = cap;
  }
  w = &k->win[k->nwin];
  if (!(w->path = malloc(e->pathlen + 1))) return ocb_errno(err, ENOMEM, "rebuild window");
  memcpy(w->path, e->path, e->pathlen);
  w->path[e->pathlen] = '\0';
  w->pathlen = e->pathlen;
  w->st = *e->st;
  w->off = off;
  k->nwin++;
  k->matched++;
  if (h->keep && h->keep(h->ud, &k->next, err) < 0) return -1;
  if (advance(k) < 0) {
    /* A damaged state found late: nothing was written yet, so the build
     * can still start over whole; say so to the caller. */
    return ocb_errf(err, "STALE", "STALE: layer state damaged");
  }
  end = k->has_next ? k->next.off : k->head.end;
  w->end = end;
  return trim(k, end, h, err) < 0 ? -1 : 1;
}

int ocb_skip_finish(ocb_skip *k, const ocb_skip_hooks *h, ocb_err *err) {
  if (!k->has_next && k->matched == k->head.n) return 1; /* nothing changed */
  k->point = k->has_next ? k->next.off : k->head.end;
  return trim(k, k->point, h, err) < 0 ? -1 : 0;
}

uint64_t ocb_skip_point(const ocb_skip *k) {
  return k->point;
}

const ocb_lstate_head *ocb_skip_head(const ocb_skip *k) {
  return &k->head;
}

ocb_prior *ocb_skip_prior(ocb_skip *k) {
  return &k->prior;
}

size_t ocb_skip_held(const ocb_skip *k, const char **path, size_t *len, const struct stat **st,
                     uint64_t *off, size_t i) {
  const held *w = &k->win[k->first + i];
  if (k->first + i >= k->nwin) return 0;
  *path = w->path, *len = w->pathlen, *st = &w->st, *off = w->off;
  return 1;
}
