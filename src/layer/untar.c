/*
 * untar.c: reading tar streams (plain, gzip or zstd, detected) through
 * libarchive: archives to import, layers to compare or to look into. Two
 * readers in a row: the first undoes the compression (libarchive's raw
 * format), the second reads the tar from what it gives. The raw input is
 * hashed as it is read, and so is the tar stream when it was compressed,
 * so that a caller learns both digests (a layer's and its diff_id)
 * without a second pass. Entry names come out as stored: nothing here
 * trusts them or writes anything to disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "layer.h"

#define CHUNK (256 * 1024)
/* The most of the tar stream read past its end-of-archive blocks, for its
 * digest: padding, not a place to hide a bomb in. */
#define MAX_TRAILER (64u << 20)

struct ocb_untar {
  struct archive *raw; /* the input, decompressed */
  struct archive *a;   /* the tar, read from raw */
  int fd;
  char *what;
  char *buf;   /* input, as the read callback hands it to raw */
  char *plain; /* the tar stream, as raw hands it to a */
  char *data;  /* entry bodies, out of libarchive */
  ocb_sha256 *h, *hp;
  int compressed;  /* hp runs: the tar stream is not the input */
  int raw_end;     /* raw has no more */
  uint64_t raw_n;  /* input bytes read */
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
  u->raw_n += (uint64_t)n;
  *out = u->buf;
  return n;
}

/* The tar reader's input: what raw decompresses. */
static la_ssize_t plain_cb(struct archive *a, void *ud, const void **out) {
  ocb_untar *u = ud;
  la_ssize_t n = u->raw_end ? 0 : ocb_la->read_data(u->raw, u->plain, CHUNK);
  if (n < 0) {
    const char *why = ocb_la->error_string(u->raw);
    ocb_la->set_error(a, EIO, "%s", why ? why : "cannot decompress");
    return -1;
  }
  if (n == 0) u->raw_end = 1;
  if (u->compressed) ocb_sha256_update(u->hp, u->plain, (size_t)n);
  *out = u->plain;
  return n;
}

static int fail(ocb_untar *u, ocb_err *err) {
  if (u->read_failed) {
    *err = u->rerr;
    return -1;
  }
  return ocb_errf(err, "ARCHIVE", "%s: %s", ocb_la->error_string(u->a), u->what);
}

static int fail_raw(ocb_untar *u, ocb_err *err) {
  if (u->read_failed) {
    *err = u->rerr;
    return -1;
  }
  return ocb_errf(err, "ARCHIVE", "%s: %s", ocb_la->error_string(u->raw), u->what);
}

static int open_raw(ocb_untar *u, int more, ocb_err *err) {
  struct archive_entry *ae;
  int r;
  ocb_la->read_support_format_raw(u->raw);
  ocb_la->read_support_filter_gzip(u->raw);
  ocb_la->read_support_filter_zstd(u->raw);
  if (more) {
    ocb_la->read_support_filter_bzip2(u->raw);
    ocb_la->read_support_filter_xz(u->raw);
  }
  if (ocb_la->read_open(u->raw, u, NULL, read_cb, NULL) != ARCHIVE_OK) return fail_raw(u, err);
  r = ocb_la->read_next_header(u->raw, &ae);
  if (r == ARCHIVE_EOF)
    u->raw_end = 1;
  else if (r < ARCHIVE_WARN)
    return fail_raw(u, err);
  u->compressed = ocb_la->filter_code(u->raw, 0) != ARCHIVE_FILTER_NONE;
  return 0;
}

static ocb_untar *untar_open(int fd, const char *what, int more, ocb_err *err) {
  ocb_untar *u;
  if (ocb_la_load(err) < 0) {
    close(fd);
    return NULL;
  }
  u = calloc(1, sizeof *u);
  if (!u || !(u->what = strdup(what)) || !(u->buf = malloc(CHUNK)) || !(u->plain = malloc(CHUNK)) ||
      !(u->data = malloc(CHUNK)) || !(u->h = ocb_sha256_new()) || !(u->hp = ocb_sha256_new()) ||
      !(u->raw = ocb_la->read_new()) || !(u->a = ocb_la->read_new())) {
    ocb_errno(err, ENOMEM, what);
    if (u) u->fd = -1;
    ocb_untar_close(u);
    close(fd);
    return NULL;
  }
  u->fd = fd;
  if (open_raw(u, more, err) < 0) {
    ocb_untar_close(u);
    return NULL;
  }
  ocb_la->read_support_format_tar(u->a);
  if (ocb_la->read_open(u->a, u, NULL, plain_cb, NULL) != ARCHIVE_OK) {
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
  if (u->raw) ocb_la->read_free(u->raw);
  if (u->fd >= 0) close(u->fd);
  ocb_sha256_free(u->h);
  ocb_sha256_free(u->hp);
  free(u->plain);
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

int ocb_untar_finish(ocb_untar *u, char digest[OCB_DIGEST_BUF], uint64_t *size,
                     char plain[OCB_DIGEST_BUF], ocb_err *err) {
  char rest[4096];
  ssize_t n;
  uint64_t after = 0;
  /* What follows the end-of-archive blocks counts too: the digests are of
   * the whole tar stream and the whole input. */
  while (u->compressed && !u->raw_end) {
    la_ssize_t m = ocb_la->read_data(u->raw, u->plain, CHUNK);
    if (m < 0) return fail_raw(u, err);
    if (m == 0) break;
    if ((after += (uint64_t)m) > MAX_TRAILER)
      return ocb_errf(err, "TOOBIG", "more than %u MiB after the end of the archive: %s",
                      MAX_TRAILER >> 20, u->what);
    ocb_sha256_update(u->hp, u->plain, (size_t)m);
  }
  while ((n = read(u->fd, rest, sizeof rest)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ocb_errno(err, errno, u->what);
    ocb_sha256_update(u->h, rest, (size_t)n);
    u->raw_n += (uint64_t)n;
  }
  ocb_sha256_final(u->h, digest);
  if (plain) {
    if (u->compressed)
      ocb_sha256_final(u->hp, plain);
    else
      memcpy(plain, digest, OCB_DIGEST_BUF);
  }
  *size = u->raw_n;
  return 0;
}
