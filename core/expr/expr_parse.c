/*
 * expr_parse.c — a Pratt parser from tokens to an untyped syntax tree.
 *
 * Precedence, loosest first (Milvus Plan.g4 order, with one deliberate
 * change noted below):
 *    1 or ||        2 and &&        (prefix) not !
 *    4 |   5 ^   6 &   (lexed so the error can say "not supported")
 *    7 == !=        8 < <= > >= and chained ranges (10 < x <= 20)
 *    9 in, not in   10 << >> (rejected)     11 + -     12 * / %
 *   13 unary - +    14 ** (right-assoc)     15 like, is null, is not null
 *   primaries: literals, identifiers with ["key"] / [0] subscripts, calls
 *   such as array_contains(a, 1), {template}, ( expr ), [list], exists e.
 *
 * The change: in Plan.g4 prefix `not` binds as tightly as unary minus, so
 * `not a > 5` would mean `(not a) > 5`, which is always a type error. Here
 * `not` binds looser than comparisons and tighter than and/or (as in SQL),
 * so the same text means `not (a > 5)`. Every expression Milvus accepts
 * keeps its meaning.
 *
 * A chained range `a < b <= c` becomes `(a < b) and (b <= c)` with `b`
 * cloned; both comparisons must point the same way.
 *
 * Ownership: the returned tree belongs to the caller (node_free).
 */
#include "expr_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BP_OR = 1, BP_AND = 2, BP_NOT = 2, BP_BOR = 4, BP_BXOR = 5, BP_BAND = 6,
       BP_EQ = 7, BP_REL = 8, BP_IN = 9, BP_SHIFT = 10, BP_ADD = 11,
       BP_MUL = 12, BP_UNARY = 13, BP_POW = 14, BP_POSTFIX = 15 };

typedef struct parser {
  lexer lx;
  const char *text;
  cairn_error *err;
  bool failed;
  int depth; /* recursion guard: hostile inputs such as 100k '(' */
} parser;

#define MAX_DEPTH 200    /* parser recursion (parentheses, prefixes) */
#define MAX_HEIGHT 1000  /* tree height, e.g. a long `or` chain */

/* Height of a freshly built subtree; children built earlier know theirs. */
static int node_height(node *n) {
  if (n == NULL)
    return 0;
  if (n->depth)
    return n->depth;
  int h = node_height(n->a);
  int hb = node_height(n->b);
  h = hb > h ? hb : h;
  for (size_t i = 0; i < n->n_args; i++) {
    int ha = node_height(n->args[i]);
    h = ha > h ? ha : h;
  }
  return n->depth = h + 1;
}

node *node_new(node_kind kind, size_t pos) {
  node *n = calloc(1, sizeof *n);
  if (n) {
    n->kind = kind;
    n->pos = pos;
  }
  return n;
}

void node_free(node *n) {
  if (n == NULL)
    return;
  node_free(n->a);
  node_free(n->b);
  for (size_t i = 0; i < n->n_args; i++)
    node_free(n->args[i]);
  free(n->args);
  free(n->name);
  lit_destroy(&n->lit);
  for (size_t i = 0; i < n->n_path; i++)
    free(n->path[i].key);
  free(n->path);
  valset_destroy(&n->set);
  like_destroy(&n->like);
  free(n);
}

/* Deep copy of a syntax node (used for the middle of chained ranges). */
static node *node_clone(const node *src) {
  if (src == NULL)
    return NULL;
  node *n = node_new(src->kind, src->pos);
  if (n == NULL)
    return NULL;
  n->op = src->op;
  n->negated = src->negated;
  bool ok = lit_copy(&n->lit, &src->lit) == 0;
  if (src->name && (n->name = strdup(src->name)) == NULL)
    ok = false;
  if (src->a && (n->a = node_clone(src->a)) == NULL)
    ok = false;
  if (src->b && (n->b = node_clone(src->b)) == NULL)
    ok = false;
  if (src->n_args) {
    n->args = calloc(src->n_args, sizeof *n->args);
    ok = ok && n->args;
    for (size_t i = 0; ok && i < src->n_args; i++) {
      n->n_args++;
      ok = (n->args[i] = node_clone(src->args[i])) != NULL;
    }
  }
  if (!ok) {
    node_free(n);
    return NULL;
  }
  return n;
}

/* ---- errors ----------------------------------------------------------- */

static void describe_tok(const parser *ps, const token *t, char *buf,
                         size_t cap) {
  if (t->kind == T_EOF) {
    snprintf(buf, cap, "end of expression");
    return;
  }
  int n = t->len > 24 ? 24 : (int)t->len;
  snprintf(buf, cap, "'%.*s%s'", n, ps->text + t->pos, t->len > 24 ? "..." : "");
}

static node *fail_at(parser *ps, size_t pos, const char *fmt, const char *a) {
  char where[48], msg[256];
  if (ps->failed || ps->lx.failed) {
    ps->failed = true;
    return NULL;
  }
  snprintf(msg, sizeof msg, fmt, a);
  cairn_error_set(ps->err, CAIRN_INVALID_ARGUMENT, "%s at %s", msg,
                  expr_where(ps->text, pos, where, sizeof where));
  ps->failed = true;
  return NULL;
}

/* "unexpected ')' at column 17; expected an expression" */
static node *fail_unexpected(parser *ps, const char *expected) {
  char what[64], where[48];
  if (ps->failed || ps->lx.failed) {
    ps->failed = true;
    return NULL;
  }
  describe_tok(ps, &ps->lx.cur, what, sizeof what);
  cairn_error_set(ps->err, CAIRN_INVALID_ARGUMENT,
                  "unexpected %s at %s; expected %s", what,
                  expr_where(ps->text, ps->lx.cur.pos, where, sizeof where),
                  expected);
  ps->failed = true;
  return NULL;
}

static node *fail_nomem(parser *ps) {
  if (!ps->failed)
    cairn_error_set(ps->err, CAIRN_NOMEM, "out of memory parsing expression");
  ps->failed = true;
  return NULL;
}

static bool expect(parser *ps, tok_kind k, const char *expected) {
  if (ps->lx.cur.kind != k) {
    fail_unexpected(ps, expected);
    return false;
  }
  lex_next(&ps->lx);
  return true;
}

/* ---- primaries -------------------------------------------------------- */

static node *parse_expr(parser *ps, int min_bp);

static node *make_binary(parser *ps, node_kind kind, tok_kind op, size_t pos,
                         node *a, node *b) {
  node *n = a && b ? node_new(kind, pos) : NULL;
  if (n == NULL) {
    node_free(a);
    node_free(b);
    return a && b ? fail_nomem(ps) : NULL;
  }
  n->op = op;
  n->a = a;
  n->b = b;
  return n;
}

static node *parse_literal(parser *ps) {
  token *t = &ps->lx.cur;
  node *n = node_new(N_LIT, t->pos);
  if (n == NULL)
    return fail_nomem(ps);
  switch (t->kind) {
  case T_INT: n->lit.type = VT_INT; n->lit.i = t->i; break;
  case T_FLOAT: n->lit.type = VT_FLOAT; n->lit.f = t->f; break;
  case T_TRUE: n->lit.type = VT_BOOL; n->lit.b = true; break;
  case T_FALSE: n->lit.type = VT_BOOL; n->lit.b = false; break;
  default: /* T_STRING: take the lexer's buffer */
    n->lit.type = VT_STRING;
    n->lit.s = t->s;
    n->lit.slen = t->slen;
    t->s = NULL;
    break;
  }
  lex_next(&ps->lx);
  return n;
}

/* Comma-separated expressions up to `close`; trailing comma allowed. */
static bool parse_args(parser *ps, node *n, tok_kind close, const char *what) {
  size_t cap = 0;
  while (ps->lx.cur.kind != close) {
    if (n->n_args == cap) {
      cap = cap ? cap * 2 : 4;
      node **grown = realloc(n->args, cap * sizeof *grown);
      if (grown == NULL)
        return fail_nomem(ps), false;
      n->args = grown;
    }
    node *arg = parse_expr(ps, 0);
    if (arg == NULL)
      return false;
    n->args[n->n_args++] = arg;
    if (ps->lx.cur.kind == T_COMMA)
      lex_next(&ps->lx);
    else if (ps->lx.cur.kind != close)
      return fail_unexpected(ps, what), false;
  }
  lex_next(&ps->lx);
  return true;
}

/* name["key"][0]... after an identifier. */
static node *parse_subscripts(parser *ps, node *base) {
  while (base && ps->lx.cur.kind == T_LBRACKET) {
    size_t pos = ps->lx.cur.pos;
    lex_next(&ps->lx);
    token *t = &ps->lx.cur;
    if (t->kind != T_STRING && t->kind != T_INT) {
      node_free(base);
      return fail_unexpected(ps, "a string key or an integer index");
    }
    node *idx = node_new(N_INDEX, pos);
    if (idx == NULL) {
      node_free(base);
      return fail_nomem(ps);
    }
    idx->a = base;
    base = idx;
    idx->lit.type = t->kind == T_INT ? VT_INT : VT_STRING;
    idx->lit.i = t->i;
    idx->lit.s = t->s;
    idx->lit.slen = t->slen;
    t->s = NULL;
    lex_next(&ps->lx);
    if (!expect(ps, T_RBRACKET, "']'")) {
      node_free(base);
      return NULL;
    }
  }
  return base;
}

static node *parse_ident(parser *ps) {
  token *t = &ps->lx.cur;
  node *n = node_new(N_IDENT, t->pos);
  if (n == NULL || (n->name = strndup(ps->text + t->pos, t->len)) == NULL) {
    node_free(n);
    return fail_nomem(ps);
  }
  lex_next(&ps->lx);
  if (ps->lx.cur.kind == T_LPAREN) {
    n->kind = N_CALL;
    lex_next(&ps->lx);
    if (!parse_args(ps, n, T_RPAREN, "',' or ')'")) {
      node_free(n);
      return NULL;
    }
    return n;
  }
  return parse_subscripts(ps, n);
}

static node *parse_template(parser *ps) {
  size_t pos = ps->lx.cur.pos;
  lex_next(&ps->lx);
  if (ps->lx.cur.kind != T_IDENT)
    return fail_unexpected(ps, "a template parameter name");
  node *n = node_new(N_TEMPLATE, pos);
  if (n == NULL ||
      (n->name = strndup(ps->text + ps->lx.cur.pos, ps->lx.cur.len)) == NULL) {
    node_free(n);
    return fail_nomem(ps);
  }
  lex_next(&ps->lx);
  if (!expect(ps, T_RBRACE, "'}'")) {
    node_free(n);
    return NULL;
  }
  return n;
}

static node *parse_prefix_op(parser *ps, node_kind kind, int bp) {
  size_t pos = ps->lx.cur.pos;
  tok_kind op = ps->lx.cur.kind;
  lex_next(&ps->lx);
  node *a = parse_expr(ps, bp);
  if (a == NULL)
    return NULL;
  if (op == T_ADD)
    return a;
  node *n = node_new(kind, pos);
  if (n == NULL) {
    node_free(a);
    return fail_nomem(ps);
  }
  n->a = a;
  return n;
}

static node *parse_primary(parser *ps) {
  token *t = &ps->lx.cur;
  switch (t->kind) {
  case T_INT: case T_FLOAT: case T_STRING: case T_TRUE: case T_FALSE:
    return parse_literal(ps);
  case T_IDENT:
    return parse_ident(ps);
  case T_LBRACE:
    return parse_template(ps);
  case T_NOT:
    return parse_prefix_op(ps, N_NOT, BP_NOT);
  case T_SUB: case T_ADD:
    return parse_prefix_op(ps, N_NEG, BP_UNARY);
  case T_EXISTS:
    return parse_prefix_op(ps, N_EXISTS, BP_POW);
  case T_LPAREN: {
    lex_next(&ps->lx);
    node *n = parse_expr(ps, 0);
    if (n && !expect(ps, T_RPAREN, "')'")) {
      node_free(n);
      return NULL;
    }
    return n;
  }
  case T_LBRACKET: {
    node *n = node_new(N_LISTEXPR, t->pos);
    if (n == NULL)
      return fail_nomem(ps);
    lex_next(&ps->lx);
    if (!parse_args(ps, n, T_RBRACKET, "',' or ']'")) {
      node_free(n);
      return NULL;
    }
    return n;
  }
  case T_BNOT:
    return fail_at(ps, t->pos, "bitwise operator %s is not supported", "'~'");
  default:
    return fail_unexpected(ps, "an expression");
  }
}

/* ---- operators -------------------------------------------------------- */

static int infix_bp(tok_kind k) {
  switch (k) {
  case T_OR: return BP_OR;
  case T_AND: return BP_AND;
  case T_BOR: return BP_BOR;
  case T_BXOR: return BP_BXOR;
  case T_BAND: return BP_BAND;
  case T_EQ: case T_NE: return BP_EQ;
  case T_LT: case T_LE: case T_GT: case T_GE: return BP_REL;
  case T_IN: case T_NOT: return BP_IN;
  case T_SHL: case T_SHR: return BP_SHIFT;
  case T_ADD: case T_SUB: return BP_ADD;
  case T_MUL: case T_DIV: case T_MOD: return BP_MUL;
  case T_POW: return BP_POW;
  case T_LIKE: case T_ISNULL: case T_ISNOTNULL: return BP_POSTFIX;
  default: return -1;
  }
}

static bool is_rel(tok_kind k) {
  return k == T_LT || k == T_LE || k == T_GT || k == T_GE;
}

/* left op1 mid [op2 right]: a comparison or a chained range. */
static node *parse_relational(parser *ps, node *left, tok_kind op1,
                              size_t pos) {
  node *mid = parse_expr(ps, BP_REL);
  if (mid == NULL) {
    node_free(left);
    return NULL;
  }
  if (!is_rel(ps->lx.cur.kind))
    return make_binary(ps, N_CMP, op1, pos, left, mid);
  tok_kind op2 = ps->lx.cur.kind;
  size_t pos2 = ps->lx.cur.pos;
  bool up1 = op1 == T_LT || op1 == T_LE, up2 = op2 == T_LT || op2 == T_LE;
  if (up1 != up2) {
    node_free(left);
    node_free(mid);
    return fail_at(ps, pos2, "a chained range must point one way; %s",
                   "use 'a < x < b' or 'a > x > b'");
  }
  lex_next(&ps->lx);
  node *right = parse_expr(ps, BP_REL);
  node *mid2 = right ? node_clone(mid) : NULL;
  if (right && mid2 == NULL)
    fail_nomem(ps);
  node *c1 = make_binary(ps, N_CMP, op1, pos, left, mid);
  node *c2 = make_binary(ps, N_CMP, op2, pos2, mid2, right);
  return make_binary(ps, N_AND, T_AND, pos, c1, c2);
}

static node *parse_postfix(parser *ps, node *left) {
  token *t = &ps->lx.cur;
  node *n = node_new(N_ISNULL, t->pos);
  if (n == NULL) {
    node_free(left);
    return fail_nomem(ps);
  }
  n->negated = t->kind == T_ISNOTNULL;
  n->a = left;
  lex_next(&ps->lx);
  return n;
}

static node *parse_infix(parser *ps, node *left, int bp) {
  token *t = &ps->lx.cur;
  tok_kind op = t->kind;
  size_t pos = t->pos;
  if (op == T_ISNULL || op == T_ISNOTNULL)
    return parse_postfix(ps, left);
  if (op == T_BOR || op == T_BXOR || op == T_BAND || op == T_SHL ||
      op == T_SHR) {
    char what[16];
    describe_tok(ps, t, what, sizeof what);
    node_free(left);
    return fail_at(ps, pos, "bitwise operator %s is not supported", what);
  }
  bool negated = false;
  lex_next(&ps->lx);
  if (op == T_NOT) {
    if (ps->lx.cur.kind != T_IN) {
      node_free(left);
      return fail_unexpected(ps, "'in' after 'not'");
    }
    negated = true;
    op = T_IN;
    lex_next(&ps->lx);
  }
  if (is_rel(op))
    return parse_relational(ps, left, op, pos);
  node *right = parse_expr(ps, op == T_POW ? bp - 1 : bp);
  node_kind kind = op == T_AND   ? N_AND
                   : op == T_OR  ? N_OR
                   : op == T_EQ || op == T_NE ? N_CMP
                   : op == T_IN  ? N_IN
                   : op == T_LIKE ? N_LIKE
                                 : N_ARITH;
  node *n = make_binary(ps, kind, op, pos, left, right);
  if (n)
    n->negated = negated;
  return n;
}

static node *parse_expr(parser *ps, int min_bp) {
  if (++ps->depth > MAX_DEPTH) {
    ps->depth--;
    return fail_at(ps, ps->lx.cur.pos, "expression nested too deeply (%s)",
                   "limit 200");
  }
  node *left = parse_primary(ps);
  while (left) {
    if (node_height(left) > MAX_HEIGHT) {
      size_t pos = left->pos;
      node_free(left);
      left = fail_at(ps, pos, "expression too large (%s)",
                     "more than 1000 levels of operators");
      break;
    }
    int bp = infix_bp(ps->lx.cur.kind);
    if (bp <= min_bp)
      break;
    left = parse_infix(ps, left, bp);
  }
  ps->depth--;
  return left;
}

node *expr_parse_syntax(const char *text, cairn_error *err) {
  parser ps = {.text = text, .err = err};
  lex_init(&ps.lx, text, err);
  if (ps.lx.cur.kind == T_EOF) {
    lex_destroy(&ps.lx);
    cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                    "empty expression at column 1; expected an expression");
    return NULL;
  }
  node *root = parse_expr(&ps, 0);
  if (root && ps.lx.cur.kind != T_EOF) {
    fail_unexpected(&ps, "an operator or the end of the expression");
    node_free(root);
    root = NULL;
  }
  lex_destroy(&ps.lx);
  return root;
}
