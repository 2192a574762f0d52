/*
 * walk.c: the context walk. Depth first; each directory read whole and its
 * names sorted bytewise (as Go's filepath.WalkDir does); lstat metadata;
 * symlinks never followed; one descriptor per open level (openat, so no
 * PATH_MAX limit). Exclusions are applied as BuildKit's context transfer
 * applies them (tonistiigi/fsutil filterFS): each path is matched with its
 * parent directory's per-pattern results; an excluded directory is entered
 * only when an exception could match below it, and a path kept below an
 * excluded directory brings its ancestors along with their own metadata.
 * With threads, the lstat calls are made ahead on helpers (ahead.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"
#include "match/match.h"

typedef struct frame {
  int fd;                /* the directory, open */
  char *names;           /* its entries' names, NUL separated */
  size_t *offs, n, next; /* sorted offsets into names; next to visit */
  size_t pathlen;        /* length of its path in w->path (0 for the root) */
  unsigned char *state;  /* matcher state of this directory (NULL: root) */
  struct stat st;        /* its lstat, for a late emission */
  int emitted;           /* reported already (or the root) */
  ocb_ahead_dir *ad;     /* its entries' lstat made ahead, or NULL */
} frame;

struct ocb_walk {
  const ocb_matcher *m;
  char *root; /* as given: errors name root/path */
  int flags;
  frame *fr;
  size_t depth, cap;
  char *path; /* path of the current entry */
  size_t pathcap;
  char *apath; /* path of an ancestor being emitted late */
  size_t apathcap;
  struct stat st;   /* lstat of the current entry */
  size_t namestart; /* where its name starts in path */
  size_t pathlen;   /* its length */
  int pfd;          /* its folder, open */
  int efd;          /* it, open (see ocb_walk_open_files), or -1 */
  int open_files;   /* ocb_walk_open_files was called */
  int pending;      /* the current entry waits for its ancestors to be reported */
  int pending_why;
  int pending_drop;                   /* the pending entry itself is left out (see visit) */
  size_t ssize;                       /* matcher state size */
  struct stat skip[OCB_WALK_MAXSKIP]; /* (dev, ino) left out of the walk */
  int nskip;
  unsigned char *scratch;
  size_t plen;           /* bytes of the matcher's base (and its '/') before every path */
  ocb_ahead *ahead;      /* helpers for lstat, or NULL */
  ocb_ahead_dir *listed; /* the folder being entered, as a helper listed it: */
  char *lnames;          /* its names, */
  size_t *loffs, ln;
};

static int grow(char **buf, size_t *cap, size_t need) {
  char *p;
  size_t c = *cap ? *cap : 256;
  if (need <= *cap) return 0;
  while (c < need) c *= 2;
  if (!(p = realloc(*buf, c))) return -1;
  *buf = p, *cap = c;
  return 0;
}

static void frame_free(frame *f) {
  ocb_ahead_dir_free(f->ad);
  if (f->fd >= 0) close(f->fd);
  free(f->names);
  free(f->offs);
  free(f->state);
  memset(f, 0, sizeof *f);
  f->fd = -1;
}

/* Reads every name in the directory open on fd (taken over) into f,
 * unless a helper listed it already (w->listed, see ahead.c). */
static int read_names(ocb_walk *w, frame *f, int fd, const char *what, ocb_err *err) {
  int e;
  f->fd = fd;
  if (w->listed) {
    f->names = w->lnames, f->offs = w->loffs, f->n = w->ln, f->ad = w->listed;
    w->listed = NULL;
    return 0;
  }
  if ((e = ocb_dir_list(fd, &f->names, &f->offs, &f->n)) != 0) return ocb_errno_q(err, e, what);
  return 0;
}

/* Opens the top folder's entry just taken, a subfolder, or takes it as a
 * helper listed it. */
static int open_dir(ocb_walk *w, frame *top, const char *name) {
  int fd;
  if (top->ad &&
      (w->listed = ocb_ahead_take(top->ad, top->next - 1, &fd, &w->lnames, &w->loffs, &w->ln)))
    return fd;
  return openat(top->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Out of memory before the folder open on fd (and its listing, if a
 * helper made it) went into a frame. */
static int push_nomem(ocb_walk *w, int fd, const char *what, ocb_err *err) {
  if (w->listed) {
    ocb_ahead_dir_free(w->listed);
    free(w->lnames), free(w->loffs);
    w->listed = NULL;
  }
  close(fd);
  return ocb_errno_q(err, ENOMEM, what);
}

static int push(ocb_walk *w, int fd, size_t pathlen, const unsigned char *state,
                const struct stat *st, int emitted, const char *what, ocb_err *err) {
  frame *f;
  if (w->depth == w->cap) {
    size_t c = w->cap ? w->cap * 2 : 16;
    frame *nf = realloc(w->fr, c * sizeof *nf);
    if (!nf) return push_nomem(w, fd, what, err);
    w->fr = nf, w->cap = c;
  }
  f = &w->fr[w->depth];
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->pathlen = pathlen;
  f->st = *st;
  f->emitted = emitted;
  if (state && w->ssize) {
    if (!(f->state = malloc(w->ssize))) return push_nomem(w, fd, what, err);
    memcpy(f->state, state, w->ssize);
  }
  if (read_names(w, f, fd, what, err) < 0) {
    frame_free(f);
    return -1;
  }
  if (!f->ad) f->ad = ocb_ahead_dir_new(w->ahead, f->fd, f->names, f->offs, f->n);
  w->depth++;
  return 0;
}

void ocb_walk_open_files(ocb_walk *w) {
  w->open_files = 1;
}

void ocb_walk_threads(ocb_walk *w, int threads) {
  frame *root = &w->fr[0];
  if (w->ahead || w->depth != 1 || root->next) return;
  if ((w->ahead = ocb_ahead_new(threads)))
    root->ad = ocb_ahead_dir_new(w->ahead, root->fd, root->names, root->offs, root->n);
}

ocb_walk *ocb_walk_open(const char *root, const ocb_matcher *m, int flags, ocb_err *err) {
  ocb_walk *w = calloc(1, sizeof *w);
  struct stat st;
  char q[1000];
  int fd;
  if (!w) {
    ocb_errno(err, ENOMEM, root);
    return NULL;
  }
  w->m = m;
  w->flags = flags;
  w->efd = -1;
  if (!(w->root = strdup(root))) {
    ocb_errno(err, ENOMEM, root);
    goto fail;
  }
  w->ssize = m ? ocb_matcher_state_size(m) : 0;
  if (w->ssize && !(w->scratch = malloc(w->ssize))) {
    ocb_errno(err, ENOMEM, root);
    goto fail;
  }
  /* The root itself may be a symlink: it is resolved once, here. */
  ocb_quote(q, sizeof q, root, strlen(root));
  fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOTDIR)
      ocb_errf(err, "ENOTDIR", "context is not a directory: %s", q);
    else
      ocb_errno_q(err, e, q);
    goto fail;
  }
  if (fstat(fd, &st) < 0) {
    ocb_errno_q(err, errno, q);
    close(fd);
    goto fail;
  }
  if (grow(&w->path, &w->pathcap, 256) < 0 || push(w, fd, 0, NULL, &st, 1, q, err) < 0) goto fail;
  return w;
fail:
  ocb_walk_close(w);
  return NULL;
}

/* base (and '/') into w->path, and the matcher's state of base, its
 * components matched one by one from the top, into the root frame. */
static int set_base(ocb_walk *w, const char *base, ocb_err *err) {
  frame *root = &w->fr[0];
  size_t n = strlen(base), i;
  int why, have = 0;
  if (grow(&w->path, &w->pathcap, n + 2) < 0) return ocb_errno(err, ENOMEM, base);
  memcpy(w->path, base, n);
  w->path[n] = '/';
  w->path[n + 1] = '\0';
  w->plen = n + 1;
  root->pathlen = n;
  if (!w->m || !w->ssize) return 0;
  if (!(root->state = malloc(w->ssize))) return ocb_errno(err, ENOMEM, base);
  for (i = 1; i <= n; i++) {
    if (i < n && base[i] != '/') continue;
    ocb_matcher_walk(w->m, base, i, have ? root->state : NULL, w->scratch, &why);
    memcpy(root->state, w->scratch, w->ssize);
    have = 1;
  }
  return 0;
}

ocb_walk *ocb_walk_open_sub(const char *root, const char *base, const ocb_matcher *m, int flags,
                            ocb_err *err) {
  ocb_walk *w = ocb_walk_open(root, m, flags, err);
  if (!w || !base || !*base) return w;
  if (set_base(w, base, err) < 0) {
    ocb_walk_close(w);
    return NULL;
  }
  return w;
}

int ocb_walk_skip(ocb_walk *w, dev_t dev, ino_t ino) {
  if (w->nskip == (int)(sizeof w->skip / sizeof *w->skip)) return -1;
  w->skip[w->nskip].st_dev = dev;
  w->skip[w->nskip++].st_ino = ino;
  return 0;
}

static int skipped(const ocb_walk *w, const struct stat *st) {
  int i;
  for (i = 0; i < w->nskip; i++)
    if (w->skip[i].st_dev == st->st_dev && w->skip[i].st_ino == st->st_ino) return 1;
  return 0;
}

static void drop_efd(ocb_walk *w) {
  if (w->efd >= 0) close(w->efd);
  w->efd = -1;
}

void ocb_walk_close(ocb_walk *w) {
  if (!w) return;
  drop_efd(w);
  while (w->depth) frame_free(&w->fr[--w->depth]);
  ocb_ahead_free(w->ahead);
  free(w->fr);
  free(w->path);
  free(w->apath);
  free(w->scratch);
  free(w->root);
  free(w);
}

/* The current entry's name for messages: root/path, escaped. */
static const char *entry_name(const ocb_walk *w, size_t pathlen, char *buf, size_t len) {
  ocb_quote_path(buf, len, w->root, w->path + w->plen, pathlen - w->plen);
  return buf;
}

/* Reports the shallowest ancestor not yet reported; 0 when there is none. */
static int emit_ancestor(ocb_walk *w, ocb_entry *e, ocb_err *err) {
  size_t k;
  for (k = 1; k < w->depth; k++) {
    frame *f = &w->fr[k];
    size_t start;
    if (f->emitted) continue;
    f->emitted = 1;
    if (grow(&w->apath, &w->apathcap, f->pathlen + 1) < 0) return ocb_errno(err, ENOMEM, "walk");
    memcpy(w->apath, w->path, f->pathlen);
    w->apath[f->pathlen] = '\0';
    start = w->fr[k - 1].pathlen ? w->fr[k - 1].pathlen + 1 : 0;
    e->path = w->apath + w->plen;
    e->pathlen = f->pathlen - w->plen;
    e->name = w->apath + start;
    e->dirfd = w->fr[k - 1].fd;
    e->fd = -1;
    e->st = &f->st;
    e->excluded = 0;
    e->why = -1;
    return 1;
  }
  return 0;
}

/* The current entry, into e: 1. */
static int report(ocb_walk *w, ocb_entry *e, int excluded, int why) {
  e->path = w->path + w->plen;
  e->pathlen = w->pathlen - w->plen;
  e->name = w->path + w->namestart;
  e->dirfd = w->pfd;
  e->fd = w->efd;
  e->st = &w->st;
  e->excluded = excluded;
  e->why = why;
  return 1;
}

/* The current entry, excluded: reported when the walk reports those (1),
 * else left out (0). */
static int excluded_entry(ocb_walk *w, ocb_entry *e, int why) {
  return (w->flags & OCB_WALK_EXCLUDED) ? report(w, e, 1, why) : 0;
}

/* The current entry waits until its unreported ancestors are out; drop:
 * it is then reported only as excluded. 0: go on. */
static int later(ocb_walk *w, int drop, int why) {
  w->pending = 1, w->pending_drop = drop, w->pending_why = why;
  return 0;
}

/* The waiting entry, its ancestors out: 1 (in e) or 0 (left out). */
static int pending_entry(ocb_walk *w, ocb_entry *e) {
  int drop = w->pending_drop;
  w->pending = 0, w->pending_drop = 0;
  if (drop) return excluded_entry(w, e, w->pending_why);
  return report(w, e, 0, w->pending_why);
}

/* An entry listed in its directory but gone when looked at: left out when
 * the patterns exclude it anyway, else the context changed under the
 * build, which is an error as a file changing while read is (1: go on). */
static int vanished(ocb_walk *w, const frame *top, size_t pathlen, ocb_err *err) {
  char what[1200];
  int why;
  if (w->m && ocb_matcher_walk(w->m, w->path, pathlen, top->state, w->scratch, &why)) return 1;
  return ocb_errf(err, "CHANGED", "file removed while the context was read: %s",
                  entry_name(w, pathlen, what, sizeof what));
}

/* lstat of the top folder's entry just taken: 0, or an errno. A regular
 * file by its listing is opened first when the walk opens files; anything
 * else, or one that is not a regular file once open (it changed), or one
 * that cannot be opened, is looked at by its name as always. */
static int lstat_entry(ocb_walk *w, frame *top, const char *name) {
  if (top->ad) return ocb_ahead_stat(top->ad, top->next - 1, &w->st);
  if (w->open_files && ocb_dir_type(top->names, top->offs[top->next - 1]) == DT_REG) {
    /* O_NONBLOCK: a file swapped for a FIFO must not hang the walk */
    int fd = openat(top->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
      if (fstat(fd, &w->st) == 0 && S_ISREG(w->st.st_mode)) {
        w->efd = fd;
        return 0;
      }
      close(fd);
    }
  }
  return fstatat(top->fd, name, &w->st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
}

/* The current entry could not be looked at or opened (errno en): one gone
 * is left out when excluded or when vanished() says so (0), anything else
 * fails (-1). */
static int failed(ocb_walk *w, const frame *top, int en, int excluded, ocb_err *err) {
  char what[1200];
  if (en == ENOENT) return excluded || vanished(w, top, w->pathlen, err) > 0 ? 0 : -1;
  return ocb_errno_q(err, en, entry_name(w, w->pathlen, what, sizeof what));
}

static int denied(const char *code) {
  return !strcmp(code, "EACCES") || !strcmp(code, "EPERM");
}

/* The current entry, a folder to go into (kept, or excluded with an
 * exception that may match below): pushed; a kept one is reported after
 * its ancestors, an excluded one now, also when it cannot be read. */
static int enter(ocb_walk *w, ocb_entry *e, int excluded, int why, ocb_err *err) {
  frame *top = &w->fr[w->depth - 1];
  char what[1200];
  int fd = open_dir(w, top, w->path + w->namestart);
  if (fd < 0) {
    int en = errno;
    if (excluded && (en == EACCES || en == EPERM)) return excluded_entry(w, e, why);
    return failed(w, top, en, excluded, err);
  }
  if (push(w, fd, w->pathlen, w->scratch, &w->st, !excluded,
           entry_name(w, w->pathlen, what, sizeof what), err) < 0)
    return excluded && denied(err->code) ? excluded_entry(w, e, why) : -1;
  if (excluded) return excluded_entry(w, e, why);
  return later(w, 0, why);
}

/* Takes the top folder's next name as the current entry (1), or closes
 * the folder when none is left (0); -1 on error. */
static int take(ocb_walk *w, ocb_err *err) {
  frame *top = &w->fr[w->depth - 1];
  const char *name;
  size_t namelen;
  drop_efd(w);
  if (top->next == top->n) {
    frame_free(top);
    w->depth--;
    return 0;
  }
  name = top->names + top->offs[top->next++];
  namelen = strlen(name);
  w->namestart = top->pathlen ? top->pathlen + 1 : 0;
  w->pathlen = w->namestart + namelen;
  w->pfd = top->fd;
  if (grow(&w->path, &w->pathcap, w->pathlen + 1) < 0) return ocb_errno(err, ENOMEM, name);
  if (top->pathlen) w->path[top->pathlen] = '/';
  memcpy(w->path + w->namestart, name, namelen + 1);
  return 1;
}

/* The entry just taken: 1 (reported in e), 0 (go on), -1 (error). */
static int visit(ocb_walk *w, ocb_entry *e, ocb_err *err) {
  frame *top = &w->fr[w->depth - 1];
  int excluded = 0, why = -1, en;
  if ((en = lstat_entry(w, top, w->path + w->namestart)) != 0) return failed(w, top, en, 0, err);
  if (w->nskip && skipped(w, &w->st)) return 0;
  if (w->m) {
    excluded = ocb_matcher_walk(w->m, w->path, w->pathlen, top->state, w->scratch, &why);
    /* BuildKit opens a kept file by its own path and finds it absent when the
     * per-path answer excludes it: the file carries no data. Leave it out,
     * but its ancestors were sent when the walk kept it: send them. */
    if (!excluded && S_ISREG(w->st.st_mode) && ocb_matcher_path(w->m, w->path, w->pathlen, &why))
      return later(w, 1, why);
  }
  if (S_ISDIR(w->st.st_mode) && (!excluded || ocb_matcher_descend(w->m, w->path, w->pathlen)))
    return enter(w, e, excluded, why, err);
  if (excluded) return excluded_entry(w, e, why);
  return later(w, 0, why);
}

int ocb_walk_next(ocb_walk *w, ocb_entry *e, ocb_err *err) {
  for (;;) {
    int r;
    if (w->pending) {
      /* the waiting entry's unreported ancestors first, one a call */
      if ((r = emit_ancestor(w, e, err)) == 0) r = pending_entry(w, e);
    } else {
      if (w->depth == 0) return 0;
      if ((r = take(w, err)) > 0) r = visit(w, e, err);
    }
    if (r != 0) return r;
  }
}
