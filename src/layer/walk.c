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
  struct stat st; /* lstat of the current entry */
  int pending;    /* an entry waits for its ancestors to be reported */
  int pending_why;
  int pending_drop;                   /* the pending entry itself is left out (see below) */
  size_t ssize;                       /* matcher state size */
  struct stat skip[OCB_WALK_MAXSKIP]; /* (dev, ino) left out of the walk */
  int nskip;
  unsigned char *scratch;
  size_t plen; /* bytes of the matcher's base (and its '/') before every path */
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
      ocb_errf(err, "ENOTDIR", "ENOTDIR: context is not a directory: %s", q);
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

void ocb_walk_close(ocb_walk *w) {
  if (!w) return;
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
    e->st = &f->st;
    e->excluded = 0;
    e->why = -1;
    return 1;
  }
  return 0;
}

static void fill(ocb_walk *w, ocb_entry *e, size_t namestart, int excluded, int why) {
  frame *parent = &w->fr[w->depth - 1];
  e->path = w->path + w->plen;
  e->pathlen = strlen(w->path) - w->plen;
  e->name = w->path + namestart;
  e->dirfd = parent->fd;
  e->st = &w->st;
  e->excluded = excluded;
  e->why = why;
}

/* An entry listed in its directory but gone when looked at: left out when
 * the patterns exclude it anyway, else the context changed under the
 * build, which is an error as a file changing while read is (1: go on). */
static int vanished(ocb_walk *w, const frame *top, size_t pathlen, ocb_err *err) {
  char what[1200];
  int why;
  if (w->m && ocb_matcher_walk(w->m, w->path, pathlen, top->state, w->scratch, &why)) return 1;
  return ocb_errf(err, "CHANGED", "CHANGED: file removed while the context was read: %s",
                  entry_name(w, pathlen, what, sizeof what));
}

/* lstat of the top folder's entry just taken: 0, or an errno. */
static int lstat_entry(ocb_walk *w, frame *top, const char *name) {
  if (top->ad) return ocb_ahead_stat(top->ad, top->next - 1, &w->st);
  return fstatat(top->fd, name, &w->st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
}

int ocb_walk_next(ocb_walk *w, ocb_entry *e, ocb_err *err) {
  for (;;) {
    frame *top;
    const char *name;
    size_t namestart, namelen, pathlen;
    int excluded = 0, why = -1, pfd, en;
    char what[1200];

    if (w->pending) {
      int r = emit_ancestor(w, e, err);
      if (r) return r;
      /* The pending entry sits in the frame below any directory pushed for it. */
      w->pending = 0;
      if (w->pending_drop) {
        w->pending_drop = 0;
        if (!(w->flags & OCB_WALK_EXCLUDED)) continue;
        fill(w, e, w->fr[w->depth - 1].pathlen ? w->fr[w->depth - 1].pathlen + 1 : 0, 1,
             w->pending_why);
        return 1;
      }
      {
        size_t d = w->depth;
        if (S_ISDIR(w->st.st_mode) && d > 1 && w->fr[d - 1].pathlen == strlen(w->path)) {
          /* It is a directory already pushed: report it from its parent. */
          frame *parent = &w->fr[d - 2];
          e->path = w->path + w->plen;
          e->pathlen = w->fr[d - 1].pathlen - w->plen;
          e->name = w->path + (parent->pathlen ? parent->pathlen + 1 : 0);
          e->dirfd = parent->fd;
          e->st = &w->st;
          e->excluded = 0;
          e->why = w->pending_why;
          return 1;
        }
      }
      fill(w, e, w->fr[w->depth - 1].pathlen ? w->fr[w->depth - 1].pathlen + 1 : 0, 0,
           w->pending_why);
      return 1;
    }
    if (w->depth == 0) return 0;
    top = &w->fr[w->depth - 1];
    if (top->next == top->n) {
      frame_free(top);
      w->depth--;
      continue;
    }
    name = top->names + top->offs[top->next++];
    namelen = strlen(name);
    namestart = top->pathlen ? top->pathlen + 1 : 0;
    pathlen = namestart + namelen;
    if (grow(&w->path, &w->pathcap, pathlen + 1) < 0) return ocb_errno(err, ENOMEM, name);
    if (top->pathlen) w->path[top->pathlen] = '/';
    memcpy(w->path + namestart, name, namelen + 1);

    if ((en = lstat_entry(w, top, name)) != 0) {
      if (en == ENOENT && vanished(w, top, pathlen, err) > 0) continue;
      if (en == ENOENT) return -1;
      return ocb_errno_q(err, en, entry_name(w, pathlen, what, sizeof what));
    }
    if (w->nskip && skipped(w, &w->st)) continue;
    if (w->m) {
      excluded = ocb_matcher_walk(w->m, w->path, pathlen, top->state, w->scratch, &why);
      /* BuildKit opens a kept file by its own path and finds it absent when the
       * per-path answer excludes it: the file carries no data. Leave it out,
       * but its ancestors were sent when the walk kept it: send them. */
      if (!excluded && S_ISREG(w->st.st_mode) && ocb_matcher_path(w->m, w->path, pathlen, &why)) {
        w->pending = 1, w->pending_drop = 1, w->pending_why = why;
        continue;
      }
    }
    pfd = top->fd; /* top moves when a frame is pushed */
    if (S_ISDIR(w->st.st_mode) && (!excluded || ocb_matcher_descend(w->m, w->path, pathlen))) {
      int fd = open_dir(w, top, name);
      if (fd < 0) {
        en = errno;
        if (excluded && (en == EACCES || en == EPERM)) goto report_excluded;
        if (en == ENOENT && (excluded || vanished(w, top, pathlen, err) > 0)) continue;
        if (en == ENOENT) return -1;
        return ocb_errno_q(err, en, entry_name(w, pathlen, what, sizeof what));
      }
      if (push(w, fd, pathlen, w->scratch, &w->st, !excluded,
               entry_name(w, pathlen, what, sizeof what), err) < 0) {
        if (excluded && (!strcmp(err->code, "EACCES") || !strcmp(err->code, "EPERM")))
          goto report_excluded;
        return -1;
      }
      if (excluded) goto report_excluded;
      /* A kept directory: its unreported ancestors go first. */
      w->pending = 1;
      w->pending_why = why;
      continue;
    }
    if (excluded) goto report_excluded;
    w->pending = 1;
    w->pending_why = why;
    continue;
  report_excluded:
    if (w->flags & OCB_WALK_EXCLUDED) {
      e->path = w->path + w->plen;
      e->pathlen = pathlen - w->plen;
      e->name = w->path + namestart;
      e->dirfd = pfd;
      e->st = &w->st;
      e->excluded = 1;
      e->why = why;
      return 1;
    }
  }
}
