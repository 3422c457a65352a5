/*
 * fielddata_fuzz.c — libFuzzer target for the FieldData decoder
 * (core/rpc/fielddata.c).
 *
 * The input is decoded as a milvus.InsertRequest (protobuf-c); when it
 * decodes, its fields_data and num_rows go through cairn_fielddata_decode
 * against a fixed schema holding every field type (nullable, default-valued
 * and dynamic fields included), alternating insert and upsert options.
 * Accepted batches are encoded back to FieldData (all rows, $meta filtered
 * to one key) and, for insert logs, to a binlog that must open again.
 * Invariant: no crash, no sanitizer report, errors are INVALID_ARGUMENT.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "fielddata.h"
#include "milvus.pb-c.h"

#define FLD(nm, ty, ...) {.name = nm, .type = ty, __VA_ARGS__}
static cairn_field fields[] = {
    FLD("id", CAIRN_TYPE_INT64, .is_primary = true, .auto_id = true),
    FLD("b", CAIRN_TYPE_BOOL),
    FLD("i8", CAIRN_TYPE_INT8),
    FLD("i16", CAIRN_TYPE_INT16, .nullable = true),
    FLD("i32", CAIRN_TYPE_INT32),
    FLD("i64", CAIRN_TYPE_INT64, .default_value = {.type = CAIRN_TYPE_INT64, .u.i = 7}),
    FLD("f", CAIRN_TYPE_FLOAT),
    FLD("d", CAIRN_TYPE_DOUBLE, .nullable = true,
        .default_value = {.type = CAIRN_TYPE_DOUBLE, .u.d = 2.5}),
    FLD("s", CAIRN_TYPE_VARCHAR, .max_length = 16, .nullable = true),
    FLD("ds", CAIRN_TYPE_VARCHAR, .max_length = 16,
        .default_value = {.type = CAIRN_TYPE_VARCHAR, .u.s = "x"}),
    FLD("j", CAIRN_TYPE_JSON, .nullable = true),
    FLD("ai", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_INT16, .max_capacity = 4),
    FLD("as", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_VARCHAR,
        .max_capacity = 4, .max_length = 8, .nullable = true),
    FLD("ab", CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_BOOL, .max_capacity = 4),
    FLD("fv", CAIRN_TYPE_FLOAT_VECTOR, .dim = 4),
    FLD("hv", CAIRN_TYPE_FLOAT16_VECTOR, .dim = 2),
    FLD("bfv", CAIRN_TYPE_BFLOAT16_VECTOR, .dim = 2, .nullable = true),
    FLD("bv", CAIRN_TYPE_BINARY_VECTOR, .dim = 8),
    FLD("iv", CAIRN_TYPE_INT8_VECTOR, .dim = 3),
    FLD("sv", CAIRN_TYPE_SPARSE_FLOAT_VECTOR, .nullable = true),
    FLD("$meta", CAIRN_TYPE_JSON, .is_dynamic = true),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])
static cairn_schema schema = {.name = "fuzz", .enable_dynamic = true,
                              .n_fields = N_FIELDS, .fields = fields};
static int initialised;

static void init(void) {
  for (size_t i = 0; i < N_FIELDS; i++)
    fields[i].id = 100 + (int64_t)i;
  initialised = 1;
}

static void encode_back(const cairn_insert_batch *b) {
  cairn_arena *arena = cairn_arena_new();
  int64_t *rows = malloc(b->n_rows * sizeof *rows);
  if (arena == NULL || rows == NULL)
    abort();
  for (size_t r = 0; r < b->n_rows; r++)
    rows[r] = (int64_t)r;
  static const char *const keys[1] = {"k"};
  for (size_t i = 0; i < b->n_columns; i++) {
    if (b->columns[i] == NULL)
      continue;
    cairn_colview v;
    cairn_column_snapshot(b->columns[i], &v);
    cairn_pb_field_data *fd;
    if (cairn_fielddata_build(arena, &fields[i], &v, rows, b->n_rows,
                              fields[i].is_dynamic ? keys : NULL, 1, &fd,
                              NULL) != CAIRN_OK)
      abort();
    void *buf;
    size_t len;
    cairn_binlog *bl;
    if (cairn_binlog_encode(&v, &buf, &len, NULL) != CAIRN_OK ||
        cairn_binlog_open_buffer(buf, len, &bl, NULL) != CAIRN_OK)
      abort();
    cairn_binlog_close(bl);
    free(buf);
  }
  free(rows);
  cairn_arena_free(arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!initialised)
    init();
  Milvus__Proto__Milvus__InsertRequest *req =
      milvus__proto__milvus__insert_request__unpack(NULL, size, data);
  if (req == NULL)
    return 0;
  cairn_fielddata_opts opts = {.upsert = (req->num_rows & 1) != 0,
                               .allow_duplicate_pks = (size & 1) != 0};
  cairn_insert_batch *b = NULL;
  cairn_error err;
  /* bound the rows a tiny input may ask to be filled (missing fields) */
  size_t rows = req->num_rows > 4096 ? 4096 : req->num_rows;
  cairn_status st = cairn_fielddata_decode(&schema, req->fields_data,
                                           req->n_fields_data, rows, &opts, &b,
                                           &err);
  if (st == CAIRN_OK)
    encode_back(b);
  else if (st != CAIRN_INVALID_ARGUMENT && st != CAIRN_NOMEM)
    abort();
  cairn_insert_batch_free(b);
  milvus__proto__milvus__insert_request__free_unpacked(req, NULL);
  return 0;
}
