/*
 * gzip.c: the layer compressor behind ocb_comp: gzip with a fixed header
 * (MTIME 0, no name, OS 3) written by us, deflate from zlib, CRC-32 and
 * ISIZE trailer. `none` passes bytes through. Lua: core.gzip(level) ->
 * stream with :write(data) -> compressed bytes so far, :close() -> rest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ocb.h"

#define OUTBUF (256 * 1024)

struct ocb_comp {
  int kind;
  ocb_out_fn out;
  void *ud;
  z_stream z;
  int zinit;
  uLong crc;
  uint64_t isize;
  unsigned char *buf;
};

ocb_comp *ocb_comp_new(int kind, int level, int threads, ocb_out_fn out, void *ud, ocb_err *err) {
  ocb_comp *c = calloc(1, sizeof *c);
  static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  (void)threads;
  if (!c) {
    ocb_errno(err, ENOMEM, "compressor");
    return NULL;
  }
  c->kind = kind, c->out = out, c->ud = ud;
  if (kind == OCB_COMP_NONE) return c;
  if (kind != OCB_COMP_GZIP) {
    ocb_errf(err, "EINVAL", "unknown compression %d", kind);
    free(c);
    return NULL;
  }
  if (!(c->buf = malloc(OUTBUF)) ||
      deflateInit2(&c->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    ocb_errno(err, ENOMEM, "compressor");
    ocb_comp_free(c);
    return NULL;
  }
  c->zinit = 1;
  c->crc = crc32(0, Z_NULL, 0);
  if (out(ud, header, sizeof header, err) < 0) {
    ocb_comp_free(c);
    return NULL;
  }
  return c;
}

static int pump(ocb_comp *c, int flush, ocb_err *err) {
  do {
    int r;
    c->z.next_out = c->buf;
    c->z.avail_out = OUTBUF;
    r = deflate(&c->z, flush);
    if (r == Z_STREAM_ERROR) return ocb_errf(err, "EIO", "deflate failed");
    if (OUTBUF - c->z.avail_out && c->out(c->ud, c->buf, OUTBUF - c->z.avail_out, err) < 0)
      return -1;
  } while (c->z.avail_out == 0);
  return 0;
}

int ocb_comp_write(ocb_comp *c, const void *buf, size_t len, ocb_err *err) {
  if (c->kind == OCB_COMP_NONE) return len ? c->out(c->ud, buf, len, err) : 0;
  c->crc = crc32_z(c->crc, buf, len);
  c->isize += len;
  c->z.next_in = (Bytef *)(uintptr_t)buf;
  c->z.avail_in = (uInt)len;
  return pump(c, Z_NO_FLUSH, err);
}

int ocb_comp_finish(ocb_comp *c, ocb_err *err) {
  unsigned char t[8];
  int i;
  if (c->kind == OCB_COMP_NONE) return 0;
  c->z.next_in = NULL;
  c->z.avail_in = 0;
  if (pump(c, Z_FINISH, err) < 0) return -1;
  for (i = 0; i < 4; i++) {
    t[i] = (unsigned char)(c->crc >> (8 * i));
    t[4 + i] = (unsigned char)(c->isize >> (8 * i));
  }
  return c->out(c->ud, t, sizeof t, err);
}

void ocb_comp_free(ocb_comp *c) {
  if (!c) return;
  if (c->zinit) deflateEnd(&c->z);
  free(c->buf);
  free(c);
}

/* Lua: a compressor whose output collects in a luaL_Buffer-free string list. */
#define GZ_T "ocibuild.Gzip"

typedef struct {
  ocb_comp *c;
  lua_State *L;
  int n; /* pieces pushed during one call */
} LGzip;

static int collect(void *ud, const void *buf, size_t len, ocb_err *err) {
  LGzip *g = ud;
  (void)err;
  lua_pushlstring(g->L, buf, len);
  g->n++;
  if (g->n >= 16) {
    lua_concat(g->L, g->n);
    g->n = 1;
  }
  return 0;
}

static int l_gzip(lua_State *L) {
  lua_Integer level = luaL_optinteger(L, 1, 6);
  const char *kind = luaL_optstring(L, 2, "gzip");
  lua_Integer threads = luaL_optinteger(L, 3, 1);
  int k = !strcmp(kind, "gzip")   ? OCB_COMP_GZIP
          : !strcmp(kind, "zstd") ? OCB_COMP_ZSTD
          : !strcmp(kind, "none") ? OCB_COMP_NONE
                                  : -1;
  LGzip *g;
  ocb_err err;
  int top;
  luaL_argcheck(L, k >= 0, 2, "expected 'gzip', 'zstd' or 'none'");
  luaL_argcheck(L, level >= 1 && level <= 19, 1, "level out of range");
  luaL_argcheck(L, threads >= 1 && threads <= 256, 3, "threads out of range");
  g = lua_newuserdatauv(L, sizeof *g, 1);
  g->c = NULL;
  luaL_setmetatable(L, GZ_T);
  g->L = L, g->n = 0;
  top = lua_gettop(L);
  g->c = ocb_comp_new(k, (int)level, (int)threads, collect, g, &err);
  if (!g->c) return ocb_pushfail(L, &err);
  /* Output made at creation (the header) waits for the first write. */
  lua_concat(L, g->n);
  lua_setiuservalue(L, top, 1);
  lua_settop(L, top);
  return 1;
}

static LGzip *check_gzip(lua_State *L) {
  LGzip *g = luaL_checkudata(L, 1, GZ_T);
  luaL_argcheck(L, g->c != NULL, 1, "compressor closed");
  return g;
}

/* Pushes the output held back since creation, if any, as the first piece. */
static void start(lua_State *L, LGzip *g) {
  g->L = L;
  lua_getiuservalue(L, 1, 1);
  g->n = 1;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  if (lua_isnil(L, -1)) lua_pop(L, 1), g->n = 0;
}

static int g_write(lua_State *L) {
  LGzip *g = check_gzip(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ocb_err err;
  start(L, g);
  if (ocb_comp_write(g->c, s, len, &err) < 0) return ocb_pushfail(L, &err);
  lua_concat(L, g->n);
  return 1;
}

static int g_close(lua_State *L) {
  LGzip *g = check_gzip(L);
  ocb_err err;
  int r;
  start(L, g);
  r = ocb_comp_finish(g->c, &err);
  ocb_comp_free(g->c);
  g->c = NULL;
  if (r < 0) return ocb_pushfail(L, &err);
  lua_concat(L, g->n);
  return 1;
}

static int g_gc(lua_State *L) {
  LGzip *g = luaL_checkudata(L, 1, GZ_T);
  ocb_comp_free(g->c);
  g->c = NULL;
  return 0;
}

void ocb_open_gzip(lua_State *L) {
  static const luaL_Reg methods[] = {{"close", g_close}, {"write", g_write}, {NULL, NULL}};
  ocb_createmeta(L, GZ_T, methods, g_gc);
  lua_pushcfunction(L, l_gzip);
  lua_setfield(L, -2, "compressor");
}
