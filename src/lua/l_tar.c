/*
 * l_tar.c: core.tar_policy{...} -> policy, the header policy of a layer,
 * checked once, its per-path rules compiled into one matcher per attribute
 * (nil, msg, "BADPATTERN", rule index on a bad pattern);
 * core.tar_writer(path) -> writer, for archives assembled
 * from Lua (OCI and docker archives). The tar goes to a flock'ed temp file
 * beside path and replaces path on close; dropped before close, it leaves
 * nothing ("-": straight to standard output, which a failure leaves cut
 * short). writer:add{kind=, name=, mode=, mtime=, uid=, gid=, data=,
 * target=}; writer:add_blob(store, digest, size, name, mtime): a blob
 * copied and verified against its digest on the way;
 * writer:close() -> size, digest of the tar.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcore.h"

typedef struct {
  ocb_tar_policy p; /* first: the policy other bindings take */
  ocb_tar_rules r;
} LPolicy;

/* The attributes a rule may set, in OCB_RULE_* order. */
static const char *const RULE_KEYS[] = {"mode", "dir_mode", "owner", "mtime", NULL};

static uint64_t parse_owner(lua_State *L, const char *owner, const char *what) {
  unsigned long long uid = 0, gid = 0;
  int used = 0;
  if (sscanf(owner, "%llu:%llu%n", &uid, &gid, &used) != 2 || owner[used] || uid > 0xfffffffeull ||
      gid > 0xfffffffeull)
    luaL_error(L, "%s: 'UID:GID' (each below 4294967295) expected", what);
  return (uint64_t)uid << 32 | gid;
}

/* Rule i (the table on top) checked; its value for attr into *v, 0 if unset. */
static int rule_value(lua_State *L, lua_Integer i, int attr, uint64_t *v) {
  int t = lua_getfield(L, -1, RULE_KEYS[attr]);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (attr == OCB_RULE_OWNER) {
    if (t != LUA_TSTRING) luaL_error(L, "option rules[%I].owner: string expected", i);
    *v = parse_owner(L, lua_tostring(L, -1), "option rules[].owner");
  } else {
    lua_Integer hi = attr == OCB_RULE_MTIME ? (lua_Integer)253402300799 : 07777;
    int isint;
    lua_Integer x = lua_tointegerx(L, -1, &isint);
    if (!isint || x < 0 || x > hi)
      luaL_error(L, "option rules[%I].%s: integer from 0 to %I expected", i, RULE_KEYS[attr], hi);
    *v = (uint64_t)x;
  }
  lua_pop(L, 1);
  return 1;
}

/* Each rule of the list on top: {pattern, mode=, dir_mode=, owner=, mtime=}. */
static void check_rules(lua_State *L, lua_Integer n) {
  lua_Integer i;
  for (i = 1; i <= n; i++) {
    luaL_argcheck(L, lua_geti(L, -1, i) == LUA_TTABLE, 1, "option rules: list of tables expected");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      const char *const *k = RULE_KEYS;
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING)
        for (; *k && strcmp(*k, lua_tostring(L, -1)); k++) continue;
      if (!(lua_type(L, -1) == LUA_TSTRING && *k) &&
          !(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 1))
        luaL_error(L, "option rules[%I]: unknown key %s", i, luaL_tolstring(L, -1, NULL));
    }
    if (lua_geti(L, -1, 1) != LUA_TSTRING) luaL_error(L, "option rules[%I]: pattern expected", i);
    lua_pop(L, 2);
  }
}

/* Compiles the rules of the options at opts, anchoring the matchers and
 * value arrays in the table at anchor. Returns 0, or 4 with nil, msg,
 * "BADPATTERN" and the bad rule's index pushed. */
static int policy_rules(lua_State *L, int opts, LPolicy *lp, int anchor) {
  lua_Integer n, i, k, *from;
  int attr, nanchor = 0;
  if (lua_getfield(L, opts, "rules") == LUA_TNIL) return lua_pop(L, 1), 0;
  luaL_checktype(L, -1, LUA_TTABLE);
  n = luaL_len(L, -1);
  check_rules(L, n);
  from = lua_newuserdatauv(L, (size_t)n * sizeof *from + 1, 0);
  lua_rawseti(L, anchor, ++nanchor);
  for (attr = 0; attr < OCB_RULE_N; attr++) {
    uint64_t *val = lua_newuserdatauv(L, (size_t)n * sizeof *val + 1, 0);
    lua_rawseti(L, anchor, ++nanchor);
    lua_pushcfunction(L, ocb_l_matcher);
    lua_newtable(L); /* the patterns setting attr, last rule first */
    for (k = 0, i = n; i >= 1; i--) {
      lua_geti(L, -3, i);
      if (rule_value(L, i, attr, &val[k])) {
        lua_geti(L, -1, 1);
        lua_rawseti(L, -3, ++k);
        from[k - 1] = i;
      }
      lua_pop(L, 1);
    }
    if (k == 0) {
      lua_pop(L, 2);
      continue;
    }
    lua_call(L, 1, 4);
    if (lua_isnil(L, -4)) {
      lua_pushinteger(L, from[lua_tointeger(L, -1) - 1]);
      lua_replace(L, -2);
      return 4;
    }
    lua_pop(L, 3);
    lp->r.m[attr] = ocb_tomatcher(L, -1);
    lp->r.val[attr] = val;
    lua_rawseti(L, anchor, ++nanchor);
  }
  lua_pop(L, 1);
  lp->p.rules = &lp->r;
  return 0;
}

/* The policy and the strings it points to, kept in the userdata's user
 * values (the options table, holding prefix and display; the rules'
 * matchers). Returns the policy, or nil, msg, "BADPATTERN", rule index. */
int ocb_l_tar_policy(lua_State *L) {
  static const char *const keys[] = {"prefix", "display", "mtime", "keep_mtime", "clamp",
                                     "owner",  "mode",    "rules", NULL};
  static const char *const modes[] = {"keep", "normalize", NULL};
  LPolicy *lp;
  ocb_tar_policy *p;
  const char *owner, *mode;
  uint64_t ids = 0;
  int m, r;
  ocb_opt_known(L, 1, keys);
  lp = lua_newuserdatauv(L, sizeof *lp, 2);
  memset(lp, 0, sizeof *lp);
  p = &lp->p;
  lua_pushvalue(L, 1); /* keeps prefix and display alive */
  lua_setiuservalue(L, -2, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, -3, 2);
  p->prefix = ocb_opt_str(L, 1, "prefix", "");
  p->display = ocb_opt_str(L, 1, "display", ".");
  p->mtime = ocb_opt_int(L, 1, "mtime", 0, 0, (lua_Integer)253402300799);
  p->keep_mtime = ocb_opt_bool(L, 1, "keep_mtime", 0);
  p->clamp = ocb_opt_bool(L, 1, "clamp", 0);
  owner = ocb_opt_str(L, 1, "owner", "0:0");
  mode = ocb_opt_str(L, 1, "mode", "keep");
  for (m = 0; modes[m] && strcmp(modes[m], mode); m++) continue;
  if (!modes[m]) return luaL_error(L, "option mode: 'keep' or 'normalize' expected");
  p->normalize_mode = m == 1;
  if (strcmp(owner, "keep") == 0)
    p->keep_owner = 1;
  else
    ids = parse_owner(L, owner, "option owner: 'keep' or");
  p->uid = (uint32_t)(ids >> 32), p->gid = (uint32_t)ids;
  if ((r = policy_rules(L, 1, lp, lua_gettop(L))) != 0) return r;
  lua_pop(L, 1);
  luaL_setmetatable(L, OCB_POLICY_T);
  return 1;
}

const ocb_tar_policy *ocb_checkpolicy(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, OCB_POLICY_T);
}

typedef struct {
  ocb_tar *t;
  ocb_afile f;
  ocb_sha256 *h;
  uint64_t size;
  char *dst;
  int stdout_; /* writing to standard output, not to f */
} LTar;

static int write_all(int fd, const char *p, size_t len, ocb_err *err) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ocb_errno(err, errno, "standard output");
    p += n, len -= (size_t)n;
  }
  return 0;
}

static int tarw_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  LTar *lt = ud;
  ocb_sha256_update(lt->h, buf, len);
  lt->size += len;
  if (lt->stdout_) return write_all(STDOUT_FILENO, buf, len, err);
  return ocb_afile_write(&lt->f, buf, len, err);
}

static void tarw_release(LTar *lt) {
  ocb_tar_free(lt->t);
  lt->t = NULL;
  ocb_afile_abort(&lt->f);
  ocb_sha256_free(lt->h);
  lt->h = NULL;
  free(lt->dst);
  lt->dst = NULL;
}

int ocb_l_tar_writer(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *slash = strrchr(path, '/');
  LTar *lt = lua_newuserdatauv(L, sizeof *lt, 0);
  char dir[4096];
  ocb_err err;
  memset(lt, 0, sizeof *lt);
  lt->f.fd = -1;
  luaL_setmetatable(L, OCB_TARW_T);
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  if (!(lt->dst = strdup(path)) || !(lt->h = ocb_sha256_new())) {
    ocb_errno(&err, ENOMEM, path);
    tarw_release(lt);
    return ocb_pushfail(L, &err);
  }
  lt->stdout_ = strcmp(path, "-") == 0;
  if ((!lt->stdout_ && ocb_afile_open(&lt->f, dir, ".ocibuild-tmp-", &err) < 0) ||
      !(lt->t = ocb_tar_new(tarw_out, lt, &err))) {
    tarw_release(lt);
    return ocb_pushfail(L, &err);
  }
  return 1;
}

static LTar *check_tarw(lua_State *L) {
  LTar *lt = luaL_checkudata(L, 1, OCB_TARW_T);
  luaL_argcheck(L, lt->t != NULL, 1, "tar writer closed");
  return lt;
}

/* The fields every item has, from the table at idx. */
static void item_head(lua_State *L, int idx, ocb_tar_item *it) {
  memset(it, 0, sizeof *it);
  it->fd = -1;
  it->name = ocb_opt_str(L, idx, "name", NULL);
  luaL_argcheck(L, it->name && *it->name && *it->name != '/', idx, "relative name expected");
  it->mode = (unsigned)ocb_opt_int(L, idx, "mode", 0644, 0, 07777);
  it->mtime = ocb_opt_int(L, idx, "mtime", 0, 0, (lua_Integer)253402300799);
  it->uid = (uint32_t)ocb_opt_int(L, idx, "uid", 0, 0, 0xfffffffe);
  it->gid = (uint32_t)ocb_opt_int(L, idx, "gid", 0, 0, 0xfffffffe);
}

void ocb_check_item(lua_State *L, int idx, ocb_tar_item *it, int files) {
  static const char *const keys[] = {"kind", "name", "mode",   "mtime", "uid",
                                     "gid",  "data", "target", "path",  NULL};
  static const char *const kinds[] = {"dir", "data", "file", "symlink", "hardlink", "fifo", NULL};
  const char *kind;
  int k;
  ocb_opt_known(L, idx, keys);
  item_head(L, idx, it);
  kind = ocb_opt_str(L, idx, "kind", "");
  for (k = 0; kinds[k] && strcmp(kinds[k], kind); k++) continue;
  luaL_argcheck(L, kinds[k] && (files || k != OCB_TAR_FILE), idx,
                files ? "kind: dir, data, file, symlink, hardlink or fifo"
                      : "kind: dir, data, symlink, hardlink or fifo");
  it->kind = k;
  if (k == OCB_TAR_DATA) {
    lua_getfield(L, idx, "data");
    it->data = luaL_checklstring(L, -1, &it->len); /* kept alive by the table */
    lua_pop(L, 1);
  } else if (k == OCB_TAR_SYMLINK || k == OCB_TAR_HARDLINK) {
    it->data = ocb_opt_str(L, idx, "target", NULL);
    luaL_argcheck(L, it->data != NULL, idx, "target expected");
  } else if (k == OCB_TAR_FILE) {
    it->path = ocb_opt_str(L, idx, "path", NULL);
    luaL_argcheck(L, it->path != NULL, idx, "path expected");
  }
}

int ocb_l_tarw_add(lua_State *L) {
  LTar *lt = check_tarw(L);
  ocb_tar_item it;
  ocb_err err;
  ocb_check_item(L, 2, &it, 0);
  if (ocb_tar_add_item(lt->t, &it, &err) < 0) return ocb_pushfail(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* writer:add_blob(store, digest, size, {name=, mode=, mtime=, uid=, gid=}) */
int ocb_l_tarw_add_blob(lua_State *L) {
  static const char *const keys[] = {"name", "mode", "mtime", "uid", "gid", NULL};
  LTar *lt = check_tarw(L);
  ocb_store *s = ocb_checkstore(L, 2);
  size_t dlen;
  const char *digest = luaL_checklstring(L, 3, &dlen);
  lua_Integer size = luaL_checkinteger(L, 4);
  char got[OCB_DIGEST_BUF];
  struct stat st;
  ocb_tar_item it;
  ocb_err err;
  int r;
  ocb_opt_known(L, 5, keys);
  item_head(L, 5, &it);
  it.kind = OCB_TAR_FILE;
  if ((it.fd = ocb_blob_open(s, digest, dlen, &err)) < 0) return ocb_pushfail(L, &err);
  r = fstat(it.fd, &st) < 0 ? ocb_errno(&err, errno, digest)
      : st.st_size != size
          ? ocb_errf(&err, "BADSIZE",
                     "blob %s: expected %lld bytes, found %lld: %s/blobs/sha256/%s", digest,
                     (long long)size, (long long)st.st_size, s->dir, digest + 7)
          : 0;
  if (r < 0) {
    close(it.fd);
    return ocb_pushfail(L, &err);
  }
  if (!(it.hash = ocb_sha256_new())) {
    close(it.fd);
    return luaL_error(L, "cannot create a SHA-256 context");
  }
  r = ocb_tar_add_item(lt->t, &it, &err);
  close(it.fd);
  ocb_sha256_final(it.hash, got);
  ocb_sha256_free(it.hash);
  if (r < 0) return ocb_pushfail(L, &err);
  /* The header went out with the file's size: a wrong one or other bytes
   * fail the archive, which is then never published. */
  if (strcmp(got, digest) != 0) {
    ocb_errf(&err, "BADDIGEST", "blob %s: expected %s, got %s: %s/blobs/sha256/%s", digest, digest,
             got, s->dir, digest + 7);
    return ocb_pushfail(L, &err);
  }
  lua_settop(L, 1);
  return 1;
}

int ocb_l_tarw_close(lua_State *L) {
  LTar *lt = check_tarw(L);
  char digest[OCB_DIGEST_BUF];
  ocb_err err;
  if (ocb_tar_finish(lt->t, &err) < 0 ||
      (!lt->stdout_ && ocb_afile_commit(&lt->f, lt->dst, &err) < 0)) {
    tarw_release(lt);
    return ocb_pushfail(L, &err);
  }
  ocb_sha256_final(lt->h, digest);
  lua_pushinteger(L, (lua_Integer)lt->size);
  lua_pushstring(L, digest);
  tarw_release(lt);
  return 2;
}

int ocb_l_tarw_gc(lua_State *L) {
  tarw_release(luaL_checkudata(L, 1, OCB_TARW_T));
  return 0;
}
