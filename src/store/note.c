/*
 * note.c: notes, <store>/.ocibuild/notes/<kind>/<hex>: what ocibuild once
 * learnt from a blob at some cost (the entries of a base layer), kept so
 * the next build need not read the blob again. Written whole or not at
 * all; a cache: a missing or odd note only means the work is done again.
 * A note whose blob is gone is removed with the store's other leftovers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

/* A kind is a short lower-case word: it becomes a folder name. */
static int kind_valid(const char *kind) {
  size_t i, n = strlen(kind);
  if (n == 0 || n > 32) return 0;
  for (i = 0; i < n; i++)
    if (kind[i] < 'a' || kind[i] > 'z') return 0;
  return 1;
}

/* notes/<kind> (folder), or notes/<kind>/<hex> with a digest. */
static char *note_path(const ocb_store *s, const char *kind, const char *digest, ocb_err *err) {
  char *root, *p;
  size_t n;
  if (!kind_valid(kind)) {
    ocb_errf(err, "EINVAL", "not a note kind: %s", kind);
    return NULL;
  }
  if (digest && !ocb_digest_valid(digest, strlen(digest))) {
    ocb_errf(err, "BADDIGEST", "not a sha256 digest");
    return NULL;
  }
  if (!(root = ocb_store_path(s, OCB_F_NOTES))) {
    ocb_errno(err, ENOMEM, s->dir);
    return NULL;
  }
  n = strlen(root) + strlen(kind) + 72;
  if ((p = malloc(n))) {
    if (digest)
      snprintf(p, n, "%s/%s/%s", root, kind, digest + 7);
    else
      snprintf(p, n, "%s/%s", root, kind);
  } else {
    ocb_errno(err, ENOMEM, s->dir);
  }
  free(root);
  return p;
}

int ocb_note_open(const ocb_store *s, const char *kind, const char *digest, ocb_err *err) {
  char *p = note_path(s, kind, digest, err);
  int fd;
  if (!p) return -1;
  if ((fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) ocb_errno(err, errno, p);
  free(p);
  return fd;
}

int ocb_note_write(const ocb_store *s, const char *kind, const char *digest, const void *data,
                   size_t len, ocb_err *err) {
  char *dir = note_path(s, kind, NULL, err), *dst = dir ? note_path(s, kind, digest, err) : NULL;
  char *tmp = ocb_store_path(s, OCB_F_TMP);
  ocb_afile f;
  int r = -1;
  if (!dir || !dst) goto out;
  if (!tmp) {
    ocb_errno(err, ENOMEM, s->dir);
    goto out;
  }
  if (ocb_mkdirs(dir, 0755, err) < 0 || ocb_afile_open(&f, tmp, "note-", err) < 0) goto out;
  if (ocb_afile_write(&f, data, len, err) < 0)
    ocb_afile_abort(&f);
  else
    r = ocb_afile_commit(&f, dst, err);
out:
  free(dir);
  free(dst);
  free(tmp);
  return r;
}

/* A note: removed when its blob is gone; a name that is no digest is no
 * note of ours either: removed too. */
static int prune_note(void *ud, int dirfd, const char *name, ocb_err *err) {
  const ocb_store *s = ud;
  char digest[OCB_DIGEST_BUF], *blob;
  struct stat st;
  int gone;
  (void)dirfd;
  if (strlen(name) != 64) return 1;
  memcpy(digest, "sha256:", 7);
  memcpy(digest + 7, name, 65);
  if (!(blob = ocb_store_blob_path(s, digest, OCB_DIGEST_LEN, err))) return 1;
  gone = stat(blob, &st) < 0;
  free(blob);
  return gone;
}

typedef struct kind_ctx {
  const ocb_store *s;
  uint64_t *removed;
} kind_ctx;

/* A kind folder: its notes swept. */
static int prune_kind(void *ud, int dirfd, const char *name, ocb_err *err) {
  kind_ctx *k = ud;
  if (!kind_valid(name)) return 0;
  return ocb_sweep(dirfd, name, prune_note, (void *)k->s, k->removed, err) < 0 ? -1 : 0;
}

int ocb_note_prune(const ocb_store *s, uint64_t *removed, ocb_err *err) {
  kind_ctx k = {s, removed};
  *removed = 0;
  return ocb_store_sweep(s, OCB_F_NOTES, prune_kind, &k, removed, err);
}
