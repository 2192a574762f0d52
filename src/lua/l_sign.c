/*
 * l_sign.c: keys and signatures for Lua. core.key_generate() -> key;
 * core.key_load(pem, {name=, password=, public=}) -> key | nil, msg, code;
 * key:private_pem([password]), key:public_pem(), key:id(), key:private(),
 * key:sign(data) -> DER signature, key:verify(data, sig) -> boolean;
 * core.base64_encode(s), core.base64_decode(s); core.write_key_file(path,
 * data, {mode=, replace=});.
 */
#include <openssl/crypto.h>
#include <string.h>

#include "lcore.h"
#include "sign/sign.h"

typedef struct {
  EVP_PKEY *k;
  int priv; /* the private half is there */
} LKey;

static LKey *check_key(lua_State *L) {
  LKey *lk = luaL_checkudata(L, 1, OCB_KEY_T);
  luaL_argcheck(L, lk->k != NULL, 1, "key closed");
  return lk;
}

/* A new userdata, closed until the key is put in. */
static LKey *new_key(lua_State *L) {
  LKey *lk = lua_newuserdatauv(L, sizeof *lk, 0);
  lk->k = NULL, lk->priv = 0;
  luaL_setmetatable(L, OCB_KEY_T);
  return lk;
}

/* A string argument without NUL bytes (it goes to C as a C string). */
static const char *check_cstr(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = luaL_checklstring(L, idx, &len);
  if (strlen(s) != len) luaL_error(L, "%s must not hold NUL bytes", what);
  return s;
}

int ocb_l_key_generate(lua_State *L) {
  LKey *lk = new_key(L);
  ocb_err err;
  if (!(lk->k = ocb_key_generate(&err))) return ocb_pushfail(L, &err);
  lk->priv = 1;
  return 1;
}

int ocb_l_key_load(lua_State *L) {
  static const char *const keys[] = {"name", "password", "public", NULL};
  size_t len;
  const char *pem = luaL_checklstring(L, 1, &len), *name = "key", *pass = NULL;
  int pub = 0;
  LKey *lk;
  ocb_err err;
  if (!lua_isnoneornil(L, 2)) {
    ocb_opt_known(L, 2, keys);
    name = ocb_opt_str(L, 2, "name", name);
    pub = ocb_opt_bool(L, 2, "public", 0);
    if (lua_getfield(L, 2, "password") != LUA_TNIL) pass = check_cstr(L, -1, "option password");
    lua_pop(L, 1); /* the options table keeps the string alive */
  }
  lk = new_key(L);
  lk->k = pub ? ocb_key_public(pem, len, name, &err) : ocb_key_private(pem, len, pass, name, &err);
  if (!lk->k) return ocb_pushfail(L, &err);
  lk->priv = !pub;
  return 1;
}

int ocb_l_key_private_pem(lua_State *L) {
  LKey *lk = check_key(L);
  const char *pass = lua_isnoneornil(L, 2) ? NULL : check_cstr(L, 2, "password");
  char pem[OCB_PEM_MAX];
  size_t len;
  ocb_err err;
  luaL_argcheck(L, lk->priv, 1, "a public key has no private half");
  if (ocb_key_private_pem(lk->k, pass, pem, &len, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushlstring(L, pem, len);
  OPENSSL_cleanse(pem, sizeof pem);
  return 1;
}

int ocb_l_key_public_pem(lua_State *L) {
  LKey *lk = check_key(L);
  char pem[OCB_PEM_MAX];
  size_t len;
  ocb_err err;
  if (ocb_key_public_pem(lk->k, pem, &len, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushlstring(L, pem, len);
  return 1;
}

int ocb_l_key_id(lua_State *L) {
  LKey *lk = check_key(L);
  char id[OCB_DIGEST_BUF];
  ocb_err err;
  if (ocb_key_id(lk->k, id, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushstring(L, id);
  return 1;
}

int ocb_l_key_private(lua_State *L) {
  lua_pushboolean(L, check_key(L)->priv);
  return 1;
}

int ocb_l_key_sign(lua_State *L) {
  LKey *lk = check_key(L);
  size_t len, siglen;
  const char *data = luaL_checklstring(L, 2, &len);
  unsigned char sig[OCB_SIG_MAX];
  ocb_err err;
  luaL_argcheck(L, lk->priv, 1, "a public key cannot sign");
  if (ocb_ecdsa_sign(lk->k, data, len, sig, &siglen, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushlstring(L, (const char *)sig, siglen);
  return 1;
}

int ocb_l_key_verify(lua_State *L) {
  LKey *lk = check_key(L);
  size_t len, siglen;
  const char *data = luaL_checklstring(L, 2, &len);
  const char *sig = luaL_checklstring(L, 3, &siglen);
  lua_pushboolean(L, ocb_ecdsa_verify(lk->k, data, len, (const unsigned char *)sig, siglen));
  return 1;
}

int ocb_l_key_gc(lua_State *L) {
  LKey *lk = luaL_checkudata(L, 1, OCB_KEY_T);
  EVP_PKEY_free(lk->k);
  lk->k = NULL;
  return 0;
}

int ocb_l_base64_encode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  char *out;
  luaL_argcheck(L, len < ((size_t)1 << 40), 1, "too long");
  out = luaL_buffinitsize(L, &b, OCB_B64_LEN(len) + 1);
  luaL_pushresultsize(&b, ocb_b64_encode(s, len, out));
  return 1;
}

int ocb_l_base64_decode(lua_State *L) {
  size_t len, n;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, len / 4 * 3 + 3);
  ocb_err err;
  if (ocb_b64_decode(s, len, out, &n, &err) < 0) return ocb_pushfail(L, &err);
  luaL_pushresultsize(&b, n);
  return 1;
}

int ocb_l_write_key_file(lua_State *L) {
  static const char *const keys[] = {"mode", "replace", NULL};
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer mode = 0600;
  int replace = 0;
  ocb_err err;
  if (!lua_isnoneornil(L, 3)) {
    ocb_opt_known(L, 3, keys);
    mode = ocb_opt_int(L, 3, "mode", mode, 0, 07777);
    replace = ocb_opt_bool(L, 3, "replace", 0);
  }
  if (ocb_keyfile_write(path, data, len, (mode_t)mode, replace, &err) < 0)
    return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}
