/*
 * untar.c: reading tar streams (plain, gzip or zstd, detected) through
 * libarchive: archives to import, layers to compare or to look into. Raw
 * input bytes are hashed as they are read, so a caller learns the digest
 * of what it read without a second pass. Entry names come out as stored:
 * nothing here trusts them or writes anything to disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "layer.h"

#define CHUNK (256 * 1024)

struct ocb_untar {
  struct archive *a;
  int fd;
  char *what;
  char *buf;  /* input, as the read callback hands it to libarchive */
  char *data; /* entry bodies, out of libarchive */
  ocb_sha256 *h;
  uint64_t raw;    /* input bytes read */
  int read_failed; /* the read callback's own failure, in rerr */
  ocb_err rerr;
};

static la_ssize_t read_cb(struct archive *a, void *ud, const void **out) {
  ocb_untar *u = ud;
  ssize_t n;
  do n = read(u->fd, u->buf, CHUNK);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    u->read_failed = 1;
    ocb_errno(&u->rerr, errno, u->what);
    ocb_la->set_error(a, errno, "%s", u->rerr.msg);
    return -1;
  }
  ocb_sha256_update(u->h, u->buf, (size_t)n);
  u->raw += (uint64_t)n;
  *out = u->buf;
  return n;
}

static int fail(ocb_untar *u, ocb_err *err) {
  if (u->read_failed) {
    *err = u->rerr;
    return -1;
  }
  return ocb_errf(err, "ARCHIVE", "%s: %s", ocb_la->error_string(u->a), u->what);
}

static ocb_untar *untar_open(int fd, const char *what, int more, ocb_err *err) {
  ocb_untar *u;
  if (ocb_la_load(err) < 0) {
    close(fd);
    return NULL;
  }
  u = calloc(1, sizeof *u);
  if (!u || !(u->what = strdup(what)) || !(u->buf = malloc(CHUNK)) || !(u->data = malloc(CHUNK)) ||
      !(u->h = ocb_sha256_new()) || !(u->a = ocb_la->read_new())) {
    ocb_errno(err, ENOMEM, what);
    if (u) u->fd = -1;
    ocb_untar_close(u);
    close(fd);
    return NULL;
  }
  u->fd = fd;
  ocb_la->read_support_format_tar(u->a);
  ocb_la->read_support_filter_gzip(u->a);
  ocb_la->read_support_filter_zstd(u->a);
  if (more) {
    ocb_la->read_support_filter_bzip2(u->a);
    ocb_la->read_support_filter_xz(u->a);
  }
  if (ocb_la->read_open(u->a, u, NULL, read_cb, NULL) != ARCHIVE_OK) {
    fail(u, err);
    ocb_untar_close(u);
    return NULL;
  }
  return u;
}

const char *ocb_untar_what(const ocb_untar *u) {
  return u->what;
}

ocb_untar *ocb_untar_open(int fd, const char *what, ocb_err *err) {
  return untar_open(fd, what, 0, err);
}

ocb_untar *ocb_untar_open_any(int fd, const char *what, ocb_err *err) {
  return untar_open(fd, what, 1, err);
}

void ocb_untar_close(ocb_untar *u) {
  if (!u) return;
  if (u->a) ocb_la->read_free(u->a);
  if (u->fd >= 0) close(u->fd);
  ocb_sha256_free(u->h);
  free(u->buf);
  free(u->data);
  free(u->what);
  free(u);
}

static int type_of(mode_t m, int hardlink) {
  if (hardlink) return OCB_TAR_HARDLINK;
  switch (m & AE_IFMT) {
  case AE_IFDIR: return OCB_TAR_DIR;
  case AE_IFLNK: return OCB_TAR_SYMLINK;
  case AE_IFIFO: return OCB_TAR_FIFO;
  case AE_IFREG: return OCB_TAR_FILE;
  default: return -1; /* devices, sockets: the caller decides */
  }
}

int ocb_untar_next(ocb_untar *u, ocb_untar_entry *e, ocb_err *err) {
  struct archive_entry *ae;
  int r = ocb_la->read_next_header(u->a, &ae);
  if (r == ARCHIVE_EOF) return 0;
  if (r < ARCHIVE_WARN) return fail(u, err);
  memset(e, 0, sizeof *e);
  e->name = ocb_la->entry_pathname(ae);
  e->link = ocb_la->entry_hardlink(ae);
  e->hardlink = e->link != NULL;
  if (!e->link) e->link = ocb_la->entry_symlink(ae);
  e->type = type_of(ocb_la->entry_filetype(ae), e->hardlink);
  e->filetype = ocb_la->entry_filetype(ae);
  e->mode = ocb_la->entry_perm(ae);
  e->uid = ocb_la->entry_uid(ae);
  e->gid = ocb_la->entry_gid(ae);
  e->mtime = ocb_la->entry_mtime(ae);
  e->size = ocb_la->entry_size_is_set(ae) ? ocb_la->entry_size(ae) : 0;
  e->devmajor = (unsigned)ocb_la->entry_rdevmajor(ae);
  e->devminor = (unsigned)ocb_la->entry_rdevminor(ae);
  if (!e->name) return ocb_errf(err, "ARCHIVE", "an entry without a name: %s", u->what);
  return 1;
}

int ocb_untar_data(ocb_untar *u, ocb_out_fn out, void *ud, ocb_err *err) {
  for (;;) {
    la_ssize_t n = ocb_la->read_data(u->a, u->data, CHUNK);
    if (n < 0) return fail(u, err);
    if (n == 0) return 0;
    if (out && out(ud, u->data, (size_t)n, err) < 0) return -1;
  }
}

int ocb_untar_finish(ocb_untar *u, char digest[OCB_DIGEST_BUF], uint64_t *size, ocb_err *err) {
  char rest[4096];
  ssize_t n;
  /* What follows the end-of-archive blocks counts too: the digest is of
   * the whole input. */
  while ((n = read(u->fd, rest, sizeof rest)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ocb_errno(err, errno, u->what);
    ocb_sha256_update(u->h, rest, (size_t)n);
    u->raw += (uint64_t)n;
  }
  ocb_sha256_final(u->h, digest);
  *size = u->raw;
  return 0;
}
