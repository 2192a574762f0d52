/*
 * ustar.c: the header of a plain entry (a regular file or a directory
 * with a short ASCII name, small numbers, nothing but a whole-second
 * mtime), made here byte for byte as libarchive's restricted pax writer
 * makes it: such an entry needs no pax extension, and its ustar header
 * costs libarchive a copy of the entry, name conversions and a dozen
 * allocations, which is most of a small file's cost. Anything else is
 * left to libarchive.
 */
#include <string.h>

#include "layer.h"

/* The fixed parts: numbers' terminators, the magic and version, the
 * device fields, the checksum's blanks. */
static void blank(unsigned char h[512]) {
  static const char zeros6[] = "000000 ";
  memset(h, 0, 512);
  memcpy(h + 100, zeros6, 8); /* mode, uid, gid: 6 digits, ' ', '\0' */
  memcpy(h + 108, zeros6, 8);
  memcpy(h + 116, zeros6, 8);
  memset(h + 148, ' ', 8);     /* the checksum, blank while summed */
  memcpy(h + 257, "ustar", 6); /* with its '\0' */
  memcpy(h + 263, "00", 2);    /* version */
  memcpy(h + 329, zeros6, 8);  /* devmajor, devminor */
  memcpy(h + 337, zeros6, 8);
}

/* v as `digits` octal digits, zero-padded. */
static void octal(unsigned char *p, int digits, uint64_t v) {
  while (digits-- > 0) {
    p[digits] = (unsigned char)('0' + (v & 7));
    v >>= 3;
  }
}

int ocb_ustar_plain(unsigned char h[512], const char *name, size_t len, int dir, unsigned perm,
                    uint64_t uid, uint64_t gid, uint64_t size, int64_t mtime) {
  unsigned sum = 0;
  size_t i;
  /* what makes libarchive add a pax header, or split the name */
  if (len == 0 || len > 100 || uid >= 1u << 18 || gid >= 1u << 18 || size >= (uint64_t)1 << 33 ||
      mtime < 0 || mtime >= 0x7fffffff || perm > 07777)
    return -1;
  for (i = 0; i < len; i++)
    if ((unsigned char)name[i] >= 0x80 || name[i] == '\0') return -1;
  if (dir && name[len - 1] != '/') return -1;
  blank(h);
  memcpy(h, name, len);
  octal(h + 100, 6, perm);
  octal(h + 108, 6, uid);
  octal(h + 116, 6, gid);
  octal(h + 124, 11, dir ? 0 : size);
  h[135] = ' ';
  octal(h + 136, 11, (uint64_t)mtime);
  h[147] = ' ';
  h[156] = dir ? '5' : '0';
  for (i = 0; i < 512; i++) sum += h[i];
  octal(h + 148, 6, sum);
  h[154] = '\0'; /* h[155] stays ' ' */
  return 0;
}
