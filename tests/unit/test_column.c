/*
 * test_column.c — the in-memory column store: every type appended, viewed
 * and gathered; validation of appends; sparse normalisation; one writer
 * appending while readers check snapshots; the filter engine reading a
 * column view directly.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "column.h"
#include "expr/expr.h"
#include "test_column_util.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every type, nullable or not: gather rows in reverse and compare. */
static void test_gather_every_type(void **state) {
  (void)state;
  for (size_t i = 0; i < cu_n_types; i++)
    for (int nullable = 0; nullable < 2; nullable++) {
      cairn_column_type t = cu_types[i];
      t.nullable = nullable;
      cairn_column *src = cu_make(&t, 57, (unsigned)i + 1);
      assert_int_equal(cairn_column_rows(src), 57);
      cairn_colview v;
      cairn_column_snapshot(src, &v);
      int64_t rows[57];
      for (int r = 0; r < 57; r++)
        rows[r] = 56 - r;
      cairn_column *dst = NULL;
      cairn_error err;
      assert_int_equal(cairn_column_new(&t, &dst, &err), CAIRN_OK);
      assert_int_equal(cairn_column_append_rows(dst, &v, rows, 30, &err), CAIRN_OK);
      assert_int_equal(cairn_column_append_rows(dst, &v, rows + 30, 27, &err),
                       CAIRN_OK);
      cairn_colview d;
      cairn_column_snapshot(dst, &d);
      assert_int_equal(d.n_rows, 57);
      assert_true(cu_rows_equal(&v, rows, &d, NULL, 57));
      if (nullable)
        assert_false(cairn_colview_valid(&d, 56 - 1)); /* src row 1 is null */
      assert_true(cairn_column_memory(dst) > 0);
      cairn_column_free(src);
      cairn_column_free(dst);
    }
}

static void test_append_values(void **state) {
  (void)state;
  cairn_column_type t = {.field_id = 7, .type = CAIRN_TYPE_INT32, .nullable = true};
  cairn_column *c = NULL;
  cairn_error err;
  assert_int_equal(cairn_column_new(&t, &c, &err), CAIRN_OK);
  int32_t vals[5] = {1, 2, 3, 4, 5};
  bool valid[5] = {true, false, true, true, false};
  assert_int_equal(cairn_column_append_fixed(c, vals, valid, 5, &err), CAIRN_OK);
  size_t n = 0;
  cairn_expr_column ec = cairn_column_view(c, &n);
  assert_int_equal(n, 5);
  assert_int_equal(ec.field_id, 7);
  assert_int_equal(((const int32_t *)ec.values)[3], 4);
  assert_int_equal(ec.validity[0], 0x0d); /* rows 0, 2, 3 */
  cairn_column_free(c);

  /* strings: offsets n+1, null rows empty */
  cairn_column_type vt = {.field_id = 8, .type = CAIRN_TYPE_VARCHAR, .nullable = true};
  assert_int_equal(cairn_column_new(&vt, &c, &err), CAIRN_OK);
  const char *p[3] = {"ab", "zzz", "c"};
  size_t l[3] = {2, 3, 1};
  bool v3[3] = {true, false, true};
  assert_int_equal(cairn_column_append_strings(c, p, l, v3, 3, &err), CAIRN_OK);
  ec = cairn_column_view(c, &n);
  assert_int_equal(n, 3);
  assert_int_equal(ec.offsets[0], 0);
  assert_int_equal(ec.offsets[1], 2);
  assert_int_equal(ec.offsets[2], 2);
  assert_int_equal(ec.offsets[3], 3);
  assert_memory_equal(ec.data, "abc", 3);
  cairn_column_free(c);

  /* bools normalised to 0/1 */
  cairn_column_type bt = {.type = CAIRN_TYPE_BOOL};
  assert_int_equal(cairn_column_new(&bt, &c, &err), CAIRN_OK);
  uint8_t raw[3] = {0, 7, 1};
  assert_int_equal(cairn_column_append_fixed(c, raw, NULL, 3, &err), CAIRN_OK);
  ec = cairn_column_view(c, &n);
  assert_int_equal(((const uint8_t *)ec.values)[1], 1);
  cairn_column_free(c);
}

static void test_append_errors(void **state) {
  (void)state;
  cairn_error err;
  cairn_column *c = NULL;
  cairn_column_type bad = {.type = CAIRN_TYPE_BINARY_VECTOR, .dim = 12};
  assert_int_equal(cairn_column_new(&bad, &c, &err), CAIRN_INVALID_ARGUMENT);
  assert_null(c);
  cairn_column_type bad2 = {.type = CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_JSON};
  assert_int_equal(cairn_column_new(&bad2, &c, &err), CAIRN_INVALID_ARGUMENT);
  cairn_column_type fv = {.type = CAIRN_TYPE_FLOAT_VECTOR, .dim = 0};
  assert_int_equal(cairn_column_new(&fv, &c, &err), CAIRN_INVALID_ARGUMENT);

  cairn_column_type t = {.field_id = 3, .type = CAIRN_TYPE_INT64};
  assert_int_equal(cairn_column_new(&t, &c, &err), CAIRN_OK);
  int64_t v[2] = {1, 2};
  bool valid[2] = {true, false};
  assert_int_equal(cairn_column_append_fixed(c, v, valid, 2, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "non-nullable"));
  assert_int_equal(cairn_column_append_nulls(c, 1, &err), CAIRN_INVALID_ARGUMENT);
  const char *s = "x";
  size_t l = 1;
  assert_int_equal(cairn_column_append_strings(c, &s, &l, NULL, 1, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_column_rows(c), 0); /* nothing published */
  assert_int_equal(cairn_column_append_fixed(c, v, NULL, 2, &err), CAIRN_OK);

  /* gather: type mismatch, out of range */
  cairn_colview view;
  cairn_column_snapshot(c, &view);
  cairn_column *d = NULL;
  cairn_column_type t32 = {.type = CAIRN_TYPE_INT32};
  assert_int_equal(cairn_column_new(&t32, &d, &err), CAIRN_OK);
  int64_t rows[1] = {0};
  assert_int_equal(cairn_column_append_rows(d, &view, rows, 1, &err),
                   CAIRN_INVALID_ARGUMENT);
  cairn_column_free(d);
  assert_int_equal(cairn_column_new(&t, &d, &err), CAIRN_OK);
  int64_t oob[2] = {1, 2};
  assert_int_equal(cairn_column_append_rows(d, &view, oob, 2, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "out of range"));
  int64_t neg[1] = {-1};
  assert_int_equal(cairn_column_append_rows(d, &view, neg, 1, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_column_rows(d), 0);
  cairn_column_free(d);
  cairn_column_free(c);

  /* sparse rows must be sorted */
  cairn_column_type sp = {.type = CAIRN_TYPE_SPARSE_FLOAT_VECTOR};
  assert_int_equal(cairn_column_new(&sp, &c, &err), CAIRN_OK);
  cairn_sparse_pair pairs[2] = {{5, 1.0f}, {3, 2.0f}};
  assert_int_equal(cairn_column_append_sparse(c, pairs, 2, &err),
                   CAIRN_INVALID_ARGUMENT);
  cairn_column_free(c);
}

static void test_sparse_normalize(void **state) {
  (void)state;
  cairn_error err;
  cairn_sparse_pair p[4] = {{9, 1}, {2, 2}, {5, 3}, {0, 0}};
  assert_int_equal(cairn_sparse_normalize(p, 4, &err), CAIRN_OK);
  assert_int_equal(p[0].index, 0);
  assert_int_equal(p[1].index, 2);
  assert_true(p[1].value == 2.0f);
  assert_int_equal(p[3].index, 9);
  cairn_sparse_pair dup[3] = {{4, 1}, {1, 1}, {4, 2}};
  assert_int_equal(cairn_sparse_normalize(dup, 3, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "duplicate index 4"));
  cairn_sparse_pair neg[1] = {{1, -0.5f}};
  assert_int_equal(cairn_sparse_normalize(neg, 1, &err), CAIRN_INVALID_ARGUMENT);
  cairn_sparse_pair nan[1] = {{1, NAN}};
  assert_int_equal(cairn_sparse_normalize(nan, 1, &err), CAIRN_INVALID_ARGUMENT);
  cairn_sparse_pair big[1] = {{UINT32_MAX, 1}};
  assert_int_equal(cairn_sparse_normalize(big, 1, &err), CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_sparse_normalize(NULL, 0, &err), CAIRN_OK);
}

/* 1000 rows of 768-d float vectors in one call: a memcpy. */
static void test_vector_bulk(void **state) {
  (void)state;
  enum { N = 1000, D = 768, REPS = 20 };
  float *data = malloc(sizeof(float) * N * D);
  for (size_t i = 0; i < (size_t)N * D; i++)
    data[i] = (float)i;
  cairn_column_type t = {.type = CAIRN_TYPE_FLOAT_VECTOR, .dim = D};
  cairn_column *c = NULL;
  cairn_error err;
  assert_int_equal(cairn_column_new(&t, &c, &err), CAIRN_OK);
  double t0 = now_s();
  for (int r = 0; r < REPS; r++)
    assert_int_equal(cairn_column_append_fixed(c, data, NULL, N, &err), CAIRN_OK);
  double dt = now_s() - t0;
  printf("# append 768-d float vectors: %.0f rows/s (%.2f GB/s)\n",
         N * REPS / dt, (double)N * REPS * D * 4 / dt / 1e9);
  assert_int_equal(cairn_column_rows(c), N * REPS);
  const float *row = cairn_column_vector(c, N * 3 + 17);
  assert_true(row[5] == (float)(17 * D + 5));
  cairn_column_free(c);
  free(data);
}

/* ---- one writer, many readers ---------------------------------------------- */

enum { CONC_ROWS = 60000, CONC_READERS = 3 };

typedef struct conc {
  cairn_column *ints, *strs;
  atomic_int done;
  atomic_long checks;
} conc;

static void *writer(void *arg) {
  conc *c = arg;
  cairn_error err;
  for (int64_t r = 0; r < CONC_ROWS; r++) {
    int64_t v = r * 3;
    bool valid = r % 5 != 0;
    if (cairn_column_append_fixed(c->ints, &v, &valid, 1, &err) != CAIRN_OK)
      abort();
    char buf[32];
    size_t len = (size_t)snprintf(buf, sizeof buf, "row-%lld", (long long)r);
    const char *p = buf;
    if (cairn_column_append_strings(c->strs, &p, &len, NULL, 1, &err) != CAIRN_OK)
      abort();
  }
  atomic_store(&c->done, 1);
  return NULL;
}

/* Checks the last rows of each snapshot (the ones just written). */
static void *reader(void *arg) {
  conc *c = arg;
  long bad = 0, checks = 0;
  while (!atomic_load(&c->done) || checks == 0) {
    cairn_colview iv, sv;
    cairn_column_snapshot(c->ints, &iv);
    cairn_column_snapshot(c->strs, &sv);
    size_t from = iv.n_rows > 64 ? iv.n_rows - 64 : 0;
    for (size_t r = from; r < iv.n_rows; r++) {
      bool valid = cairn_colview_valid(&iv, r);
      if (valid != (r % 5 != 0) ||
          (valid && ((const int64_t *)iv.col.values)[r] != (int64_t)r * 3))
        bad++;
    }
    from = sv.n_rows > 16 ? sv.n_rows - 16 : 0;
    for (size_t r = from; r < sv.n_rows; r++) {
      char want[32];
      size_t len, wl = (size_t)snprintf(want, sizeof want, "row-%zu", r);
      const char *s = cairn_colview_string(&sv, r, &len);
      if (len != wl || memcmp(s, want, len) != 0)
        bad++;
    }
    checks++;
  }
  atomic_fetch_add(&c->checks, checks);
  return (void *)(intptr_t)bad;
}

static void test_concurrent_append_read(void **state) {
  (void)state;
  conc c = {0};
  cairn_error err;
  cairn_column_type it = {.type = CAIRN_TYPE_INT64, .nullable = true};
  cairn_column_type st = {.type = CAIRN_TYPE_VARCHAR};
  assert_int_equal(cairn_column_new(&it, &c.ints, &err), CAIRN_OK);
  assert_int_equal(cairn_column_new(&st, &c.strs, &err), CAIRN_OK);
  pthread_t w, r[CONC_READERS];
  for (int i = 0; i < CONC_READERS; i++)
    pthread_create(&r[i], NULL, reader, &c);
  pthread_create(&w, NULL, writer, &c);
  pthread_join(w, NULL);
  long bad = 0;
  for (int i = 0; i < CONC_READERS; i++) {
    void *res;
    pthread_join(r[i], &res);
    bad += (long)(intptr_t)res;
  }
  printf("# concurrent: %ld reader snapshots checked\n", atomic_load(&c.checks));
  assert_int_equal(bad, 0);
  assert_int_equal(cairn_column_rows(c.ints), CONC_ROWS);
  size_t before = cairn_column_memory(c.ints);
  cairn_column_reclaim(c.ints);
  assert_true(cairn_column_memory(c.ints) < before);
  cairn_colview v;
  cairn_column_snapshot(c.ints, &v);
  assert_int_equal(((const int64_t *)v.col.values)[CONC_ROWS - 1],
                   (int64_t)(CONC_ROWS - 1) * 3);
  cairn_column_free(c.ints);
  cairn_column_free(c.strs);
}

/* The filter engine evaluates straight on column views. */
static void test_expr_on_view(void **state) {
  (void)state;
  cairn_field fields[2] = {
      {.id = 100, .name = "price", .type = CAIRN_TYPE_INT64, .nullable = true},
      {.id = 101, .name = "tag", .type = CAIRN_TYPE_VARCHAR, .max_length = 10},
  };
  cairn_schema schema = {.name = "t", .n_fields = 2, .fields = fields};
  cairn_column *price = NULL, *tag = NULL;
  cairn_error err;
  assert_int_equal(cairn_column_new_field(&fields[0], &price, &err), CAIRN_OK);
  assert_int_equal(cairn_column_new_field(&fields[1], &tag, &err), CAIRN_OK);
  int64_t pv[4] = {5, 50, 500, 70};
  bool valid[4] = {true, true, true, false};
  assert_int_equal(cairn_column_append_fixed(price, pv, valid, 4, &err), CAIRN_OK);
  const char *tp[4] = {"a1", "b2", "a3", "a4"};
  size_t tl[4] = {2, 2, 2, 2};
  assert_int_equal(cairn_column_append_strings(tag, tp, tl, NULL, 4, &err), CAIRN_OK);
  cairn_expr_column cols[2];
  size_t n;
  cols[0] = cairn_column_view(price, &n);
  cols[1] = cairn_column_view(tag, &n);
  cairn_expr_batch batch = {&schema, n, 2, cols};
  cairn_expr *e = NULL;
  assert_int_equal(cairn_expr_parse(&schema, "price > 10 and tag like \"a%\"",
                                    NULL, &e, &err), CAIRN_OK);
  uint64_t bits[1];
  assert_int_equal(cairn_expr_eval(e, &batch, bits, &err), CAIRN_OK);
  assert_int_equal(bits[0], 0x4); /* row 2 only: row 3 is null */
  cairn_expr_free(e);
  cairn_column_free(price);
  cairn_column_free(tag);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gather_every_type),
      cmocka_unit_test(test_append_values),
      cmocka_unit_test(test_append_errors),
      cmocka_unit_test(test_sparse_normalize),
      cmocka_unit_test(test_vector_bulk),
      cmocka_unit_test(test_concurrent_append_read),
      cmocka_unit_test(test_expr_on_view),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
