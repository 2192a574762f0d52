/*
 * store.c: the file-system side of an OCI image layout: its folders and
 * file names, atomic replacement of index.json and oci-layout, flocks on
 * separate, stable lock files (never index.json, whose inode a rename
 * swaps), and removal of temp files nobody holds any more.
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

#include "store.h"

static const char *const NAMES[] = {
    [OCB_F_INDEX] = "index.json",        [OCB_F_LAYOUT] = "oci-layout",
    [OCB_F_LOCK] = ".ocibuild.lock",     [OCB_F_GCLOCK] = ".ocibuild-gc.lock",
    [OCB_F_TMP] = ".ocibuild-tmp",       [OCB_F_REUSE] = ".ocibuild/reuse",
    [OCB_F_LAYERS] = ".ocibuild/layers", [OCB_F_BLOBS] = "blobs/sha256",
    [OCB_F_NOTES] = ".ocibuild/notes",
};

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

char *ocb_store_path(const ocb_store *s, int role) {
  return join(s->dir, NAMES[role]);
}

char *ocb_store_blob_path(const ocb_store *s, const char *digest, size_t len, ocb_err *err) {
  char q[200], rel[96], *p;
  if (!ocb_digest_valid(digest, len)) {
    ocb_quote(q, sizeof q, digest, len);
    ocb_errf(err, "BADDIGEST", "not a sha256 digest: %s", q);
    return NULL;
  }
  snprintf(rel, sizeof rel, "blobs/sha256/%s", digest + 7);
  if (!(p = join(s->dir, rel))) ocb_errno(err, ENOMEM, s->dir);
  return p;
}

static int make(const ocb_store *s, int role, ocb_err *err) {
  char *p = ocb_store_path(s, role);
  int r;
  if (!p) return ocb_errno(err, ENOMEM, s->dir);
  r = ocb_mkdirs(p, 0755, err);
  free(p);
  return r;
}

int ocb_store_open(ocb_store *s, const char *dir, int create, ocb_err *err) {
  struct stat st;
  s->dir = NULL;
  if (create) {
    if (ocb_mkdirs(dir, 0755, err) < 0) return -1;
  } else if (stat(dir, &st) < 0) {
    return ocb_errno(err, errno, dir);
  } else if (!S_ISDIR(st.st_mode)) {
    return ocb_errno(err, ENOTDIR, dir);
  }
  if (!(s->dir = strdup(dir))) return ocb_errno(err, ENOMEM, dir);
  if (create && (make(s, OCB_F_BLOBS, err) < 0 || make(s, OCB_F_TMP, err) < 0)) {
    ocb_store_close(s);
    return -1;
  }
  return 0;
}

void ocb_store_close(ocb_store *s) {
  free(s->dir);
  s->dir = NULL;
}

int ocb_store_replace(const ocb_store *s, int role, const void *data, size_t len, ocb_err *err) {
  char *tmp = ocb_store_path(s, OCB_F_TMP), *dst = ocb_store_path(s, role);
  ocb_afile f;
  int r = -1;
  if (!tmp || !dst)
    ocb_errno(err, ENOMEM, s->dir);
  else if (ocb_afile_open(&f, tmp, "file-", err) == 0) {
    if (ocb_afile_write(&f, data, len, err) < 0)
      ocb_afile_abort(&f);
    else
      r = ocb_afile_commit(&f, dst, err);
  }
  free(tmp);
  free(dst);
  return r;
}

int ocb_store_lock(const ocb_store *s, int role, int shared, ocb_err *err) {
  char *p = ocb_store_path(s, role);
  int fd;
  if (!p) return ocb_errno(err, ENOMEM, s->dir);
  fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    ocb_errno(err, errno, p);
    free(p);
    return -1;
  }
  while (flock(fd, shared ? LOCK_SH : LOCK_EX) < 0) {
    int e = errno;
    if (e == EINTR) continue;
    ocb_errno(err, e, p);
    close(fd);
    fd = -1;
    break;
  }
  free(p);
  return fd;
}

int ocb_store_gc_temps(const ocb_store *s, int dry, uint64_t *removed, uint64_t *bytes,
                       ocb_err *err) {
  char *dir = ocb_store_path(s, OCB_F_TMP);
  ocb_swept out = {dry, 0, 0};
  int rc;
  if (!dir) return ocb_errno(err, ENOMEM, s->dir);
  rc = ocb_afile_sweep(dir, "", &out, err);
  *removed = out.files, *bytes = out.bytes;
  free(dir);
  return rc;
}

int ocb_sweep(int at, const char *dir, ocb_sweep_fn fn, void *ud, uint64_t *removed, ocb_err *err) {
  int fd = openat(at, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct dirent *de;
  DIR *d;
  int rc = 0;
  if (fd < 0) return errno == ENOENT ? 0 : ocb_errno(err, errno, dir);
  if (!(d = fdopendir(fd))) {
    rc = ocb_errno(err, errno, dir);
    close(fd);
    return rc;
  }
  for (;;) {
    int r;
    errno = 0;
    if (!(de = readdir(d))) break;
    if (de->d_name[0] == '.') continue;
    if ((r = fn(ud, dirfd(d), de->d_name, err)) < 0) {
      rc = -1;
      break;
    }
    if (r == 1 && unlinkat(dirfd(d), de->d_name, 0) == 0) ++*removed;
  }
  if (rc == 0 && errno) rc = ocb_errno(err, errno, dir);
  closedir(d);
  return rc;
}

int ocb_store_sweep(const ocb_store *s, int role, ocb_sweep_fn fn, void *ud, uint64_t *removed,
                    ocb_err *err) {
  char *dir = ocb_store_path(s, role);
  int rc;
  if (!dir) return ocb_errno(err, ENOMEM, s->dir);
  rc = ocb_sweep(AT_FDCWD, dir, fn, ud, removed, err);
  free(dir);
  return rc;
}
