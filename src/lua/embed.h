/*
 * embed.h: the Lua modules compiled into the ocibuild program (generated
 * by src/lua/tool/luaembed.c at build time), and the searcher that loads them
 * (embed.c). Not in the module ocibuild/core.so, which reads lua/ as ever.
 */
#ifndef OCB_EMBED_H
#define OCB_EMBED_H

#include <stddef.h>

typedef struct ocb_embedded {
  const char *name;          /* "ocibuild.cli" */
  const char *rel;           /* its source below the Lua folder: "ocibuild/cli/init.lua" */
  const unsigned char *code; /* the compiled chunk */
  size_t len;
  size_t size; /* the source's size and CRC-32 when it was compiled */
  unsigned long crc;
} ocb_embedded;

extern const ocb_embedded ocb_embedded_modules[]; /* sorted by name */
extern const size_t ocb_embedded_count;

struct lua_State;
/* Puts the searcher of embedded modules before Lua's own file searcher;
 * dir is the Lua folder their sources are checked against. */
void ocb_embed_install(struct lua_State *L, const char *dir);

#endif
