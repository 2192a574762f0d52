/*
 * names.c: the character set libarchive converts tar names with. Its pax
 * writer turns every name from LC_CTYPE's charset into UTF-8 and its
 * reader back (glibc iconv); only a UTF-8 LC_CTYPE passes UTF-8 names
 * through unchanged. A root file system without locale files (a minimal
 * image) has none, and then only ASCII names can be written or read.
 */
#include <langinfo.h>
#include <locale.h>
#include <string.h>

#include "layer.h"

/* C.UTF-8, else the environment's locale when it is UTF-8 (a system that
 * lacks C.UTF-8 but has en_US.UTF-8), else "C": ASCII names are then
 * written byte for byte as under UTF-8, and the others fail (tar.c). */
void ocb_names_locale(void) {
  if (setlocale(LC_CTYPE, "C.UTF-8")) return;
  if (setlocale(LC_CTYPE, "") && ocb_names_utf8()) return;
  setlocale(LC_CTYPE, "C");
}

int ocb_names_utf8(void) {
  return strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
}
