/*
 * cut.c: where a layer's tar is cut into blocks, by a rule that depends
 * only on the entries, so that after an edit, an insertion or a deletion
 * the blocks that follow line up again with the last build's. With B the
 * codec's nominal block (1 MiB gzip and none, 4 MiB zstd), a block ends
 * before an entry of D bytes of file data when
 *   - D >= B (a large file, itself cut every B bytes from its header), or
 *     the block would pass B with it;
 *   - else, once the block holds B/4, when the entry is an anchor: the top
 *     bits of its name's hash fall below 512 + D, its weight, out of B/4,
 *     so that anchors come every B/4 bytes of tar on average whatever the
 *     entries' sizes, and an edit moves few of them.
 * (Measured on generated trees: blocks of B/2 on average; one edit, an
 * insertion or a deletion remakes a block, rarely two to four.)
 */
#include <stdint.h>

#include "layer.h"

#define NONE UINT64_MAX

void ocb_cut_init(ocb_cut *k, uint64_t bs, uint64_t start) {
  k->bs = bs, k->start = start, k->slice = NONE, k->end = 0;
}

/* FNV-1a over the name, then a finalizer that spreads every bit. */
static uint64_t name_hash(const char *name, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i;
  for (i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

/* 1 when the entry is an anchor (see above). */
static int anchor(const ocb_cut *k, uint64_t data, const char *name, size_t len) {
  uint64_t quarter = k->bs / 4, h = name_hash(name, len);
  int bits = 0;
  while (((uint64_t)1 << bits) < quarter) bits++;
  return 512 + data >= quarter || (h >> (64 - bits)) < 512 + data;
}

int ocb_cut_entry(ocb_cut *k, uint64_t off, uint64_t data, const char *name, size_t len) {
  uint64_t held = off - k->start;
  int cut = off > k->start && (data >= k->bs || held + data >= k->bs ||
                               (held >= k->bs / 4 && anchor(k, data, name, len)));
  k->slice = NONE;
  if (data > k->bs) k->slice = off + k->bs, k->end = off + data;
  return cut;
}

uint64_t ocb_cut_forced(const ocb_cut *k) {
  return k->slice;
}

void ocb_cut_made(ocb_cut *k, uint64_t off) {
  k->start = off;
  if (k->slice != NONE && off >= k->slice) {
    k->slice += k->bs;
    if (k->slice >= k->end) k->slice = NONE;
  }
}
