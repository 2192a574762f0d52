/*
 * job.c: the layer job, one pass in bounded memory: walk -> tar -> blocks
 * (place.c, cut where the entries say) -> codec pipeline (diff_id and
 * blocks on worker threads, blocks of the earlier build reused) -> SHA-256
 * -> blobs/sha256/<hex>. The caller's items (or the prefix's folders) come
 * before the walk. With a layer state, unchanged entries are not read at
 * all (skip.c): before the first change nothing is written, the stream
 * resumes at the last block boundary before it, and after it unchanged
 * entries are taken from the earlier build, whole blocks at a time.
 * Without a state, the first block names an earlier output in the store,
 * or (the caller's hook) a candidate elsewhere, whose blocks are then left
 * as holes the caller fills (a registry's pieces) before ocb_layer_fill.
 * Progress and warnings go to the caller's hooks, on the caller's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layer.h"

struct ocb_layer_job {
  const ocb_layer_spec *spec;
  const ocb_layer_hooks *hooks;
  ocb_walk *walk;
  ocb_tar *tar;
  ocb_comp *comp;
  ocb_place *place; /* where tar bytes go, once output starts */
  ocb_blobw blob;
  ocb_reuse reuse;
  ocb_skip *skip;           /* the last build's state, or NULL */
  ocb_lstate_writer *state; /* the new layer state, or NULL */
  ocb_notes *notes;         /* surprising but allowed entries, to warn about */
  ocb_catalog *cat;         /* what the layer holds, or NULL */
  char *name;               /* scratch: prefix + path of a kept entry */
  size_t namecap;
  ocb_layer_stats stats;
  uint64_t since;     /* when this build began, in the file system's time (ns) */
  int sink;           /* tar bytes are dropped: the earlier build's stand in */
  uint64_t next_tick; /* monotonic ms of the next progress call */
  int hfailed;        /* the candidate hook failed: herr says why */
  ocb_err herr;
  uint64_t end; /* tar offset of the end-of-archive blocks (for the state) */
};
typedef struct ocb_layer_job job;

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

/* Tar bytes, into the blocks. */
static int tar_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  job *j = ud;
  if (j->sink || !j->place) return 0; /* the end blocks of a tar not used */
  j->stats.tar_bytes += len;
  if (ocb_place_write(j->place, buf, len, err) < 0) return -1;
  if (j->hfailed) {
    *err = j->herr;
    return -1;
  }
  return tick(j, err);
}

/* The first block's earlier output: in the store, else the caller's
 * candidate (an ocb_prior_fn). */
static int find(void *ud, const unsigned char id0[32], ocb_prior *prior) {
  job *j = ud;
  int r;
  if (j->spec->reuse && ocb_reuse_find(&j->reuse, id0, prior)) return 1;
  if (!j->hooks || !j->hooks->candidate) return 0;
  r = j->hooks->candidate(j->hooks->ud, id0, prior, &j->herr);
  if (r < 0) j->hfailed = 1;
  return r > 0 ? 2 : 0;
}

/* One item, after the cut rule had its say. */
static int add_item(job *j, const ocb_tar_item *it, ocb_err *err) {
  struct stat st;
  uint64_t data = it->kind == OCB_TAR_DATA ? it->len : 0;
  if (it->kind == OCB_TAR_FILE && fstat(it->fd, &st) == 0) data = (uint64_t)st.st_size;
  if (ocb_place_entry(j->place, data, it->name, strlen(it->name), err) < 0) return -1;
  return ocb_tar_add_item(j->tar, it, err);
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
    if (add_item(j, &it, err) < 0) return -1;
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
    r = add_item(j, &it, err);
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
static int record(job *j, const ocb_entry *w, uint64_t off, ocb_err *err) {
  const struct stat *st = w->st;
  ocb_lstate_entry e;
  j->stats.entries++;
  if (!j->state) return 0;
  e.path = w->path, e.pathlen = w->pathlen, e.off = off;
  e.dev = (uint64_t)st->st_dev, e.ino = (uint64_t)st->st_ino, e.size = (uint64_t)st->st_size;
  e.mtime = ns(&st->st_mtim), e.ctime = ns(&st->st_ctim);
  e.mode = (uint32_t)st->st_mode, e.uid = (uint32_t)st->st_uid, e.gid = (uint32_t)st->st_gid;
  e.nlink = (uint32_t)st->st_nlink;
  return ocb_lstate_add(j->state, &e, err);
}

/* Tells the catalog of a walked entry whose bytes come from the earlier
 * build, unread. */
static int kept(job *j, const char *path, size_t len, const struct stat *st, ocb_err *err) {
  const char *prefix = j->spec->policy->prefix;
  size_t plen = strlen(prefix);
  ocb_entry e;
  mode_t m = st->st_mode;
  int type = S_ISREG(m)    ? OCB_TAR_FILE
             : S_ISDIR(m)  ? OCB_TAR_DIR
             : S_ISLNK(m)  ? OCB_TAR_SYMLINK
             : S_ISFIFO(m) ? OCB_TAR_FIFO
                           : -1;
  if (!j->cat) return 0;
  if (plen + len + 1 > j->namecap) {
    char *n = realloc(j->name, plen + len + 1);
    if (!n) return ocb_errno(err, ENOMEM, "layer");
    j->name = n, j->namecap = plen + len + 1;
  }
  memcpy(j->name, prefix, plen);
  memcpy(j->name + plen, path, len);
  j->name[plen + len] = '\0';
  memset(&e, 0, sizeof e);
  e.path = path, e.pathlen = len, e.st = (struct stat *)st, e.fd = -1;
  return ocb_catalog_kept(j->cat, j->name, plen + len, type, (uint64_t)st->st_size,
                          ocb_tar_perm(j->spec->policy, &e), err);
}

/* What comes before the walk, told to the catalog when a rebuild does not
 * write it again (the earlier tar's bytes stand in). */
static int kept_head(job *j, ocb_err *err) {
  const ocb_layer_spec *s = j->spec;
  size_t i;
  if (!j->cat) return 0;
  if (!s->items) {
    const char *p = s->policy->prefix, *c;
    for (c = p; *c; c++)
      if (*c == '/' &&
          ocb_catalog_entry(j->cat, p, (size_t)(c - p), OCB_TAR_DIR, NULL, 0, 0755, err) < 0)
        return -1;
    return 0;
  }
  for (i = 0; i < s->nitems; i++) {
    const ocb_tar_item *it = &s->items[i];
    size_t n = strlen(it->name);
    int r = it->kind == OCB_TAR_FILE
                ? ocb_catalog_kept(j->cat, it->name, n, OCB_TAR_FILE, 0, it->mode, err)
                : ocb_catalog_entry(j->cat, it->name, n, it->kind,
                                    it->kind == OCB_TAR_DATA ? NULL : it->data,
                                    it->kind == OCB_TAR_DATA ? it->len : 0, it->mode, err);
    if (r == 1 &&
        (ocb_catalog_data(j->cat, it->data, it->len, err) < 0 || ocb_catalog_end(j->cat, err) < 0))
      return -1;
    if (r < 0) return -1;
  }
  return 0;
}

/* Adds one walked entry, read now. */
static int add(job *j, const ocb_entry *e, ocb_err *err) {
  uint64_t off;
  if (ocb_place_entry(j->place, ocb_tar_data_size(j->tar, e), e->path, e->pathlen, err) < 0)
    return -1;
  off = ocb_place_pos(j->place);
  if (ocb_tar_add_walked(j->tar, j->spec->policy, e, err) < 0) return -1;
  return record(j, e, off, err);
}

/* Adds one walked entry unchanged since the last build, whose bytes are
 * [old, old + len) of the earlier tar: a large file is read (cheaper than
 * decompressing it; its blocks still are the earlier ones), the rest is
 * taken from the earlier build. */
static int add_unchanged(job *j, const ocb_entry *e, uint64_t old, uint64_t len, ocb_err *err) {
  const struct stat *st = e->st;
  uint64_t data = ocb_tar_data_size(j->tar, e), off;
  if (ocb_place_entry(j->place, data, e->path, e->pathlen, err) < 0) return -1;
  off = ocb_place_pos(j->place);
  if (data >= ocb_comp_block_size(j->comp)) {
    ocb_place_known(j->place, old);
    if (ocb_tar_add_walked(j->tar, j->spec->policy, e, err) < 0) return -1;
  } else {
    if (ocb_place_old(j->place, old, len, err) < 0 || kept(j, e->path, e->pathlen, st, err) < 0)
      return -1;
    if (S_ISREG(st->st_mode) && st->st_nlink > 1 &&
        ocb_tar_note_link(j->tar, j->spec->policy, e->path, e->pathlen, st->st_dev, st->st_ino,
                          err) < 0)
      return -1;
  }
  return record(j, e, off, err);
}

/* An entry matched in order before the first change: counted, and a file
 * of several names noted for the hardlinks to it that may follow. */
static int leave_cb(void *ud, const char *path, size_t len, const struct stat *st, ocb_err *err) {
  job *j = ud;
  j->stats.entries++;
  if (kept(j, path, len, st, err) < 0) return -1;
  if (!S_ISREG(st->st_mode) || st->st_nlink < 2) return 0;
  return ocb_tar_note_link(j->tar, j->spec->policy, path, len, st->st_dev, st->st_ino, err);
}

static int state_add(void *ud, const ocb_lstate_entry *e, ocb_err *err) {
  return ocb_lstate_add(ud, e, err);
}

/* The new layer state (a cache: a failure is a warning), with the
 * entries matched in order before output started. */
static int open_state(job *j, ocb_err *err) {
  const ocb_layer_spec *s = j->spec;
  if (!s->state || !j->walk) return 0;
  if (!(j->state = ocb_lstate_create(s->store, s->state, err)))
    return warn(j, "cannot record the layer's state for rebuilds", err);
  if (j->skip && ocb_skip_replay(j->skip, state_add, j->state, err) < 0) {
    ocb_lstate_abort(j->state);
    j->state = NULL;
    return warn(j, "cannot record the layer's state for rebuilds", err);
  }
  return 0;
}

/* The first change was found at tar offset `point`: the stream resumes at
 * the start of the earlier block holding the byte before it (or an earlier
 * one, where the diff_id's hash can resume), and the bytes between are the
 * earlier tar's. */
static int start_output(job *j, ocb_err *err) {
  ocb_prior *prior = ocb_skip_prior(j->skip);
  const ocb_block *v = prior->b.v;
  uint64_t point = ocb_skip_point(j->skip), k = 0, b = 0;
  int64_t h = point ? ocb_blocks_holding(&prior->b, point - 1) : -1;
  if (h >= 0) k = (uint64_t)h;
  while (k > 0 && v[k - 1].st.bytes != v[k - 1].tend) k--;
  b = ocb_blocks_tstart(&prior->b, k);
  if (open_state(j, err) < 0 || ocb_comp_prior(j->comp, prior, k, err) < 0) return -1;
  if (!(j->place = ocb_place_new(j->comp, b))) return ocb_errno(err, ENOMEM, "layer");
  return point > b ? ocb_place_old(j->place, b, point - b, err) : 0;
}

/* One walked entry, once output started. */
static int put(job *j, const ocb_entry *e, ocb_err *err) {
  uint64_t off, len;
  int m = j->skip ? ocb_skip_match(j->skip, e, &off, &len, err) : 0;
  if (m < 0) return -1;
  return m ? add_unchanged(j, e, off, len, err) : add(j, e, err);
}

/* Walks and tars everything into the pipeline; 1 when nothing changed
 * since the layer state (then nothing was written). */
static int fill(job *j, ocb_err *err) {
  const ocb_tar_policy *pol = j->spec->policy;
  const ocb_skip_hooks hooks = {leave_cb, j};
  ocb_entry e;
  int r, s;
  if (j->skip ? kept_head(j, err) < 0 : add_head(j, err) < 0) return -1;
  if (!j->walk) return 0;
  while ((r = ocb_walk_next(j->walk, &e, err)) > 0) {
    if (S_ISSOCK(e.st->st_mode)) {
      char q[1100], msg[1200];
      ocb_quote_path(q, sizeof q, pol->display, e.path, e.pathlen);
      snprintf(msg, sizeof msg, "skipping socket %s", q);
      if (warn(j, msg, err) < 0) return -1;
      continue;
    }
    s = j->place ? 0 : ocb_skip_entry(j->skip, &e, &hooks, err);
    if (s < 0) return -1;
    if (s == 0 && ((!j->place && start_output(j, err) < 0) || put(j, &e, err) < 0)) return -1;
    /* after the entry went in (or was kept): a failing build warns of nothing */
    if (j->notes && ocb_notes_entry(j->notes, pol, &e, warn_cb, j, err) < 0) return -1;
  }
  if (r < 0) return -1;
  if (!j->place) {
    if (ocb_skip_finish(j->skip) == 1) return 1;
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
  ocb_lstate_head h;
  int r;
  if (!j->state) return 0;
  memset(&h, 0, sizeof h);
  snprintf(h.key, sizeof h.key, "%s", j->reuse.key);
  memcpy(h.blob, res->digest, sizeof h.blob);
  h.blob_size = res->size;
  memcpy(h.diff_id, res->comp.diff_id, sizeof h.diff_id);
  h.tar_size = res->tar_size;
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

/* Ends the tar: its end blocks are the earlier tar's too when the bytes
 * before them are. */
static int end_tar(job *j, ocb_err *err) {
  const ocb_lstate_head *h = j->skip ? ocb_skip_head(j->skip) : NULL;
  if (h && ocb_place_maps(j->place, h->end)) {
    if (ocb_place_old(j->place, h->end, h->tar_size - h->end, err) < 0) return -1;
    j->sink = 1;
  }
  return ocb_tar_finish(j->tar, err);
}

/* The blob (its digest known), published, and its blocks recorded. */
static int commit(job *j, ocb_layer_result *res, ocb_err *err) {
  if (ocb_blobw_commit(&j->blob, res->comp.digest, res->digest, &res->size, err) < 0) return -1;
  res->created = j->blob.created;
  if (j->spec->reuse && ocb_reuse_write(&j->reuse, j->comp, res->digest, res->size, err) < 0) {
    /* The record only speeds up the next build: say so, go on. */
    char msg[1400];
    snprintf(msg, sizeof msg, "cannot record the layer's blocks for reuse: %s", err->msg);
    if (warn(j, msg, err) < 0) return -1;
  }
  return 0;
}

/* Ends the tar and the pipeline, then publishes the blob, or drops it when
 * the earlier build's blob is the result, and records the blocks; or,
 * with holes left, keeps everything for ocb_layer_fill. */
static int publish(job *j, ocb_layer_result *res, ocb_err *err) {
  uint64_t end = ocb_place_pos(j->place);
  if (end_tar(j, err) < 0 || ocb_place_finish(j->place, err) < 0 ||
      ocb_comp_finish(j->comp, err) < 0) {
    /* A reused blob found damaged: forget it, so the next build is whole. */
    const char *blob = ocb_comp_prior_digest(j->comp);
    if (j->spec->reuse && !strcmp(err->code, "CORRUPT") && blob) {
      ocb_reuse_forget(&j->reuse, blob);
      if (j->spec->state) ocb_lstate_forget(j->spec->store, j->spec->state);
    }
    return -1;
  }
  if (j->hfailed) { /* the hook, called as the last block went in */
    *err = j->herr;
    return -1;
  }
  res->tar_size = ocb_place_pos(j->place);
  ocb_comp_result_get(j->comp, &res->comp);
  if (res->comp.holes) {
    /* the file gets its whole size now: the holes are filled through its path */
    j->end = end;
    if (ftruncate(j->blob.f.fd, (off_t)j->blob.size) < 0)
      return ocb_errno(err, errno, j->blob.f.tmp);
    return 0;
  }
  if (res->comp.whole) {
    ocb_blobw_abort(&j->blob);
    memcpy(res->digest, res->comp.blob, sizeof res->digest);
    res->size = res->comp.blob_size;
  } else if (commit(j, res, err) < 0) {
    return -1;
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

/* A capture of the catalog, to the caller. */
static int capture_cb(void *ud, const ocb_capture *c, ocb_err *err) {
  job *j = ud;
  if (!j->hooks || !j->hooks->capture) return 0;
  return j->hooks->capture(j->hooks->ud, c, err);
}

/* 1 when the earlier build's blob has the catalog note the spec names:
 * the records of the entries a rebuild keeps unread come from it. */
static int noted(const job *j) {
  const char *key = j->spec->catalog_key;
  char want[256], got[256];
  ocb_err scratch;
  ssize_t n;
  int fd, w;
  if (!key) return 0;
  w = snprintf(want, sizeof want, "ocibuild-catalog %s\n", key);
  if (w <= 0 || (size_t)w >= sizeof want) return 0;
  if ((fd = ocb_note_open(j->spec->store, "catalog", ocb_skip_head(j->skip)->blob, &scratch)) < 0)
    return 0;
  do n = read(fd, got, (size_t)w);
  while (n < 0 && errno == EINTR);
  close(fd);
  return n == w && memcmp(got, want, (size_t)w) == 0;
}

/* The walk, its warnings, the pipeline and the earlier build's state. */
static int open_all(job *j, ocb_err *err) {
  const ocb_layer_spec *s = j->spec;
  int cand = j->hooks && j->hooks->candidate;
  int i, flags = OCB_TRACK_CUTS | (s->reuse || cand ? OCB_TRACK_IDS : 0);
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
  ocb_blobw_unhashed(&j->blob); /* the pipeline hashes what it writes */
  ocb_comp_set_copy(j->comp, ocb_blobw_copy);
  ocb_comp_set_behind(j->comp, ocb_blobw_skip, ocb_blobw_at);
  j->since = fs_now(j);
  j->stats.entries = head_entries(s);
  j->reuse.store = s->store;
  ocb_codec_key(s->codec, j->reuse.key, sizeof j->reuse.key);
  if (s->state && s->reuse && j->walk) j->skip = ocb_skip_open(s->store, s->state, &j->reuse);
  if (s->catalog && !(j->cat = ocb_catalog_new(s->catalog, capture_cb, j, err))) return -1;
  /* without the earlier catalog, what a rebuild keeps would go unlisted */
  if (j->skip && j->cat && !noted(j)) {
    ocb_skip_free(j->skip);
    j->skip = NULL;
  }
  /* A rebuild mostly walks: its lstat calls are made on helper threads. A
   * cold build mostly reads and compresses: helpers would only compete;
   * it reads every file, so the walk opens them as it looks at them. */
  if (j->skip)
    ocb_walk_threads(j->walk, s->codec->threads);
  else if (j->walk)
    ocb_walk_open_files(j->walk);
  if (!j->skip && open_state(j, err) < 0) return -1;
  /* Without a state, the codec's records (or the caller's candidates) are
   * looked up by the first block. */
  if (cand) ocb_comp_set_skip(j->comp, ocb_blobw_skip);
  if (ocb_comp_track(j->comp, (s->reuse || cand) && !j->skip ? find : NULL, j, flags, err) < 0 ||
      !(j->tar = ocb_tar_new(tar_out, j, err)))
    return -1;
  ocb_tar_watch(j->tar, j->cat);
  if (!j->skip && !(j->place = ocb_place_new(j->comp, 0))) return ocb_errno(err, ENOMEM, "layer");
  return 0;
}

static int run(job *j, ocb_layer_result *res, ocb_err *err) {
  int r;
  if (open_all(j, err) < 0 || (r = fill(j, err)) < 0) return -1;
  if (r == 1) {
    unchanged(j, res);
    res->tar_size = ocb_skip_head(j->skip)->tar_size;
  } else if (publish(j, res, err) < 0) {
    return -1;
  }
  res->stats = j->stats;
  res->stats.out_bytes = res->size;
  if (j->skip) memcpy(res->prior, ocb_skip_head(j->skip)->blob, sizeof res->prior);
  if (j->cat && j->hooks && j->hooks->records) {
    size_t n;
    const char *rec = ocb_catalog_records(j->cat, &n);
    return j->hooks->records(j->hooks->ud, rec, n, err);
  }
  return 0;
}

void ocb_layer_free(ocb_layer_job *j) {
  if (!j) return;
  ocb_walk_close(j->walk);
  ocb_notes_free(j->notes);
  ocb_tar_free(j->tar);
  ocb_place_free(j->place);
  ocb_comp_free(j->comp);
  ocb_blobw_abort(&j->blob);
  ocb_skip_free(j->skip);
  ocb_lstate_abort(j->state);
  ocb_catalog_free(j->cat);
  free(j->name);
  free(j);
}

int ocb_layer_build(const ocb_layer_spec *spec, const ocb_layer_hooks *hooks, ocb_layer_result *res,
                    ocb_layer_job **keep, ocb_err *err) {
  job *j = calloc(1, sizeof *j);
  int r;
  memset(res, 0, sizeof *res);
  *keep = NULL;
  if (!j) return ocb_errno(err, ENOMEM, "layer");
  j->spec = spec, j->hooks = hooks;
  j->blob.f.fd = -1;
  r = run(j, res, err);
  if (r == 0 && res->comp.holes) {
    /* the walk and the tar are done with; the rest waits for the fill */
    ocb_walk_close(j->walk);
    ocb_notes_free(j->notes);
    ocb_tar_free(j->tar);
    ocb_catalog_free(j->cat);
    free(j->name);
    j->walk = NULL, j->notes = NULL, j->tar = NULL, j->hooks = NULL;
    j->cat = NULL, j->name = NULL;
    *keep = j;
    return 0;
  }
  ocb_layer_free(j);
  return r;
}

const ocb_hole *ocb_layer_holes(const ocb_layer_job *j, const ocb_blocks **cand,
                                const ocb_blocks **now, const char **path, uint64_t *n) {
  *cand = ocb_comp_prior_blocks(j->comp);
  *now = ocb_comp_blocks(j->comp);
  *path = j->blob.f.tmp;
  return ocb_comp_holes(j->comp, n);
}

int ocb_layer_fill(ocb_layer_job *j, ocb_layer_result *res, ocb_err *err) {
  if (ocb_comp_fill(j->comp, j->blob.f.fd, j->spec->codec->threads, err) < 0) return -1;
  ocb_comp_result_get(j->comp, &res->comp);
  if (commit(j, res, err) < 0) return -1;
  res->stats.out_bytes = res->size;
  return save_state(j, res, j->end, err);
}
