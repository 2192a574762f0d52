/*
 * lstate.c: layer states, <store>/.ocibuild/layers/<id>: what the last
 * build of a layer saw (per walked entry: its path, the lstat fields that
 * decide its tar bytes, and where its header starts in the tar), and what
 * came of it (the blob, the diff_id, the reuse record of its blocks), so a
 * rebuild reads no file whose stat is unchanged. Entries are front-coded
 * varints, streamed both ways; a trailer holds the summary and a CRC of
 * the entries, checked in full before anything in a state is trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define MAGIC "ocibuild-layer-state 2"
#define BUF (64u << 10)
#define MAX_PATH_BYTES 65536
#define MAX_TRAILER 4096

struct ocb_lstate_reader {
  int fd;
  uint64_t at;   /* file offset of the next read */
  uint64_t left; /* entry bytes not read yet */
  unsigned char *buf;
  size_t pos, len;
  char *path; /* the previous entry's path: the next one shares its start */
  size_t pathlen, pathcap;
  uint64_t count, n, last_off;
};

struct ocb_lstate_writer {
  ocb_afile f;
  unsigned char *buf;
  size_t len;
  char *path;
  size_t pathlen, pathcap;
  uint32_t crc;
  uint64_t bytes, n;
  char *dst;
};

static char *state_path(const ocb_store *s, const char *id) {
  char *root = ocb_store_path(s, OCB_F_LAYERS), *p = NULL;
  size_t n;
  if (!root) return NULL;
  n = strlen(root) + strlen(id) + 2;
  if ((p = malloc(n))) snprintf(p, n, "%s/%s", root, id);
  free(root);
  return p;
}

/* ---- writing ---- */

static int flush(ocb_lstate_writer *w, ocb_err *err) {
  if (w->len == 0) return 0;
  w->crc = (uint32_t)libdeflate_crc32(w->crc, w->buf, w->len);
  w->bytes += w->len;
  if (ocb_afile_write(&w->f, w->buf, w->len, err) < 0) return -1;
  w->len = 0;
  return 0;
}

static void put_varint(ocb_lstate_writer *w, uint64_t v) {
  do {
    unsigned char b = v & 0x7f;
    v >>= 7;
    w->buf[w->len++] = (unsigned char)(b | (v ? 0x80 : 0));
  } while (v);
}

ocb_lstate_writer *ocb_lstate_create(const ocb_store *s, const char *id, ocb_err *err) {
  ocb_lstate_writer *w = calloc(1, sizeof *w);
  char *tmp = ocb_store_path(s, OCB_F_TMP), *root = ocb_store_path(s, OCB_F_LAYERS);
  if (!w || !tmp || !root || !(w->buf = malloc(BUF)) || !(w->dst = state_path(s, id))) {
    ocb_errno(err, ENOMEM, s->dir);
    goto fail;
  }
  w->f.fd = -1;
  if (ocb_mkdirs(root, 0755, err) < 0 || ocb_afile_open(&w->f, tmp, "state-", err) < 0) goto fail;
  free(tmp);
  free(root);
  return w;
fail:
  free(tmp);
  free(root);
  ocb_lstate_abort(w);
  return NULL;
}

int ocb_lstate_add(ocb_lstate_writer *w, const ocb_lstate_entry *e, ocb_err *err) {
  size_t shared = 0;
  if (e->pathlen > MAX_PATH_BYTES) return ocb_errf(err, "ENAMETOOLONG", "state path");
  if (BUF - w->len < e->pathlen + 128 && flush(w, err) < 0) return -1;
  while (shared < w->pathlen && shared < e->pathlen && w->path[shared] == e->path[shared]) shared++;
  put_varint(w, shared);
  put_varint(w, e->pathlen - shared);
  memcpy(w->buf + w->len, e->path + shared, e->pathlen - shared);
  w->len += e->pathlen - shared;
  put_varint(w, e->off);
  put_varint(w, e->dev);
  put_varint(w, e->ino);
  put_varint(w, e->size);
  put_varint(w, e->mtime);
  put_varint(w, e->ctime);
  put_varint(w, e->mode);
  put_varint(w, e->uid);
  put_varint(w, e->gid);
  put_varint(w, e->nlink);
  if (e->pathlen > w->pathcap) {
    char *p = realloc(w->path, e->pathlen);
    if (!p) return ocb_errno(err, ENOMEM, "state");
    w->path = p, w->pathcap = e->pathlen;
  }
  memcpy(w->path, e->path, e->pathlen);
  w->pathlen = e->pathlen;
  w->n++;
  return 0;
}

int ocb_lstate_commit(ocb_lstate_writer *w, const ocb_lstate_head *h, ocb_err *err) {
  char t[MAX_TRAILER];
  int n, m, r = -1;
  if (flush(w, err) < 0) goto done;
  n = snprintf(t, sizeof t,
               "\n" MAGIC "\nkey %s\nblob %s %llu\ndiff %s %llu\nsince %llu\nend %llu\n"
               "entries %llu %llu %08lx\n",
               h->key, h->blob, (unsigned long long)h->blob_size, h->diff_id,
               (unsigned long long)h->tar_size, (unsigned long long)h->since,
               (unsigned long long)h->end, (unsigned long long)w->n, (unsigned long long)w->bytes,
               (unsigned long)w->crc);
  if (n < 0 || (size_t)n + 16 >= sizeof t) {
    ocb_errf(err, "EINVAL", "state trailer");
    goto done;
  }
  m = snprintf(t + n, sizeof t - (size_t)n, "%08d\n", n);
  if (ocb_afile_write(&w->f, t, (size_t)(n + m), err) == 0 &&
      ocb_afile_commit(&w->f, w->dst, err) == 0)
    r = 0;
done:
  ocb_lstate_abort(w); /* drops the temp file when the state was not published */
  return r;
}

void ocb_lstate_abort(ocb_lstate_writer *w) {
  if (!w) return;
  ocb_afile_abort(&w->f);
  free(w->buf);
  free(w->path);
  free(w->dst);
  free(w);
}

/* ---- reading ---- */

static int parse_trailer(char *t, ocb_lstate_head *h, uint64_t *bytes, uint32_t *crc) {
  unsigned long long bsize, tsize, since, end, n, nbytes;
  unsigned long c;
  int used = 0;
  if (sscanf(t,
             "\n" MAGIC "\nkey %127s\nblob %79s %llu\ndiff %79s %llu\nsince %llu\n"
             "end %llu\nentries %llu %llu %8lx\n%n",
             h->key, h->blob, &bsize, h->diff_id, &tsize, &since, &end, &n, &nbytes, &c,
             &used) != 10 ||
      used == 0 || !ocb_digest_valid(h->blob, strlen(h->blob)) ||
      !ocb_digest_valid(h->diff_id, strlen(h->diff_id)) || end > tsize)
    return -1;
  h->blob_size = bsize, h->tar_size = tsize, h->since = since, h->end = end, h->n = n;
  *bytes = nbytes, *crc = (uint32_t)c;
  return 0;
}

/* Reads the trailer and checks the entries' CRC; fills h. */
static int check_file(int fd, ocb_lstate_head *h, uint64_t *bytes) {
  char t[MAX_TRAILER + 1], *buf;
  struct stat st;
  uint64_t off = 0;
  uint32_t want, crc = 0;
  long tlen;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 9) return -1;
  if (pread(fd, t, 9, st.st_size - 9) != 9 || t[8] != '\n') return -1;
  t[8] = '\0';
  tlen = strtol(t, NULL, 10);
  if (tlen <= 0 || tlen > MAX_TRAILER || tlen + 9 > st.st_size) return -1;
  if (pread(fd, t, (size_t)tlen, st.st_size - 9 - tlen) != tlen) return -1;
  t[tlen] = '\0';
  if (parse_trailer(t, h, bytes, &want) < 0 || *bytes != (uint64_t)(st.st_size - 9 - tlen))
    return -1;
  if (!(buf = malloc(BUF))) return -1;
  while (off < *bytes) {
    size_t want_n = *bytes - off < BUF ? (size_t)(*bytes - off) : BUF;
    ssize_t n = pread(fd, buf, want_n, (off_t)off);
    if (n <= 0) break;
    crc = (uint32_t)libdeflate_crc32(crc, buf, (size_t)n);
    off += (uint64_t)n;
  }
  free(buf);
  return off == *bytes && crc == want ? 0 : -1;
}

ocb_lstate_reader *ocb_lstate_open(const ocb_store *s, const char *id, ocb_lstate_head *h) {
  char *p = state_path(s, id);
  ocb_lstate_reader *r = NULL;
  uint64_t bytes;
  int fd = p ? open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
  free(p);
  if (fd < 0) return NULL;
  memset(h, 0, sizeof *h);
  if (check_file(fd, h, &bytes) < 0 || !(r = calloc(1, sizeof *r)) || !(r->buf = malloc(BUF))) {
    free(r);
    close(fd);
    return NULL;
  }
  r->fd = fd, r->left = bytes, r->n = h->n;
  return r;
}

ocb_lstate_reader *ocb_lstate_again(const ocb_lstate_reader *r) {
  ocb_lstate_reader *a = calloc(1, sizeof *a);
  if (!a || !(a->buf = malloc(BUF)) || (a->fd = dup(r->fd)) < 0) {
    if (a) free(a->buf);
    free(a);
    return NULL;
  }
  a->left = r->at + r->left, a->n = r->n; /* the entries, from the first */
  return a;
}

/* The next byte of the entries, or -1 at their end or on a read error. */
static int next_byte(ocb_lstate_reader *r) {
  if (r->pos == r->len) {
    size_t want = r->left < BUF ? (size_t)r->left : BUF;
    ssize_t n;
    if (want == 0) return -1;
    do n = pread(r->fd, r->buf, want, (off_t)r->at);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    r->pos = 0, r->len = (size_t)n, r->left -= (uint64_t)n, r->at += (uint64_t)n;
  }
  return r->buf[r->pos++];
}

static int get_varint(ocb_lstate_reader *r, uint64_t *v) {
  int shift = 0, b;
  *v = 0;
  if (r->len - r->pos >= 10) { /* the whole of it is buffered: no call per byte */
    const unsigned char *p = r->buf + r->pos;
    do {
      if (shift > 63) return -1;
      b = *p++;
      *v |= (uint64_t)(b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    r->pos = (size_t)(p - r->buf);
    return 0;
  }
  do {
    if (shift > 63 || (b = next_byte(r)) < 0) return -1;
    *v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  return 0;
}

int ocb_lstate_next(ocb_lstate_reader *r, ocb_lstate_entry *e) {
  uint64_t shared, rest, v[10];
  size_t i;
  char *p;
  if (r->count == r->n) return 0;
  if (get_varint(r, &shared) < 0 || get_varint(r, &rest) < 0 || shared > r->pathlen ||
      rest > MAX_PATH_BYTES || shared + rest == 0)
    return -1;
  if (shared + rest + 1 > r->pathcap) {
    if (!(p = realloc(r->path, shared + rest + 65))) return -1;
    r->path = p, r->pathcap = (size_t)(shared + rest + 65);
  }
  p = r->path;
  if (r->len - r->pos >= rest) { /* buffered whole: copied at once */
    memcpy(p + shared, r->buf + r->pos, (size_t)rest);
    r->pos += (size_t)rest;
  } else {
    for (i = 0; i < rest; i++) {
      int b = next_byte(r);
      if (b < 0) return -1;
      p[shared + i] = (char)b;
    }
  }
  p[shared + rest] = '\0';
  /* Entries come in walk order, each after the one before. */
  if (r->count > 0 && shared == r->pathlen && rest == 0) return -1;
  r->pathlen = (size_t)(shared + rest);
  for (i = 0; i < 10; i++)
    if (get_varint(r, &v[i]) < 0) return -1;
  if (v[0] % 512 != 0 || (r->count > 0 && v[0] < r->last_off)) return -1;
  r->last_off = v[0];
  e->path = r->path, e->pathlen = r->pathlen;
  e->off = v[0], e->dev = v[1], e->ino = v[2], e->size = v[3], e->mtime = v[4], e->ctime = v[5];
  e->mode = (uint32_t)v[6], e->uid = (uint32_t)v[7], e->gid = (uint32_t)v[8];
  e->nlink = (uint32_t)v[9];
  r->count++;
  return 1;
}

void ocb_lstate_close(ocb_lstate_reader *r) {
  if (!r) return;
  close(r->fd);
  free(r->buf);
  free(r->path);
  free(r);
}

int ocb_lstate_forget(const ocb_store *s, const char *id) {
  char *p = state_path(s, id);
  int rc = p ? unlink(p) : -1;
  free(p);
  return rc;
}

typedef struct prune_ctx {
  const ocb_store *s;
  int all;
} prune_ctx;

/* A state: removed with all, or when it names a blob the store no longer
 * holds (or cannot be read at all). */
static int prune_state(void *ud, int dirfd, const char *name, ocb_err *err) {
  prune_ctx *p = ud;
  ocb_lstate_head h;
  uint64_t bytes;
  struct stat st;
  char *blob;
  int fd, gone = 1;
  if (p->all) return 1;
  if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) return 1;
  memset(&h, 0, sizeof h);
  if (check_file(fd, &h, &bytes) == 0 &&
      (blob = ocb_store_blob_path(p->s, h.blob, strlen(h.blob), err))) {
    gone = lstat(blob, &st) < 0;
    free(blob);
  }
  close(fd);
  return gone;
}

int ocb_lstate_prune(const ocb_store *s, int all, uint64_t *removed, ocb_err *err) {
  prune_ctx p = {s, all};
  return ocb_store_sweep(s, OCB_F_LAYERS, prune_state, &p, removed, err);
}
