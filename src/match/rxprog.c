/*
 * rxprog.c: a parsed expression compiled to a program of rune, class,
 * split and jump steps (at most OCB_MAX_INST), with the prefilters that let
 * most strings be refused without running it: the literal prefix and
 * suffix, the items before that suffix, and the longest literal between.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rx.h"

void ocb_prog_free(ocb_prog *g) {
  if (!g) return;
  free(g->code);
  free(g->rg);
  free(g->pre);
  free(g->suf);
  free(g->mid);
  free(g->bits);
  free(g);
}

static int emit_list(ocb_prog *g, const ocb_rx *x, int i, int cap);

static int emit_inst(ocb_prog *g, int op, int32_t r, int a, int b, int cap) {
  if (g->n >= cap) return -1;
  g->code[g->n].op = op, g->code[g->n].r = r, g->code[g->n].x = a, g->code[g->n].y = b;
  return g->n++;
}

/* x* or x? around node i: split; x; [jump back]. */
static int emit_loop(ocb_prog *g, const ocb_rx *x, int i, int star, int cap);

/* One node. */
static int emit_node(ocb_prog *g, const ocb_rx *x, int i, int cap) {
  const ocb_rxnode *n = &x->nd[i];
  int at = g->n, k;
  switch (n->op) {
  case OCB_N_LIT: return emit_inst(g, OCB_I_RUNE, n->r, 0, 0, cap);
  case OCB_N_CLASS: return emit_inst(g, OCB_I_CLASS, 0, n->lo, n->nr, cap);
  case OCB_N_ANY: return emit_inst(g, OCB_I_ANY, 0, 0, 0, cap);
  case OCB_N_EMPTY: return emit_inst(g, OCB_I_EMPTY, n->r, 0, 0, cap);
  case OCB_N_GROUP:
  case OCB_N_CAT: return emit_list(g, x, n->sub, cap);
  case OCB_N_STAR:
  case OCB_N_QUEST: return emit_loop(g, x, n->sub, n->op == OCB_N_STAR, cap);
  case OCB_N_PLUS:
    if (emit_node(g, x, n->sub, cap) < 0) return -1;
    return emit_inst(g, OCB_I_SPLIT, 0, at, g->n + 1, cap);
  case OCB_N_REPEAT: /* x{min,max}: min copies, then x* or (max - min) times x? */
    for (k = 0; k < n->r; k++)
      if (emit_node(g, x, n->sub, cap) < 0) return -1;
    if (n->lo < 0) return emit_loop(g, x, n->sub, 1, cap);
    for (; k < n->lo; k++)
      if (emit_loop(g, x, n->sub, 0, cap) < 0) return -1;
    return 0;
  default: { /* OCB_N_ALT: split to each alternative; each jumps to the end */
    int a, split, jumps = -1, j;
    for (a = n->sub; x->nd[a].next >= 0; a = x->nd[a].next) {
      if ((split = emit_inst(g, OCB_I_SPLIT, 0, g->n + 1, 0, cap)) < 0) return -1;
      if (emit_node(g, x, a, cap) < 0 || (j = emit_inst(g, OCB_I_JMP, 0, jumps, 0, cap)) < 0)
        return -1;
      jumps = j;
      g->code[split].y = g->n;
    }
    if (emit_node(g, x, a, cap) < 0) return -1;
    for (; jumps >= 0; jumps = j) j = g->code[jumps].x, g->code[jumps].x = g->n;
    return 0;
  }
  }
}

static int emit_loop(ocb_prog *g, const ocb_rx *x, int i, int star, int cap) {
  int at = emit_inst(g, OCB_I_SPLIT, 0, g->n + 1, 0, cap);
  if (at < 0 || emit_node(g, x, i, cap) < 0) return -1;
  if (star && emit_inst(g, OCB_I_JMP, 0, at, 0, cap) < 0) return -1;
  g->code[at].y = g->n;
  return 0;
}

/* A sequence. */
static int emit_list(ocb_prog *g, const ocb_rx *x, int i, int cap) {
  for (; i >= 0; i = x->nd[i].next)
    if (emit_node(g, x, i, cap) < 0) return -1;
  return 0;
}

static int safe_lit(const ocb_rxnode *n) {
  return n->op == OCB_N_LIT && n->r != OCB_RUNE_ERROR && n->r <= OCB_MAX_RUNE &&
         !(n->r >= 0xd800 && n->r <= 0xdfff);
}

/* The bytes of the literals seq[a, b) into *out. */
static int lits(const ocb_rx *x, const int *seq, int a, int b, char **out, size_t *n) {
  ocb_sbuf sb = {0};
  for (; a < b; a++) ocb_sb_rune(&sb, x->nd[seq[a]].r);
  if (sb.oom) return -1;
  *out = sb.p, *n = sb.n;
  return 0;
}

/* The longest run of literals in seq[a, b): its start (length in *len). */
static int longest_run(const ocb_rx *x, const int *seq, int a, int b, int *len) {
  int best = a, i, run = 0;
  *len = 0;
  for (i = a; i < b; i++) {
    run = safe_lit(&x->nd[seq[i]]) ? run + 1 : 0;
    if (run > *len) *len = run, best = i - run + 1;
  }
  return best;
}

/* Items reading one rune each, right before seq[b], as far back as a. */
static void tail_items(ocb_prog *g, const ocb_rx *x, const int *seq, int a, int b) {
  for (g->ntail = 0; b > a && g->ntail < OCB_NTAIL; b--) {
    const ocb_rxnode *n = &x->nd[seq[b - 1]];
    ocb_onechar *t = &g->tail[g->ntail];
    if (n->op != OCB_N_LIT && n->op != OCB_N_CLASS && n->op != OCB_N_ANY) break;
    t->op = n->op, t->r = n->r, t->lo = n->lo, t->nr = n->nr;
    g->ntail++;
  }
}

/* Prefilters, for an expression that is one sequence starting with ^ (so
 * always, but for a top-level '|'): the literal prefix after ^ (which the
 * run then skips), the literal suffix before a final $, the items before
 * that suffix, and the longest literal in between. Each is a necessary
 * condition of a match. */
static int prog_filters(ocb_prog *g, const ocb_rx *x) {
  int i = x->top, n = 0, k = 0, j, end, mid, len, *seq;
  g->prev = -1;
  if (i < 0 || x->nd[i].op != OCB_N_EMPTY || x->nd[i].r != OCB_E_BEGIN) return 0;
  g->anchored = 1;
  for (j = x->nd[i].next; j >= 0; j = x->nd[j].next) n++;
  if (!(seq = malloc((size_t)(n ? n : 1) * sizeof *seq))) return -1;
  for (n = 0, j = x->nd[i].next; j >= 0; j = x->nd[j].next) seq[n++] = j;
  while (k < n && safe_lit(&x->nd[seq[k]])) g->prev = x->nd[seq[k++]].r;
  g->start = k ? 1 + k : 0; /* ^ and each literal are one instruction */
  end = j = n;
  if (n > k && x->nd[seq[n - 1]].op == OCB_N_EMPTY && x->nd[seq[n - 1]].r == OCB_E_END) {
    for (end = j = n - 1; j > k && safe_lit(&x->nd[seq[j - 1]]); j--) {}
    g->literal = k == end;
    tail_items(g, x, seq, k, j);
  }
  mid = longest_run(x, seq, k, j, &len);
  if (lits(x, seq, 0, k, &g->pre, &g->npre) < 0 || lits(x, seq, j, end, &g->suf, &g->nsuf) < 0 ||
      lits(x, seq, mid, mid + len, &g->mid, &g->nmid) < 0) {
    free(seq);
    return -1;
  }
  free(seq);
  return 0;
}

ocb_prog *ocb_prog_new(const char *s, size_t n, const char **why) {
  ocb_rx x;
  ocb_prog *g = calloc(1, sizeof *g);
  memset(&x, 0, sizeof x);
  *why = ocb_oom;
  if (!g) return NULL;
  if (ocb_rx_parse(&x, s, n) < 0) {
    *why = x.why;
    goto fail;
  }
  if (!(g->code = malloc(OCB_MAX_INST * sizeof *g->code))) goto fail;
  if (emit_list(g, &x, x.top, OCB_MAX_INST - 1) < 0) {
    *why = "unsupported: its regular expression needs more than 2048 steps";
    goto fail;
  }
  emit_inst(g, OCB_I_MATCH, 0, 0, 0, OCB_MAX_INST);
  {
    ocb_inst *c = realloc(g->code, (size_t)g->n * sizeof *c); /* give back the unused steps */
    if (c) g->code = c;
  }
  if (prog_filters(g, &x) < 0) goto fail;
  g->rg = x.rg, x.rg = NULL;
  if (ocb_prog_bits(g) < 0) goto fail;
  free(x.nd);
  return g;
fail:
  free(x.nd);
  free(x.rg);
  ocb_prog_free(g);
  return NULL;
}
