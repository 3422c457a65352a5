/* proxy_results.c — result shaping; see proxy_results.h. */
#include <json-c/json.h>
#include <string.h>

#include "fielddata.h"
#include "proxy_results.h"

typedef Milvus__Proto__Schema__SearchResultData result_data;

static const cairn_field *field_of(const cairn_schema *s, const pb_field_data *fd) {
  if (fd->field_id != 0) {
    const cairn_field *f = cairn_schema_field_by_id(s, fd->field_id);
    if (f != NULL)
      return f;
  }
  if (fd->is_dynamic)
    return cairn_schema_dynamic(s);
  return cairn_schema_field(s, fd->field_name);
}

/* One column's rows[0..n). */
static cairn_status select_one(cairn_arena *arena, const cairn_field *f,
                               pb_field_data *fd, size_t n_src,
                               const int64_t *rows, size_t n,
                               pb_field_data **out, cairn_error *err) {
  cairn_schema one = {.name = "result", .n_fields = 1, .fields = (cairn_field *)f,
                      .enable_dynamic = f->is_dynamic};
  cairn_fielddata_opts opts = {.upsert = true, .allow_duplicate_pks = true};
  cairn_insert_batch *b = NULL;
  cairn_status st = cairn_fielddata_decode(&one, &fd, 1, n_src, &opts, &b, err);
  if (st == CAIRN_OK) {
    cairn_colview v;
    cairn_column_snapshot(b->columns[0], &v);
    st = cairn_fielddata_build(arena, f, &v, rows, n, NULL, 0, out, err);
  }
  if (st == CAIRN_OK) {
    (*out)->field_id = fd->field_id;
    (*out)->field_name = fd->field_name;
  }
  cairn_insert_batch_free(b);
  return st;
}

cairn_status proxy_select_rows(cairn_arena *arena, const cairn_schema *schema,
                               pb_field_data *const *fields, size_t n_fields,
                               size_t n_src, const int64_t *rows, size_t n,
                               pb_field_data ***out, cairn_error *err) {
  *out = CAIRN_ARENA_NEW(arena, pb_field_data *, n_fields + 1);
  for (size_t i = 0; i < n_fields; i++) {
    const cairn_field *f = field_of(schema, fields[i]);
    if (f == NULL)
      return cairn_error_set(err, CAIRN_INTERNAL,
                             "result column '%s' is not in the schema",
                             fields[i]->field_name);
    cairn_status st = select_one(arena, f, fields[i], n_src, rows, n, &(*out)[i], err);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

static void cut_ids(cairn_arena *arena, Milvus__Proto__Schema__IDs *ids,
                    const int64_t *rows, size_t n) {
  if (ids == NULL)
    return;
  if (ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID) {
    int64_t *v = CAIRN_ARENA_NEW(arena, int64_t, n + 1);
    for (size_t i = 0; i < n; i++)
      v[i] = ids->int_id->data[rows[i]];
    ids->int_id->data = v;
    ids->int_id->n_data = n;
  } else if (ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID) {
    char **v = CAIRN_ARENA_NEW(arena, char *, n + 1);
    for (size_t i = 0; i < n; i++)
      v[i] = ids->str_id->data[rows[i]];
    ids->str_id->data = v;
    ids->str_id->n_data = n;
  }
}

cairn_status proxy_results_cut(cairn_arena *arena, const cairn_schema *schema,
                               result_data *r, size_t offset, size_t limit,
                               bool drop_zero, cairn_error *err) {
  bool needed = offset > 0;
  for (size_t q = 0; q < r->n_topks; q++)
    needed |= (size_t)r->topks[q] > limit;
  for (size_t i = 0; drop_zero && i < r->n_scores; i++)
    needed |= r->scores[i] == 0.0f;
  if (!needed)
    return CAIRN_OK;
  size_t total = r->n_scores, start = 0, n = 0;
  int64_t *rows = CAIRN_ARENA_NEW(arena, int64_t, total + 1);
  for (size_t q = 0; q < r->n_topks; q++) {
    size_t hits = (size_t)r->topks[q], kept = 0;
    for (size_t i = 0; i < hits; i++) {
      if (drop_zero && r->scores[start + i] == 0.0f)
        continue;
      if (kept >= offset && kept < offset + limit)
        rows[n++] = (int64_t)(start + i);
      kept++;
    }
    size_t shown = kept > offset ? kept - offset : 0;
    r->topks[q] = (int64_t)(shown < limit ? shown : limit);
    start += hits;
  }
  float *scores = CAIRN_ARENA_NEW(arena, float, n + 1);
  for (size_t i = 0; i < n; i++)
    scores[i] = r->scores[rows[i]];
  r->scores = scores;
  r->n_scores = n;
  cut_ids(arena, r->ids, rows, n);
  pb_field_data **cols = NULL;
  cairn_status st = proxy_select_rows(arena, schema, r->fields_data,
                                      r->n_fields_data, total, rows, n, &cols, err);
  if (st == CAIRN_OK)
    r->fields_data = cols;
  if (st == CAIRN_OK && r->group_by_field_value != NULL) {
    pb_field_data **g = NULL;
    st = proxy_select_rows(arena, schema, &r->group_by_field_value, 1, total,
                           rows, n, &g, err);
    if (st == CAIRN_OK)
      r->group_by_field_value = g[0];
  }
  return st;
}

/* Parse a JSON row (not NUL-terminated). */
static json_object *json_tokener_parse_ex_len(ProtobufCBinaryData row) {
  json_tokener *t = json_tokener_new();
  json_object *o = t ? json_tokener_parse_ex(t, (const char *)row.data, (int)row.len) : NULL;
  if (o != NULL && !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    o = NULL;
  }
  json_tokener_free(t);
  return o;
}

static bool has_name(char *const *names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0)
      return true;
  return false;
}

cairn_status proxy_results_dynamic_keys(cairn_arena *arena, result_data *r,
                                        cairn_error *err) {
  const pb_field_data *meta = NULL;
  for (size_t i = 0; i < r->n_fields_data; i++)
    if (r->fields_data[i]->is_dynamic ||
        strcmp(r->fields_data[i]->field_name, CAIRN_DYNAMIC_FIELD_NAME) == 0)
      meta = r->fields_data[i];
  if (meta == NULL || meta->scalars == NULL || meta->scalars->json_data == NULL)
    return CAIRN_OK;
  const Milvus__Proto__Schema__JSONArray *rows = meta->scalars->json_data;
  size_t cap = r->n_output_fields + 16, n = r->n_output_fields;
  char **names = CAIRN_ARENA_NEW(arena, char *, cap);
  if (names == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (n > 0)
    memcpy(names, r->output_fields, n * sizeof *names);
  for (size_t i = 0; i < rows->n_data; i++) {
    json_object *o = json_tokener_parse_ex_len(rows->data[i]);
    if (o == NULL)
      continue;
    json_object_object_foreach(o, key, val) {
      (void)val;
      if (has_name(names, n, key))
        continue;
      if (n == cap) {
        char **bigger = CAIRN_ARENA_NEW(arena, char *, cap * 2);
        memcpy(bigger, names, n * sizeof *names);
        names = bigger;
        cap *= 2;
      }
      names[n++] = cairn_arena_strdup(arena, key);
    }
    json_object_put(o);
  }
  r->output_fields = names;
  r->n_output_fields = n;
  return CAIRN_OK;
}

cairn_status proxy_count_field(cairn_arena *arena, int64_t value,
                               Milvus__Proto__Milvus__QueryResults *r) {
  pb_field_data *fd = CAIRN_ARENA_NEW(arena, pb_field_data, 1);
  Milvus__Proto__Schema__ScalarField *sc =
      CAIRN_ARENA_NEW(arena, Milvus__Proto__Schema__ScalarField, 1);
  Milvus__Proto__Schema__LongArray *la =
      CAIRN_ARENA_NEW(arena, Milvus__Proto__Schema__LongArray, 1);
  milvus__proto__schema__field_data__init(fd);
  milvus__proto__schema__scalar_field__init(sc);
  milvus__proto__schema__long_array__init(la);
  la->data = CAIRN_ARENA_NEW(arena, int64_t, 1);
  la->data[0] = value;
  la->n_data = 1;
  sc->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
  sc->long_data = la;
  fd->type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
  fd->field_name = "count(*)";
  fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
  fd->scalars = sc;
  r->fields_data = CAIRN_ARENA_NEW(arena, pb_field_data *, 1);
  r->fields_data[0] = fd;
  r->n_fields_data = 1;
  r->output_fields = CAIRN_ARENA_NEW(arena, char *, 1);
  r->output_fields[0] = "count(*)";
  r->n_output_fields = 1;
  return CAIRN_OK;
}
