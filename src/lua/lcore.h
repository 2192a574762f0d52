/*
 * lcore.h: what the Lua bindings share: the failure triple, metatables,
 * option tables read strictly, the userdata types one binding takes from
 * another, and every Lua-callable function, which core.c registers.
 */
#ifndef OCB_LCORE_H
#define OCB_LCORE_H

#include <lauxlib.h>
#include <lua.h>

#include "comp/comp.h"
#include "layer/layer.h"
#include "match/match.h"
#include "ocb.h"
#include "store/store.h"

#define OCB_CODEC_T "ocibuild.Codec"
#define OCB_COMPRESSOR_T "ocibuild.Compressor"
#define OCB_DIR_T "ocibuild.Dir"
#define OCB_JOB_T "ocibuild.LayerJob"
#define OCB_KEY_T "ocibuild.Key"
#define OCB_LIMITS_T "ocibuild.Limits"
#define OCB_FD_T "ocibuild.Fd" /* an open descriptor: a held lock, a file being read */
#define OCB_HREQ_T "ocibuild.HttpRequest"
#define OCB_HTTP_T "ocibuild.Http"
#define OCB_MATCHER_T "ocibuild.Matcher"
#define OCB_POLICY_T "ocibuild.TarPolicy"
#define OCB_SHA256_T "ocibuild.Sha256"
#define OCB_STORE_T "ocibuild.Store"
#define OCB_BLOBW_T "ocibuild.BlobWriter"
#define OCB_TARR_T "ocibuild.TarReader"
#define OCB_TARW_T "ocibuild.TarWriter"
#define OCB_WALKER_T "ocibuild.Walker"

/* Pushes nil, msg, code; returns 3 (`return ocb_pushfail(L, &err)`). */
int ocb_pushfail(lua_State *L, const ocb_err *err);
/* A metatable named tname: methods as __index, gc as __gc and __close. */
void ocb_createmeta(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc);

/* Option tables: every key must be one of `keys` (a misspelt option is an
 * error, never ignored); fields are read with their type checked. */
void ocb_opt_known(lua_State *L, int idx, const char *const *keys);
lua_Integer ocb_opt_int(lua_State *L, int idx, const char *k, lua_Integer def, lua_Integer lo,
                        lua_Integer hi);
const char *ocb_opt_str(lua_State *L, int idx, const char *k, const char *def);
int ocb_opt_bool(lua_State *L, int idx, const char *k, int def);
/* The paths of the list option "skip" that exist, stat'ed into out (room
 * for OCB_WALK_MAXSKIP; more raise). Returns how many. */
int ocb_opt_skip(lua_State *L, int idx, struct stat *out);

/* Reads the file open on fd (taken over: closed in every case, also when
 * a push raises) into a Lua string on the stack: at most max bytes (more,
 * and a file that grows past max while read, is TOOBIG), or with more,
 * its first max bytes and *more set when there are others. A folder is
 * EISDIR, any other file that is not a regular one BADTYPE; what names it
 * in messages. 0, or -1 with err set. */
int ocb_push_fd(lua_State *L, int fd, const char *what, lua_Integer max, int *more, ocb_err *err);

/* "file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev". */
const char *ocb_type_name(mode_t m);

/* A hasher (core.sha256()): the bytes it has seen so far. */
typedef struct ocb_lhash {
  ocb_sha256 *h;
  uint64_t size;
} ocb_lhash;

/* Userdata one binding takes from another. */
ocb_matcher *ocb_tomatcher(lua_State *L, int idx); /* NULL for nil */
ocb_store *ocb_checkstore(lua_State *L, int idx);
const ocb_codec *ocb_checkcodec(lua_State *L, int idx);
const ocb_tar_policy *ocb_checkpolicy(lua_State *L, int idx);
/* A tar item table at idx (l_tar.c); files: "file" items (a path) allowed. */
void ocb_check_item(lua_State *L, int idx, ocb_tar_item *it, int files);
ocb_lhash *ocb_checkhasher(lua_State *L, int idx);

/* Lua-callable functions, by binding file. */
int ocb_l_codec(lua_State *L); /* l_comp.c */
int ocb_l_codec_compressor(lua_State *L);
int ocb_l_codec_key(lua_State *L);
int ocb_l_compressor_close(lua_State *L);
int ocb_l_compressor_gc(lua_State *L);
int ocb_l_compressor_write(lua_State *L);
int ocb_l_inflate(lua_State *L);
int ocb_l_noop_gc(lua_State *L);

int ocb_l_http(lua_State *L); /* l_http.c */
int ocb_l_http_gc(lua_State *L);
int ocb_l_http_now(lua_State *L);
int ocb_l_http_start(lua_State *L);
int ocb_l_http_wait(lua_State *L);
int ocb_l_hreq_gc(lua_State *L);
int ocb_l_hreq_info(lua_State *L);
int ocb_l_hreq_result(lua_State *L);

int ocb_l_layer_job(lua_State *L); /* l_layer.c */
int ocb_l_job_run(lua_State *L);

int ocb_l_limits(lua_State *L); /* l_limits.c */
int ocb_l_limits_exceeded(lua_State *L);
int ocb_l_limits_over(lua_State *L);
int ocb_l_limits_pause(lua_State *L);
int ocb_l_limits_resume(lua_State *L);
int ocb_l_limits_run(lua_State *L);
int ocb_l_limits_where(lua_State *L);

int ocb_l_store_note_read(lua_State *L); /* l_note.c */
int ocb_l_store_note_write(lua_State *L);
int ocb_l_store_prune_notes(lua_State *L);

int ocb_l_matcher(lua_State *L); /* l_match.c */
int ocb_l_matcher_descend(lua_State *L);
int ocb_l_matcher_gc(lua_State *L);
int ocb_l_matcher_matches(lua_State *L);
int ocb_l_matcher_walk(lua_State *L);

int ocb_l_base64_decode(lua_State *L); /* l_sign.c */
int ocb_l_base64_encode(lua_State *L);
int ocb_l_key_gc(lua_State *L);
int ocb_l_key_generate(lua_State *L);
int ocb_l_key_id(lua_State *L);
int ocb_l_key_load(lua_State *L);
int ocb_l_key_private(lua_State *L);
int ocb_l_key_private_pem(lua_State *L);
int ocb_l_key_public_pem(lua_State *L);
int ocb_l_key_sign(lua_State *L);
int ocb_l_key_verify(lua_State *L);
int ocb_l_read_secret(lua_State *L);
int ocb_l_write_key_file(lua_State *L);

int ocb_l_sha256(lua_State *L); /* l_sha256.c */
int ocb_l_sha256_digest(lua_State *L);
int ocb_l_sha256_gc(lua_State *L);
int ocb_l_sha256_update(lua_State *L);

int ocb_l_store(lua_State *L); /* l_store.c */
int ocb_l_store_blob_path(lua_State *L);
int ocb_l_store_copy_blob(lua_State *L);
int ocb_l_store_blob_read(lua_State *L);
int ocb_l_store_blob_verify(lua_State *L);
int ocb_l_store_blob_writer(lua_State *L);
int ocb_l_store_blobs(lua_State *L);
int ocb_l_store_gc(lua_State *L);
int ocb_l_store_gc_temps(lua_State *L);
int ocb_l_store_lock(lua_State *L);
int ocb_l_store_prune_reuse(lua_State *L);
int ocb_l_store_read(lua_State *L);
int ocb_l_store_remove_blob(lua_State *L);
int ocb_l_store_replace(lua_State *L);
int ocb_l_blobw_close(lua_State *L);
int ocb_l_blobw_gc(lua_State *L);
int ocb_l_blobw_write(lua_State *L);
int ocb_l_fd_close(lua_State *L);
int ocb_l_fd_try_exclusive(lua_State *L);

int ocb_l_clock(lua_State *L); /* l_sys.c */
int ocb_l_cwd(lua_State *L);
int ocb_l_dir_gc(lua_State *L);
int ocb_l_list_dir(lua_State *L);
int ocb_l_lock(lua_State *L);
int ocb_l_machine(lua_State *L);
int ocb_l_mkdirs(lua_State *L);
int ocb_l_mkdtemp(lua_State *L);
int ocb_l_tmpdir(lua_State *L);
int ocb_l_rmdir(lua_State *L);
int ocb_l_ncpu(lua_State *L);
int ocb_l_read_file(lua_State *L);
int ocb_l_realpath(lua_State *L);
int ocb_l_replace_file(lua_State *L);
int ocb_l_stat(lua_State *L);
int ocb_l_terminal(lua_State *L);
int ocb_l_unlink(lua_State *L);
int ocb_l_versions(lua_State *L);

int ocb_l_tar_policy(lua_State *L); /* l_tar.c */
int ocb_l_tar_writer(lua_State *L);
int ocb_l_tar_reader(lua_State *L); /* l_untar.c */
int ocb_l_tarr_finish(lua_State *L);
int ocb_l_tarr_gc(lua_State *L);
int ocb_l_tarr_next(lua_State *L);
int ocb_l_tarr_read(lua_State *L);
int ocb_l_tarr_sha256(lua_State *L);
int ocb_l_tarr_to_blob(lua_State *L);
int ocb_l_tarr_to_file(lua_State *L);
int ocb_l_tarw_add(lua_State *L);
int ocb_l_tarw_add_blob(lua_State *L);
int ocb_l_tarw_close(lua_State *L);
int ocb_l_tarw_gc(lua_State *L);

int ocb_l_walk(lua_State *L); /* l_walk.c */
int ocb_l_walker_gc(lua_State *L);
int ocb_l_walker_next(lua_State *L);

#endif
