/*
 * arch.h: the libarchive functions ocibuild uses, loaded by ocb_la_load
 * (arch.c) the first time a tar is written or read.
 */
#ifndef OCB_ARCH_H
#define OCB_ARCH_H

#include <archive.h>
#include <archive_entry.h>

#include "ocb.h"

typedef struct ocb_la_api {
  int loaded;
  __typeof__(archive_write_new) *write_new;
  __typeof__(archive_write_set_format_pax_restricted) *write_set_format_pax_restricted;
  __typeof__(archive_write_set_bytes_per_block) *write_set_bytes_per_block;
  __typeof__(archive_write_open2) *write_open2;
  __typeof__(archive_write_header) *write_header;
  __typeof__(archive_write_data) *write_data;
  __typeof__(archive_write_finish_entry) *write_finish_entry;
  __typeof__(archive_write_close) *write_close;
  __typeof__(archive_write_free) *write_free;
  __typeof__(archive_error_string) *error_string;
  __typeof__(archive_set_error) *set_error;
  __typeof__(archive_version_string) *version_string;
  __typeof__(archive_read_new) *read_new;
  __typeof__(archive_read_support_format_tar) *read_support_format_tar;
  __typeof__(archive_read_support_format_raw) *read_support_format_raw;
  __typeof__(archive_filter_code) *filter_code;
  __typeof__(archive_read_support_filter_gzip) *read_support_filter_gzip;
  __typeof__(archive_read_support_filter_zstd) *read_support_filter_zstd;
  __typeof__(archive_read_support_filter_bzip2) *read_support_filter_bzip2;
  __typeof__(archive_read_support_filter_xz) *read_support_filter_xz;
  __typeof__(archive_read_open) *read_open;
  __typeof__(archive_read_next_header) *read_next_header;
  __typeof__(archive_read_data) *read_data;
  __typeof__(archive_read_free) *read_free;
  __typeof__(archive_entry_new) *entry_new;
  __typeof__(archive_entry_free) *entry_free;
  __typeof__(archive_entry_clear) *entry_clear;
  __typeof__(archive_entry_copy_pathname) *entry_copy_pathname;
  __typeof__(archive_entry_set_perm) *entry_set_perm;
  __typeof__(archive_entry_set_mtime) *entry_set_mtime;
  __typeof__(archive_entry_set_uid) *entry_set_uid;
  __typeof__(archive_entry_set_gid) *entry_set_gid;
  __typeof__(archive_entry_set_filetype) *entry_set_filetype;
  __typeof__(archive_entry_copy_symlink) *entry_copy_symlink;
  __typeof__(archive_entry_copy_hardlink) *entry_copy_hardlink;
  __typeof__(archive_entry_set_size) *entry_set_size;
  __typeof__(archive_entry_pathname) *entry_pathname;
  __typeof__(archive_entry_hardlink) *entry_hardlink;
  __typeof__(archive_entry_symlink) *entry_symlink;
  __typeof__(archive_entry_filetype) *entry_filetype;
  __typeof__(archive_entry_perm) *entry_perm;
  __typeof__(archive_entry_uid) *entry_uid;
  __typeof__(archive_entry_gid) *entry_gid;
  __typeof__(archive_entry_mtime) *entry_mtime;
  __typeof__(archive_entry_size_is_set) *entry_size_is_set;
  __typeof__(archive_entry_size) *entry_size;
  __typeof__(archive_entry_rdevmajor) *entry_rdevmajor;
  __typeof__(archive_entry_rdevminor) *entry_rdevminor;
} ocb_la_api;
extern const ocb_la_api *ocb_la;
/* Loads libarchive, once per process: 0, or -1 with err. */
int ocb_la_load(ocb_err *err);

#endif
