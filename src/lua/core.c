/*
 * core.c: luaopen_ocibuild_core, the one entry point of the private C
 * module, with every registration table (functions and each type's
 * methods, alphabetical), and the helpers every binding shares.
 */
#include <string.h>
#include <sys/stat.h>

#include "lcore.h"

int ocb_pushfail(lua_State *L, const ocb_err *err) {
  luaL_pushfail(L);
  lua_pushstring(L, err->msg);
  lua_pushstring(L, err->code);
  return 3;
}

void ocb_createmeta(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc) {
  luaL_newmetatable(L, tname);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
}

void ocb_opt_known(lua_State *L, int idx, const char *const *keys) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *const *k = keys;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      for (; *k; k++)
        if (strcmp(*k, lua_tostring(L, -1)) == 0) break;
    if (lua_type(L, -1) != LUA_TSTRING || !*k)
      luaL_error(L, "unknown option %s", luaL_tolstring(L, -1, NULL));
  }
}

lua_Integer ocb_opt_int(lua_State *L, int idx, const char *k, lua_Integer def, lua_Integer lo,
                        lua_Integer hi) {
  lua_Integer v = def;
  int isint = 1;
  if (lua_getfield(L, idx, k) != LUA_TNIL) v = lua_tointegerx(L, -1, &isint);
  lua_pop(L, 1);
  if (!isint) luaL_error(L, "option %s: integer expected", k);
  if (v < lo || v > hi) luaL_error(L, "option %s: %I out of range", k, v);
  return v;
}

const char *ocb_opt_str(lua_State *L, int idx, const char *k, const char *def) {
  const char *s = def;
  int t = lua_getfield(L, idx, k);
  if (t == LUA_TSTRING)
    s = lua_tostring(L, -1); /* the table keeps the string alive */
  else if (t != LUA_TNIL)
    luaL_error(L, "option %s: string expected, got %s", k, lua_typename(L, t));
  lua_pop(L, 1);
  return s;
}

int ocb_opt_bool(lua_State *L, int idx, const char *k, int def) {
  int t = lua_getfield(L, idx, k), v = def;
  if (t == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    luaL_error(L, "option %s: boolean expected, got %s", k, lua_typename(L, t));
  lua_pop(L, 1);
  return v;
}

int ocb_opt_skip(lua_State *L, int idx, struct stat *out) {
  lua_Integer i, n;
  int got = 0;
  if (lua_getfield(L, idx, "skip") == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  n = luaL_len(L, -1);
  for (i = 1; i <= n; i++) {
    if (lua_geti(L, -1, i) != LUA_TSTRING) luaL_error(L, "option skip: list of paths expected");
    if (stat(lua_tostring(L, -1), &out[got]) == 0 && ++got == OCB_WALK_MAXSKIP && i < n)
      luaL_error(L, "option skip: more than %d paths", OCB_WALK_MAXSKIP);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return got;
}

static void types(lua_State *L) {
  static const luaL_Reg blobw[] = {
      {"close", ocb_l_blobw_close}, {"write", ocb_l_blobw_write}, {NULL, NULL}};
  static const luaL_Reg codec[] = {
      {"compressor", ocb_l_codec_compressor}, {"key", ocb_l_codec_key}, {NULL, NULL}};
  static const luaL_Reg compressor[] = {
      {"close", ocb_l_compressor_close}, {"write", ocb_l_compressor_write}, {NULL, NULL}};
  static const luaL_Reg hreq[] = {{"close", ocb_l_hreq_gc},
                                  {"info", ocb_l_hreq_info},
                                  {"result", ocb_l_hreq_result},
                                  {NULL, NULL}};
  static const luaL_Reg http[] = {{"close", ocb_l_http_gc},
                                  {"now", ocb_l_http_now},
                                  {"start", ocb_l_http_start},
                                  {"wait", ocb_l_http_wait},
                                  {NULL, NULL}};
  static const luaL_Reg job[] = {{"run", ocb_l_job_run}, {NULL, NULL}};
  static const luaL_Reg key[] = {{"id", ocb_l_key_id},
                                 {"private", ocb_l_key_private},
                                 {"private_pem", ocb_l_key_private_pem},
                                 {"public_pem", ocb_l_key_public_pem},
                                 {"sign", ocb_l_key_sign},
                                 {"verify", ocb_l_key_verify},
                                 {NULL, NULL}};
  static const luaL_Reg limits[] = {{"exceeded", ocb_l_limits_exceeded},
                                    {"run", ocb_l_limits_run},
                                    {"where", ocb_l_limits_where},
                                    {NULL, NULL}};
  static const luaL_Reg lock[] = {
      {"close", ocb_l_fd_close}, {"try_exclusive", ocb_l_fd_try_exclusive}, {NULL, NULL}};
  static const luaL_Reg matcher[] = {{"descend", ocb_l_matcher_descend},
                                     {"matches", ocb_l_matcher_matches},
                                     {"walk", ocb_l_matcher_walk},
                                     {NULL, NULL}};
  static const luaL_Reg none[] = {{NULL, NULL}};
  static const luaL_Reg sha256[] = {
      {"digest", ocb_l_sha256_digest}, {"update", ocb_l_sha256_update}, {NULL, NULL}};
  static const luaL_Reg store[] = {{"blob_path", ocb_l_store_blob_path},
                                   {"blob_read", ocb_l_store_blob_read},
                                   {"blob_verify", ocb_l_store_blob_verify},
                                   {"blob_writer", ocb_l_store_blob_writer},
                                   {"blobs", ocb_l_store_blobs},
                                   {"close", ocb_l_store_gc},
                                   {"copy_blob", ocb_l_store_copy_blob},
                                   {"gc_temps", ocb_l_store_gc_temps},
                                   {"lock", ocb_l_store_lock},
                                   {"note_read", ocb_l_store_note_read},
                                   {"note_write", ocb_l_store_note_write},
                                   {"prune_notes", ocb_l_store_prune_notes},
                                   {"prune_reuse", ocb_l_store_prune_reuse},
                                   {"read", ocb_l_store_read},
                                   {"remove_blob", ocb_l_store_remove_blob},
                                   {"replace", ocb_l_store_replace},
                                   {NULL, NULL}};
  static const luaL_Reg tarr[] = {{"close", ocb_l_tarr_gc},        {"finish", ocb_l_tarr_finish},
                                  {"next", ocb_l_tarr_next},       {"read", ocb_l_tarr_read},
                                  {"sha256", ocb_l_tarr_sha256},   {"to_blob", ocb_l_tarr_to_blob},
                                  {"to_file", ocb_l_tarr_to_file}, {NULL, NULL}};
  static const luaL_Reg tarw[] = {{"add", ocb_l_tarw_add},
                                  {"add_blob", ocb_l_tarw_add_blob},
                                  {"close", ocb_l_tarw_close},
                                  {NULL, NULL}};
  static const luaL_Reg walker[] = {
      {"close", ocb_l_walker_gc}, {"next", ocb_l_walker_next}, {NULL, NULL}};
  ocb_createmeta(L, OCB_BLOBW_T, blobw, ocb_l_blobw_gc);
  ocb_createmeta(L, OCB_CODEC_T, codec, ocb_l_noop_gc);
  ocb_createmeta(L, OCB_COMPRESSOR_T, compressor, ocb_l_compressor_gc);
  ocb_createmeta(L, OCB_DIR_T, none, ocb_l_dir_gc);
  ocb_createmeta(L, OCB_HREQ_T, hreq, ocb_l_hreq_gc);
  ocb_createmeta(L, OCB_HTTP_T, http, ocb_l_http_gc);
  ocb_createmeta(L, OCB_JOB_T, job, ocb_l_noop_gc);
  ocb_createmeta(L, OCB_KEY_T, key, ocb_l_key_gc);
  ocb_createmeta(L, OCB_LIMITS_T, limits, ocb_l_noop_gc);
  ocb_createmeta(L, OCB_FD_T, lock, ocb_l_fd_close);
  ocb_createmeta(L, OCB_MATCHER_T, matcher, ocb_l_matcher_gc);
  ocb_createmeta(L, OCB_POLICY_T, none, ocb_l_noop_gc);
  ocb_createmeta(L, OCB_SHA256_T, sha256, ocb_l_sha256_gc);
  ocb_createmeta(L, OCB_STORE_T, store, ocb_l_store_gc);
  ocb_createmeta(L, OCB_TARR_T, tarr, ocb_l_tarr_gc);
  ocb_createmeta(L, OCB_TARW_T, tarw, ocb_l_tarw_gc);
  ocb_createmeta(L, OCB_WALKER_T, walker, ocb_l_walker_gc);
}

#if defined(__GNUC__)
#define OCB_EXPORT __attribute__((visibility("default")))
#else
#define OCB_EXPORT
#endif

OCB_EXPORT int luaopen_ocibuild_core(lua_State *L);

int luaopen_ocibuild_core(lua_State *L) {
  static const luaL_Reg funcs[] = {{"base64_decode", ocb_l_base64_decode},
                                   {"base64_encode", ocb_l_base64_encode},
                                   {"clock", ocb_l_clock},
                                   {"codec", ocb_l_codec},
                                   {"cwd", ocb_l_cwd},
                                   {"http", ocb_l_http},
                                   {"inflate", ocb_l_inflate},
                                   {"key_generate", ocb_l_key_generate},
                                   {"key_load", ocb_l_key_load},
                                   {"layer_job", ocb_l_layer_job},
                                   {"limits", ocb_l_limits},
                                   {"limits_exceeded", ocb_l_limits_over},
                                   {"limits_pause", ocb_l_limits_pause},
                                   {"limits_resume", ocb_l_limits_resume},
                                   {"list_dir", ocb_l_list_dir},
                                   {"lock", ocb_l_lock},
                                   {"machine", ocb_l_machine},
                                   {"matcher", ocb_l_matcher},
                                   {"mkdirs", ocb_l_mkdirs},
                                   {"mkdtemp", ocb_l_mkdtemp},
                                   {"ncpu", ocb_l_ncpu},
                                   {"read_file", ocb_l_read_file},
                                   {"read_secret", ocb_l_read_secret},
                                   {"realpath", ocb_l_realpath},
                                   {"replace_file", ocb_l_replace_file},
                                   {"rmdir", ocb_l_rmdir},
                                   {"sha256", ocb_l_sha256},
                                   {"stat", ocb_l_stat},
                                   {"store", ocb_l_store},
                                   {"tar_policy", ocb_l_tar_policy},
                                   {"tar_reader", ocb_l_tar_reader},
                                   {"tar_writer", ocb_l_tar_writer},
                                   {"terminal", ocb_l_terminal},
                                   {"tmpdir", ocb_l_tmpdir},
                                   {"unlink", ocb_l_unlink},
                                   {"versions", ocb_l_versions},
                                   {"walk", ocb_l_walk},
                                   {"write_key_file", ocb_l_write_key_file},
                                   {NULL, NULL}};
  /* libarchive converts names from LC_CTYPE to UTF-8: pinned to UTF-8 so
   * that names are written as they are whatever the user's locale; without
   * locale files, ASCII names still are (names.c). */
  ocb_names_locale();
  /* Temp files go with the process on SIGINT, SIGTERM...; a host program's
   * own handlers (lua.c's for SIGINT) are left in place. */
  ocb_signals_install(1);
  types(L);
  luaL_newlib(L, funcs);
  return 1;
}
