/* test_column_util.c — see test_column_util.h. */
#include "test_column_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T(ty, el, d) {.field_id = 100, .type = ty, .element_type = el, .dim = d}
const cairn_column_type cu_types[] = {
    T(CAIRN_TYPE_BOOL, 0, 0),          T(CAIRN_TYPE_INT8, 0, 0),
    T(CAIRN_TYPE_INT16, 0, 0),         T(CAIRN_TYPE_INT32, 0, 0),
    T(CAIRN_TYPE_INT64, 0, 0),         T(CAIRN_TYPE_FLOAT, 0, 0),
    T(CAIRN_TYPE_DOUBLE, 0, 0),        T(CAIRN_TYPE_VARCHAR, 0, 0),
    T(CAIRN_TYPE_JSON, 0, 0),          T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_BOOL, 0),
    T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_INT8, 0),
    T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_INT16, 0),
    T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_INT32, 0),
    T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_INT64, 0),
    T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_FLOAT, 0),
    T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_DOUBLE, 0),
    T(CAIRN_TYPE_ARRAY, CAIRN_TYPE_VARCHAR, 0),
    T(CAIRN_TYPE_FLOAT_VECTOR, 0, 4),  T(CAIRN_TYPE_FLOAT16_VECTOR, 0, 4),
    T(CAIRN_TYPE_BFLOAT16_VECTOR, 0, 3), T(CAIRN_TYPE_BINARY_VECTOR, 0, 16),
    T(CAIRN_TYPE_INT8_VECTOR, 0, 5),   T(CAIRN_TYPE_SPARSE_FLOAT_VECTOR, 0, 0),
};
const size_t cu_n_types = sizeof cu_types / sizeof cu_types[0];

static unsigned next(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) & 0xffffff;
}

static void fill_bytes(uint8_t *p, size_t n, unsigned *s) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)next(s);
}

/* One fixed-width value of type t from the generator. */
static void fixed_value(cairn_data_type t, void *out, unsigned *s) {
  unsigned v = next(s);
  switch (t) {
  case CAIRN_TYPE_BOOL: *(uint8_t *)out = v & 1; break;
  case CAIRN_TYPE_INT8: *(int8_t *)out = (int8_t)v; break;
  case CAIRN_TYPE_INT16: *(int16_t *)out = (int16_t)v; break;
  case CAIRN_TYPE_INT32: *(int32_t *)out = (int32_t)(v * 977u); break;
  case CAIRN_TYPE_INT64: *(int64_t *)out = (int64_t)v * 1000003 - 5000; break;
  case CAIRN_TYPE_FLOAT: *(float *)out = (float)v / 7.0f; break;
  case CAIRN_TYPE_DOUBLE: *(double *)out = (double)v / 3.0; break;
  default: break;
  }
}

static void append_row(cairn_column *col, const cairn_column_type *t,
                       size_t row, unsigned *s) {
  cairn_error err;
  uint8_t buf[1024];
  char strs[8][32];
  const char *ptrs[8];
  size_t lens[8];
  cairn_status st = CAIRN_OK;
  if (cairn_type_width(t->type) != 0) {
    fixed_value(t->type, buf, s);
    st = cairn_column_append_fixed(col, buf, NULL, 1, &err);
  } else if (t->type == CAIRN_TYPE_VARCHAR || t->type == CAIRN_TYPE_JSON) {
    int len = t->type == CAIRN_TYPE_JSON
                  ? snprintf(strs[0], 32, "{\"k\":%u,\"r\":%zu}", next(s) % 100, row)
                  : snprintf(strs[0], 32, "s%u-%zu", next(s) % 1000, row);
    if (row % 7 == 0 && t->type == CAIRN_TYPE_VARCHAR)
      len = 0; /* empty strings too */
    ptrs[0] = strs[0];
    lens[0] = (size_t)len;
    st = cairn_column_append_strings(col, ptrs, lens, NULL, 1, &err);
  } else if (t->type == CAIRN_TYPE_ARRAY && t->element_type == CAIRN_TYPE_VARCHAR) {
    size_t n = next(s) % 4;
    for (size_t i = 0; i < n; i++) {
      lens[i] = (size_t)snprintf(strs[i], 32, "e%u", next(s) % 100);
      ptrs[i] = strs[i];
    }
    st = cairn_column_append_array_strings(col, ptrs, lens, n, &err);
  } else if (t->type == CAIRN_TYPE_ARRAY) {
    size_t n = next(s) % 5, w = cairn_type_width(t->element_type);
    for (size_t i = 0; i < n; i++)
      fixed_value(t->element_type, buf + i * w, s);
    st = cairn_column_append_array(col, buf, n, &err);
  } else if (t->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR) {
    cairn_sparse_pair p[6];
    size_t n = next(s) % 6;
    uint32_t idx = 0;
    for (size_t i = 0; i < n; i++) {
      idx += 1 + next(s) % 50;
      p[i] = (cairn_sparse_pair){idx, (float)(next(s) % 100) / 10.0f};
    }
    st = cairn_column_append_sparse(col, p, n, &err);
  } else {
    size_t rb = cairn_vector_row_bytes(t->type, t->dim);
    if (t->type == CAIRN_TYPE_FLOAT_VECTOR)
      for (size_t i = 0; i < (size_t)t->dim; i++)
        ((float *)buf)[i] = (float)next(s) / 1000.0f;
    else
      fill_bytes(buf, rb, s);
    st = cairn_column_append_fixed(col, buf, NULL, 1, &err);
  }
  if (st != CAIRN_OK)
    fail_msg("append row %zu of %s: %s", row, cairn_type_name(t->type),
             err.message);
}

cairn_column *cu_make(const cairn_column_type *type, size_t n, unsigned seed) {
  cairn_column *col = NULL;
  cairn_error err;
  if (cairn_column_new(type, &col, &err) != CAIRN_OK)
    fail_msg("new column: %s", err.message);
  unsigned s = seed;
  for (size_t r = 0; r < n; r++) {
    if (type->nullable && r % 3 == 1) {
      assert_int_equal(cairn_column_append_nulls(col, 1, &err), CAIRN_OK);
      continue;
    }
    append_row(col, type, r, &s);
  }
  return col;
}

/* Bytes of one valid row for comparison: a pointer range, or for arrays of
 * strings a rendering. Returns false if it cannot. */
static bool row_equal(const cairn_colview *a, size_t ra, const cairn_colview *b,
                      size_t rb) {
  const cairn_column_type *t = &a->type;
  size_t w = cairn_type_width(t->type);
  if (w != 0)
    return memcmp((const uint8_t *)a->col.values + ra * w,
                  (const uint8_t *)b->col.values + rb * w, w) == 0;
  size_t vb = cairn_vector_row_bytes(t->type, t->dim);
  if (vb != 0)
    return memcmp(cairn_colview_vector(a, ra), cairn_colview_vector(b, rb), vb) == 0;
  const uint64_t *oa = a->col.offsets, *ob = b->col.offsets;
  uint64_t na = oa[ra + 1] - oa[ra], nb = ob[rb + 1] - ob[rb];
  if (na != nb)
    return false;
  if (na == 0)
    return true;
  if (t->type == CAIRN_TYPE_VARCHAR || t->type == CAIRN_TYPE_JSON)
    return memcmp(a->col.data + oa[ra], b->col.data + ob[rb], na) == 0;
  if (t->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR)
    return memcmp((const cairn_sparse_pair *)a->col.values + oa[ra],
                  (const cairn_sparse_pair *)b->col.values + ob[rb], na * 8) == 0;
  if (t->element_type != CAIRN_TYPE_VARCHAR) {
    size_t ew = cairn_type_width(t->element_type);
    return memcmp((const uint8_t *)a->col.values + oa[ra] * ew,
                  (const uint8_t *)b->col.values + ob[rb] * ew, na * ew) == 0;
  }
  for (uint64_t i = 0; i < na; i++) {
    const uint64_t *ea = a->col.elem_offsets + oa[ra], *eb = b->col.elem_offsets + ob[rb];
    uint64_t la = ea[i + 1] - ea[i], lb = eb[i + 1] - eb[i];
    if (la != lb || memcmp(a->col.data + ea[i], b->col.data + eb[i], la) != 0)
      return false;
  }
  return true;
}

bool cu_rows_equal(const cairn_colview *a, const int64_t *a_rows,
                   const cairn_colview *b, const int64_t *b_rows, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t ra = a_rows ? (size_t)a_rows[i] : i, rb = b_rows ? (size_t)b_rows[i] : i;
    bool va = cairn_colview_valid(a, ra), vb = cairn_colview_valid(b, rb);
    if (va != vb) {
      print_error("%s: row %zu validity %d vs row %zu validity %d\n",
                  cairn_type_name(a->type.type), ra, va, rb, vb);
      return false;
    }
    if (va && !row_equal(a, ra, b, rb)) {
      print_error("%s (element %s): row %zu differs from row %zu\n",
                  cairn_type_name(a->type.type),
                  cairn_type_name(a->type.element_type), ra, rb);
      return false;
    }
  }
  return true;
}

bool cu_views_equal(const cairn_colview *a, const cairn_colview *b) {
  if (a->type.type != b->type.type || a->type.element_type != b->type.element_type ||
      a->type.dim != b->type.dim || a->n_rows != b->n_rows) {
    print_error("view types/rows differ: %s/%zu vs %s/%zu\n",
                cairn_type_name(a->type.type), a->n_rows,
                cairn_type_name(b->type.type), b->n_rows);
    return false;
  }
  return cu_rows_equal(a, NULL, b, NULL, a->n_rows);
}
