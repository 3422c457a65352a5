/*
 * expr_eval.c — evaluates a checked plan over a batch of columns into a
 * bitset, a chunk of 1024 rows at a time.
 *
 * Three-valued logic as two bitsets: each condition yields, per chunk, a
 * word array T (rows where it is TRUE) and F (rows where it is FALSE); a row
 * in neither is UNKNOWN (SQL null). Then
 *     not x   : T' = F,        F' = T
 *     x and y : T' = Tx & Ty,  F' = Fx | Fy
 *     x or y  : T' = Tx | Ty,  F' = Fx & Fy
 * which is Kleene logic, 64 rows per instruction. A row matches when T.
 * `and` skips its right side for a chunk where the left is FALSE on every
 * row (and `or` where the left is TRUE on every row).
 *
 * Column at a time: `field op constant` and `field in [...]` on numeric
 * columns run as tight loops straight over the column memory (no per-row
 * dispatch, no tree walk per row), producing 64 result bits per word; nulls
 * come from the validity bitmap a word at a time. Everything else
 * (strings, JSON paths, arithmetic, array elements) is first materialised
 * for the chunk as an array of tagged values (jval) — one pass per node, not
 * per row — and then compared row by row.
 *
 * Chunking keeps every temporary in L1/L2: 1024 rows make 16-word bitsets
 * and 40 KB value arrays, taken from a small per-call pool.
 *
 * Threading: all mutable state is in the per-call `ectx`; the plan is only
 * read, so concurrent evaluations of one expression are safe.
 *
 * XXX the batch's columns are trusted (they come from our own segment code):
 * offsets are assumed monotonic and in range, not re-validated per call.
 */
#include "expr_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1024
#define CW (CHUNK / 64)

typedef struct tf {
  uint64_t t[CW], f[CW];
} tf;

typedef struct ablock {
  struct ablock *next;
  size_t used, cap;
  char data[];
} ablock;

typedef struct ectx {
  const cairn_expr_batch *batch;
  size_t base, n, nw;     /* current chunk: rows [base, base+n), nw words */
  uint64_t mask[CW];      /* bits of the rows in the chunk */
  jval *pool[32];         /* free value arrays */
  size_t n_pool;
  ablock *arena;          /* unescaped JSON strings of the current chunk */
  bool nomem;
} ectx;

/* ---- plumbing --------------------------------------------------------- */

static const cairn_expr_column *find_col(const cairn_expr_batch *b,
                                         const cairn_field *f) {
  for (size_t i = 0; i < b->n_columns; i++)
    if (b->columns[i].field_id == f->id)
      return &b->columns[i];
  return NULL;
}

static bool row_valid(const cairn_expr_column *c, size_t row) {
  return c->validity == NULL || (c->validity[row >> 3] >> (row & 7)) & 1;
}

/* Validity of the chunk's rows as words (bit set = has a value). */
static void valid_words(const ectx *cx, const cairn_expr_column *c,
                        uint64_t *out) {
  if (c->validity == NULL) {
    memcpy(out, cx->mask, sizeof cx->mask);
    return;
  }
  const uint8_t *v = c->validity + cx->base / 8; /* base is a multiple of 64 */
  size_t bytes = (cx->n + 7) / 8;
  for (size_t w = 0; w < cx->nw; w++) {
    uint64_t x = 0;
    size_t k = bytes - w * 8 < 8 ? bytes - w * 8 : 8;
    for (size_t i = 0; i < k; i++)
      x |= (uint64_t)v[w * 8 + i] << (8 * i);
    out[w] = x & cx->mask[w];
  }
}

static jval *vec_get(ectx *cx) {
  if (cx->n_pool)
    return cx->pool[--cx->n_pool];
  jval *v = malloc(CHUNK * sizeof *v);
  if (v == NULL)
    cx->nomem = true;
  return v;
}

static void vec_put(ectx *cx, jval *v) {
  if (v == NULL)
    return;
  if (cx->n_pool < sizeof cx->pool / sizeof cx->pool[0])
    cx->pool[cx->n_pool++] = v;
  else
    free(v);
}

static char *arena_alloc(ectx *cx, size_t n) {
  ablock *b = cx->arena;
  if (b == NULL || b->cap - b->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    ablock *nb = malloc(sizeof *nb + cap);
    if (nb == NULL) {
      cx->nomem = true;
      return NULL;
    }
    nb->next = b;
    nb->used = 0;
    nb->cap = cap;
    cx->arena = b = nb;
  }
  char *p = b->data + b->used;
  b->used += n;
  return p;
}

static void arena_reset(ectx *cx) {
  ablock *b = cx->arena;
  while (b && b->next) {
    ablock *next = b->next;
    free(b);
    b = next;
  }
  cx->arena = b;
  if (b)
    b->used = 0;
}

static void set_bit(uint64_t *w, size_t i) { w[i >> 6] |= 1ULL << (i & 63); }

static void tf_clear(tf *r) { memset(r, 0, sizeof *r); }

/* Records a per-row three-valued result: 1 true, 0 false, -1 unknown. */
static void tf_put(tf *r, size_t i, int v) {
  if (v > 0)
    set_bit(r->t, i);
  else if (v == 0)
    set_bit(r->f, i);
}

/* ---- fast paths: numeric column vs constant -------------------------- */

/* The column kernels get an AVX2 clone picked at load time (ifunc), since
 * the x86-64 baseline does not let GCC vectorise double compares. Off under
 * sanitizers, where ifunc resolvers run before the runtime is ready. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAIRN_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__linux__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(CAIRN_NO_CLONES)
#define KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define KERNEL
#endif

/* 64 bytes of 0/1 → one word (bit j = h[j]). Multiplying 8 such bytes by
 * 0x0102040810204080 gathers them, without carries, into the top byte. */
static inline uint64_t pack64(const uint8_t *h) {
  uint64_t m = 0;
  for (int k = 0; k < 8; k++) {
    uint64_t x;
    memcpy(&x, h + 8 * k, 8);
    m |= ((x * 0x0102040810204080ULL) >> 56) << (8 * k);
  }
  return m;
}

/* One result word per 64 rows: bit j = (CT)q[j] OP c. Full words use a
 * fixed trip count so the compiler can unroll and vectorise. */
#define CMP_WORDS(T, CT, OP)                                                  \
  for (size_t w = 0; w < nw; w++) {                                           \
    const T *q = p + w * 64;                                                  \
    size_t lim = n - w * 64 < 64 ? n - w * 64 : 64;                           \
    uint64_t m = 0;                                                           \
    if (lim == 64) {                                                          \
      uint8_t h[64];                                                          \
      for (size_t j = 0; j < 64; j++)                                         \
        h[j] = (CT)q[j] OP c;                                                 \
      m = pack64(h);                                                          \
    } else {                                                                  \
      for (size_t j = 0; j < lim; j++)                                        \
        m |= (uint64_t)((CT)q[j] OP c) << j;                                  \
    }                                                                         \
    out[w] = m;                                                               \
  }

#define GEN_CMP(NAME, T, CT)                                                  \
  KERNEL static void NAME(const T *p, size_t n, tok_kind op, CT c, uint64_t *out) {  \
    size_t nw = (n + 63) / 64;                                                \
    switch (op) {                                                             \
    case T_LT: CMP_WORDS(T, CT, <) break;                                     \
    case T_LE: CMP_WORDS(T, CT, <=) break;                                    \
    case T_GT: CMP_WORDS(T, CT, >) break;                                     \
    case T_GE: CMP_WORDS(T, CT, >=) break;                                    \
    case T_EQ: CMP_WORDS(T, CT, ==) break;                                    \
    default: CMP_WORDS(T, CT, !=) break;                                      \
    }                                                                         \
  }

GEN_CMP(cmp_i8, int8_t, int64_t)
GEN_CMP(cmp_i16, int16_t, int64_t)
GEN_CMP(cmp_i32, int32_t, int64_t)
GEN_CMP(cmp_i64, int64_t, int64_t)
GEN_CMP(cmpd_i8, int8_t, double)
GEN_CMP(cmpd_i16, int16_t, double)
GEN_CMP(cmpd_i32, int32_t, double)
GEN_CMP(cmpd_i64, int64_t, double)
GEN_CMP(cmpd_f32, float, double)
GEN_CMP(cmpd_f64, double, double)

/* `field in set` over an integer column: linear scan of up to 8 members,
 * else the hashed set. */
#define GEN_IN_INT(NAME, T)                                                   \
  KERNEL static void NAME(const T *p, size_t n, const valset *s, uint64_t *out) {    \
    for (size_t w = 0; w * 64 < n; w++) {                                     \
      const T *q = p + w * 64;                                                \
      size_t lim = n - w * 64 < 64 ? n - w * 64 : 64;                         \
      uint64_t m = 0;                                                         \
      if (s->n_small && s->n_small <= 4 && lim == 64) {                       \
        /* fixed trip count, set padded to 4 by repeating its last member */  \
        size_t last = s->n_small - 1;                                         \
        int64_t s0 = s->small[0], s1 = s->small[last > 1 ? 1 : last];        \
        int64_t s2 = s->small[last > 2 ? 2 : last], s3 = s->small[last];      \
        uint8_t h[64];                                                        \
        for (size_t j = 0; j < 64; j++) {                                     \
          int64_t v = q[j];                                                   \
          h[j] = (uint8_t)((v == s0) | (v == s1) | (v == s2) | (v == s3));    \
        }                                                                     \
        m = pack64(h);                                                        \
      } else if (s->n_small) {                                                \
        for (size_t j = 0; j < lim; j++) {                                    \
          int64_t v = q[j];                                                   \
          uint64_t hit = 0;                                                   \
          for (size_t k = 0; k < s->n_small; k++)                             \
            hit |= (uint64_t)(v == s->small[k]);                              \
          m |= hit << j;                                                      \
        }                                                                     \
      } else {                                                                \
        for (size_t j = 0; j < lim; j++)                                      \
          m |= (uint64_t)valset_has_int(s, q[j]) << j;                        \
      }                                                                       \
      out[w] = m;                                                             \
    }                                                                         \
  }

GEN_IN_INT(in_i8, int8_t)
GEN_IN_INT(in_i16, int16_t)
GEN_IN_INT(in_i32, int32_t)
GEN_IN_INT(in_i64, int64_t)

#define GEN_IN_FLT(NAME, T)                                                   \
  static void NAME(const T *p, size_t n, const valset *s, uint64_t *out) {    \
    for (size_t w = 0; w * 64 < n; w++) {                                     \
      size_t lim = n - w * 64 < 64 ? n - w * 64 : 64;                         \
      uint64_t m = 0;                                                         \
      for (size_t j = 0; j < lim; j++)                                        \
        m |= (uint64_t)valset_has_double(s, p[w * 64 + j]) << j;              \
      out[w] = m;                                                             \
    }                                                                         \
  }

GEN_IN_FLT(in_f32, float)
GEN_IN_FLT(in_f64, double)

static bool is_fast_column(const node *a) {
  return a->kind == N_FIELD && (a->type == VT_INT || a->type == VT_FLOAT);
}

/* Result bits for a column-vs-constant test → T/F with validity. */
static void finish_fast(const ectx *cx, const cairn_expr_column *c,
                        const uint64_t *hits, tf *r) {
  uint64_t valid[CW];
  valid_words(cx, c, valid);
  for (size_t w = 0; w < cx->nw; w++) {
    r->t[w] = hits[w] & valid[w];
    r->f[w] = ~hits[w] & valid[w];
  }
}

static void fast_cmp(const ectx *cx, const node *nd, tf *r) {
  const cairn_expr_column *c = find_col(cx->batch, nd->a->field);
  const lit *l = &nd->b->lit;
  uint64_t hits[CW] = {0};
  size_t n = cx->n, b = cx->base;
  const void *v = c->values;
  bool as_int = nd->a->type == VT_INT && l->type == VT_INT;
  double d = l->type == VT_INT ? (double)l->i : l->f;
  switch (nd->a->field->type) {
  case CAIRN_TYPE_INT8:
    if (as_int) cmp_i8((const int8_t *)v + b, n, nd->op, l->i, hits);
    else cmpd_i8((const int8_t *)v + b, n, nd->op, d, hits);
    break;
  case CAIRN_TYPE_INT16:
    if (as_int) cmp_i16((const int16_t *)v + b, n, nd->op, l->i, hits);
    else cmpd_i16((const int16_t *)v + b, n, nd->op, d, hits);
    break;
  case CAIRN_TYPE_INT32:
    if (as_int) cmp_i32((const int32_t *)v + b, n, nd->op, l->i, hits);
    else cmpd_i32((const int32_t *)v + b, n, nd->op, d, hits);
    break;
  case CAIRN_TYPE_INT64:
    if (as_int) cmp_i64((const int64_t *)v + b, n, nd->op, l->i, hits);
    else cmpd_i64((const int64_t *)v + b, n, nd->op, d, hits);
    break;
  case CAIRN_TYPE_FLOAT:
    cmpd_f32((const float *)v + b, n, nd->op, d, hits);
    break;
  default:
    cmpd_f64((const double *)v + b, n, nd->op, d, hits);
    break;
  }
  finish_fast(cx, c, hits, r);
}

static void fast_in(const ectx *cx, const node *nd, tf *r) {
  const cairn_expr_column *c = find_col(cx->batch, nd->a->field);
  uint64_t hits[CW] = {0};
  size_t n = cx->n, b = cx->base;
  const void *v = c->values;
  const valset *s = &nd->set;
  switch (nd->a->field->type) {
  case CAIRN_TYPE_INT8: in_i8((const int8_t *)v + b, n, s, hits); break;
  case CAIRN_TYPE_INT16: in_i16((const int16_t *)v + b, n, s, hits); break;
  case CAIRN_TYPE_INT32: in_i32((const int32_t *)v + b, n, s, hits); break;
  case CAIRN_TYPE_INT64: in_i64((const int64_t *)v + b, n, s, hits); break;
  case CAIRN_TYPE_FLOAT: in_f32((const float *)v + b, n, s, hits); break;
  default: in_f64((const double *)v + b, n, s, hits); break;
  }
  if (nd->negated)
    for (size_t w = 0; w < cx->nw; w++)
      hits[w] = ~hits[w];
  finish_fast(cx, c, hits, r);
}

/* ---- values: materialise a chunk as tagged values --------------------- */

static jval lit_jval(const lit *l) {
  jval v = {.kind = J_MISSING};
  switch (l->type) {
  case VT_BOOL: v.kind = J_BOOL; v.b = l->b; break;
  case VT_INT: v.kind = J_INT; v.i = l->i; break;
  case VT_FLOAT: v.kind = J_DOUBLE; v.f = l->f; break;
  case VT_STRING: v.kind = J_STRING; v.p = l->s; v.n = l->slen; break;
  default: break;
  }
  return v;
}

/* Value of fixed-width type `t` at index k of `values`. */
static jval scalar_at(cairn_data_type t, const void *values, size_t k) {
  jval v = {.kind = J_INT};
  switch (t) {
  case CAIRN_TYPE_BOOL: v.kind = J_BOOL; v.b = ((const uint8_t *)values)[k] != 0; break;
  case CAIRN_TYPE_INT8: v.i = ((const int8_t *)values)[k]; break;
  case CAIRN_TYPE_INT16: v.i = ((const int16_t *)values)[k]; break;
  case CAIRN_TYPE_INT32: v.i = ((const int32_t *)values)[k]; break;
  case CAIRN_TYPE_INT64: v.i = ((const int64_t *)values)[k]; break;
  case CAIRN_TYPE_FLOAT: v.kind = J_DOUBLE; v.f = ((const float *)values)[k]; break;
  case CAIRN_TYPE_DOUBLE: v.kind = J_DOUBLE; v.f = ((const double *)values)[k]; break;
  default: v.kind = J_MISSING; break;
  }
  return v;
}

static jval string_at(const uint64_t *offsets, const char *data, size_t k) {
  jval v = {.kind = J_STRING};
  v.p = data + offsets[k];
  v.n = (size_t)(offsets[k + 1] - offsets[k]);
  return v;
}

/* Element k (absolute index) of an Array column. */
static jval array_elem(const cairn_field *f, const cairn_expr_column *c,
                       size_t k) {
  if (cairn_type_is_string(f->element_type))
    return string_at(c->elem_offsets, c->data, k);
  return scalar_at(f->element_type, c->values, k);
}

static void fill_field(ectx *cx, const node *nd, jval *out) {
  const cairn_expr_column *c = find_col(cx->batch, nd->field);
  bool str = cairn_type_is_string(nd->field->type);
  for (size_t i = 0; i < cx->n; i++) {
    size_t row = cx->base + i;
    if (!row_valid(c, row))
      out[i] = (jval){.kind = J_MISSING};
    else if (str)
      out[i] = string_at(c->offsets, c->data, row);
    else
      out[i] = scalar_at(nd->field->type, c->values, row);
  }
}

/* JSON strings with escapes are unescaped into the chunk arena so that all
 * later comparisons can be plain byte compares. */
static void unescape_jval(ectx *cx, jval *v) {
  if (v->kind != J_STRING || !v->escaped)
    return;
  char *buf = arena_alloc(cx, v->n * 3 + 4);
  size_t m = buf ? json_unescape(v->p, v->n, buf, v->n * 3 + 4) : (size_t)-1;
  if (m == (size_t)-1) {
    *v = (jval){.kind = J_MISSING};
    return;
  }
  v->p = buf;
  v->n = m;
  v->escaped = false;
}

static void fill_json(ectx *cx, const node *nd, jval *out) {
  const cairn_expr_column *c = find_col(cx->batch, nd->field);
  for (size_t i = 0; i < cx->n; i++) {
    size_t row = cx->base + i;
    if (!row_valid(c, row)) {
      out[i] = (jval){.kind = J_MISSING};
      continue;
    }
    jval s = string_at(c->offsets, c->data, row);
    out[i] = json_lookup(s.p, s.n, nd->path, nd->n_path);
    unescape_jval(cx, &out[i]);
  }
}

static void fill_elem(ectx *cx, const node *nd, jval *out) {
  const cairn_expr_column *c = find_col(cx->batch, nd->field);
  for (size_t i = 0; i < cx->n; i++) {
    size_t row = cx->base + i;
    uint64_t lo = c->offsets[row], hi = c->offsets[row + 1];
    if (!row_valid(c, row) || nd->index < 0 ||
        (uint64_t)nd->index >= hi - lo)
      out[i] = (jval){.kind = J_MISSING};
    else
      out[i] = array_elem(nd->field, c, (size_t)(lo + (uint64_t)nd->index));
  }
}

static bool fill_value(ectx *cx, const node *nd, jval *out);

static void fill_arrlen(ectx *cx, const node *nd, jval *out) {
  const node *a = nd->a;
  if (a->kind == N_JSON) {
    fill_json(cx, a, out);
    for (size_t i = 0; i < cx->n; i++) {
      jkind k = out[i].kind;
      if (k == J_ARRAY)
        out[i] = (jval){.kind = J_INT, .i = (int64_t)json_array_length(&out[i])};
      else if (k != J_MISSING && k != J_NULL)
        out[i] = (jval){.kind = J_MISMATCH};
    }
    return;
  }
  const cairn_expr_column *c = find_col(cx->batch, a->field);
  for (size_t i = 0; i < cx->n; i++) {
    size_t row = cx->base + i;
    if (!row_valid(c, row))
      out[i] = (jval){.kind = J_MISSING};
    else
      out[i] = (jval){.kind = J_INT,
                      .i = (int64_t)(c->offsets[row + 1] - c->offsets[row])};
  }
}

static bool is_sqlnull(jkind k) { return k == J_MISSING || k == J_NULL; }
static bool is_number(jkind k) { return k == J_INT || k == J_DOUBLE; }
static double num_of(const jval *v) {
  return v->kind == J_INT ? (double)v->i : v->f;
}

/* One row of a op b (see docs/expr.md: nulls propagate, non-numbers give
 * MISMATCH, division by zero gives null, integer overflow wraps). */
static jval arith_row(tok_kind op, const jval *x, const jval *y) {
  if (is_sqlnull(x->kind) || is_sqlnull(y->kind))
    return (jval){.kind = J_MISSING};
  if (!is_number(x->kind) || !is_number(y->kind))
    return (jval){.kind = J_MISMATCH};
  if (x->kind == J_INT && y->kind == J_INT && op != T_POW) {
    uint64_t a = (uint64_t)x->i, b = (uint64_t)y->i;
    jval r = {.kind = J_INT};
    switch (op) {
    case T_ADD: r.i = (int64_t)(a + b); return r;
    case T_SUB: r.i = (int64_t)(a - b); return r;
    case T_MUL: r.i = (int64_t)(a * b); return r;
    default:
      if (y->i == 0)
        return (jval){.kind = J_MISSING};
      if (y->i == -1)
        r.i = op == T_DIV ? (int64_t)(0 - a) : 0;
      else
        r.i = op == T_DIV ? x->i / y->i : x->i % y->i;
      return r;
    }
  }
  double a = num_of(x), b = num_of(y);
  jval r = {.kind = J_DOUBLE};
  switch (op) {
  case T_ADD: r.f = a + b; break;
  case T_SUB: r.f = a - b; break;
  case T_MUL: r.f = a * b; break;
  case T_POW: r.f = pow(a, b); break;
  default:
    if (b == 0)
      return (jval){.kind = J_MISSING};
    r.f = op == T_DIV ? a / b : fmod(a, b);
  }
  return r;
}

static bool fill_arith(ectx *cx, const node *nd, jval *out) {
  jval *y = vec_get(cx);
  bool ok = y && fill_value(cx, nd->a, out) && fill_value(cx, nd->b, y);
  for (size_t i = 0; ok && i < cx->n; i++)
    out[i] = arith_row(nd->op, &out[i], &y[i]);
  vec_put(cx, y);
  return ok;
}

static bool fill_neg(ectx *cx, const node *nd, jval *out) {
  if (!fill_value(cx, nd->a, out))
    return false;
  for (size_t i = 0; i < cx->n; i++) {
    if (out[i].kind == J_INT)
      out[i].i = (int64_t)(0 - (uint64_t)out[i].i);
    else if (out[i].kind == J_DOUBLE)
      out[i].f = -out[i].f;
    else if (!is_sqlnull(out[i].kind))
      out[i] = (jval){.kind = J_MISMATCH};
  }
  return true;
}

static bool fill_value(ectx *cx, const node *nd, jval *out) {
  switch (nd->kind) {
  case N_LIT: {
    jval v = lit_jval(&nd->lit);
    for (size_t i = 0; i < cx->n; i++)
      out[i] = v;
    return true;
  }
  case N_FIELD: fill_field(cx, nd, out); return true;
  case N_JSON: fill_json(cx, nd, out); return true;
  case N_ELEM: fill_elem(cx, nd, out); return true;
  case N_ARRLEN: fill_arrlen(cx, nd, out); return true;
  case N_ARITH: return fill_arith(cx, nd, out);
  case N_NEG: return fill_neg(cx, nd, out);
  default: return false;
  }
}

/* ---- per-row tests on tagged values ----------------------------------- */

static int cmp_result(tok_kind op, int c) {
  switch (op) {
  case T_LT: return c < 0;
  case T_LE: return c <= 0;
  case T_GT: return c > 0;
  case T_GE: return c >= 0;
  case T_EQ: return c == 0;
  default: return c != 0;
  }
}

/* 1 true, 0 false, -1 unknown. Incompatible types compare FALSE. */
static int cmp_row(tok_kind op, const jval *x, const jval *y) {
  if (is_sqlnull(x->kind) || is_sqlnull(y->kind))
    return -1;
  if (x->kind == J_INT && y->kind == J_INT)
    return cmp_result(op, (x->i > y->i) - (x->i < y->i));
  if (is_number(x->kind) && is_number(y->kind)) {
    double a = num_of(x), b = num_of(y);
    if (a != a || b != b)
      return op == T_NE;
    return cmp_result(op, (a > b) - (a < b));
  }
  if (x->kind == J_STRING && y->kind == J_STRING) {
    size_t m = x->n < y->n ? x->n : y->n;
    int c = m ? memcmp(x->p, y->p, m) : 0;
    return cmp_result(op, c ? c : (x->n > y->n) - (x->n < y->n));
  }
  if (x->kind == J_BOOL && y->kind == J_BOOL && (op == T_EQ || op == T_NE))
    return cmp_result(op, (int)x->b - (int)y->b);
  return 0;
}

static int in_row(const valset *s, const jval *v) {
  switch (v->kind) {
  case J_MISSING: case J_NULL: return -1;
  case J_INT: return valset_has_int(s, v->i);
  case J_DOUBLE: return valset_has_double(s, v->f);
  case J_STRING: return valset_has_str(s, v->p, v->n);
  case J_BOOL: return v->b ? s->has_true : s->has_false;
  default: return 0;
  }
}

/* ---- predicates ------------------------------------------------------- */

static bool eval_pred(ectx *cx, const node *nd, tf *r);

/* Materialises operand a (and b) and applies a per-row test. */
static bool eval_rows(ectx *cx, const node *nd, tf *r) {
  jval *x = vec_get(cx), *y = NULL;
  bool two = nd->kind == N_CMP;
  if (two)
    y = vec_get(cx);
  bool ok = x && (!two || y) && fill_value(cx, nd->a, x) &&
            (!two || fill_value(cx, nd->b, y));
  tf_clear(r);
  for (size_t i = 0; ok && i < cx->n; i++) {
    int v;
    switch (nd->kind) {
    case N_CMP: v = cmp_row(nd->op, &x[i], &y[i]); break;
    case N_IN: v = in_row(&nd->set, &x[i]); break;
    case N_LIKE:
      v = is_sqlnull(x[i].kind) ? -1
          : x[i].kind == J_STRING ? like_match(&nd->like, x[i].p, x[i].n)
                                  : 0;
      break;
    case N_TRUTH:
      v = is_sqlnull(x[i].kind) ? -1 : x[i].kind == J_BOOL && x[i].b;
      break;
    case N_EXISTS: v = x[i].kind != J_MISSING; break;
    default: /* N_ISNULL on a JSON path */
      v = is_sqlnull(x[i].kind) != nd->negated;
      break;
    }
    if (nd->kind == N_IN && nd->negated && v >= 0)
      v = !v;
    tf_put(r, i, v);
  }
  vec_put(cx, x);
  vec_put(cx, y);
  return ok;
}

static void eval_isnull_field(const ectx *cx, const node *nd, tf *r) {
  const cairn_expr_column *c = find_col(cx->batch, nd->a->field);
  uint64_t valid[CW];
  valid_words(cx, c, valid);
  for (size_t w = 0; w < cx->nw; w++) {
    uint64_t null = ~valid[w] & cx->mask[w];
    r->t[w] = nd->negated ? valid[w] : null;
    r->f[w] = nd->negated ? null : valid[w];
  }
}

/* Whether element e of the row equals literal l (JSON-style equality). */
static bool elem_equals(const jval *e, const lit *l) {
  jval lv = lit_jval(l);
  return cmp_row(T_EQ, e, &lv) == 1;
}

/* array_contains* on one row whose elements are produced by `next`. */
typedef bool (*elem_iter)(void *state, jval *out);

static int contains_row(const node *nd, elem_iter next, void *state,
                        void *reset_state, size_t state_size) {
  const lit *list = &nd->b->lit;
  jval e;
  if (nd->fn != CONTAINS_ALL) {
    while (next(state, &e))
      if (in_row(&nd->set, &e) == 1)
        return 1;
    return 0;
  }
  for (size_t k = 0; k < list->n_items; k++) {
    bool found = false;
    memcpy(state, reset_state, state_size);
    while (!found && next(state, &e))
      found = elem_equals(&e, &list->items[k]);
    if (!found)
      return 0;
  }
  return 1;
}

typedef struct col_iter {
  const cairn_field *f;
  const cairn_expr_column *c;
  uint64_t k, end;
} col_iter;

static bool col_next(void *s, jval *out) {
  col_iter *it = s;
  if (it->k >= it->end)
    return false;
  *out = array_elem(it->f, it->c, (size_t)it->k++);
  return true;
}

typedef struct json_iter {
  jval arr;
  size_t cursor;
} json_iter;

static bool json_next(void *s, jval *out) {
  json_iter *it = s;
  return json_array_next(&it->arr, &it->cursor, out);
}

static bool eval_contains(ectx *cx, const node *nd, tf *r) {
  tf_clear(r);
  const node *a = nd->a;
  if (a->kind == N_FIELD) {
    const cairn_expr_column *c = find_col(cx->batch, a->field);
    for (size_t i = 0; i < cx->n; i++) {
      size_t row = cx->base + i;
      if (!row_valid(c, row))
        continue;
      col_iter it = {a->field, c, c->offsets[row], c->offsets[row + 1]};
      col_iter start = it;
      tf_put(r, i, contains_row(nd, col_next, &it, &start, sizeof it));
    }
    return true;
  }
  jval *x = vec_get(cx);
  if (x == NULL)
    return false;
  fill_value(cx, a, x);
  for (size_t i = 0; i < cx->n; i++) {
    if (is_sqlnull(x[i].kind) || x[i].kind != J_ARRAY) {
      tf_put(r, i, is_sqlnull(x[i].kind) ? -1 : 0);
      continue;
    }
    json_iter it = {x[i], 0}, start = it;
    tf_put(r, i, contains_row(nd, json_next, &it, &start, sizeof it));
  }
  vec_put(cx, x);
  return true;
}

static bool eval_logic(ectx *cx, const node *nd, tf *r) {
  if (!eval_pred(cx, nd->a, r))
    return false;
  if (nd->kind == N_NOT) {
    for (size_t w = 0; w < cx->nw; w++) {
      uint64_t t = r->t[w];
      r->t[w] = r->f[w];
      r->f[w] = t;
    }
    return true;
  }
  bool is_and = nd->kind == N_AND, decided = true;
  for (size_t w = 0; w < cx->nw && decided; w++)
    decided = (is_and ? r->f[w] : r->t[w]) == cx->mask[w];
  if (decided)
    return true;
  tf rb;
  if (!eval_pred(cx, nd->b, &rb))
    return false;
  for (size_t w = 0; w < cx->nw; w++) {
    if (is_and) {
      r->t[w] &= rb.t[w];
      r->f[w] |= rb.f[w];
    } else {
      r->t[w] |= rb.t[w];
      r->f[w] &= rb.f[w];
    }
  }
  return true;
}

static bool eval_pred(ectx *cx, const node *nd, tf *r) {
  switch (nd->kind) {
  case N_CONST:
    for (size_t w = 0; w < CW; w++) {
      r->t[w] = nd->lit.b ? cx->mask[w] : 0;
      r->f[w] = nd->lit.b ? 0 : cx->mask[w];
    }
    return true;
  case N_AND: case N_OR: case N_NOT:
    return eval_logic(cx, nd, r);
  case N_CMP:
    if (is_fast_column(nd->a) && nd->b->kind == N_LIT) {
      fast_cmp(cx, nd, r);
      return true;
    }
    return eval_rows(cx, nd, r);
  case N_IN:
    if (is_fast_column(nd->a)) {
      fast_in(cx, nd, r);
      return true;
    }
    return eval_rows(cx, nd, r);
  case N_ISNULL:
    if (nd->a->kind == N_FIELD) {
      eval_isnull_field(cx, nd, r);
      return true;
    }
    return eval_rows(cx, nd, r);
  case N_CONTAINS:
    return eval_contains(cx, nd, r);
  default: /* N_LIKE, N_TRUTH, N_EXISTS */
    return eval_rows(cx, nd, r);
  }
}

/* ---- driver ----------------------------------------------------------- */

/* Every field the plan reads must have a column of the right shape. */
static cairn_status check_columns(const node *nd, const cairn_expr_batch *b,
                                  cairn_error *err) {
  if (nd == NULL)
    return CAIRN_OK;
  if (nd->field && (nd->kind == N_FIELD || nd->kind == N_JSON ||
                    nd->kind == N_ELEM)) {
    const cairn_field *f = nd->field;
    const cairn_expr_column *c = find_col(b, f);
    bool ok = c != NULL;
    if (ok && (f->type == CAIRN_TYPE_JSON || cairn_type_is_string(f->type)))
      ok = c->offsets && c->data;
    else if (ok && f->type == CAIRN_TYPE_ARRAY)
      ok = c->offsets && (cairn_type_is_string(f->element_type)
                              ? c->elem_offsets && c->data : c->values != NULL);
    else if (ok)
      ok = c->values != NULL;
    if (!ok)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "batch has no usable column for field '%s' "
                             "(id %lld, %s)", f->name, (long long)f->id,
                             cairn_type_name(f->type));
  }
  cairn_status st = check_columns(nd->a, b, err);
  return st != CAIRN_OK ? st : check_columns(nd->b, b, err);
}

static void ectx_destroy(ectx *cx) {
  for (size_t i = 0; i < cx->n_pool; i++)
    free(cx->pool[i]);
  arena_reset(cx);
  free(cx->arena);
}

static void set_chunk(ectx *cx, size_t base, size_t total) {
  cx->base = base;
  cx->n = total - base < CHUNK ? total - base : CHUNK;
  cx->nw = (cx->n + 63) / 64;
  memset(cx->mask, 0, sizeof cx->mask);
  for (size_t w = 0; w < cx->nw; w++) {
    size_t left = cx->n - w * 64;
    cx->mask[w] = left >= 64 ? ~0ULL : (1ULL << left) - 1;
  }
  arena_reset(cx);
}

cairn_status cairn_expr_eval(const cairn_expr *expr,
                             const cairn_expr_batch *batch, uint64_t *bits,
                             cairn_error *err) {
  cairn_error_clear(err);
  if (expr == NULL || batch == NULL || (bits == NULL && batch->n_rows))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cairn_expr_eval: missing argument");
  cairn_status st = check_columns(expr->root, batch, err);
  if (st != CAIRN_OK)
    return st;
  ectx cx = {.batch = batch};
  for (size_t base = 0; base < batch->n_rows; base += CHUNK) {
    set_chunk(&cx, base, batch->n_rows);
    tf r;
    if (!eval_pred(&cx, expr->root, &r) || cx.nomem) {
      ectx_destroy(&cx);
      return cairn_error_set(err, CAIRN_NOMEM,
                             "out of memory evaluating expression");
    }
    memcpy(bits + base / 64, r.t, cx.nw * sizeof *bits);
  }
  ectx_destroy(&cx);
  return CAIRN_OK;
}
