/*
 * notes.c: what a layer holds that is allowed but deserves a warning:
 * names in one directory that differ only in case (they collide when the
 * layer is extracted on macOS or Windows), a walk that crosses into another
 * file system (a mount point inside the context), and files that keep a
 * setuid or setgid bit. At most MAX_EACH warnings of each kind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wctype.h>

#include "layer.h"

#define MAX_EACH 10

enum { K_CASE, K_MOUNT, K_SETID, NKINDS };

/* A directory on the path of the current entry: its children's names,
 * hashed case-folded (a table of hashes and offsets into one buffer of
 * names, so that a name costs no allocation of its own). */
typedef struct level {
  size_t pathlen; /* of the directory's path; (size_t)-1 for the root */
  dev_t dev;
  uint64_t *hash;
  size_t *at;    /* offset + 1 of each slot's name in text; 0: empty */
  size_t n, cap; /* cap: a power of two, or 0 */
  char *text;    /* the names, each NUL-terminated */
  size_t used, tcap;
} level;

struct ocb_notes {
  level *lv;
  size_t depth, cap;
  unsigned count[NKINDS];
};

static void level_free(level *l) {
  free(l->at);
  free(l->hash);
  free(l->text);
  memset(l, 0, sizeof *l);
}

ocb_notes *ocb_notes_new(dev_t root_dev) {
  ocb_notes *n = calloc(1, sizeof *n);
  if (!n || !(n->lv = calloc(16, sizeof *n->lv))) {
    free(n);
    return NULL;
  }
  n->cap = 16, n->depth = 1;
  n->lv[0].pathlen = (size_t)-1, n->lv[0].dev = root_dev;
  return n;
}

void ocb_notes_free(ocb_notes *n) {
  if (!n) return;
  while (n->depth) level_free(&n->lv[--n->depth]);
  free(n->lv);
  free(n);
}

/* Makes room for need more bytes of names; -1 when out of memory. */
static int grow_text(level *l, size_t need) {
  size_t cap = l->tcap ? l->tcap : 256;
  char *t;
  while (cap < l->used + need) cap *= 2;
  if (!(t = realloc(l->text, cap))) return -1;
  l->text = t, l->tcap = cap;
  return 0;
}

/* Decodes the UTF-8 character at s (n bytes left) into *cp; its length,
 * or 1 with *cp the byte itself when it is not UTF-8. */
static size_t decode(const unsigned char *s, size_t n, unsigned *cp) {
  size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0, i;
  if (len == 0 || len > n) return *cp = s[0], 1;
  *cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return *cp = s[0], 1;
    *cp = (*cp << 6) | (s[i] & 0x3f);
  }
  return len;
}

/* A character folded to lower case (ASCII without a library call). */
static unsigned fold(unsigned cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  return (unsigned)towlower((wint_t)cp);
}

/* 1 when a and b are the same name once case is folded. */
static int fold_eq(const char *a, const char *b, size_t nb) {
  size_t na = strlen(a), i = 0, j = 0;
  while (i < na && j < nb) {
    unsigned ca, cb;
    i += decode((const unsigned char *)a + i, na - i, &ca);
    j += decode((const unsigned char *)b + j, nb - j, &cb);
    if (fold(ca) != fold(cb)) return 0;
  }
  return i == na && j == nb;
}

static uint64_t fold_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  size_t i = 0;
  while (i < n) {
    unsigned cp = (unsigned char)s[i];
    if (cp < 0x80) /* ASCII, most names: no decoding */
      i++, cp = cp - 'A' < 26u ? cp + 32 : cp;
    else
      i += decode((const unsigned char *)s + i, n - i, &cp), cp = fold(cp);
    h = (h ^ (uint64_t)cp) * 1099511628211ull;
  }
  return h;
}

/* Makes room for one more name in l's table; -1 when out of memory. */
static int grow_table(level *l) {
  size_t cap = l->cap ? 2 * l->cap : 16, k, i;
  uint64_t *nh;
  size_t *na;
  if (2 * (l->n + 1) <= l->cap) return 0;
  nh = calloc(cap, sizeof *nh), na = calloc(cap, sizeof *na);
  if (!nh || !na) {
    free(nh), free(na);
    return -1;
  }
  for (k = 0; k < l->cap; k++) {
    if (!l->at[k]) continue;
    for (i = l->hash[k] & (cap - 1); na[i]; i = (i + 1) & (cap - 1)) continue;
    nh[i] = l->hash[k], na[i] = l->at[k];
  }
  free(l->hash), free(l->at);
  l->hash = nh, l->at = na, l->cap = cap;
  return 0;
}

/* Adds name to l; returns the sibling it collides with, or NULL. */
static const char *add_name(level *l, const char *name, size_t len, int *nomem) {
  uint64_t h = fold_hash(name, len);
  size_t i;
  *nomem = 0;
  if (grow_table(l) < 0 || (l->used + len + 1 > l->tcap && grow_text(l, len + 1) < 0)) {
    *nomem = 1;
    return NULL;
  }
  for (i = h & (l->cap - 1); l->at[i]; i = (i + 1) & (l->cap - 1))
    if (l->hash[i] == h && fold_eq(l->text + l->at[i] - 1, name, len))
      return l->text + l->at[i] - 1;
  memcpy(l->text + l->used, name, len);
  l->text[l->used + len] = '\0';
  l->hash[i] = h, l->at[i] = l->used + 1, l->n++;
  l->used += len + 1;
  return NULL;
}

static int note(ocb_notes *n, int kind, const char *msg, ocb_notes_warn warn, void *ud,
                ocb_err *err) {
  static const char *const more[NKINDS] = {
      "more names that differ only in case are not reported",
      "more crossings into other file systems are not reported",
      "more files keeping a setuid or setgid bit are not reported"};
  if (n->count[kind] > MAX_EACH) return 0;
  if (n->count[kind]++ == MAX_EACH) return warn(ud, more[kind], err);
  return warn(ud, msg, err);
}

int ocb_notes_entry(ocb_notes *n, const ocb_tar_policy *p, const ocb_entry *e, ocb_notes_warn warn,
                    void *ud, ocb_err *err) {
  const char *slash = memrchr(e->path, '/', e->pathlen), *other;
  size_t parent = slash ? (size_t)(slash - e->path) : (size_t)-1;
  char q[600], msg[1400];
  level *top;
  int nomem;
  mode_t m = e->st->st_mode;
  while (n->depth > 1 && n->lv[n->depth - 1].pathlen != parent) level_free(&n->lv[--n->depth]);
  top = &n->lv[n->depth - 1];
  other = add_name(top, e->name, e->pathlen - (size_t)(e->name - e->path), &nomem);
  if (nomem) return ocb_errno(err, ENOMEM, "walk");
  if (other) {
    char q2[300];
    ocb_quote_path(q, sizeof q, p->display, e->path, e->pathlen);
    ocb_quote(q2, sizeof q2, other, strlen(other));
    snprintf(msg, sizeof msg,
             "%s and its sibling %s differ only in case: they collide when the layer is "
             "extracted on macOS or Windows",
             q, q2);
    if (note(n, K_CASE, msg, warn, ud, err) < 0) return -1;
  }
  if (e->st->st_dev != top->dev && (S_ISDIR(m) || S_ISREG(m))) {
    ocb_quote_path(q, sizeof q, p->display, e->path, e->pathlen);
    snprintf(msg, sizeof msg,
             "%s is a mount point: its %s from another file system (exclude it in "
             ".dockerignore to leave %s out)",
             q, S_ISDIR(m) ? "files come" : "content comes", S_ISDIR(m) ? "them" : "it");
    if (note(n, K_MOUNT, msg, warn, ud, err) < 0) return -1;
  }
  if (S_ISREG(m) && !p->normalize_mode && (m & (S_ISUID | S_ISGID))) {
    ocb_quote_path(q, sizeof q, p->display, e->path, e->pathlen);
    snprintf(msg, sizeof msg, "%s keeps its %s bit%s (mode %04o)", q,
             (m & S_ISUID) && (m & S_ISGID) ? "setuid and setgid"
             : (m & S_ISUID)                ? "setuid"
                                            : "setgid",
             (m & S_ISUID) && (m & S_ISGID) ? "s" : "", (unsigned)(m & 07777));
    if (note(n, K_SETID, msg, warn, ud, err) < 0) return -1;
  }
  if (S_ISDIR(m)) {
    if (n->depth == n->cap) {
      level *nl = realloc(n->lv, 2 * n->cap * sizeof *nl);
      if (!nl) return ocb_errno(err, ENOMEM, "walk");
      n->lv = nl, n->cap *= 2;
    }
    memset(&n->lv[n->depth], 0, sizeof *n->lv);
    n->lv[n->depth].pathlen = e->pathlen;
    n->lv[n->depth++].dev = e->st->st_dev;
  }
  return 0;
}
