/*
 * expr_internal.h — what the lexer, parser, checker and evaluator share.
 *
 * Pipeline: text → tokens (expr_lex.c) → untyped syntax tree (expr_parse.c)
 * → typed, folded plan (expr_check.c, rewrites the same nodes in place) →
 * bitset (expr_eval.c, with JSON reading in expr_json.c and the hashed sets
 * and LIKE matchers in expr_match.c).
 *
 * Nodes are allocated one by one with calloc and form a tree (no sharing):
 * node_free releases a node and everything below it.
 */
#ifndef CAIRN_EXPR_INTERNAL_H
#define CAIRN_EXPR_INTERNAL_H

#include "expr.h"

/* ---- tokens ----------------------------------------------------------- */

typedef enum tok_kind {
  T_EOF, T_INT, T_FLOAT, T_STRING, T_TRUE, T_FALSE, T_IDENT,
  T_LPAREN, T_RPAREN, T_LBRACKET, T_RBRACKET, T_LBRACE, T_RBRACE, T_COMMA,
  T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE,
  T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_POW,
  T_SHL, T_SHR, T_BAND, T_BOR, T_BXOR, T_BNOT, /* lexed, then rejected */
  T_AND, T_OR, T_NOT, T_IN, T_LIKE, T_EXISTS, T_ISNULL, T_ISNOTNULL,
  T_ERROR,
} tok_kind;

typedef struct token {
  tok_kind kind;
  size_t pos;      /* byte offset of the first character in the text */
  size_t len;      /* bytes of source text */
  int64_t i;       /* T_INT */
  double f;        /* T_FLOAT */
  char *s;         /* T_STRING (unescaped, owned by the lexer's token) */
  size_t slen;
} token;

typedef struct lexer {
  const char *text;
  size_t len;
  size_t pos;
  token cur;           /* the current (lookahead) token */
  cairn_error *err;
  bool failed;
} lexer;

void lex_init(lexer *lx, const char *text, cairn_error *err);
/* Advances lx->cur; frees the previous token's string. */
void lex_next(lexer *lx);
void lex_destroy(lexer *lx);
const char *tok_name(tok_kind k);
/* "column 17" or "line 2, column 5" for a byte offset, into buf. */
const char *expr_where(const char *text, size_t pos, char *buf, size_t cap);

/* ---- values ----------------------------------------------------------- */

/* Static type of a value node after checking. */
typedef enum vtype {
  VT_NONE, VT_BOOL, VT_INT, VT_FLOAT, VT_STRING, VT_JSON, VT_ARRAY, VT_LIST,
} vtype;

typedef struct lit {
  vtype type;            /* VT_BOOL/INT/FLOAT/STRING/LIST */
  bool b;
  int64_t i;
  double f;
  char *s;               /* owned */
  size_t slen;
  struct lit *items;     /* VT_LIST, owned */
  size_t n_items;
} lit;

void lit_destroy(lit *l);
int lit_copy(lit *dst, const lit *src); /* 0 or -1 (ENOMEM) */
/* Human rendering for messages: 3, 2.5, "abc", [1, 2]. */
void lit_format(const lit *l, char *buf, size_t cap);

/* ---- hashed sets (expr_match.c) --------------------------------------- */

/* A constant set for `in`: numbers that are integral and fit in int64 go to
 * the int table, other numbers to the double table, strings to the string
 * table; bools as two flags. Open addressing, power-of-two sizes. */
typedef struct valset {
  int64_t *ints; uint8_t *int_used; size_t int_cap, n_ints;
  int64_t small[8]; size_t n_small; /* the ints again when few: linear scan */
  double *dbls; uint8_t *dbl_used; size_t dbl_cap, n_dbls;
  char **strs; size_t *str_lens; size_t str_cap, n_strs;
  bool has_true, has_false;
} valset;

int valset_build(valset *s, const lit *list); /* 0 or -1 (ENOMEM) */
void valset_destroy(valset *s);
bool valset_has_int(const valset *s, int64_t v);
bool valset_has_double(const valset *s, double v);
bool valset_has_str(const valset *s, const char *p, size_t n);

/* ---- LIKE (expr_match.c) ---------------------------------------------- */

typedef enum like_kind { LIKE_EXACT, LIKE_PREFIX, LIKE_SUFFIX, LIKE_INFIX,
                         LIKE_GENERAL } like_kind;

typedef struct like_pat {
  like_kind kind;
  char *lit;      /* the literal part for EXACT/PREFIX/SUFFIX/INFIX, owned */
  size_t lit_len;
  char *pat;      /* GENERAL: pattern with escapes resolved into ops, owned */
  uint8_t *ops;   /* per byte of pat: 0 literal, 1 '%', 2 '_' */
  size_t pat_len;
} like_pat;

int like_compile(like_pat *lp, const char *p, size_t n); /* 0 or -1 */
void like_destroy(like_pat *lp);
bool like_match(const like_pat *lp, const char *s, size_t n);

/* ---- JSON reading (expr_json.c) --------------------------------------- */

typedef enum jkind {
  J_MISSING,  /* path does not resolve (or the row is null): SQL null */
  J_NULL,     /* JSON null: SQL null too, but `exists` sees it */
  J_BOOL, J_INT, J_DOUBLE, J_STRING, J_ARRAY, J_OBJECT,
  J_MISMATCH, /* arithmetic on a non-number: compares FALSE */
} jkind;

typedef struct jval {
  jkind kind;
  bool b;
  bool escaped;      /* J_STRING: raw text holds backslash escapes */
  int64_t i;
  double f;
  const char *p;     /* J_STRING: raw bytes between quotes; ARRAY/OBJECT: text */
  size_t n;
} jval;

typedef struct jpath_step {
  bool is_index;
  int64_t index;
  char *key;         /* owned, unescaped */
  size_t key_len;
} jpath_step;

/* Resolves the path in one JSON document. Malformed text yields J_MISSING. */
jval json_lookup(const char *text, size_t len, const jpath_step *path,
                 size_t n_path);
/* Iterates the elements of a J_ARRAY value: *cursor starts at 0. Returns
 * false at the end or on malformed text. */
bool json_array_next(const jval *arr, size_t *cursor, jval *elem);
size_t json_array_length(const jval *arr); /* (size_t)-1 if malformed */
/* Unescapes a J_STRING into buf (cap bytes); returns the length, or
 * (size_t)-1 when it does not fit or is malformed. */
size_t json_unescape(const char *p, size_t n, char *buf, size_t cap);

/* ---- the tree --------------------------------------------------------- */

typedef enum node_kind {
  /* syntax-only (gone after checking) */
  N_IDENT, N_INDEX, N_CALL, N_TEMPLATE, N_LISTEXPR,
  /* values */
  N_LIT,        /* constant: lit */
  N_FIELD,      /* a column: field */
  N_JSON,       /* JSON path under a JSON field (path may be empty) */
  N_ELEM,       /* element `index` of an Array field */
  N_ARITH,      /* op (T_ADD..T_POW) over a, b */
  N_NEG,        /* -a */
  N_ARRLEN,     /* array_length(a) */
  /* predicates */
  N_CONST,      /* folded: lit.b */
  N_CMP,        /* a op b; op in T_LT..T_NE */
  N_IN,         /* a in set (negated for not in) */
  N_LIKE,       /* a like pattern */
  N_AND, N_OR, N_NOT,
  N_ISNULL,     /* a is null (negated: is not null) */
  N_EXISTS,     /* exists a */
  N_CONTAINS,   /* array_contains*(a, list): fn picks one/all/any */
  N_TRUTH,      /* a bool-valued value used as a predicate */
} node_kind;

typedef enum contains_fn { CONTAINS_ONE, CONTAINS_ALL, CONTAINS_ANY } contains_fn;

typedef struct node {
  node_kind kind;
  size_t pos;                 /* byte offset in the text, for messages */
  int depth;                  /* height of the subtree (parser's limit) */
  tok_kind op;
  bool negated;
  struct node *a, *b;         /* operands / children */
  struct node **args;         /* N_CALL, N_LISTEXPR: owned array */
  size_t n_args;
  char *name;                 /* N_IDENT / N_CALL / N_TEMPLATE, owned */
  lit lit;                    /* N_LIT, N_CONST, N_INDEX (the subscript) */
  /* after checking */
  vtype type;                 /* type of a value node */
  const cairn_field *field;   /* N_FIELD, N_JSON, N_ELEM, N_ARRLEN source */
  jpath_step *path;           /* N_JSON: owned */
  size_t n_path;
  int64_t index;              /* N_ELEM */
  contains_fn fn;             /* N_CONTAINS */
  valset set;                 /* N_IN, N_CONTAINS: built from lit (list) */
  like_pat like;              /* N_LIKE */
} node;

node *node_new(node_kind kind, size_t pos);
void node_free(node *n);

/* Parses text into a syntax tree; NULL on error (err filled). */
node *expr_parse_syntax(const char *text, cairn_error *err);
/* Checks and rewrites the syntax tree into a plan; returns the new root
 * (the old one is consumed) or NULL on error (err filled, tree freed). */
node *expr_check(node *root, const cairn_schema *schema, const char *text,
                 const cairn_expr_templates *tv, cairn_error *err);

struct cairn_expr {
  node *root;
  const cairn_schema *schema;
  int64_t *field_ids;  /* distinct fields read, owned */
  size_t n_fields;
  char *text;                    /* the source text, owned */
  cairn_expr_templates templates;/* deep copy of the parse's templates */
};

#endif
