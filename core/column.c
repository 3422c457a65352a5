/*
 * column.c — growable typed columns (see column.h for the layout and the
 * one-writer / many-readers rule).
 *
 * Each column owns up to five growable buffers (values, validity, offsets,
 * data, elem_offsets); which ones a type uses is decided once from its
 * "kind". Every append runs in three phases:
 *   1. reserve: grow every buffer the rows need (the only step that can
 *      fail on memory; nothing is visible yet);
 *   2. write: copy the rows past the published end of each buffer;
 *   3. publish: store the new row count with release order.
 * Growth copies the used prefix into a new 64-byte aligned buffer,
 * publishes the new pointer (release), and retires the old one (freed by
 * cairn_column_free / cairn_column_reclaim), so a reader holding an older
 * pointer keeps reading valid memory.
 */
#include "column.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef enum col_kind {
  KIND_FIXED,     /* Bool, Int8..Int64, Float, Double */
  KIND_VECTOR,    /* dense vectors */
  KIND_VAR,       /* VarChar, String, JSON */
  KIND_ARRAY,     /* Array of fixed-width elements */
  KIND_ARRAY_STR, /* Array of VarChar */
  KIND_SPARSE,    /* SparseFloatVector */
} col_kind;

typedef struct gbuf {
  _Atomic(uint8_t *) ptr; /* published pointer; stored by the writer only */
  size_t cap;             /* bytes allocated (writer only) */
  size_t len;             /* bytes used (writer only) */
} gbuf;

typedef struct retired {
  struct retired *next;
  void *ptr;
  size_t bytes;
} retired;

struct cairn_column {
  cairn_column_type type;
  col_kind kind;
  size_t width;           /* row bytes (fixed, vector), element bytes (array) */
  _Atomic size_t n_rows;  /* published row count */
  size_t rows;            /* writer's row count, == n_rows between appends */
  gbuf values;            /* fixed values, vectors, array elements, pairs */
  gbuf validity;          /* nullable only: ceil(rows / 8) bytes */
  gbuf offsets;           /* var, array, sparse: rows + 1 uint64 */
  gbuf data;              /* var bytes, VarChar array bytes */
  gbuf elem_offsets;      /* VarChar arrays: elements + 1 uint64 */
  retired *retired;       /* old buffers readers may still hold */
  size_t retired_bytes;
};

/* ---- types -------------------------------------------------------------- */

size_t cairn_type_width(cairn_data_type type) {
  switch (type) {
  case CAIRN_TYPE_BOOL: case CAIRN_TYPE_INT8: return 1;
  case CAIRN_TYPE_INT16: return 2;
  case CAIRN_TYPE_INT32: case CAIRN_TYPE_FLOAT: return 4;
  case CAIRN_TYPE_INT64: case CAIRN_TYPE_DOUBLE: return 8;
  default: return 0;
  }
}

size_t cairn_vector_row_bytes(cairn_data_type type, int64_t dim) {
  if (dim <= 0)
    return 0;
  switch (type) {
  case CAIRN_TYPE_FLOAT_VECTOR: return (size_t)dim * 4;
  case CAIRN_TYPE_FLOAT16_VECTOR:
  case CAIRN_TYPE_BFLOAT16_VECTOR: return (size_t)dim * 2;
  case CAIRN_TYPE_BINARY_VECTOR: return (size_t)dim / 8;
  case CAIRN_TYPE_INT8_VECTOR: return (size_t)dim;
  default: return 0;
  }
}

#define MAX_DIM (1 << 20)

static bool kind_of(const cairn_column_type *t, col_kind *kind) {
  if (cairn_type_width(t->type) != 0) {
    *kind = KIND_FIXED;
    return true;
  }
  switch (t->type) {
  case CAIRN_TYPE_VARCHAR: case CAIRN_TYPE_STRING: case CAIRN_TYPE_JSON:
    *kind = KIND_VAR;
    return true;
  case CAIRN_TYPE_ARRAY:
    if (t->element_type == CAIRN_TYPE_VARCHAR) {
      *kind = KIND_ARRAY_STR;
      return true;
    }
    *kind = KIND_ARRAY;
    return cairn_type_width(t->element_type) != 0;
  case CAIRN_TYPE_SPARSE_FLOAT_VECTOR:
    *kind = KIND_SPARSE;
    return true;
  case CAIRN_TYPE_FLOAT_VECTOR: case CAIRN_TYPE_FLOAT16_VECTOR:
  case CAIRN_TYPE_BFLOAT16_VECTOR: case CAIRN_TYPE_BINARY_VECTOR:
  case CAIRN_TYPE_INT8_VECTOR:
    *kind = KIND_VECTOR;
    return t->dim > 0 && t->dim <= MAX_DIM &&
           (t->type != CAIRN_TYPE_BINARY_VECTOR || t->dim % 8 == 0);
  default:
    return false;
  }
}

cairn_status cairn_column_type_check(const cairn_column_type *t,
                                     cairn_error *err) {
  col_kind kind;
  if (!kind_of(t, &kind))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "unsupported column type %d (element type %d, "
                           "dim %lld)",
                           (int)t->type, (int)t->element_type,
                           (long long)t->dim);
  return CAIRN_OK;
}

cairn_column_type cairn_column_type_of(const cairn_field *field) {
  cairn_column_type t = {
      .field_id = field->id,
      .type = field->type,
      .element_type = field->type == CAIRN_TYPE_ARRAY ? field->element_type
                                                      : CAIRN_TYPE_NONE,
      .dim = cairn_type_is_vector(field->type) &&
                     field->type != CAIRN_TYPE_SPARSE_FLOAT_VECTOR
                 ? field->dim
                 : 0,
      .nullable = field->nullable,
  };
  return t;
}

/* ---- buffers ------------------------------------------------------------ */

static uint8_t *buf_ptr(const gbuf *b) {
  return atomic_load_explicit(&((gbuf *)b)->ptr, memory_order_acquire);
}

/* Grows b to hold `more` extra bytes. The old buffer is retired. */
static cairn_status buf_reserve(cairn_column *col, gbuf *b, size_t more,
                                bool zero, cairn_error *err) {
  if (more <= b->cap - b->len)
    return CAIRN_OK;
  if (more > SIZE_MAX / 2 - b->len)
    return cairn_error_set(err, CAIRN_NOMEM, "column buffer too large");
  size_t cap = b->cap < 64 ? 64 : b->cap;
  while (cap < b->len + more)
    cap *= 2;
  retired *node = malloc(sizeof *node);
  uint8_t *p = aligned_alloc(64, cap); /* cap is a multiple of 64 */
  if (p == NULL || node == NULL) {
    free(p);
    free(node);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory growing column "
                                             "to %zu bytes", cap);
  }
  uint8_t *old = atomic_load_explicit(&b->ptr, memory_order_relaxed);
  if (b->len > 0)
    memcpy(p, old, b->len);
  if (zero)
    memset(p + b->len, 0, cap - b->len);
  atomic_store_explicit(&b->ptr, p, memory_order_release);
  if (old != NULL) {
    node->ptr = old;
    node->bytes = b->cap;
    node->next = col->retired;
    col->retired = node;
    col->retired_bytes += b->cap;
  } else {
    free(node);
  }
  b->cap = cap;
  return CAIRN_OK;
}

static uint8_t *buf_end(gbuf *b) {
  return atomic_load_explicit(&b->ptr, memory_order_relaxed) + b->len;
}

static void buf_free(gbuf *b) {
  free(atomic_load_explicit(&b->ptr, memory_order_relaxed));
}

static uint64_t *u64_at(gbuf *b, size_t i) {
  return (uint64_t *)atomic_load_explicit(&b->ptr, memory_order_relaxed) + i;
}

/* Appends a uint64 (offsets); room must be reserved. */
static void buf_push_u64(gbuf *b, uint64_t v) {
  memcpy(buf_end(b), &v, 8);
  b->len += 8;
}

/* ---- lifecycle ---------------------------------------------------------- */

cairn_status cairn_column_new(const cairn_column_type *type,
                              cairn_column **out, cairn_error *err) {
  *out = NULL;
  col_kind kind = KIND_FIXED;
  cairn_status st = cairn_column_type_check(type, err);
  if (st != CAIRN_OK)
    return st;
  if (!kind_of(type, &kind)) /* type_check accepted it, so this cannot fail */
    return cairn_error_set(err, CAIRN_INTERNAL, "column type %d has no layout",
                           (int)type->type);
  cairn_column *col = calloc(1, sizeof *col);
  if (col == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  col->type = *type;
  col->kind = kind;
  col->width = kind == KIND_VECTOR ? cairn_vector_row_bytes(type->type, type->dim)
               : kind == KIND_ARRAY ? cairn_type_width(type->element_type)
               : kind == KIND_SPARSE ? sizeof(cairn_sparse_pair)
                                     : cairn_type_width(type->type);
  atomic_init(&col->n_rows, 0);
  if (kind == KIND_VAR || kind == KIND_ARRAY || kind == KIND_ARRAY_STR ||
      kind == KIND_SPARSE) {
    if ((st = buf_reserve(col, &col->offsets, 8, false, err)) != CAIRN_OK)
      goto fail;
    buf_push_u64(&col->offsets, 0);
  }
  if (kind == KIND_ARRAY_STR) {
    if ((st = buf_reserve(col, &col->elem_offsets, 8, false, err)) != CAIRN_OK)
      goto fail;
    buf_push_u64(&col->elem_offsets, 0);
  }
  *out = col;
  return CAIRN_OK;
fail:
  cairn_column_free(col);
  return st;
}

cairn_status cairn_column_new_field(const cairn_field *field,
                                    cairn_column **out, cairn_error *err) {
  cairn_column_type t = cairn_column_type_of(field);
  return cairn_column_new(&t, out, err);
}

void cairn_column_reclaim(cairn_column *col) {
  while (col->retired != NULL) {
    retired *r = col->retired;
    col->retired = r->next;
    free(r->ptr);
    free(r);
  }
  col->retired_bytes = 0;
}

void cairn_column_free(cairn_column *col) {
  if (col == NULL)
    return;
  cairn_column_reclaim(col);
  buf_free(&col->values);
  buf_free(&col->validity);
  buf_free(&col->offsets);
  buf_free(&col->data);
  buf_free(&col->elem_offsets);
  free(col);
}

const cairn_column_type *cairn_column_get_type(const cairn_column *col) {
  return &col->type;
}

size_t cairn_column_rows(const cairn_column *col) {
  return atomic_load_explicit(&((cairn_column *)col)->n_rows,
                              memory_order_acquire);
}

size_t cairn_column_memory(const cairn_column *col) {
  return sizeof *col + col->values.cap + col->validity.cap + col->offsets.cap +
         col->data.cap + col->elem_offsets.cap + col->retired_bytes;
}

size_t cairn_column_retired_bytes(const cairn_column *col) {
  return col->retired_bytes;
}

/* Reserves for n rows: validity bits, row offsets, and fixed row bytes. */
static cairn_status reserve_rows(cairn_column *col, size_t n, cairn_error *err) {
  cairn_status st = CAIRN_OK;
  if (col->type.nullable) {
    size_t need = (col->rows + n + 7) / 8;
    size_t have = col->validity.len;
    if (need > have)
      st = buf_reserve(col, &col->validity, need - have, true, err);
  }
  if (st == CAIRN_OK && (col->kind == KIND_FIXED || col->kind == KIND_VECTOR)) {
    if (col->width != 0 && n > SIZE_MAX / 2 / col->width)
      return cairn_error_set(err, CAIRN_NOMEM, "column append too large");
    st = buf_reserve(col, &col->values, n * col->width, false, err);
  } else if (st == CAIRN_OK) {
    if (n > SIZE_MAX / 16)
      return cairn_error_set(err, CAIRN_NOMEM, "column append too large");
    st = buf_reserve(col, &col->offsets, n * 8, false, err);
  }
  return st;
}

cairn_status cairn_column_reserve(cairn_column *col, size_t n_rows,
                                  size_t n_bytes, size_t n_elems,
                                  cairn_error *err) {
  cairn_status st = reserve_rows(col, n_rows, err);
  if (st == CAIRN_OK && n_bytes > 0)
    st = buf_reserve(col, &col->data, n_bytes, false, err);
  if (st == CAIRN_OK && n_elems > 0 &&
      (col->kind == KIND_ARRAY || col->kind == KIND_SPARSE)) {
    if (n_elems > SIZE_MAX / 2 / col->width)
      return cairn_error_set(err, CAIRN_NOMEM, "column append too large");
    st = buf_reserve(col, &col->values, n_elems * col->width, false, err);
  }
  if (st == CAIRN_OK && n_elems > 0 && col->kind == KIND_ARRAY_STR)
    st = buf_reserve(col, &col->elem_offsets, n_elems * 8, false, err);
  return st;
}

/* ---- snapshots ---------------------------------------------------------- */

void cairn_column_snapshot(const cairn_column *col, cairn_colview *out) {
  memset(out, 0, sizeof *out);
  out->type = col->type;
  out->n_rows = cairn_column_rows(col); /* first: see column.h */
  out->col.field_id = col->type.field_id;
  out->col.values = buf_ptr(&col->values);
  out->col.validity = col->type.nullable ? buf_ptr(&col->validity) : NULL;
  out->col.offsets = (const uint64_t *)buf_ptr(&col->offsets);
  out->col.data = (const char *)buf_ptr(&col->data);
  out->col.elem_offsets = (const uint64_t *)buf_ptr(&col->elem_offsets);
}

cairn_expr_column cairn_column_view(const cairn_column *col, size_t *n_rows) {
  cairn_colview v;
  cairn_column_snapshot(col, &v);
  if (n_rows != NULL)
    *n_rows = v.n_rows;
  return v.col;
}

const void *cairn_colview_vector(const cairn_colview *v, size_t row) {
  size_t rb = cairn_vector_row_bytes(v->type.type, v->type.dim);
  return (const uint8_t *)v->col.values + row * rb;
}

const cairn_sparse_pair *cairn_colview_sparse(const cairn_colview *v,
                                              size_t row, size_t *n_pairs) {
  uint64_t a = v->col.offsets[row], b = v->col.offsets[row + 1];
  *n_pairs = (size_t)(b - a);
  return (const cairn_sparse_pair *)v->col.values + a;
}

const char *cairn_colview_string(const cairn_colview *v, size_t row,
                                 size_t *len) {
  uint64_t a = v->col.offsets[row], b = v->col.offsets[row + 1];
  *len = (size_t)(b - a);
  return v->col.data + a;
}

const void *cairn_column_vector(const cairn_column *col, size_t row) {
  return buf_ptr(&col->values) + row * col->width;
}

/* ---- appends ------------------------------------------------------------ */

static void publish(cairn_column *col, size_t n) {
  col->rows += n;
  atomic_store_explicit(&col->n_rows, col->rows, memory_order_release);
}

/* Sets validity bits for rows [rows, rows + n); valid NULL = all valid. The
 * buffer was reserved (and zeroed) by reserve_rows. */
static void write_validity(cairn_column *col, const bool *valid, size_t n) {
  if (!col->type.nullable)
    return;
  uint8_t *bits = atomic_load_explicit(&col->validity.ptr, memory_order_relaxed);
  for (size_t i = 0; i < n; i++) {
    size_t r = col->rows + i;
    if (valid == NULL || valid[i])
      __atomic_fetch_or(&bits[r >> 3], (uint8_t)(1u << (r & 7)),
                        __ATOMIC_RELAXED);
  }
  col->validity.len = (col->rows + n + 7) / 8;
}

static cairn_status check_nulls(const cairn_column *col, const bool *valid,
                                size_t n, cairn_error *err) {
  if (valid == NULL || col->type.nullable)
    return CAIRN_OK;
  for (size_t i = 0; i < n; i++)
    if (!valid[i])
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "null value for non-nullable field %lld",
                             (long long)col->type.field_id);
  return CAIRN_OK;
}

static cairn_status kind_error(const cairn_column *col, const char *what,
                               cairn_error *err) {
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "%s does not apply to a column of type %s", what,
                         cairn_type_name(col->type.type));
}

cairn_status cairn_column_append_fixed(cairn_column *col, const void *values,
                                       const bool *valid, size_t n,
                                       cairn_error *err) {
  if (col->kind != KIND_FIXED && col->kind != KIND_VECTOR)
    return kind_error(col, "append_fixed", err);
  cairn_status st = check_nulls(col, valid, n, err);
  if (st == CAIRN_OK)
    st = reserve_rows(col, n, err);
  if (st != CAIRN_OK)
    return st;
  uint8_t *dst = buf_end(&col->values);
  if (col->type.type == CAIRN_TYPE_BOOL) {
    const uint8_t *src = values; /* normalise to 0/1 */
    for (size_t i = 0; i < n; i++)
      dst[i] = src[i] != 0;
  } else if (n > 0) {
    memcpy(dst, values, n * col->width);
  }
  col->values.len += n * col->width;
  write_validity(col, valid, n);
  publish(col, n);
  return CAIRN_OK;
}

/* Appends n empty/zero value slots for null rows (reserved by caller). */
static void write_null_slots(cairn_column *col, size_t n) {
  switch (col->kind) {
  case KIND_FIXED:
  case KIND_VECTOR:
    memset(buf_end(&col->values), 0, n * col->width);
    col->values.len += n * col->width;
    break;
  case KIND_VAR:
  case KIND_ARRAY:
  case KIND_ARRAY_STR:
  case KIND_SPARSE: {
    uint64_t last = *u64_at(&col->offsets, col->rows);
    for (size_t i = 0; i < n; i++)
      buf_push_u64(&col->offsets, last);
    break;
  }
  }
  col->validity.len = (col->rows + n + 7) / 8; /* bits stay 0 */
}

cairn_status cairn_column_append_nulls(cairn_column *col, size_t n,
                                       cairn_error *err) {
  if (!col->type.nullable && n > 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "null value for non-nullable field %lld",
                           (long long)col->type.field_id);
  cairn_status st = reserve_rows(col, n, err);
  if (st != CAIRN_OK)
    return st;
  write_null_slots(col, n);
  publish(col, n);
  return CAIRN_OK;
}

cairn_status cairn_column_append_strings(cairn_column *col,
                                         const char *const *ptrs,
                                         const size_t *lens, const bool *valid,
                                         size_t n, cairn_error *err) {
  if (col->kind != KIND_VAR)
    return kind_error(col, "append_strings", err);
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    if (valid == NULL || valid[i])
      total += lens[i];
  cairn_status st = check_nulls(col, valid, n, err);
  if (st == CAIRN_OK)
    st = cairn_column_reserve(col, n, total, 0, err);
  if (st != CAIRN_OK)
    return st;
  uint64_t off = *u64_at(&col->offsets, col->rows);
  uint8_t *dst = buf_end(&col->data);
  for (size_t i = 0; i < n; i++) {
    if (valid == NULL || valid[i]) {
      if (lens[i] > 0)
        memcpy(dst, ptrs[i], lens[i]);
      dst += lens[i];
      off += lens[i];
    }
    buf_push_u64(&col->offsets, off);
  }
  col->data.len += total;
  write_validity(col, valid, n);
  publish(col, n);
  return CAIRN_OK;
}

cairn_status cairn_column_append_array(cairn_column *col, const void *elems,
                                       size_t n_elems, cairn_error *err) {
  if (col->kind != KIND_ARRAY)
    return kind_error(col, "append_array", err);
  cairn_status st = cairn_column_reserve(col, 1, 0, n_elems, err);
  if (st != CAIRN_OK)
    return st;
  uint8_t *dst = buf_end(&col->values);
  if (col->type.element_type == CAIRN_TYPE_BOOL) {
    for (size_t i = 0; i < n_elems; i++)
      dst[i] = ((const uint8_t *)elems)[i] != 0;
  } else if (n_elems > 0) {
    memcpy(dst, elems, n_elems * col->width);
  }
  col->values.len += n_elems * col->width;
  buf_push_u64(&col->offsets, *u64_at(&col->offsets, col->rows) + n_elems);
  write_validity(col, NULL, 1);
  publish(col, 1);
  return CAIRN_OK;
}

cairn_status cairn_column_append_array_strings(cairn_column *col,
                                               const char *const *ptrs,
                                               const size_t *lens,
                                               size_t n_elems,
                                               cairn_error *err) {
  if (col->kind != KIND_ARRAY_STR)
    return kind_error(col, "append_array_strings", err);
  size_t total = 0;
  for (size_t i = 0; i < n_elems; i++)
    total += lens[i];
  cairn_status st = cairn_column_reserve(col, 1, total, n_elems, err);
  if (st != CAIRN_OK)
    return st;
  size_t first = (size_t)*u64_at(&col->offsets, col->rows);
  uint64_t off = *u64_at(&col->elem_offsets, first);
  uint8_t *dst = buf_end(&col->data);
  for (size_t i = 0; i < n_elems; i++) {
    if (lens[i] > 0)
      memcpy(dst, ptrs[i], lens[i]);
    dst += lens[i];
    off += lens[i];
    buf_push_u64(&col->elem_offsets, off);
  }
  col->data.len += total;
  buf_push_u64(&col->offsets, first + n_elems);
  write_validity(col, NULL, 1);
  publish(col, 1);
  return CAIRN_OK;
}

cairn_status cairn_column_append_sparse(cairn_column *col,
                                        const cairn_sparse_pair *pairs,
                                        size_t n_pairs, cairn_error *err) {
  if (col->kind != KIND_SPARSE)
    return kind_error(col, "append_sparse", err);
  for (size_t i = 1; i < n_pairs; i++)
    if (pairs[i].index <= pairs[i - 1].index)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "sparse row indices must be strictly increasing "
                             "(position %zu: %u after %u)",
                             i, pairs[i].index, pairs[i - 1].index);
  cairn_status st = cairn_column_reserve(col, 1, 0, n_pairs, err);
  if (st != CAIRN_OK)
    return st;
  if (n_pairs > 0)
    memcpy(buf_end(&col->values), pairs, n_pairs * sizeof *pairs);
  col->values.len += n_pairs * sizeof *pairs;
  buf_push_u64(&col->offsets, *u64_at(&col->offsets, col->rows) + n_pairs);
  write_validity(col, NULL, 1);
  publish(col, 1);
  return CAIRN_OK;
}

/* ---- gather ------------------------------------------------------------- */

static bool same_type(const cairn_column_type *a, const cairn_column_type *b) {
  return a->type == b->type && a->element_type == b->element_type &&
         a->dim == b->dim;
}

/* Totals of variable bytes and elements for the gathered rows. */
static void gather_totals(const cairn_column *dst, const cairn_colview *src,
                          const int64_t *rows, size_t n, size_t *bytes,
                          size_t *elems) {
  *bytes = *elems = 0;
  if (dst->kind == KIND_FIXED || dst->kind == KIND_VECTOR)
    return;
  const uint64_t *off = src->col.offsets;
  for (size_t i = 0; i < n; i++) {
    size_t r = (size_t)rows[i];
    size_t cnt = (size_t)(off[r + 1] - off[r]);
    if (dst->kind == KIND_VAR)
      *bytes += cnt;
    else
      *elems += cnt;
    if (dst->kind == KIND_ARRAY_STR)
      *bytes += (size_t)(src->col.elem_offsets[off[r + 1]] -
                         src->col.elem_offsets[off[r]]);
  }
}

/* Copies one valid row r of src past dst's end (room reserved). */
static void gather_row(cairn_column *dst, const cairn_colview *src, size_t r) {
  const uint64_t *off = src->col.offsets;
  switch (dst->kind) {
  case KIND_FIXED:
  case KIND_VECTOR:
    memcpy(buf_end(&dst->values), (const uint8_t *)src->col.values + r * dst->width,
           dst->width);
    dst->values.len += dst->width;
    return;
  case KIND_VAR: {
    size_t len = (size_t)(off[r + 1] - off[r]);
    if (len > 0)
      memcpy(buf_end(&dst->data), src->col.data + off[r], len);
    dst->data.len += len;
    buf_push_u64(&dst->offsets, (uint64_t)dst->data.len);
    return;
  }
  case KIND_ARRAY:
  case KIND_SPARSE: {
    size_t cnt = (size_t)(off[r + 1] - off[r]);
    if (cnt > 0)
      memcpy(buf_end(&dst->values),
             (const uint8_t *)src->col.values + off[r] * dst->width,
             cnt * dst->width);
    dst->values.len += cnt * dst->width;
    buf_push_u64(&dst->offsets, (uint64_t)(dst->values.len / dst->width));
    return;
  }
  case KIND_ARRAY_STR: {
    const uint64_t *eo = src->col.elem_offsets;
    for (uint64_t e = off[r]; e < off[r + 1]; e++) {
      size_t len = (size_t)(eo[e + 1] - eo[e]);
      if (len > 0)
        memcpy(buf_end(&dst->data), src->col.data + eo[e], len);
      dst->data.len += len;
      buf_push_u64(&dst->elem_offsets, (uint64_t)dst->data.len);
    }
    size_t n_elems = dst->elem_offsets.len / 8 - 1;
    buf_push_u64(&dst->offsets, (uint64_t)n_elems);
    return;
  }
  }
}

static cairn_status gather_check(const cairn_column *dst,
                                 const cairn_colview *src, const int64_t *rows,
                                 size_t n, cairn_error *err) {
  if (!same_type(&dst->type, &src->type))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cannot gather %s rows into a %s column",
                           cairn_type_name(src->type.type),
                           cairn_type_name(dst->type.type));
  for (size_t i = 0; i < n; i++) {
    if (rows[i] < 0 || (uint64_t)rows[i] >= src->n_rows)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "row index %lld out of range [0, %zu)",
                             (long long)rows[i], src->n_rows);
    if (!dst->type.nullable && !cairn_colview_valid(src, (size_t)rows[i]))
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "null value for non-nullable field %lld",
                             (long long)dst->type.field_id);
  }
  return CAIRN_OK;
}

cairn_status cairn_column_append_rows(cairn_column *dst,
                                      const cairn_colview *src,
                                      const int64_t *rows, size_t n,
                                      cairn_error *err) {
  cairn_status st = gather_check(dst, src, rows, n, err);
  if (st != CAIRN_OK)
    return st;
  size_t bytes, elems;
  gather_totals(dst, src, rows, n, &bytes, &elems);
  if ((st = cairn_column_reserve(dst, n, bytes, elems, err)) != CAIRN_OK)
    return st;
  uint8_t *bits = atomic_load_explicit(&dst->validity.ptr, memory_order_relaxed);
  for (size_t i = 0; i < n; i++) {
    size_t r = (size_t)rows[i];
    size_t at = dst->rows + i;
    if (cairn_colview_valid(src, r)) {
      gather_row(dst, src, r);
      if (dst->type.nullable)
        __atomic_fetch_or(&bits[at >> 3], (uint8_t)(1u << (at & 7)),
                          __ATOMIC_RELAXED);
    } else {
      size_t saved = dst->rows;
      dst->rows = at; /* write_null_slots reads offsets at dst->rows */
      write_null_slots(dst, 1);
      dst->rows = saved;
    }
  }
  if (dst->type.nullable)
    dst->validity.len = (dst->rows + n + 7) / 8;
  publish(dst, n);
  return CAIRN_OK;
}

/* ---- sparse rows -------------------------------------------------------- */

static int pair_cmp(const void *a, const void *b) {
  uint32_t x = ((const cairn_sparse_pair *)a)->index;
  uint32_t y = ((const cairn_sparse_pair *)b)->index;
  return (x > y) - (x < y);
}

cairn_status cairn_sparse_normalize(cairn_sparse_pair *pairs, size_t n,
                                    cairn_error *err) {
  bool sorted = true;
  for (size_t i = 0; i < n; i++) {
    if (pairs[i].index == UINT32_MAX)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "sparse vector index must be less than 2^32-1");
    if (!isfinite(pairs[i].value) || pairs[i].value < 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "sparse vector value at index %u must be a "
                             "finite non-negative number",
                             pairs[i].index);
    if (i > 0 && pairs[i].index <= pairs[i - 1].index)
      sorted = false;
  }
  if (!sorted)
    qsort(pairs, n, sizeof *pairs, pair_cmp);
  for (size_t i = 1; i < n; i++)
    if (pairs[i].index == pairs[i - 1].index)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "sparse vector has duplicate index %u",
                             pairs[i].index);
  return CAIRN_OK;
}
