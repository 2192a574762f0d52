/*
 * tmpdir.c: temp folders that a sweep can tell from abandoned ones, as
 * afile.c's temp files: a folder is made in a temp folder and flock'ed for
 * as long as its maker uses it (the flock dies with the process, however
 * it ends), and a sweep removes a folder whose flock is free, whole. The
 * removal never follows a symlink and stops at a bounded depth.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocb.h"

#define MAX_DEPTH 64

/* Removes (or with out->dry counts) what the folder fd holds, then
 * closes fd. 0, or -1 when something stayed. */
static int clear(int fd, int depth, ocb_swept *out) {
  DIR *d = fdopendir(fd);
  struct dirent *de;
  int rc = 0;
  if (!d) {
    close(fd);
    return -1;
  }
  while ((de = readdir(d))) {
    struct stat st;
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      rc = -1;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      int sub = depth < MAX_DEPTH
                    ? openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : -1;
      if (sub < 0 || clear(sub, depth + 1, out) < 0 ||
          (!(out && out->dry) && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0))
        rc = -1;
      continue;
    }
    if (out && out->dry) {
      out->files++, out->bytes += (uint64_t)st.st_size;
    } else if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
      if (out) out->files++, out->bytes += (uint64_t)st.st_size;
    } else {
      rc = -1;
    }
  }
  closedir(d);
  return rc;
}

int ocb_tmpdir_remove(int at, const char *name, ocb_swept *out) {
  int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || clear(fd, 0, out) < 0) return -1;
  if (out && out->dry) return 0;
  return unlinkat(at, name, AT_REMOVEDIR);
}

int ocb_tmpdir_make(const char *tmpdir, const char *prefix, char **path, ocb_err *err) {
  size_t n = strlen(tmpdir) + strlen(prefix) + 8;
  int fd;
  (void)ocb_afile_sweep(tmpdir, prefix, NULL, err);
  if (!(*path = malloc(n))) return ocb_errno(err, ENOMEM, tmpdir);
  snprintf(*path, n, "%s/%sXXXXXX", tmpdir, prefix);
  fd = ocb_afile_locked(tmpdir, *path);
  if (fd < 0) {
    int e = errno;
    free(*path);
    *path = NULL;
    return ocb_errno(err, e, tmpdir);
  }
  return fd;
}
