/*
 * tar.c: layer tar streams through libarchive's restricted pax writer with
 * ocibuild's header policy: names relative and clean, directories ending
 * in '/', whole-second mtimes from the policy, numeric owners with empty
 * names, no atime/ctime/xattrs, hardlinks within the walked set, no block
 * padding; modes, owners and mtimes overridden per path by the policy's
 * rules. File bodies are read with the byte count checked, so a file
 * that changes while it is read fails the build instead of being padded.
 * A plain file's or directory's header, body and padding are written
 * here instead, the header made by ustar.c as libarchive would make it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "layer.h"

#define READ_CHUNK (256 * 1024)

typedef struct link_slot {
  dev_t dev;
  ino_t ino;
  char *name; /* NULL: empty slot */
} link_slot;

struct ocb_tar {
  struct archive *a;
  struct archive_entry *e;
  ocb_out_fn out;
  void *ud;
  ocb_err cb_err; /* the failure of out, if any */
  int cb_failed;
  char *buf;
  char *name; /* scratch for prefix + path */
  size_t namecap;
  link_slot *links; /* first name of each multiply-linked inode */
  size_t nlinks, linkcap;
  ocb_catalog *cat; /* sees every entry written, or NULL */
  int feeding;      /* the current body goes to cat too */
  int direct;       /* the current entry is written here, not by libarchive */
  uint64_t dsize;   /* and the size its header gives */
};

/* How a message names the entry at fault: built only when one is written,
 * since quoting every path of a big tree costs more than it is worth. */
typedef struct what_t {
  const char *fixed;   /* a name given as is, or NULL */
  const char *display; /* else: the context root as messages show it */
  const ocb_entry *e;  /* and the walked entry */
  char buf[1100];
} what_t;

static const char *what_name(what_t *w) {
  if (!w->buf[0]) {
    if (w->fixed)
      ocb_quote(w->buf, sizeof w->buf, w->fixed, strlen(w->fixed));
    else
      ocb_quote_path(w->buf, sizeof w->buf, w->display, w->e->path, w->e->pathlen);
  }
  return w->buf;
}

static la_ssize_t write_cb(struct archive *a, void *ud, const void *buf, size_t len) {
  ocb_tar *t = ud;
  if (t->out(t->ud, buf, len, &t->cb_err) < 0) {
    t->cb_failed = 1;
    ocb_la->set_error(a, EIO, "%s", t->cb_err.msg);
    return -1;
  }
  return (la_ssize_t)len;
}

/* Turns a libarchive failure into err (the callback's own error first). */
static int arch_fail(ocb_tar *t, what_t *what, ocb_err *err) {
  if (t->cb_failed) {
    *err = t->cb_err;
    return -1;
  }
  return ocb_errf(err, "ARCHIVE", "%s: %s", ocb_la->error_string(t->a), what_name(what));
}

ocb_tar *ocb_tar_new(ocb_out_fn out, void *ud, ocb_err *err) {
  ocb_tar *t;
  if (ocb_la_load(err) < 0) return NULL;
  t = calloc(1, sizeof *t);
  if (!t || !(t->buf = malloc(READ_CHUNK)) || !(t->a = ocb_la->write_new()) ||
      !(t->e = ocb_la->entry_new())) {
    ocb_tar_free(t);
    ocb_errno(err, ENOMEM, "tar");
    return NULL;
  }
  t->out = out, t->ud = ud;
  /* Unblocked output: the stream ends right after the two zero blocks. */
  if (ocb_la->write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
      ocb_la->write_set_bytes_per_block(t->a, 0) != ARCHIVE_OK ||
      ocb_la->write_open2(t->a, t, NULL, write_cb, NULL, NULL) != ARCHIVE_OK) {
    what_t w = {"tar", NULL, NULL, ""};
    arch_fail(t, &w, err);
    ocb_tar_free(t);
    return NULL;
  }
  return t;
}

void ocb_tar_free(ocb_tar *t) {
  size_t i;
  if (!t) return;
  if (t->a) ocb_la->write_free(t->a);
  if (t->e) ocb_la->entry_free(t->e);
  for (i = 0; i < t->linkcap; i++) free(t->links[i].name);
  free(t->links);
  free(t->buf);
  free(t->name);
  free(t);
}

void ocb_tar_watch(ocb_tar *t, ocb_catalog *c) {
  t->cat = c;
}

/* Tells the catalog of the entry whose header was just written (named
 * name, its size bytes to follow); sets feeding when it wants them. */
static int see(ocb_tar *t, const char *name, int type, const char *link, uint64_t size,
               ocb_err *err) {
  int r;
  t->feeding = 0;
  if (!t->cat) return 0;
  r = ocb_catalog_entry(t->cat, name, strlen(name), type, link, size,
                        (unsigned)ocb_la->entry_perm(t->e), err);
  if (r < 0) return -1;
  t->feeding = r;
  return 0;
}

/* The body seen whole (after the last of its bytes). */
static int seen(ocb_tar *t, int r, ocb_err *err) {
  if (r == 0 && t->feeding) r = ocb_catalog_end(t->cat, err);
  t->feeding = 0;
  return r;
}

int ocb_tar_finish(ocb_tar *t, ocb_err *err) {
  what_t w = {"end of archive", NULL, NULL, ""};
  if (ocb_la->write_close(t->a) != ARCHIVE_OK) return arch_fail(t, &w, err);
  return 0;
}

static size_t link_hash(const ocb_tar *t, dev_t dev, ino_t ino) {
  return ((size_t)ino * 0x9e3779b97f4a7c15u ^ (size_t)dev) & (t->linkcap - 1);
}

/* The first name recorded for (dev, ino), or NULL. */
static const char *link_find(const ocb_tar *t, dev_t dev, ino_t ino) {
  size_t h;
  if (!t->linkcap) return NULL;
  for (h = link_hash(t, dev, ino); t->links[h].name; h = (h + 1) & (t->linkcap - 1))
    if (t->links[h].dev == dev && t->links[h].ino == ino) return t->links[h].name;
  return NULL;
}

/* The first name recorded for (dev, ino), or NULL after recording name. */
static const char *link_seen(ocb_tar *t, dev_t dev, ino_t ino, const char *name, ocb_err *err,
                             int *fail) {
  const char *first;
  size_t i, h;
  *fail = 0;
  if ((first = link_find(t, dev, ino))) return first;
  if (t->nlinks * 2 >= t->linkcap) {
    size_t cap = t->linkcap ? t->linkcap * 2 : 64;
    link_slot *n = calloc(cap, sizeof *n);
    if (!n) {
      *fail = ocb_errno(err, ENOMEM, name);
      return NULL;
    }
    for (i = 0; i < t->linkcap; i++) {
      if (!t->links[i].name) continue;
      h = ((size_t)t->links[i].ino * 0x9e3779b97f4a7c15u ^ (size_t)t->links[i].dev) & (cap - 1);
      while (n[h].name) h = (h + 1) & (cap - 1);
      n[h] = t->links[i];
    }
    free(t->links);
    t->links = n, t->linkcap = cap;
  }
  h = link_hash(t, dev, ino);
  while (t->links[h].name) h = (h + 1) & (t->linkcap - 1);
  if (!(t->links[h].name = strdup(name))) {
    *fail = ocb_errno(err, ENOMEM, name);
    return NULL;
  }
  t->links[h].dev = dev, t->links[h].ino = ino;
  t->nlinks++;
  return NULL;
}

static int set_name(ocb_tar *t, const char *prefix, const char *path, size_t len, int dir,
                    ocb_err *err) {
  size_t plen = strlen(prefix), need = plen + len + 2;
  if (need > t->namecap) {
    char *n = realloc(t->name, need);
    if (!n) return ocb_errno(err, ENOMEM, path);
    t->name = n, t->namecap = need;
  }
  memcpy(t->name, prefix, plen);
  memcpy(t->name + plen, path, len);
  if (dir) t->name[plen + len++] = '/';
  t->name[plen + len] = '\0';
  return 0;
}

uint64_t ocb_tar_data_size(const ocb_tar *t, const ocb_entry *e) {
  const struct stat *st = e->st;
  if (!S_ISREG(st->st_mode)) return 0;
  if (st->st_nlink > 1 && link_find(t, st->st_dev, st->st_ino)) return 0;
  return (uint64_t)st->st_size;
}

int ocb_tar_note_link(ocb_tar *t, const ocb_tar_policy *p, const char *path, size_t len, dev_t dev,
                      ino_t ino, ocb_err *err) {
  int fail;
  if (set_name(t, p->prefix, path, len, 0, err) < 0) return -1;
  link_seen(t, dev, ino, t->name, err, &fail);
  return fail ? -1 : 0;
}

/* A plain entry's header, made here (ustar.c), when the entry is plain. */
static int plain_header(ocb_tar *t, ocb_err *err) {
  struct archive_entry *e = t->e;
  unsigned char h[512];
  const char *name = ocb_la->entry_pathname(e);
  int type = (int)ocb_la->entry_filetype(e);
  uint64_t size = type == AE_IFREG ? (uint64_t)ocb_la->entry_size(e) : 0;
  if ((type != AE_IFREG && type != AE_IFDIR) || !name || ocb_la->entry_hardlink(e) ||
      ocb_la->entry_symlink(e) ||
      ocb_ustar_plain(h, name, strlen(name), type == AE_IFDIR, (unsigned)ocb_la->entry_perm(e),
                      (uint64_t)ocb_la->entry_uid(e), (uint64_t)ocb_la->entry_gid(e), size,
                      (int64_t)ocb_la->entry_mtime(e)) < 0)
    return 0;
  t->direct = 1, t->dsize = size;
  return t->out(t->ud, h, sizeof h, err) < 0 ? -1 : 1;
}

/* The entry's body bytes, after its header. */
static int put_data(ocb_tar *t, const void *buf, size_t n, what_t *what, ocb_err *err) {
  if (t->direct) return t->out(t->ud, buf, n, err);
  return ocb_la->write_data(t->a, buf, n) != (la_ssize_t)n ? arch_fail(t, what, err) : 0;
}

static int write_header(ocb_tar *t, what_t *what, ocb_err *err) {
  int r;
  t->direct = 0;
  if ((r = plain_header(t, err)) != 0) return r < 0 ? -1 : 0;
  r = ocb_la->write_header(t->a, t->e);
  /* A warning here means a name could not be written as UTF-8. */
  if (r == ARCHIVE_WARN && !t->cb_failed && !ocb_names_utf8())
    return ocb_errf(err, "LOCALE",
                    "a name that is not ASCII needs a UTF-8 locale (C.UTF-8), "
                    "which this system lacks: %s",
                    what_name(what));
  if (r != ARCHIVE_OK) return arch_fail(t, what, err);
  return 0;
}

/* Ends the entry: its padding is written now, not with the next header,
 * so that the caller's bytes may come between entries. */
static int end_entry(ocb_tar *t, what_t *what, int r, ocb_err *err) {
  static const unsigned char zeros[512];
  if (r == 0 && t->direct) {
    size_t pad = (size_t)(-t->dsize & 511);
    t->direct = 0;
    return pad && t->out(t->ud, zeros, pad, err) < 0 ? -1 : 0;
  }
  if (r == 0 && ocb_la->write_finish_entry(t->a) != ARCHIVE_OK) return arch_fail(t, what, err);
  return r;
}

/* 1 when fd no longer is the file st described when it was listed or opened. */
static int changed(int fd, const struct stat *st) {
  struct stat now;
  return fstat(fd, &now) < 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino ||
         now.st_dev != st->st_dev || now.st_size != st->st_size ||
         now.st_mtim.tv_sec != st->st_mtim.tv_sec || now.st_mtim.tv_nsec != st->st_mtim.tv_nsec ||
         now.st_ctim.tv_sec != st->st_ctim.tv_sec || now.st_ctim.tv_nsec != st->st_ctim.tv_nsec;
}

/* Reads exactly st_size bytes of fd into the archive, failing when the file
 * is found to have changed: fewer bytes, more bytes (the last read asks for
 * one more than is left: short of that, it is the end, so a small file
 * takes one read), or another identity, size, mtime or ctime at the end
 * than st records. */
static int copy_body(ocb_tar *t, int fd, const struct stat *st, ocb_sha256 *hash, what_t *what,
                     ocb_err *err) {
  int64_t left = st->st_size;
  for (;;) {
    size_t want = left < READ_CHUNK ? (size_t)left + 1 : READ_CHUNK;
    ssize_t n = read(fd, t->buf, want);
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (changed(fd, st)) break; /* swapped for a FIFO or a directory */
      return ocb_errno_q(err, e, what_name(what));
    }
    if (n == 0 || n > left) {
      if (n > left) left = -1; /* it grew */
      break;
    }
    if (put_data(t, t->buf, (size_t)n, what, err) < 0) return -1;
    if (hash) ocb_sha256_update(hash, t->buf, (size_t)n);
    if (t->feeding && ocb_catalog_data(t->cat, t->buf, (size_t)n, err) < 0) return -1;
    left -= n;
    if (left == 0) break; /* a short read: the end (changed() says if it moved) */
  }
  if (left != 0 || changed(fd, st))
    return ocb_errf(err, "CHANGED", "file changed as we read it: %s", what_name(what));
  return 0;
}

static unsigned perm_of(const ocb_tar_policy *p, mode_t m) {
  if (!p->normalize_mode || S_ISLNK(m)) return m & 07777;
  if (S_ISDIR(m)) return 0755;
  return (m & 0111) ? 0755 : 0644;
}

static int64_t mtime_of(const ocb_tar_policy *p, const struct stat *st) {
  int64_t m;
  if (!p->keep_mtime) return p->mtime;
  m = (int64_t)st->st_mtim.tv_sec; /* before 1970 too: a PAX mtime, as Go's tar writes it */
  return p->clamp && m > p->mtime ? p->mtime : m;
}

/* The value the last matching rule gives attr for e, if one does. */
static int rule(const ocb_tar_policy *p, int attr, const ocb_entry *e, uint64_t *v) {
  int why;
  const ocb_matcher *m = p->rules ? p->rules->m[attr] : NULL;
  if (!m || !ocb_matcher_path(m, e->path, e->pathlen, &why) || why < 0) return 0;
  *v = p->rules->val[attr][why];
  return 1;
}

/* Mode, owner and mtime from the rules, over what the policy gave. */
static void apply_rules(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e, mode_t m) {
  uint64_t v;
  int attr = S_ISDIR(m) ? OCB_RULE_DIR_MODE : S_ISLNK(m) ? -1 : OCB_RULE_MODE;
  if (attr >= 0 && rule(p, attr, e, &v)) ocb_la->entry_set_perm(t->e, (mode_t)v);
  if (rule(p, OCB_RULE_OWNER, e, &v)) {
    ocb_la->entry_set_uid(t->e, (la_int64_t)(v >> 32));
    ocb_la->entry_set_gid(t->e, (la_int64_t)(v & 0xffffffffu));
  }
  if (rule(p, OCB_RULE_MTIME, e, &v)) ocb_la->entry_set_mtime(t->e, (time_t)v, 0);
}

unsigned ocb_tar_perm(const ocb_tar_policy *p, const ocb_entry *e) {
  uint64_t v;
  mode_t m = e->st->st_mode;
  int attr = S_ISDIR(m) ? OCB_RULE_DIR_MODE : S_ISLNK(m) ? -1 : OCB_RULE_MODE;
  if (attr >= 0 && rule(p, attr, e, &v)) return (unsigned)v & 07777;
  return perm_of(p, m);
}

/* Checks the name, then fills the parts of the header common to all types. */
static int begin_entry(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e,
                       const struct stat *st, what_t *what, ocb_err *err) {
  if (!ocb_utf8_valid(e->path, e->pathlen))
    return ocb_errf(err, "BADNAME", "file name is not valid UTF-8: %s", what_name(what));
  if (strncmp(e->name, ".wh.", 4) == 0)
    return ocb_errf(err, "WHITEOUT", "name starts with .wh. and would be read as a whiteout: %s",
                    what_name(what));
  if (set_name(t, p->prefix, e->path, e->pathlen, S_ISDIR(st->st_mode), err) < 0) return -1;
  if (strlen(t->name) > 4095)
    return ocb_errf(err, "ENAMETOOLONG", "path longer than 4095 bytes: %s", what_name(what));
  ocb_la->entry_clear(t->e);
  ocb_la->entry_copy_pathname(t->e, t->name);
  ocb_la->entry_set_perm(t->e, perm_of(p, st->st_mode));
  ocb_la->entry_set_mtime(t->e, mtime_of(p, st), 0);
  ocb_la->entry_set_uid(t->e, p->keep_owner ? st->st_uid : p->uid);
  ocb_la->entry_set_gid(t->e, p->keep_owner ? st->st_gid : p->gid);
  if (p->rules) apply_rules(t, p, e, st->st_mode);
  return 0;
}

static int add_symlink(ocb_tar *t, const ocb_entry *e, what_t *what, ocb_err *err) {
  size_t cap = (size_t)e->st->st_size + 2;
  char *target = malloc(cap);
  ssize_t n;
  int r = 0;
  if (!target) return ocb_errno(err, ENOMEM, what_name(what));
  n = readlinkat(e->dirfd, e->name, target, cap);
  if (n < 0)
    r = ocb_errno_q(err, errno, what_name(what));
  else if ((size_t)n >= cap - 1)
    r = ocb_errf(err, "CHANGED", "symlink changed as we read it: %s", what_name(what));
  else if (!ocb_utf8_valid(target, (size_t)n))
    r = ocb_errf(err, "BADNAME", "symlink target is not valid UTF-8: %s", what_name(what));
  if (r == 0) {
    target[n] = '\0';
    ocb_la->entry_set_filetype(t->e, AE_IFLNK);
    ocb_la->entry_copy_symlink(t->e, target);
    r = write_header(t, what, err);
    if (r == 0) r = see(t, t->name, OCB_TAR_SYMLINK, target, 0, err);
  }
  free(target);
  return r;
}

static int add_file(ocb_tar *t, const ocb_entry *e, what_t *what, ocb_err *err) {
  int fd, r, fail;
  if (e->st->st_nlink > 1) {
    const char *first = link_seen(t, e->st->st_dev, e->st->st_ino, t->name, err, &fail);
    if (fail) return -1;
    if (first) {
      ocb_la->entry_set_filetype(t->e, AE_IFREG);
      ocb_la->entry_copy_hardlink(t->e, first);
      ocb_la->entry_set_size(t->e, 0);
      if (write_header(t, what, err) < 0) return -1;
      return see(t, t->name, OCB_TAR_HARDLINK, first, 0, err);
    }
  }
  /* Open already when the walk opened it; O_NONBLOCK: a file swapped for a
   * FIFO must not hang the build. */
  fd = e->fd >= 0 ? e->fd
                  : openat(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP)
      return ocb_errf(err, "CHANGED", "file changed as we read it: %s", what_name(what));
    if (errno == ENOENT)
      return ocb_errf(err, "CHANGED", "file removed while the context was read: %s",
                      what_name(what));
    return ocb_errno_q(err, errno, what_name(what));
  }
  /* The header takes the size the walk saw; copy_body then checks that fd is
   * that same file, unchanged, once its bytes are read. */
  ocb_la->entry_set_filetype(t->e, AE_IFREG);
  ocb_la->entry_set_size(t->e, e->st->st_size);
  r = write_header(t, what, err);
  if (r == 0) r = see(t, t->name, OCB_TAR_FILE, NULL, (uint64_t)e->st->st_size, err);
  if (r == 0) r = copy_body(t, fd, e->st, NULL, what, err);
  if (fd != e->fd) close(fd);
  return seen(t, r, err);
}

static int add_walked(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e, what_t *what,
                      ocb_err *err) {
  mode_t m = e->st->st_mode;
  what->fixed = NULL, what->display = p->display, what->e = e, what->buf[0] = '\0';
  if (S_ISSOCK(m)) return 1;
  if (S_ISCHR(m) || S_ISBLK(m))
    return ocb_errf(err, "DEVICE", "device files cannot go into a layer: %s", what_name(what));
  if (begin_entry(t, p, e, e->st, what, err) < 0) return -1;
  if (S_ISDIR(m) || S_ISFIFO(m)) {
    ocb_la->entry_set_filetype(t->e, S_ISDIR(m) ? AE_IFDIR : AE_IFIFO);
    if (write_header(t, what, err) < 0) return -1;
    return see(t, t->name, S_ISDIR(m) ? OCB_TAR_DIR : OCB_TAR_FIFO, NULL, 0, err);
  }
  if (S_ISLNK(m)) return add_symlink(t, e, what, err);
  if (S_ISREG(m)) return add_file(t, e, what, err);
  return ocb_errf(err, "BADTYPE", "unsupported file type: %s", what_name(what));
}

int ocb_tar_add_walked(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e, ocb_err *err) {
  what_t w;
  int r = add_walked(t, p, e, &w, err);
  return r == 1 ? 1 : end_entry(t, &w, r, err);
}

/* The body of an item: its bytes, or its open file's. */
static int item_body(ocb_tar *t, const ocb_tar_item *it, what_t *what, ocb_err *err) {
  struct stat st;
  if (it->kind == OCB_TAR_DATA) {
    ocb_la->entry_set_size(t->e, (la_int64_t)it->len);
    if (write_header(t, what, err) < 0 || see(t, it->name, OCB_TAR_DATA, NULL, it->len, err) < 0)
      return -1;
    if (it->len && put_data(t, it->data, it->len, what, err) < 0) return -1;
    if (it->hash) ocb_sha256_update(it->hash, it->data, it->len);
    if (t->feeding && ocb_catalog_data(t->cat, it->data, it->len, err) < 0) return -1;
    return seen(t, 0, err);
  }
  if (fstat(it->fd, &st) < 0) return ocb_errno_q(err, errno, what_name(what));
  if (!S_ISREG(st.st_mode))
    return ocb_errf(err, "BADTYPE", "not a regular file: %s", what_name(what));
  ocb_la->entry_set_size(t->e, st.st_size);
  if (write_header(t, what, err) < 0 ||
      see(t, it->name, OCB_TAR_FILE, NULL, (uint64_t)st.st_size, err) < 0)
    return -1;
  return seen(t, copy_body(t, it->fd, &st, it->hash, what, err), err);
}

static int add_item(ocb_tar *t, const ocb_tar_item *it, what_t *w, ocb_err *err) {
  ocb_la->entry_clear(t->e);
  ocb_la->entry_copy_pathname(t->e, it->name);
  ocb_la->entry_set_perm(t->e, it->mode & 07777);
  ocb_la->entry_set_mtime(t->e, it->mtime, 0);
  ocb_la->entry_set_uid(t->e, it->uid);
  ocb_la->entry_set_gid(t->e, it->gid);
  switch (it->kind) {
  case OCB_TAR_DIR: ocb_la->entry_set_filetype(t->e, AE_IFDIR); break;
  case OCB_TAR_FIFO: ocb_la->entry_set_filetype(t->e, AE_IFIFO); break;
  case OCB_TAR_SYMLINK:
    ocb_la->entry_set_filetype(t->e, AE_IFLNK);
    ocb_la->entry_copy_symlink(t->e, it->data);
    break;
  case OCB_TAR_HARDLINK:
    ocb_la->entry_set_filetype(t->e, AE_IFREG);
    ocb_la->entry_copy_hardlink(t->e, it->data);
    ocb_la->entry_set_size(t->e, 0);
    break;
  case OCB_TAR_DATA:
  case OCB_TAR_FILE: ocb_la->entry_set_filetype(t->e, AE_IFREG); return item_body(t, it, w, err);
  default: return ocb_errf(err, "EINVAL", "unknown tar item kind %d", it->kind);
  }
  if (write_header(t, w, err) < 0) return -1;
  return see(t, it->name, it->kind,
             it->kind == OCB_TAR_SYMLINK || it->kind == OCB_TAR_HARDLINK ? it->data : NULL, 0, err);
}

int ocb_tar_add_item(ocb_tar *t, const ocb_tar_item *it, ocb_err *err) {
  what_t w = {it->path ? it->path : it->name, NULL, NULL, ""};
  return end_entry(t, &w, add_item(t, it, &w, err), err);
}
