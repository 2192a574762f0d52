/*
 * ahead.c: the walk's system calls, made ahead of it on helper threads.
 * A folder the walk reads is cut into chunks of entries; helpers lstat the
 * chunks a little ahead of the walk, the deepest folder first (the one the
 * walk is in), and the walk takes the results in order, making a chunk
 * itself when no helper has started it. With nothing else to do, helpers
 * list the next few subfolders of the walk's folder, or of the folders
 * below it when it has none (open, read, sort), and lstat their first
 * entries, so that the walk finds them ready when it gets there, without
 * waiting on a helper entry by entry (a subfolder the walk leaves out after
 * all costs one listing, never more). Memory stays flat: a folder keeps the
 * results of a window of AHEAD chunks (no more than it has entries) and up
 * to SUBS listings, and no more than MAX_LISTED listings wait in all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer.h"

#define CHUNK 16
#define AHEAD 32
#define SUBS 8
#define MAX_LISTED 32 /* listings made ahead and not taken, in all */
#define MAX_HELPERS 8

enum { C_FREE, C_TODO, C_BUSY, C_DONE };

/* A subfolder listed ahead: entry idx of its parent, as a folder of
 * results not yet in the walk's stack (NULL when it could not be listed:
 * the walk lists it itself, and says why). */
typedef struct listing {
  size_t idx;
  int state; /* C_FREE, C_BUSY or C_DONE */
  ocb_ahead_dir *ad;
} listing;

struct ocb_ahead_dir {
  ocb_ahead *a;
  int fd;
  const char *names;
  const size_t *offs;
  size_t n, nchunks;
  size_t queued;        /* chunks handed out so far: [0, queued) */
  size_t ready;         /* a chunk the walk knows is done, + 1; 0: none */
  int state[AHEAD];     /* C_* of the chunk in each ring slot */
  ocb_ahead_dir *below; /* the folder the walk came from (towards the root) */
  size_t cur;           /* the entry the walk is at */
  size_t scan;          /* entries before this were looked at for subfolders */
  listing sub[SUBS];
  /* Last, as many as the folder can use at once (up to AHEAD * CHUNK), and
   * not cleared when made (each is written before it is read). */
  struct {
    struct stat st;
    int err; /* errno of the lstat, 0 when it worked */
  } r[];
};

struct ocb_ahead {
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  pthread_t th[MAX_HELPERS];
  int nth, quit;
  int listed;         /* listing slots in use (see MAX_LISTED) */
  ocb_ahead_dir *top; /* the deepest folder */
};

static int cmp_names(const void *a, const void *b, void *base) {
  return strcmp((const char *)base + *(const size_t *)a, (const char *)base + *(const size_t *)b);
}

/* Straight from getdents64: no DIR stream, so no dup and no fcntl calls
 * per folder (a thousand folders cost four thousand system calls less). */
int ocb_dir_list(int fd, char **names, size_t **offs, size_t *n) {
  uint64_t buf[4096]; /* records are 8-byte aligned */
  size_t used = 0, cap = 0, ncap = 0;
  ssize_t got;
  int e = 0;
  *names = NULL, *offs = NULL, *n = 0;
  while (!e && (got = getdents64(fd, buf, sizeof buf)) != 0) {
    ssize_t at;
    if (got < 0) {
      e = errno;
      break;
    }
    for (at = 0; at < got; at += ((struct dirent64 *)((char *)buf + at))->d_reclen) {
      const struct dirent64 *de = (const struct dirent64 *)((char *)buf + at);
      const char *name = de->d_name;
      size_t len;
      if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]))) continue;
      len = strlen(name) + 2; /* its type byte, the name, its NUL */
      if (used + len > cap) {
        char *p = realloc(*names, cap = 2 * (used + len) + 256);
        if (!p) {
          e = ENOMEM;
          break;
        }
        *names = p;
      }
      if (*n == ncap) {
        size_t *o = realloc(*offs, (ncap = 2 * ncap + 16) * sizeof *o);
        if (!o) {
          e = ENOMEM;
          break;
        }
        *offs = o;
      }
      (*names)[used] = (char)de->d_type;
      memcpy(*names + used + 1, name, len - 1);
      (*offs)[(*n)++] = used + 1;
      used += len;
    }
  }
  if (e) {
    free(*names), free(*offs);
    *names = NULL, *offs = NULL, *n = 0;
    return e;
  }
  if (*n > 1) qsort_r(*offs, *n, sizeof **offs, cmp_names, *names);
  return 0;
}

/* lstat of every entry of chunk c. */
static void make_chunk(ocb_ahead_dir *d, size_t c) {
  size_t i, end = (c + 1) * CHUNK < d->n ? (c + 1) * CHUNK : d->n;
  for (i = c * CHUNK; i < end; i++) {
    size_t k = i % (AHEAD * CHUNK);
    d->r[k].err =
        fstatat(d->fd, d->names + d->offs[i], &d->r[k].st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
  }
}

/* A chunk handed out and not started, the deepest folder first. */
static ocb_ahead_dir *next_todo(ocb_ahead *a, size_t *c) {
  ocb_ahead_dir *d;
  for (d = a->top; d; d = d->below) {
    size_t k;
    for (k = d->queued > AHEAD ? d->queued - AHEAD : 0; k < d->queued; k++)
      if (d->state[k % AHEAD] == C_TODO) return *c = k, d;
  }
  return NULL;
}

/* A folder's results, empty (clearing the lstat results too would cost
 * more than all the rest). */
static ocb_ahead_dir *new_dir(size_t n) {
  ocb_ahead_dir *d =
      malloc(offsetof(ocb_ahead_dir, r) + (n < AHEAD * CHUNK ? n : AHEAD * CHUNK) * sizeof d->r[0]);
  if (d) memset(d, 0, offsetof(ocb_ahead_dir, r));
  return d;
}

/* A folder's results, made by a helper and not taken by the walk: its
 * listing too is the results'. */
static void drop_prepared(ocb_ahead_dir *d) {
  close(d->fd);
  free((char *)d->names);
  free((size_t *)d->offs);
  free(d);
}

static void drop_listing(ocb_ahead *a, listing *l) {
  if (l->state == C_FREE) return;
  if (l->state == C_DONE && l->ad) drop_prepared(l->ad);
  memset(l, 0, sizeof *l);
  a->listed--;
}

/* The next subfolder of folder d to list ahead, in a free slot; the slots
 * of subfolders the walk went past are freed. */
static listing *next_sub(ocb_ahead_dir *d) {
  listing *slot = NULL;
  size_t k, i;
  for (k = 0; k < SUBS; k++) {
    listing *l = &d->sub[k];
    if (l->state == C_DONE && l->idx < d->cur) drop_listing(d->a, l);
    if (l->state == C_FREE && !slot) slot = l;
  }
  if (!slot || d->a->listed >= MAX_LISTED) return NULL;
  if (d->scan <= d->cur) d->scan = d->cur + 1;
  for (i = d->scan; i < d->n && i / CHUNK < d->queued; i++) {
    size_t s = i % (AHEAD * CHUNK);
    if (d->state[i / CHUNK % AHEAD] != C_DONE) break; /* not known yet */
    if (!d->r[s].err && S_ISDIR(d->r[s].st.st_mode)) {
      d->scan = i + 1;
      slot->idx = i, slot->state = C_BUSY;
      d->a->listed++;
      return slot;
    }
  }
  d->scan = i;
  return NULL;
}

/* The next subfolder to list ahead, the deepest folder's first: while the
 * walk is in a folder with no subfolders, its parent's next ones are
 * listed, so that they are ready when the walk comes out. */
static listing *next_listing(ocb_ahead *a, ocb_ahead_dir **dp) {
  ocb_ahead_dir *d;
  for (d = a->top; d; d = d->below) {
    listing *l = next_sub(d);
    if (l) return *dp = d, l;
  }
  return NULL;
}

/* Wakes helpers for n new pieces of work: one for one, all for more, none
 * for none. A wake-up costs both sides a system call, and one that finds
 * nothing new to do is wasted. Called after the lock is let go where it
 * can be, so that the helper woken does not block on it at once. */
static void wake(ocb_ahead *a, size_t n) {
  if (n == 1)
    pthread_cond_signal(&a->work);
  else if (n > 1)
    pthread_cond_broadcast(&a->work);
}

/* Whether the walk, at entry i, went past a subfolder listed ahead (one it
 * leaves out): a helper frees its slot for the next. */
static int passed_listing(const ocb_ahead_dir *d, size_t i) {
  size_t k;
  for (k = 0; k < SUBS; k++)
    if (d->sub[k].state == C_DONE && d->sub[k].idx < i) return 1;
  return 0;
}

/* Opens and lists a subfolder, and lstats its first AHEAD chunks (on a
 * helper, without the lock). */
static void make_listing(const ocb_ahead_dir *d, listing *l) {
  int fd =
      openat(d->fd, d->names + d->offs[l->idx], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ocb_ahead_dir *s = NULL;
  char *names;
  size_t *offs, n;
  l->ad = NULL;
  if (fd < 0) return;
  if (ocb_dir_list(fd, &names, &offs, &n) != 0) {
    close(fd);
    return;
  }
  if (n == 0 || !(s = new_dir(n))) {
    free(names), free(offs);
    close(fd);
    return;
  }
  s->a = d->a, s->fd = fd, s->names = names, s->offs = offs, s->n = n;
  s->nchunks = (n + CHUNK - 1) / CHUNK;
  for (; s->queued < s->nchunks && s->queued < AHEAD; s->queued++) {
    make_chunk(s, s->queued);
    s->state[s->queued] = C_DONE;
  }
  l->ad = s;
}

static void *helper(void *arg) {
  ocb_ahead *a = arg;
  pthread_mutex_lock(&a->mu);
  while (!a->quit) {
    size_t c;
    ocb_ahead_dir *d = next_todo(a, &c);
    listing *l = d ? NULL : next_listing(a, &d);
    if (!d) {
      pthread_cond_wait(&a->work, &a->mu);
      continue;
    }
    if (l) {
      pthread_mutex_unlock(&a->mu);
      make_listing(d, l);
      pthread_mutex_lock(&a->mu);
      l->state = C_DONE;
    } else {
      d->state[c % AHEAD] = C_BUSY;
      pthread_mutex_unlock(&a->mu);
      make_chunk(d, c);
      pthread_mutex_lock(&a->mu);
      d->state[c % AHEAD] = C_DONE;
    }
    pthread_cond_broadcast(&a->done);
  }
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

ocb_ahead *ocb_ahead_new(int threads) {
  ocb_ahead *a;
  int i;
  if (threads < 2) return NULL;
  if (threads > MAX_HELPERS) threads = MAX_HELPERS;
  if (!(a = calloc(1, sizeof *a))) return NULL;
  pthread_mutex_init(&a->mu, NULL);
  pthread_cond_init(&a->work, NULL);
  pthread_cond_init(&a->done, NULL);
  for (i = 0; i < threads; i++) {
    if (pthread_create(&a->th[i], NULL, helper, a) != 0) break;
    a->nth++;
  }
  if (a->nth == 0) {
    ocb_ahead_free(a);
    return NULL;
  }
  return a;
}

void ocb_ahead_free(ocb_ahead *a) {
  int i;
  if (!a) return;
  pthread_mutex_lock(&a->mu);
  a->quit = 1;
  pthread_cond_broadcast(&a->work);
  pthread_mutex_unlock(&a->mu);
  for (i = 0; i < a->nth; i++) pthread_join(a->th[i], NULL);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->work);
  pthread_cond_destroy(&a->done);
  free(a);
}

ocb_ahead_dir *ocb_ahead_dir_new(ocb_ahead *a, int fd, const char *names, const size_t *offs,
                                 size_t n) {
  ocb_ahead_dir *d;
  if (!a || n == 0 || !(d = new_dir(n))) return NULL;
  d->a = a, d->fd = fd, d->names = names, d->offs = offs, d->n = n;
  d->nchunks = (n + CHUNK - 1) / CHUNK;
  pthread_mutex_lock(&a->mu);
  d->below = a->top;
  a->top = d;
  /* The first chunks are handed out now: helpers start before the walk asks. */
  while (d->queued < d->nchunks && d->queued < AHEAD) d->state[d->queued++ % AHEAD] = C_TODO;
  pthread_mutex_unlock(&a->mu);
  wake(a, d->queued);
  return d;
}

void ocb_ahead_dir_free(ocb_ahead_dir *d) {
  ocb_ahead *a;
  ocb_ahead_dir **p;
  size_t k, was;
  if (!d) return;
  a = d->a;
  pthread_mutex_lock(&a->mu);
  for (p = &a->top; *p && *p != d; p = &(*p)->below) continue;
  if (*p) *p = d->below; /* helpers no longer see it; wait for those at work on it */
  for (k = 0; k < AHEAD; k++)
    while (d->state[k] == C_BUSY) pthread_cond_wait(&a->done, &a->mu);
  was = (size_t)a->listed;
  for (k = 0; k < SUBS; k++) {
    while (d->sub[k].state == C_BUSY) pthread_cond_wait(&a->done, &a->mu);
    drop_listing(a, &d->sub[k]);
  }
  was -= (size_t)a->listed;
  pthread_mutex_unlock(&a->mu);
  /* The folders below have had their work handed out all along; only
   * listings it drops let helpers list more (see MAX_LISTED). */
  wake(a, was);
  free(d);
}

ocb_ahead_dir *ocb_ahead_take(ocb_ahead_dir *d, size_t i, int *fd, char **names, size_t **offs,
                              size_t *n) {
  ocb_ahead *a = d->a;
  ocb_ahead_dir *s = NULL;
  size_t k, work = 0;
  pthread_mutex_lock(&a->mu);
  d->cur = i;
  for (k = 0; k < SUBS; k++) {
    listing *l = &d->sub[k];
    if (l->state == C_FREE || l->idx != i) continue;
    while (l->state == C_BUSY) pthread_cond_wait(&a->done, &a->mu);
    s = l->ad, l->ad = NULL;
    drop_listing(a, l);
    work = 1; /* its slot, for the next listing */
    break;
  }
  if (s) {
    /* Into the walk's stack, the deepest folder now. */
    size_t was = s->queued;
    *fd = s->fd, *names = (char *)s->names, *offs = (size_t *)s->offs, *n = s->n;
    s->below = a->top;
    a->top = s;
    while (s->queued < s->nchunks && s->queued < AHEAD) s->state[s->queued++ % AHEAD] = C_TODO;
    work += s->queued - was;
  }
  pthread_mutex_unlock(&a->mu);
  wake(a, work);
  return s;
}

int ocb_ahead_stat(ocb_ahead_dir *d, size_t i, struct stat *st) {
  ocb_ahead *a = d->a;
  size_t c = i / CHUNK, k = i % (AHEAD * CHUNK);
  if (d->ready != c + 1) {
    int *s = &d->state[c % AHEAD];
    size_t was, work;
    pthread_mutex_lock(&a->mu);
    d->cur = i;
    /* Hands out the chunks up to AHEAD - 1 past this one (the slots of the
     * chunks before it are free again: the walk is done with them). */
    was = d->queued;
    while (d->queued < d->nchunks && d->queued < c + AHEAD) d->state[d->queued++ % AHEAD] = C_TODO;
    work = d->queued - was; /* most chunks queue none */
    if (*s == C_BUSY) {
      wake(a, work), work = 0;
      while (*s == C_BUSY) pthread_cond_wait(&a->done, &a->mu);
    }
    if (*s == C_TODO) {
      *s = C_BUSY;
      pthread_mutex_unlock(&a->mu);
      wake(a, work), work = 0;
      make_chunk(d, c);
      pthread_mutex_lock(&a->mu);
      work = 1; /* entries helpers may find subfolders among */
    }
    *s = C_DONE;
    if (!work && passed_listing(d, i)) work = 1;
    d->ready = c + 1;
    pthread_mutex_unlock(&a->mu);
    wake(a, work);
  }
  if (d->r[k].err) return d->r[k].err;
  *st = d->r[k].st;
  return 0;
}
