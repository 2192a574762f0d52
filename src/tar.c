/*
 * tar.c: layer tar streams through libarchive's restricted pax writer with
 * ocibuild's header policy: names relative and clean, directories ending
 * in '/', whole-second mtimes from the policy, numeric owners with empty
 * names, no atime/ctime/xattrs, hardlinks within the walked set, no block
 * padding. File bodies are read with the byte count checked, so a file
 * that changes while it is read fails the build instead of being padded.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocb.h"

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
};

/* How a message names the entry at fault: built only when one is written,
 * since quoting every path of a big tree costs more than it is worth. */
typedef struct what_t {
  const char *fixed;   /* a name given as is, or NULL */
  const char *display; /* else: the context root as messages show it */
  const ocb_entry *e;  /* and the walked entry */
  char buf[1200];
} what_t;

static const char *W(what_t *w) {
  char q[1024];
  if (w->fixed) return w->fixed;
  if (!w->buf[0]) {
    ocb_quote(q, sizeof q, w->e->path, w->e->pathlen);
    snprintf(w->buf, sizeof w->buf, "%s/%s", w->display, q);
  }
  return w->buf;
}

static la_ssize_t write_cb(struct archive *a, void *ud, const void *buf, size_t len) {
  ocb_tar *t = ud;
  if (t->out(t->ud, buf, len, &t->cb_err) < 0) {
    t->cb_failed = 1;
    archive_set_error(a, EIO, "%s", t->cb_err.msg);
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
  return ocb_errf(err, "ARCHIVE", "ARCHIVE: %s: %s", archive_error_string(t->a), W(what));
}

ocb_tar *ocb_tar_new(ocb_out_fn out, void *ud, ocb_err *err) {
  ocb_tar *t = calloc(1, sizeof *t);
  if (!t || !(t->buf = malloc(READ_CHUNK)) || !(t->a = archive_write_new()) ||
      !(t->e = archive_entry_new())) {
    ocb_tar_free(t);
    ocb_errno(err, ENOMEM, "tar");
    return NULL;
  }
  t->out = out, t->ud = ud;
  /* Unblocked output: the stream ends right after the two zero blocks. */
  if (archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(t->a, 0) != ARCHIVE_OK ||
      archive_write_open2(t->a, t, NULL, write_cb, NULL, NULL) != ARCHIVE_OK) {
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
  if (t->a) archive_write_free(t->a);
  if (t->e) archive_entry_free(t->e);
  for (i = 0; i < t->linkcap; i++) free(t->links[i].name);
  free(t->links);
  free(t->buf);
  free(t->name);
  free(t);
}

int ocb_tar_finish(ocb_tar *t, ocb_err *err) {
  what_t w = {"end of archive", NULL, NULL, ""};
  if (archive_write_close(t->a) != ARCHIVE_OK) return arch_fail(t, &w, err);
  return 0;
}

/* The first name recorded for (dev, ino), or NULL after recording name. */
static const char *link_seen(ocb_tar *t, dev_t dev, ino_t ino, const char *name, ocb_err *err,
                             int *fail) {
  size_t i, h;
  *fail = 0;
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
  h = ((size_t)ino * 0x9e3779b97f4a7c15u ^ (size_t)dev) & (t->linkcap - 1);
  while (t->links[h].name) {
    if (t->links[h].dev == dev && t->links[h].ino == ino) return t->links[h].name;
    h = (h + 1) & (t->linkcap - 1);
  }
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

static int write_header(ocb_tar *t, what_t *what, ocb_err *err) {
  int r = archive_write_header(t->a, t->e);
  /* A warning here means a name could not be written as UTF-8. */
  if (r != ARCHIVE_OK) return arch_fail(t, what, err);
  return 0;
}

int ocb_tar_add_dir(ocb_tar *t, const char *name, unsigned mode, int64_t mtime, uint32_t uid,
                    uint32_t gid, ocb_err *err) {
  archive_entry_clear(t->e);
  archive_entry_copy_pathname(t->e, name);
  archive_entry_set_filetype(t->e, AE_IFDIR);
  archive_entry_set_perm(t->e, mode & 07777);
  archive_entry_set_mtime(t->e, mtime, 0);
  archive_entry_set_uid(t->e, uid);
  archive_entry_set_gid(t->e, gid);
  {
    what_t w = {name, NULL, NULL, ""};
    return write_header(t, &w, err);
  }
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
 * one more than is left, so growth costs no extra call), or another
 * identity, size, mtime or ctime at the end than st records. */
static int copy_body(ocb_tar *t, int fd, const struct stat *st, what_t *what, ocb_err *err) {
  int64_t left = st->st_size;
  for (;;) {
    size_t want = left < READ_CHUNK ? (size_t)left + 1 : READ_CHUNK;
    ssize_t n = read(fd, t->buf, want);
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (changed(fd, st)) break; /* swapped for a FIFO or a directory */
      return ocb_errno(err, e, W(what));
    }
    if (n == 0 || n > left) {
      if (n > left) left = -1; /* it grew */
      break;
    }
    if (archive_write_data(t->a, t->buf, (size_t)n) != n) return arch_fail(t, what, err);
    left -= n;
  }
  if (left != 0 || changed(fd, st))
    return ocb_errf(err, "CHANGED", "CHANGED: file changed as we read it: %s", W(what));
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
  m = st->st_mtim.tv_sec < 0 ? 0 : (int64_t)st->st_mtim.tv_sec;
  return p->clamp && m > p->mtime ? p->mtime : m;
}

/* Checks the name, then fills the parts of the header common to all types. */
static int begin_entry(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e,
                       const struct stat *st, what_t *what, ocb_err *err) {
  if (!ocb_utf8_valid(e->path, e->pathlen))
    return ocb_errf(err, "BADNAME", "BADNAME: file name is not valid UTF-8: %s", W(what));
  if (strncmp(e->name, ".wh.", 4) == 0)
    return ocb_errf(err, "WHITEOUT",
                    "WHITEOUT: name starts with .wh. and would be read as a whiteout: %s", W(what));
  if (set_name(t, p->prefix, e->path, e->pathlen, S_ISDIR(st->st_mode), err) < 0) return -1;
  if (strlen(t->name) > 4095)
    return ocb_errf(err, "ENAMETOOLONG", "ENAMETOOLONG: path longer than 4095 bytes: %s", W(what));
  archive_entry_clear(t->e);
  archive_entry_copy_pathname(t->e, t->name);
  archive_entry_set_perm(t->e, perm_of(p, st->st_mode));
  archive_entry_set_mtime(t->e, mtime_of(p, st), 0);
  archive_entry_set_uid(t->e, p->keep_owner ? st->st_uid : p->uid);
  archive_entry_set_gid(t->e, p->keep_owner ? st->st_gid : p->gid);
  return 0;
}

static int add_symlink(ocb_tar *t, const ocb_entry *e, what_t *what, ocb_err *err) {
  size_t cap = (size_t)e->st->st_size + 2;
  char *target = malloc(cap);
  ssize_t n;
  int r = 0;
  if (!target) return ocb_errno(err, ENOMEM, W(what));
  n = readlinkat(e->dirfd, e->name, target, cap);
  if (n < 0)
    r = ocb_errno(err, errno, W(what));
  else if ((size_t)n >= cap - 1)
    r = ocb_errf(err, "CHANGED", "CHANGED: symlink changed as we read it: %s", W(what));
  else if (!ocb_utf8_valid(target, (size_t)n))
    r = ocb_errf(err, "BADNAME", "BADNAME: symlink target is not valid UTF-8: %s", W(what));
  if (r == 0) {
    target[n] = '\0';
    archive_entry_set_filetype(t->e, AE_IFLNK);
    archive_entry_copy_symlink(t->e, target);
    r = write_header(t, what, err);
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
      archive_entry_set_filetype(t->e, AE_IFREG);
      archive_entry_copy_hardlink(t->e, first);
      archive_entry_set_size(t->e, 0);
      return write_header(t, what, err);
    }
  }
  /* O_NONBLOCK: a file swapped for a FIFO must not hang the build. */
  fd = openat(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP)
      return ocb_errf(err, "CHANGED", "CHANGED: file changed as we read it: %s", W(what));
    return ocb_errno(err, errno, W(what));
  }
  /* The header takes the size the walk saw; copy_body then checks that fd is
   * that same file, unchanged, once its bytes are read. */
  archive_entry_set_filetype(t->e, AE_IFREG);
  archive_entry_set_size(t->e, e->st->st_size);
  r = write_header(t, what, err);
  if (r == 0) r = copy_body(t, fd, e->st, what, err);
  close(fd);
  return r;
}

int ocb_tar_add_walked(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e, ocb_err *err) {
  what_t w;
  what_t *what = &w;
  mode_t m = e->st->st_mode;
  w.fixed = NULL, w.display = p->display, w.e = e, w.buf[0] = '\0';
  if (S_ISSOCK(m)) return 1;
  if (S_ISCHR(m) || S_ISBLK(m))
    return ocb_errf(err, "DEVICE", "DEVICE: device files cannot go into a layer: %s", W(what));
  if (begin_entry(t, p, e, e->st, what, err) < 0) return -1;
  if (S_ISDIR(m)) {
    archive_entry_set_filetype(t->e, AE_IFDIR);
    return write_header(t, what, err);
  }
  if (S_ISLNK(m)) return add_symlink(t, e, what, err);
  if (S_ISFIFO(m)) {
    archive_entry_set_filetype(t->e, AE_IFIFO);
    return write_header(t, what, err);
  }
  if (S_ISREG(m)) return add_file(t, e, what, err);
  return ocb_errf(err, "BADTYPE", "BADTYPE: unsupported file type: %s", W(what));
}

/*
 * Lua: core.tar_writer(path) -> writer, for archives assembled from Lua
 * (OCI archive export) and for tests. The tar goes to a temp file beside
 * path and replaces path on close. writer:add(kind, name, mode, mtime, uid,
 * gid [, arg]) with kind "dir", "data" (arg: bytes), "file" (arg: source
 * path), "symlink"/"hardlink" (arg: target) or "fifo".
 * writer:close() -> size, digest of the tar.
 */
#define TARW_T "ocibuild.TarWriter"

typedef struct {
  ocb_tar *t;
  ocb_afile f;
  ocb_sha256 *h;
  uint64_t size;
  char *dst;
} LTar;

static int tarw_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  LTar *lt = ud;
  ocb_sha256_update(lt->h, buf, len);
  lt->size += len;
  return ocb_afile_write(&lt->f, buf, len, err);
}

static void tarw_release(LTar *lt) {
  ocb_tar_free(lt->t);
  lt->t = NULL;
  ocb_afile_abort(&lt->f);
  ocb_sha256_free(lt->h);
  lt->h = NULL;
  free(lt->dst);
  lt->dst = NULL;
}

static int l_tar_writer(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *slash = strrchr(path, '/');
  LTar *lt = lua_newuserdatauv(L, sizeof *lt, 0);
  char dir[4096];
  ocb_err err;
  memset(lt, 0, sizeof *lt);
  lt->f.fd = -1;
  luaL_setmetatable(L, TARW_T);
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  if (!(lt->dst = strdup(path)) || !(lt->h = ocb_sha256_new())) {
    ocb_errno(&err, ENOMEM, path);
    tarw_release(lt);
    return ocb_pushfail(L, &err);
  }
  if (ocb_afile_open(&lt->f, dir, ".ocibuild-tmp-", &err) < 0 ||
      !(lt->t = ocb_tar_new(tarw_out, lt, &err))) {
    tarw_release(lt);
    return ocb_pushfail(L, &err);
  }
  return 1;
}

static LTar *check_tarw(lua_State *L) {
  LTar *lt = luaL_checkudata(L, 1, TARW_T);
  luaL_argcheck(L, lt->t != NULL, 1, "tar writer closed");
  return lt;
}

static int add_source(ocb_tar *t, const char *src, ocb_err *err) {
  struct stat st;
  int fd = open(src, O_RDONLY | O_CLOEXEC), r;
  if (fd < 0) return ocb_errno(err, errno, src);
  if (fstat(fd, &st) < 0)
    r = ocb_errno(err, errno, src);
  else if (!S_ISREG(st.st_mode))
    r = ocb_errf(err, "BADTYPE", "BADTYPE: not a regular file: %s", src);
  else {
    what_t w = {src, NULL, NULL, ""};
    archive_entry_set_filetype(t->e, AE_IFREG);
    archive_entry_set_size(t->e, st.st_size);
    r = write_header(t, &w, err);
    if (r == 0) r = copy_body(t, fd, &st, &w, err);
  }
  close(fd);
  return r;
}

static int tw_add(lua_State *L) {
  static const char *const kinds[] = {"dir", "data", "file", "symlink", "hardlink", "fifo", NULL};
  LTar *lt = check_tarw(L);
  int kind = luaL_checkoption(L, 2, NULL, kinds);
  const char *name = luaL_checkstring(L, 3);
  lua_Integer mode = luaL_checkinteger(L, 4), mtime = luaL_checkinteger(L, 5);
  lua_Integer uid = luaL_checkinteger(L, 6), gid = luaL_checkinteger(L, 7);
  size_t alen = 0;
  const char *arg = kind == 0 || kind == 5 ? NULL : luaL_checklstring(L, 8, &alen);
  ocb_tar *t = lt->t;
  what_t w = {name, NULL, NULL, ""};
  ocb_err err;
  int r = 0;
  luaL_argcheck(L, *name && *name != '/', 3, "relative name expected");
  archive_entry_clear(t->e);
  archive_entry_copy_pathname(t->e, name);
  archive_entry_set_perm(t->e, (mode_t)mode & 07777);
  archive_entry_set_mtime(t->e, mtime, 0);
  archive_entry_set_uid(t->e, uid);
  archive_entry_set_gid(t->e, gid);
  switch (kind) {
  case 0:
    archive_entry_set_filetype(t->e, AE_IFDIR);
    r = write_header(t, &w, &err);
    break;
  case 1:
    archive_entry_set_filetype(t->e, AE_IFREG);
    archive_entry_set_size(t->e, (la_int64_t)alen);
    r = write_header(t, &w, &err);
    if (r == 0 && alen && archive_write_data(t->a, arg, alen) != (la_ssize_t)alen)
      r = arch_fail(t, &w, &err);
    break;
  case 2: r = add_source(t, arg, &err); break;
  case 3:
    archive_entry_set_filetype(t->e, AE_IFLNK);
    archive_entry_copy_symlink(t->e, arg);
    r = write_header(t, &w, &err);
    break;
  case 4:
    archive_entry_set_filetype(t->e, AE_IFREG);
    archive_entry_copy_hardlink(t->e, arg);
    archive_entry_set_size(t->e, 0);
    r = write_header(t, &w, &err);
    break;
  default:
    archive_entry_set_filetype(t->e, AE_IFIFO);
    r = write_header(t, &w, &err);
    break;
  }
  if (r < 0) return ocb_pushfail(L, &err);
  lua_settop(L, 1);
  return 1;
}

static int tw_close(lua_State *L) {
  LTar *lt = check_tarw(L);
  char digest[72];
  ocb_err err;
  if (ocb_tar_finish(lt->t, &err) < 0 || ocb_afile_commit(&lt->f, lt->dst, &err) < 0) {
    tarw_release(lt);
    return ocb_pushfail(L, &err);
  }
  ocb_sha256_final(lt->h, digest);
  lua_pushinteger(L, (lua_Integer)lt->size);
  lua_pushstring(L, digest);
  tarw_release(lt);
  return 2;
}

static int tw_gc(lua_State *L) {
  tarw_release(luaL_checkudata(L, 1, TARW_T));
  return 0;
}

void ocb_open_tar(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"abort", tw_gc}, {"add", tw_add}, {"close", tw_close}, {NULL, NULL}};
  ocb_createmeta(L, TARW_T, methods, tw_gc);
  lua_pushcfunction(L, l_tar_writer);
  lua_setfield(L, -2, "tar_writer");
}
