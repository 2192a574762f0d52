/*
 * job.c: the layer job, one pass in bounded memory: walk -> tar -> codec
 * pipeline (diff_id and blocks on worker threads, unchanged blocks of the
 * earlier build reused) -> SHA-256 -> blobs/sha256/<hex>. The caller's
 * items (or the prefix's folders) come before the walk. With a layer
 * state, unchanged entries are not read at all (skip.c) and the stream
 * resumes at the last block boundary before the first change. Progress and
 * warnings go to the caller's hooks, on the caller's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "layer.h"

typedef struct job {
  const ocb_layer_spec *spec;
  const ocb_layer_hooks *hooks;
  ocb_walk *walk;
  ocb_tar *tar;
  ocb_comp *comp;
  ocb_blobw blob;
  ocb_reuse reuse;
  ocb_skip *skip;           /* while unchanged entries are skipped */
  ocb_lstate_writer *state; /* the new layer state, or NULL */
  ocb_notes *notes;         /* surprising but allowed entries, to warn about */
  ocb_layer_stats stats;
  uint64_t pos;   /* tar offset of the next byte the tar writer makes */
  uint64_t drop;  /* bytes before this offset are the earlier blob's */
  uint64_t since; /* when this build began, in the file system's time (ns) */
  int rootfd;
  uint64_t next_tick; /* monotonic ms of the next progress call */
} job;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Progress, at most once per interval. */
static int tick(job *j, ocb_err *err) {
  uint64_t t;
  if (!j->hooks || !j->hooks->progress) return 0;
  t = now_ms();
  if (t < j->next_tick) return 0;
  j->next_tick = t + j->hooks->interval_ms;
  j->stats.out_bytes = j->blob.size;
  return j->hooks->progress(j->hooks->ud, &j->stats, err);
}

/* Tar bytes, into the pipeline (which hashes them for the diff_id), less
 * those before `drop`. */
static int tar_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  job *j = ud;
  const char *p = buf;
  uint64_t start = j->pos;
  j->pos += len;
  if (j->pos <= j->drop) return 0;
  if (start < j->drop) p += j->drop - start, len -= (size_t)(j->drop - start);
  j->stats.tar_bytes += len;
  if (ocb_comp_write(j->comp, p, len, err) < 0) return -1;
  return tick(j, err);
}

static uint64_t at_header(const job *j) {
  return (j->pos + 511) / 512 * 512; /* the writer pads an entry when the next begins */
}

/* Directory entries for each component of the destination prefix. */
static int add_prefix(job *j, ocb_err *err) {
  const ocb_tar_policy *p = j->spec->policy;
  char name[4096];
  size_t i, n = strlen(p->prefix);
  ocb_tar_item it;
  if (n >= sizeof name) return ocb_errno(err, ENAMETOOLONG, p->prefix);
  memset(&it, 0, sizeof it);
  it.kind = OCB_TAR_DIR, it.name = name, it.mode = 0755, it.mtime = p->mtime;
  it.uid = p->uid, it.gid = p->gid, it.fd = -1;
  for (i = 0; i < n; i++) {
    if (p->prefix[i] != '/') continue;
    memcpy(name, p->prefix, i + 1);
    name[i + 1] = '\0';
    if (ocb_tar_add_item(j->tar, &it, err) < 0) return -1;
  }
  return 0;
}

/* The caller's items instead: generated files, whiteouts, the folders of
 * the destination the image does not have yet. A FILE item without a
 * descriptor is opened here, following links, and closed once written. */
static int add_items(job *j, ocb_err *err) {
  size_t i;
  for (i = 0; i < j->spec->nitems; i++) {
    ocb_tar_item it = j->spec->items[i];
    int r;
    if (it.kind == OCB_TAR_FILE && it.fd < 0 &&
        (it.fd = open(it.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
      return ocb_errno(err, errno, it.path);
    r = ocb_tar_add_item(j->tar, &it, err);
    if (it.fd != j->spec->items[i].fd) close(it.fd);
    if (r < 0) return -1;
  }
  return 0;
}

/* What comes before the walk: the items, or the prefix's folders. */
static int add_head(job *j, ocb_err *err) {
  return j->spec->items ? add_items(j, err) : add_prefix(j, err);
}

/* How many entries add_head makes. */
static uint64_t head_entries(const ocb_layer_spec *s) {
  uint64_t n = 0;
  const char *c;
  if (s->items) return s->nitems;
  for (c = s->policy->prefix; *c; c++) n += *c == '/';
  return n;
}

static int warn(job *j, const char *msg, ocb_err *err) {
  if (!j->hooks || !j->hooks->warn) return 0;
  return j->hooks->warn(j->hooks->ud, msg, err);
}

static int warn_cb(void *ud, const char *msg, ocb_err *err) {
  return warn(ud, msg, err);
}

static uint64_t ns(const struct timespec *t) {
  return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* The layer state entry for a walked entry at tar offset off. */
static int record(job *j, const char *path, size_t len, const struct stat *st, uint64_t off,
                  ocb_err *err) {
  ocb_lstate_entry e;
  if (!j->state) return 0;
  e.path = path, e.pathlen = len, e.off = off;
  e.dev = (uint64_t)st->st_dev, e.ino = (uint64_t)st->st_ino, e.size = (uint64_t)st->st_size;
  e.mtime = ns(&st->st_mtim), e.ctime = ns(&st->st_ctim);
  e.mode = (uint32_t)st->st_mode, e.uid = (uint32_t)st->st_uid, e.gid = (uint32_t)st->st_gid;
  e.nlink = (uint32_t)st->st_nlink;
  return ocb_lstate_add(j->state, &e, err);
}

/* Adds one walked entry (0 written, 1 left out, -1 err). */
static int add(job *j, const ocb_entry *e, ocb_err *err) {
  uint64_t off = at_header(j);
  int a = ocb_tar_add_walked(j->tar, j->spec->policy, e, err);
  if (a != 0) return a;
  j->stats.entries++;
  return record(j, e->path, e->pathlen, e->st, off, err);
}

static int keep_cb(void *ud, const ocb_lstate_entry *e, ocb_err *err) {
  job *j = ud;
  j->stats.entries++;
  return j->state ? ocb_lstate_add(j->state, e, err) : 0;
}

static int leave_cb(void *ud, const char *path, size_t len, const struct stat *st, ocb_err *err) {
  job *j = ud;
  if (!S_ISREG(st->st_mode) || st->st_nlink < 2) return 0;
  return ocb_tar_note_link(j->tar, j->spec->policy, path, len, st->st_dev, st->st_ino, err);
}

/* The folder holding a held entry, opened below the root without
 * following any symlink on the way. */
static int open_parent(job *j, const char *path, size_t len, ocb_err *err) {
  struct open_how how;
  char dir[4096];
  const char *slash = memrchr(path, '/', len);
  int fd;
  if (!slash) return dup(j->rootfd);
  if ((size_t)(slash - path) >= sizeof dir) return ocb_errno(err, ENAMETOOLONG, path);
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  fd = (int)syscall(SYS_openat2, j->rootfd, dir, &how, sizeof how);
  if (fd < 0) {
    if (errno == ELOOP || errno == EXDEV || errno == ENOENT || errno == ENOTDIR)
      return ocb_errf(err, "CHANGED", "CHANGED: file changed as we read it: %s/%s",
                      j->spec->policy->display, path);
    return ocb_errno(err, errno, path);
  }
  return fd;
}

/* The first change was found: the stream starts, at the last block
 * boundary before it, with the held entries tarred again. */
static int start_output(job *j, ocb_err *err) {
  uint64_t point = ocb_skip_point(j->skip), bs = ocb_comp_block_size(j->comp), k = point / bs;
  const struct stat *st;
  const char *path;
  size_t len, i;
  uint64_t off;
  int r = 0;
  if (k == 0) {
    if (add_head(j, err) < 0) return -1;
  } else {
    if (ocb_comp_resume(j->comp, ocb_skip_prior(j->skip), k, err) < 0) return -1;
    j->drop = k * bs;
    j->pos = ocb_skip_held(j->skip, &path, &len, &st, &off, 0) ? off : point;
  }
  for (i = 0; r == 0 && ocb_skip_held(j->skip, &path, &len, &st, &off, i); i++) {
    ocb_entry e;
    struct stat copy = *st;
    int dirfd = open_parent(j, path, len, err);
    const char *slash = memrchr(path, '/', len);
    if (dirfd < 0) return -1;
    memset(&e, 0, sizeof e);
    e.path = path, e.pathlen = len, e.name = slash ? slash + 1 : path;
    e.dirfd = dirfd, e.st = &copy, e.why = -1;
    r = ocb_tar_add_walked(j->tar, j->spec->policy, &e, err) < 0 ? -1 : 0;
    close(dirfd);
  }
  ocb_skip_free(j->skip);
  j->skip = NULL;
  return r;
}

/* Walks and tars everything into the pipeline; 1 when nothing changed
 * since the layer state (then nothing was written). */
static int fill(job *j, ocb_err *err) {
  const ocb_tar_policy *pol = j->spec->policy;
  const ocb_skip_hooks hooks = {keep_cb, leave_cb, j};
  ocb_entry e;
  int r, s;
  if (!j->skip && add_head(j, err) < 0) return -1;
  if (!j->walk) return 0;
  while ((r = ocb_walk_next(j->walk, &e, err)) > 0) {
    if (S_ISSOCK(e.st->st_mode)) {
      char q[1100], msg[1200];
      ocb_quote_path(q, sizeof q, pol->display, e.path, e.pathlen);
      snprintf(msg, sizeof msg, "skipping socket %s", q);
      if (warn(j, msg, err) < 0) return -1;
      continue;
    }
    s = j->skip ? ocb_skip_entry(j->skip, &e, &hooks, err) : 0;
    if (s < 0) return -1;
    if (s == 0 && ((j->skip && start_output(j, err) < 0) || add(j, &e, err) < 0)) return -1;
    /* after the entry went in (or was kept): a failing build warns of nothing */
    if (j->notes && ocb_notes_entry(j->notes, pol, &e, warn_cb, j, err) < 0) return -1;
  }
  if (r < 0) return -1;
  if (j->skip) {
    r = ocb_skip_finish(j->skip, &hooks, err);
    if (r != 0) return r;
    return start_output(j, err);
  }
  return 0;
}

/* Nothing changed: the layer is the earlier build's blob, untouched. */
static void unchanged(job *j, ocb_layer_result *res) {
  const ocb_lstate_head *h = ocb_skip_head(j->skip);
  memcpy(res->digest, h->blob, sizeof res->digest);
  res->size = h->blob_size;
  memcpy(res->comp.diff_id, h->diff_id, sizeof res->comp.diff_id);
  res->comp.isize = h->tar_size;
  res->comp.whole = 1;
  memcpy(res->comp.blob, h->blob, sizeof res->comp.blob);
  res->comp.blob_size = h->blob_size;
  ocb_blobw_abort(&j->blob);
  ocb_lstate_abort(j->state); /* the state on disk says it all already */
  j->state = NULL;
}

/* Writes the new layer state (a cache: a failure is a warning). */
static int save_state(job *j, const ocb_layer_result *res, uint64_t end, ocb_err *err) {
  const ocb_blocks *b = ocb_comp_blocks(j->comp);
  ocb_lstate_head h;
  int r;
  if (!j->state) return 0;
  memset(&h, 0, sizeof h);
  snprintf(h.key, sizeof h.key, "%s", j->reuse.key);
  memcpy(h.blob, res->digest, sizeof h.blob);
  h.blob_size = res->size;
  memcpy(h.diff_id, res->comp.diff_id, sizeof h.diff_id);
  h.tar_size = j->pos;
  if (b->n) memcpy(h.pd0, b->pd[0], 32);
  h.since = j->since;
  h.end = end;
  r = ocb_lstate_commit(j->state, &h, err);
  j->state = NULL;
  if (r < 0) {
    char msg[1400];
    snprintf(msg, sizeof msg, "cannot record the layer's state for rebuilds: %s", err->msg);
    return warn(j, msg, err);
  }
  return 0;
}

/* Ends the tar and the pipeline, then publishes the blob, or drops it when
 * the earlier build's blob is the result, and records the blocks. */
static int publish(job *j, ocb_layer_result *res, ocb_err *err) {
  uint64_t end = at_header(j);
  if (ocb_tar_finish(j->tar, err) < 0 || ocb_comp_finish(j->comp, err) < 0) {
    /* A reused blob found damaged: forget it, so the next build is whole. */
    if (j->spec->reuse && !strcmp(err->code, "CORRUPT")) {
      ocb_reuse_forget(&j->reuse, ocb_comp_blocks(j->comp)->pd[0]);
      if (j->spec->state) ocb_lstate_forget(j->spec->store, j->spec->state);
    }
    return -1;
  }
  ocb_comp_result_get(j->comp, &res->comp);
  if (res->comp.whole) {
    ocb_blobw_abort(&j->blob);
    memcpy(res->digest, res->comp.blob, sizeof res->digest);
    res->size = res->comp.blob_size;
  } else {
    if (ocb_blobw_commit(&j->blob, NULL, res->digest, &res->size, err) < 0) return -1;
    res->created = j->blob.created;
    if (j->spec->reuse && ocb_reuse_write(&j->reuse, j->comp, res->digest, res->size, err) < 0) {
      /* The record only speeds up the next build: say so, go on. */
      char msg[1400];
      snprintf(msg, sizeof msg, "cannot record the layer's blocks for reuse: %s", err->msg);
      if (warn(j, msg, err) < 0) return -1;
    }
  }
  return save_state(j, res, end, err);
}

/* The file system's time now: the change time of the blob's new temp file. */
static uint64_t fs_now(const job *j) {
  struct stat st;
  struct timespec ts;
  if (fstat(j->blob.f.fd, &st) == 0) return ns(&st.st_ctim);
  clock_gettime(CLOCK_REALTIME, &ts);
  return ns(&ts);
}

static int run(job *j, ocb_layer_result *res, ocb_err *err) {
  const ocb_layer_spec *s = j->spec;
  int i, r;
  if (s->root && !(j->walk = ocb_walk_open_sub(s->root, s->match_base, s->matcher, 0, err)))
    return -1;
  if (j->walk && j->hooks && j->hooks->warn) {
    struct stat st;
    if (stat(s->root, &st) < 0) return ocb_errno(err, errno, s->root);
    if (!(j->notes = ocb_notes_new(st.st_dev))) return ocb_errno(err, ENOMEM, s->root);
  }
  for (i = 0; j->walk && i < s->nskip; i++)
    ocb_walk_skip(j->walk, s->skip[i].st_dev, s->skip[i].st_ino);
  if (ocb_blobw_open(&j->blob, s->store, err) < 0 ||
      !(j->comp = ocb_comp_new(s->codec, ocb_blobw_write, &j->blob, err)))
    return -1;
  j->since = fs_now(j);
  j->stats.entries = head_entries(s);
  j->reuse.store = s->store;
  ocb_codec_key(s->codec, j->reuse.key, sizeof j->reuse.key);
  if (s->state && s->reuse && j->walk)
    j->skip = ocb_skip_open(s->store, s->state, &j->reuse, ocb_comp_block_size(j->comp));
  if (j->skip && (j->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return ocb_errno(err, errno, s->root);
  if (s->state && j->walk && !(j->state = ocb_lstate_create(s->store, s->state, err)) &&
      warn(j, "cannot record the layer's state for rebuilds", err) < 0)
    return -1;
  /* The codec's records are looked up at the first block: with a state, only
   * when its first block changed (a resume starts past it). */
  if (ocb_comp_track(j->comp, s->reuse ? ocb_reuse_find : NULL, &j->reuse, err) < 0 ||
      !(j->tar = ocb_tar_new(tar_out, j, err)) || (r = fill(j, err)) < 0)
    return -1;
  if (r == 1)
    unchanged(j, res);
  else if (publish(j, res, err) < 0)
    return -1;
  res->stats = j->stats;
  res->tar_size = r == 1 ? ocb_skip_head(j->skip)->tar_size : j->pos;
  res->stats.out_bytes = res->size;
  return 0;
}

int ocb_layer_build(const ocb_layer_spec *spec, const ocb_layer_hooks *hooks, ocb_layer_result *res,
                    ocb_err *err) {
  job j;
  int r;
  memset(&j, 0, sizeof j);
  memset(res, 0, sizeof *res);
  j.spec = spec, j.hooks = hooks;
  j.blob.f.fd = -1;
  j.rootfd = -1;
  r = run(&j, res, err);
  ocb_walk_close(j.walk);
  ocb_notes_free(j.notes);
  ocb_tar_free(j.tar);
  ocb_comp_free(j.comp);
  ocb_blobw_abort(&j.blob);
  ocb_skip_free(j.skip);
  ocb_lstate_abort(j.state);
  if (j.rootfd >= 0) close(j.rootfd);
  return r;
}
