/*
 * rx.h: what the exclusion matcher's files share beyond match.h: Go's view
 * of strings and paths (gostr.c), filepath.Match's syntax check (glob.c),
 * and Go regular expressions, parsed (rxparse.c), compiled to a program
 * (rxprog.c) and run (rxrun.c) for the patterns of match.c.
 */
#ifndef OCB_RX_H
#define OCB_RX_H

#include <stddef.h>
#include <stdint.h>

#define OCB_RUNE_ERROR 0xfffd
#define OCB_MAX_RUNE 0x10ffff
#define OCB_MAX_INST 2048 /* steps of one expression: bounds the matcher's stack */
#define OCB_MAX_DEPTH 32  /* nested groups in one expression */

/* The reason given when memory ran out: callers compare the pointer. */
extern const char ocb_oom[];

/*
 * UTF-8 and strings, as Go sees them (gostr.c).
 */

/* Go's utf8.DecodeRune: an invalid or truncated sequence is U+FFFD, 1 byte. */
int32_t ocb_utf8_decode(const unsigned char *s, size_t n, size_t *w);
/* strings.TrimSpace: the kept bytes are s[*a, *b). */
void ocb_trim_space(const char *s, size_t n, size_t *a, size_t *b);
/* filepath.Clean (Unix) of s into out, which holds n + 2 bytes; the length. */
size_t ocb_clean_path(const char *s, size_t n, char *out);

/* A growing byte buffer; a failed allocation sticks in oom. */
typedef struct ocb_sbuf {
  char *p;
  size_t n, cap;
  int oom;
} ocb_sbuf;

void ocb_sb_add(ocb_sbuf *b, const char *s, size_t n);
/* Appends r as Go's string(rune) encodes it. */
void ocb_sb_rune(ocb_sbuf *b, int32_t r);

/* memcmp(a, b, n) == 0 for the short strings of patterns, without a call. */
static inline int ocb_same(const char *a, const char *b, size_t n) {
  for (; n && *a == *b; n--) a++, b++;
  return n == 0;
}

/*
 * filepath.Match (glob.c): Docker validates a pattern by matching it against
 * "." with it, which reports a syntax error only in the parts it reaches.
 */

/* filepath.Match(p, s): 1, 0, or -1 with *why. */
int ocb_glob_match(const char *p, size_t pn, const char *s, size_t sn, const char **why);

/*
 * Go regular expressions, the RE2 syntax Docker's strings use (rxparse.c).
 */

enum {
  OCB_N_LIT,
  OCB_N_CLASS,
  OCB_N_ANY,
  OCB_N_EMPTY,
  OCB_N_GROUP,
  OCB_N_CAT,
  OCB_N_ALT,
  OCB_N_STAR,
  OCB_N_PLUS,
  OCB_N_QUEST,
  OCB_N_REPEAT
};
enum { OCB_E_BEGIN = 1, OCB_E_END = 2, OCB_E_WORD = 4, OCB_E_NOTWORD = 8 };

/* A parsed expression: sequences are lists linked by next; a group or an
 * OCB_N_CAT holds one in sub; an OCB_N_ALT's sub is a list of OCB_N_CATs. */
typedef struct ocb_rxnode {
  int op, sub, next; /* sub: contents (group, OCB_N_CAT, OCB_N_ALT) or operand (repeats) */
  int32_t r;         /* rune (OCB_N_LIT), OCB_E_* (OCB_N_EMPTY), minimum (OCB_N_REPEAT) */
  int lo, nr;        /* OCB_N_CLASS: first range and number of ranges; OCB_N_REPEAT: lo = max */
} ocb_rxnode;

typedef struct ocb_rxlevel { /* the top, or one open group */
  int head, tail;            /* the sequence being read */
  int alts, last;            /* alternatives finished by '|' (OCB_N_CAT list) */
  int grp;                   /* the OCB_N_GROUP node it fills */
} ocb_rxlevel;

typedef struct ocb_rx {
  const char *end, *why;
  ocb_rxnode *nd;
  int nn, ncap;
  int32_t *rg; /* class ranges as lo, hi pairs */
  int nrg, rgcap;
  ocb_rxlevel lv[OCB_MAX_DEPTH];
  int depth, top;
} ocb_rx;

/* Parses s[0, n) into x, zeroed by the caller (Go's regexp/syntax.Parse
 * with syntax.Perl flags): 0, or -1 with x->why. The caller frees x->nd
 * and x->rg. */
int ocb_rx_parse(ocb_rx *x, const char *s, size_t n);

/*
 * Programs (rxprog.c) and running them (rxrun.c).
 */

enum { OCB_I_MATCH, OCB_I_RUNE, OCB_I_CLASS, OCB_I_ANY, OCB_I_EMPTY, OCB_I_SPLIT, OCB_I_JMP };

typedef struct ocb_inst {
  int op;
  int32_t r; /* OCB_I_RUNE: the rune; OCB_I_EMPTY: OCB_E_* */
  int x, y;  /* OCB_I_CLASS: first range, count; OCB_I_SPLIT: targets; OCB_I_JMP: x */
} ocb_inst;

#define OCB_NTAIL 4

typedef struct ocb_onechar { /* an item that reads exactly one rune */
  int op;                    /* OCB_N_LIT, OCB_N_CLASS or OCB_N_ANY */
  int32_t r;
  int lo, nr;
} ocb_onechar;

typedef struct ocb_prog {
  ocb_inst *code;
  int n;
  int32_t *rg;
  int anchored;    /* starts with ^: runs from the start only */
  int start;       /* pc after the literal prefix */
  int32_t prev;    /* last rune of that prefix, -1 when none */
  int literal;     /* the expression is ^pre$: a plain compare */
  char *pre, *suf; /* bytes every match starts / ends with */
  char *mid;       /* bytes every match holds between those */
  size_t npre, nsuf, nmid;
  ocb_onechar tail[OCB_NTAIL]; /* what the last runes before the suffix must be */
  int ntail;
  struct ocb_bitnfa *bits; /* the faster run, when the program allows it */
} ocb_prog;

/* Compiles Docker's regular expression s[0, n); NULL with *why on failure. */
ocb_prog *ocb_prog_new(const char *s, size_t n, const char **why);
void ocb_prog_free(ocb_prog *g);
/* Builds g->bits when the program qualifies (0), or leaves it NULL; -1
 * when out of memory. */
int ocb_prog_bits(ocb_prog *g);
/* ocb_prog_match past the prefix and suffix checks. */
int ocb_prog_run(const ocb_prog *g, const char *s, size_t n);
/* Go's MatchString: 1 when the expression matches in s[0, n). The prefix
 * and suffix checks refuse most strings, so they are inline. */
static inline int ocb_prog_match(const ocb_prog *g, const char *s, size_t n) {
  if (n < g->npre + g->nsuf || !ocb_same(s, g->pre, g->npre)) return 0;
  if (!ocb_same(s + n - g->nsuf, g->suf, g->nsuf)) return 0;
  if (g->literal) return n == g->npre + g->nsuf;
  return ocb_prog_run(g, s, n);
}
/* Is c in the sorted ranges r[0, 2n)? */
int ocb_ranges_hold(const int32_t *r, int n, int32_t c);

#endif
