/*
 * comp.c: ocb_comp, the compression pipeline: input cut into fixed blocks
 * in a bounded ring, hashed in order and compressed in any order by worker
 * threads, written out in order by the caller, so output never depends on
 * threads or timing; pieces of an earlier build stand in for unchanged blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "comp.h"

/* Memory the ring's buffers may take (see ocb_comp_new). */
#define RING_BUDGET (32u << 20)
#define RECORD_MAX (64u << 20)
#define COPY_CHUNK (256u << 10)

enum { S_FREE, S_FILLED, S_READY, S_BUSY, S_DONE };

typedef struct slot {
  unsigned char *in, *out;
  size_t in_len, out_len;
  uint64_t seq;
  uint32_t crc;
  int state;
  int reused; /* the piece comes from the earlier build */
} slot;

/* Per block: SHA-256 of the input up to its end, end of its piece in the
 * blob, CRC-32 of its input. */
typedef struct blocks {
  unsigned char (*pd)[32];
  uint64_t *end;
  uint32_t *crc;
  uint64_t n;
} blocks;

struct ocb_comp {
  const ocb_engine *eng;
  int kind, level;
  ocb_out_fn out;
  void *ud;

  pthread_mutex_t mu;
  pthread_cond_t work, done;
  pthread_t *threads;
  int nthreads, quit, failed;
  ocb_err werr;
  slot *ring;
  size_t nslots;
  slot *cur;          /* being filled by the caller */
  uint64_t submitted; /* blocks handed to the workers */
  uint64_t hashed;    /* blocks hashed, in order */
  int hashing;        /* a worker is hashing block `hashed` */
  uint64_t written;   /* blocks written out, in order */

  /* Output side (caller thread). */
  int started;
  uint32_t crc;
  uint64_t isize, osize, nreused;

  /* Tracking (hashing worker until finish). */
  int track;
  EVP_MD_CTX *ih, *tmp;
  unsigned char last_pd[32];
  char *recdir, *store;
  blocks now; /* this build; pd by the hasher, end/crc by the caller */
  uint64_t pd_cap, end_cap;
  blocks old;   /* the earlier build's record */
  int matching; /* every block so far matched `old` */
  int oldfd;    /* its blob */
  char old_blob[72];
  uint64_t old_size;
};

/* `none`: the pieces are the input blocks themselves. */
static size_t none_bound(size_t n) {
  return n;
}

static size_t none_frame(unsigned char *out, int level) {
  (void)out, (void)level;
  return 0;
}

static size_t none_end(unsigned char *out, uint32_t crc, uint64_t isize) {
  (void)out, (void)crc, (void)isize;
  return 0;
}

const ocb_engine ocb_engine_none = {"none",     1u << 20, 1,          NULL,    NULL,
                                    none_bound, NULL,     none_frame, none_end};

const ocb_engine *ocb_engine_of(int kind) {
  switch (kind) {
  case OCB_COMP_GZIP: return &ocb_engine_gzip;
  case OCB_COMP_ZSTD: return &ocb_engine_zstd;
  case OCB_COMP_NONE: return &ocb_engine_none;
  default: return NULL;
  }
}

static void set_failed(ocb_comp *c, const ocb_err *err) {
  if (!c->failed) c->werr = *err;
  c->failed = 1;
  pthread_cond_broadcast(&c->done);
}

static void blocks_free(blocks *b) {
  free(b->pd);
  free(b->end);
  free(b->crc);
  memset(b, 0, sizeof *b);
}

/* ---- the earlier build's record ---- */

static void hex32(const unsigned char *d, char *out) {
  static const char x[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 32; i++) out[2 * i] = x[d[i] >> 4], out[2 * i + 1] = x[d[i] & 15];
  out[64] = '\0';
}

static int unhex32(const char *s, unsigned char *d) {
  int i;
  for (i = 0; i < 64; i++) {
    int v = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
            : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                                         : -1;
    if (v < 0) return -1;
    if (i & 1)
      d[i / 2] = (unsigned char)(d[i / 2] | v);
    else
      d[i / 2] = (unsigned char)(v << 4);
  }
  return 0;
}

static char *slurp(const char *path, size_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  char *buf = NULL;
  size_t got = 0;
  if (fd < 0) return NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < max &&
      (buf = malloc((size_t)st.st_size + 1))) {
    while (got < (size_t)st.st_size) {
      ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (got == (size_t)st.st_size) {
      buf[got] = '\0';
      *len = got;
    } else {
      free(buf);
      buf = NULL;
    }
  }
  close(fd);
  return buf;
}

/* Parses a record (see remember) into c->old; 0 when usable. */
static int parse_record(ocb_comp *c, char *text, const unsigned char pd0[32]) {
  char key[128], want[128], blob[80], *p = text, *nl;
  unsigned long long bsize, n, i, prev = 0;
  int used = 0;
  blocks *o = &c->old;
  ocb_engine_key(c->kind, c->level, want, sizeof want);
  if (sscanf(p, "ocibuild-reuse 1\nkey %127s\nblob %79s %llu\ninput %*s %*s\nblocks %llu%n", key,
             blob, &bsize, &n, &used) != 4 ||
      used == 0 || p[used] != '\n' || strcmp(key, want) != 0 ||
      !ocb_digest_valid(blob, strlen(blob)) || n == 0 || n > RECORD_MAX / 80)
    return -1;
  p += used + 1;
  if (!(o->pd = malloc(n * 32)) || !(o->end = malloc(n * 8)) || !(o->crc = malloc(n * 4)))
    return -1;
  for (i = 0; i < n; i++) {
    unsigned long long end;
    unsigned long crc;
    char *q;
    if (!(nl = strchr(p, '\n')) || nl - p < 68 || unhex32(p, o->pd[i]) < 0 || p[64] != ' ')
      return -1;
    end = strtoull(p + 65, &q, 10);
    if (*q != ' ' || end <= prev || end > bsize) return -1;
    crc = strtoul(q + 1, &q, 16);
    if (q != nl || crc > 0xffffffffUL) return -1;
    o->end[i] = prev = end;
    o->crc[i] = (uint32_t)crc;
    p = nl + 1;
  }
  if (memcmp(o->pd[0], pd0, 32) != 0) return -1;
  o->n = n;
  memcpy(c->old_blob, blob, sizeof c->old_blob); /* 71 characters and a NUL */
  c->old_size = bsize;
  return 0;
}

/* Looks for the record of a build whose first block hashed to pd0, and
 * opens its blob. Anything missing or odd means no reuse. */
static void load_record(ocb_comp *c, const unsigned char pd0[32]) {
  char hex[65], *path, *text;
  size_t len, n = strlen(c->recdir) + strlen(c->store) + 100;
  struct stat st;
  if (!(path = malloc(n))) return;
  hex32(pd0, hex);
  snprintf(path, n, "%s/%s", c->recdir, hex);
  text = slurp(path, RECORD_MAX, &len);
  if (text && parse_record(c, text, pd0) == 0) {
    snprintf(path, n, "%s/blobs/sha256/%s", c->store, c->old_blob + 7);
    c->oldfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (c->oldfd >= 0 && fstat(c->oldfd, &st) == 0 && (uint64_t)st.st_size == c->old_size) {
      c->matching = 1;
    } else if (c->oldfd >= 0) {
      close(c->oldfd);
      c->oldfd = -1;
    }
  }
  if (!c->matching) blocks_free(&c->old);
  free(text);
  free(path);
}

/* ---- workers ---- */

static int grow(void **p, uint64_t *cap, uint64_t need, size_t size) {
  uint64_t n = *cap ? *cap : 64;
  void *q;
  if (need <= *cap) return 0;
  while (n < need) n *= 2;
  if (!(q = realloc(*p, n * size))) return -1;
  *p = q;
  *cap = n;
  return 0;
}

/* Ordered: the input hash, this block's prefix digest, the reuse decision. */
static int hash_block(ocb_comp *c, slot *s, ocb_err *err) {
  unsigned char pd[32];
  uint64_t k = s->seq;
  void *p = c->now.pd;
  if (EVP_DigestUpdate(c->ih, s->in, s->in_len) != 1 || EVP_MD_CTX_copy_ex(c->tmp, c->ih) != 1 ||
      EVP_DigestFinal_ex(c->tmp, pd, NULL) != 1)
    return ocb_errf(err, "EIO", "EIO: SHA-256 failed");
  if (k == 0 && c->recdir) load_record(c, pd);
  if (c->matching && k < c->old.n && memcmp(pd, c->old.pd[k], 32) == 0)
    s->reused = 1;
  else
    c->matching = 0;
  if (grow(&p, &c->pd_cap, k + 1, 32) < 0) return ocb_errno(err, ENOMEM, "block digests");
  c->now.pd = p;
  memcpy(c->now.pd[k], pd, 32);
  memcpy(c->last_pd, pd, 32);
  return 0;
}

static int compress_block(ocb_comp *c, void *w, slot *s, ocb_err *err) {
  s->out_len = c->eng->block_fn(w, s->in, s->in_len, s->out, c->eng->bound(s->in_len), &s->crc);
  if (s->out_len == 0) return ocb_errf(err, "EIO", "EIO: %s compression failed", c->eng->name);
  return 0;
}

/* The oldest block waiting to be compressed, or NULL. */
static slot *next_ready(ocb_comp *c) {
  uint64_t k;
  for (k = c->written; k < c->submitted; k++) {
    slot *s = &c->ring[k % c->nslots];
    if (s->state == S_READY) return s;
  }
  return NULL;
}

static void *worker(void *arg) {
  ocb_comp *c = arg;
  void *w = NULL;
  ocb_err err;
  pthread_mutex_lock(&c->mu);
  if (!c->eng->passthrough && !(w = c->eng->wnew(c->level))) {
    ocb_errno(&err, ENOMEM, "compressor");
    set_failed(c, &err);
  }
  while (!c->quit && !c->failed) {
    slot *s = &c->ring[c->hashed % c->nslots];
    int r;
    if (c->track && !c->hashing && c->hashed < c->submitted && s->state == S_FILLED) {
      c->hashing = 1;
      pthread_mutex_unlock(&c->mu);
      r = hash_block(c, s, &err);
      pthread_mutex_lock(&c->mu);
      c->hashing = 0;
      c->hashed++;
      s->state = s->reused || c->eng->passthrough ? S_DONE : S_READY;
    } else if ((s = next_ready(c)) != NULL) {
      s->state = S_BUSY;
      pthread_mutex_unlock(&c->mu);
      r = compress_block(c, w, s, &err);
      pthread_mutex_lock(&c->mu);
      s->state = S_DONE;
    } else {
      pthread_cond_wait(&c->work, &c->mu);
      continue;
    }
    if (r < 0) set_failed(c, &err);
    pthread_cond_broadcast(&c->work);
    pthread_cond_broadcast(&c->done);
  }
  pthread_mutex_unlock(&c->mu);
  if (w) c->eng->wfree(w);
  return NULL;
}

/* ---- the caller's side ---- */

static void stop_threads(ocb_comp *c) {
  int i;
  if (!c->threads) return;
  pthread_mutex_lock(&c->mu);
  c->quit = 1;
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
  for (i = 0; i < c->nthreads; i++) pthread_join(c->threads[i], NULL);
  free(c->threads);
  c->threads = NULL;
}

void ocb_comp_free(ocb_comp *c) {
  size_t i;
  if (!c) return;
  stop_threads(c);
  for (i = 0; c->ring && i < c->nslots; i++) {
    if (c->ring[i].out != c->ring[i].in) free(c->ring[i].out);
    free(c->ring[i].in);
  }
  free(c->ring);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->work);
  pthread_cond_destroy(&c->done);
  EVP_MD_CTX_free(c->ih);
  EVP_MD_CTX_free(c->tmp);
  blocks_free(&c->now);
  blocks_free(&c->old);
  if (c->oldfd >= 0) close(c->oldfd);
  free(c->recdir);
  free(c->store);
  free(c);
}

ocb_comp *ocb_comp_new(int kind, int level, int threads, ocb_out_fn out, void *ud, ocb_err *err) {
  const ocb_engine *eng = ocb_engine_of(kind);
  ocb_comp *c;
  size_t per, max;
  int i;
  if (!eng) {
    ocb_errf(err, "EINVAL", "EINVAL: unknown compression %d", kind);
    return NULL;
  }
  if (!(c = calloc(1, sizeof *c))) {
    ocb_errno(err, ENOMEM, "compressor");
    return NULL;
  }
  c->eng = eng, c->kind = kind, c->level = level, c->out = out, c->ud = ud;
  c->oldfd = -1;
  c->crc = (uint32_t)crc32(0, Z_NULL, 0);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->work, NULL);
  pthread_cond_init(&c->done, NULL);
  per = eng->block + (eng->passthrough ? 0 : eng->bound(eng->block));
  max = RING_BUDGET / per;
  /* Two blocks per worker within the budget, never less than one each
   * plus the one being filled and the one being written. */
  c->nslots = 2 * (size_t)threads + 2;
  if (c->nslots > max) c->nslots = max;
  if (c->nslots < (size_t)threads + 2) c->nslots = (size_t)threads + 2;
  if (!(c->ring = calloc(c->nslots, sizeof *c->ring)) ||
      !(c->threads = calloc((size_t)threads, sizeof *c->threads))) {
    ocb_errno(err, ENOMEM, "compressor");
    ocb_comp_free(c);
    return NULL;
  }
  for (i = 0; i < threads; i++) {
    int e = pthread_create(&c->threads[i], NULL, worker, c);
    if (e) {
      ocb_errno(err, e, "compression thread");
      ocb_comp_free(c);
      return NULL;
    }
    c->nthreads++;
  }
  return c;
}

int ocb_comp_track(ocb_comp *c, const char *recdir, const char *store, ocb_err *err) {
  if (c->submitted || c->cur) return ocb_errf(err, "EINVAL", "EINVAL: track before writing");
  if (!(c->ih = EVP_MD_CTX_new()) || !(c->tmp = EVP_MD_CTX_new()) ||
      EVP_DigestInit_ex(c->ih, EVP_sha256(), NULL) != 1)
    return ocb_errf(err, "EIO", "EIO: cannot create a SHA-256 context");
  if (recdir && (!(c->recdir = strdup(recdir)) || !(c->store = strdup(store))))
    return ocb_errno(err, ENOMEM, recdir);
  pthread_mutex_lock(&c->mu);
  c->track = 1;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* Copies the earlier blob's bytes [0, n) to the output: its header and
 * the pieces of the blocks that matched. */
static int copy_prefix(ocb_comp *c, uint64_t n, ocb_err *err) {
  unsigned char *buf = malloc(COPY_CHUNK);
  uint64_t off = 0;
  int rc = 0;
  if (!buf) return ocb_errno(err, ENOMEM, "reuse");
  while (rc == 0 && off < n) {
    size_t want = n - off < COPY_CHUNK ? (size_t)(n - off) : COPY_CHUNK;
    ssize_t got = pread(c->oldfd, buf, want, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      char what[160];
      snprintf(what, sizeof what, "reading blob %s", c->old_blob);
      rc = ocb_errno(err, got < 0 ? errno : EIO, what);
      break;
    }
    rc = c->out(c->ud, buf, (size_t)got, err);
    off += (uint64_t)got;
  }
  free(buf);
  c->osize = off;
  return rc;
}

/* The first bytes out: the engine's header, or the earlier blob up to the
 * end of block k - 1 when blocks before k were reused. */
static int start(ocb_comp *c, uint64_t k, ocb_err *err) {
  unsigned char h[32];
  size_t n;
  c->started = 1;
  if (k > 0) return copy_prefix(c, c->old.end[k - 1], err);
  n = c->eng->header(h, c->level);
  c->osize = n;
  return n ? c->out(c->ud, h, n, err) : 0;
}

static int note_block(ocb_comp *c, uint64_t k, uint64_t end, uint32_t crc, ocb_err *err) {
  void *e = c->now.end, *r = c->now.crc;
  uint64_t cap = c->end_cap;
  if (!c->track) return 0;
  if (grow(&e, &cap, k + 1, 8) < 0) return ocb_errno(err, ENOMEM, "block offsets");
  c->now.end = e;
  if (grow(&r, &c->end_cap, k + 1, 4) < 0) return ocb_errno(err, ENOMEM, "block offsets");
  c->now.crc = r;
  c->now.end[k] = end;
  c->now.crc[k] = crc;
  return 0;
}

/* Writes one finished block's piece (or, for a reused one, only notes it). */
static int emit(ocb_comp *c, slot *s, ocb_err *err) {
  uint64_t k = s->seq;
  uint32_t crc = s->reused ? c->old.crc[k] : s->crc;
  c->crc = (uint32_t)crc32_combine(c->crc, crc, (z_off_t)s->in_len);
  c->isize += s->in_len;
  if (s->reused) {
    c->nreused++;
    return note_block(c, k, c->old.end[k], crc, err);
  }
  if (!c->started && start(c, k, err) < 0) return -1;
  if (s->out_len && c->out(c->ud, s->out, s->out_len, err) < 0) return -1;
  c->osize += s->out_len;
  return note_block(c, k, c->osize, crc, err);
}

/* Writes finished blocks in order, waiting while the ring holds more than
 * `keep` blocks that are not written yet. */
static int drain(ocb_comp *c, uint64_t keep, ocb_err *err) {
  pthread_mutex_lock(&c->mu);
  for (;;) {
    slot *s = &c->ring[c->written % c->nslots];
    int r;
    if (c->failed) {
      *err = c->werr;
      pthread_mutex_unlock(&c->mu);
      return -1;
    }
    if (c->written == c->submitted) break;
    if (s->state != S_DONE) {
      if (c->submitted - c->written <= keep) break;
      pthread_cond_wait(&c->done, &c->mu);
      continue;
    }
    pthread_mutex_unlock(&c->mu);
    r = emit(c, s, err);
    pthread_mutex_lock(&c->mu);
    if (r < 0) {
      set_failed(c, err);
      pthread_mutex_unlock(&c->mu);
      return -1;
    }
    s->state = S_FREE;
    c->written++;
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* The slot for the next block, with its buffers. */
static slot *take_slot(ocb_comp *c, ocb_err *err) {
  slot *s;
  if (drain(c, c->nslots - 1, err) < 0) return NULL;
  s = &c->ring[c->submitted % c->nslots];
  if (!s->in) {
    if (!(s->in = malloc(c->eng->block))) {
      ocb_errno(err, ENOMEM, "compression buffer");
      return NULL;
    }
    s->out = c->eng->passthrough ? s->in : malloc(c->eng->bound(c->eng->block));
    if (!s->out) {
      ocb_errno(err, ENOMEM, "compression buffer");
      return NULL;
    }
  }
  s->seq = c->submitted;
  s->in_len = s->out_len = 0;
  s->reused = 0;
  return s;
}

static void submit(ocb_comp *c) {
  slot *s = c->cur;
  c->cur = NULL;
  if (c->eng->passthrough) s->out_len = s->in_len;
  pthread_mutex_lock(&c->mu);
  s->state = c->track ? S_FILLED : c->eng->passthrough ? S_DONE : S_READY;
  c->submitted++;
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
}

int ocb_comp_write(ocb_comp *c, const void *buf, size_t len, ocb_err *err) {
  const unsigned char *p = buf;
  while (len) {
    size_t n;
    if (!c->cur && !(c->cur = take_slot(c, err))) return -1;
    n = c->eng->block - c->cur->in_len;
    if (n > len) n = len;
    memcpy(c->cur->in + c->cur->in_len, p, n);
    c->cur->in_len += n;
    p += n, len -= n;
    if (c->cur->in_len == c->eng->block) submit(c);
  }
  return 0;
}

int ocb_comp_finish(ocb_comp *c, ocb_err *err) {
  unsigned char t[32];
  size_t n;
  /* The last block is whatever is left; an empty input is one empty block. */
  if (!c->cur && c->submitted == 0 && !(c->cur = take_slot(c, err))) return -1;
  if (c->cur) submit(c);
  if (drain(c, 0, err) < 0) return -1;
  stop_threads(c);
  if (c->matching && c->nreused == c->old.n && c->nreused == c->submitted) return 0;
  if (!c->started && start(c, c->submitted, err) < 0) return -1;
  n = c->eng->trailer(t, c->crc, c->isize);
  c->osize += n;
  return n ? c->out(c->ud, t, n, err) : 0;
}

void ocb_comp_result_get(ocb_comp *c, ocb_comp_result *r) {
  char hex[65];
  memset(r, 0, sizeof *r);
  hex32(c->last_pd, hex);
  snprintf(r->diff_id, sizeof r->diff_id, "sha256:%s", hex);
  r->isize = c->isize;
  r->blocks = c->submitted;
  r->reused = c->nreused;
  r->whole = c->track && !c->started && c->matching && c->nreused == c->submitted;
  if (r->whole) {
    snprintf(r->blob, sizeof r->blob, "%s", c->old_blob);
    r->blob_size = c->old_size;
  }
}

/* mkdir -p below store for the record folder. */
static int make_dirs(const char *path, ocb_err *err) {
  char buf[4096];
  size_t i, n = strlen(path);
  if (n >= sizeof buf) return ocb_errno(err, ENAMETOOLONG, path);
  memcpy(buf, path, n + 1);
  for (i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    buf[i] = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return ocb_errno(err, errno, buf);
    buf[i] = path[i];
  }
  return 0;
}

/*
 * The record: a few header lines, then one line per block with the
 * SHA-256 of the input up to the block's end, the end of its piece in the
 * blob and the CRC-32 of its input.
 */
int ocb_comp_remember(ocb_comp *c, const char *digest, uint64_t size, ocb_err *err) {
  char key[128], hex[65], line[128], *path = NULL, *tmpdir = NULL, *text;
  size_t cap, len = 0, n;
  uint64_t k;
  ocb_afile f;
  int rc = -1;
  if (!c->track || !c->recdir || c->submitted == 0) return 0;
  cap = 512 + c->submitted * 96;
  n = strlen(c->recdir) + strlen(c->store) + 100;
  if (!(text = malloc(cap)) || !(path = malloc(n)) || !(tmpdir = malloc(n))) {
    ocb_errno(err, ENOMEM, c->recdir);
    goto done;
  }
  ocb_engine_key(c->kind, c->level, key, sizeof key);
  hex32(c->last_pd, hex);
  len = (size_t)snprintf(text, cap,
                         "ocibuild-reuse 1\nkey %s\nblob %s %llu\ninput sha256:%s %llu\n"
                         "blocks %llu\n",
                         key, digest, (unsigned long long)size, hex, (unsigned long long)c->isize,
                         (unsigned long long)c->submitted);
  for (k = 0; k < c->submitted; k++) {
    hex32(c->now.pd[k], hex);
    n = (size_t)snprintf(line, sizeof line, "%s %llu %08lx\n", hex,
                         (unsigned long long)c->now.end[k], (unsigned long)c->now.crc[k]);
    memcpy(text + len, line, n);
    len += n;
  }
  hex32(c->now.pd[0], hex);
  snprintf(path, strlen(c->recdir) + 80, "%s/%s", c->recdir, hex);
  snprintf(tmpdir, strlen(c->store) + 40, "%s/.ocibuild-tmp", c->store);
  if (make_dirs(c->recdir, err) < 0 || ocb_afile_open(&f, tmpdir, "reuse-", err) < 0) goto done;
  if (ocb_afile_write(&f, text, len, err) < 0) {
    ocb_afile_abort(&f);
    goto done;
  }
  rc = ocb_afile_commit(&f, path, err);
done:
  free(text);
  free(path);
  free(tmpdir);
  return rc;
}
