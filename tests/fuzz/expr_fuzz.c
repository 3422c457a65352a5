/*
 * expr_fuzz.c — libFuzzer target for the filter expression engine.
 *
 * Input: the bytes are the expression text (a NUL is appended; text after
 * an embedded NUL is ignored, as a C caller would see it). Each input is
 * parsed against a fixed schema that has every scalar type, nullable
 * fields, JSON, three kinds of Array and the dynamic field, with template
 * values named lo, hi, s, l and flag; when it parses, it is evaluated over
 * 130 rows (three bitset words, one partial) holding nulls, nested and
 * escaped JSON, a malformed JSON row and empty arrays, and count(*) must
 * equal the popcount of the bitset.
 *
 * Anything the sanitizers see (ASan, UBSan, LeakSanitizer), a crash, a
 * timeout or a count mismatch is a finding. Build with -DCAIRN_FUZZ=ON and
 * clang; tests/fuzz/run-expr-fuzz.sh SECONDS builds and runs it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

#define ROWS 130

static cairn_field fields[] = {
    {.id = 100, .name = (char *)"id", .type = CAIRN_TYPE_INT64, .is_primary = true},
    {.id = 101, .name = (char *)"i8", .type = CAIRN_TYPE_INT8},
    {.id = 102, .name = (char *)"i16", .type = CAIRN_TYPE_INT16, .nullable = true},
    {.id = 103, .name = (char *)"i32", .type = CAIRN_TYPE_INT32},
    {.id = 104, .name = (char *)"f", .type = CAIRN_TYPE_FLOAT, .nullable = true},
    {.id = 105, .name = (char *)"d", .type = CAIRN_TYPE_DOUBLE},
    {.id = 106, .name = (char *)"b", .type = CAIRN_TYPE_BOOL, .nullable = true},
    {.id = 107, .name = (char *)"name", .type = CAIRN_TYPE_VARCHAR, .nullable = true},
    {.id = 108, .name = (char *)"info", .type = CAIRN_TYPE_JSON, .nullable = true},
    {.id = 109, .name = (char *)"ai", .type = CAIRN_TYPE_ARRAY,
     .element_type = CAIRN_TYPE_INT32, .nullable = true},
    {.id = 110, .name = (char *)"as", .type = CAIRN_TYPE_ARRAY,
     .element_type = CAIRN_TYPE_VARCHAR},
    {.id = 111, .name = (char *)"ad", .type = CAIRN_TYPE_ARRAY,
     .element_type = CAIRN_TYPE_FLOAT},
    {.id = 112, .name = (char *)"vec", .type = CAIRN_TYPE_FLOAT_VECTOR, .dim = 2},
    {.id = 199, .name = (char *)"$meta", .type = CAIRN_TYPE_JSON, .is_dynamic = true},
};
static cairn_schema schema = {.name = (char *)"fuzz", .enable_dynamic = true,
                              .n_fields = sizeof fields / sizeof fields[0],
                              .fields = fields};

static const char *const json_rows[] = {
    "{\"a\": 1, \"s\": \"red\", \"c\": {\"d\": 2.5, \"x\": [1, [2, {\"y\": null}]]}, \"arr\": [1, 2, 3]}",
    "{\"a\": \"1\", \"e\": \"q\\\"u\\u00e9\\n\", \"arr\": [\"x\", 1.5, true, null, {}]}",
    "{\"a\": null, \"flag\": true, \"arr\": []}",
    "{\"a\": -9223372036854775808, \"b\": 1e308, \"c\": 17}",
    "{\"a\": 2, \"a\": 3, \"k\": [[[[[[[[[[1]]]]]]]]]]}",
    "[1, 2, 3]",
    "{\"broken\": [1, 2",
    "\"just a string\"",
    "{}",
};
static const char *const names[] = {"alice", "", "a_b", "50%", "\xc3\xa9t\xc3\xa9",
                                    "bob", "\xff\xfe"};

static int64_t id_c[ROWS];
static int8_t i8_c[ROWS];
static int16_t i16_c[ROWS];
static int32_t i32_c[ROWS], ai_vals[ROWS * 3];
static float f_c[ROWS], ad_vals[ROWS * 3];
static double d_c[ROWS];
static uint8_t b_c[ROWS], valid[ROWS / 8 + 1];
static uint64_t name_off[ROWS + 1], info_off[ROWS + 1], meta_off[ROWS + 1],
    ai_off[ROWS + 1], as_off[ROWS + 1], ad_off[ROWS + 1],
    as_elem_off[ROWS * 2 + 1];
static char name_data[ROWS * 8], info_data[ROWS * 128], meta_data[ROWS * 48],
    as_data[ROWS * 16];
static cairn_expr_column cols[14];
static cairn_expr_batch batch;

static void build(void) {
  size_t nn = 0, ni = 0, nm = 0, na = 0, ns = 0, nsd = 0;
  for (size_t r = 0; r < ROWS; r++) {
    id_c[r] = (int64_t)r;
    i8_c[r] = (int8_t)(r * 37);
    i16_c[r] = (int16_t)(r * 1000);
    i32_c[r] = (int32_t)(r % 7) - 3;
    f_c[r] = (float)r / 4.0f;
    d_c[r] = (double)r * 0.1 - 3;
    b_c[r] = (uint8_t)(r % 3 == 0);
    if (r % 5)
      valid[r / 8] |= (uint8_t)(1u << (r % 8));
    name_off[r] = nn;
    const char *nm_s = names[r % 7];
    memcpy(name_data + nn, nm_s, strlen(nm_s));
    nn += strlen(nm_s);
    name_off[r + 1] = nn;
    info_off[r] = ni;
    const char *js = json_rows[r % 9];
    memcpy(info_data + ni, js, strlen(js));
    ni += strlen(js);
    info_off[r + 1] = ni;
    meta_off[r] = nm;
    nm += (size_t)sprintf(meta_data + nm, "{\"color\": \"%s\", \"n\": %zu}",
                          r % 2 ? "red" : "blue", r % 11);
    meta_off[r + 1] = nm;
    ai_off[r] = ad_off[r] = na;
    for (size_t k = 0; k < r % 4 && k < 3; k++, na++) {
      ai_vals[na] = (int32_t)(r + k);
      ad_vals[na] = (float)k / 2;
    }
    ai_off[r + 1] = ad_off[r + 1] = na;
    as_off[r] = ns;
    for (size_t k = 0; k < r % 3; k++, ns++) {
      as_elem_off[ns] = nsd;
      as_data[nsd++] = (char)('a' + (r + k) % 4);
      as_elem_off[ns + 1] = nsd;
    }
    as_off[r + 1] = ns;
  }
  cols[0] = (cairn_expr_column){.field_id = 100, .values = id_c};
  cols[1] = (cairn_expr_column){.field_id = 101, .values = i8_c};
  cols[2] = (cairn_expr_column){.field_id = 102, .values = i16_c, .validity = valid};
  cols[3] = (cairn_expr_column){.field_id = 103, .values = i32_c};
  cols[4] = (cairn_expr_column){.field_id = 104, .values = f_c, .validity = valid};
  cols[5] = (cairn_expr_column){.field_id = 105, .values = d_c};
  cols[6] = (cairn_expr_column){.field_id = 106, .values = b_c, .validity = valid};
  cols[7] = (cairn_expr_column){.field_id = 107, .offsets = name_off,
                                .data = name_data, .validity = valid};
  cols[8] = (cairn_expr_column){.field_id = 108, .offsets = info_off,
                                .data = info_data, .validity = valid};
  cols[9] = (cairn_expr_column){.field_id = 109, .offsets = ai_off,
                                .values = ai_vals, .validity = valid};
  cols[10] = (cairn_expr_column){.field_id = 110, .offsets = as_off,
                                 .elem_offsets = as_elem_off, .data = as_data};
  cols[11] = (cairn_expr_column){.field_id = 111, .offsets = ad_off, .values = ad_vals};
  cols[12] = (cairn_expr_column){.field_id = 199, .offsets = meta_off, .data = meta_data};
  batch = (cairn_expr_batch){.schema = &schema, .n_rows = ROWS,
                             .n_columns = 13, .columns = cols};
}

static const cairn_expr_value list_items[] = {
    {.type = CAIRN_EXPR_INT, .u.i = 1},
    {.type = CAIRN_EXPR_STRING, .u.s = {"red", 3}},
    {.type = CAIRN_EXPR_FLOAT, .u.f = 2.5},
};
static const cairn_expr_template tmpl_items[] = {
    {"lo", {.type = CAIRN_EXPR_INT, .u.i = -3}},
    {"hi", {.type = CAIRN_EXPR_FLOAT, .u.f = 1e9}},
    {"s", {.type = CAIRN_EXPR_STRING, .u.s = {"a%", 2}}},
    {"l", {.type = CAIRN_EXPR_LIST, .u.list = {list_items, 3}}},
    {"flag", {.type = CAIRN_EXPR_BOOL, .u.b = true}},
};
static const cairn_expr_templates tmpl = {5, tmpl_items};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (batch.n_rows == 0)
    build();
  if (size > 4096)
    return 0;
  char *text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  cairn_expr *e = NULL;
  cairn_error err;
  if (cairn_expr_parse(&schema, text, &tmpl, &e, &err) == CAIRN_OK) {
    uint64_t bits[(ROWS + 63) / 64], count = 0, pop = 0;
    if (cairn_expr_eval(e, &batch, bits, &err) != CAIRN_OK)
      abort(); /* every column is present: eval must not fail */
    for (size_t w = 0; w < (ROWS + 63) / 64; w++)
      pop += (uint64_t)__builtin_popcountll(bits[w]);
    if (bits[ROWS / 64] >> (ROWS % 64))
      abort(); /* bits past the end must be clear */
    if (cairn_expr_count(e, &batch, &count, &err) != CAIRN_OK || count != pop)
      abort();
    int64_t ids[32];
    (void)cairn_expr_fields(e, ids, 32);
    cairn_expr_free(e);
  } else if (e != NULL || strstr(err.message, "column ") == NULL) {
    if (err.status != CAIRN_NOMEM)
      abort(); /* every parse error names a position */
  }
  free(text);
  return 0;
}
