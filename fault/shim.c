/*
 * shim.c: a fault injector for the specs, loaded with LD_PRELOAD into a
 * process the spec runs. One fault, chosen by the environment:
 *   OCB_FAULT_OP     write | read | fsync | rename | mkostemp | fstatat
 *   OCB_FAULT_PATH   a part of the path the call is on (for write, read
 *                    and fsync: the descriptor's path) that selects it
 *   OCB_FAULT_DATA   write only: a part of the bytes the call writes
 *   OCB_FAULT_AFTER  write, read: bytes let through on selected calls
 *                    before the fault (the call reaching it does part);
 *                    other calls: selected calls let through before it
 *   OCB_FAULT_ERRNO  ENOSPC, EIO, EROFS, EDQUOT, EACCES (default EIO)
 * fstatat does not fail: it removes the entry first, as a file deleted
 * between a directory listing and a look at the file would be, at the
 * first look, fstatat or openat (the walk of a cold build opens a regular
 * file to look at it). Every fault after the first fails the same way (a
 * full disk stays full).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *op, *want_path, *want_data;
static long long after = 0, passed = 0;
static int err_no = EIO, ready, tripped;

static void setup(void) {
  const char *e;
  if (ready) return;
  ready = 1;
  op = getenv("OCB_FAULT_OP");
  want_path = getenv("OCB_FAULT_PATH");
  want_data = getenv("OCB_FAULT_DATA");
  if ((e = getenv("OCB_FAULT_AFTER"))) after = atoll(e);
  if ((e = getenv("OCB_FAULT_ERRNO"))) {
    if (!strcmp(e, "ENOSPC"))
      err_no = ENOSPC;
    else if (!strcmp(e, "EROFS"))
      err_no = EROFS;
    else if (!strcmp(e, "EDQUOT"))
      err_no = EDQUOT;
    else if (!strcmp(e, "EACCES"))
      err_no = EACCES;
  }
}

static int is(const char *name) {
  setup();
  return op && !strcmp(op, name);
}

static int path_matches(const char *path) {
  return !want_path || (path && strstr(path, want_path));
}

static int fd_matches(int fd) {
  char link[64], path[4096];
  ssize_t n;
  if (!want_path) return 1;
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return strstr(path, want_path) != NULL;
}

static int data_matches(const void *buf, size_t len) {
  return !want_data || memmem(buf, len, want_data, strlen(want_data)) != NULL;
}

/* For write and read: how many of len bytes may pass, or -1 to fail now. */
static long long allowance(size_t len) {
  long long left = after - passed;
  if (tripped || left <= 0) {
    tripped = 1;
    return -1;
  }
  if ((long long)len > left) {
    passed = after;
    return left;
  }
  passed += (long long)len;
  return (long long)len;
}

/* For the other calls: 1 when this selected call must fail. */
static int count_call(void) {
  if (tripped || passed >= after) return tripped = 1;
  passed++;
  return 0;
}

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

ssize_t write(int fd, const void *buf, size_t len) {
  ssize_t (*real)(int, const void *, size_t) = REAL("write", ssize_t(*)(int, const void *, size_t));
  if (is("write") && fd > 2 && fd_matches(fd) && data_matches(buf, len)) {
    long long n = allowance(len);
    if (n < 0) return errno = err_no, -1;
    return real(fd, buf, (size_t)n);
  }
  return real(fd, buf, len);
}

ssize_t read(int fd, void *buf, size_t len) {
  ssize_t (*real)(int, void *, size_t) = REAL("read", ssize_t(*)(int, void *, size_t));
  if (is("read") && fd > 2 && fd_matches(fd)) {
    long long n = allowance(len);
    if (n < 0) return errno = err_no, -1;
    return real(fd, buf, (size_t)n);
  }
  return real(fd, buf, len);
}

int fsync(int fd) {
  int (*real)(int) = REAL("fsync", int (*)(int));
  if (is("fsync") && fd_matches(fd) && count_call()) return errno = err_no, -1;
  return real(fd);
}

int rename(const char *from, const char *to) {
  int (*real)(const char *, const char *) = REAL("rename", int (*)(const char *, const char *));
  if (is("rename") && (path_matches(from) || path_matches(to)) && count_call())
    return errno = err_no, -1;
  return real(from, to);
}

int mkostemp(char *tmpl, int flags) {
  int (*real)(char *, int) = REAL("mkostemp", int (*)(char *, int));
  if (is("mkostemp") && path_matches(tmpl) && count_call()) return errno = err_no, -1;
  return real(tmpl, flags);
}

static void vanish(int dirfd, const char *name) {
  if (is("fstatat") && path_matches(name) && !tripped) {
    tripped = 1;
    unlinkat(dirfd, name, 0);
  }
}

int fstatat(int dirfd, const char *name, struct stat *st, int flags) {
  int (*real)(int, const char *, struct stat *, int) =
      REAL("fstatat", int (*)(int, const char *, struct stat *, int));
  vanish(dirfd, name);
  return real(dirfd, name, st, flags);
}

int fstatat64(int dirfd, const char *name, struct stat64 *st, int flags) {
  int (*real)(int, const char *, struct stat64 *, int) =
      REAL("fstatat64", int (*)(int, const char *, struct stat64 *, int));
  vanish(dirfd, name);
  return real(dirfd, name, st, flags);
}

/* openat and openat64: the entry removed first (see vanish), then the
 * real call, with the mode argument when the flags say there is one. */
#define OPEN_AT(sym)                                                                               \
  int sym(int dirfd, const char *name, int flags, ...) {                                           \
    int (*real)(int, const char *, int, ...) = REAL(#sym, int (*)(int, const char *, int, ...));   \
    mode_t mode = 0;                                                                               \
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {                                   \
      va_list ap;                                                                                  \
      va_start(ap, flags);                                                                         \
      mode = va_arg(ap, mode_t);                                                                   \
      va_end(ap);                                                                                  \
    }                                                                                              \
    vanish(dirfd, name);                                                                           \
    return real(dirfd, name, flags, mode);                                                         \
  }

OPEN_AT(openat)
OPEN_AT(openat64)
