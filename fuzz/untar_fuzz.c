/*
 * untar_fuzz.c: the tar reader import will use, on any bytes (plain, gzip
 * or zstd): every entry read, every body streamed, the input hashed to
 * its end. It may fail, never crash, hang or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layer/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(void *ud, const void *buf, size_t len, ocb_err *err) {
  (void)ud, (void)buf, (void)err;
  return len > (64u << 20) ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("tar", MFD_CLOEXEC);
  ocb_untar *u;
  ocb_untar_entry e;
  ocb_err err;
  char digest[OCB_DIGEST_BUF];
  uint64_t n;
  int r, i = 0;
  if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  if (!(u = ocb_untar_open(fd, "fuzz input", &err))) return 0;
  while (i++ < 10000 && (r = ocb_untar_next(u, &e, &err)) > 0)
    if (ocb_untar_data(u, i % 2 ? discard : NULL, NULL, &err) < 0) break;
  ocb_untar_finish(u, digest, &n, &err);
  ocb_untar_close(u);
  return 0;
}
