/*
 * afile.c: files that appear whole or not at all. A temp file is created
 * in a given folder and flock'ed while it is written (so a later sweep can
 * tell an abandoned temp from one in use), then published by fsync, rename
 * and an fsync of the folder, or removed; every temp file the process has
 * open is also known to a signal handler that removes them on SIGINT,
 * SIGTERM and the like; and folders made with their parents.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ocb.h"

/*
 * The registry of this process's temp files. This is global state, against
 * the rule, because nothing else can work: a signal handler gets no
 * context, and the temps of every open writer (in whatever Lua state or
 * thread) must be removed when the process is told to stop. It holds only
 * paths (of files, and of folders a build fills, ocb_adir_open's); the
 * handler only reads it and calls async-signal-safe functions (unlink, and
 * for a folder open, getdents64, unlinkat, rmdir). Changes happen with the
 * handled signals blocked in the changing thread and `busy` set, which a
 * handler running on another thread waits out.
 */
typedef struct reg {
  char *path;
  int dir; /* a folder, removed with all it holds */
  struct reg *prev, *next;
} reg;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static reg *reg_head;
static volatile sig_atomic_t reg_busy;
static const int SIGNALS[] = {SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGXFSZ};
#define NSIGNALS (sizeof SIGNALS / sizeof *SIGNALS)

static void reg_lock(sigset_t *old) {
  sigset_t set;
  size_t i;
  sigemptyset(&set);
  for (i = 0; i < NSIGNALS; i++) sigaddset(&set, SIGNALS[i]);
  pthread_sigmask(SIG_BLOCK, &set, old);
  pthread_mutex_lock(&reg_mu);
  __atomic_store_n(&reg_busy, 1, __ATOMIC_SEQ_CST);
}

static void reg_unlock(sigset_t *old) {
  __atomic_store_n(&reg_busy, 0, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&reg_mu);
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void reg_insert(reg *r) {
  sigset_t old;
  r->prev = NULL;
  reg_lock(&old);
  r->next = reg_head;
  if (reg_head) reg_head->prev = r;
  reg_head = r;
  reg_unlock(&old);
}

static void reg_unlink(reg *r) {
  sigset_t old;
  reg_lock(&old);
  if (r->prev)
    r->prev->next = r->next;
  else
    reg_head = r->next;
  if (r->next) r->next->prev = r->prev;
  reg_unlock(&old);
}

static void reg_add(ocb_afile *f) {
  reg *r = malloc(sizeof *r);
  f->reg = r;
  if (!r) return; /* not removed on a signal: a later sweep finds it */
  r->path = f->tmp, r->dir = 0;
  reg_insert(r);
}

static void reg_remove(ocb_afile *f) {
  reg *r = f->reg;
  if (!r) return;
  reg_unlink(r);
  free(r);
  f->reg = NULL;
}

/* What a signal handler uses to remove a folder: no allocation, no
 * recursion; the path of the folder being emptied grows and shrinks in
 * place. A folder it cannot empty is left (to the next sweep). */
static char sig_path[4352];
static char sig_ents[4096];

static void sig_rmtree(const char *top) {
  size_t base = strlen(top);
  if (base >= sizeof sig_path) return;
  memcpy(sig_path, top, base + 1);
  for (;;) {
    int fd = open(sig_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), down = 0;
    long n;
    if (fd < 0) return;
    (void)fchmod(fd, 0700); /* a read-only folder of an archive still gives its entries up */
    while (!down && (n = syscall(SYS_getdents64, fd, sig_ents, sizeof sig_ents)) > 0) {
      long off = 0;
      while (off < n) {
        const char *name = sig_ents + off + 19; /* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
        size_t len = strlen(sig_path), nl = strlen(name);
        unsigned short reclen;
        memcpy(&reclen, sig_ents + off + 16, sizeof reclen);
        off += reclen;
        if (!strcmp(name, ".") || !strcmp(name, "..") || unlinkat(fd, name, 0) == 0) continue;
        if (errno != EISDIR || unlinkat(fd, name, AT_REMOVEDIR) == 0) continue;
        if (len + 1 + nl >= sizeof sig_path) continue; /* too deep: left */
        sig_path[len] = '/';
        memcpy(sig_path + len + 1, name, nl + 1);
        down = 1;
        break;
      }
    }
    close(fd);
    if (down) continue;
    if (rmdir(sig_path) < 0 || strlen(sig_path) <= base) return;
    *strrchr(sig_path, '/') = '\0';
  }
}

void ocb_temps_remove(void) {
  const reg *r;
  while (__atomic_load_n(&reg_busy, __ATOMIC_SEQ_CST)) continue;
  for (r = __atomic_load_n(&reg_head, __ATOMIC_SEQ_CST); r; r = r->next) {
    if (r->dir)
      sig_rmtree(r->path);
    else
      unlink(r->path);
  }
}

static void on_signal(int sig) {
  int e = errno;
  ocb_temps_remove();
  signal(sig, SIG_DFL);
  errno = e;
  raise(sig);
}

void ocb_signals_install(int only_default) {
  size_t i;
  for (i = 0; i < NSIGNALS; i++) {
    struct sigaction sa, old;
    if (sigaction(SIGNALS[i], NULL, &old) < 0 || old.sa_handler == SIG_IGN ||
        old.sa_handler == on_signal || (only_default && old.sa_handler != SIG_DFL))
      continue;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGNALS[i], &sa, NULL);
  }
}

/* Takes the folder's lock: shared while a temp is created and locked,
 * exclusive (and only if free at once) while a sweep looks for abandoned
 * temps, so that a sweep never takes a temp that is not locked yet for an
 * abandoned one. Returns the folder's descriptor, or -1. */
static int dir_lock(const char *dir, int exclusive) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  while (flock(fd, exclusive ? LOCK_EX | LOCK_NB : LOCK_SH) < 0) {
    if (errno == EINTR) continue;
    close(fd);
    return -1;
  }
  return fd;
}

/* Removes (dry: only counts) name in at and all it holds, links never
 * followed, counting its files and their bytes. */
static int tree(int at, const char *name, int dry, uint64_t *files, uint64_t *bytes) {
  struct stat st;
  struct dirent *de;
  DIR *d;
  int fd, e = 0;
  if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    if (!dry && unlinkat(at, name, 0) < 0) return -1;
    *files += 1, *bytes += (uint64_t)st.st_size;
    return 0;
  }
  if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) return -1;
  if (!dry)
    (void)fchmod(fd, 0700); /* a read-only folder of an archive still gives its entries up */
  if (!(d = fdopendir(fd))) {
    e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
        tree(dirfd(d), de->d_name, dry, files, bytes) < 0 && !e)
      e = errno;
  closedir(d);
  if (!dry && unlinkat(at, name, AT_REMOVEDIR) < 0) return -1;
  errno = e;
  return e ? -1 : 0;
}

int ocb_rmtree(int at, const char *name, uint64_t *files, uint64_t *bytes) {
  return tree(at, name, 0, files, bytes);
}

/* Registers the folder path (ocb_adir_open's), for a signal to remove. */
static void adir_add(const char *path) {
  reg *r = malloc(sizeof *r);
  if (!r) return;
  if (!(r->path = strdup(path))) {
    free(r);
    return;
  }
  r->dir = 1;
  reg_insert(r);
}

int ocb_adir_open(const char *tmpdir, const char *prefix, char **path, ocb_err *err) {
  size_t n = strlen(tmpdir) + strlen(prefix) + 8;
  int lock, fd = -1, e = 0;
  ocb_err scratch;
  (void)ocb_afile_sweep(tmpdir, prefix, NULL, &scratch);
  if (!(*path = malloc(n))) return ocb_errno(err, ENOMEM, tmpdir);
  snprintf(*path, n, "%s/%sXXXXXX", tmpdir, prefix);
  /* made and locked under the folder's shared lock: no sweep sees it unlocked */
  lock = dir_lock(tmpdir, 0);
  if (!mkdtemp(*path) || (fd = open(*path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
      flock(fd, LOCK_EX | LOCK_NB) < 0)
    e = errno;
  if (lock >= 0) close(lock);
  if (e) {
    if (fd >= 0) close(fd);
    ocb_errno(err, e, tmpdir);
    free(*path);
    *path = NULL;
    return -1;
  }
  adir_add(*path);
  return fd;
}

void ocb_adir_done(const char *path) {
  reg *r;
  sigset_t old;
  reg_lock(&old);
  for (r = reg_head; r && !(r->dir && !strcmp(r->path, path)); r = r->next) continue;
  reg_unlock(&old);
  if (!r) return;
  reg_unlink(r);
  free(r->path);
  free(r);
}

int ocb_afile_sweep(const char *dir, const char *prefix, ocb_swept *out, ocb_err *err) {
  size_t plen = strlen(prefix);
  struct dirent *de;
  DIR *d;
  int lock = dir_lock(dir, 1), rc = 0;
  if (out) out->files = out->bytes = 0;
  if (lock < 0) return errno == ENOENT || errno == EWOULDBLOCK ? 0 : ocb_errno(err, errno, dir);
  if (!(d = fdopendir(lock))) {
    rc = ocb_errno(err, errno, dir);
    close(lock);
    return rc;
  }
  for (;;) {
    struct stat st;
    int fd;
    errno = 0;
    if (!(de = readdir(d))) break;
    if (de->d_name[0] == '.' && !plen) continue;
    if (strncmp(de->d_name, prefix, plen) != 0 || !strcmp(de->d_name, ".") ||
        !strcmp(de->d_name, ".."))
      continue;
    fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) continue;
    /* A writer holds its temp file's flock until it publishes or drops
     * it; a temp folder (ocb_adir_open) goes with all it holds. */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0) {
      uint64_t files = 0, bytes = 0;
      if (S_ISDIR(st.st_mode)) {
        /* one temp, the folder, of the bytes it holds */
        (void)tree(dirfd(d), de->d_name, out && out->dry, &files, &bytes);
        files = 1;
      } else if ((out && out->dry) || unlinkat(dirfd(d), de->d_name, 0) == 0) {
        files = 1, bytes = (uint64_t)st.st_size;
      }
      if (out) out->files += files, out->bytes += bytes;
    }
    close(fd);
  }
  if (errno) rc = ocb_errno(err, errno, dir);
  closedir(d); /* closes lock too, which frees the folder's flock */
  return rc;
}

/* Creates and locks the temp file. */
static int create(ocb_afile *f, const char *tmpdir, const char *prefix, ocb_err *err) {
  size_t n = strlen(tmpdir) + strlen(prefix) + 8;
  f->fd = -1;
  f->written = f->started = 0;
  if (!(f->tmp = malloc(n))) return ocb_errno(err, ENOMEM, tmpdir);
  snprintf(f->tmp, n, "%s/%sXXXXXX", tmpdir, prefix);
  if ((f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0) {
    int e = errno;
    free(f->tmp);
    f->tmp = NULL;
    return ocb_errno(err, e, tmpdir);
  }
  {
    /* mkostemp makes 0600 files; published files get the usual 0666 & ~umask. */
    mode_t mask = umask(022);
    umask(mask);
    if (fchmod(f->fd, 0666 & ~mask) < 0) {
      int e = errno;
      ocb_afile_abort(f);
      return ocb_errno(err, e, tmpdir);
    }
  }
  if (flock(f->fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    ocb_afile_abort(f);
    return ocb_errno(err, e, tmpdir);
  }
  return 0;
}

int ocb_afile_open(ocb_afile *f, const char *tmpdir, const char *prefix, ocb_err *err) {
  int lock, r;
  f->fd = -1, f->tmp = NULL, f->reg = NULL;
  /* Abandoned temps of killed processes go first (best effort). */
  (void)ocb_afile_sweep(tmpdir, prefix, NULL, err);
  lock = dir_lock(tmpdir, 0);
  r = create(f, tmpdir, prefix, err);
  if (lock >= 0) close(lock);
  if (r == 0) reg_add(f);
  return r;
}

/* Writeback starts every WRITEBACK bytes, so that the final fsync of a big
 * blob waits for little more than its last stretch. */
#define WRITEBACK (8u << 20)

int ocb_afile_write(ocb_afile *f, const void *buf, size_t len, ocb_err *err) {
  const char *p = buf;
  while (len) {
    ssize_t w = write(f->fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ocb_errno(err, errno, f->tmp);
    }
    p += w, len -= (size_t)w;
    f->written += (uint64_t)w;
  }
  if (f->written - f->started >= WRITEBACK) {
    /* Only a hint: a file system without it is synced by fsync all the same. */
    (void)sync_file_range(f->fd, (off_t)f->started, (off_t)(f->written - f->started),
                          SYNC_FILE_RANGE_WRITE);
    f->started = f->written;
  }
  return 0;
}

int ocb_afile_pwrite(ocb_afile *f, const void *buf, size_t len, uint64_t at, ocb_err *err) {
  const char *p = buf;
  uint64_t from = at;
  while (len) {
    ssize_t w = pwrite(f->fd, p, len, (off_t)at);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return ocb_errno(err, w < 0 ? errno : EIO, f->tmp);
    p += w, len -= (size_t)w, at += (uint64_t)w;
  }
  if (at / WRITEBACK != from / WRITEBACK) {
    uint64_t end = at / WRITEBACK * WRITEBACK;
    (void)sync_file_range(f->fd, (off_t)(end - WRITEBACK), (off_t)WRITEBACK, SYNC_FILE_RANGE_WRITE);
  }
  return 0;
}

int ocb_fsync_parent(const char *path, ocb_err *err) {
  char *copy = strdup(path);
  int fd, rc = 0;
  if (!copy) return ocb_errno(err, ENOMEM, path);
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) < 0) rc = ocb_errno(err, errno, path);
  if (fd >= 0) close(fd);
  free(copy);
  return rc;
}

int ocb_afile_commit(ocb_afile *f, const char *dst, ocb_err *err) {
  if (fsync(f->fd) < 0) {
    ocb_errno(err, errno, f->tmp);
    ocb_afile_abort(f);
    return -1;
  }
  if (rename(f->tmp, dst) < 0) {
    ocb_errno(err, errno, dst);
    ocb_afile_abort(f);
    return -1;
  }
  reg_remove(f);
  free(f->tmp);
  f->tmp = NULL;
  close(f->fd);
  f->fd = -1;
  return ocb_fsync_parent(dst, err);
}

void ocb_afile_abort(ocb_afile *f) {
  if (f->tmp) {
    unlink(f->tmp);
    reg_remove(f);
    free(f->tmp);
    f->tmp = NULL;
  }
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
}

int ocb_mkdirs(const char *path, mode_t mode, ocb_err *err) {
  char buf[4096];
  size_t i, n = strlen(path);
  if (n == 0) return ocb_errno(err, ENOENT, path);
  if (n >= sizeof buf) return ocb_errno(err, ENAMETOOLONG, path);
  memcpy(buf, path, n + 1);
  for (i = 1; i <= n; i++) {
    char c = buf[i];
    struct stat st;
    if (c != '/' && c != '\0') continue;
    buf[i] = '\0';
    if (mkdir(buf, mode) < 0) {
      int e = errno;
      if (e != EEXIST || stat(buf, &st) < 0) return ocb_errno(err, e, buf);
      if (!S_ISDIR(st.st_mode)) return ocb_errno(err, ENOTDIR, buf);
    }
    buf[i] = c;
  }
  return 0;
}
