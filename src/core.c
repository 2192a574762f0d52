/*
 * core.c: luaopen_ocibuild_core, the one entry point of the private C
 * module. It fixes the locale libarchive converts names with, then lets
 * each primitive family register its functions and metatables.
 */
#include <locale.h>

#include "ocb.h"

#if defined(__GNUC__)
#define OCB_EXPORT __attribute__((visibility("default")))
#else
#define OCB_EXPORT
#endif

OCB_EXPORT int luaopen_ocibuild_core(lua_State *L);

int luaopen_ocibuild_core(lua_State *L) {
  /* libarchive converts names from LC_CTYPE to UTF-8: pin it so that valid
   * UTF-8 names are written as such whatever the user's locale is. */
  if (!setlocale(LC_CTYPE, "C.UTF-8")) return luaL_error(L, "cannot set locale C.UTF-8");
  lua_newtable(L);
  ocb_open_blob(L);
  ocb_open_gzip(L);
  ocb_open_layer(L);
  ocb_open_layout(L);
  ocb_open_match(L);
  ocb_open_sha256(L);
  ocb_open_sys(L);
  ocb_open_tar(L);
  ocb_open_walk(L);
  return 1;
}
