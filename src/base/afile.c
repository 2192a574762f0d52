/*
 * afile.c: files that appear whole or not at all. A temp file is created
 * in a given folder and flock'ed while it is written (so `gc` can tell an
 * abandoned temp from one in use), then published by fsync, rename and an
 * fsync of the folder, or removed; and folders made with their parents.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocb.h"

int ocb_afile_open(ocb_afile *f, const char *tmpdir, const char *prefix, ocb_err *err) {
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
  free(f->tmp);
  f->tmp = NULL;
  close(f->fd);
  f->fd = -1;
  return ocb_fsync_parent(dst, err);
}

void ocb_afile_abort(ocb_afile *f) {
  if (f->tmp) {
    unlink(f->tmp);
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
