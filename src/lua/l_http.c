/*
 * l_http.c: core.http{ca_file=, ca_pem=, insecure=, cert_file=, key_file=,
 * connect_timeout=, low_speed_time=, low_speed_limit=, user_agent=} ->
 * client. client:start{method=, url=, headers=, body=, blob=, into=, max=,
 * into_file=, follow=, timeout=, insecure=, certinfo=} -> request;
 * client:wait(seconds) -> the requests that finished meanwhile;
 * client:now(); request:result() -> {status=, headers=, body=, digest=,
 * size=, written=, url=} | nil, msg, code;
 * request:info() -> {done=, sent=, received=, ip=, certs=}.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcore.h"
#include "net/http.h"

typedef struct {
  ocb_http *c;
} LClient;

typedef struct {
  ocb_hreq *r;
} LReq;

static LClient *check_client(lua_State *L) {
  LClient *lc = luaL_checkudata(L, 1, OCB_HTTP_T);
  luaL_argcheck(L, lc->c != NULL, 1, "http client closed");
  return lc;
}

static LReq *check_req(lua_State *L) {
  LReq *q = luaL_checkudata(L, 1, OCB_HREQ_T);
  luaL_argcheck(L, q->r != NULL, 1, "http request closed");
  return q;
}

int ocb_l_http(lua_State *L) {
  static const char *const keys[] = {
      "ca_file",         "ca_pem",         "insecure",        "cert_file",  "key_file",
      "connect_timeout", "low_speed_time", "low_speed_limit", "user_agent", NULL};
  ocb_http_opts o;
  LClient *lc;
  ocb_err err;
  memset(&o, 0, sizeof o);
  if (!lua_isnoneornil(L, 1)) {
    ocb_opt_known(L, 1, keys);
    o.ca_file = ocb_opt_str(L, 1, "ca_file", NULL);
    o.ca_pem = ocb_opt_str(L, 1, "ca_pem", NULL);
    if (o.ca_pem) o.ca_pem_len = strlen(o.ca_pem);
    o.insecure = ocb_opt_bool(L, 1, "insecure", 0);
    o.cert_file = ocb_opt_str(L, 1, "cert_file", NULL);
    o.key_file = ocb_opt_str(L, 1, "key_file", NULL);
    luaL_argcheck(L, !o.cert_file == !o.key_file, 1, "cert_file and key_file go together");
    o.connect_timeout = (long)ocb_opt_int(L, 1, "connect_timeout", 30, 0, 3600);
    o.low_speed_time = (long)ocb_opt_int(L, 1, "low_speed_time", 60, 0, 3600);
    o.low_speed_limit = (long)ocb_opt_int(L, 1, "low_speed_limit", 1, 0, 1 << 30);
    o.user_agent = ocb_opt_str(L, 1, "user_agent", NULL);
  } else {
    o.connect_timeout = 30, o.low_speed_time = 60, o.low_speed_limit = 1;
  }
  lc = lua_newuserdatauv(L, sizeof *lc, 1);
  lc->c = NULL;
  luaL_setmetatable(L, OCB_HTTP_T);
  lua_newtable(L); /* the requests in flight, kept alive: lightuserdata -> request */
  lua_setiuservalue(L, -2, 1);
  if (ocb_http_new(&lc->c, &o, &err) < 0) return ocb_pushfail(L, &err);
  return 1;
}

int ocb_l_http_gc(lua_State *L) {
  LClient *lc = luaL_checkudata(L, 1, OCB_HTTP_T);
  ocb_http_free(lc->c);
  lc->c = NULL;
  return 0;
}

int ocb_l_http_now(lua_State *L) {
  lua_pushnumber(L, ocb_http_now());
  return 1;
}

/* The request headers, a list of "Name: value" strings: an array of
 * pointers left on the stack (the strings live in the spec's table). */
static const char **read_headers(lua_State *L, size_t *n) {
  const char **h;
  size_t i;
  int t;
  *n = 0;
  if (lua_getfield(L, 2, "headers") == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  t = lua_gettop(L);
  *n = (size_t)luaL_len(L, t);
  h = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *h, 0);
  for (i = 0; i < *n; i++) {
    if (lua_geti(L, t, (lua_Integer)i + 1) != LUA_TSTRING)
      luaL_error(L, "option headers: strings expected");
    h[i] = lua_tostring(L, -1);
    if (strchr(h[i], '\r') || strchr(h[i], '\n'))
      luaL_error(L, "option headers: no line breaks allowed");
    lua_pop(L, 1);
  }
  lua_remove(L, t);
  return h;
}

/* blob = {store=, digest=, offset=, length=, size=, hasher=}: opens the
 * store blob as the body, verified as it goes (see http.h); size, when
 * given, is what the whole file must hold; hasher (core.sha256(), kept
 * alive as the request's uservalue 2) takes the file's bytes as they go
 * out, across the requests that send ranges of it. */
static int open_body(lua_State *L, ocb_hreq_spec *s, ocb_err *err) {
  static const char *const keys[] = {"store", "digest", "offset", "length", "size", "hasher", NULL};
  const ocb_store *st;
  const char *digest;
  lua_Integer off, len, want;
  struct stat sb;
  int t = lua_gettop(L) + 1, rc = -1;
  size_t dlen;
  if (lua_getfield(L, 2, "blob") == LUA_TNIL) {
    lua_settop(L, t - 1);
    return 0;
  }
  ocb_opt_known(L, t, keys);
  lua_getfield(L, t, "store");
  st = ocb_checkstore(L, -1);
  lua_getfield(L, t, "digest");
  digest = luaL_checklstring(L, -1, &dlen);
  off = ocb_opt_int(L, t, "offset", 0, 0, LUA_MAXINTEGER);
  len = ocb_opt_int(L, t, "length", -1, -1, LUA_MAXINTEGER);
  want = ocb_opt_int(L, t, "size", -1, -1, LUA_MAXINTEGER);
  if (lua_getfield(L, t, "hasher") != LUA_TNIL) {
    ocb_lhash *lh = ocb_checkhasher(L, -1);
    s->file_hash = &lh->h, s->file_pos = &lh->size;
    lua_setiuservalue(L, 3, 2);
  } else {
    lua_pop(L, 1);
  }
  if ((s->body_fd = ocb_blob_open(st, digest, dlen, err)) < 0) {
    lua_settop(L, t - 1);
    return -1;
  }
  if (fstat(s->body_fd, &sb) < 0) {
    ocb_errno(err, errno, digest);
  } else if (want >= 0 && sb.st_size != want) {
    ocb_errf(err, "BADSIZE", "blob %s has %lld bytes, its descriptor says %lld", digest,
             (long long)sb.st_size, (long long)want);
  } else {
    if (len < 0) len = sb.st_size > off ? sb.st_size - off : 0;
    if (off + len <= sb.st_size) {
      s->body_off = (uint64_t)off, s->body_size = (uint64_t)len;
      s->blob_digest = digest, s->blob_size = (uint64_t)sb.st_size;
      rc = 0;
    } else {
      ocb_errf(err, "BADSIZE", "blob %s has %lld bytes, fewer than %lld asked for", digest,
               (long long)sb.st_size, (long long)(off + len));
    }
  }
  if (rc < 0) {
    close(s->body_fd);
    s->body_fd = -1;
  }
  lua_settop(L, t - 1);
  return rc;
}

/* into = {store=, digest=, size=}: the store stays alive as uservalue of
 * the request at index q. */
static void read_into(lua_State *L, ocb_hreq_spec *s, int q) {
  static const char *const keys[] = {"store", "digest", "size", NULL};
  int t = lua_gettop(L) + 1;
  if (lua_getfield(L, 2, "into") != LUA_TNIL) {
    ocb_opt_known(L, t, keys);
    lua_getfield(L, t, "store");
    s->into = ocb_checkstore(L, -1);
    lua_setiuservalue(L, q, 1);
    s->want = ocb_opt_str(L, t, "digest", NULL);
    s->want_size = (int64_t)ocb_opt_int(L, t, "size", -1, -1, LUA_MAXINTEGER);
  }
  lua_settop(L, t - 1);
}

/* into_file = {path=, offset=, size=}: a 206 body goes into the regular
 * file path (opened here, not followed if a link) at offset; 0, or -1. */
static int read_into_file(lua_State *L, ocb_hreq_spec *s, ocb_err *err) {
  static const char *const keys[] = {"path", "offset", "size", NULL};
  int t = lua_gettop(L) + 1, rc = 0;
  struct stat sb;
  const char *path;
  if (lua_getfield(L, 2, "into_file") != LUA_TNIL) {
    ocb_opt_known(L, t, keys);
    if (!(path = ocb_opt_str(L, t, "path", NULL))) luaL_error(L, "option into_file: path expected");
    s->into_off = (uint64_t)ocb_opt_int(L, t, "offset", 0, 0, LUA_MAXINTEGER);
    s->want_size = (int64_t)ocb_opt_int(L, t, "size", -1, -1, LUA_MAXINTEGER);
    errno = 0;
    if ((s->into_fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) {
      rc = ocb_errno(err, errno, path);
    } else if (fstat(s->into_fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
      rc = ocb_errno(err, errno ? errno : EINVAL, path);
      close(s->into_fd);
      s->into_fd = -1;
    }
  }
  lua_settop(L, t - 1);
  return rc;
}

int ocb_l_http_start(lua_State *L) {
  static const char *const keys[] = {"method",   "url",       "headers", "body",   "blob",
                                     "into",     "into_file", "max",     "follow", "timeout",
                                     "insecure", "certinfo",  NULL};
  LClient *lc = check_client(L);
  ocb_hreq_spec s;
  LReq *q;
  ocb_err err;
  memset(&s, 0, sizeof s);
  s.body_fd = s.into_fd = -1;
  ocb_opt_known(L, 2, keys);
  lua_settop(L, 2);
  q = lua_newuserdatauv(L, sizeof *q, 2); /* 3 */
  q->r = NULL;
  luaL_setmetatable(L, OCB_HREQ_T);
  s.method = ocb_opt_str(L, 2, "method", "GET");
  if (!(s.url = ocb_opt_str(L, 2, "url", NULL)))
    return luaL_error(L, "option url: string expected");
  if (lua_getfield(L, 2, "body") != LUA_TNIL) s.body = luaL_checklstring(L, -1, &s.body_len);
  lua_pop(L, 1); /* the spec keeps it alive */
  if (s.body && lua_getfield(L, 2, "blob") != LUA_TNIL)
    return luaL_error(L, "options body and blob: one body only");
  lua_settop(L, 3);
  s.max = (size_t)ocb_opt_int(L, 2, "max", 1 << 20, 0, 1 << 30);
  s.follow = ocb_opt_bool(L, 2, "follow", 0);
  s.timeout = (long)ocb_opt_int(L, 2, "timeout", 0, 0, 86400);
  s.insecure = ocb_opt_bool(L, 2, "insecure", 0);
  s.certinfo = ocb_opt_bool(L, 2, "certinfo", 0);
  read_into(L, &s, 3);
  if (s.into && lua_getfield(L, 2, "into_file") != LUA_TNIL)
    return luaL_error(L, "options into and into_file: one place only");
  lua_settop(L, 3);
  s.headers = read_headers(L, &s.nheaders); /* 4, when any */
  if (read_into_file(L, &s, &err) < 0) return ocb_pushfail(L, &err);
  if (open_body(L, &s, &err) < 0) {
    if (s.into_fd >= 0) close(s.into_fd);
    return ocb_pushfail(L, &err);
  }
  if (ocb_hreq_start(lc->c, &s, &q->r, &err) < 0) return ocb_pushfail(L, &err);
  lua_getiuservalue(L, 1, 1);
  lua_pushlightuserdata(L, q->r);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  lua_pushvalue(L, 3);
  return 1;
}

int ocb_l_http_wait(lua_State *L) {
  LClient *lc = check_client(L);
  double seconds = luaL_optnumber(L, 2, 0.1);
  ocb_hreq *r;
  lua_Integer n = 0;
  ocb_err err;
  if (ocb_http_wait(lc->c, seconds, &err) < 0) return ocb_pushfail(L, &err);
  lua_settop(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_newtable(L);
  while ((r = ocb_http_done(lc->c))) {
    lua_pushlightuserdata(L, r);
    if (lua_rawget(L, 2) == LUA_TUSERDATA) {
      lua_rawseti(L, 3, ++n);
      lua_pushlightuserdata(L, r);
      lua_pushnil(L);
      lua_rawset(L, 2);
    } else {
      lua_pop(L, 1);
    }
  }
  return 1;
}

int ocb_l_hreq_gc(lua_State *L) {
  LReq *q = luaL_checkudata(L, 1, OCB_HREQ_T);
  ocb_hreq_free(q->r);
  q->r = NULL;
  return 0;
}

/* "Name: value" lines into {name (lower case) = value}; repeated names
 * joined with ", " (as RFC 9110 allows; challenges parse either way). */
static void push_headers(lua_State *L, const char *p, size_t len) {
  const char *end = p + len;
  lua_newtable(L);
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v, *ve;
    if (!eol) eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    if (colon && colon > p && memcmp(p, "HTTP/", 5) != 0) {
      luaL_Buffer b;
      const char *k;
      for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {}
      for (ve = eol; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'); ve--) {}
      luaL_buffinit(L, &b);
      for (k = p; k < colon; k++) luaL_addchar(&b, (char)((*k >= 'A' && *k <= 'Z') ? *k + 32 : *k));
      luaL_pushresult(&b);
      lua_pushvalue(L, -1);
      if (lua_rawget(L, -3) == LUA_TSTRING) {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_concat(L, 3);
      } else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
      }
      lua_rawset(L, -3);
    }
    p = eol + 1;
  }
}

int ocb_l_hreq_result(lua_State *L) {
  LReq *q = check_req(L);
  ocb_hres res;
  if (!ocb_hreq_finished(q->r)) return luaL_error(L, "http request still running");
  ocb_hreq_result(q->r, &res);
  if (res.failed) return ocb_pushfail(L, &res.err);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, res.status);
  lua_setfield(L, -2, "status");
  push_headers(L, res.headers, res.headers_len);
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, res.body, res.body_len);
  lua_setfield(L, -2, "body");
  if (res.digest[0]) {
    lua_pushstring(L, res.digest);
    lua_setfield(L, -2, "digest");
    lua_pushinteger(L, (lua_Integer)res.size);
    lua_setfield(L, -2, "size");
  }
  lua_pushinteger(L, (lua_Integer)res.written);
  lua_setfield(L, -2, "written");
  lua_pushstring(L, res.url);
  lua_setfield(L, -2, "url");
  return 1;
}

int ocb_l_hreq_info(lua_State *L) {
  LReq *q = check_req(L);
  uint64_t sent, received;
  ocb_hres res;
  int done = ocb_hreq_finished(q->r);
  ocb_hreq_progress(q->r, &sent, &received);
  lua_createtable(L, 0, 5);
  lua_pushboolean(L, done);
  lua_setfield(L, -2, "done");
  lua_pushinteger(L, (lua_Integer)sent);
  lua_setfield(L, -2, "sent");
  lua_pushinteger(L, (lua_Integer)received);
  lua_setfield(L, -2, "received");
  if (done) {
    ocb_hreq_result(q->r, &res);
    lua_pushstring(L, res.ip);
    lua_setfield(L, -2, "ip");
    if (res.certs) {
      lua_pushstring(L, res.certs);
      lua_setfield(L, -2, "certs");
    }
  }
  return 1;
}
