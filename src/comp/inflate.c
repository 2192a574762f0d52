/*
 * inflate.c: raw deflate data (RFC 1951, no header: a zip entry's body)
 * expanded through zlib into an output callback, at most `max` bytes.
 */
#include <string.h>
#include <zlib.h>

#include "comp/comp.h"

#define CHUNK (64u << 10)

int ocb_inflate_raw(const void *in, size_t len, uint64_t max, ocb_out_fn out, void *ud,
                    ocb_err *err) {
  unsigned char buf[CHUNK];
  uint64_t total = 0;
  z_stream z;
  int rc = Z_OK;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, -15) != Z_OK) return ocb_errf(err, "ENOMEM", "cannot inflate");
  z.next_in = (Bytef *)(uintptr_t)in;
  while (rc != Z_STREAM_END) {
    size_t n;
    /* avail_in is 32 bits: feed long input in slices */
    if (z.avail_in == 0 && len > 0) {
      z.avail_in = len > 0x40000000u ? 0x40000000u : (uInt)len;
      len -= z.avail_in;
    }
    z.next_out = buf, z.avail_out = CHUNK;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    n = CHUNK - z.avail_out;
    if ((total += n) > max) {
      inflateEnd(&z);
      return ocb_errf(err, "TOOBIG", "inflates to more than %llu bytes", (unsigned long long)max);
    }
    if (n && out(ud, buf, n, err) < 0) {
      inflateEnd(&z);
      return -1;
    }
  }
  inflateEnd(&z);
  if (rc == Z_STREAM_END) return 0;
  return ocb_errf(err, "CORRUPT", "damaged deflate data (%s)",
                  rc == Z_BUF_ERROR ? "cut short"
                  : z.msg           ? z.msg
                                    : "zlib error");
}
