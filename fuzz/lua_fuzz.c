/*
 * lua_fuzz.c: a libFuzzer target that hands each input to a Lua function:
 * the script OCB_FUZZ_SCRIPT returns check(bytes), which raises when an
 * invariant breaks. The script sees ocibuild's Lua side and the core as
 * `ocibuild` uses them. A raised error is a crash the fuzzer reports.
 * Lua lines run feed libFuzzer's extra counters, so the Lua code steers
 * the fuzzer as instrumented C does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_ocibuild_core(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

#define NCOUNTERS (1 << 16)
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t counters[NCOUNTERS];

/* A line hook: one counter per (chunk, line). */
static void on_line(lua_State *l, lua_Debug *ar) {
  uintptr_t h;
  if (!lua_getinfo(l, "S", ar)) return;
  h = ((uintptr_t)ar->source * 0x9e3779b97f4a7c15u) ^ (uintptr_t)ar->currentline * 0x85ebca6bu;
  counters[(h ^ (h >> 17)) & (NCOUNTERS - 1)]++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_ocibuild_core);
  lua_setfield(L, -2, "ocibuild.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushstring(L, OCB_FUZZ_LUA_DIR "/?.lua;" OCB_FUZZ_LUA_DIR "/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  if (luaL_dofile(L, OCB_FUZZ_SCRIPT) != LUA_OK || !lua_isfunction(L, -1)) {
    fprintf(stderr, "fuzz: %s: %s\n", OCB_FUZZ_SCRIPT, lua_tostring(L, -1));
    exit(2);
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "ocibuild.fuzz.check");
  lua_sethook(L, on_line, LUA_MASKLINE, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_getfield(L, LUA_REGISTRYINDEX, "ocibuild.fuzz.check");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz: invariant broken: %s\n", lua_tostring(L, -1));
    abort();
  }
  return 0;
}
