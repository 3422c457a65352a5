/*
 * qn_wire_fuzz.c — libFuzzer target for the querynode's decoding of search
 * and query requests from other processes (querynode/qn_wire.c): arbitrary
 * bytes are unpacked as cairn.cluster.SearchRequest and QueryRequest and
 * decoded against a fixed schema (every vector kind, scalars, JSON), which
 * also runs the filter parser on whatever text and templates arrive. Only
 * errors are allowed, never a crash, a leak or undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qn_wire.h"

static cairn_schema *schema(void) {
  static const struct { const char *name; cairn_data_type type; int64_t dim; } f[] = {
      {"id", CAIRN_TYPE_INT64, 0},          {"tag", CAIRN_TYPE_VARCHAR, 0},
      {"v", CAIRN_TYPE_FLOAT_VECTOR, 4},    {"b", CAIRN_TYPE_BINARY_VECTOR, 16},
      {"h", CAIRN_TYPE_FLOAT16_VECTOR, 3},  {"sp", CAIRN_TYPE_SPARSE_FLOAT_VECTOR, 0},
      {"j", CAIRN_TYPE_JSON, 0},            {"x", CAIRN_TYPE_DOUBLE, 0},
  };
  size_t n = sizeof f / sizeof f[0];
  cairn_schema *s = calloc(1, sizeof *s);
  s->name = strdup("fuzz");
  s->n_fields = n;
  s->fields = calloc(n, sizeof *s->fields);
  for (size_t i = 0; i < n; i++)
    s->fields[i] = (cairn_field){.id = 100 + (int64_t)i, .name = strdup(f[i].name),
                                 .type = f[i].type, .dim = f[i].dim,
                                 .is_primary = i == 0, .max_length = 64};
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cairn_schema *s;
  if (s == NULL)
    s = schema();
  cairn_arena *a = cairn_arena_new();
  cairn_error err = {0};
  Cairn__Cluster__SearchRequest *sr =
      cairn__cluster__search_request__unpack(cairn_arena_protobuf(a), size, data);
  if (sr != NULL) {
    cairn_qn_search q;
    cairn_expr *filter = NULL;
    qn_wire_decode_search(a, sr, s, &q, &filter, &err);
    cairn_expr_free(filter);
  }
  Cairn__Cluster__QueryRequest *qr =
      cairn__cluster__query_request__unpack(cairn_arena_protobuf(a), size, data);
  if (qr != NULL) {
    cairn_qn_query q;
    cairn_expr *filter = NULL;
    qn_wire_decode_query(a, qr, s, &q, &filter, &err);
    cairn_expr_free(filter);
  }
  cairn_arena_free(a);
  return 0;
}
