/*
 * codec.c: codecs by name, their checks, and the key naming everything a
 * codec's output depends on besides the input (reuse records are kept per
 * key, so a new library version or block size never reuses old pieces).
 */
#include <libdeflate.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "engine.h"

static const char *const NAMES[] = {"none", "gzip", "zstd"};

const ocb_engine *ocb_engine_of(int kind) {
  switch (kind) {
  case OCB_COMP_GZIP: return &ocb_engine_gzip;
  case OCB_COMP_ZSTD: return &ocb_engine_zstd;
  case OCB_COMP_NONE: return &ocb_engine_none;
  default: return NULL;
  }
}

int ocb_codec_kind(const char *name) {
  int k;
  for (k = 0; k < 3; k++)
    if (strcmp(name, NAMES[k]) == 0) return k;
  return -1;
}

const char *ocb_codec_name(int kind) {
  return kind >= 0 && kind < 3 ? NAMES[kind] : "?";
}

int ocb_codec_check(const ocb_codec *c, ocb_err *err) {
  int max = c->kind == OCB_COMP_ZSTD ? 19 : 9;
  if (!ocb_engine_of(c->kind)) return ocb_errf(err, "EINVAL", "unknown compression %d", c->kind);
  if (c->kind != OCB_COMP_NONE && (c->level < 1 || c->level > max))
    return ocb_errf(err, "EINVAL", "%s level must be from 1 to %d, got %d", ocb_codec_name(c->kind),
                    max, c->level);
  if (c->threads < 1 || c->threads > 256)
    return ocb_errf(err, "EINVAL", "threads must be from 1 to 256, got %d", c->threads);
  return 0;
}

void ocb_codec_key(const ocb_codec *c, char *out, size_t len) {
  const ocb_engine *e = ocb_engine_of(c->kind);
  if (c->kind == OCB_COMP_GZIP)
    snprintf(out, len, "gzip-%d-libdeflate%s-b%zuk-f3", c->level, LIBDEFLATE_VERSION_STRING,
             e->block >> 10);
  else if (c->kind == OCB_COMP_ZSTD)
    snprintf(out, len, "zstd-%d-zstd%s-b%zuk-f2", c->level, ZSTD_versionString(), e->block >> 10);
  else
    snprintf(out, len, "none-b%zuk-f2", e->block >> 10);
}

size_t ocb_codec_block(const ocb_codec *c) {
  const ocb_engine *e = ocb_engine_of(c->kind);
  return e ? e->block : 0;
}
