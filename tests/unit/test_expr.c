/*
 * test_expr.c — the filter expression engine against an independent
 * reference.
 *
 * The data: 1500 rows (more than one 1024-row evaluation chunk) generated
 * from a fixed seed into plain C structs (`row`), with nulls in the nullable
 * fields, JSON documents with missing keys, JSON nulls, wrong-typed values
 * and escaped strings, arrays of ints/strings/doubles, and a dynamic field.
 * The same rows are then laid out as engine columns (values, validity
 * bitmaps, offsets, JSON text).
 *
 * The reference: every table entry pairs an expression with a C expression
 * over one `row` written with the small three-valued helpers below (T, F, U
 * and Kleene AND/OR/NOT, comparisons with the documented JSON rules, a
 * recursive LIKE matcher). It never looks at the engine's tree, its JSON
 * reader or its columns. The engine's bitset must equal the reference row by
 * row; a mismatch prints the expression, the row and both answers.
 *
 * Also: malformed expressions (each must fail with a 1-based column in the
 * message), template values, growing-vs-sealed (evaluating slices gives the
 * same bits as the whole), count(*), field lists and constant folding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "expr.h"

#define N_ROWS 1500

/* ---- the reference value model ---------------------------------------- */

typedef enum { RK_MISSING, RK_NULL, RK_BOOL, RK_INT, RK_DBL, RK_STR, RK_ARR,
               RK_OBJ } rkind;

typedef struct rv {
  rkind k;
  int64_t i;
  double f;
  int b;
  const char *s;
} rv;

typedef int tv; /* 1 true, 0 false, -1 unknown */

static rv I(int64_t i) { return (rv){.k = RK_INT, .i = i}; }
static rv D(double f) { return (rv){.k = RK_DBL, .f = f}; }
static rv S(const char *s) { return (rv){.k = RK_STR, .s = s}; }
static rv B(int b) { return (rv){.k = RK_BOOL, .b = b}; }
static const rv NUL = {.k = RK_MISSING};

static tv AND(tv a, tv b) { return a == 0 || b == 0 ? 0 : a == 1 && b == 1 ? 1 : -1; }
static tv OR(tv a, tv b) { return a == 1 || b == 1 ? 1 : a == 0 && b == 0 ? 0 : -1; }
static tv NOT(tv a) { return a < 0 ? -1 : !a; }
static int isnull_k(rkind k) { return k == RK_MISSING || k == RK_NULL; }
static int isnum_k(rkind k) { return k == RK_INT || k == RK_DBL; }
static double numv(rv x) { return x.k == RK_INT ? (double)x.i : x.f; }

enum { LT, LE, GT, GE, EQ, NE };

static tv ord(int op, int c) {
  switch (op) {
  case LT: return c < 0;
  case LE: return c <= 0;
  case GT: return c > 0;
  case GE: return c >= 0;
  case EQ: return c == 0;
  default: return c != 0;
  }
}

/* Comparison: nulls → unknown; ints exactly; numbers as doubles; strings
 * byte-wise; bools only == and !=; any other pairing is false. */
static tv CMP(rv x, int op, rv y) {
  if (isnull_k(x.k) || isnull_k(y.k))
    return -1;
  if (x.k == RK_INT && y.k == RK_INT)
    return ord(op, (x.i > y.i) - (x.i < y.i));
  if (isnum_k(x.k) && isnum_k(y.k)) {
    double a = numv(x), b = numv(y);
    return ord(op, (a > b) - (a < b));
  }
  if (x.k == RK_STR && y.k == RK_STR)
    return ord(op, strcmp(x.s, y.s));
  if (x.k == RK_BOOL && y.k == RK_BOOL && (op == EQ || op == NE))
    return ord(op, x.b - y.b);
  return 0;
}

#define LT_(x, y) CMP(x, LT, y)
#define LE_(x, y) CMP(x, LE, y)
#define GT_(x, y) CMP(x, GT, y)
#define GE_(x, y) CMP(x, GE, y)
#define EQ_(x, y) CMP(x, EQ, y)
#define NE_(x, y) CMP(x, NE, y)

static rv ARITH(rv x, char op, rv y) {
  if (isnull_k(x.k) || isnull_k(y.k))
    return NUL;
  if (!isnum_k(x.k) || !isnum_k(y.k))
    return (rv){.k = RK_OBJ}; /* not a number: compares false */
  if (x.k == RK_INT && y.k == RK_INT && op != '^') {
    switch (op) {
    case '+': return I((int64_t)((uint64_t)x.i + (uint64_t)y.i));
    case '-': return I((int64_t)((uint64_t)x.i - (uint64_t)y.i));
    case '*': return I((int64_t)((uint64_t)x.i * (uint64_t)y.i));
    case '/': return y.i == 0 ? NUL : I(x.i / y.i);
    default: return y.i == 0 ? NUL : I(x.i % y.i);
    }
  }
  double a = numv(x), b = numv(y);
  switch (op) {
  case '+': return D(a + b);
  case '-': return D(a - b);
  case '*': return D(a * b);
  case '^': {
    double r = 1;
    for (int k = 0; k < (int)b; k++)
      r *= a;
    return D(r);
  }
  case '/': return b == 0 ? NUL : D(a / b);
  default: return b == 0 ? NUL : D(fmod(a, b));
  }
}

static tv IN_(rv x, const rv *list, size_t n) {
  if (isnull_k(x.k))
    return -1;
  for (size_t k = 0; k < n; k++)
    if (CMP(x, EQ, list[k]) == 1)
      return 1;
  return 0;
}
#define LIST(...) (rv[]){__VA_ARGS__}, sizeof((rv[]){__VA_ARGS__}) / sizeof(rv)
#define IN(x, ...) IN_(x, LIST(__VA_ARGS__))
#define NIN(x, ...) NOT(IN_(x, LIST(__VA_ARGS__)))

static size_t u8len(unsigned char c) {
  return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* LIKE, the obvious recursive way: % any run, _ one UTF-8 char, \ escapes. */
static int like_ref(const char *s, const char *p) {
  if (*p == '\0')
    return *s == '\0';
  if (*p == '%')
    return like_ref(s, p + 1) || (*s && like_ref(s + 1, p));
  if (*p == '\\' && p[1])
    return *s == p[1] && like_ref(s + 1, p + 2);
  if (*p == '_')
    return *s && like_ref(s + u8len((unsigned char)*s), p + 1);
  return *s == *p && like_ref(s + 1, p + 1);
}

static tv LIKE(rv x, const char *pat) {
  if (isnull_k(x.k))
    return -1;
  return x.k == RK_STR && like_ref(x.s, pat);
}

static tv ISNULL(rv x) { return isnull_k(x.k); }
static tv EXISTS(rv x) { return x.k != RK_MISSING; }
static tv TRUTH(rv x) { return isnull_k(x.k) ? -1 : x.k == RK_BOOL && x.b; }

/* An array as the reference sees it: Array fields and JSON arrays. */
typedef struct rarr {
  rkind k;     /* RK_ARR, RK_MISSING/RK_NULL (null), other = not an array */
  size_t n;
  rv items[6];
} rarr;

static tv CONTAINS(rarr a, rv v) {
  if (isnull_k(a.k))
    return -1;
  if (a.k != RK_ARR)
    return 0;
  for (size_t k = 0; k < a.n; k++)
    if (CMP(a.items[k], EQ, v) == 1)
      return 1;
  return 0;
}

static tv CONTAINS_ALL_(rarr a, const rv *l, size_t n) {
  if (isnull_k(a.k))
    return -1;
  if (a.k != RK_ARR)
    return 0;
  for (size_t k = 0; k < n; k++)
    if (CONTAINS(a, l[k]) != 1)
      return 0;
  return 1;
}

static tv CONTAINS_ANY_(rarr a, const rv *l, size_t n) {
  if (isnull_k(a.k))
    return -1;
  for (size_t k = 0; k < n; k++)
    if (CONTAINS(a, l[k]) == 1)
      return 1;
  return 0;
}
#define CONTAINS_ALL(a, ...) CONTAINS_ALL_(a, LIST(__VA_ARGS__))
#define CONTAINS_ANY(a, ...) CONTAINS_ANY_(a, LIST(__VA_ARGS__))

static rv LEN(rarr a) {
  if (isnull_k(a.k))
    return NUL;
  return a.k == RK_ARR ? I((int64_t)a.n) : (rv){.k = RK_OBJ};
}

static rv ELEM(rarr a, size_t k) {
  return a.k == RK_ARR && k < a.n ? a.items[k] : NUL;
}

/* ---- the rows ----------------------------------------------------------- */

typedef struct row {
  int64_t id;
  int8_t i8;
  int16_t i16; int i16_null;
  int32_t i32;
  int64_t i64; int i64_null;
  float f; int f_null;
  double d;
  int b; int b_null;
  const char *name; /* NULL = null */
  char tag[8];
  double price;
  int info_null;
  rv ja, js, jcd, jflag, je; /* info["a"], ["s"], ["c"]["d"], ["flag"], ["e"] */
  rarr jarr;                 /* info["arr"] */
  int jc_present;            /* info["c"] is an object */
  rarr ai;                   /* Array<Int64>, nullable */
  rarr as;                   /* Array<VarChar> */
  rarr ad;                   /* Array<Double> */
  rv color, n;               /* $meta["color"], $meta["n"] */
} row;

static row rows[N_ROWS];

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)((rng_state >> 11) % n);
}

static const char *const names[] = {
    "alice", "bob", "carol", "dave", "eve", "mallory", "trent", "peggy",
    "victor", "walter", "\xc3\xa9mile", "\xe6\x97\xa5\xe6\x9c\xac", "a_b",
    "50%off", "", "Alice", "al", "albert",
};
static const char *const words[] = {"x", "y", "red", "blue", "green",
                                    "q\"uote", "tab\tbed", "caf\xc3\xa9"};

/* A JSON-ish value: mostly `usual`, sometimes null, missing or off-type. */
static rv gen_json(rv usual) {
  switch (rnd(12)) {
  case 0: return NUL;
  case 1: return (rv){.k = RK_NULL};
  case 2: return S(words[rnd(5)]);
  case 3: return usual.k == RK_INT ? D((double)rnd(20) + 0.5) : I(rnd(20));
  case 4: return B((int)rnd(2));
  default: return usual;
  }
}

static rarr gen_int_arr(int allow_null) {
  rarr a = {.k = RK_ARR, .n = rnd(5)};
  if (allow_null && rnd(8) == 0)
    a.k = RK_MISSING;
  for (size_t k = 0; k < a.n; k++)
    a.items[k] = I(rnd(10));
  return a;
}

static void gen_row(row *r, int64_t i) {
  r->id = i;
  r->i8 = (int8_t)(rnd(256) - 128);
  r->i16 = (int16_t)(rnd(2000) - 1000);
  r->i16_null = rnd(7) == 0;
  r->i32 = (int32_t)rnd(100) - 50;
  r->i64 = (int64_t)rnd(1000000) * 1000003 - 500000000000LL;
  r->i64_null = rnd(5) == 0;
  r->f = (float)((int)rnd(200) - 100) / 8.0f;
  r->f_null = rnd(6) == 0;
  r->d = (double)rnd(10000) / 100.0;
  r->b = (int)rnd(2);
  r->b_null = rnd(9) == 0;
  r->name = rnd(10) == 0 ? NULL : names[rnd(sizeof names / sizeof names[0])];
  snprintf(r->tag, sizeof r->tag, "tag%u", rnd(10));
  r->price = (double)rnd(100);
  r->info_null = rnd(10) == 0;
  r->ja = gen_json(I((int64_t)rnd(20) - 5));
  r->js = gen_json(S(words[rnd(5)]));
  r->jc_present = rnd(4) != 0;
  r->jcd = r->jc_present ? gen_json(D((double)rnd(100) / 4.0)) : NUL;
  r->jflag = gen_json(B((int)rnd(2)));
  r->je = rnd(3) ? S(words[5 + rnd(3)]) : NUL;
  r->jarr = gen_int_arr(0);
  if (rnd(6) == 0)
    r->jarr.k = rnd(2) ? RK_MISSING : RK_STR;
  r->ai = gen_int_arr(1);
  r->as = (rarr){.k = RK_ARR, .n = rnd(4)};
  for (size_t k = 0; k < r->as.n; k++)
    r->as.items[k] = S(words[rnd(5)]);
  r->ad = (rarr){.k = RK_ARR, .n = rnd(3)};
  for (size_t k = 0; k < r->ad.n; k++)
    r->ad.items[k] = D((double)rnd(8) / 2.0);
  r->color = rnd(5) ? S(words[2 + rnd(3)]) : NUL;
  r->n = rnd(4) ? I(rnd(10)) : rnd(2) ? NUL : S("7");
}

/* Effective JSON values: a null info row hides every key. */
#define INFO(x) (r->info_null ? NUL : (x))
#define INFOA(x) (r->info_null ? (rarr){.k = RK_MISSING} : (x))
#define Fi8 I(r->i8)
#define Fi16 (r->i16_null ? NUL : I(r->i16))
#define Fi32 I(r->i32)
#define Fi64 (r->i64_null ? NUL : I(r->i64))
#define Ff (r->f_null ? NUL : D((double)r->f))
#define Fd D(r->d)
#define Fid I(r->id)
#define Fb (r->b_null ? NUL : B(r->b))
#define Fname (r->name ? S(r->name) : NUL)
#define Ftag S(r->tag)
#define Fprice D(r->price)
#define Ja INFO(r->ja)
#define Js INFO(r->js)
#define Jcd INFO(r->jcd)
#define Jflag INFO(r->jflag)
#define Je INFO(r->je)
#define Jarr INFOA(r->jarr)
#define Mcolor r->color
#define Mn r->n
#define Aai r->ai
#define Aas r->as
#define Aad r->ad

/* ---- columns ------------------------------------------------------------ */

enum { F_ID = 100, F_I8, F_I16, F_I32, F_I64, F_F, F_D, F_B, F_NAME, F_TAG,
       F_INFO, F_AI, F_AS, F_AD, F_VEC, F_PRICE, F_META = 199 };

static cairn_field mkfield(int64_t id, const char *name, cairn_data_type t,
                           bool nullable) {
  return (cairn_field){.id = id, .name = (char *)name, .type = t,
                       .nullable = nullable};
}

static cairn_field schema_fields[17];
static cairn_schema schema = {.name = (char *)"docs", .enable_dynamic = true,
                              .n_fields = 17, .fields = schema_fields};

static void build_schema(void) {
  cairn_field *f = schema_fields;
  f[0] = mkfield(F_ID, "id", CAIRN_TYPE_INT64, false);
  f[0].is_primary = true;
  f[1] = mkfield(F_I8, "i8", CAIRN_TYPE_INT8, false);
  f[2] = mkfield(F_I16, "i16", CAIRN_TYPE_INT16, true);
  f[3] = mkfield(F_I32, "i32", CAIRN_TYPE_INT32, false);
  f[4] = mkfield(F_I64, "i64", CAIRN_TYPE_INT64, true);
  f[5] = mkfield(F_F, "f", CAIRN_TYPE_FLOAT, true);
  f[6] = mkfield(F_D, "d", CAIRN_TYPE_DOUBLE, false);
  f[7] = mkfield(F_B, "b", CAIRN_TYPE_BOOL, true);
  f[8] = mkfield(F_NAME, "name", CAIRN_TYPE_VARCHAR, true);
  f[9] = mkfield(F_TAG, "tag", CAIRN_TYPE_VARCHAR, false);
  f[10] = mkfield(F_INFO, "info", CAIRN_TYPE_JSON, true);
  f[11] = mkfield(F_AI, "ai", CAIRN_TYPE_ARRAY, true);
  f[11].element_type = CAIRN_TYPE_INT64;
  f[12] = mkfield(F_AS, "as_", CAIRN_TYPE_ARRAY, false);
  f[12].element_type = CAIRN_TYPE_VARCHAR;
  f[13] = mkfield(F_AD, "ad", CAIRN_TYPE_ARRAY, false);
  f[13].element_type = CAIRN_TYPE_DOUBLE;
  f[14] = mkfield(F_VEC, "vec", CAIRN_TYPE_FLOAT_VECTOR, false);
  f[14].dim = 4;
  f[15] = mkfield(F_PRICE, "price", CAIRN_TYPE_DOUBLE, false);
  f[16] = mkfield(F_META, "$meta", CAIRN_TYPE_JSON, false);
  f[16].is_dynamic = true;
}

/* Growable byte buffer for text columns. */
typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void json_string(sbuf *b, const char *s) {
  sb_str(b, "\"");
  for (; *s; s++) {
    if (*s == '"') sb_str(b, "\\\"");
    else if (*s == '\t') sb_str(b, "\\t");
    else if ((unsigned char)*s == 0xc3 && (unsigned char)s[1] == 0xa9) {
      sb_str(b, "\\u00e9"); /* é written as an escape */
      s++;
    } else sb_put(b, s, 1);
  }
  sb_str(b, "\"");
}

static void json_value(sbuf *b, rv v) {
  char num[64];
  switch (v.k) {
  case RK_NULL: sb_str(b, "null"); break;
  case RK_BOOL: sb_str(b, v.b ? "true" : "false"); break;
  case RK_INT: snprintf(num, sizeof num, "%lld", (long long)v.i); sb_str(b, num); break;
  case RK_DBL: snprintf(num, sizeof num, "%.17g", v.f);
    if (!strpbrk(num, ".e")) strcat(num, ".0");
    sb_str(b, num); break;
  case RK_STR: json_string(b, v.s); break;
  default: break;
  }
}

static void json_member(sbuf *b, int *first, const char *key, rv v) {
  if (v.k == RK_MISSING)
    return;
  sb_str(b, *first ? "{" : ", ");
  *first = 0;
  json_string(b, key);
  sb_str(b, ": ");
  json_value(b, v);
}

static void json_info(sbuf *b, const row *r) {
  int first = 1;
  json_member(b, &first, "a", r->ja);
  json_member(b, &first, "s", r->js);
  if (r->jc_present) {
    sb_str(b, first ? "{" : ", ");
    first = 0;
    sb_str(b, "\"c\": {\"x\": [1, {\"d\": 0}]");
    if (r->jcd.k != RK_MISSING) {
      sb_str(b, ", \"d\": ");
      json_value(b, r->jcd);
    }
    sb_str(b, "}");
  }
  json_member(b, &first, "flag", r->jflag);
  json_member(b, &first, "e", r->je);
  if (r->jarr.k != RK_MISSING) {
    sb_str(b, first ? "{" : ", ");
    first = 0;
    sb_str(b, "\"arr\": ");
    if (r->jarr.k == RK_STR)
      sb_str(b, "\"[1, 2]\"");
    else {
      sb_str(b, "[");
      for (size_t k = 0; k < r->jarr.n; k++) {
        if (k) sb_str(b, ",");
        json_value(b, r->jarr.items[k]);
      }
      sb_str(b, "]");
    }
  }
  sb_str(b, first ? "{}" : "}");
}

typedef struct columns {
  int64_t id[N_ROWS], i64[N_ROWS], ai_vals[N_ROWS * 6];
  int8_t i8[N_ROWS];
  int16_t i16[N_ROWS];
  int32_t i32[N_ROWS];
  float f[N_ROWS];
  double d[N_ROWS], price[N_ROWS], ad_vals[N_ROWS * 6];
  uint8_t b[N_ROWS];
  uint8_t v_i16[N_ROWS / 8 + 1], v_i64[N_ROWS / 8 + 1], v_f[N_ROWS / 8 + 1],
      v_b[N_ROWS / 8 + 1], v_name[N_ROWS / 8 + 1], v_info[N_ROWS / 8 + 1],
      v_ai[N_ROWS / 8 + 1];
  uint64_t name_off[N_ROWS + 1], tag_off[N_ROWS + 1], info_off[N_ROWS + 1],
      meta_off[N_ROWS + 1], ai_off[N_ROWS + 1], as_off[N_ROWS + 1],
      ad_off[N_ROWS + 1], as_elem_off[N_ROWS * 6 + 1];
  sbuf name, tag, info, meta, as;
  cairn_expr_column cols[17];
} columns;

static columns *C;
static cairn_expr_batch full_batch;

static void set_valid(uint8_t *bm, size_t i, int valid) {
  if (valid)
    bm[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void text_cell(sbuf *b, uint64_t *off, size_t i, const char *s) {
  off[i] = b->n;
  sb_str(b, s ? s : "");
  off[i + 1] = b->n;
}

static void build_row_columns(size_t i, size_t *ai_n, size_t *as_n,
                              size_t *ad_n) {
  const row *r = &rows[i];
  C->id[i] = r->id; C->i8[i] = r->i8; C->i16[i] = r->i16; C->i32[i] = r->i32;
  C->i64[i] = r->i64; C->f[i] = r->f; C->d[i] = r->d; C->b[i] = (uint8_t)r->b;
  C->price[i] = r->price;
  set_valid(C->v_i16, i, !r->i16_null);
  set_valid(C->v_i64, i, !r->i64_null);
  set_valid(C->v_f, i, !r->f_null);
  set_valid(C->v_b, i, !r->b_null);
  set_valid(C->v_name, i, r->name != NULL);
  set_valid(C->v_info, i, !r->info_null);
  set_valid(C->v_ai, i, r->ai.k == RK_ARR);
  text_cell(&C->name, C->name_off, i, r->name);
  text_cell(&C->tag, C->tag_off, i, r->tag);
  C->info_off[i] = C->info.n;
  if (!r->info_null)
    json_info(&C->info, r);
  C->info_off[i + 1] = C->info.n;
  C->meta_off[i] = C->meta.n;
  int first = 1;
  json_member(&C->meta, &first, "color", r->color);
  json_member(&C->meta, &first, "n", r->n);
  sb_str(&C->meta, first ? "{}" : "}");
  C->meta_off[i + 1] = C->meta.n;
  C->ai_off[i] = *ai_n;
  for (size_t k = 0; r->ai.k == RK_ARR && k < r->ai.n; k++)
    C->ai_vals[(*ai_n)++] = r->ai.items[k].i;
  C->ai_off[i + 1] = *ai_n;
  C->as_off[i] = *as_n;
  for (size_t k = 0; k < r->as.n; k++) {
    C->as_elem_off[*as_n] = C->as.n;
    sb_str(&C->as, r->as.items[k].s);
    C->as_elem_off[++*as_n] = C->as.n;
  }
  C->as_off[i + 1] = *as_n;
  C->ad_off[i] = *ad_n;
  for (size_t k = 0; k < r->ad.n; k++)
    C->ad_vals[(*ad_n)++] = r->ad.items[k].f;
  C->ad_off[i + 1] = *ad_n;
}

static void build_columns(void) {
  C = calloc(1, sizeof *C);
  assert_non_null(C);
  size_t ai_n = 0, as_n = 0, ad_n = 0;
  C->as_elem_off[0] = 0;
  sb_str(&C->as, "");
  for (size_t i = 0; i < N_ROWS; i++)
    build_row_columns(i, &ai_n, &as_n, &ad_n);
  cairn_expr_column *c = C->cols;
  c[0] = (cairn_expr_column){.field_id = F_ID, .values = C->id};
  c[1] = (cairn_expr_column){.field_id = F_I8, .values = C->i8};
  c[2] = (cairn_expr_column){.field_id = F_I16, .values = C->i16, .validity = C->v_i16};
  c[3] = (cairn_expr_column){.field_id = F_I32, .values = C->i32};
  c[4] = (cairn_expr_column){.field_id = F_I64, .values = C->i64, .validity = C->v_i64};
  c[5] = (cairn_expr_column){.field_id = F_F, .values = C->f, .validity = C->v_f};
  c[6] = (cairn_expr_column){.field_id = F_D, .values = C->d};
  c[7] = (cairn_expr_column){.field_id = F_B, .values = C->b, .validity = C->v_b};
  c[8] = (cairn_expr_column){.field_id = F_NAME, .validity = C->v_name,
                             .offsets = C->name_off, .data = C->name.p};
  c[9] = (cairn_expr_column){.field_id = F_TAG, .offsets = C->tag_off, .data = C->tag.p};
  c[10] = (cairn_expr_column){.field_id = F_INFO, .validity = C->v_info,
                              .offsets = C->info_off, .data = C->info.p};
  c[11] = (cairn_expr_column){.field_id = F_AI, .validity = C->v_ai,
                              .offsets = C->ai_off, .values = C->ai_vals};
  c[12] = (cairn_expr_column){.field_id = F_AS, .offsets = C->as_off,
                              .elem_offsets = C->as_elem_off, .data = C->as.p};
  c[13] = (cairn_expr_column){.field_id = F_AD, .offsets = C->ad_off, .values = C->ad_vals};
  c[14] = (cairn_expr_column){.field_id = F_PRICE, .values = C->price};
  c[15] = (cairn_expr_column){.field_id = F_META, .offsets = C->meta_off,
                              .data = C->meta.p};
  full_batch = (cairn_expr_batch){.schema = &schema, .n_rows = N_ROWS,
                                  .n_columns = 16, .columns = C->cols};
}

static int setup(void **state) {
  (void)state;
  build_schema();
  for (size_t i = 0; i < N_ROWS; i++)
    gen_row(&rows[i], (int64_t)i);
  build_columns();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(C->name.p);
  free(C->tag.p);
  free(C->info.p);
  free(C->meta.p);
  free(C->as.p);
  free(C);
  return 0;
}

/* ---- the table ---------------------------------------------------------- */

/* X(expression, reference over `r`) */
#define CASES(X)                                                              \
  /* constants and bools */                                                   \
  X("true", 1) X("false", 0) X("True", 1) X("FALSE", 0) X("1 < 2", 1)         \
  X("1 + 1 == 2", 1) X("\"a\" < \"b\"", 1) X("3 == 3.0", 1)                    \
  X("2 ** 10 == 1024", 1) X("7 % 3 == 1 and 7 / 2 == 3", 1)                   \
  X("b", TRUTH(Fb)) X("not b", NOT(TRUTH(Fb))) X("!b", NOT(TRUTH(Fb)))         \
  X("b == true", EQ_(Fb, B(1))) X("b != false", NE_(Fb, B(0)))                \
  X("b == True", EQ_(Fb, B(1))) X("b == TRUE or b == FALSE", OR(EQ_(Fb, B(1)), EQ_(Fb, B(0)))) \
  /* logic */                                                                 \
  X("i8 > 0 and i16 < 0", AND(GT_(Fi8, I(0)), LT_(Fi16, I(0))))               \
  X("i8 > 0 AND i16 < 0", AND(GT_(Fi8, I(0)), LT_(Fi16, I(0))))               \
  X("i8 > 0 && i16 < 0", AND(GT_(Fi8, I(0)), LT_(Fi16, I(0))))                \
  X("i8 > 0 or i16 < 0", OR(GT_(Fi8, I(0)), LT_(Fi16, I(0))))                 \
  X("i8 > 0 OR i16 < 0", OR(GT_(Fi8, I(0)), LT_(Fi16, I(0))))                 \
  X("i8 > 0 || f > 1", OR(GT_(Fi8, I(0)), GT_(Ff, I(1))))                     \
  X("not (i16 > 0)", NOT(GT_(Fi16, I(0))))                                    \
  X("NOT i16 > 0", NOT(GT_(Fi16, I(0))))                                      \
  X("!(i16 > 0)", NOT(GT_(Fi16, I(0))))                                       \
  X("not not (i16 > 0)", GT_(Fi16, I(0)))                                     \
  X("(i8 > 0 or i16 > 0) and not (f < 0)", AND(OR(GT_(Fi8, I(0)), GT_(Fi16, I(0))), NOT(LT_(Ff, I(0))))) \
  X("i16 > 0 and true", GT_(Fi16, I(0))) X("i16 > 0 or false", GT_(Fi16, I(0))) \
  X("i16 > 0 and false", 0) X("i16 > 0 or true", 1)                           \
  X("i8 > 0 and i16 > 0 or f > 0", OR(AND(GT_(Fi8, I(0)), GT_(Fi16, I(0))), GT_(Ff, I(0)))) \
  X("i8 > 0 or i16 > 0 and f > 0", OR(GT_(Fi8, I(0)), AND(GT_(Fi16, I(0)), GT_(Ff, I(0))))) \
  X("i16 > 0 or not (i16 > 0)", OR(GT_(Fi16, I(0)), NOT(GT_(Fi16, I(0)))))    \
  X("(((i8 > 3)))", GT_(Fi8, I(3)))                                           \
  X("i8>3&&i16<0", AND(GT_(Fi8, I(3)), LT_(Fi16, I(0))))                      \
  X("  i8  >  3  ", GT_(Fi8, I(3)))                                           \
  X("i8 > 3 and\n i16 < 0", AND(GT_(Fi8, I(3)), LT_(Fi16, I(0))))             \
  /* number syntax and folding */                                             \
  X("i8 > 0x10", GT_(Fi8, I(16))) X("i8 > 0b101", GT_(Fi8, I(5)))             \
  X("i8 > 017", GT_(Fi8, I(15))) X("f > 1e1", GT_(Ff, D(10)))                 \
  X("f < .5", LT_(Ff, D(0.5))) X("i8 == -128", EQ_(Fi8, I(-128)))             \
  X("i8 > -3 - 4", GT_(Fi8, I(-7))) X("i8 > 2 * 3 + 1", GT_(Fi8, I(7)))       \
  X("i8 < -(2 ** 3)", LT_(Fi8, D(-8)))                                        \
  /* ranges */                                                                \
  X("10 < i8 <= 20", AND(GT_(Fi8, I(10)), LE_(Fi8, I(20))))                   \
  X("-5 <= i16 < 5", AND(GE_(Fi16, I(-5)), LT_(Fi16, I(5))))                  \
  X("1.5 < f < 3", AND(GT_(Ff, D(1.5)), LT_(Ff, I(3))))                       \
  X("20 > i32 >= -3", AND(LT_(Fi32, I(20)), GE_(Fi32, I(-3))))                \
  X("0 < info[\"a\"] < 10", AND(GT_(Ja, I(0)), LT_(Ja, I(10))))               \
  X("\"b\" <= name < \"d\"", AND(GE_(Fname, S("b")), LT_(Fname, S("d"))))     \
  X("0 <= i64 <= 100000000000", AND(GE_(Fi64, I(0)), LE_(Fi64, I(100000000000LL)))) \
  X("i8 < i16 < i32", AND(LT_(Fi8, Fi16), LT_(Fi16, Fi32)))                   \
  /* arithmetic */                                                            \
  X("i8 + 1 > 10", GT_(ARITH(Fi8, '+', I(1)), I(10)))                         \
  X("i8 - 3 == 0", EQ_(ARITH(Fi8, '-', I(3)), I(0)))                          \
  X("i8 * 2 <= -100", LE_(ARITH(Fi8, '*', I(2)), I(-100)))                    \
  X("i32 / 3 == 4", EQ_(ARITH(Fi32, '/', I(3)), I(4)))                        \
  X("i32 % 7 == 1", EQ_(ARITH(Fi32, '%', I(7)), I(1)))                        \
  X("i32 % 7 == -1", EQ_(ARITH(Fi32, '%', I(7)), I(-1)))                      \
  X("f * 2 > 3", GT_(ARITH(Ff, '*', I(2)), I(3)))                             \
  X("d / 4 < 1.5", LT_(ARITH(Fd, '/', I(4)), D(1.5)))                         \
  X("d % 3 > 1", GT_(ARITH(Fd, '%', I(3)), I(1)))                             \
  X("i16 + i8 > 0", GT_(ARITH(Fi16, '+', Fi8), I(0)))                         \
  X("i16 * i32 > 100", GT_(ARITH(Fi16, '*', Fi32), I(100)))                   \
  X("i32 ** 2 > 400", GT_(ARITH(Fi32, '^', I(2)), I(400)))                    \
  X("-i8 > 5", GT_(ARITH(I(0), '-', Fi8), I(5)))                              \
  X("i8 + 0.5 > 10", GT_(ARITH(Fi8, '+', D(0.5)), I(10)))                     \
  X("10 - i32 < 5", LT_(ARITH(I(10), '-', Fi32), I(5)))                       \
  X("(i8 + 2) * 3 > 30", GT_(ARITH(ARITH(Fi8, '+', I(2)), '*', I(3)), I(30))) \
  X("i8 + 2 * 3 > 30", GT_(ARITH(Fi8, '+', I(6)), I(30)))                     \
  X("info[\"a\"] + 1 > 5", GT_(ARITH(Ja, '+', I(1)), I(5)))                   \
  X("info[\"a\"] * 2 == 8", EQ_(ARITH(Ja, '*', I(2)), I(8)))                  \
  X("n + 1 == 5", EQ_(ARITH(Mn, '+', I(1)), I(5)))                            \
  X("i32 / 0 == 1", EQ_(ARITH(Fi32, '/', I(0)), I(1)))                        \
  X("not (i32 % 0 == 0)", NOT(EQ_(ARITH(Fi32, '%', I(0)), I(0))))             \
  X("i64 * 100000000 > 0", GT_(ARITH(Fi64, '*', I(100000000)), I(0)))         \
  X("i64 - 1 > 0", GT_(ARITH(Fi64, '-', I(1)), I(0)))                         \
  X("i8 == i16", EQ_(Fi8, Fi16)) X("f >= d", GE_(Ff, Fd))                     \
  X("name < tag", LT_(Fname, Ftag)) X("info[\"a\"] < i32", LT_(Ja, Fi32))     \
  /* in / not in */                                                           \
  X("i8 in [1, 2, 3]", IN(Fi8, I(1), I(2), I(3)))                             \
  X("i8 IN [1,2,3,]", IN(Fi8, I(1), I(2), I(3)))                              \
  X("i8 not in [1, 2, 3]", NIN(Fi8, I(1), I(2), I(3)))                        \
  X("i8 NOT IN [1, 2, 3]", NIN(Fi8, I(1), I(2), I(3)))                        \
  X("i16 in [-1000, 0, 5, 999]", IN(Fi16, I(-1000), I(0), I(5), I(999)))       \
  X("i16 not in [0]", NIN(Fi16, I(0)))                                        \
  X("i64 in []", IN_(Fi64, NULL, 0)) X("i64 not in []", NOT(IN_(Fi64, NULL, 0))) \
  X("i32 in [1.0, 2.5, 3]", IN(Fi32, D(1.0), D(2.5), I(3)))                   \
  X("f in [0.5, -1.25, 3]", IN(Ff, D(0.5), D(-1.25), I(3)))                   \
  X("d in [0.5, 1, 99.99]", IN(Fd, D(0.5), I(1), D(99.99)))                   \
  X("name in [\"alice\", \"bob\", \"\"]", IN(Fname, S("alice"), S("bob"), S(""))) \
  X("name not in [\"alice\"]", NIN(Fname, S("alice")))                        \
  X("tag in [\"tag1\", \"tag2\"]", IN(Ftag, S("tag1"), S("tag2")))            \
  X("info[\"a\"] in [1, 2, 3]", IN(Ja, I(1), I(2), I(3)))                     \
  X("info[\"s\"] in [\"red\", \"x\"]", IN(Js, S("red"), S("x")))              \
  X("info[\"a\"] in [\"red\", 3, true]", IN(Ja, S("red"), I(3), B(1)))        \
  X("info[\"a\"] not in [3, 4.5]", NIN(Ja, I(3), D(4.5)))                      \
  X("color in [\"red\", \"blue\"]", IN(Mcolor, S("red"), S("blue")))          \
  X("color not in [\"red\"]", NIN(Mcolor, S("red")))                          \
  X("b in [true]", IN(Fb, B(1)))                                              \
  X("id in [1,2,3,4,5,6,7,8,9,10,1000,1499]", IN(Fid, I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(1000), I(1499))) \
  X("i32 in [0,1,2,3,4,5,6,7,8,9,10,11]", IN(Fi32, I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11))) \
  X("i8 + 1 in [1, 2]", IN(ARITH(Fi8, '+', I(1)), I(1), I(2)))                \
  X("1 in [1, 2]", 1) X("5 not in [1, 2]", 1)                                 \
  /* like */                                                                  \
  X("name like \"al%\"", LIKE(Fname, "al%"))                                  \
  X("name LIKE \"%e\"", LIKE(Fname, "%e"))                                    \
  X("name like \"%ar%\"", LIKE(Fname, "%ar%"))                                \
  X("name like \"a_b\"", LIKE(Fname, "a_b"))                                  \
  X("name like \"a\\\\_b\"", LIKE(Fname, "a\\_b"))                             \
  X("name like \"a\\_b\"", LIKE(Fname, "a\\_b"))                               \
  X("name like r\"a\\_b\"", LIKE(Fname, "a\\_b"))                              \
  X("name like \"_____\"", LIKE(Fname, "_____"))                              \
  X("name like \"__\"", LIKE(Fname, "__"))                                    \
  X("name like \"50\\%%\"", LIKE(Fname, "50\\%%"))                             \
  X("name like \"%\"", LIKE(Fname, "%")) X("name like \"\"", LIKE(Fname, "")) \
  X("name like \"a%e\"", LIKE(Fname, "a%e"))                                  \
  X("name like \"%l_c%\"", LIKE(Fname, "%l_c%"))                              \
  X("name like \"%a%e%\"", LIKE(Fname, "%a%e%"))                              \
  X("name like \"alice\"", LIKE(Fname, "alice"))                              \
  X("tag like \"tag_\"", LIKE(Ftag, "tag_"))                                  \
  X("info[\"s\"] like \"r%\"", LIKE(Js, "r%"))                                \
  X("color like \"%e%\"", LIKE(Mcolor, "%e%"))                                \
  X("not (name like \"a%\")", NOT(LIKE(Fname, "a%")))                         \
  X("info[\"e\"] like \"q\\\"%\"", LIKE(Je, "q\"%"))                           \
  X("name like \"\\u00e9%\"", LIKE(Fname, "\xc3\xa9%"))                        \
  /* is null */                                                               \
  X("i16 is null", ISNULL(Fi16)) X("i16 IS NULL", ISNULL(Fi16))               \
  X("i16 is not null", NOT(ISNULL(Fi16))) X("i16 IS NOT NULL", NOT(ISNULL(Fi16))) \
  X("name is null", ISNULL(Fname)) X("f is not null", NOT(ISNULL(Ff)))        \
  X("b is null", ISNULL(Fb)) X("info is null", r->info_null)                  \
  X("info[\"a\"] is null", ISNULL(Ja)) X("info[\"a\"] is not null", NOT(ISNULL(Ja))) \
  X("color is null", ISNULL(Mcolor)) X("ai is null", isnull_k(Aai.k))         \
  X("i8 is null", 0) X("i16 is null or i16 > 0", OR(ISNULL(Fi16), GT_(Fi16, I(0)))) \
  X("not (i16 is null)", NOT(ISNULL(Fi16)))                                   \
  /* exists */                                                                \
  X("exists info[\"a\"]", EXISTS(Ja)) X("EXISTS info[\"c\"][\"d\"]", EXISTS(Jcd)) \
  X("exists color", EXISTS(Mcolor)) X("exists $meta[\"n\"]", EXISTS(Mn))      \
  X("not exists info[\"arr\"]", NOT(EXISTS(INFO(r->jarr.k == RK_MISSING ? NUL : I(0))))) \
  X("exists info[\"zzz\"]", 0)                                                \
  X("exists info[\"a\"] and info[\"a\"] > 3", AND(EXISTS(Ja), GT_(Ja, I(3)))) \
  /* JSON paths */                                                            \
  X("info[\"c\"][\"d\"] > 10", GT_(Jcd, I(10)))                               \
  X("info[\"arr\"][0] == 3", EQ_(ELEM(Jarr, 0), I(3)))                        \
  X("info[\"arr\"][1] > 4", GT_(ELEM(Jarr, 1), I(4)))                         \
  X("$meta[\"color\"] == \"red\"", EQ_(Mcolor, S("red")))                     \
  X("info[\"flag\"]", TRUTH(Jflag)) X("info[\"flag\"] == true", EQ_(Jflag, B(1))) \
  X("not info[\"flag\"]", NOT(TRUTH(Jflag)))                                  \
  X("info[\"e\"] == \"q\\\"uote\"", EQ_(Je, S("q\"uote")))                    \
  X("info[\"e\"] == \"caf\xc3\xa9\"", EQ_(Je, S("caf\xc3\xa9")))              \
  X("info[\"e\"] == \"tab\\tbed\"", EQ_(Je, S("tab\tbed")))                   \
  X("info['s'] == 'red'", EQ_(Js, S("red")))                                  \
  X("info[\"c\"][\"x\"][1][\"d\"] == 0", EQ_(INFO(r->jc_present ? I(0) : NUL), I(0))) \
  X("info[\"c\"][\"x\"][0] == 1", EQ_(INFO(r->jc_present ? I(1) : NUL), I(1))) \
  X("info[\"a\"] == info[\"c\"][\"d\"]", EQ_(Ja, Jcd))                         \
  X("info[\"a\"] > 2.5", GT_(Ja, D(2.5))) X("info[\"s\"] > \"m\"", GT_(Js, S("m"))) \
  X("info[\"a\"] == true", EQ_(Ja, B(1)))                                     \
  /* arrays */                                                                \
  X("array_contains(ai, 3)", CONTAINS(Aai, I(3)))                             \
  X("ARRAY_CONTAINS(ai, 3)", CONTAINS(Aai, I(3)))                             \
  X("array_contains(as_, \"red\")", CONTAINS(Aas, S("red")))                  \
  X("array_contains(ad, 1.5)", CONTAINS(Aad, D(1.5)))                         \
  X("array_contains(ad, 1)", CONTAINS(Aad, I(1)))                             \
  X("array_contains_all(ai, [1, 2])", CONTAINS_ALL(Aai, I(1), I(2)))          \
  X("array_contains_all(ai, [])", CONTAINS_ALL_(Aai, NULL, 0))                \
  X("array_contains_any(ai, [1, 2, 9])", CONTAINS_ANY(Aai, I(1), I(2), I(9))) \
  X("ARRAY_CONTAINS_ANY(as_, [\"x\", \"blue\"])", CONTAINS_ANY(Aas, S("x"), S("blue"))) \
  X("array_contains_any(ai, [])", CONTAINS_ANY_(Aai, NULL, 0))                \
  X("array_length(ai) == 0", EQ_(LEN(Aai), I(0)))                             \
  X("array_length(ai) > 2", GT_(LEN(Aai), I(2)))                              \
  X("ARRAY_LENGTH(as_) >= 2", GE_(LEN(Aas), I(2)))                            \
  X("ai[0] == 5", EQ_(ELEM(Aai, 0), I(5))) X("ai[2] > 3", GT_(ELEM(Aai, 2), I(3))) \
  X("as_[0] == \"red\"", EQ_(ELEM(Aas, 0), S("red")))                         \
  X("ad[1] < 2", LT_(ELEM(Aad, 1), I(2)))                                     \
  X("ai[0] + ai[1] > 10", GT_(ARITH(ELEM(Aai, 0), '+', ELEM(Aai, 1)), I(10))) \
  X("not array_contains(ai, 3)", NOT(CONTAINS(Aai, I(3))))                    \
  X("json_contains(info[\"arr\"], 3)", CONTAINS(Jarr, I(3)))                  \
  X("JSON_CONTAINS(info[\"arr\"], 3)", CONTAINS(Jarr, I(3)))                  \
  X("json_contains_all(info[\"arr\"], [1, 2])", CONTAINS_ALL(Jarr, I(1), I(2))) \
  X("json_contains_any(info[\"arr\"], [7, 8])", CONTAINS_ANY(Jarr, I(7), I(8))) \
  X("array_length(info[\"arr\"]) == 2", EQ_(LEN(Jarr), I(2)))                 \
  X("array_contains(info[\"arr\"], 3)", CONTAINS(Jarr, I(3)))                 \
  X("json_contains(info[\"s\"], 3)", CONTAINS(INFOA(isnull_k(r->js.k) ? (rarr){.k = RK_MISSING} : (rarr){.k = RK_STR}), I(3))) \
  /* dynamic fields */                                                        \
  X("color == \"red\"", EQ_(Mcolor, S("red"))) X("n > 5", GT_(Mn, I(5)))      \
  X("$meta[\"n\"] >= 5", GE_(Mn, I(5))) X("n == \"7\"", EQ_(Mn, S("7")))      \
  X("n in [1, 2, \"7\"]", IN(Mn, I(1), I(2), S("7")))                         \
  X("zzz == 1", -1) X("not (zzz == 1) or i8 > 0", OR(-1, GT_(Fi8, I(0))))      \
  X("color == \"red\" and price < 50", AND(EQ_(Mcolor, S("red")), LT_(Fprice, I(50))))

static const char *const case_text[] = {
#define X_TEXT(t, body) t,
    CASES(X_TEXT)
#undef X_TEXT
};
#define N_CASES (sizeof case_text / sizeof case_text[0])

static tv ref_case(size_t idx, const row *r) {
  size_t k = 0;
#define X_REF(t, body) if (idx == k++) return (tv)(body);
  CASES(X_REF)
#undef X_REF
  return -2;
}

/* ---- generated families: every operand kind × every comparison ---------- */

static const char *const op_text[] = {"<", "<=", ">", ">=", "==", "!="};

typedef rv (*getter)(const row *r);
static rv g_i8(const row *r) { return Fi8; }
static rv g_i16(const row *r) { return Fi16; }
static rv g_i32(const row *r) { return Fi32; }
static rv g_i64(const row *r) { return Fi64; }
static rv g_f(const row *r) { return Ff; }
static rv g_d(const row *r) { return Fd; }
static rv g_id(const row *r) { return Fid; }
static rv g_name(const row *r) { return Fname; }
static rv g_tag(const row *r) { return Ftag; }
static rv g_ja(const row *r) { return Ja; }
static rv g_js(const row *r) { return Js; }
static rv g_jcd(const row *r) { return Jcd; }
static rv g_color(const row *r) { return Mcolor; }
static rv g_n(const row *r) { return Mn; }

typedef struct operand {
  const char *text;
  getter get;
} operand;

static const operand numeric_ops[] = {
    {"i8", g_i8}, {"i16", g_i16}, {"i32", g_i32}, {"i64", g_i64},
    {"f", g_f}, {"d", g_d}, {"id", g_id},
};
static const operand string_ops[] = {{"name", g_name}, {"tag", g_tag}};
static const operand json_ops[] = {
    {"info[\"a\"]", g_ja}, {"info[\"s\"]", g_js}, {"info[\"c\"][\"d\"]", g_jcd},
    {"color", g_color}, {"n", g_n}, {"$meta[\"n\"]", g_n},
};

typedef struct konst {
  const char *text;
  rv v;
} konst;

typedef struct gen_case {
  char text[96];
  getter get;
  int op;
  rv k;
} gen_case;

static gen_case gen_cases[600];
static size_t n_gen;

static void gen_family(const operand *ops, size_t n_ops, const konst *ks,
                       size_t n_ks, bool reversed_too) {
  static const int mirror[] = {GT, GE, LT, LE, EQ, NE};
  for (size_t o = 0; o < n_ops; o++)
    for (int op = 0; op < 6; op++)
      for (size_t k = 0; k < n_ks; k++)
        for (int rev = 0; rev <= (int)reversed_too; rev++) {
          gen_case *g = &gen_cases[n_gen++];
          assert_true(n_gen <= sizeof gen_cases / sizeof gen_cases[0]);
          if (rev)
            snprintf(g->text, sizeof g->text, "%s %s %s", ks[k].text,
                     op_text[op], ops[o].text);
          else
            snprintf(g->text, sizeof g->text, "%s %s %s", ops[o].text,
                     op_text[op], ks[k].text);
          g->get = ops[o].get;
          g->op = rev ? mirror[op] : op;
          g->k = ks[k].v;
        }
}

static void build_generated(void) {
  static const konst nums[] = {{"3", {.k = RK_INT, .i = 3}},
                               {"2.5", {.k = RK_DBL, .f = 2.5}},
                               {"-1", {.k = RK_INT, .i = -1}}};
  static const konst num0[] = {{"0", {.k = RK_INT, .i = 0}}};
  static const konst strs[] = {{"\"carol\"", {.k = RK_STR, .s = "carol"}},
                               {"\"tag3\"", {.k = RK_STR, .s = "tag3"}}};
  static const konst mixed[] = {{"3", {.k = RK_INT, .i = 3}},
                                {"\"red\"", {.k = RK_STR, .s = "red"}},
                                {"2.5", {.k = RK_DBL, .f = 2.5}}};
  n_gen = 0;
  gen_family(numeric_ops, 7, nums, 3, false);
  gen_family(numeric_ops, 7, num0, 1, true);
  gen_family(string_ops, 2, strs, 2, false);
  gen_family(json_ops, 6, mixed, 3, false);
}

/* ---- running one case --------------------------------------------------- */

static int failures;

static void check_case(const char *text, tv (*ref)(size_t, const row *),
                       size_t idx) {
  cairn_expr *e = NULL;
  cairn_error err;
  if (cairn_expr_parse(&schema, text, NULL, &e, &err) != CAIRN_OK) {
    fprintf(stderr, "FAIL parse [%s]: %s\n", text, err.message);
    failures++;
    return;
  }
  uint64_t bits[(N_ROWS + 63) / 64];
  memset(bits, 0xAB, sizeof bits);
  if (cairn_expr_eval(e, &full_batch, bits, &err) != CAIRN_OK) {
    fprintf(stderr, "FAIL eval [%s]: %s\n", text, err.message);
    failures++;
    cairn_expr_free(e);
    return;
  }
  uint64_t want_count = 0, got_count = 0;
  for (size_t i = 0; i < N_ROWS; i++) {
    tv want = ref(idx, &rows[i]);
    int got = (int)((bits[i / 64] >> (i % 64)) & 1);
    want_count += want == 1;
    if (got != (want == 1)) {
      fprintf(stderr, "FAIL [%s] row %zu: engine %d, reference %d\n", text, i,
              got, want);
      failures++;
      break;
    }
  }
  for (size_t i = N_ROWS; i < sizeof bits * 8; i++)
    if ((bits[i / 64] >> (i % 64)) & 1) {
      fprintf(stderr, "FAIL [%s]: bit %zu past the end is set\n", text, i);
      failures++;
      break;
    }
  assert_int_equal(cairn_expr_count(e, &full_batch, &got_count, &err), CAIRN_OK);
  if (got_count != want_count) {
    fprintf(stderr, "FAIL [%s]: count %llu, reference %llu\n", text,
            (unsigned long long)got_count, (unsigned long long)want_count);
    failures++;
  }
  cairn_expr_free(e);
}

static tv ref_gen(size_t idx, const row *r) {
  const gen_case *g = &gen_cases[idx];
  return CMP(g->get(r), g->op, g->k);
}

static void test_table(void **state) {
  (void)state;
  failures = 0;
  for (size_t i = 0; i < N_CASES; i++)
    check_case(case_text[i], ref_case, i);
  build_generated();
  for (size_t i = 0; i < n_gen; i++)
    check_case(gen_cases[i].text, ref_gen, i);
  fprintf(stderr, "expr table: %zu hand-written + %zu generated expressions\n",
          (size_t)N_CASES, n_gen);
  assert_true(N_CASES + n_gen >= 300);
  assert_int_equal(failures, 0);
}

/* ---- malformed expressions ---------------------------------------------- */

typedef struct bad_case {
  const char *text;
  const char *want; /* substring of the message */
  bool static_schema;
} bad_case;

static const bad_case bad_cases[] = {
    {"i8 > ", "unexpected end of expression at column 6; expected an expression", false},
    {"(i8 > 3", "expected ')'", false},
    {"i8 > 3)", "unexpected ')' at column 7", false},
    {"i8 >> 3", "bitwise operator '>>' is not supported", false},
    {"i8 & 3", "not supported", false},
    {"~i8 > 1", "not supported", false},
    {"name == 3", "cannot compare VarChar field 'name' with 3 at column 1", false},
    {"name > 3", "cannot compare VarChar field 'name' with 3", false},
    {"3 < name", "cannot compare VarChar field 'name' with 3", false},
    {"b < true", "cannot order Bool field 'b'", false},
    {"i8 like \"a%\"", "'like' needs a VarChar or JSON value", false},
    {"name like 3", "needs a string pattern", false},
    {"i8 in 3", "list of constants", false},
    {"i8 in [\"a\"]", "cannot compare Int8 field 'i8' with \"a\"", false},
    {"i8 in [i16]", "list elements must be constants", false},
    {"vec > 1", "vector field 'vec' cannot be used in a filter", false},
    {"ai > 1", "cannot compare Array field 'ai' with 1; use array_contains()", false},
    {"array_contains(i8, 1)", "needs an Array or JSON field", false},
    {"array_contains(ai)", "takes 2 arguments", false},
    {"array_length(-info[\"a\"]) > 1", "needs an Array or JSON field, not a JSON expression", false},
    {"array_contains(info[\"a\"] + 1, 1)", "needs an Array or JSON field", false},
    {"array_contains_all(ai, 3)", "needs a list of constants", false},
    {"array_contains(ai, \"x\")", "cannot compare Array field 'ai' with \"x\"", false},
    {"array_contans(ai, 3)", "unknown function 'array_contans'; did you mean 'array_contains'?", false},
    {"array_length(ai)", "array_length(ai) is not boolean", false},
    {"i8 + name > 3", "arithmetic needs numbers", false},
    {"i8 > 1 / 0", "division by zero", false},
    {"i8 > {lo}", "template parameter '{lo}' has no value", false},
    {"\"abc", "unterminated string at column 1", false},
    {"name == \"a\\x\"", "malformed escape sequence", false},
    {"i8 > 3 i16", "unexpected 'i16' at column 8; expected an operator", false},
    {"", "empty expression at column 1", false},
    {"   ", "empty expression", false},
    {"i8 @ 3", "unexpected character '@' at column 4", false},
    {"i8 = 3", "use '==' to compare", false},
    {"1 < i8 > 3", "chained range must point one way", false},
    {"i8 not 3", "expected 'in' after 'not'", false},
    {"i8", "expected a condition, but Int8 field 'i8' is not boolean", false},
    {"i8 + 1", "not boolean", false},
    {"(i8 > 1) is null", "expected a value, but found a condition at column 2", false},
    {"(i8 + 1) is null", "'is null' applies to a field or a JSON path", false},
    {"exists i8", "'exists' needs a JSON path", false},
    {"i8[0] > 1", "cannot be subscripted", false},
    {"ai[\"k\"] > 1", "takes an integer index", false},
    {"info[i8] > 1", "expected a string key or an integer index", false},
    {"i8 > 99999999999999999999", "number out of range", false},
    {"0x > 1", "malformed number", false},
    {"12abc > 1", "malformed number at column 1", false},
    {"i8 > 1 And i16 > 1", "unexpected 'And' at column 8", false},
    {"[1, 2] == i8", "cannot compare Int8 field 'i8' with [1, 2]", false},
    {"prcie < 3", "field 'prcie' not found; did you mean 'price'?", true},
    {"zzz > 3", "field 'zzz' not found in collection 'docs'", true},
    {"i8 > 3 and", "unexpected end of expression at column 11", false},
    {"i8 in [1, 2", "expected ',' or ']'", false},
    {"{lo", "expected '}'", false},
    {"not", "expected an expression", false},
    {"i8 > 3 or\n  name == 3", "at line 2, column 3", false},
    {"i8 == (1 < 2)", "expected a value, but found a condition", false},
    {"array_contains(ai, 3) > 1", "is a condition, not a value", false},
    {"i8 > 1 ** ", "expected an expression", false},
    {"name like \"a\" like \"b\"", "expected a value, but found a condition at column 1", false},
    {"$meta > 1 and $foo > 2", "unexpected character '$'", false},
};

static void check_bad(const cairn_schema *s, const char *text,
                      const char *want) {
  cairn_expr *e = (cairn_expr *)0x1;
  cairn_error err;
  cairn_status st = cairn_expr_parse(s, text, NULL, &e, &err);
  if (st == CAIRN_OK) {
    fprintf(stderr, "FAIL [%s]: parsed, wanted error '%s'\n", text, want);
    cairn_expr_free(e);
    failures++;
    return;
  }
  if (e != NULL || st != CAIRN_INVALID_ARGUMENT ||
      strstr(err.message, want) == NULL ||
      strstr(err.message, "column ") == NULL) {
    fprintf(stderr, "FAIL [%s]: got '%s', wanted '%s' with a column\n", text,
            err.message, want);
    failures++;
  }
}

static void test_errors(void **state) {
  (void)state;
  cairn_schema fixed = schema;
  fixed.enable_dynamic = false;
  fixed.n_fields = 16; /* without $meta */
  failures = 0;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
    check_bad(bad_cases[i].static_schema ? &fixed : &schema,
              bad_cases[i].text, bad_cases[i].want);
  /* Deep nesting and huge chains are refused, not crashed on. */
  char deep[2000];
  memset(deep, '(', 600);
  strcpy(deep + 600, "i8 > 1");
  check_bad(&schema, deep, "nested too deeply");
  size_t cap = 2100 * 20, o = 0;
  char *chain = malloc(cap);
  assert_non_null(chain);
  for (int i = 0; i < 2100; i++)
    o += (size_t)snprintf(chain + o, cap - o, "%si8 == %d", i ? " or " : "", i);
  check_bad(&schema, chain, "expression too large");
  free(chain);
  assert_int_equal(failures, 0);
}

/* ---- templates ------------------------------------------------------------ */

static void test_templates(void **state) {
  (void)state;
  static const cairn_expr_value names_v[] = {
      {.type = CAIRN_EXPR_STRING, .u.s = {"alice", 5}},
      {.type = CAIRN_EXPR_STRING, .u.s = {"bob", 3}},
  };
  const cairn_expr_template items[] = {
      {"lo", {.type = CAIRN_EXPR_INT, .u.i = 3}},
      {"hi", {.type = CAIRN_EXPR_FLOAT, .u.f = 40.5}},
      {"names", {.type = CAIRN_EXPR_LIST, .u.list = {names_v, 2}}},
      {"flag", {.type = CAIRN_EXPR_BOOL, .u.b = true}},
      {"s", {.type = CAIRN_EXPR_STRING, .u.s = {"q\"uote", 6}}},
  };
  cairn_expr_templates tmpl = {sizeof items / sizeof items[0], items};
  static const char *const texts[] = {
      "i8 > {lo} and i8 < {hi}", "name in {names}", "b == {flag}",
      "info[\"e\"] == {s}", "{lo} < i32 <= {hi}",
  };
  uint64_t bits[(N_ROWS + 63) / 64];
  for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
    cairn_expr *e = NULL;
    cairn_error err;
    assert_int_equal(cairn_expr_parse(&schema, texts[t], &tmpl, &e, &err), CAIRN_OK);
    assert_int_equal(cairn_expr_eval(e, &full_batch, bits, &err), CAIRN_OK);
    for (size_t i = 0; i < N_ROWS; i++) {
      const row *r = &rows[i];

      tv want = t == 0 ? AND(GT_(Fi8, I(3)), LT_(Fi8, D(40.5)))
                : t == 1 ? IN(Fname, S("alice"), S("bob"))
                : t == 2 ? EQ_(Fb, B(1))
                : t == 3 ? EQ_(Je, S("q\"uote"))
                         : AND(GT_(Fi32, I(3)), LE_(Fi32, D(40.5)));
      assert_int_equal((bits[i / 64] >> (i % 64)) & 1, want == 1);
    }
    cairn_expr_free(e);
  }
  /* A template of the wrong type is a type error, with the position. */
  cairn_expr *e = NULL;
  cairn_error err;
  assert_int_equal(cairn_expr_parse(&schema, "name == {lo}", &tmpl, &e, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "cannot compare VarChar field 'name' with 3"));
  assert_non_null(strstr(err.message, "column 1"));
  static const cairn_expr_value inner[] = {{.type = CAIRN_EXPR_INT, .u.i = 1}};
  static const cairn_expr_value nested[] = {
      {.type = CAIRN_EXPR_LIST, .u.list = {inner, 1}}};
  const cairn_expr_template bad[] = {
      {"l", {.type = CAIRN_EXPR_LIST, .u.list = {nested, 1}}}};
  cairn_expr_templates tv_bad = {1, bad};
  assert_int_equal(cairn_expr_parse(&schema, "i8 in {l}", &tv_bad, &e, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "nested list"));
}

/* ---- growing vs sealed: slices give the same bits as the whole ---------- */

static cairn_expr_batch slice(cairn_expr_column *out, size_t start, size_t n) {
  for (size_t c = 0; c < full_batch.n_columns; c++) {
    const cairn_expr_column *in = &full_batch.columns[c];
    const cairn_field *f = cairn_schema_field_by_id(&schema, in->field_id);
    out[c] = *in;
    size_t width = f->type == CAIRN_TYPE_INT8 || f->type == CAIRN_TYPE_BOOL ? 1
                   : f->type == CAIRN_TYPE_INT16 ? 2
                   : f->type == CAIRN_TYPE_INT32 || f->type == CAIRN_TYPE_FLOAT ? 4
                                                                               : 8;
    if (in->offsets)
      out[c].offsets = in->offsets + start; /* offsets stay absolute */
    else
      out[c].values = (const char *)in->values + start * width;
    if (in->validity)
      out[c].validity = in->validity + start / 8;
  }
  return (cairn_expr_batch){.schema = &schema, .n_rows = n,
                            .n_columns = full_batch.n_columns, .columns = out};
}

static void test_slices(void **state) {
  (void)state;
  static const size_t cuts[] = {0, 264, 1032, 1096, N_ROWS};
  cairn_expr_column cols[17];
  uint64_t whole[(N_ROWS + 63) / 64], part[(N_ROWS + 63) / 64];
  for (size_t t = 0; t < N_CASES; t++) {
    cairn_expr *e = NULL;
    cairn_error err;
    assert_int_equal(cairn_expr_parse(&schema, case_text[t], NULL, &e, &err), CAIRN_OK);
    assert_int_equal(cairn_expr_eval(e, &full_batch, whole, &err), CAIRN_OK);
    for (size_t s = 0; s + 1 < sizeof cuts / sizeof cuts[0]; s++) {
      cairn_expr_batch b = slice(cols, cuts[s], cuts[s + 1] - cuts[s]);
      assert_int_equal(cairn_expr_eval(e, &b, part, &err), CAIRN_OK);
      for (size_t i = 0; i < b.n_rows; i++) {
        size_t g = cuts[s] + i;
        if (((part[i / 64] >> (i % 64)) & 1) != ((whole[g / 64] >> (g % 64)) & 1))
          fail_msg("[%s] slice at %zu differs at row %zu", case_text[t],
                   cuts[s], g);
      }
    }
    cairn_expr_free(e);
  }
}

/* ---- the rest of the API ---------------------------------------------------- */

static void test_api(void **state) {
  (void)state;
  cairn_expr *e = NULL;
  cairn_error err;
  assert_int_equal(cairn_expr_parse(&schema,
                   "i8 > 1 and name like \"a%\" and color == \"x\"", NULL, &e,
                   &err), CAIRN_OK);
  int64_t ids[8];
  assert_int_equal(cairn_expr_fields(e, ids, 8), 3);
  int64_t sum = ids[0] + ids[1] + ids[2];
  assert_int_equal(sum, F_I8 + F_NAME + F_META);
  bool v = true;
  assert_false(cairn_expr_is_constant(e, &v));
  /* A batch without a needed column is an error naming the field. */
  cairn_expr_batch missing = full_batch;
  missing.columns = C->cols + 2; /* drops id and i8 */
  missing.n_columns = full_batch.n_columns - 2;
  uint64_t bits[(N_ROWS + 63) / 64];
  assert_int_equal(cairn_expr_eval(e, &missing, bits, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "'i8'"));
  /* An empty batch is fine. */
  cairn_expr_batch empty = full_batch;
  empty.n_rows = 0;
  uint64_t count = 99;
  assert_int_equal(cairn_expr_count(e, &empty, &count, &err), CAIRN_OK);
  assert_int_equal(count, 0);
  cairn_expr_free(e);
  /* Constant folding reaches the root. */
  assert_int_equal(cairn_expr_parse(&schema, "i8 > 1 and 2 < 1", NULL, &e, &err), CAIRN_OK);
  assert_true(cairn_expr_is_constant(e, &v));
  assert_false(v);
  assert_int_equal(cairn_expr_fields(e, ids, 8), 0);
  cairn_expr_free(e);
  assert_int_equal(cairn_expr_parse(&schema, "1 + 2 * 3 == 7 or i8 > 0", NULL, &e, &err), CAIRN_OK);
  assert_true(cairn_expr_is_constant(e, &v));
  assert_true(v);
  cairn_expr_free(e);
  /* A long but legal `or` chain works. */
  size_t cap = 600 * 16, o = 0;
  char *chain = malloc(cap);
  assert_non_null(chain);
  for (int i = 0; i < 600; i++)
    o += (size_t)snprintf(chain + o, cap - o, "%sid == %d", i ? " or " : "", i * 2);
  assert_int_equal(cairn_expr_parse(&schema, chain, NULL, &e, &err), CAIRN_OK);
  assert_int_equal(cairn_expr_count(e, &full_batch, &count, &err), CAIRN_OK);
  assert_int_equal(count, 600);
  cairn_expr_free(e);
  free(chain);
  cairn_expr_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_templates),
      cmocka_unit_test(test_slices),
      cmocka_unit_test(test_api),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
