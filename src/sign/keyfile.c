/*
 * keyfile.c: a key file appears whole, with its mode set, or not at all:
 * a temp file beside it (see afile.c), fsync'ed, then linked into place,
 * which fails when the name exists (nothing is ever replaced unasked), or
 * renamed over it when replacing is asked for.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sign/sign.h"

/* The folder of path, in buf. */
static const char *folder(const char *path, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", path);
  return dirname(buf);
}

int ocb_keyfile_write(const char *path, const void *data, size_t len, mode_t mode, int replace,
                      ocb_err *err) {
  char dirbuf[4096];
  ocb_afile f;
  int rc;
  if (strlen(path) >= sizeof dirbuf) return ocb_errno(err, ENAMETOOLONG, path);
  if (ocb_afile_open(&f, folder(path, dirbuf, sizeof dirbuf), ".ocibuild-key-", err) < 0) return -1;
  rc = fchmod(f.fd, mode) < 0 ? ocb_errno(err, errno, path) : 0;
  if (rc == 0) rc = ocb_afile_write(&f, data, len, err);
  if (rc == 0 && replace) return ocb_afile_commit(&f, path, err);
  if (rc == 0 && fsync(f.fd) < 0) rc = ocb_errno(err, errno, path);
  if (rc == 0 && link(f.tmp, path) < 0) rc = ocb_errno(err, errno, path);
  ocb_afile_abort(&f);
  return rc < 0 ? -1 : ocb_fsync_parent(path, err);
}
