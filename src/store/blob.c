/*
 * blob.c: content-addressed blobs of a store. A writer hashes what it is
 * given while writing it to a flock'ed temp file, then publishes it as
 * blobs/sha256/<hex>; readers check what they read against the digest.
 * Digests are validated before they become paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "store.h"

int ocb_blobw_open(ocb_blobw *b, const ocb_store *s, ocb_err *err) {
  char *tmpdir = ocb_store_path(s, OCB_F_TMP);
  int r;
  memset(b, 0, sizeof *b);
  b->f.fd = -1;
  if (!tmpdir || !(b->blobs = ocb_store_path(s, OCB_F_BLOBS)) || !(b->h = ocb_sha256_new())) {
    free(tmpdir);
    ocb_blobw_abort(b);
    return ocb_errno(err, ENOMEM, s->dir);
  }
  r = ocb_afile_open(&b->f, tmpdir, "blob-", err);
  free(tmpdir);
  if (r < 0) ocb_blobw_abort(b);
  return r;
}

void ocb_blobw_unhashed(ocb_blobw *b) {
  ocb_sha256_free(b->h);
  b->h = NULL;
}

int ocb_blobw_write(void *ud, const void *buf, size_t len, ocb_err *err) {
  ocb_blobw *b = ud;
  if (b->h) ocb_sha256_update(b->h, buf, len);
  b->size += len;
  return ocb_afile_write(&b->f, buf, len, err);
}

int ocb_blobw_skip(void *ud, uint64_t n, ocb_err *err) {
  ocb_blobw *b = ud;
  if (b->h) return ocb_errf(err, "EINVAL", "a hashing blob writer cannot leave holes");
  if (lseek(b->f.fd, (off_t)n, SEEK_CUR) < 0) return ocb_errno(err, errno, b->f.tmp);
  b->size += n, b->f.written += n;
  b->f.started = b->f.written; /* writeback starts past the hole, not in it */
  return 0;
}

int ocb_blobw_at(void *ud, const void *buf, size_t n, uint64_t at, ocb_err *err) {
  ocb_blobw *b = ud;
  return ocb_afile_pwrite(&b->f, buf, n, at, err);
}

/* n bytes of from at off, read and written. */
static int copy_through(ocb_blobw *b, int from, uint64_t off, uint64_t n, ocb_err *err) {
  char buf[8192];
  while (n) {
    ssize_t r = pread(from, buf, n < sizeof buf ? (size_t)n : sizeof buf, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return ocb_errno(err, r < 0 ? errno : EIO, b->f.tmp);
    if (ocb_afile_write(&b->f, buf, (size_t)r, err) < 0) return -1;
    off += (uint64_t)r, n -= (uint64_t)r;
  }
  return 0;
}

int ocb_blobw_copy(void *ud, int from, uint64_t off, uint64_t n, ocb_err *err) {
  ocb_blobw *b = ud;
  struct file_clone_range r;
  struct stat st;
  uint64_t bs, whole;
  if (b->h || fstat(b->f.fd, &st) < 0 || st.st_blksize <= 0) return 0;
  bs = (uint64_t)st.st_blksize;
  whole = n / bs * bs; /* a clone takes whole blocks: the rest is written */
  if (!whole || off % bs || b->size % bs) return 0;
  memset(&r, 0, sizeof r);
  r.src_fd = from, r.src_offset = off, r.src_length = whole, r.dest_offset = b->size;
  if (ioctl(b->f.fd, FICLONERANGE, &r) < 0) return 0; /* no shared extents here */
  if (lseek(b->f.fd, (off_t)(b->size + whole), SEEK_SET) < 0)
    return ocb_errno(err, errno, b->f.tmp);
  b->size += whole;
  b->f.written = b->f.started = b->size; /* nothing to write back */
  if (copy_through(b, from, off + whole, n - whole, err) < 0) return -1;
  b->size += n - whole;
  return 1;
}

/* 1 when the file at path holds exactly the blob (size, then bytes). */
static int intact(const char *path, const char *digest, uint64_t size) {
  ocb_err ignored;
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), ok;
  if (fd < 0) return 0;
  ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
       ocb_blob_verify_fd(fd, digest, (int64_t)size, path, NULL, NULL, &ignored) == 0;
  close(fd);
  return ok;
}

int ocb_blobw_commit(ocb_blobw *b, const char *want, char digest[OCB_DIGEST_BUF], uint64_t *size,
                     ocb_err *err) {
  size_t n = strlen(b->blobs) + 80;
  char *dst = malloc(n);
  int r = 0;
  if (b->h)
    ocb_sha256_final(b->h, digest);
  else
    snprintf(digest, OCB_DIGEST_BUF, "%s", want ? want : "");
  *size = b->size;
  if (want && strcmp(want, digest) != 0) {
    /* Checked before publishing: a blob never appears under a wrong name. */
    free(dst);
    ocb_blobw_abort(b);
    return ocb_errf(err, "BADDIGEST", "expected %s, got %s", want, digest);
  }
  if (!dst) {
    ocb_blobw_abort(b);
    return ocb_errno(err, ENOMEM, b->blobs);
  }
  snprintf(dst, n, "%s/%s", b->blobs, digest + 7);
  /* A blob already there is kept when its bytes are right (two writers
   * racing publish the same bytes), and replaced when they are not: a
   * damaged blob never stands in for a good one. */
  if (!intact(dst, digest, b->size)) {
    struct stat st;
    int absent = lstat(dst, &st) < 0 && errno == ENOENT;
    r = ocb_afile_commit(&b->f, dst, err);
    b->created = r == 0 && absent;
  }
  free(dst);
  ocb_blobw_abort(b);
  return r;
}

void ocb_blobw_abort(ocb_blobw *b) {
  ocb_afile_abort(&b->f);
  ocb_sha256_free(b->h);
  b->h = NULL;
  free(b->blobs);
  b->blobs = NULL;
}

int ocb_blob_open(const ocb_store *s, const char *digest, size_t len, ocb_err *err) {
  char *path = ocb_store_blob_path(s, digest, len, err);
  struct stat st;
  int fd;
  if (!path) return -1;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    ocb_errno(err, errno, path);
  } else if (fstat(fd, &st) < 0) {
    ocb_errno(err, errno, path);
    close(fd);
    fd = -1;
  } else if (!S_ISREG(st.st_mode)) {
    ocb_errf(err, "BADTYPE", "not a regular file: %s", path);
    close(fd);
    fd = -1;
  }
  free(path);
  return fd;
}

int ocb_blob_verify_fd(int fd, const char *digest, int64_t want_size, const char *what,
                       ocb_out_fn out, void *ud, ocb_err *err) {
  static const size_t chunk = 1 << 20;
  ocb_sha256 *h = ocb_sha256_new();
  char *buf = malloc(chunk), got[OCB_DIGEST_BUF];
  uint64_t size = 0;
  struct stat st;
  int rc = 0;
  if (!h || !buf) rc = ocb_errno(err, ENOMEM, what);
  if (rc == 0 && want_size >= 0 && fstat(fd, &st) == 0 && st.st_size != want_size)
    rc = ocb_errf(err, "BADSIZE", "expected %lld bytes, found %lld: %s", (long long)want_size,
                  (long long)st.st_size, what);
  while (rc == 0) {
    ssize_t n = read(fd, buf, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = ocb_errno(err, errno, what);
    if (n <= 0) break;
    ocb_sha256_update(h, buf, (size_t)n);
    size += (uint64_t)n;
    if (out) rc = out(ud, buf, (size_t)n, err);
  }
  if (rc == 0) {
    ocb_sha256_final(h, got);
    if (want_size >= 0 && size != (uint64_t)want_size)
      rc = ocb_errf(err, "BADSIZE", "expected %lld bytes, read %llu: %s", (long long)want_size,
                    (unsigned long long)size, what);
    else if (strcmp(got, digest) != 0)
      rc = ocb_errf(err, "BADDIGEST", "expected %s, got %s: %s", digest, got, what);
  }
  ocb_sha256_free(h);
  free(buf);
  return rc;
}
