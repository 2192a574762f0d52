/*
 * lead.c: a rebuild's leading pieces, copied behind the output. When a
 * rebuild resumes the output's hash after the earlier output's first m
 * pieces, those bytes are not hashed again, only copied and checked: a
 * thread of their own reads them from the earlier blob, checks each
 * against the CRC-32 recorded when it was written, and writes it into the
 * hole the output left for them, while the caller's thread goes on with
 * the rest of the output.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "engine.h"

struct ocb_lead {
  const ocb_prior *p;
  const ocb_engine *eng;
  int level;
  uint64_t m;
  size_t cap;
  unsigned char *buf;
  ocb_at_fn at;
  void *ud;
  uint64_t pos; /* where the next byte goes */
  atomic_int stop;
  pthread_t t;
  int rc;
  ocb_err err;
};

static int put_at(void *ud, const void *buf, size_t n, ocb_err *err) {
  ocb_lead *l = ud;
  if (atomic_load(&l->stop)) return ocb_errf(err, "EINTR", "stopped");
  if (l->at(l->ud, buf, n, l->pos, err) < 0) return -1;
  l->pos += n;
  return 0;
}

static void *run(void *arg) {
  ocb_lead *l = arg;
  l->rc = ocb_prior_prefix(l->p, l->eng, l->level, l->m, l->buf, l->cap, put_at, l, &l->err);
  return NULL;
}

ocb_lead *ocb_lead_start(const ocb_prior *p, const ocb_engine *eng, int level, uint64_t m,
                         size_t cap, ocb_at_fn at, void *ud, ocb_err *err) {
  ocb_lead *l = calloc(1, sizeof *l);
  int e;
  if (!l || !(l->buf = malloc(cap))) {
    free(l);
    ocb_errno(err, ENOMEM, "reuse");
    return NULL;
  }
  l->p = p, l->eng = eng, l->level = level, l->m = m, l->cap = cap, l->at = at, l->ud = ud;
  atomic_init(&l->stop, 0);
  if ((e = pthread_create(&l->t, NULL, run, l)) != 0) {
    free(l->buf);
    free(l);
    ocb_errno(err, e, "copy thread");
    return NULL;
  }
  return l;
}

int ocb_lead_join(ocb_lead *l, ocb_err *err) {
  int rc;
  pthread_join(l->t, NULL);
  rc = l->rc;
  if (rc < 0) *err = l->err;
  free(l->buf);
  free(l);
  return rc;
}

void ocb_lead_stop(ocb_lead *l) {
  ocb_err ignored;
  atomic_store(&l->stop, 1);
  (void)ocb_lead_join(l, &ignored);
}
