/*
 * catalog.c: what a layer holds, learnt from its tar stream as the bytes go
 * by (the layer job writing it, or a layer blob read through once): a
 * record per entry (type, size, mode, path, link; with `files`, each
 * regular file's SHA-256 and SHA-1 from the bytes that pass), and the
 * bytes package detectors look at: the first bytes of the files the
 * capture matcher selects (as many as the deciding pattern allows), and in
 * ELF executables the windows that start at Go's build information magic.
 * Captures go to the caller's callback when their entry ends. Nothing is
 * read a second time: the bytes are the tar's own.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

#define MAGIC "\xff Go buildinf:"
#define MAGIC_LEN 14
#define MAX_WINDOWS 4

typedef struct buf_t {
  char *p;
  size_t len, cap;
} buf_t;

struct ocb_catalog {
  ocb_catalog_spec spec;
  ocb_capture_fn fn;
  void *ud;
  buf_t rec;  /* the records */
  buf_t path; /* the current entry's clean path */
  buf_t link; /* a hardlink's target, clean */
  EVP_MD_CTX *h256, *h1;
  /* the current entry's body */
  uint64_t size, seen;
  unsigned mode;
  int hash;      /* its bytes are hashed */
  uint64_t keep; /* its first bytes kept (0: none) */
  buf_t pre;
  int scan; /* looked into for Go's build information */
  buf_t go; /* the windows found, one after the other */
  size_t win[MAX_WINDOWS], nwin;
  uint64_t fill;                 /* bytes still owed to the last window */
  unsigned char tail[MAGIC_LEN]; /* the last bytes seen, for a magic across two chunks */
  size_t taillen;
};

static int grow(buf_t *b, size_t more, ocb_err *err) {
  size_t cap;
  char *p;
  if (b->len + more <= b->cap) return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < b->len + more) cap *= 2;
  if (!(p = realloc(b->p, cap))) return ocb_errno(err, ENOMEM, "catalog");
  b->p = p, b->cap = cap;
  return 0;
}

static int put(buf_t *b, const void *s, size_t n, ocb_err *err) {
  if (grow(b, n, err) < 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

ocb_catalog *ocb_catalog_new(const ocb_catalog_spec *spec, ocb_capture_fn fn, void *ud,
                             ocb_err *err) {
  ocb_catalog *c = calloc(1, sizeof *c);
  if (!c || !(c->h256 = EVP_MD_CTX_new()) || !(c->h1 = EVP_MD_CTX_new())) {
    ocb_catalog_free(c);
    ocb_errno(err, ENOMEM, "catalog");
    return NULL;
  }
  c->spec = *spec, c->fn = fn, c->ud = ud;
  return c;
}

void ocb_catalog_free(ocb_catalog *c) {
  if (!c) return;
  EVP_MD_CTX_free(c->h256);
  EVP_MD_CTX_free(c->h1);
  free(c->rec.p);
  free(c->path.p);
  free(c->link.p);
  free(c->pre.p);
  free(c->go.p);
  free(c);
}

const char *ocb_catalog_records(const ocb_catalog *c, size_t *len) {
  *len = c->rec.len;
  return c->rec.p ? c->rec.p : "";
}

/* name made clean into b (NUL-terminated, b->len without it): no "./" or
 * "/" before it, no "/" after; 0 for the root (not recorded); an error for
 * a name with a ".." component, which the build's own reads refuse too. */
static int clean(buf_t *b, const char *name, size_t len, ocb_err *err) {
  size_t i;
  for (;;) {
    if (len >= 2 && name[0] == '.' && name[1] == '/')
      name += 2, len -= 2;
    else if (len >= 1 && name[0] == '/')
      name++, len--;
    else
      break;
  }
  while (len > 0 && name[len - 1] == '/') len--;
  if (len == 0 || (len == 1 && name[0] == '.')) return 0;
  for (i = 0; i + 1 < len; i++)
    if (name[i] == '.' && name[i + 1] == '.' && (i == 0 || name[i - 1] == '/') &&
        (i + 2 == len || name[i + 2] == '/')) {
      char q[512];
      ocb_quote(q, sizeof q, name, len);
      return ocb_errf(err, "BADLAYER", "entry %s has a .. component: refused", q);
    }
  b->len = 0;
  if (put(b, name, len, err) < 0 || put(b, "", 1, err) < 0) return -1;
  b->len = len;
  return 1;
}

static int whiteout(const ocb_catalog *c) {
  const char *base = strrchr(c->path.p, '/');
  base = base ? base + 1 : c->path.p;
  return strncmp(base, ".wh.", 4) == 0;
}

static char letter(int type) {
  switch (type) {
  case OCB_TAR_DIR: return 'd';
  case OCB_TAR_DATA:
  case OCB_TAR_FILE: return 'f';
  case OCB_TAR_SYMLINK: return 'l';
  case OCB_TAR_HARDLINK: return 'h';
  case OCB_TAR_FIFO: return 'p';
  default: return 'o';
  }
}

/* One record: T<size> <mode> <sha256|-> <sha1|->\t<path>\0<link>\0 */
static int record(ocb_catalog *c, char t, const char *s256, const char *s1, const char *link,
                  ocb_err *err) {
  char head[200];
  int n = snprintf(head, sizeof head, "%c%llu %u %s %s\t", t, (unsigned long long)c->size,
                   c->mode & 07777, s256 ? s256 : "-", s1 ? s1 : "-");
  if (put(&c->rec, head, (size_t)n, err) < 0 || put(&c->rec, c->path.p, c->path.len + 1, err) < 0)
    return -1;
  return put(&c->rec, link ? link : "", (link ? strlen(link) : 0) + 1, err);
}

/* The bytes the capture matcher's deciding pattern keeps of the file, or 0. */
static uint64_t keep_of(const ocb_catalog *c) {
  int why = -1;
  if (!c->spec.capture || !ocb_matcher_path(c->spec.capture, c->path.p, c->path.len, &why))
    return 0;
  if (why < 0 || (size_t)why >= c->spec.nmax) return 0;
  return c->spec.max[why];
}

/* An executable of the size Go binaries have: looked into for build info. */
static int scanned(const ocb_catalog *c) {
  return c->spec.go_window > 0 && (c->mode & 0111) && c->size >= 1024;
}

int ocb_catalog_entry(ocb_catalog *c, const char *name, size_t len, int type, const char *link,
                      uint64_t size, unsigned mode, ocb_err *err) {
  int r, file = type == OCB_TAR_FILE || type == OCB_TAR_DATA;
  if ((r = clean(&c->path, name, len, err)) <= 0) return r;
  c->size = file ? size : 0, c->mode = mode, c->seen = 0;
  c->keep = file ? keep_of(c) : 0;
  c->scan = file && scanned(c);
  c->hash = file && c->spec.files;
  if (c->hash || c->keep || c->scan) {
    c->pre.len = c->go.len = c->nwin = c->taillen = 0;
    c->fill = 0;
    if (c->hash && (EVP_DigestInit_ex(c->h256, EVP_sha256(), NULL) != 1 ||
                    EVP_DigestInit_ex(c->h1, EVP_sha1(), NULL) != 1))
      return ocb_errf(err, "EINVAL", "EINVAL: no SHA-256 or SHA-1 in this OpenSSL");
    return 1;
  }
  if (!c->spec.files && !c->spec.entries && !whiteout(c)) return 0;
  if (type == OCB_TAR_HARDLINK || type == OCB_TAR_SYMLINK) {
    /* a hardlink names its target as the records name paths */
    if (type == OCB_TAR_HARDLINK && link && (r = clean(&c->link, link, strlen(link), err)) < 0)
      return -1;
    link = type == OCB_TAR_SYMLINK ? link : (link && r > 0 ? c->link.p : NULL);
  }
  return record(c, letter(type), NULL, NULL, link, err) < 0 ? -1 : 0;
}

int ocb_catalog_kept(ocb_catalog *c, const char *name, size_t len, int type, uint64_t size,
                     unsigned mode, ocb_err *err) {
  int r, file = type == OCB_TAR_FILE;
  if ((r = clean(&c->path, name, len, err)) <= 0) return r;
  c->size = file ? size : 0, c->mode = mode;
  if (file && (c->spec.files || c->spec.entries || keep_of(c) || scanned(c)))
    return record(c, 'k', NULL, NULL, NULL, err);
  if (!c->spec.files && !c->spec.entries && !whiteout(c)) return 0;
  return record(c, letter(type), NULL, NULL, NULL, err);
}

/* Where the window being filled takes n more bytes of s. */
static int fill(ocb_catalog *c, const char *s, size_t n, ocb_err *err) {
  if (n > c->fill) n = (size_t)c->fill;
  c->fill -= n;
  return put(&c->go, s, n, err);
}

/* Looks for the magic at 16-byte file offsets in s (the n bytes at file
 * offset off), across the end of the last chunk too; a window starts at
 * each one found (at most MAX_WINDOWS, one at a time). */
static int scan(ocb_catalog *c, const char *s, size_t n, uint64_t off, ocb_err *err) {
  size_t i = 0;
  if (off == 0 && (n < 4 || memcmp(s, "\177ELF", 4) != 0)) {
    c->scan = 0; /* not ELF: nothing the detectors read */
    return 0;
  }
  if (c->taillen) {
    /* a magic that starts in the tail and ends in s */
    unsigned char j[2 * MAGIC_LEN];
    size_t k, m = n < MAGIC_LEN ? n : MAGIC_LEN;
    memcpy(j, c->tail, c->taillen);
    memcpy(j + c->taillen, s, m);
    for (k = 0; k < c->taillen && c->nwin < MAX_WINDOWS && !c->fill; k++) {
      uint64_t at = off - c->taillen + k;
      if (at % 16 || c->taillen - k + m < MAGIC_LEN || memcmp(j + k, MAGIC, MAGIC_LEN)) continue;
      c->win[c->nwin++] = c->go.len;
      c->fill = c->spec.go_window;
      if (fill(c, (const char *)j + k, c->taillen - k, err) < 0) return -1;
      i = 0;
    }
  }
  while (i < n && c->nwin <= MAX_WINDOWS) {
    const char *hit;
    if (c->fill) {
      size_t take = n - i < c->fill ? n - i : (size_t)c->fill;
      if (fill(c, s + i, take, err) < 0) return -1;
      i += take;
      continue;
    }
    if (c->nwin == MAX_WINDOWS) break;
    if (!(hit = memmem(s + i, n - i, MAGIC, MAGIC_LEN))) break;
    i = (size_t)(hit - s);
    if ((off + i) % 16) {
      i++;
      continue;
    }
    c->win[c->nwin++] = c->go.len;
    c->fill = c->spec.go_window;
  }
  /* the tail: only what could start a magic not found yet */
  if (n >= MAGIC_LEN - 1) {
    memcpy(c->tail, s + n - (MAGIC_LEN - 1), MAGIC_LEN - 1);
    c->taillen = MAGIC_LEN - 1;
  } else {
    size_t keep = c->taillen + n > MAGIC_LEN - 1 ? MAGIC_LEN - 1 - n : c->taillen;
    memmove(c->tail, c->tail + c->taillen - keep, keep);
    memcpy(c->tail + keep, s, n);
    c->taillen = keep + n;
  }
  if (c->fill) c->taillen = 0; /* a window is open: its bytes are taken as they come */
  return 0;
}

int ocb_catalog_data(ocb_catalog *c, const void *buf, size_t len, ocb_err *err) {
  const char *s = buf;
  uint64_t off = c->seen;
  if (!len) return 0;
  c->seen += len;
  if (c->hash) {
    EVP_DigestUpdate(c->h256, s, len);
    EVP_DigestUpdate(c->h1, s, len);
  }
  if (c->keep && c->pre.len < c->keep) {
    size_t take = len < c->keep - c->pre.len ? len : (size_t)(c->keep - c->pre.len);
    if (put(&c->pre, s, take, err) < 0) return -1;
  }
  return c->scan ? scan(c, s, len, off, err) : 0;
}

static void hex(const unsigned char *md, unsigned n, char *out) {
  static const char digits[] = "0123456789abcdef";
  unsigned i;
  for (i = 0; i < n; i++) out[2 * i] = digits[md[i] >> 4], out[2 * i + 1] = digits[md[i] & 15];
  out[2 * n] = '\0';
}

static int deliver(ocb_catalog *c, const char *data, size_t len, int kind, ocb_err *err) {
  ocb_capture cap;
  cap.path = c->path.p, cap.pathlen = c->path.len;
  cap.data = data, cap.len = len;
  cap.cut = kind == 0 && c->seen > len;
  cap.size = c->seen, cap.mode = c->mode, cap.kind = kind;
  return c->fn ? c->fn(c->ud, &cap, err) : 0;
}

int ocb_catalog_end(ocb_catalog *c, ocb_err *err) {
  char s256[65], s1[41];
  size_t i;
  c->size = c->seen;
  if (c->hash) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n;
    EVP_DigestFinal_ex(c->h256, md, &n);
    hex(md, n, s256);
    EVP_DigestFinal_ex(c->h1, md, &n);
    hex(md, n, s1);
  }
  if (record(c, 'f', c->hash ? s256 : NULL, c->hash ? s1 : NULL, NULL, err) < 0) return -1;
  if (c->keep && deliver(c, c->pre.p, c->pre.len, 0, err) < 0) return -1;
  for (i = 0; i < c->nwin; i++) {
    size_t end = i + 1 < c->nwin ? c->win[i + 1] : c->go.len;
    if (deliver(c, c->go.p + c->win[i], end - c->win[i], 1, err) < 0) return -1;
  }
  c->hash = 0, c->keep = 0, c->scan = 0;
  return 0;
}

static int data_cb(void *ud, const void *buf, size_t len, ocb_err *err) {
  return ocb_catalog_data(ud, buf, len, err);
}

/* One entry of a blob read through. */
static int blob_entry(ocb_catalog *c, ocb_untar *u, const ocb_untar_entry *e, ocb_err *err) {
  int type = e->hardlink ? OCB_TAR_HARDLINK : e->type;
  int r = ocb_catalog_entry(c, e->name, strlen(e->name), type, e->link, (uint64_t)e->size, e->mode,
                            err);
  if (r < 0) return -1;
  if (r == 0) return ocb_untar_data(u, NULL, NULL, err);
  if (ocb_untar_data(u, data_cb, c, err) < 0) return -1;
  return ocb_catalog_end(c, err);
}

int ocb_catalog_blob(ocb_catalog *c, const ocb_store *s, const char *digest, const char *diff_id,
                     uint64_t *size, ocb_err *err) {
  char got[OCB_DIGEST_BUF], plain[OCB_DIGEST_BUF];
  ocb_untar_entry e;
  ocb_untar *u;
  int fd = ocb_blob_open(s, digest, strlen(digest), err), r;
  if (fd < 0 || !(u = ocb_untar_open(fd, digest, err))) return -1;
  while ((r = ocb_untar_next(u, &e, err)) > 0)
    if (blob_entry(c, u, &e, err) < 0) {
      r = -1;
      break;
    }
  if (r == 0) r = ocb_untar_finish(u, got, size, plain, err);
  ocb_untar_close(u);
  if (r < 0) return -1;
  if (strcmp(got, digest) != 0)
    return ocb_errf(err, "BADDIGEST", "blob %s holds bytes of digest %s", digest, got);
  if (diff_id && strcmp(plain, diff_id) != 0)
    return ocb_errf(err, "BADDIGEST",
                    "its tar has digest %s, but the image's config says diff_id %s", plain,
                    diff_id);
  return 0;
}
