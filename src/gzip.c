/*
 * gzip.c: the gzip engine (each 1 MiB block deflated alone by libdeflate,
 * its final block turned into a sync flush with dscan.c's help, so pieces
 * join into one member under our header: MTIME 0, no name, zlib's XFL,
 * OS 3) and the compressors' Lua binding, core.compressor.
 */
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "comp.h"

#define GZ_BLOCK (1u << 20)

typedef struct {
  struct libdeflate_compressor *z, *store; /* the level's; level 0 (stored blocks) */
  ocb_dscan *scan;
} gz_worker;

static void gz_wfree(void *w) {
  gz_worker *g = w;
  if (!g) return;
  libdeflate_free_compressor(g->z);
  libdeflate_free_compressor(g->store);
  ocb_dscan_free(g->scan);
  free(g);
}

static void *gz_wnew(int level) {
  gz_worker *g = calloc(1, sizeof *g);
  if (g && (g->z = libdeflate_alloc_compressor(level)) &&
      (g->store = libdeflate_alloc_compressor(0)) && (g->scan = ocb_dscan_new()))
    return g;
  gz_wfree(g);
  return NULL;
}

/* The piece can outgrow the deflate stream by the sync flush's 5 bytes. */
static size_t gz_bound(size_t n) {
  return libdeflate_deflate_compress_bound(NULL, n) + 5;
}

/* Sum of the squared byte counts of p[0..n): n + n(n-1)/256 on average for
 * random bytes, far more for anything deflate can shrink. */
static uint64_t collisions(const unsigned char *p, size_t n, uint32_t *total) {
  uint32_t h[256] = {0};
  uint64_t sum = 0;
  size_t i;
  for (i = 0; i < n; i++) h[p[i]]++;
  for (i = 0; i < 256; i++) {
    sum += (uint64_t)h[i] * h[i];
    total[i] += h[i];
  }
  return sum;
}

/*
 * Already compressed data (media, archives) costs deflate as much time as
 * text and gains nothing: a block whose 16 sampled 4 KiB windows all look
 * like random bytes is stored instead. Integer counts only, so the choice,
 * and with it the output, is the same on every machine.
 */
static int looks_random(const unsigned char *in, size_t n) {
  enum { WIN = 4096, NWIN = 16 };
  uint32_t total[256] = {0};
  uint64_t sum = 0, N = (uint64_t)WIN * NWIN;
  size_t w;
  int i;
  if (n < 4 * WIN * NWIN) return 0;
  for (w = 0; w < NWIN; w++) {
    /* 4096 + 4096 * 4095 / 256 = 69616 expected; 80000 is eight sigmas */
    if (collisions(in + (n - WIN) / (NWIN - 1) * w, WIN, total) > 80000) return 0;
  }
  for (i = 0; i < 256; i++) sum += (uint64_t)total[i] * total[i];
  return sum * 100 <= (N + N * (N - 1) / 256) * 103;
}

static size_t gz_block(void *w, const unsigned char *in, size_t n, unsigned char *out, size_t cap,
                       uint32_t *crc) {
  gz_worker *g = w;
  uint64_t hdr, end;
  size_t m = libdeflate_deflate_compress(looks_random(in, n) ? g->store : g->z, in, n, out,
                                         cap - 5),
         len, last;
  if (m == 0 || ocb_dscan_run(g->scan, out, m, &hdr, &end) < 0) return 0;
  /* Not the final block after all: clear BFINAL, and after its end-of-block
   * code put what a zlib sync flush puts there, an empty stored block (3
   * header bits, zero bits up to a byte boundary, 00 00 ff ff). */
  out[hdr >> 3] &= (unsigned char)~(1u << (hdr & 7));
  last = (size_t)(end >> 3);
  len = (size_t)((end + 3 + 7) >> 3);
  out[last] &= (unsigned char)((1u << (end & 7)) - 1);
  if (len > last + 1) memset(out + last + 1, 0, len - last - 1);
  memcpy(out + len, "\0\0\377\377", 4);
  *crc = (uint32_t)libdeflate_crc32(0, in, n);
  return len + 4;
}

static size_t gz_header(unsigned char *out, int level) {
  static const unsigned char h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  memcpy(out, h, sizeof h);
  /* XFL: 2 for the slowest level, 4 for the fastest, as zlib writes it. */
  out[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
  return sizeof h;
}

/* A final empty block with fixed codes (as zlib ends a flushed stream),
 * then CRC-32 and ISIZE, little-endian. */
static size_t gz_trailer(unsigned char *out, uint32_t crc, uint64_t isize) {
  int i;
  out[0] = 3, out[1] = 0;
  for (i = 0; i < 4; i++) {
    out[2 + i] = (unsigned char)(crc >> (8 * i));
    out[6 + i] = (unsigned char)(isize >> (8 * i));
  }
  return 10;
}

const ocb_engine ocb_engine_gzip = {"gzip",   GZ_BLOCK, 0,         gz_wnew,   gz_wfree,
                                    gz_bound, gz_block, gz_header, gz_trailer};

void ocb_engine_key(int kind, int level, char *out, size_t len) {
  const ocb_engine *e = ocb_engine_of(kind);
  if (kind == OCB_COMP_GZIP)
    snprintf(out, len, "gzip-%d-libdeflate%s-b%zuk-f2", level, LIBDEFLATE_VERSION_STRING,
             e->block >> 10);
  else if (kind == OCB_COMP_ZSTD)
    snprintf(out, len, "zstd-%d-zstd%s-b%zuk-f1", level, ZSTD_versionString(), e->block >> 10);
  else
    snprintf(out, len, "none-b%zuk", e->block >> 10);
}

/* ---- Lua: a compressor whose output comes back from each call ---- */

#define COMP_T "ocibuild.Compressor"

typedef struct {
  ocb_comp *c;
  lua_State *L;
  int n; /* pieces pushed during one call */
} LComp;

static int collect(void *ud, const void *buf, size_t len, ocb_err *err) {
  LComp *g = ud;
  (void)err;
  lua_pushlstring(g->L, buf, len);
  if (++g->n >= 16) {
    lua_concat(g->L, g->n);
    g->n = 1;
  }
  return 0;
}

static int kind_of(const char *name) {
  return !strcmp(name, "gzip")   ? OCB_COMP_GZIP
         : !strcmp(name, "zstd") ? OCB_COMP_ZSTD
         : !strcmp(name, "none") ? OCB_COMP_NONE
                                 : -1;
}

static int check_level(lua_State *L, int kind, lua_Integer level, int arg) {
  int max = kind == OCB_COMP_ZSTD ? 19 : 9;
  luaL_argcheck(L, kind == OCB_COMP_NONE || (level >= 1 && level <= max), arg,
                "level out of range");
  return (int)level;
}

/* core.compressor([level=6 [, kind="gzip" [, threads=1]]]) -> stream
 * with :write(data) -> output so far, :close() -> the rest. */
static int l_compressor(lua_State *L) {
  lua_Integer level = luaL_optinteger(L, 1, 6);
  int k = kind_of(luaL_optstring(L, 2, "gzip"));
  lua_Integer threads = luaL_optinteger(L, 3, 1);
  LComp *g;
  ocb_err err;
  luaL_argcheck(L, k >= 0, 2, "expected 'gzip', 'zstd' or 'none'");
  check_level(L, k, level, 1);
  luaL_argcheck(L, threads >= 1 && threads <= 256, 3, "threads out of range");
  g = lua_newuserdatauv(L, sizeof *g, 0);
  g->c = NULL, g->L = L, g->n = 0;
  luaL_setmetatable(L, COMP_T);
  if (!(g->c = ocb_comp_new(k, (int)level, (int)threads, collect, g, &err)))
    return ocb_pushfail(L, &err);
  return 1;
}

/* core.compression_key(kind, level) -> what output bytes depend on */
static int l_compression_key(lua_State *L) {
  int k = kind_of(luaL_checkstring(L, 1));
  char key[128];
  luaL_argcheck(L, k >= 0, 1, "expected 'gzip', 'zstd' or 'none'");
  ocb_engine_key(k, check_level(L, k, luaL_checkinteger(L, 2), 2), key, sizeof key);
  lua_pushstring(L, key);
  return 1;
}

static LComp *check_comp(lua_State *L) {
  LComp *g = luaL_checkudata(L, 1, COMP_T);
  luaL_argcheck(L, g->c != NULL, 1, "compressor closed");
  g->L = L, g->n = 0;
  return g;
}

static int c_write(lua_State *L) {
  LComp *g = check_comp(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ocb_err err;
  if (ocb_comp_write(g->c, s, len, &err) < 0) return ocb_pushfail(L, &err);
  lua_concat(L, g->n);
  return 1;
}

static int c_close(lua_State *L) {
  LComp *g = check_comp(L);
  ocb_err err;
  int r = ocb_comp_finish(g->c, &err);
  ocb_comp_free(g->c);
  g->c = NULL;
  if (r < 0) return ocb_pushfail(L, &err);
  lua_concat(L, g->n);
  return 1;
}

static int c_gc(lua_State *L) {
  LComp *g = luaL_checkudata(L, 1, COMP_T);
  ocb_comp_free(g->c);
  g->c = NULL;
  return 0;
}

void ocb_open_gzip(lua_State *L) {
  static const luaL_Reg methods[] = {{"close", c_close}, {"write", c_write}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"compression_key", l_compression_key}, {"compressor", l_compressor}, {NULL, NULL}};
  ocb_createmeta(L, COMP_T, methods, c_gc);
  luaL_setfuncs(L, funcs, 0);
}
