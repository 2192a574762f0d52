/*
 * l_limits.c: the limits a build script runs under. An instruction budget
 * is a count hook, which every coroutine made under it inherits (Lua copies
 * a thread's hook into the threads it makes); a memory ceiling is an
 * allocator wrapping the state's own, whoever made the state (the ocibuild
 * program or a plain lua5.4 that required ocibuild). The same hook keeps
 * the last line run in one of the script's files, for messages. While
 * ocibuild works for the script (an API call), the limits are paused: its
 * instructions are not counted and its allocations never refused (what it
 * keeps for the script afterwards, labels or layer lists, counts).
 *   lim = core.limits{instructions=, memory=, sources=, stall=, stalled=}
 *   ok, ... = lim:run(fn, ...)        pcall(fn, ...) under the limits
 *   lim:exceeded() -> nil | "instructions" | "memory"
 *   lim:where() -> "FILE:LINE" | nil  the last line run in a source
 *   core.limits_pause() -> true when limits run (now paused); nests
 *   core.limits_resume()
 *   core.limits_exceeded() -> nil | message, for the running limits
 * sources maps a chunk name ("@/dir/build.lua") to the name messages show.
 * A count hook cannot stop a call of a C function (a pattern on a long
 * string can run for hours): with stall (seconds), a watcher ends the
 * process once the script's thread has burnt that much CPU time with no
 * hook event and no pause, saying "FILE:LINE: " and the text stalled
 * (see stall.c). The outermost run with one watches for all runs inside it.
 */
#include <string.h>

#include "lcore.h"

/* Instructions between two count events. */
#define STEP 1000

enum { OVER_NONE, OVER_INSTR, OVER_MEM };

typedef struct limits {
  lua_Alloc f; /* the allocator wrapped, and its data */
  void *ud;
  int running, paused;
  int over;
  long long budget, left; /* instructions; 0: no budget */
  long long ceiling;      /* bytes; 0: no ceiling */
  long long in_use;       /* heap growth since run (may go below 0) */
  long long collected;    /* in_use after the last collection made here */
  /* the growth refused last, to tell Lua's retry after a full collection */
  const void *r_ptr;
  size_t r_osize, r_nsize;
  long long r_grow;
  int refused;
  const void *fn;     /* the function of the last line event (user value 2) */
  const char *fn_src; /* its file's name for messages, when a script's */
  const char *shown;  /* the script file of the last line seen in one */
  int line;
  double stall;        /* seconds; 0: not watched */
  const char *stalled; /* the message's text, kept by user value 3 */
  ocb_stall *watch;    /* when this run started the watch */
  int held;            /* the watch's hold when this run started */
  /* what the thread's hook was before run (nested runs) */
  lua_Hook prev_hook;
  int prev_mask, prev_count;
} limits;

static const char ACTIVE = 0; /* registry key: the running limits */

/* The watch of the outermost run that asked for one, beaten by every run
 * inside it, and held while ocibuild works for the script. */
static ocb_stall *watch;
static int watch_held;

static void hold(int held) {
  watch_held = held;
  ocb_stall_hold(watch, held);
}

static const char *const MESSAGES[] = {NULL, "the instruction budget is spent",
                                       "the memory ceiling is reached"};

static limits *check(lua_State *L) {
  return luaL_checkudata(L, 1, OCB_LIMITS_T);
}

static limits *active(lua_State *L) {
  limits *lim;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &ACTIVE);
  lim = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return lim && lim->running ? lim : NULL;
}

/* Refuses a growth past the ceiling (never while paused). Lua answers a
 * refusal with a full collection and the same request again: refused
 * twice, the script holds that much. Other refusals (the auxiliary
 * library's buffers ask once) are weighed by the hook, after a collection. */
static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  limits *lim = ud;
  size_t old = ptr ? osize : 0;
  int again = lim->refused && lim->r_ptr == ptr && lim->r_osize == osize && lim->r_nsize == nsize;
  void *p;
  if (nsize > old && lim->ceiling && !lim->paused &&
      lim->in_use + (long long)(nsize - old) > lim->ceiling) {
    if (again && !lim->over) lim->over = OVER_MEM;
    lim->refused = 1, lim->r_ptr = ptr, lim->r_osize = osize, lim->r_nsize = nsize;
    lim->r_grow = (long long)(nsize - old);
    return NULL;
  }
  p = lim->f(lim->ud, ptr, osize, nsize);
  if (p || nsize == 0) lim->in_use += (long long)nsize - (long long)old;
  if (p && again) lim->refused = 0;
  return p;
}

static void collect(lua_State *L, limits *lim) {
  lua_gc(L, LUA_GCCOLLECT);
  lim->collected = lim->in_use;
}

/* At a line or count event. After a refusal nobody asked again: collects
 * garbage and tells whether the script holds so much that the refused
 * growth is past the ceiling. Near the ceiling, collects every eighth of
 * it, so that garbage seldom causes a refusal (the auxiliary library's
 * buffers, string.rep's or table.concat's, ask once, without collecting). */
static void weigh(lua_State *L, limits *lim) {
  if (lim->refused) {
    lim->refused = 0;
    collect(L, lim);
    if (lim->in_use + lim->r_grow > lim->ceiling && !lim->over) lim->over = OVER_MEM;
  } else if (lim->in_use > lim->ceiling / 4 * 3 &&
             lim->in_use > lim->collected + lim->ceiling / 8) {
    collect(L, lim);
  }
}

/* The line event: keeps the line when it is in one of the script's files.
 * The function last seen (kept alive in user value 2, so that its address
 * names it) is compared first: most lines run in the function before. */
static void track(lua_State *L, limits *lim, lua_Debug *ar) {
  const void *fn;
  if (!lua_getinfo(L, "f", ar)) return;
  fn = lua_topointer(L, -1);
  if (fn != lim->fn) {
    lim->fn = fn;
    lim->fn_src = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ACTIVE);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, -2, 2);
    if (lua_getinfo(L, "S", ar)) {
      lua_getiuservalue(L, -1, 1);
      if (lua_getfield(L, -1, ar->source) == LUA_TSTRING)
        lim->fn_src = lua_tostring(L, -1); /* a value of `sources`, kept by it */
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (lim->fn_src) lim->shown = lim->fn_src, lim->line = ar->currentline;
}

static void hook(lua_State *L, lua_Debug *ar) {
  limits *lim;
  void *ud;
  /* the running limits are the allocator's data */
  if (lua_getallocf(L, &ud) != alloc) return;
  lim = ud;
  if (!lim->running || lim->paused) return;
  ocb_stall_beat(watch);
  if (lim->ceiling) weigh(L, lim);
  if (ar->event == LUA_HOOKLINE)
    track(L, lim, ar);
  else if (lim->budget && (lim->left -= STEP) <= 0 && !lim->over)
    lim->over = OVER_INSTR;
  if (lim->over) {
    lua_pushstring(L, MESSAGES[lim->over]);
    lua_error(L);
  }
}

static void set_hook(lua_State *L, limits *lim) {
  lua_sethook(L, hook, LUA_MASKLINE | (lim->budget ? LUA_MASKCOUNT : 0), STEP);
}

/* The watcher's line: where the script was, and why it ends. */
static const char *say(void *ud, double limit) {
  static char buf[768];
  const limits *lim = ud;
  (void)limit;
  if (lim->shown)
    snprintf(buf, sizeof buf, "%.300s:%d: %s", lim->shown, lim->line, lim->stalled);
  else
    snprintf(buf, sizeof buf, "%s", lim->stalled);
  return buf;
}

/* core.limits{instructions=, memory=, sources=, stall=, stalled=} */
int ocb_l_limits(lua_State *L) {
  static const char *const keys[] = {"instructions", "memory", "sources", "stall", "stalled", NULL};
  limits *lim;
  ocb_opt_known(L, 1, keys);
  lim = lua_newuserdatauv(L, sizeof *lim, 3);
  memset(lim, 0, sizeof *lim);
  luaL_setmetatable(L, OCB_LIMITS_T);
  lim->budget = ocb_opt_int(L, 1, "instructions", 0, 0, LUA_MAXINTEGER);
  lim->ceiling = ocb_opt_int(L, 1, "memory", 0, 0, LUA_MAXINTEGER);
  if (lua_getfield(L, 1, "sources") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  luaL_argexpected(L, lua_type(L, -1) == LUA_TTABLE, 1, "sources: a table");
  lua_getfield(L, 1, "stall");
  lim->stall = luaL_optnumber(L, -1, 0);
  luaL_argcheck(L, lim->stall >= 0, 1, "stall: seconds, at least 0");
  lua_pop(L, 1);
  /* the text, kept alive in the sources table */
  lua_getfield(L, 1, "stalled");
  lim->stalled =
      lua_isnil(L, -1) ? "the build script spent too long in one call" : luaL_checkstring(L, -1);
  lua_setiuservalue(L, -3, 3);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static void start(lua_State *L, limits *lim) {
  lim->prev_hook = lua_gethook(L);
  lim->prev_mask = lua_gethookmask(L);
  lim->prev_count = lua_gethookcount(L);
  lim->f = lua_getallocf(L, &lim->ud);
  lim->left = lim->budget;
  lim->in_use = lim->collected = 0;
  lim->paused = lim->refused = 0;
  lim->over = OVER_NONE;
  lim->fn = NULL;
  lim->fn_src = lim->shown = NULL;
  lim->running = 1;
  lua_setallocf(L, alloc, lim);
  set_hook(L, lim);
  lim->held = watch_held;
  if (lim->stall > 0 && !watch) watch = lim->watch = ocb_stall_start(lim->stall, say, lim);
  hold(0);
}

static void stop(lua_State *L, limits *lim) {
  if (lim->watch) {
    ocb_stall_stop(lim->watch);
    watch = lim->watch = NULL;
  }
  hold(lim->held);
  lua_sethook(L, lim->prev_hook, lim->prev_mask, lim->prev_count);
  lua_setallocf(L, lim->f, lim->ud);
  lim->running = 0;
}

/* lim:run(fn, ...) -> true, ... | false, error object. Runs nest (a
 * script may run another): each puts back what it found. */
int ocb_l_limits_run(lua_State *L) {
  limits *lim = check(L);
  int status, n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lim->running) return luaL_error(L, "these limits are running already");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &ACTIVE); /* the outer run's, put back after */
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ACTIVE);
  lua_insert(L, 2);
  start(L, lim);
  status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
  stop(L, lim);
  if (status == LUA_ERRMEM && lim->ceiling && !lim->over) lim->over = OVER_MEM;
  lua_pushvalue(L, 2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ACTIVE);
  lua_remove(L, 2);
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1);
  return lua_gettop(L);
}

int ocb_l_limits_exceeded(lua_State *L) {
  static const char *const names[] = {NULL, "instructions", "memory"};
  limits *lim = check(L);
  if (!lim->over) return 0;
  lua_pushstring(L, names[lim->over]);
  return 1;
}

int ocb_l_limits_where(lua_State *L) {
  limits *lim = check(L);
  if (!lim->shown) return 0;
  lua_pushfstring(L, "%s:%d", lim->shown, lim->line);
  return 1;
}

/* core.limits_exceeded(): what a sandbox's pcall checks after an error, so
 * that a caught error never lets a script past its limits. */
int ocb_l_limits_over(lua_State *L) {
  limits *lim = active(L);
  if (!lim || !lim->over) return 0;
  lua_pushstring(L, MESSAGES[lim->over]);
  return 1;
}

int ocb_l_limits_pause(lua_State *L) {
  limits *lim = active(L);
  if (!lim) return 0;
  if (lim->paused++ == 0) {
    lua_sethook(L, NULL, 0, 0);
    hold(1);
  }
  lua_pushboolean(L, 1);
  return 1;
}

int ocb_l_limits_resume(lua_State *L) {
  limits *lim = active(L);
  if (lim && lim->paused > 0 && --lim->paused == 0) {
    set_hook(L, lim);
    hold(0);
  }
  return 0;
}
