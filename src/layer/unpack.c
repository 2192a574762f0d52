/*
 * unpack.c: a tar stream (a build context sent on standard input) unpacked
 * into a folder, trusting none of its names: each is made clean (an
 * absolute one, or one holding "..", is refused), and written only below
 * the folder, never through a link: every parent is opened without
 * following links, so a name below a symlink (or below a file) is
 * refused, and a name that comes twice is refused. A hardlink must name
 * an earlier file of the archive; devices, FIFOs and sockets are refused;
 * entries, bytes and name lengths are bounded. Symlinks are a context's
 * data, written as they are and never followed. Permission bits and
 * mtimes are set (folders' last, so that a read-only folder still takes
 * its entries); owners are not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"

#define NAME_MAX_LEN 4095
#define DEPTH_MAX 256 /* folders in a name: each is open while one is removed */

typedef struct dirattr {
  char *name; /* clean, relative to the root */
  unsigned mode;
  int64_t mtime;
} dirattr;

typedef struct unpacker {
  int root;
  const ocb_unpack_limits *lim;
  ocb_unpack_stats *st;
  const char *what;
  dirattr *dirs;
  size_t ndirs, capdirs;
  char *cached; /* the parent folder open on cfd, or NULL */
  int cfd;
} unpacker;

static int bad(unpacker *u, const char *name, const char *why, ocb_err *err) {
  char q[1100];
  ocb_quote(q, sizeof q, name, strlen(name));
  return ocb_errf(err, "BADTAR", "%s: entry %s: %s", u->what, q, why);
}

/* name made clean in place ("./a//b/" -> "a/b"); "" for the root itself;
 * -1 for an absolute name, one holding "..", or one too deep. */
static int clean(char *name) {
  char *r = name, *w = name;
  int depth = 0;
  if (*name == '/') return -1;
  while (*r) {
    char *end = strchr(r, '/');
    size_t n = end ? (size_t)(end - r) : strlen(r);
    if (n == 2 && r[0] == '.' && r[1] == '.') return -1;
    if (n && !(n == 1 && r[0] == '.')) {
      if (++depth > DEPTH_MAX) return -1;
      if (w != name) *w++ = '/';
      memmove(w, r, n);
      w += n;
    }
    r += n;
    while (*r == '/') r++;
  }
  *w = '\0';
  return 0;
}

/* The folder holding name's last component, opened (made when missing,
 * 0755) without following links; its last component into *last. */
static int parent(unpacker *u, char *name, const char **last, ocb_err *err) {
  char *slash = strrchr(name, '/'), *p, *q;
  int fd;
  *last = slash ? slash + 1 : name;
  if (!slash) return u->root;
  *slash = '\0';
  if (u->cached && strcmp(u->cached, name) == 0) {
    *slash = '/';
    return u->cfd;
  }
  fd = dup(u->root);
  for (p = name; fd >= 0 && p; p = q) {
    int next;
    if ((q = strchr(p, '/'))) *q = '\0';
    next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && mkdirat(fd, p, 0755) == 0)
      next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (q) *q++ = '/';
    close(fd);
    fd = next;
  }
  *slash = '/';
  if (fd < 0) {
    int e = errno;
    return bad(u, name, e == ENOTDIR || e == ELOOP ? "lies below a symlink or a file" : strerror(e),
               err);
  }
  if (u->cached) close(u->cfd);
  free(u->cached);
  u->cached = NULL;
  *slash = '\0';
  if ((u->cached = strdup(name))) u->cfd = fd;
  *slash = '/';
  if (!u->cached) {
    close(fd);
    return ocb_errno(err, ENOMEM, u->what);
  }
  return fd;
}

static void when(int64_t mtime, struct timespec ts[2]) {
  ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
}

typedef struct body {
  unpacker *u;
  int fd;
  const char *name;
} body;

static int body_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  body *b = ud;
  const char *p = buf;
  if ((b->u->st->bytes += len) > b->u->lim->max_bytes)
    return bad(b->u, b->name, "the archive unpacks to more bytes than allowed", err);
  while (len) {
    ssize_t n = write(b->fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ocb_errno(err, errno, b->name);
    p += n, len -= (size_t)n;
  }
  return 0;
}

static int file(unpacker *u, ocb_untar *t, const ocb_untar_entry *e, int at, const char *last,
                const char *name, ocb_err *err) {
  struct timespec ts[2];
  body b;
  int r;
  b.u = u, b.name = name;
  b.fd = openat(at, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (b.fd < 0)
    return errno == EEXIST ? bad(u, name, "comes twice", err) : ocb_errno(err, errno, name);
  r = ocb_untar_data(t, body_out, &b, err);
  when(e->mtime, ts);
  if (r == 0 && (fchmod(b.fd, e->mode & 07777) < 0 || futimens(b.fd, ts) < 0))
    r = ocb_errno(err, errno, name);
  if (close(b.fd) < 0 && r == 0) r = ocb_errno(err, errno, name);
  return r;
}

/* A hardlink to an earlier file of the archive. */
static int hardlink(unpacker *u, const ocb_untar_entry *e, char *name, ocb_err *err) {
  char *target = strdup(e->link ? e->link : "");
  const char *tlast, *last;
  struct stat st;
  int tfd = -1, at, r = 0;
  if (!target) return ocb_errno(err, ENOMEM, name);
  if (clean(target) < 0 || !*target) {
    free(target);
    return bad(u, name, "a hardlink out of the archive", err);
  }
  /* the target's folder kept open: the link's own is looked up after */
  if ((at = parent(u, target, &tlast, err)) >= 0 && (tfd = dup(at)) < 0)
    r = ocb_errno(err, errno, name);
  if (at < 0 || r < 0) {
    r = -1;
  } else if (fstatat(tfd, tlast, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
    r = bad(u, name, "a hardlink to what is not an earlier file of the archive", err);
  } else if ((at = parent(u, name, &last, err)) < 0) {
    r = -1;
  } else if (linkat(tfd, tlast, at, last, 0) < 0) {
    r = errno == EEXIST ? bad(u, name, "comes twice", err) : ocb_errno(err, errno, name);
  }
  if (tfd >= 0) close(tfd);
  free(target);
  return r;
}

static int directory(unpacker *u, const ocb_untar_entry *e, int at, const char *last,
                     const char *name, ocb_err *err) {
  struct stat st;
  dirattr *d;
  if (mkdirat(at, last, 0700) < 0 &&
      (errno != EEXIST || fstatat(at, last, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)))
    return errno == EEXIST ? bad(u, name, "comes twice", err) : ocb_errno(err, errno, name);
  if (u->ndirs == u->capdirs) {
    size_t cap = u->capdirs ? 2 * u->capdirs : 64;
    if (!(d = realloc(u->dirs, cap * sizeof *d))) return ocb_errno(err, ENOMEM, u->what);
    u->dirs = d, u->capdirs = cap;
  }
  d = &u->dirs[u->ndirs];
  if (!(d->name = strdup(name))) return ocb_errno(err, ENOMEM, u->what);
  d->mode = e->mode & 07777, d->mtime = e->mtime;
  u->ndirs++;
  return 0;
}

static int entry(unpacker *u, ocb_untar *t, const ocb_untar_entry *e, ocb_err *err) {
  char *name;
  const char *last;
  int at, r = 0;
  struct timespec ts[2];
  if (strlen(e->name) > NAME_MAX_LEN) return bad(u, e->name, "a name too long", err);
  if (++u->st->entries > u->lim->max_entries)
    return bad(u, e->name, "the archive holds more entries than allowed", err);
  if (!(name = strdup(e->name))) return ocb_errno(err, ENOMEM, u->what);
  if (clean(name) < 0) {
    r = bad(u, e->name, "an absolute name, one holding '..', or one too deep", err);
  } else if (!*name) {
    r = 0; /* the root: it is the folder */
  } else if (e->type != OCB_TAR_DIR && e->type != OCB_TAR_FILE && e->type != OCB_TAR_SYMLINK &&
             e->type != OCB_TAR_HARDLINK) {
    r = bad(u, name, "a device, FIFO or socket (a context holds files, folders and links)", err);
  } else if (e->type == OCB_TAR_HARDLINK) {
    r = hardlink(u, e, name, err);
  } else if ((at = parent(u, name, &last, err)) < 0) {
    r = -1;
  } else if (e->type == OCB_TAR_DIR) {
    r = directory(u, e, at, last, name, err);
  } else if (e->type == OCB_TAR_FILE) {
    r = file(u, t, e, at, last, name, err);
  } else if (symlinkat(e->link ? e->link : "", at, last) < 0) {
    r = errno == EEXIST ? bad(u, name, "comes twice", err) : ocb_errno(err, errno, name);
  } else {
    when(e->mtime, ts);
    (void)utimensat(at, last, ts, AT_SYMLINK_NOFOLLOW);
  }
  free(name);
  return r;
}

/* Folders' own bits and mtimes, the deepest first. */
static int finish_dirs(unpacker *u, ocb_err *err) {
  size_t i;
  struct timespec ts[2];
  for (i = u->ndirs; i-- > 0;) {
    dirattr *d = &u->dirs[i];
    int fd = openat(u->root, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    when(d->mtime, ts);
    if (fd < 0 || fchmod(fd, d->mode) < 0 || futimens(fd, ts) < 0) {
      int e = errno;
      if (fd >= 0) close(fd);
      return ocb_errno(err, e, d->name);
    }
    close(fd);
  }
  return 0;
}

int ocb_unpack(ocb_untar *t, int root, const ocb_unpack_limits *lim, ocb_unpack_stats *st,
               ocb_err *err) {
  unpacker u;
  ocb_untar_entry e;
  int r;
  size_t i;
  memset(&u, 0, sizeof u);
  memset(st, 0, sizeof *st);
  u.root = root, u.lim = lim, u.st = st, u.what = ocb_untar_what(t), u.cfd = -1;
  while ((r = ocb_untar_next(t, &e, err)) > 0)
    if (entry(&u, t, &e, err) < 0) break;
  r = r == 0 ? finish_dirs(&u, err) : -1;
  for (i = 0; i < u.ndirs; i++) free(u.dirs[i].name);
  free(u.dirs);
  if (u.cached) close(u.cfd);
  free(u.cached);
  return r;
}
