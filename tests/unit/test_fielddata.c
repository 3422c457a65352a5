/*
 * test_fielddata.c — the FieldData codec: columns of every type built into
 * FieldData, packed as an InsertRequest, unpacked and decoded back to equal
 * columns (twice round); nullable dense and compact forms, defaults,
 * missing fields, $meta (fill, key filter), sparse sorting, auto_id and
 * upsert; every validation error with its message; the schema converter;
 * IDs; decode speed.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fielddata.h"
#include "milvus.pb-c.h"
#include "test_column_util.h"

typedef Milvus__Proto__Milvus__InsertRequest insert_req;

enum { F_ID, F_B, F_I8, F_I16, F_I32, F_I64, F_F, F_D, F_S, F_J, F_AI, F_AS,
       F_AB, F_AD, F_FV, F_HV, F_BFV, F_BV, F_IV, F_SV, F_NI, F_NS, F_NJ, F_NA,
       F_DI, F_DS, F_ND, F_META, F_COUNT };

#define FLD(i, nm, ty, ...) [i] = {.id = 100 + i, .name = nm, .type = ty, __VA_ARGS__}
static cairn_field fields[F_COUNT] = {
    FLD(F_ID, "id", CAIRN_TYPE_INT64, .is_primary = true),
    FLD(F_B, "b", CAIRN_TYPE_BOOL),
    FLD(F_I8, "i8", CAIRN_TYPE_INT8),
    FLD(F_I16, "i16", CAIRN_TYPE_INT16),
    FLD(F_I32, "i32", CAIRN_TYPE_INT32),
    FLD(F_I64, "i64", CAIRN_TYPE_INT64),
    FLD(F_F, "f", CAIRN_TYPE_FLOAT),
    FLD(F_D, "d", CAIRN_TYPE_DOUBLE),
    FLD(F_S, "s", CAIRN_TYPE_VARCHAR, .max_length = 16),
    FLD(F_J, "j", CAIRN_TYPE_JSON),
    FLD(F_AI, "ai", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_INT32, .max_capacity = 4),
    FLD(F_AS, "as", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_VARCHAR,
        .max_capacity = 4, .max_length = 8),
    FLD(F_AB, "ab", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_BOOL, .max_capacity = 4),
    FLD(F_AD, "ad", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_DOUBLE, .max_capacity = 4),
    FLD(F_FV, "fv", CAIRN_TYPE_FLOAT_VECTOR, .dim = 4),
    FLD(F_HV, "hv", CAIRN_TYPE_FLOAT16_VECTOR, .dim = 4),
    FLD(F_BFV, "bfv", CAIRN_TYPE_BFLOAT16_VECTOR, .dim = 3),
    FLD(F_BV, "bv", CAIRN_TYPE_BINARY_VECTOR, .dim = 16),
    FLD(F_IV, "iv", CAIRN_TYPE_INT8_VECTOR, .dim = 5),
    FLD(F_SV, "sv", CAIRN_TYPE_SPARSE_FLOAT_VECTOR),
    FLD(F_NI, "ni", CAIRN_TYPE_INT32, .nullable = true),
    FLD(F_NS, "ns", CAIRN_TYPE_VARCHAR, .nullable = true, .max_length = 16),
    FLD(F_NJ, "nj", CAIRN_TYPE_JSON, .nullable = true),
    FLD(F_NA, "na", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_INT64,
        .nullable = true, .max_capacity = 4),
    FLD(F_DI, "di", CAIRN_TYPE_INT64,
        .default_value = {.type = CAIRN_TYPE_INT64, .u.i = 42}),
    FLD(F_DS, "ds", CAIRN_TYPE_VARCHAR, .max_length = 16,
        .default_value = {.type = CAIRN_TYPE_VARCHAR, .u.s = "dflt"}),
    FLD(F_ND, "nd", CAIRN_TYPE_DOUBLE, .nullable = true,
        .default_value = {.type = CAIRN_TYPE_DOUBLE, .u.d = 1.5}),
    FLD(F_META, "$meta", CAIRN_TYPE_JSON, .is_dynamic = true),
};
static cairn_schema schema = {.name = "all", .enable_dynamic = true,
                              .n_fields = F_COUNT, .fields = fields};

enum { ROWS = 23 };

typedef struct fixture {
  cairn_column *cols[F_COUNT];
  cairn_arena *arena;
  cairn_pb_field_data *fds[F_COUNT + 2];
  size_t n_fds;
} fixture;

static int64_t all_rows[ROWS];

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  fx->arena = cairn_arena_new();
  cairn_error err;
  for (int i = 0; i < ROWS; i++)
    all_rows[i] = i;
  for (int f = 0; f < F_COUNT; f++) {
    cairn_column_type t = cairn_column_type_of(&fields[f]);
    if (f == F_ID) {
      assert_int_equal(cairn_column_new(&t, &fx->cols[f], &err), CAIRN_OK);
      for (int64_t r = 0; r < ROWS; r++) {
        int64_t v = r * 10 + 1;
        assert_int_equal(cairn_column_append_fixed(fx->cols[f], &v, NULL, 1, &err), CAIRN_OK);
      }
    } else {
      fx->cols[f] = cu_make(&t, ROWS, (unsigned)f * 7 + 1);
    }
    cairn_colview v;
    cairn_column_snapshot(fx->cols[f], &v);
    assert_int_equal(cairn_fielddata_build(fx->arena, &fields[f], &v, all_rows, ROWS,
                                           NULL, 0, &fx->fds[f], &err), CAIRN_OK);
  }
  fx->n_fds = F_COUNT;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  for (int f = 0; f < F_COUNT; f++)
    cairn_column_free(fx->cols[f]);
  cairn_arena_free(fx->arena);
  free(fx);
  return 0;
}

/* Packs the FieldData as an InsertRequest and unpacks it (the wire). */
static insert_req *wire(cairn_pb_field_data **fds, size_t n, uint32_t rows) {
  insert_req req = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
  req.collection_name = "all";
  req.fields_data = fds;
  req.n_fields_data = n;
  req.num_rows = rows;
  size_t len = milvus__proto__milvus__insert_request__get_packed_size(&req);
  uint8_t *buf = malloc(len ? len : 1);
  milvus__proto__milvus__insert_request__pack(&req, buf);
  insert_req *out = milvus__proto__milvus__insert_request__unpack(NULL, len, buf);
  free(buf);
  assert_non_null(out);
  return out;
}

static cairn_status decode(fixture *fx, const cairn_fielddata_opts *opts,
                           cairn_insert_batch **out, cairn_error *err) {
  insert_req *req = wire(fx->fds, fx->n_fds, ROWS);
  cairn_status st = cairn_fielddata_decode(&schema, req->fields_data,
                                           req->n_fields_data, req->num_rows,
                                           opts, out, err);
  milvus__proto__milvus__insert_request__free_unpacked(req, NULL);
  return st;
}

static void expect_error(fixture *fx, size_t rows, const char *needle) {
  cairn_insert_batch *b = NULL;
  cairn_error err;
  cairn_status st = cairn_fielddata_decode(&schema, fx->fds, fx->n_fds, rows,
                                           NULL, &b, &err);
  if (st != CAIRN_INVALID_ARGUMENT || strstr(err.message, needle) == NULL)
    fail_msg("expected INVALID_ARGUMENT with \"%s\", got %s: %s", needle,
             cairn_status_name(st), st == CAIRN_OK ? "" : err.message);
  assert_null(b);
  assert_int_equal(cairn_status_milvus_code(st), 1100);
}

/* Null rows of the nullable default field became the default. */
static void check_nd(const cairn_column *orig, const cairn_column *got) {
  cairn_colview o, g;
  cairn_column_snapshot(orig, &o);
  cairn_column_snapshot(got, &g);
  for (size_t r = 0; r < ROWS; r++) {
    assert_true(cairn_colview_valid(&g, r));
    double want = cairn_colview_valid(&o, r) ? ((const double *)o.col.values)[r] : 1.5;
    assert_true(((const double *)g.col.values)[r] == want);
  }
}

static void test_roundtrip_every_type(void **state) {
  fixture *fx = *state;
  cairn_insert_batch *b = NULL;
  cairn_error err;
  if (decode(fx, NULL, &b, &err) != CAIRN_OK)
    fail_msg("decode: %s", err.message);
  assert_int_equal(b->n_rows, ROWS);
  for (int f = 0; f < F_COUNT; f++) {
    cairn_colview o, g;
    cairn_column_snapshot(fx->cols[f], &o);
    cairn_column_snapshot(b->columns[f], &g);
    if (f == F_ND) {
      check_nd(fx->cols[f], b->columns[f]);
      continue;
    }
    if (!cu_views_equal(&o, &g))
      fail_msg("field %s differs after decode", fields[f].name);
  }
  /* and once more: columns -> FieldData -> columns */
  cairn_arena *a = cairn_arena_new();
  cairn_pb_field_data *fds[F_COUNT];
  for (int f = 0; f < F_COUNT; f++) {
    cairn_colview g;
    cairn_column_snapshot(b->columns[f], &g);
    assert_int_equal(cairn_fielddata_build(a, &fields[f], &g, all_rows, ROWS, NULL, 0,
                                           &fds[f], &err), CAIRN_OK);
  }
  assert_int_equal(fds[F_FV]->vectors->dim, 4);
  assert_int_equal(fds[F_NI]->n_valid_data, ROWS);
  assert_false(fds[F_NI]->valid_data[1]);
  assert_int_equal(fds[F_I32]->n_valid_data, 0);
  cairn_insert_batch *b2 = NULL;
  insert_req *req = wire(fds, F_COUNT, ROWS);
  assert_int_equal(cairn_fielddata_decode(&schema, req->fields_data, F_COUNT, ROWS,
                                          NULL, &b2, &err), CAIRN_OK);
  milvus__proto__milvus__insert_request__free_unpacked(req, NULL);
  for (int f = 0; f < F_COUNT; f++) {
    cairn_colview g, g2;
    cairn_column_snapshot(b->columns[f], &g);
    cairn_column_snapshot(b2->columns[f], &g2);
    if (!cu_views_equal(&g, &g2))
      fail_msg("field %s differs after the second round", fields[f].name);
  }
  cairn_insert_batch_free(b2);
  cairn_insert_batch_free(b);
  cairn_arena_free(a);
}

/* Gathered output rows (query results) decode to the same rows. */
static void test_build_subset(void **state) {
  fixture *fx = *state;
  cairn_arena *a = cairn_arena_new();
  cairn_error err;
  int64_t rows[4] = {22, 1, 1, 7};
  for (int f = 0; f < F_COUNT; f++) {
    if (f == F_ID || f == F_ND)
      continue;
    cairn_colview v, g;
    cairn_column_snapshot(fx->cols[f], &v);
    cairn_pb_field_data *fd;
    assert_int_equal(cairn_fielddata_build(a, &fields[f], &v, rows, 4, NULL, 0, &fd, &err),
                     CAIRN_OK);
    cairn_field one = fields[f];
    one.is_primary = false;
    cairn_schema s1 = {.name = "one", .n_fields = 1, .fields = &one,
                       .enable_dynamic = one.is_dynamic};
    cairn_insert_batch *b = NULL;
    if (cairn_fielddata_decode(&s1, &fd, 1, 4, NULL, &b, &err) != CAIRN_OK)
      fail_msg("field %s: %s", fields[f].name, err.message);
    cairn_column_snapshot(b->columns[0], &g);
    assert_true(cu_rows_equal(&v, rows, &g, NULL, 4));
    cairn_insert_batch_free(b);
  }
  int64_t bad[1] = {ROWS};
  cairn_colview v;
  cairn_column_snapshot(fx->cols[F_I32], &v);
  cairn_pb_field_data *fd;
  assert_int_equal(cairn_fielddata_build(a, &fields[F_I32], &v, bad, 1, NULL, 0, &fd, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_fielddata_build(a, &fields[F_I64], &v, all_rows, 1, NULL, 0, &fd, &err),
                   CAIRN_INVALID_ARGUMENT);
  cairn_arena_free(a);
}

static void remove_field(fixture *fx, int f) {
  for (size_t i = 0; i < fx->n_fds; i++)
    if (strcmp(fx->fds[i]->field_name, fields[f].name) == 0) {
      memmove(&fx->fds[i], &fx->fds[i + 1], (fx->n_fds - i - 1) * sizeof fx->fds[0]);
      fx->n_fds--;
      return;
    }
}

/* Missing fields: defaults, nulls, "{}" for $meta, error otherwise. */
static void test_missing_fields(void **state) {
  fixture *fx = *state;
  cairn_pb_field_data *saved[F_COUNT];
  memcpy(saved, fx->fds, sizeof saved);
  remove_field(fx, F_META);
  remove_field(fx, F_ND);
  remove_field(fx, F_DS);
  remove_field(fx, F_DI);
  remove_field(fx, F_NA);
  remove_field(fx, F_NS);
  cairn_insert_batch *b = NULL;
  cairn_error err;
  if (cairn_fielddata_decode(&schema, fx->fds, fx->n_fds, ROWS, NULL, &b, &err) != CAIRN_OK)
    fail_msg("decode: %s", err.message);
  cairn_colview v;
  size_t len;
  cairn_column_snapshot(b->columns[F_META], &v);
  assert_memory_equal(cairn_colview_string(&v, 5, &len), "{}", 2);
  assert_int_equal(len, 2);
  cairn_column_snapshot(b->columns[F_DI], &v);
  assert_int_equal(((const int64_t *)v.col.values)[9], 42);
  cairn_column_snapshot(b->columns[F_DS], &v);
  assert_memory_equal(cairn_colview_string(&v, 0, &len), "dflt", 4);
  cairn_column_snapshot(b->columns[F_ND], &v);
  assert_true(cairn_colview_valid(&v, 3));
  assert_true(((const double *)v.col.values)[3] == 1.5);
  cairn_column_snapshot(b->columns[F_NS], &v);
  assert_false(cairn_colview_valid(&v, 0));
  assert_int_equal(v.n_rows, ROWS);
  cairn_column_snapshot(b->columns[F_NA], &v);
  assert_false(cairn_colview_valid(&v, ROWS - 1));
  cairn_insert_batch_free(b);

  remove_field(fx, F_I16);
  expect_error(fx, ROWS, "Insert missed an field `i16`");
  memcpy(fx->fds, saved, sizeof saved);
  fx->n_fds = F_COUNT;
}

static void test_auto_id_and_upsert(void **state) {
  fixture *fx = *state;
  fields[F_ID].auto_id = true;
  expect_error(fx, ROWS, "auto_id");
  cairn_insert_batch *b = NULL;
  cairn_error err;
  cairn_fielddata_opts up = {.upsert = true};
  assert_int_equal(cairn_fielddata_decode(&schema, fx->fds, fx->n_fds, ROWS, &up, &b, &err),
                   CAIRN_OK);
  assert_non_null(b->columns[F_ID]);
  cairn_insert_batch_free(b);
  cairn_pb_field_data *saved = fx->fds[F_ID];
  fx->fds[F_ID] = fx->fds[--fx->n_fds]; /* drop the pk */
  assert_int_equal(cairn_fielddata_decode(&schema, fx->fds, fx->n_fds, ROWS, NULL, &b, &err),
                   CAIRN_OK);
  assert_null(b->columns[F_ID]); /* the caller assigns ids */
  cairn_insert_batch_free(b);
  assert_int_equal(cairn_fielddata_decode(&schema, fx->fds, fx->n_fds, ROWS, &up, &b, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "missed an field `id`"));
  fx->fds[fx->n_fds++] = fx->fds[F_ID];
  fx->fds[F_ID] = saved;
  fields[F_ID].auto_id = false;
}

/* Compact nullable columns: data for valid rows only. */
static void test_compact_nullable(void **state) {
  (void)state;
  cairn_field fs[4] = {
      {.id = 100, .name = "pk", .type = CAIRN_TYPE_VARCHAR, .is_primary = true, .max_length = 8},
      {.id = 101, .name = "n", .type = CAIRN_TYPE_INT32, .nullable = true},
      {.id = 102, .name = "s", .type = CAIRN_TYPE_VARCHAR, .nullable = true, .max_length = 8},
      {.id = 103, .name = "v", .type = CAIRN_TYPE_FLOAT_VECTOR, .nullable = true, .dim = 2},
  };
  cairn_schema s = {.name = "c", .n_fields = 4, .fields = fs};
  char *pks[3] = {"a", "b", "c"}, *strs[1] = {"only"};
  int32_t ints[2] = {7, 9};
  float vec[4] = {1, 2, 3, 4};
  protobuf_c_boolean valid_n[3] = {1, 0, 1}, valid_s[3] = {0, 1, 0}, valid_v[3] = {1, 1, 0};
  Milvus__Proto__Schema__StringArray pka = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT,
                                     sa = MILVUS__PROTO__SCHEMA__STRING_ARRAY__INIT;
  Milvus__Proto__Schema__IntArray ia = MILVUS__PROTO__SCHEMA__INT_ARRAY__INIT;
  Milvus__Proto__Schema__FloatArray fa = MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
  pka.n_data = 3; pka.data = pks;
  sa.n_data = 1; sa.data = strs;
  ia.n_data = 2; ia.data = ints;
  fa.n_data = 4; fa.data = vec;
  Milvus__Proto__Schema__ScalarField s0 = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT,
                                     s1 = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT,
                                     s2 = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
  s0.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA; s0.string_data = &pka;
  s1.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA; s1.int_data = &ia;
  s2.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA; s2.string_data = &sa;
  Milvus__Proto__Schema__VectorField vf = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
  vf.dim = 2;
  vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
  vf.float_vector = &fa;
  cairn_pb_field_data f0 = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT, f1 = f0, f2 = f0, f3 = f0;
  f0.field_name = "pk"; f0.type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_VARCHAR;
  f0.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS; f0.scalars = &s0;
  f1.field_name = "n"; f1.type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_INT32; f1.n_valid_data = 3; f1.valid_data = valid_n;
  f1.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS; f1.scalars = &s1;
  f2.field_name = "s"; f2.type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_VARCHAR; f2.n_valid_data = 3; f2.valid_data = valid_s;
  f2.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS; f2.scalars = &s2;
  f3.field_name = "v"; f3.type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_FLOAT_VECTOR; f3.n_valid_data = 3; f3.valid_data = valid_v;
  f3.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS; f3.vectors = &vf;
  cairn_pb_field_data *fds[4] = {&f0, &f1, &f2, &f3};
  cairn_insert_batch *b = NULL;
  cairn_error err;
  if (cairn_fielddata_decode(&s, fds, 4, 3, NULL, &b, &err) != CAIRN_OK)
    fail_msg("decode: %s", err.message);
  cairn_colview v;
  cairn_column_snapshot(b->columns[1], &v);
  assert_true(cairn_colview_valid(&v, 0));
  assert_false(cairn_colview_valid(&v, 1));
  assert_int_equal(((const int32_t *)v.col.values)[2], 9);
  cairn_column_snapshot(b->columns[2], &v);
  size_t len;
  assert_memory_equal(cairn_colview_string(&v, 1, &len), "only", 4);
  assert_false(cairn_colview_valid(&v, 2));
  cairn_column_snapshot(b->columns[3], &v);
  assert_true(((const float *)cairn_colview_vector(&v, 1))[1] == 4.0f);
  assert_false(cairn_colview_valid(&v, 2));
  /* output of nullable vectors is compact */
  cairn_arena *a = cairn_arena_new();
  cairn_pb_field_data *out;
  int64_t rows[3] = {0, 1, 2};
  assert_int_equal(cairn_fielddata_build(a, &fs[3], &v, rows, 3, NULL, 0, &out, &err), CAIRN_OK);
  assert_int_equal(out->vectors->float_vector->n_data, 4);
  assert_int_equal(out->n_valid_data, 3);
  cairn_insert_batch_free(b);
  /* duplicate VarChar pks */
  pks[2] = "a";
  assert_int_equal(cairn_fielddata_decode(&s, fds, 4, 3, NULL, &b, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "duplicate primary key 'a'"));
  cairn_fielddata_opts allow = {.allow_duplicate_pks = true};
  assert_int_equal(cairn_fielddata_decode(&s, fds, 4, 3, &allow, &b, &err), CAIRN_OK);
  cairn_insert_batch_free(b);
  pks[2] = "c";
  /* a count that is neither dense nor compact */
  ia.n_data = 1;
  assert_int_equal(cairn_fielddata_decode(&s, fds, 4, 3, NULL, &b, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "num_rows"));
  ia.n_data = 2;
  f1.n_valid_data = 2;
  assert_int_equal(cairn_fielddata_decode(&s, fds, 4, 3, NULL, &b, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "valid_data"));
  cairn_arena_free(a);
}

/* Sparse rows arrive unsorted from the Node SDK. */
static void test_sparse_rows(void **state) {
  (void)state;
  cairn_field fs[2] = {
      {.id = 100, .name = "pk", .type = CAIRN_TYPE_INT64, .is_primary = true},
      {.id = 101, .name = "sv", .type = CAIRN_TYPE_SPARSE_FLOAT_VECTOR},
  };
  cairn_schema s = {.name = "sp", .n_fields = 2, .fields = fs};
  int64_t pks[2] = {1, 2};
  cairn_sparse_pair r0[3] = {{30, 0.5f}, {2, 1.0f}, {7, 0.25f}}, r1[1] = {{4, 2.0f}};
  ProtobufCBinaryData rows[2] = {{sizeof r0, (uint8_t *)r0}, {sizeof r1, (uint8_t *)r1}};
  Milvus__Proto__Schema__SparseFloatArray sa = MILVUS__PROTO__SCHEMA__SPARSE_FLOAT_ARRAY__INIT;
  sa.n_contents = 2; sa.contents = rows;
  Milvus__Proto__Schema__VectorField vf = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
  vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
  vf.sparse_float_vector = &sa;
  Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
  la.n_data = 2; la.data = pks;
  Milvus__Proto__Schema__ScalarField sc = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
  sc.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA; sc.long_data = &la;
  cairn_pb_field_data f0 = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT, f1 = f0;
  f0.field_name = "pk"; f0.type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_INT64;
  f0.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS; f0.scalars = &sc;
  f1.field_name = "sv"; f1.type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_SPARSE_FLOAT_VECTOR;
  f1.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS; f1.vectors = &vf;
  cairn_pb_field_data *fds[2] = {&f0, &f1};
  cairn_insert_batch *b = NULL;
  cairn_error err;
  assert_int_equal(cairn_fielddata_decode(&s, fds, 2, 2, NULL, &b, &err), CAIRN_OK);
  cairn_colview v;
  cairn_column_snapshot(b->columns[1], &v);
  size_t n;
  const cairn_sparse_pair *p = cairn_colview_sparse(&v, 0, &n);
  assert_int_equal(n, 3);
  assert_int_equal(p[0].index, 2);
  assert_int_equal(p[2].index, 30);
  assert_true(p[2].value == 0.5f);
  cairn_arena *a = cairn_arena_new();
  cairn_pb_field_data *out;
  int64_t idx[2] = {0, 1};
  assert_int_equal(cairn_fielddata_build(a, &fs[1], &v, idx, 2, NULL, 0, &out, &err), CAIRN_OK);
  assert_int_equal(out->vectors->sparse_float_vector->dim, 31);
  assert_int_equal(out->vectors->sparse_float_vector->contents[0].len, 24);
  cairn_arena_free(a);
  cairn_insert_batch_free(b);

  r0[1].index = 30; /* duplicate index */
  assert_int_equal(cairn_fielddata_decode(&s, fds, 2, 2, NULL, &b, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "duplicate index 30"));
  r0[1].index = 2;
  r1[0].value = -1.0f;
  assert_int_equal(cairn_fielddata_decode(&s, fds, 2, 2, NULL, &b, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "non-negative"));
  r1[0].value = 1.0f;
  rows[1].len = 5;
  assert_int_equal(cairn_fielddata_decode(&s, fds, 2, 2, NULL, &b, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "multiple of 8"));
}

/* ---- every validation error ---------------------------------------------------- */

static void test_errors(void **state) {
  fixture *fx = *state;
  cairn_arena *a = fx->arena;
  expect_error(fx, 0, "greater than 0");
  expect_error(fx, ROWS + 1, "num_rows");

  char *name = fx->fds[F_I32]->field_name;
  fx->fds[F_I32]->field_name = "nope";
  expect_error(fx, ROWS, "inside $meta");
  schema.enable_dynamic = false;
  fields[F_META].is_dynamic = false;
  fields[F_META].name = "not_meta"; /* a schema without $meta */
  expect_error(fx, ROWS, "unexpected field `nope`");
  fx->fds[F_I32]->field_name = name;
  expect_error(fx, ROWS, "dynamic field is not enabled");
  schema.enable_dynamic = true;
  fields[F_META].is_dynamic = true;
  fields[F_META].name = "$meta";

  fx->fds[fx->n_fds++] = fx->fds[F_B];
  expect_error(fx, ROWS, "duplicated field name `b`");
  fx->n_fds--;

  fx->fds[F_I64]->type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_INT32;
  expect_error(fx, ROWS, "data type of field `i64` mismatch");
  fx->fds[F_I64]->type = (Milvus__Proto__Schema__DataType)CAIRN_TYPE_INT64;
  Milvus__Proto__Schema__ScalarField *i32 = fx->fds[F_I32]->scalars;
  Milvus__Proto__Schema__ScalarField *i64 = fx->fds[F_I64]->scalars;
  fx->fds[F_I32]->scalars = i64;
  expect_error(fx, ROWS, "i32 is illegal, array type mismatch");
  fx->fds[F_I32]->scalars = i32;

  /* vectors */
  Milvus__Proto__Schema__VectorField *fv = fx->fds[F_FV]->vectors;
  fv->dim = 5;
  expect_error(fx, ROWS, "is not equal to schema dim");
  fv->dim = 4;
  fv->float_vector->n_data--;
  expect_error(fx, ROWS, "multiple of dim");
  fv->float_vector->n_data -= 3;
  expect_error(fx, ROWS, "num_rows");
  fv->float_vector->n_data += 4;
  float keep = fv->float_vector->data[9];
  fv->float_vector->data[9] = NAN;
  expect_error(fx, ROWS, "NaN or Inf");
  fv->float_vector->data[9] = INFINITY;
  expect_error(fx, ROWS, "row 2 is NaN or Inf");
  fv->float_vector->data[9] = keep;
  fx->fds[F_BV]->vectors->binary_vector.len--;
  expect_error(fx, ROWS, "multiple of dim");
  fx->fds[F_BV]->vectors->binary_vector.len++;

  /* scalars */
  float fkeep = fx->fds[F_F]->scalars->float_data->data[3];
  fx->fds[F_F]->scalars->float_data->data[3] = INFINITY;
  expect_error(fx, ROWS, "NaN or Inf");
  fx->fds[F_F]->scalars->float_data->data[3] = fkeep;
  double dkeep = fx->fds[F_D]->scalars->double_data->data[3];
  fx->fds[F_D]->scalars->double_data->data[3] = NAN;
  expect_error(fx, ROWS, "NaN or Inf");
  fx->fds[F_D]->scalars->double_data->data[3] = dkeep;
  int32_t ikeep = fx->fds[F_I8]->scalars->int_data->data[4];
  fx->fds[F_I8]->scalars->int_data->data[4] = 200;
  expect_error(fx, ROWS, "(200) out of range: [-128, 127]");
  fx->fds[F_I8]->scalars->int_data->data[4] = ikeep;
  ikeep = fx->fds[F_I16]->scalars->int_data->data[4];
  fx->fds[F_I16]->scalars->int_data->data[4] = -40000;
  expect_error(fx, ROWS, "out of range");
  fx->fds[F_I16]->scalars->int_data->data[4] = ikeep;

  char **strs = fx->fds[F_S]->scalars->string_data->data;
  char *skeep = strs[2];
  strs[2] = "12345678901234567";
  expect_error(fx, ROWS, "length of varchar field s exceeds max length, row number: 2");
  strs[2] = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"; /* 9 chars, 18 bytes */
  expect_error(fx, ROWS, "length: 18, max length: 16");
  strs[2] = "ab\xff";
  expect_error(fx, ROWS, "not valid UTF-8");
  strs[2] = "\xed\xa0\x80"; /* a surrogate */
  expect_error(fx, ROWS, "not valid UTF-8");
  strs[2] = skeep;

  /* JSON */
  ProtobufCBinaryData *js = fx->fds[F_J]->scalars->json_data->data;
  ProtobufCBinaryData jkeep = js[1];
  js[1] = (ProtobufCBinaryData){5, (uint8_t *)"{\"a\":"};
  expect_error(fx, ROWS, "row 1 is not valid JSON");
  js[1] = (ProtobufCBinaryData){6, (uint8_t *)"{} xyz"};
  expect_error(fx, ROWS, "not valid JSON");
  js[1] = (ProtobufCBinaryData){0, (uint8_t *)""};
  expect_error(fx, ROWS, "row 1 is not valid JSON"); /* empty: null, not allowed */
  size_t big = CAIRN_JSON_MAX_LENGTH + 10;
  char *huge = cairn_arena_alloc(a, big);
  memset(huge, ' ', big);
  huge[0] = '1';
  js[1] = (ProtobufCBinaryData){big, (uint8_t *)huge};
  expect_error(fx, ROWS, "maximum");
  js[1] = jkeep;
  ProtobufCBinaryData *meta = fx->fds[F_META]->scalars->json_data->data;
  ProtobufCBinaryData mkeep = meta[0];
  meta[0] = (ProtobufCBinaryData){3, (uint8_t *)"[1]"};
  expect_error(fx, ROWS, "not a JSON object");
  meta[0] = (ProtobufCBinaryData){8, (uint8_t *)"{\"i8\":1}"};
  expect_error(fx, ROWS, "static field name");
  meta[0] = mkeep;

  /* arrays */
  Milvus__Proto__Schema__ArrayArray *ai = fx->fds[F_AI]->scalars->array_data;
  Milvus__Proto__Schema__ScalarField *rkeep = ai->data[0];
  ai->data[0] = fx->fds[F_I64]->scalars;
  expect_error(fx, ROWS, "array field ai: row 0 holds elements of the wrong type");
  Milvus__Proto__Schema__IntArray five = MILVUS__PROTO__SCHEMA__INT_ARRAY__INIT;
  int32_t fv5[5] = {1, 2, 3, 4, 5};
  five.n_data = 5;
  five.data = fv5;
  Milvus__Proto__Schema__ScalarField row5 = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
  row5.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
  row5.int_data = &five;
  ai->data[0] = &row5;
  expect_error(fx, ROWS, "max_capacity 4");
  ai->data[0] = rkeep;
  ai->element_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
  expect_error(fx, ROWS, "element type Int64 does not match");
  ai->element_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int32;
  Milvus__Proto__Schema__ArrayArray *as = fx->fds[F_AS]->scalars->array_data;
  size_t r = 0;
  while (as->data[r]->string_data == NULL || as->data[r]->string_data->n_data == 0)
    r++;
  char *ekeep = as->data[r]->string_data->data[0];
  as->data[r]->string_data->data[0] = "toolongelement";
  expect_error(fx, ROWS, "length of varchar field as exceeds max length");
  as->data[r]->string_data->data[0] = ekeep;

  /* valid_data on a field that takes no nulls */
  protobuf_c_boolean *vd = cairn_arena_alloc(a, ROWS * sizeof *vd);
  for (int i = 0; i < ROWS; i++)
    vd[i] = i != 3;
  fx->fds[F_I32]->valid_data = vd;
  fx->fds[F_I32]->n_valid_data = ROWS;
  expect_error(fx, ROWS, "valid_data marks row 3 as null");
  fx->fds[F_I32]->n_valid_data = 0;

  /* duplicate Int64 pks */
  int64_t *pk = fx->fds[F_ID]->scalars->long_data->data;
  int64_t pkeep = pk[5];
  pk[5] = pk[17];
  expect_error(fx, ROWS, "duplicate primary key 171");
  pk[5] = pkeep;

  /* all fixed again: decodes */
  cairn_insert_batch *b = NULL;
  cairn_error err;
  assert_int_equal(cairn_fielddata_decode(&schema, fx->fds, fx->n_fds, ROWS, NULL, &b, &err),
                   CAIRN_OK);
  cairn_insert_batch_free(b);
}

/* $meta output keeps only the requested keys. */
static void test_meta_filter(void **state) {
  fixture *fx = *state;
  cairn_arena *a = cairn_arena_new();
  cairn_error err;
  char *out;
  size_t len;
  const char *keys[2] = {"b", "zz"};
  assert_int_equal(cairn_json_filter_keys(a, "{\"a\":1,\"b\":[1,2],\"c\":{}}", 24, keys, 2,
                                          &out, &len, &err), CAIRN_OK);
  assert_string_equal(out, "{\"b\":[1,2]}");
  assert_int_equal(len, strlen(out));
  assert_int_equal(cairn_json_filter_keys(a, "[1]", 3, keys, 2, &out, &len, &err), CAIRN_OK);
  assert_string_equal(out, "{}");
  assert_int_equal(cairn_json_filter_keys(a, "{bad", 4, keys, 2, &out, &len, &err), CAIRN_OK);
  assert_string_equal(out, "{}");
  cairn_colview v;
  cairn_column_snapshot(fx->cols[F_META], &v);
  const char *k[1] = {"r"};
  cairn_pb_field_data *fd;
  int64_t rows[2] = {4, 9};
  assert_int_equal(cairn_fielddata_build(a, &fields[F_META], &v, rows, 2, k, 1, &fd, &err),
                   CAIRN_OK);
  assert_true(fd->is_dynamic);
  assert_int_equal(fd->scalars->json_data->n_data, 2);
  assert_memory_equal(fd->scalars->json_data->data[1].data, "{\"r\":9}", 7);
  cairn_arena_free(a);
}

static void test_ids(void **state) {
  fixture *fx = *state;
  cairn_arena *a = cairn_arena_new();
  cairn_error err;
  cairn_colview v;
  cairn_column_snapshot(fx->cols[F_ID], &v);
  int64_t rows[3] = {2, 0, 22};
  cairn_pb_ids *ids;
  assert_int_equal(cairn_ids_from_column(a, &v, rows, 3, &ids, &err), CAIRN_OK);
  assert_int_equal(ids->id_field_case, MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID);
  assert_int_equal(ids->int_id->n_data, 3);
  assert_int_equal(ids->int_id->data[2], 221);
  cairn_column_snapshot(fx->cols[F_S], &v);
  assert_int_equal(cairn_ids_from_column(a, &v, rows, 3, &ids, &err), CAIRN_OK);
  assert_int_equal(ids->id_field_case, MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID);
  size_t len;
  const char *s = cairn_colview_string(&v, 2, &len);
  assert_int_equal(strlen(ids->str_id->data[0]), len);
  assert_memory_equal(ids->str_id->data[0], s, len);
  cairn_column_snapshot(fx->cols[F_F], &v);
  assert_int_equal(cairn_ids_from_column(a, &v, rows, 3, &ids, &err), CAIRN_INVALID_ARGUMENT);
  const char *names[2] = {"x", "yy"};
  ids = cairn_ids_str(a, names, NULL, 2);
  assert_string_equal(ids->str_id->data[1], "yy");
  cairn_arena_free(a);
}

static void test_schema_from_pb(void **state) {
  (void)state;
  Milvus__Proto__Common__KeyValuePair dim = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
                                      ml = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
  dim.key = "dim"; dim.value = "8";
  ml.key = "max_length"; ml.value = "32";
  Milvus__Proto__Common__KeyValuePair *vp[1] = {&dim}, *sp[1] = {&ml};
  Milvus__Proto__Schema__ValueField dv = MILVUS__PROTO__SCHEMA__VALUE_FIELD__INIT;
  dv.data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA;
  dv.string_data = "hello";
  Milvus__Proto__Schema__FieldSchema f0 = MILVUS__PROTO__SCHEMA__FIELD_SCHEMA__INIT, f1 = f0, f2 = f0;
  f0.fieldid = 100; f0.name = "id"; f0.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
  f0.is_primary_key = 1; f0.autoid = 1;
  f1.fieldid = 101; f1.name = "v"; f1.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector;
  f1.n_type_params = 1; f1.type_params = vp;
  f2.fieldid = 102; f2.name = "s"; f2.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
  f2.n_type_params = 1; f2.type_params = sp; f2.default_value = &dv; f2.nullable = 1;
  Milvus__Proto__Schema__FieldSchema *fs[3] = {&f0, &f1, &f2};
  cairn_pb_schema pb = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
  pb.name = "c"; pb.n_fields = 3; pb.fields = fs; pb.enable_dynamic_field = 1;
  cairn_schema *s = NULL;
  cairn_error err;
  assert_int_equal(cairn_schema_from_pb(&pb, &s, &err), CAIRN_OK);
  assert_int_equal(s->n_fields, 4);
  assert_true(s->fields[0].auto_id && s->fields[0].is_primary);
  assert_int_equal(s->fields[1].dim, 8);
  assert_int_equal(s->fields[2].max_length, 32);
  assert_string_equal(s->fields[2].default_value.u.s, "hello");
  assert_true(s->fields[2].nullable);
  const cairn_field *m = cairn_schema_dynamic(s);
  assert_non_null(m);
  assert_string_equal(m->name, "$meta");
  assert_int_equal(m->id, 103);
  cairn_schema_free(s);
  dv.data_case = MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA;
  f2.data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int32;
  assert_int_equal(cairn_schema_from_pb(&pb, &s, &err), CAIRN_INVALID_ARGUMENT);
  assert_null(s);
}

/* Decoding speed: 10,000 rows x 128-d float vectors + 3 scalar fields. */
static void test_decode_speed(void **state) {
  (void)state;
  enum { N = 10000, D = 128, REPS = 10 };
  cairn_field fs[4] = {
      {.id = 100, .name = "id", .type = CAIRN_TYPE_INT64, .is_primary = true},
      {.id = 101, .name = "v", .type = CAIRN_TYPE_FLOAT_VECTOR, .dim = D},
      {.id = 102, .name = "price", .type = CAIRN_TYPE_DOUBLE},
      {.id = 103, .name = "tag", .type = CAIRN_TYPE_VARCHAR, .max_length = 64},
  };
  cairn_schema s = {.name = "bench", .n_fields = 4, .fields = fs};
  cairn_arena *a = cairn_arena_new();
  cairn_pb_field_data *fds[4];
  cairn_error err;
  int64_t *rows = malloc(N * sizeof *rows);
  for (int i = 0; i < N; i++)
    rows[i] = i;
  for (int f = 0; f < 4; f++) {
    cairn_column_type t = cairn_column_type_of(&fs[f]);
    cairn_column *c = NULL;
    assert_int_equal(cairn_column_new(&t, &c, &err), CAIRN_OK);
    for (int64_t r = 0; r < N; r++) {
      float vec[D];
      char tag[32];
      double price = (double)r * 0.5;
      const char *tp = tag;
      size_t tl;
      switch (f) {
      case 0: cairn_column_append_fixed(c, &r, NULL, 1, &err); break;
      case 1:
        for (int k = 0; k < D; k++)
          vec[k] = (float)(r * D + k) * 1e-3f;
        cairn_column_append_fixed(c, vec, NULL, 1, &err);
        break;
      case 2: cairn_column_append_fixed(c, &price, NULL, 1, &err); break;
      default:
        tl = (size_t)snprintf(tag, sizeof tag, "tag-%lld", (long long)r);
        cairn_column_append_strings(c, &tp, &tl, NULL, 1, &err);
      }
    }
    cairn_colview v;
    cairn_column_snapshot(c, &v);
    assert_int_equal(cairn_fielddata_build(a, &fs[f], &v, rows, N, NULL, 0, &fds[f], &err),
                     CAIRN_OK);
    cairn_column_free(c);
  }
  insert_req *req = wire(fds, 4, N);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < REPS; i++) {
    cairn_insert_batch *b = NULL;
    assert_int_equal(cairn_fielddata_decode(&s, req->fields_data, 4, N, NULL, &b, &err),
                     CAIRN_OK);
    cairn_insert_batch_free(b);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("# decode Insert 10,000 x 128-d + 3 scalars: %.0f rows/s (%.2f ms per request)\n",
         N * REPS / dt, dt / REPS * 1e3);
  milvus__proto__milvus__insert_request__free_unpacked(req, NULL);
  free(rows);
  cairn_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip_every_type, setup, teardown),
      cmocka_unit_test_setup_teardown(test_build_subset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_auto_id_and_upsert, setup, teardown),
      cmocka_unit_test(test_compact_nullable),
      cmocka_unit_test(test_sparse_rows),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_meta_filter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
      cmocka_unit_test(test_schema_from_pb),
      cmocka_unit_test(test_decode_speed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
