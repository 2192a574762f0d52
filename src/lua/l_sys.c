/*
 * l_sys.c: small facts about the machine and the file system that the Lua
 * side needs for its decisions, and the few file operations it makes:
 * core.stat, core.cwd, core.ncpu, core.list_dir, core.unlink, core.mkdirs,
 * core.mkdtemp and core.rmdir (the temp folder of a build's extracted files),
 * core.replace_file (atomic), core.lock (flock on a lock file), and for
 * progress output core.clock (monotonic) and core.terminal (tty width),
 * and for prompts core.read_secret (a line typed without echo).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "layer/arch.h"
#include "lcore.h"

const char *ocb_type_name(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISLNK(m)) return "symlink";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  if (S_ISCHR(m)) return "chardev";
  if (S_ISBLK(m)) return "blockdev";
  return "unknown";
}

/* core.stat(path [, nofollow]) -> {type=, size=, mode=, dev=, ino=, uid=,
 * gid=, mtime=, nlink=, target= (a symlink's, with nofollow)} | nil, msg,
 * code. Symlinks are followed (as for a context root or a store given by
 * path) unless nofollow. */
int ocb_l_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  ocb_err err;
  if ((lua_toboolean(L, 2) ? lstat(path, &st) : stat(path, &st)) < 0)
    return ocb_pushfail(L, (ocb_errno(&err, errno, path), &err));
  lua_createtable(L, 0, 8);
  lua_pushstring(L, ocb_type_name(st.st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, st.st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_dev);
  lua_setfield(L, -2, "dev");
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  lua_setfield(L, -2, "ino");
  lua_pushinteger(L, (lua_Integer)st.st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)st.st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  lua_pushinteger(L, (lua_Integer)st.st_nlink);
  lua_setfield(L, -2, "nlink");
  if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf);
    if (n >= 0) {
      lua_pushlstring(L, buf, (size_t)n);
      lua_setfield(L, -2, "target");
    }
  }
  return 1;
}

/* core.cwd() -> the current directory | nil, msg, code */
int ocb_l_cwd(lua_State *L) {
  char buf[4096];
  ocb_err err;
  if (!getcwd(buf, sizeof buf)) {
    ocb_errno(&err, errno, ".");
    return ocb_pushfail(L, &err);
  }
  lua_pushstring(L, buf);
  return 1;
}

int ocb_l_dir_gc(lua_State *L) {
  DIR **d = luaL_checkudata(L, 1, OCB_DIR_T);
  if (*d) closedir(*d);
  *d = NULL;
  return 0;
}

/* core.list_dir(path) -> {names...} (unsorted, no . or ..) | nil, msg, code */
int ocb_l_list_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR **d = lua_newuserdatauv(L, sizeof *d, 0); /* closes the DIR if a push raises */
  struct dirent *de;
  lua_Integer n = 0;
  ocb_err err;
  *d = NULL;
  luaL_setmetatable(L, OCB_DIR_T);
  lua_newtable(L);
  if (!(*d = opendir(path))) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  for (;;) {
    errno = 0;
    if (!(de = readdir(*d))) break;
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    lua_pushstring(L, de->d_name);
    lua_rawseti(L, -2, ++n);
  }
  if (errno) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  closedir(*d);
  *d = NULL;
  return 1;
}

/* core.unlink(path) -> true | nil, msg, code */
int ocb_l_unlink(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ocb_err err;
  if (unlink(path) < 0) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.mkdtemp(prefix) -> a new private folder prefix..XXXXXX (mkdtemp)
 * | nil, msg, code */
int ocb_l_mkdtemp(lua_State *L) {
  size_t n;
  const char *prefix = luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  char *tmpl;
  ocb_err err;
  tmpl = luaL_buffinitsize(L, &b, n + 7);
  memcpy(tmpl, prefix, n);
  memcpy(tmpl + n, "XXXXXX", 7);
  if (!mkdtemp(tmpl)) return ocb_pushfail(L, (ocb_errno(&err, errno, prefix), &err));
  luaL_pushresultsize(&b, n + 6);
  return 1;
}

/* core.tmpdir(dir, prefix) -> path, lock | nil, msg, code: a new private
 * folder dir/prefix..XXXXXX, flock'ed until lock:close() (or the process
 * ends) so that a sweep of dir (store:gc_temps) takes it only once
 * abandoned; abandoned folders of that prefix are removed first. */
int ocb_l_tmpdir(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1), *prefix = luaL_checkstring(L, 2);
  int *fd;
  char *path;
  ocb_err err;
  luaL_argcheck(L, !strchr(prefix, '/'), 2, "a prefix without /");
  fd = lua_newuserdatauv(L, sizeof *fd, 0);
  *fd = -1;
  luaL_setmetatable(L, OCB_FD_T);
  if ((*fd = ocb_tmpdir_make(dir, prefix, &path, &err)) < 0) return ocb_pushfail(L, &err);
  lua_pushstring(L, path);
  free(path);
  lua_insert(L, -2);
  return 2;
}

/* core.rmdir(path) -> true | nil, msg, code (an empty folder only) */
int ocb_l_rmdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ocb_err err;
  if (rmdir(path) < 0) return ocb_pushfail(L, (ocb_errno(&err, errno, path), &err));
  lua_pushboolean(L, 1);
  return 1;
}

/* core.ncpu() -> number of online cores (at least 1) */
int ocb_l_ncpu(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

/* core.realpath(path) -> the absolute path with every symlink resolved
 * | nil, msg, code */
int ocb_l_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *r = realpath(path, NULL);
  ocb_err err;
  if (!r) return ocb_pushfail(L, (ocb_errno(&err, errno, path), &err));
  lua_pushstring(L, r);
  free(r);
  return 1;
}

/* core.versions() -> {libarchive=, zlib=, openssl=}: what output bytes
 * may depend on besides ocibuild's own code (libarchive: "" when it cannot
 * be loaded; writing a tar then says why). */
int ocb_l_versions(lua_State *L) {
  ocb_err err;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, ocb_la_load(&err) == 0 ? ocb_la->version_string() : "");
  lua_setfield(L, -2, "libarchive");
  lua_pushstring(L, zlibVersion());
  lua_setfield(L, -2, "zlib");
  lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
  lua_setfield(L, -2, "openssl");
  return 1;
}

/* core.clock() -> seconds (a float) on the monotonic clock, for rates */
int ocb_l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.terminal(fd) -> its width in columns (0 when unknown) when fd is a
 * terminal, else false */
int ocb_l_terminal(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  struct winsize ws;
  if (!isatty(fd)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushinteger(L, ioctl(fd, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0);
  return 1;
}

/* core.read_secret(fd, prompt) -> the line typed at terminal fd (nil: the
 * controlling terminal, /dev/tty, as standard input may be a pipe), not
 * echoed, after prompt is written to standard error | nil, msg, code (no
 * terminal: ENOTTY). The buffer is a userdata, wiped before it is left to
 * the collector. */
int ocb_l_read_secret(lua_State *L) {
  int tty = lua_isnoneornil(L, 1);
  int fd = tty ? -1 : (int)luaL_checkinteger(L, 1), rc;
  const char *prompt = luaL_optstring(L, 2, "");
  char *buf = lua_newuserdatauv(L, 4096, 0);
  size_t len = 0;
  ocb_err err;
  if (tty && (fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    return ocb_pushfail(L, (ocb_errf(&err, "ENOTTY", "no terminal to ask"), &err));
  rc = ocb_read_secret(fd, prompt, buf, 4096, &len, &err);
  if (tty) close(fd);
  if (rc < 0) return ocb_pushfail(L, &err);
  lua_pushlstring(L, buf, len);
  memset(buf, 0, 4096);
  return 1;
}

/* core.machine() -> uname's machine ("x86_64", "aarch64", ...) */
int ocb_l_machine(lua_State *L) {
  struct utsname u;
  lua_pushstring(L, uname(&u) == 0 ? u.machine : "unknown");
  return 1;
}

/* core.replace_file(path, data [, mode]) -> true | nil, msg, code: a temp
 * file beside path, fsync'ed, renamed over path; mode (such as 0600 for
 * credentials) is set before the file appears. */
int ocb_l_replace_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer mode = luaL_optinteger(L, 3, -1);
  const char *slash = strrchr(path, '/');
  char dir[4096];
  ocb_afile f;
  ocb_err err;
  luaL_argcheck(L, mode >= -1 && mode <= 07777, 3, "mode out of range");
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  if (ocb_afile_open(&f, dir, ".ocibuild-tmp-", &err) < 0) return ocb_pushfail(L, &err);
  if (mode >= 0 && fchmod(f.fd, (mode_t)mode) < 0) {
    ocb_errno(&err, errno, path);
    ocb_afile_abort(&f);
    return ocb_pushfail(L, &err);
  }
  if (ocb_afile_write(&f, data, len, &err) < 0) {
    ocb_afile_abort(&f);
    return ocb_pushfail(L, &err);
  }
  if (ocb_afile_commit(&f, path, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* core.mkdirs(path [, mode=0755]) -> true | nil, msg, code: path and its
 * missing parents (existing folders are fine). */
int ocb_l_mkdirs(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer mode = luaL_optinteger(L, 2, 0755);
  ocb_err err;
  luaL_argcheck(L, mode >= 0 && mode <= 07777, 2, "mode out of range");
  if (ocb_mkdirs(path, (mode_t)mode, &err) < 0) return ocb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* core.lock(path [, shared]) -> lock | nil, msg, code; blocks until the
 * flock on path (created when missing) is granted; lock:close() frees it. */
int ocb_l_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int how = lua_toboolean(L, 2) ? LOCK_SH : LOCK_EX;
  int *fd = lua_newuserdatauv(L, sizeof *fd, 0);
  ocb_err err;
  *fd = -1;
  luaL_setmetatable(L, OCB_FD_T);
  if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
    ocb_errno(&err, errno, path);
    return ocb_pushfail(L, &err);
  }
  while (flock(*fd, how) < 0) {
    int e = errno;
    if (e == EINTR) continue;
    ocb_errno(&err, e, path);
    close(*fd);
    *fd = -1;
    return ocb_pushfail(L, &err);
  }
  return 1;
}

/* fd's bytes into b: at most max, or with more, max and whether there are
 * others. 0, or -1 with err set. */
static int read_into(luaL_Buffer *b, int fd, const char *what, lua_Integer max, int *more,
                     ocb_err *err) {
  lua_Integer total = 0;
  for (;;) {
    char *p = luaL_prepbuffer(b);
    /* with more, one byte past max says whether there is more */
    size_t want = more && max - total < (lua_Integer)LUAL_BUFFERSIZE ? (size_t)(max - total) + 1
                                                                     : LUAL_BUFFERSIZE;
    ssize_t n = read(fd, p, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ocb_errno(err, errno, what);
    if (n == 0) return 0;
    if (more && total + n > max) {
      luaL_addsize(b, (size_t)(max - total));
      *more = 1;
      return 0;
    }
    if ((total += n) > max)
      return ocb_errf(err, "TOOBIG", "%s grew past the %lld bytes allowed", what, (long long)max);
    luaL_addsize(b, (size_t)n);
  }
}

int ocb_push_fd(lua_State *L, int fd, const char *what, lua_Integer max, int *more, ocb_err *err) {
  int *guard = lua_newuserdatauv(L, sizeof *guard, 0); /* closes fd if a push raises */
  struct stat st;
  luaL_Buffer b;
  int r = -1;
  *guard = fd;
  luaL_setmetatable(L, OCB_FD_T);
  if (more) *more = 0;
  if (fstat(fd, &st) < 0)
    ocb_errno(err, errno, what);
  else if (S_ISDIR(st.st_mode))
    ocb_errno(err, EISDIR, what);
  else if (!S_ISREG(st.st_mode))
    ocb_errf(err, "BADTYPE", "not a regular file: %s", what);
  else if (!more && st.st_size > max)
    ocb_errf(err, "TOOBIG", "%s has %lld bytes, more than the %lld allowed", what,
             (long long)st.st_size, (long long)max);
  else {
    luaL_buffinit(L, &b);
    if ((r = read_into(&b, fd, what, max, more, err)) == 0) luaL_pushresult(&b);
  }
  close(fd);
  *guard = -1;
  return r;
}

/* core.read_file(path [, {max=, nofollow=, prefix=}]) -> bytes | nil,
 * msg, code: a regular file, whole, refused past max bytes (default 16
 * MiB), or with prefix, its first max bytes and whether there was
 * more; with nofollow, a symlink at path is ELOOP. */
int ocb_l_read_file(lua_State *L) {
  static const char *const keys[] = {"max", "nofollow", "prefix", NULL};
  const char *path = luaL_checkstring(L, 1);
  lua_Integer max = 16 << 20;
  int nofollow = 0, prefix = 0, more, fd;
  ocb_err err;
  if (!lua_isnoneornil(L, 2)) {
    ocb_opt_known(L, 2, keys);
    max = ocb_opt_int(L, 2, "max", max, 0, LUA_MAXINTEGER);
    nofollow = ocb_opt_bool(L, 2, "nofollow", 0);
    prefix = ocb_opt_bool(L, 2, "prefix", 0);
  }
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
  if (fd < 0) return ocb_pushfail(L, (ocb_errno(&err, errno, path), &err));
  if (ocb_push_fd(L, fd, path, max, prefix ? &more : NULL, &err) < 0) return ocb_pushfail(L, &err);
  if (!prefix) return 1;
  lua_pushboolean(L, more);
  return 2;
}
