/*
 * curl.c: libcurl, loaded the first time an HTTP client is made. Linking
 * it would load some thirty libraries (TLS, LDAP, Kerberos, SSH) into
 * every ocibuild process, costing each start as much as a whole small
 * build; only the registry commands need them. Loaded once per process.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

static ocb_curl_api api;
static char load_error[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;
const ocb_curl_api *ocb_curl = &api;

#define SYM(field, name)                                                                           \
  do {                                                                                             \
    *(void **)(&api.field) = dlsym(h, name);                                                       \
    if (!api.field) {                                                                              \
      snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s", name);                     \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

static void load(void) {
  void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  CURLcode rc;
  if (!h) {
    snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4 (install libcurl4): %s",
             dlerror());
    return;
  }
  SYM(global_init, "curl_global_init");
  SYM(easy_init, "curl_easy_init");
  SYM(easy_reset, "curl_easy_reset");
  SYM(easy_cleanup, "curl_easy_cleanup");
  SYM(easy_setopt, "curl_easy_setopt");
  SYM(easy_getinfo, "curl_easy_getinfo");
  SYM(easy_strerror, "curl_easy_strerror");
  SYM(multi_init, "curl_multi_init");
  SYM(multi_setopt, "curl_multi_setopt");
  SYM(multi_add_handle, "curl_multi_add_handle");
  SYM(multi_remove_handle, "curl_multi_remove_handle");
  SYM(multi_perform, "curl_multi_perform");
  SYM(multi_poll, "curl_multi_poll");
  SYM(multi_info_read, "curl_multi_info_read");
  SYM(multi_cleanup, "curl_multi_cleanup");
  SYM(multi_strerror, "curl_multi_strerror");
  SYM(share_init, "curl_share_init");
  SYM(share_setopt, "curl_share_setopt");
  SYM(share_cleanup, "curl_share_cleanup");
  SYM(slist_append, "curl_slist_append");
  SYM(slist_free_all, "curl_slist_free_all");
  if ((rc = api.global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
    snprintf(load_error, sizeof load_error, "libcurl: %s", api.easy_strerror(rc));
  else
    api.loaded = 1;
}

int ocb_curl_load(ocb_err *err) {
  pthread_once(&once, load);
  if (!api.loaded) return ocb_errf(err, "HTTP", "%s", load_error);
  return 0;
}
