/*
 * arch.c: libarchive, loaded the first time a tar is written or read.
 * Linking it would load its own dependencies (libxml2, ICU, libstdc++,
 * the compression libraries it reads) into every ocibuild process and
 * cost each start several milliseconds; most commands write no tar.
 * Loaded once per process, as libcurl is (src/net/curl.c).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "arch.h"

#define LIB "libarchive.so.13"

static ocb_la_api api;
static char load_error[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;
const ocb_la_api *ocb_la = &api;

#define SYM(name)                                                                                  \
  do {                                                                                             \
    *(void **)(&api.name) = dlsym(h, "archive_" #name);                                            \
    if (!api.name) {                                                                               \
      snprintf(load_error, sizeof load_error, LIB " has no archive_%s", #name);                    \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

static void load(void) {
  void *h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(load_error, sizeof load_error, "cannot load " LIB " (install libarchive13): %s",
             dlerror());
    return;
  }
  SYM(write_new);
  SYM(write_set_format_pax_restricted);
  SYM(write_set_bytes_per_block);
  SYM(write_open2);
  SYM(write_header);
  SYM(write_data);
  SYM(write_finish_entry);
  SYM(write_close);
  SYM(write_free);
  SYM(error_string);
  SYM(set_error);
  SYM(version_string);
  SYM(read_new);
  SYM(read_support_format_tar);
  SYM(read_support_format_raw);
  SYM(filter_code);
  SYM(read_support_filter_gzip);
  SYM(read_support_filter_zstd);
  SYM(read_support_filter_bzip2);
  SYM(read_support_filter_xz);
  SYM(read_open);
  SYM(read_next_header);
  SYM(read_data);
  SYM(read_free);
  SYM(entry_new);
  SYM(entry_free);
  SYM(entry_clear);
  SYM(entry_copy_pathname);
  SYM(entry_set_perm);
  SYM(entry_set_mtime);
  SYM(entry_set_uid);
  SYM(entry_set_gid);
  SYM(entry_set_filetype);
  SYM(entry_copy_symlink);
  SYM(entry_copy_hardlink);
  SYM(entry_set_size);
  SYM(entry_pathname);
  SYM(entry_hardlink);
  SYM(entry_symlink);
  SYM(entry_filetype);
  SYM(entry_perm);
  SYM(entry_uid);
  SYM(entry_gid);
  SYM(entry_mtime);
  SYM(entry_size_is_set);
  SYM(entry_size);
  SYM(entry_rdevmajor);
  SYM(entry_rdevminor);
  api.loaded = 1;
}

int ocb_la_load(ocb_err *err) {
  pthread_once(&once, load);
  if (!api.loaded) return ocb_errf(err, "ARCHIVE", "%s", load_error);
  return 0;
}
