/*
 * untar_fuzz.c: the tar reader import will use, on any bytes (plain, gzip
 * or zstd): every entry read, every body streamed, the input hashed to
 * its end; and a layer catalog (what an SBOM learns from a base layer)
 * fed every entry and body, in pieces of odd sizes, hashing and
 * capturing all of it. It may fail, never crash, hang or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layer/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(void *ud, const void *buf, size_t len, ocb_err *err) {
  (void)ud, (void)buf, (void)err;
  return len > (64u << 20) ? -1 : 0;
}

/* A body into the catalog in pieces of 1 to 23 bytes (a Go build info
 * magic then falls across pieces). */
static int to_catalog(void *ud, const void *buf, size_t len, ocb_err *err) {
  const char *p = buf;
  size_t step = 1;
  while (len > 0) {
    size_t n = step < len ? step : len;
    if (ocb_catalog_data(ud, p, n, err) < 0) return -1;
    p += n, len -= n;
    step = step % 23 + 1;
  }
  return 0;
}

static int keep_capture(void *ud, const ocb_capture *c, ocb_err *err) {
  (void)ud, (void)err;
  return c->len > (1u << 20) ? -1 : 0;
}

static ocb_catalog *catalog(void) {
  static const char *const pats[] = {"**"};
  static const size_t lens[] = {2};
  static const uint64_t max[] = {4096};
  static ocb_matcher *m;
  ocb_catalog_spec spec = {1, 1, NULL, max, 1, 256};
  size_t bad;
  ocb_err err;
  if (!m) m = ocb_matcher_new(pats, lens, 1, &bad, &err);
  spec.capture = m;
  return ocb_catalog_new(&spec, keep_capture, NULL, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("tar", MFD_CLOEXEC);
  ocb_untar *u;
  ocb_untar_entry e;
  ocb_err err;
  char digest[OCB_DIGEST_BUF], plain[OCB_DIGEST_BUF];
  uint64_t n;
  int r, i = 0;
  if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  ocb_catalog *c = catalog();
  if (!(u = ocb_untar_open(fd, "fuzz input", &err))) {
    ocb_catalog_free(c);
    return 0;
  }
  while (i++ < 10000 && (r = ocb_untar_next(u, &e, &err)) > 0) {
    int want =
        c ? ocb_catalog_entry(c, e.name, strlen(e.name), e.hardlink ? OCB_TAR_HARDLINK : e.type,
                              e.link, (uint64_t)e.size, e.mode, &err)
          : 0;
    if (want < 0) break;
    if (want) {
      if (ocb_untar_data(u, to_catalog, c, &err) < 0 || ocb_catalog_end(c, &err) < 0) break;
    } else if (ocb_untar_data(u, i % 2 ? discard : NULL, NULL, &err) < 0) {
      break;
    }
  }
  ocb_untar_finish(u, digest, &n, plain, &err);
  ocb_untar_close(u);
  ocb_catalog_free(c);
  return 0;
}
