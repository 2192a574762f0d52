/*
 * reuse.c: reuse records, <store>/.ocibuild/reuse/<codec key>/<blob hex>,
 * one per layer blob, and an index f-<hex> naming the blob whose first
 * block's input hashed to <hex> (for builds without a layer state). A
 * record says which blob it describes, that blob's file identity when it
 * was recorded, and per block (see the format below) its input range, its
 * piece's range in the blob, what identifies its input (SHA-256 and
 * CRC-32), the CRC-32 of the piece, and the diff_id's hash state after it.
 * Records are a cache: a missing, foreign or odd one means no reuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>

#include "store.h"

#define RECORD_MAX (64u << 20)
#define MAGIC "ocibuild-reuse 5\n"
#define TRAILER 13 /* "crc <8 hex>\n" */
#define INDEX "f-"

/*
 * The format, text:
 *   ocibuild-reuse 5
 *   key <codec key>
 *   blob <digest> <size> <inode> <mtime ns> <ctime ns>
 *   input <diff_id> <bytes>
 *   head <bytes of the output before the first piece>
 *   blocks <n>
 * then one line per block, in order:
 *   <SHA-256 of its input, hex> <input end> <piece end> <CRC-32 of its
 *   input, hex> <CRC-32 of its piece, hex> <the input's hash state after
 *   it: 64 hex, or -> <the blob's hash state: 64 hex> <bytes it covers>
 * A block starts where the one before ends (the first at 0 in the input
 * and at `head` in the blob); the input's hash state covers the input up
 * to the block's end, the blob's the blob up to the last multiple of 64
 * bytes before the piece's end. A hash state is the eight words of a
 * SHA-256 state, so that either digest resumes from any block's end.
 * Last comes `crc <CRC-32 of every byte before it, 8 hex>`: a build that
 * resumes from a hash state it read publishes whatever digest that state
 * gives, so a state damaged on disk must never be taken; the blob's file
 * identity covers its pieces, the CRC everything the record says.
 */

static void hex32(const unsigned char *d, char *out) {
  static const char x[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 32; i++) out[2 * i] = x[d[i] >> 4], out[2 * i + 1] = x[d[i] & 15];
  out[64] = '\0';
}

static int unhex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int unhex32(const char *s, unsigned char *d) {
  int i;
  for (i = 0; i < 32; i++) {
    int a = unhex(s[2 * i]), b = unhex(s[2 * i + 1]);
    if (a < 0 || b < 0) return -1;
    d[i] = (unsigned char)(a << 4 | b);
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

/* A hash state's eight words as 64 hex digits. */
static int state_parse(const char *p, ocb_sha256_state *st) {
  int i, j;
  for (i = 0; i < 8; i++) {
    uint32_t w = 0;
    for (j = 0; j < 8; j++) {
      int v = unhex(p[8 * i + j]);
      if (v < 0) return -1;
      w = (w << 4) | (uint32_t)v;
    }
    st->h[i] = w;
  }
  return 0;
}

/* The blob's hash state at the end of a block line: 64 hex, ' ', bytes. */
static int parse_ostate(char *q, char *nl, ocb_block *k) {
  char *e;
  if (nl - q < 66 || state_parse(q, &k->ost) < 0 || q[64] != ' ' || q[65] < '0' || q[65] > '9')
    return -1;
  k->ost.bytes = strtoull(q + 65, &e, 10);
  return e == nl && k->ost.bytes % 64 == 0 && k->ost.bytes <= k->oend ? 0 : -1;
}

/* Parses one block line into k; ends and sizes checked against prev and
 * the blob's size. 0, or -1. */
static int parse_block(char **pp, ocb_block *k, const ocb_block *prev, unsigned long long bsize) {
  char *p = *pp, *nl = strchr(p, '\n'), *q;
  unsigned long crc, ocrc;
  memset(k, 0, sizeof *k);
  if (!nl || nl - p < 72 || unhex32(p, k->id) < 0 || p[64] != ' ') return -1;
  k->tend = strtoull(p + 65, &q, 10);
  if (*q != ' ' || k->tend < prev->tend) return -1;
  k->oend = strtoull(q + 1, &q, 10);
  if (*q != ' ' || k->oend < prev->oend || k->oend > bsize) return -1;
  crc = strtoul(q + 1, &q, 16);
  if (*q != ' ' || crc > 0xffffffffUL) return -1;
  ocrc = strtoul(q + 1, &q, 16);
  if (*q != ' ' || ocrc > 0xffffffffUL) return -1;
  k->crc = (uint32_t)crc, k->ocrc = (uint32_t)ocrc;
  if (q[1] == '-' && q[2] == ' ') {
    q += 3;
  } else {
    if (nl - q < 66 || state_parse(q + 1, &k->st) < 0 || q[65] != ' ' || k->tend % 64 != 0)
      return -1;
    k->st.bytes = k->tend;
    q += 66;
  }
  *pp = nl + 1;
  return parse_ostate(q, nl, k);
}

/* Checks the record's trailer and cuts it off: 0 when the CRC is right. */
static int check_crc(char *text) {
  size_t len = strlen(text);
  char *t, *e;
  unsigned long want;
  if (len < TRAILER + 1) return -1;
  t = text + len - TRAILER;
  if (t[-1] != '\n' || strncmp(t, "crc ", 4) != 0 || t[TRAILER - 1] != '\n') return -1;
  want = strtoul(t + 4, &e, 16);
  if (e != t + TRAILER - 1 || want > 0xffffffffUL ||
      (uint32_t)libdeflate_crc32(0, text, len - TRAILER) != (uint32_t)want)
    return -1;
  *t = '\0';
  return 0;
}

/* Parses a record into prior (its input's digest and size into input);
 * 0 when usable. */
static int parse_record(const ocb_reuse *r, char *text, ocb_prior *prior, ident *id,
                        ocb_reuse_input *input) {
  char key[128], blob[80], *p = text;
  unsigned long long n, i, head, isize;
  ocb_block k, prev;
  int used = 0;
  if (strncmp(p, MAGIC, sizeof MAGIC - 1) != 0) return -1;
  p += sizeof MAGIC - 1;
  if (sscanf(p,
             "key %127s\nblob %79s %llu %llu %llu %llu\ninput %71s %llu\nhead %llu\nblocks %llu%n",
             key, blob, &id->size, &id->ino, &id->mtime, &id->ctime, input->diff_id, &isize, &head,
             &n, &used) != 10 ||
      used == 0 || p[used] != '\n' || strcmp(key, r->key) != 0 ||
      !ocb_digest_valid(blob, strlen(blob)) ||
      !ocb_digest_valid(input->diff_id, strlen(input->diff_id)) || n == 0 || n > RECORD_MAX / 72 ||
      head > 32)
    return -1;
  input->size = isize;
  p += used + 1;
  memset(&prev, 0, sizeof prev);
  prev.oend = head;
  prior->b.ohead = head;
  for (i = 0; i < n; i++) {
    if (parse_block(&p, &k, &prev, id->size) < 0 || ocb_blocks_push(&prior->b, &k) < 0) return -1;
    prev = k;
  }
  if (*p != '\0') return -1;
  memcpy(prior->blob, blob, OCB_DIGEST_BUF);
  prior->size = id->size;
  return 0;
}

/* reuse/<key>/<name> (malloc'ed). */
static char *path_in(const ocb_reuse *r, const char *name) {
  char *root = ocb_store_path(r->store, OCB_F_REUSE), *p = NULL;
  size_t n;
  if (!root) return NULL;
  n = strlen(root) + strlen(r->key) + strlen(name) + 3;
  if ((p = malloc(n))) snprintf(p, n, "%s/%s/%s", root, r->key, name);
  free(root);
  return p;
}

/* The record of blob digest, or the index entry of id0. */
static char *record_path(const ocb_reuse *r, const char *digest) {
  return ocb_digest_valid(digest, strlen(digest)) ? path_in(r, digest + 7) : NULL;
}

static char *index_path(const ocb_reuse *r, const unsigned char id0[32]) {
  char name[80];
  memcpy(name, INDEX, sizeof INDEX - 1);
  hex32(id0, name + sizeof INDEX - 1);
  return path_in(r, name);
}

int ocb_reuse_open(const ocb_reuse *r, const char *digest, ocb_prior *prior) {
  ocb_reuse_input input;
  return ocb_reuse_read(r, digest, prior, &input);
}

int ocb_reuse_read(const ocb_reuse *r, const char *digest, ocb_prior *prior,
                   ocb_reuse_input *input) {
  char *path = record_path(r, digest), *text = path ? slurp(path, RECORD_MAX) : NULL;
  ocb_err err;
  ident want, got;
  struct stat st;
  int ok = 0;
  ocb_prior_init(prior);
  if (text && check_crc(text) == 0 && parse_record(r, text, prior, &want, input) == 0 &&
      strcmp(prior->blob, digest) == 0 &&
      (prior->fd = ocb_blob_open(r->store, prior->blob, OCB_DIGEST_LEN, &err)) >= 0 &&
      fstat(prior->fd, &st) == 0) {
    /* The blob's file must be the one recorded, untouched since: a blob
     * changed by any write has another ctime at least. */
    ident_of(&st, &got);
    ok = memcmp(&want, &got, sizeof want) == 0;
  }
  if (!ok) ocb_prior_free(prior);
  free(text);
  free(path);
  return ok;
}

int ocb_reuse_find(void *ud, const unsigned char id0[32], ocb_prior *prior) {
  const ocb_reuse *r = ud;
  char *path = index_path(r, id0), *text = path ? slurp(path, 128) : NULL;
  int ok = 0;
  ocb_prior_init(prior);
  if (text && strlen(text) == OCB_DIGEST_LEN + 1 && text[OCB_DIGEST_LEN] == '\n') {
    text[OCB_DIGEST_LEN] = '\0';
    ok = ocb_reuse_open(r, text, prior) && prior->b.n && memcmp(prior->b.v[0].id, id0, 32) == 0;
    if (!ok) ocb_prior_free(prior);
  }
  free(text);
  free(path);
  return ok;
}

/* The record's text: a header, then a line per block. */
static char *record_text(const ocb_reuse *r, const ocb_comp *c, const char *digest,
                         const struct stat *st, size_t *len) {
  const ocb_blocks *b = ocb_comp_blocks(c);
  ocb_comp_result res;
  ident id;
  size_t cap = 512 + b->n * 288;
  char *text = malloc(cap), hex[65];
  uint64_t k;
  int i;
  if (!text) return NULL;
  ocb_comp_result_get(c, &res);
  ident_of(st, &id);
  *len = (size_t)snprintf(text, cap,
                          MAGIC "key %s\nblob %s %llu %llu %llu %llu\ninput %s %llu\nhead %llu\n"
                                "blocks %llu\n",
                          r->key, digest, id.size, id.ino, id.mtime, id.ctime, res.diff_id,
                          (unsigned long long)res.isize, (unsigned long long)b->ohead,
                          (unsigned long long)b->n);
  for (k = 0; k < b->n; k++) {
    const ocb_block *v = &b->v[k];
    hex32(v->id, hex);
    *len += (size_t)snprintf(text + *len, cap - *len, "%s %llu %llu %08lx %08lx ", hex,
                             (unsigned long long)v->tend, (unsigned long long)v->oend,
                             (unsigned long)v->crc, (unsigned long)v->ocrc);
    if (v->st.bytes == 0 || v->st.bytes != v->tend) {
      text[(*len)++] = '-';
    } else {
      for (i = 0; i < 8; i++)
        *len += (size_t)snprintf(text + *len, cap - *len, "%08lx", (unsigned long)v->st.h[i]);
    }
    text[(*len)++] = ' ';
    for (i = 0; i < 8; i++)
      *len += (size_t)snprintf(text + *len, cap - *len, "%08lx", (unsigned long)v->ost.h[i]);
    *len += (size_t)snprintf(text + *len, cap - *len, " %llu\n", (unsigned long long)v->ost.bytes);
  }
  *len += (size_t)snprintf(text + *len, cap - *len, "crc %08lx\n",
                           (unsigned long)libdeflate_crc32(0, text, *len));
  return text;
}

/* Writes data to path through a temp file in the store. */
static int put_file(const ocb_reuse *r, const char *path, const char *data, size_t len,
                    ocb_err *err) {
  char *tmpdir = ocb_store_path(r->store, OCB_F_TMP);
  ocb_afile f;
  int rc = -1;
  if (!tmpdir) return ocb_errno(err, ENOMEM, r->store->dir);
  if (ocb_afile_open(&f, tmpdir, "reuse-", err) == 0) {
    if (ocb_afile_write(&f, data, len, err) == 0)
      rc = ocb_afile_commit(&f, path, err);
    else
      ocb_afile_abort(&f);
  }
  free(tmpdir);
  return rc;
}

int ocb_reuse_write(const ocb_reuse *r, const ocb_comp *c, const char *digest, uint64_t size,
                    ocb_err *err) {
  const ocb_blocks *b = ocb_comp_blocks(c);
  char *dir = path_in(r, ""), *text = NULL, *path = record_path(r, digest), *ipath = NULL;
  char line[OCB_DIGEST_BUF + 1];
  size_t len = 0;
  struct stat st;
  int fd, rc = -1;
  if (b->n == 0) rc = 0;
  if (rc == 0 || !dir || !path || !(ipath = index_path(r, b->v[0].id))) {
    if (rc < 0) ocb_errno(err, ENOMEM, r->store->dir);
    goto done;
  }
  if ((fd = ocb_blob_open(r->store, digest, strlen(digest), err)) < 0) goto done;
  if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) {
    ocb_errno(err, errno ? errno : EIO, digest);
    close(fd);
    goto done;
  }
  close(fd);
  if (ocb_mkdirs(dir, 0755, err) < 0) goto done;
  if (!(text = record_text(r, c, digest, &st, &len))) {
    ocb_errno(err, ENOMEM, dir);
    goto done;
  }
  snprintf(line, sizeof line, "%s\n", digest);
  if (put_file(r, path, text, len, err) == 0 && put_file(r, ipath, line, strlen(line), err) == 0)
    rc = 0;
done:
  if (rc < 0 && dir) rmdir(dir); /* the folder this made, if it is empty */
  free(dir);
  free(text);
  free(path);
  free(ipath);
  return rc;
}

int ocb_reuse_forget(const ocb_reuse *r, const char *digest) {
  char *path = record_path(r, digest);
  int rc = path ? unlink(path) : -1;
  free(path);
  return rc;
}

/* 1 when the entry `name` (of the key folder open on dirfd) is a record
 * whose blob the store no longer holds, an index entry whose record is
 * gone, or neither. */
static int stale(const ocb_store *s, int dirfd, const char *name) {
  char text[128], *p;
  struct stat st;
  ocb_err err;
  int fd, gone = 1;
  ssize_t n;
  if (strncmp(name, INDEX, sizeof INDEX - 1) == 0) {
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    if (fd >= 0) close(fd);
    if (n != OCB_DIGEST_LEN + 1 || text[OCB_DIGEST_LEN] != '\n') return 1;
    text[OCB_DIGEST_LEN] = '\0';
    return !ocb_digest_valid(text, OCB_DIGEST_LEN) ||
           fstatat(dirfd, text + 7, &st, AT_SYMLINK_NOFOLLOW) < 0;
  }
  snprintf(text, sizeof text, "sha256:%s", name);
  if ((p = ocb_store_blob_path(s, text, strlen(text), &err))) {
    gone = lstat(p, &st) < 0;
    free(p);
  }
  return gone;
}

typedef struct prune_ctx {
  const ocb_store *s;
  int all, index; /* index: this pass sweeps index entries, else records */
  uint64_t *removed;
} prune_ctx;

/* A record or index entry of this pass: removed when stale (or with all). */
static int prune_record(void *ud, int dirfd, const char *name, ocb_err *err) {
  prune_ctx *p = ud;
  (void)err;
  if ((strncmp(name, INDEX, sizeof INDEX - 1) == 0) != p->index) return 0;
  return p->all || stale(p->s, dirfd, name);
}

/* A key folder: its records swept (and counted), then the index entries
 * of records gone; the folder itself removed with all. */
static int prune_key(void *ud, int dirfd, const char *name, ocb_err *err) {
  prune_ctx *p = ud, q = *p;
  uint64_t entries = 0;
  p->index = 0, q.index = 1;
  if (ocb_sweep(dirfd, name, prune_record, p, p->removed, err) < 0 ||
      ocb_sweep(dirfd, name, prune_record, &q, &entries, err) < 0)
    return -1;
  if (p->all) unlinkat(dirfd, name, AT_REMOVEDIR);
  return 0;
}

int ocb_reuse_prune(const ocb_store *s, int all, uint64_t *removed, ocb_err *err) {
  prune_ctx p = {s, all, 0, removed};
  *removed = 0;
  return ocb_store_sweep(s, OCB_F_REUSE, prune_key, &p, removed, err);
}
