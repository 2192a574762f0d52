/*
 * skip.c: rebuilds that read no unchanged file. The walk's entries are
 * compared with the layer state of the last build: first in order, while
 * they all match (path and every lstat field that decides the tar bytes,
 * and not touched after that build began), so nothing is read or written
 * at all; from the first difference on, by path (both lists are in walk
 * order), so that each entry is either unchanged, with its bytes' place in
 * the earlier tar, or new. The layer job decides what to do with both.
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

struct ocb_skip {
  ocb_lstate_reader *r;
  ocb_lstate_head head;
  ocb_prior prior;       /* the last build's blocks and blob */
  ocb_lstate_entry next; /* the state's next entry, not yet matched (own path) */
  char *npath;
  size_t ncap;
  int has_next;
  ocb_lstate_entry after; /* the one after it (the reader's path) */
  int has_after;
  uint64_t matched; /* entries matched in order */
  uint64_t point;   /* the first change's tar offset, once found */
};

void ocb_skip_free(ocb_skip *k) {
  if (!k) return;
  ocb_lstate_close(k->r);
  ocb_prior_free(&k->prior);
  free(k->npath);
  free(k);
}

/* Moves on to the state's next entry; -1 when the state is damaged. */
static int advance(ocb_skip *k) {
  int r;
  k->has_next = k->has_after;
  if (k->has_next) {
    if (k->after.pathlen >= k->ncap) {
      size_t cap = k->after.pathlen + 64;
      char *p = realloc(k->npath, cap);
      if (!p) return -1;
      k->npath = p, k->ncap = cap;
    }
    memcpy(k->npath, k->after.path, k->after.pathlen + 1);
    k->next = k->after;
    k->next.path = k->npath;
  }
  r = ocb_lstate_next(k->r, &k->after);
  k->has_after = r == 1;
  return r < 0 ? -1 : 0;
}

ocb_skip *ocb_skip_open(const ocb_store *s, const char *id, const ocb_reuse *reuse) {
  ocb_skip *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  ocb_prior_init(&k->prior);
  /* The state, the record of its blob (its file as recorded), and the same
   * codec: anything else, no skipping. */
  if (!(k->r = ocb_lstate_open(s, id, &k->head)) || strcmp(k->head.key, reuse->key) != 0 ||
      ocb_reuse_open(reuse, k->head.blob, &k->prior) != 1 || k->prior.size != k->head.blob_size ||
      k->prior.b.v[k->prior.b.n - 1].tend != k->head.tar_size ||
      (k->has_after = ocb_lstate_next(k->r, &k->after)) < 0 || advance(k) < 0) {
    ocb_skip_free(k);
    return NULL;
  }
  return k;
}

static uint64_t ns(const struct timespec *t) {
  return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* 1 when e's lstat fields are those of the state's next entry, and older
 * than the racy window of the last build. */
static int same_stat(const ocb_skip *k, const ocb_entry *e) {
  const ocb_lstate_entry *n = &k->next;
  const struct stat *st = e->st;
  uint64_t since = k->head.since > RACY_NS ? k->head.since - RACY_NS : 0;
  return n->dev == (uint64_t)st->st_dev && n->ino == (uint64_t)st->st_ino &&
         n->size == (uint64_t)st->st_size && n->mtime == ns(&st->st_mtim) &&
         n->ctime == ns(&st->st_ctim) && n->mode == (uint32_t)st->st_mode &&
         n->uid == (uint32_t)st->st_uid && n->gid == (uint32_t)st->st_gid &&
         n->nlink == (uint32_t)st->st_nlink && ns(&st->st_mtim) < since && ns(&st->st_ctim) < since;
}

/* Compares paths in walk order: each folder's names bytewise, a folder
 * before what it holds, so '/' sorts before every other byte. */
static int walk_cmp(const char *a, size_t an, const char *b, size_t bn) {
  size_t i, n = an < bn ? an : bn;
  for (i = 0; i < n; i++) {
    unsigned x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x == y) continue;
    x = x == '/' ? 0 : x;
    y = y == '/' ? 0 : y;
    return x < y ? -1 : 1;
  }
  return an < bn ? -1 : an > bn;
}

static int damaged(ocb_err *err) {
  /* Nothing was written yet at the first change, and later the job has
   * what it needs: the caller builds whole (STALE) or fails. */
  return ocb_errf(err, "STALE", "layer state damaged");
}

int ocb_skip_entry(ocb_skip *k, const ocb_entry *e, const ocb_skip_hooks *h, ocb_err *err) {
  const ocb_lstate_entry *n = &k->next;
  if (!k->has_next || n->pathlen != e->pathlen || memcmp(n->path, e->path, e->pathlen) != 0 ||
      !same_stat(k, e)) {
    k->point = k->has_next ? n->off : k->head.end;
    return 0;
  }
  k->matched++;
  if (h->leave && h->leave(h->ud, e->path, e->pathlen, e->st, err) < 0) return -1;
  return advance(k) < 0 ? damaged(err) : 1;
}

int ocb_skip_match(ocb_skip *k, const ocb_entry *e, uint64_t *off, uint64_t *len, ocb_err *err) {
  int c = -1, same;
  while (k->has_next && (c = walk_cmp(k->next.path, k->next.pathlen, e->path, e->pathlen)) < 0)
    if (advance(k) < 0) return damaged(err); /* gone since the last build */
  if (!k->has_next || c != 0) return 0;      /* new */
  same = same_stat(k, e);
  *off = k->next.off;
  *len = (k->has_after ? k->after.off : k->head.end) - k->next.off;
  if (advance(k) < 0) return damaged(err);
  return same;
}

int ocb_skip_finish(ocb_skip *k) {
  if (!k->has_next && k->matched == k->head.n) return 1; /* nothing changed */
  k->point = k->has_next ? k->next.off : k->head.end;
  return 0;
}

int ocb_skip_replay(const ocb_skip *k, ocb_skip_add_fn add, void *ud, ocb_err *err) {
  ocb_lstate_reader *r = ocb_lstate_again(k->r);
  ocb_lstate_entry e;
  uint64_t i;
  int rc = 0;
  if (!r) return ocb_errno(err, ENOMEM, "layer state");
  for (i = 0; rc == 0 && i < k->matched; i++)
    rc = ocb_lstate_next(r, &e) == 1 ? add(ud, &e, err) : damaged(err);
  ocb_lstate_close(r);
  return rc;
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
