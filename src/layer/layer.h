/*
 * layer.h: a layer from a directory: the walk (sorted, lstat, exclusions as
 * BuildKit applies them), the tar stream (libarchive's restricted pax with
 * ocibuild's header policy) and the layer job that chains walk -> tar ->
 * codec pipeline -> blob in one pass and bounded memory.
 */
#ifndef OCB_LAYER_H
#define OCB_LAYER_H

#include <stdint.h>
#include <sys/stat.h>

#include "comp/comp.h"
#include "match/match.h"
#include "ocb.h"
#include "store/store.h"

/*
 * Walk (walk.c): depth first, each directory's entries in byte order, lstat
 * metadata, symlinks never followed, exclusions applied as BuildKit's
 * context transfer applies them. Excluded subtrees are not read unless an
 * exception could match below them.
 */
typedef struct ocb_walk ocb_walk;
typedef struct ocb_entry {
  const char *path; /* relative to the root, no leading or trailing '/' */
  size_t pathlen;
  const char *name; /* last component of path */
  int dirfd;        /* descriptor of the directory holding it, for openat */
  struct stat *st;  /* lstat of the entry */
  int excluded;     /* only with OCB_WALK_EXCLUDED: 1 for an excluded path */
  int why;          /* deciding pattern index, or -1 */
  int fd;           /* a regular file open for reading (see ocb_walk_open_files), or -1 */
} ocb_entry;
enum {
  OCB_WALK_EXCLUDED = 1, /* also report excluded paths (for `ocibuild ls`) */
};
#define OCB_WALK_MAXSKIP 8
/* The matcher must outlive the walk; m may be NULL. */
ocb_walk *ocb_walk_open(const char *root, const ocb_matcher *m, int flags, ocb_err *err);
/* A walk of root that the matcher sees as the folder `base` (relative,
 * clean, no trailing '/') of the tree its patterns are written for: every
 * path is matched as base/path, with base's own results as the parent's
 * (BuildKit's COPY of a context's sub-folder). Paths are reported
 * relative to root. */
ocb_walk *ocb_walk_open_sub(const char *root, const char *base, const ocb_matcher *m, int flags,
                            ocb_err *err);
/* Leave out the file or directory (dev, ino), whatever the patterns say:
 * the store or an output inside the context must not be read into it.
 * -1 when OCB_WALK_MAXSKIP are set already. */
int ocb_walk_skip(ocb_walk *w, dev_t dev, ino_t ino);
/* Before the first entry: with 2 threads or more, make the lstat calls
 * ahead on that many helpers (the walk itself is mostly waiting then). */
void ocb_walk_threads(ocb_walk *w, int threads);
/* Before the first entry: open each regular file (as its folder's listing
 * says) and take its lstat from the descriptor, handed on in e->fd (the
 * walk's, closed at the next entry): a walk whose files are all read (a
 * cold build) looks each path up once, not twice. Not with helpers. */
void ocb_walk_open_files(ocb_walk *w);
/* 1: *e filled (valid until the next call); 0: the end; -1: err filled. */
int ocb_walk_next(ocb_walk *w, ocb_entry *e, ocb_err *err);

/* lstat made ahead of the walk (ahead.c): see walk.c. */
typedef struct ocb_ahead ocb_ahead;
typedef struct ocb_ahead_dir ocb_ahead_dir;
/* threads helpers; NULL with fewer than 2 threads (or none started). */
ocb_ahead *ocb_ahead_new(int threads);
void ocb_ahead_free(ocb_ahead *a);
/* A folder whose n entries (names + offs[i], sorted) the walk will take in
 * order; NULL without helpers (or for fewer than 2 entries). */
ocb_ahead_dir *ocb_ahead_dir_new(ocb_ahead *a, int fd, const char *names, const size_t *offs,
                                 size_t n);
void ocb_ahead_dir_free(ocb_ahead_dir *d);
/* The lstat of entry i (asked in order): 0 with *st filled, or an errno. */
int ocb_ahead_stat(ocb_ahead_dir *d, size_t i, struct stat *st);
/* The walk enters entry i, a subfolder: when a helper listed it, its
 * results (as ocb_ahead_dir_new would make them; first lstats made) and
 * its listing (open on *fd, names + offs[k] sorted, *n of them: the
 * caller's, to free after the results), else NULL. */
ocb_ahead_dir *ocb_ahead_take(ocb_ahead_dir *d, size_t i, int *fd, char **names, size_t **offs,
                              size_t *n);
/* Reads the names of the folder open on fd (not . and ..), sorted
 * bytewise, into names (NUL-separated, each after its type byte, see
 * ocb_dir_type) and offs: 0, or an errno. */
int ocb_dir_list(int fd, char **names, size_t **offs, size_t *n);
/* The type the folder's listing gives the name at names + off: a DT_*
 * value (DT_UNKNOWN where the file system does not say). */
static inline unsigned char ocb_dir_type(const char *names, size_t off) {
  return (unsigned char)names[off - 1];
}
void ocb_walk_close(ocb_walk *w);

/*
 * Names (names.c): libarchive converts tar names through LC_CTYPE, so it
 * must be UTF-8 for names that are not ASCII.
 */
/* Sets LC_CTYPE to C.UTF-8, else to the environment's UTF-8 locale, else
 * to "C" (no locale files): never fails. */
void ocb_names_locale(void);
/* 1 when LC_CTYPE is UTF-8: any UTF-8 name can be written and read. */
int ocb_names_utf8(void);

/*
 * Catalog (catalog.c): what a layer holds, from its tar stream as it goes
 * by: a record per entry, each regular file's SHA-256 and SHA-1 (with
 * files), and captures of the bytes package detectors read: the first
 * bytes of the files the capture matcher selects (max[why] of them, why
 * the deciding pattern), and windows of go_window bytes from each Go build
 * information magic found at a 16-byte offset of an ELF executable (mode
 * 0111, 1024 bytes or more; at most 4 windows). A record is
 *   T<size> <mode> <sha256 hex | -> <sha1 hex | ->\t<path>\0<link>\0
 * T: f file, h hardlink (link: its target), l symlink (link: its target),
 * d dir, p fifo, o other, k a file kept from an earlier build, not read.
 * Paths are clean and relative. Without files (or entries), only files
 * looked into, kept files that would be, and whiteouts (".wh.*") are
 * recorded.
 */
typedef struct ocb_catalog_spec {
  int files;                  /* hash and record every entry */
  int entries;                /* record every entry (without files: no digests) */
  const ocb_matcher *capture; /* NULL: no captures by path */
  const uint64_t *max;        /* bytes kept, per pattern of capture */
  size_t nmax;
  uint64_t go_window; /* 0: executables are not looked into */
} ocb_catalog_spec;
typedef struct ocb_capture {
  const char *path; /* clean, relative */
  size_t pathlen;
  const char *data;
  size_t len;
  int cut;       /* kind 0: the file had more bytes than were kept */
  uint64_t size; /* the file's */
  unsigned mode;
  int kind; /* 0: the file's first bytes; 1: a window from a Go build info magic */
} ocb_capture;
typedef int (*ocb_capture_fn)(void *ud, const ocb_capture *c, ocb_err *err);
typedef struct ocb_catalog ocb_catalog;
/* The matcher must outlive the catalog; fn gets each capture (or NULL). */
ocb_catalog *ocb_catalog_new(const ocb_catalog_spec *spec, ocb_capture_fn fn, void *ud,
                             ocb_err *err);
void ocb_catalog_free(ocb_catalog *c);
/* An entry of the stream (type OCB_TAR_*, -1 for devices; link: a
 * symlink's or hardlink's target): 1 when its body is wanted (then
 * ocb_catalog_data for each piece and ocb_catalog_end, whatever its size),
 * 0 when not, -1 on failure. */
int ocb_catalog_entry(ocb_catalog *c, const char *name, size_t len, int type, const char *link,
                      uint64_t size, unsigned mode, ocb_err *err);
int ocb_catalog_data(ocb_catalog *c, const void *buf, size_t len, ocb_err *err);
int ocb_catalog_end(ocb_catalog *c, ocb_err *err);
/* An entry a rebuild takes from the earlier build without reading it. */
int ocb_catalog_kept(ocb_catalog *c, const char *name, size_t len, int type, uint64_t size,
                     unsigned mode, ocb_err *err);
/* The records so far (valid until the next call on c). */
const char *ocb_catalog_records(const ocb_catalog *c, size_t *len);
/* Reads the layer blob digest of s through c, checking its digest, and the
 * digest of the tar it holds against diff_id (unless NULL); *size: the
 * blob's bytes. */
int ocb_catalog_blob(ocb_catalog *c, const ocb_store *s, const char *digest, const char *diff_id,
                     uint64_t *size, ocb_err *err);

/*
 * Tar (tar.c): libarchive's restricted pax format with a fixed header
 * policy, written through an ocb_out_fn, no padding after the two zero
 * blocks that end it.
 */
typedef struct ocb_tar ocb_tar;
/* Per-path rules: for each attribute, a matcher over the patterns of the
 * rules that set it, the last rule first, so the pattern that decides (the
 * first match, the matcher's `why`) is the last matching rule; val[why] is
 * its value: permission bits, (uid << 32 | gid), or an mtime. */
enum { OCB_RULE_MODE, OCB_RULE_DIR_MODE, OCB_RULE_OWNER, OCB_RULE_MTIME, OCB_RULE_N };
typedef struct ocb_tar_rules {
  const ocb_matcher *m[OCB_RULE_N]; /* NULL: no rule sets the attribute */
  const uint64_t *val[OCB_RULE_N];
} ocb_tar_rules;
typedef struct ocb_tar_policy {
  const char *prefix;  /* joined before every name: "" or "usr/share/site/" */
  const char *display; /* how messages name the context root */
  int64_t mtime;       /* every entry's mtime, or the clamp with keep_mtime */
  int keep_mtime;      /* entries keep their own mtime (whole seconds, >= 0) */
  int clamp;           /* with keep_mtime: mtimes above `mtime` become `mtime` */
  int keep_owner;      /* numeric uid/gid from disk, else uid/gid below */
  uint32_t uid, gid;
  int normalize_mode;         /* dirs 0755; files 0755 if any x bit, else 0644 */
  const ocb_tar_rules *rules; /* NULL: none; applied after the above */
} ocb_tar_policy;
ocb_tar *ocb_tar_new(ocb_out_fn out, void *ud, ocb_err *err);
/* Adds one walked entry, its padding included. Returns 0 when written, 1
 * when skipped (a socket: the caller warns), -1 on failure. */
int ocb_tar_add_walked(ocb_tar *t, const ocb_tar_policy *p, const ocb_entry *e, ocb_err *err);
/* The bytes of file data the entry would get: its size for a regular file
 * not written under another name yet, else 0. */
uint64_t ocb_tar_data_size(const ocb_tar *t, const ocb_entry *e);
/* Records path (a regular file with more than one link) as written
 * earlier in the stream: a later name for (dev, ino) becomes a hardlink to
 * it, as if it had been added here (rebuilds skip unchanged entries). */
int ocb_tar_note_link(ocb_tar *t, const ocb_tar_policy *p, const char *path, size_t len, dev_t dev,
                      ino_t ino, ocb_err *err);

/* An entry not backed by a walked file: archives, generated files, the
 * directories of a destination. */
enum { OCB_TAR_DIR, OCB_TAR_DATA, OCB_TAR_FILE, OCB_TAR_SYMLINK, OCB_TAR_HARDLINK, OCB_TAR_FIFO };
typedef struct ocb_tar_item {
  int kind;
  const char *name; /* relative, clean; directories end in '/' */
  unsigned mode;
  int64_t mtime;
  uint32_t uid, gid;
  const char *data; /* DATA: the body (len bytes); SYMLINK, HARDLINK: the target */
  size_t len;
  int fd;           /* FILE: an open regular file, read to its end */
  const char *path; /* FILE with fd < 0: the file the layer job opens */
  ocb_sha256 *hash; /* DATA, FILE: also fed the body, when not NULL */
} ocb_tar_item;
int ocb_tar_add_item(ocb_tar *t, const ocb_tar_item *it, ocb_err *err);
/* Every entry written from now on is told to c too (NULL: none). */
void ocb_tar_watch(ocb_tar *t, ocb_catalog *c);
/* The permission bits a walked entry gets under p, its rules applied. */
unsigned ocb_tar_perm(const ocb_tar_policy *p, const ocb_entry *e);
int ocb_tar_finish(ocb_tar *t, ocb_err *err);
void ocb_tar_free(ocb_tar *t);
/* ustar.c: into h, the header libarchive's restricted pax writer gives a
 * regular file (dir 0) or a directory (name ending in '/') with these
 * fields, when it gives it a plain ustar header alone (0); -1 when it
 * would not (the name is long or not ASCII, a number is large). */
int ocb_ustar_plain(unsigned char h[512], const char *name, size_t len, int dir, unsigned perm,
                    uint64_t uid, uint64_t gid, uint64_t size, int64_t mtime);

/*
 * Tar reader (untar.c): tar streams, plain, gzip or zstd (detected), read
 * entry by entry; names as stored (the caller checks them); the raw input
 * and the tar stream hashed as they are read.
 */
typedef struct ocb_untar ocb_untar;
typedef struct ocb_untar_entry {
  const char *name;  /* valid until the next call */
  const char *link;  /* symlink target or hardlink name, or NULL */
  int hardlink;      /* link names another entry of the archive */
  int type;          /* OCB_TAR_*, -1 for devices and sockets */
  unsigned filetype; /* the S_IF* bits as stored */
  unsigned mode;     /* permission bits */
  int64_t uid, gid, mtime, size;
  unsigned devmajor, devminor;
} ocb_untar_entry;
/* Takes fd over (closed by ocb_untar_close, or here on failure); what
 * names the input in messages. */
ocb_untar *ocb_untar_open(int fd, const char *what, ocb_err *err);
/* The same, also reading bzip2 and xz (the archives ADD unpacks). */
ocb_untar *ocb_untar_open_any(int fd, const char *what, ocb_err *err);
/* What names the input in messages. */
const char *ocb_untar_what(const ocb_untar *u);
/* 1: *e filled; 0: the end; -1: err filled. */
int ocb_untar_next(ocb_untar *u, ocb_untar_entry *e, ocb_err *err);
/* Streams the current entry's body to out (NULL: skip it). */
int ocb_untar_data(ocb_untar *u, ocb_out_fn out, void *ud, ocb_err *err);
/* After the end: the digest and size of the whole raw input, and (plain,
 * when not NULL) the digest of the whole tar stream it held, which is the
 * input's unless it was compressed (what is left after the archive's end
 * is read and counted too; at most 64 MiB of the tar stream). */
int ocb_untar_finish(ocb_untar *u, char digest[OCB_DIGEST_BUF], uint64_t *size,
                     char plain[OCB_DIGEST_BUF], ocb_err *err);
void ocb_untar_close(ocb_untar *u);

/*
 * Unpacking a tar into a folder (unpack.c): a build context sent as a tar
 * stream, its names checked (see unpack.c), bounded.
 */
typedef struct ocb_unpack_limits {
  uint64_t max_entries, max_bytes;
} ocb_unpack_limits;
typedef struct ocb_unpack_stats {
  uint64_t entries, bytes;
} ocb_unpack_stats;
/* Unpacks what is left of t below the folder open on root. BADTAR for an
 * entry refused. */
int ocb_unpack(ocb_untar *t, int root, const ocb_unpack_limits *lim, ocb_unpack_stats *st,
               ocb_err *err);

/*
 * Skipping unchanged entries (skip.c), for the layer job: walked entries
 * are compared with a layer state, in order until the first change, then
 * by path; see skip.c.
 */
typedef struct ocb_skip ocb_skip;
typedef struct ocb_skip_hooks {
  /* An entry matched in order (its state entry is the same in the new
   * state, see ocb_skip_replay). */
  int (*leave)(void *ud, const char *path, size_t len, const struct stat *st, ocb_err *err);
  void *ud;
} ocb_skip_hooks;
typedef int (*ocb_skip_add_fn)(void *ud, const ocb_lstate_entry *e, ocb_err *err);
/* NULL when there is no usable state for id, or no reuse record of its
 * blob. */
ocb_skip *ocb_skip_open(const ocb_store *s, const char *id, const ocb_reuse *reuse);
/* Before the first change: 1: e is unchanged (nothing to write); 0: e is
 * the first change (see point); -1: err. */
int ocb_skip_entry(ocb_skip *k, const ocb_entry *e, const ocb_skip_hooks *h, ocb_err *err);
/* From the first change on (e included): 1 when e is unchanged, with its
 * bytes' place in the earlier tar; 0 when it is new or changed; -1: err. */
int ocb_skip_match(ocb_skip *k, const ocb_entry *e, uint64_t *off, uint64_t *len, ocb_err *err);
/* At the end of the walk, before any change: 1 when nothing changed at
 * all, else 0 (a change at the end: entries gone). */
int ocb_skip_finish(ocb_skip *k);
/* Calls add with each state entry matched in order so far (for the new
 * state, written only once something changed). */
int ocb_skip_replay(const ocb_skip *k, ocb_skip_add_fn add, void *ud, ocb_err *err);
/* The tar offset of the first change. */
uint64_t ocb_skip_point(const ocb_skip *k);
const ocb_lstate_head *ocb_skip_head(const ocb_skip *k);
/* The last build's blocks and blob, to resume from (take it over). */
ocb_prior *ocb_skip_prior(ocb_skip *k);
void ocb_skip_free(ocb_skip *k);

/*
 * Block cuts (cut.c): the rule that cuts a layer's tar into blocks by its
 * entries alone (see cut.c), as a state: where the current block began and
 * the next cut inside a large entry.
 */
typedef struct ocb_cut {
  uint64_t bs;    /* the codec's nominal block size */
  uint64_t start; /* where the current block began */
  uint64_t slice; /* the next cut inside a large entry, or UINT64_MAX */
  uint64_t end;   /* that entry's data end, past which it makes no cut */
} ocb_cut;
void ocb_cut_init(ocb_cut *k, uint64_t bs, uint64_t start);
/* Before an entry at offset off with `data` bytes of file data, named
 * name: 1 when a block ends at off. */
int ocb_cut_entry(ocb_cut *k, uint64_t off, uint64_t data, const char *name, size_t len);
/* The offset of the next cut inside the current entry, or UINT64_MAX. */
uint64_t ocb_cut_forced(const ocb_cut *k);
/* A block ended at off. */
void ocb_cut_made(ocb_cut *k, uint64_t off);

/*
 * Placing a layer's tar into the pipeline (place.c): bytes made now, or
 * ranges of the earlier tar; blocks cut by the rule above, and a block
 * that is exactly one of the earlier output's taken from its piece.
 */
typedef struct ocb_place ocb_place;
/* The tar goes on at offset pos (a block boundary) into comp. */
ocb_place *ocb_place_new(ocb_comp *comp, uint64_t pos);
void ocb_place_free(ocb_place *p);
uint64_t ocb_place_pos(const ocb_place *p);
/* Before each entry: its file data's size and its name (the cut rule). */
int ocb_place_entry(ocb_place *p, uint64_t data, const char *name, size_t len, ocb_err *err);
/* The entry's bytes about to be written are the earlier tar's from off. */
void ocb_place_known(ocb_place *p, uint64_t off);
/* Bytes made now. */
int ocb_place_write(ocb_place *p, const void *buf, size_t len, ocb_err *err);
/* The earlier tar's bytes [off, off + len), unread. */
int ocb_place_old(ocb_place *p, uint64_t off, uint64_t len, ocb_err *err);
/* 1 when the bytes placed so far in the block go on at the earlier offset off. */
int ocb_place_maps(const ocb_place *p, uint64_t off);
/* Ends the last block. */
int ocb_place_finish(ocb_place *p, ocb_err *err);

/*
 * Notes (notes.c): warnings about what a layer holds that is allowed but
 * surprising: names that differ only in case within a directory, mount
 * points crossed, setuid/setgid bits kept. Fed every entry of the layer (written or
 * unchanged since the last build), in walk order.
 */
typedef struct ocb_notes ocb_notes;
typedef int (*ocb_notes_warn)(void *ud, const char *msg, ocb_err *err);
ocb_notes *ocb_notes_new(dev_t root_dev);
int ocb_notes_entry(ocb_notes *n, const ocb_tar_policy *p, const ocb_entry *e, ocb_notes_warn warn,
                    void *ud, ocb_err *err);
void ocb_notes_free(ocb_notes *n);

/*
 * The layer job (job.c): walk -> tar -> codec pipeline (diff_id, blocks
 * on worker threads, unchanged blocks of an earlier build reused) ->
 * SHA-256 -> blobs/sha256/<hex>. No file bytes leave C.
 */
typedef struct ocb_layer_spec {
  const char *root;           /* NULL: nothing walked, only the items */
  const char *match_base;     /* NULL, or root's path as the matcher sees it (ocb_walk_open_sub) */
  const ocb_matcher *matcher; /* NULL: everything */
  const ocb_store *store;
  const ocb_tar_policy *policy;
  const ocb_codec *codec;
  int reuse;               /* look up and write reuse records, and use the layer state */
  const char *state;       /* the layer state's id (written; read with reuse), or NULL */
  const struct stat *skip; /* (dev, ino) left out of the walk */
  int nskip;
  const ocb_tar_item *items; /* written first, in order; NULL: the prefix's folders */
  size_t nitems;
  const ocb_catalog_spec *catalog; /* NULL: no catalog of the layer */
  /* With a catalog, a rebuild keeps entries unread only when the earlier
   * blob has the note "catalog" whose first line is "ocibuild-catalog
   * <catalog_key>" (what the kept entries' records come from). */
  const char *catalog_key;
} ocb_layer_spec;

typedef struct ocb_layer_stats {
  uint64_t entries;   /* tar entries written */
  uint64_t tar_bytes; /* uncompressed, made by this build */
  uint64_t out_bytes; /* compressed, written */
} ocb_layer_stats;

/* Calls the job makes on the caller's thread; returning -1 stops the job
 * with err (the callback's own failure). */
typedef struct ocb_layer_hooks {
  int (*progress)(void *ud, const ocb_layer_stats *s, ocb_err *err); /* bounded rate */
  int (*warn)(void *ud, const char *msg, ocb_err *err);
  /* With a catalog: each capture, and at the end its records. */
  ocb_capture_fn capture;
  int (*records)(void *ud, const char *rec, size_t len, ocb_err *err);
  /* Without a layer state or an earlier output in the store: a candidate
   * for the layer (blocks and blob digest, fd -1) whose input began with
   * the block id0, into *prior: 1 found, 0 none, -1 stop with err. */
  int (*candidate)(void *ud, const unsigned char id0[32], ocb_prior *prior, ocb_err *err);
  void *ud;
  unsigned interval_ms; /* least time between progress calls */
} ocb_layer_hooks;

typedef struct ocb_layer_result {
  char digest[OCB_DIGEST_BUF];
  uint64_t size;              /* of the blob */
  int created;                /* the blob was not in the store before */
  uint64_t tar_size;          /* of the layer's tar */
  ocb_layer_stats stats;      /* tar_bytes: the tar bytes this build made */
  ocb_comp_result comp;       /* diff_id, blocks, reuse */
  char prior[OCB_DIGEST_BUF]; /* the earlier blob entries were kept from, or "" */
} ocb_layer_result;

/* Builds the layer. When a candidate's blocks left holes in the blob
 * (res->comp.holes), nothing is published yet: *keep holds the job, whose
 * holes the caller fills through the temp file's path before
 * ocb_layer_fill (else ocb_layer_free drops it all). */
typedef struct ocb_layer_job ocb_layer_job;
int ocb_layer_build(const ocb_layer_spec *spec, const ocb_layer_hooks *hooks, ocb_layer_result *res,
                    ocb_layer_job **keep, ocb_err *err);
/* The holes (*n of them, in output order), the candidate's blocks (the
 * ranges of its blob their pieces are), the layer's own, and the file to
 * write them into. */
const ocb_hole *ocb_layer_holes(const ocb_layer_job *j, const ocb_blocks **cand,
                                const ocb_blocks **now, const char **path, uint64_t *n);
/* Checks the pieces written into the holes (BADPIECE: not the blocks'),
 * hashes the blob, publishes it, records its blocks and the layer state;
 * res as ocb_layer_build left it. */
int ocb_layer_fill(ocb_layer_job *j, ocb_layer_result *res, ocb_err *err);
void ocb_layer_free(ocb_layer_job *j);

#endif
