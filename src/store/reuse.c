/*
 * reuse.c: reuse records, <store>/.ocibuild/reuse/<codec key>/<hex>, one
 * per layer build, named by the SHA-256 of its first block. A record says
 * which blob the build wrote, that blob's file identity when it was
 * recorded, and per block the prefix digest of the input, the end of its
 * piece, CRC-32s of the block's input and of the blob up to there, and the
 * SHA-256 state after the block (to resume the diff_id from).
 * Records are a cache: a missing, foreign or odd one means no reuse.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define RECORD_MAX (64u << 20)
#define MAGIC "ocibuild-reuse 3\n"

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

/* The whole of a regular file below max bytes, NUL-terminated; NULL else. */
static char *slurp(const char *path, size_t max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
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
    } else {
      free(buf);
      buf = NULL;
    }
  }
  close(fd);
  return buf;
}

/* What a record says about its blob's file, to tell it was not touched. */
typedef struct ident {
  unsigned long long size, ino, mtime, ctime; /* times in nanoseconds */
} ident;

static void ident_of(const struct stat *st, ident *id) {
  id->size = (unsigned long long)st->st_size;
  id->ino = (unsigned long long)st->st_ino;
  id->mtime = (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
              (unsigned long long)st->st_mtim.tv_nsec;
  id->ctime = (unsigned long long)st->st_ctim.tv_sec * 1000000000ull +
              (unsigned long long)st->st_ctim.tv_nsec;
}

/* A hash state as 64 hex digits (the eight words), a space, its byte count. */
static int state_parse(const char *p, ocb_sha256_state *st, char **end) {
  int i, j;
  for (i = 0; i < 8; i++) {
    uint32_t w = 0;
    for (j = 0; j < 8; j++) {
      char c = p[8 * i + j];
      int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v < 0) return -1;
      w = (w << 4) | (uint32_t)v;
    }
    st->h[i] = w;
  }
  if (p[64] != ' ' || p[65] < '0' || p[65] > '9') return -1;
  st->bytes = strtoull(p + 65, end, 10);
  return 0;
}

static int state_print(char *out, size_t cap, const ocb_sha256_state *st) {
  return snprintf(out, cap, "%08lx%08lx%08lx%08lx%08lx%08lx%08lx%08lx %llu",
                  (unsigned long)st->h[0], (unsigned long)st->h[1], (unsigned long)st->h[2],
                  (unsigned long)st->h[3], (unsigned long)st->h[4], (unsigned long)st->h[5],
                  (unsigned long)st->h[6], (unsigned long)st->h[7], (unsigned long long)st->bytes);
}

/* Parses one block line into slot i of b; 0, or -1. */
static int parse_block(char **pp, ocb_blocks *b, uint64_t i, unsigned long long *prev,
                       unsigned long long bsize) {
  char *p = *pp, *nl = strchr(p, '\n'), *q;
  unsigned long long end;
  unsigned long crc, ocrc;
  if (!nl || nl - p < 70 || unhex32(p, b->pd[i]) < 0 || p[64] != ' ') return -1;
  end = strtoull(p + 65, &q, 10);
  if (*q != ' ' || end <= *prev || end > bsize) return -1;
  crc = strtoul(q + 1, &q, 16);
  if (*q != ' ' || crc > 0xffffffffUL) return -1;
  ocrc = strtoul(q + 1, &q, 16);
  if (*q != ' ' || ocrc > 0xffffffffUL || state_parse(q + 1, &b->st[i], &q) < 0 || q != nl)
    return -1;
  b->end[i] = *prev = end;
  b->crc[i] = (uint32_t)crc;
  b->ocrc[i] = (uint32_t)ocrc;
  *pp = nl + 1;
  return 0;
}

/* Parses a record (see ocb_reuse_write) into prior; 0 when usable. */
static int parse_record(const ocb_reuse *r, char *text, const unsigned char pd0[32],
                        ocb_prior *prior, ident *id) {
  char key[128], blob[80], *p = text;
  unsigned long long n, i, prev = 0;
  int used = 0;
  ocb_blocks *b = &prior->b;
  if (strncmp(p, MAGIC, sizeof MAGIC - 1) != 0) return -1;
  p += sizeof MAGIC - 1;
  if (sscanf(p, "key %127s\nblob %79s %llu %llu %llu %llu\ninput %*s %*s\nblocks %llu%n", key, blob,
             &id->size, &id->ino, &id->mtime, &id->ctime, &n, &used) != 7 ||
      used == 0 || p[used] != '\n' || strcmp(key, r->key) != 0 ||
      !ocb_digest_valid(blob, strlen(blob)) || n == 0 || n > RECORD_MAX / 80)
    return -1;
  p += used + 1;
  if (!(b->pd = malloc(n * 32)) || !(b->end = malloc(n * 8)) || !(b->crc = malloc(n * 4)) ||
      !(b->ocrc = malloc(n * 4)) || !(b->st = malloc(n * sizeof *b->st)))
    return -1;
  for (i = 0; i < n; i++)
    if (parse_block(&p, b, i, &prev, id->size) < 0) return -1;
  if (*p != '\0' || memcmp(b->pd[0], pd0, 32) != 0) return -1;
  b->n = n;
  memcpy(prior->blob, blob, OCB_DIGEST_BUF);
  prior->size = id->size;
  return 0;
}

static char *record_path(const ocb_reuse *r, const unsigned char pd0[32]) {
  char *root = ocb_store_path(r->store, OCB_F_REUSE), hex[65], *p = NULL;
  size_t n;
  if (!root) return NULL;
  n = strlen(root) + strlen(r->key) + 70;
  hex32(pd0, hex);
  if ((p = malloc(n))) snprintf(p, n, "%s/%s/%s", root, r->key, hex);
  free(root);
  return p;
}

int ocb_reuse_find(void *ud, const unsigned char pd0[32], ocb_prior *prior) {
  const ocb_reuse *r = ud;
  char *path = record_path(r, pd0), *text = path ? slurp(path, RECORD_MAX) : NULL;
  ocb_err err;
  ident want, got;
  struct stat st;
  int ok = 0;
  memset(prior, 0, sizeof *prior);
  prior->fd = -1;
  if (text && parse_record(r, text, pd0, prior, &want) == 0 &&
      (prior->fd = ocb_blob_open(r->store, prior->blob, OCB_DIGEST_LEN, &err)) >= 0 &&
      fstat(prior->fd, &st) == 0) {
    /* The blob's file must be the one recorded, untouched since: a blob
     * changed by any write has another ctime at least. */
    ident_of(&st, &got);
    ok = memcmp(&want, &got, sizeof want) == 0;
  }
  if (!ok) {
    if (prior->fd >= 0) close(prior->fd);
    ocb_blocks_free(&prior->b);
    prior->fd = -1;
  }
  free(text);
  free(path);
  return ok;
}

static int dir_of(const ocb_reuse *r, char **dir, char **tmpdir, ocb_err *err) {
  char *root = ocb_store_path(r->store, OCB_F_REUSE);
  size_t n = root ? strlen(root) + strlen(r->key) + 2 : 0;
  *dir = root ? malloc(n) : NULL;
  *tmpdir = ocb_store_path(r->store, OCB_F_TMP);
  if (*dir) snprintf(*dir, n, "%s/%s", root, r->key);
  free(root);
  if (!*dir || !*tmpdir) return ocb_errno(err, ENOMEM, r->store->dir);
  return ocb_mkdirs(*dir, 0755, err);
}

/* The record's text: a header, then a line per block. */
static char *record_text(const ocb_reuse *r, const ocb_comp *c, const char *digest,
                         const struct stat *st, size_t *len) {
  const ocb_blocks *b = ocb_comp_blocks(c);
  ocb_comp_result res;
  ident id;
  size_t cap = 512 + b->n * 256;
  char *text = malloc(cap), hex[65];
  uint64_t k;
  if (!text) return NULL;
  ocb_comp_result_get(c, &res);
  ident_of(st, &id);
  *len = (size_t)snprintf(text, cap,
                          MAGIC "key %s\nblob %s %llu %llu %llu %llu\ninput %s %llu\nblocks %llu\n",
                          r->key, digest, id.size, id.ino, id.mtime, id.ctime, res.diff_id,
                          (unsigned long long)res.isize, (unsigned long long)b->n);
  for (k = 0; k < b->n; k++) {
    hex32(b->pd[k], hex);
    *len += (size_t)snprintf(text + *len, cap - *len, "%s %llu %08lx %08lx ", hex,
                             (unsigned long long)b->end[k], (unsigned long)b->crc[k],
                             (unsigned long)b->ocrc[k]);
    *len += (size_t)state_print(text + *len, cap - *len, &b->st[k]);
    text[(*len)++] = '\n';
  }
  return text;
}

int ocb_reuse_write(const ocb_reuse *r, const ocb_comp *c, const char *digest, uint64_t size,
                    ocb_err *err) {
  const ocb_blocks *b = ocb_comp_blocks(c);
  char *dir = NULL, *tmpdir = NULL, *text = NULL, *path = NULL;
  size_t len = 0;
  struct stat st;
  ocb_afile f;
  int fd, rc = -1;
  if (b->n == 0) return 0;
  if ((fd = ocb_blob_open(r->store, digest, strlen(digest), err)) < 0) return -1;
  if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) {
    rc = ocb_errno(err, errno ? errno : EIO, digest);
    close(fd);
    return rc;
  }
  close(fd);
  if (dir_of(r, &dir, &tmpdir, err) < 0) goto done;
  if (!(text = record_text(r, c, digest, &st, &len)) || !(path = record_path(r, b->pd[0]))) {
    ocb_errno(err, ENOMEM, dir);
    goto done;
  }
  if (ocb_afile_open(&f, tmpdir, "reuse-", err) < 0) goto done;
  if (ocb_afile_write(&f, text, len, err) < 0) {
    ocb_afile_abort(&f);
    goto done;
  }
  rc = ocb_afile_commit(&f, path, err);
done:
  if (rc < 0 && dir) rmdir(dir); /* the folder this made, if it is empty */
  free(dir);
  free(tmpdir);
  free(text);
  free(path);
  return rc;
}

/* 1 when the record `name` (of the folder open on dirfd) names a blob the
 * store no longer holds, or cannot be read. */
static int stale(const ocb_store *s, int dirfd, const char *name) {
  char head[1024], blob[80], *bp, *p;
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), gone = 1;
  ssize_t n = fd < 0 ? -1 : read(fd, head, sizeof head - 1);
  ocb_err err;
  struct stat st;
  if (fd >= 0) close(fd);
  if (n <= 0) return 1;
  head[n] = '\0';
  if (strncmp(head, MAGIC, sizeof MAGIC - 1) == 0 && (bp = strstr(head, "\nblob ")) &&
      sscanf(bp, "\nblob %79s", blob) == 1 &&
      (p = ocb_store_blob_path(s, blob, strlen(blob), &err))) {
    gone = lstat(p, &st) < 0;
    free(p);
  }
  return gone;
}

int ocb_reuse_forget(const ocb_reuse *r, const unsigned char pd0[32]) {
  char *path = record_path(r, pd0);
  int rc = path ? unlink(path) : -1;
  free(path);
  return rc;
}

typedef struct prune_ctx {
  const ocb_store *s;
  int all;
  uint64_t *removed;
} prune_ctx;

/* A record: removed when stale (or with all). */
static int prune_record(void *ud, int dirfd, const char *name, ocb_err *err) {
  prune_ctx *p = ud;
  (void)err;
  return p->all || stale(p->s, dirfd, name);
}

/* A key folder: its records swept, the folder itself removed with all. */
static int prune_key(void *ud, int dirfd, const char *name, ocb_err *err) {
  prune_ctx *p = ud;
  if (ocb_sweep(dirfd, name, prune_record, p, p->removed, err) < 0) return -1;
  if (p->all) unlinkat(dirfd, name, AT_REMOVEDIR);
  return 0;
}

int ocb_reuse_prune(const ocb_store *s, int all, uint64_t *removed, ocb_err *err) {
  prune_ctx p = {s, all, removed};
  *removed = 0;
  return ocb_store_sweep(s, OCB_F_REUSE, prune_key, &p, removed, err);
}
