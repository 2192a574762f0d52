/*
 * job.c: the layer job, one pass in bounded memory: walk -> tar -> codec
 * pipeline (diff_id and blocks on worker threads, unchanged blocks of the
 * earlier build reused) -> SHA-256 -> blobs/sha256/<hex>. Progress and
 * warnings go to the caller's hooks, on the caller's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "layer.h"

typedef struct job {
  const ocb_layer_spec *spec;
  const ocb_layer_hooks *hooks;
  ocb_walk *walk;
  ocb_tar *tar;
  ocb_comp *comp;
  ocb_blobw blob;
  ocb_reuse reuse;
  ocb_notes *notes;
  ocb_layer_stats stats;
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

/* Tar bytes, into the pipeline (which hashes them for the diff_id). */
static int tar_out(void *ud, const void *buf, size_t len, ocb_err *err) {
  job *j = ud;
  j->stats.tar_bytes += len;
  if (ocb_comp_write(j->comp, buf, len, err) < 0) return -1;
  return tick(j, err);
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
    j->stats.entries++;
  }
  return 0;
}

static int warn(job *j, const char *msg, ocb_err *err) {
  if (!j->hooks || !j->hooks->warn) return 0;
  return j->hooks->warn(j->hooks->ud, msg, err);
}

static int warn_cb(void *ud, const char *msg, ocb_err *err) {
  return warn(ud, msg, err);
}

/* Walks and tars everything into the pipeline. */
static int fill(job *j, ocb_err *err) {
  const ocb_tar_policy *pol = j->spec->policy;
  ocb_entry e;
  int r;
  if (add_prefix(j, err) < 0) return -1;
  while ((r = ocb_walk_next(j->walk, &e, err)) > 0) {
    int a = ocb_tar_add_walked(j->tar, pol, &e, err);
    if (a < 0) return -1;
    if (a == 1) {
      char q[1100], msg[1200];
      ocb_quote_path(q, sizeof q, pol->display, e.path, e.pathlen);
      snprintf(msg, sizeof msg, "skipping socket %s", q);
      if (warn(j, msg, err) < 0) return -1;
      continue;
    }
    if (j->notes && ocb_notes_entry(j->notes, pol, &e, warn_cb, j, err) < 0) return -1;
    j->stats.entries++;
  }
  return r;
}

/* Ends the tar and the pipeline, then publishes the blob, or drops it when
 * the earlier build's blob is the result, and records the blocks. */
static int publish(job *j, ocb_layer_result *res, ocb_err *err) {
  if (ocb_tar_finish(j->tar, err) < 0 || ocb_comp_finish(j->comp, err) < 0) {
    /* A reused blob found damaged: forget it, so the next build is whole. */
    if (j->spec->reuse && !strcmp(err->code, "CORRUPT"))
      ocb_reuse_forget(&j->reuse, ocb_comp_blocks(j->comp)->pd[0]);
    return -1;
  }
  ocb_comp_result_get(j->comp, &res->comp);
  if (res->comp.whole) {
    ocb_blobw_abort(&j->blob);
    memcpy(res->digest, res->comp.blob, sizeof res->digest);
    res->size = res->comp.blob_size;
    return 0;
  }
  if (ocb_blobw_commit(&j->blob, NULL, res->digest, &res->size, err) < 0) return -1;
  res->created = j->blob.created;
  if (j->spec->reuse && ocb_reuse_write(&j->reuse, j->comp, res->digest, res->size, err) < 0) {
    /* The record only speeds up the next build: say so, go on. */
    char msg[1400];
    snprintf(msg, sizeof msg, "cannot record the layer's blocks for reuse: %s", err->msg);
    if (warn(j, msg, err) < 0) return -1;
  }
  return 0;
}

static int run(job *j, ocb_layer_result *res, ocb_err *err) {
  const ocb_layer_spec *s = j->spec;
  int i;
  if (!(j->walk = ocb_walk_open(s->root, s->matcher, 0, err))) return -1;
  if (j->hooks && j->hooks->warn) {
    struct stat st;
    if (stat(s->root, &st) < 0) return ocb_errno(err, errno, s->root);
    if (!(j->notes = ocb_notes_new(st.st_dev))) return ocb_errno(err, ENOMEM, s->root);
  }
  for (i = 0; i < s->nskip; i++) ocb_walk_skip(j->walk, s->skip[i].st_dev, s->skip[i].st_ino);
  if (ocb_blobw_open(&j->blob, s->store, err) < 0 ||
      !(j->comp = ocb_comp_new(s->codec, ocb_blobw_write, &j->blob, err)))
    return -1;
  j->reuse.store = s->store;
  ocb_codec_key(s->codec, j->reuse.key, sizeof j->reuse.key);
  if (ocb_comp_track(j->comp, s->reuse ? ocb_reuse_find : NULL, &j->reuse, err) < 0 ||
      !(j->tar = ocb_tar_new(tar_out, j, err)) || fill(j, err) < 0 || publish(j, res, err) < 0)
    return -1;
  res->stats = j->stats;
  res->stats.out_bytes = res->size;
  return 0;
}

int ocb_layer_build(const ocb_layer_spec *spec, const ocb_layer_hooks *hooks,
                    ocb_layer_result *res, ocb_err *err) {
  job j;
  int r;
  memset(&j, 0, sizeof j);
  memset(res, 0, sizeof *res);
  j.spec = spec, j.hooks = hooks;
  j.blob.f.fd = -1;
  r = run(&j, res, err);
  ocb_walk_close(j.walk);
  ocb_notes_free(j.notes);
  ocb_tar_free(j.tar);
  ocb_comp_free(j.comp);
  ocb_blobw_abort(&j.blob);
  return r;
}
