/*
 * proxy_read.c — Search, Query, HybridSearch: request checks and decoding
 * (search parameters, placeholder vectors, output fields, filter with
 * template values, consistency level), the call into the querynodes, and
 * result shaping (offset, round_decimal, output names).
 *
 * Consistency: Strong, Session and Bounded wait until the querynode has
 * consumed the log up to its end as of the request (read-your-writes);
 * Eventually reads what is consumed. Bounded is thereby stricter than
 * Milvus's (which may serve data up to a few seconds old): with one log
 * and a local consumer the wait is a few milliseconds at most.
 */
#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fielddata.h"
#include "proxy_internal.h"
#include "proxy_results.h"

#define MAX_TOPK 16384

typedef Milvus__Proto__Schema__SearchResultData result_data;
typedef Milvus__Proto__Common__ConsistencyLevel consistency;

/* ---- template values ---- */

static cairn_status template_value(cairn_arena *arena,
                                   const Milvus__Proto__Schema__TemplateValue *v,
                                   cairn_expr_value *out, cairn_error *err);

static cairn_status template_array(cairn_arena *arena,
                                   const Milvus__Proto__Schema__TemplateArrayValue *a,
                                   cairn_expr_value *out, cairn_error *err) {
  out->type = CAIRN_EXPR_LIST;
  size_t n = 0;
  cairn_expr_value *items = NULL;
  switch (a->data_case) {
#define LIST_OF(CASE, FIELD, TYPE, MEMBER, CONV)                                 \
  case CASE:                                                                     \
    n = a->FIELD->n_data;                                                        \
    items = CAIRN_ARENA_NEW(arena, cairn_expr_value, n + 1);                     \
    for (size_t i = 0; i < n; i++) {                                             \
      items[i].type = TYPE;                                                      \
      CONV;                                                                      \
    }                                                                            \
    break;
    LIST_OF(MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_BOOL_DATA, bool_data,
            CAIRN_EXPR_BOOL, b, items[i].u.b = a->bool_data->data[i])
    LIST_OF(MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_LONG_DATA, long_data,
            CAIRN_EXPR_INT, i, items[i].u.i = a->long_data->data[i])
    LIST_OF(MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_DOUBLE_DATA, double_data,
            CAIRN_EXPR_FLOAT, f, items[i].u.f = a->double_data->data[i])
    LIST_OF(MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_STRING_DATA, string_data,
            CAIRN_EXPR_STRING, s,
            (items[i].u.s.ptr = a->string_data->data[i],
             items[i].u.s.len = strlen(a->string_data->data[i])))
#undef LIST_OF
  case MILVUS__PROTO__SCHEMA__TEMPLATE_ARRAY_VALUE__DATA_ARRAY_DATA:
    n = a->array_data->n_data;
    items = CAIRN_ARENA_NEW(arena, cairn_expr_value, n + 1);
    for (size_t i = 0; i < n; i++) {
      cairn_status st = template_array(arena, a->array_data->data[i], &items[i], err);
      if (st != CAIRN_OK)
        return st;
    }
    break;
  default:
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "unsupported template array value");
  }
  out->u.list.items = items;
  out->u.list.n = n;
  return CAIRN_OK;
}

static cairn_status template_value(cairn_arena *arena,
                                   const Milvus__Proto__Schema__TemplateValue *v,
                                   cairn_expr_value *out, cairn_error *err) {
  switch (v->val_case) {
  case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_BOOL_VAL:
    out->type = CAIRN_EXPR_BOOL;
    out->u.b = v->bool_val;
    return CAIRN_OK;
  case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_INT64_VAL:
    out->type = CAIRN_EXPR_INT;
    out->u.i = v->int64_val;
    return CAIRN_OK;
  case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_FLOAT_VAL:
    out->type = CAIRN_EXPR_FLOAT;
    out->u.f = v->float_val;
    return CAIRN_OK;
  case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_STRING_VAL:
    out->type = CAIRN_EXPR_STRING;
    out->u.s.ptr = v->string_val;
    out->u.s.len = strlen(v->string_val);
    return CAIRN_OK;
  case MILVUS__PROTO__SCHEMA__TEMPLATE_VALUE__VAL_ARRAY_VAL:
    return template_array(arena, v->array_val, out, err);
  default:
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "unsupported expression template value");
  }
}

/* Template entries share one shape across requests: key + TemplateValue. */
typedef struct template_entry {
  ProtobufCMessage base;
  char *key;
  Milvus__Proto__Schema__TemplateValue *value;
} template_entry;

cairn_status proxy_parse_filter(cairn_arena *arena, const cairn_schema *schema,
                                const char *text, void *const *entries,
                                size_t n_entries, cairn_expr **out,
                                cairn_error *err) {
  *out = NULL;
  if (text == NULL || text[0] == '\0')
    return CAIRN_OK;
  cairn_expr_template *items = CAIRN_ARENA_NEW(arena, cairn_expr_template, n_entries + 1);
  for (size_t i = 0; i < n_entries; i++) {
    const template_entry *e = entries[i];
    items[i].name = e->key;
    if (e->value == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "template value '%s' is empty", e->key);
    cairn_status st = template_value(arena, e->value, &items[i].value, err);
    if (st != CAIRN_OK)
      return st;
  }
  cairn_expr_templates t = {.n = n_entries, .items = items};
  return cairn_expr_parse(schema, text, n_entries ? &t : NULL, out, err);
}

/* ---- output fields ---- */

static bool valid_key(const char *k) {
  if (k[0] == '\0')
    return false;
  for (const char *p = k; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_'))
      return false;
  return true;
}

cairn_status proxy_output_fields(cairn_arena *arena, const cairn_schema *s,
                                 char *const *names, size_t n,
                                 cairn_qn_output *out, char ***out_names,
                                 size_t *n_out, cairn_error *err) {
  memset(out, 0, sizeof *out);
  int64_t *ids = CAIRN_ARENA_NEW(arena, int64_t, s->n_fields + 1);
  const char **keys = CAIRN_ARENA_NEW(arena, const char *, n + 1);
  char **shown = CAIRN_ARENA_NEW(arena, char *, s->n_fields + n + 2);
  bool *taken = CAIRN_ARENA_NEW(arena, bool, s->n_fields + 1);
  const cairn_field *dyn = cairn_schema_dynamic(s);
  const cairn_field *pk = cairn_schema_primary(s);
  bool whole_dynamic = false;
  size_t n_ids = 0, n_keys = 0, n_shown = 0;
  /* The primary key is always returned and always named (PROTOCOL.md
   * §0.6: the Node SDK reads a hit's key from the named columns only); the
   * querynode adds its column by itself. */
  taken[pk - s->fields] = true;
  shown[n_shown++] = pk->name;
  for (size_t i = 0; i < n; i++) {
    const char *name = names[i];
    const cairn_field *f = cairn_schema_field(s, name);
    if (strcmp(name, "*") == 0) {
      for (size_t j = 0; j < s->n_fields; j++)
        if (!s->fields[j].is_dynamic && !taken[j]) {
          taken[j] = true;
          ids[n_ids++] = s->fields[j].id;
          shown[n_shown++] = s->fields[j].name;
        }
      whole_dynamic = dyn != NULL;
    } else if (f != NULL && !f->is_dynamic) {
      size_t j = (size_t)(f - s->fields);
      if (!taken[j]) {
        taken[j] = true;
        ids[n_ids++] = f->id;
        shown[n_shown++] = f->name;
      }
    } else if (dyn != NULL && (f != NULL || strcmp(name, CAIRN_DYNAMIC_FIELD_NAME) == 0)) {
      whole_dynamic = true;
    } else if (dyn != NULL && valid_key(name)) {
      keys[n_keys++] = name;
      shown[n_shown++] = (char *)name;
    } else {
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "field %s not exist in collection %s%s", name,
                             s->name, dyn ? "" : " (the dynamic field is off)");
    }
  }
  if (dyn != NULL && (whole_dynamic || n_keys > 0)) {
    ids[n_ids++] = dyn->id;
    if (whole_dynamic)
      n_keys = 0;
  }
  /* Names of fixed fields point into the schema, which the handler frees
   * before the reply is packed: the reply gets arena copies. */
  for (size_t i = 0; i < n_shown; i++)
    shown[i] = cairn_arena_strdup(arena, shown[i]);
  out->field_ids = ids;
  out->n_fields = n_ids;
  out->dynamic_keys = keys;
  out->n_dynamic_keys = n_keys;
  *out_names = shown;
  *n_out = n_shown;
  return CAIRN_OK;
}

/* ---- consistency and parameters ---- */

bool proxy_strong(consistency requested, bool use_default,
                  consistency collection) {
  consistency level = use_default ? collection : requested;
  return level != MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Eventually;
}

static cairn_status kv_int(mpb_kv *const *kvs, size_t n, const char *key,
                           int64_t dflt, int64_t lo, int64_t hi, int64_t *out,
                           cairn_error *err) {
  const char *v = cairn_pb_kv_get(kvs, n, key);
  *out = dflt;
  if (v == NULL || v[0] == '\0')
    return CAIRN_OK;
  char *end = NULL;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > hi)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "%s must be an integer in [%" PRId64 ", %" PRId64
                           "], got '%s'",
                           key, lo, hi, v);
  *out = x;
  return CAIRN_OK;
}

static bool kv_bool(mpb_kv *const *kvs, size_t n, const char *key) {
  const char *v = cairn_pb_kv_get(kvs, n, key);
  return v != NULL && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* The searched vector field: anns_field, or the only vector field. */
static cairn_status anns_field(const cairn_schema *s, const char *name,
                               const cairn_field **out, cairn_error *err) {
  *out = NULL;
  if (name != NULL && name[0] != '\0') {
    *out = cairn_schema_field(s, name);
    if (*out == NULL || !cairn_type_is_vector((*out)->type))
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "anns_field '%s' is not a vector field of "
                             "collection %s", name, s->name);
    return CAIRN_OK;
  }
  for (size_t i = 0; i < s->n_fields; i++)
    if (cairn_type_is_vector(s->fields[i].type)) {
      if (*out != NULL)
        return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                               "collection %s has several vector fields: "
                               "name one with anns_field", s->name);
      *out = &s->fields[i];
    }
  if (*out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "collection %s has no vector field", s->name);
  return CAIRN_OK;
}

/* Decode the placeholder group into the field's vector layout. */
static cairn_status decode_queries(cairn_arena *arena, const cairn_field *f,
                                   ProtobufCBinaryData group, size_t *nq,
                                   const void **queries, cairn_error *err) {
  Milvus__Proto__Common__PlaceholderGroup *g =
      milvus__proto__common__placeholder_group__unpack(cairn_arena_protobuf(arena),
                                                       group.len, group.data);
  if (g == NULL || g->n_placeholders != 1)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "the search vectors (placeholder_group) are not a "
                           "valid PlaceholderGroup with one placeholder");
  const Milvus__Proto__Common__PlaceholderValue *p = g->placeholders[0];
  if ((int)p->type != (int)f->type)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "search vectors are of type %d but field '%s' is %s",
                           (int)p->type, f->name, cairn_type_name(f->type));
  *nq = p->n_values;
  if (*nq == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "no search vectors given");
  if (f->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR) {
    cairn_sparse_row *rows = CAIRN_ARENA_NEW(arena, cairn_sparse_row, *nq);
    for (size_t q = 0; q < *nq; q++) {
      size_t n = p->values[q].len / 8;
      if (p->values[q].len % 8 != 0)
        return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                               "sparse search vector %zu is not a run of 8-byte "
                               "(index, value) pairs", q);
      cairn_sparse_pair *pairs = CAIRN_ARENA_NEW(arena, cairn_sparse_pair, n + 1);
      if (n > 0)
        memcpy(pairs, p->values[q].data, n * 8);
      cairn_status st = cairn_sparse_normalize(pairs, n, err);
      if (st != CAIRN_OK)
        return st;
      uint32_t *idx = CAIRN_ARENA_NEW(arena, uint32_t, n + 1);
      float *val = CAIRN_ARENA_NEW(arena, float, n + 1);
      for (size_t i = 0; i < n; i++) {
        idx[i] = pairs[i].index;
        val[i] = pairs[i].value;
      }
      rows[q] = (cairn_sparse_row){.nnz = (uint32_t)n, .idx = idx, .val = val};
    }
    *queries = rows;
    return CAIRN_OK;
  }
  size_t row = cairn_vector_row_bytes(f->type, f->dim);
  uint8_t *buf = cairn_arena_alloc(arena, row * *nq);
  for (size_t q = 0; q < *nq; q++) {
    if (p->values[q].len != row)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "dimension mismatch: field '%s' expects %" PRId64
                             ", got %zu bytes for vector %zu (%zu expected)",
                             f->name, f->dim, p->values[q].len, q, row);
    memcpy(buf + q * row, p->values[q].data, row);
  }
  *queries = buf;
  return CAIRN_OK;
}

/* The index and range knobs of a params text. Clients send the same text
 * on every search, so each thread remembers the last text it parsed (a
 * pure function of the text; short texts only): the JSON parse was ~4% of
 * a small search's server CPU. */
typedef struct parsed_knobs {
  char text[256];
  bool valid;
  cairn_search_params params;
  bool is_range;
  float radius, range_filter;
} parsed_knobs;

/* initial-exec: the library is linked into executables only, and the
 * default model of -fPIC code would call __tls_get_addr (a dependency on
 * ld.so itself that the runtime image checks refuse). */
static _Thread_local parsed_knobs last_knobs __attribute__((tls_model("initial-exec")));

static cairn_status parse_knobs(const char *params, parsed_knobs *out,
                                cairn_error *err) {
  cairn_status st = cairn_search_params_parse(params, &out->params, err);
  if (st != CAIRN_OK)
    return st;
  out->is_range = false;
  out->radius = 0;
  out->range_filter = NAN;
  /* A second parse only for range search: the keys appear in the text
   * (spelled with \u escapes they would be missed; nobody writes them so). */
  bool ranged = params && (strstr(params, "radius") || strstr(params, "range_filter"));
  json_object *o = ranged ? json_tokener_parse(params) : NULL;
  json_object *v = NULL;
  if (o != NULL && json_object_object_get_ex(o, "radius", &v)) {
    out->is_range = true;
    out->radius = (float)json_object_get_double(v);
  }
  if (o != NULL && json_object_object_get_ex(o, "range_filter", &v))
    out->range_filter = (float)json_object_get_double(v);
  json_object_put(o);
  return CAIRN_OK;
}

static cairn_status search_knobs(mpb_kv *const *kv, size_t n,
                                 cairn_qn_search *q, int64_t *round_decimal,
                                 cairn_error *err) {
  const char *params = cairn_pb_kv_get(kv, n, "params");
  const char *text = params ? params : "";
  parsed_knobs *k = &last_knobs;
  if (!k->valid || strcmp(k->text, text) != 0) {
    k->valid = false;
    cairn_status st = parse_knobs(params, k, err);
    if (st != CAIRN_OK)
      return st;
    k->valid = strlen(text) < sizeof k->text;
    if (k->valid)
      strcpy(k->text, text);
  }
  q->params = k->params;
  q->is_range = k->is_range;
  q->radius = k->radius;
  q->range_filter = k->range_filter;
  return kv_int(kv, n, "round_decimal", -1, -1, 6, round_decimal, err);
}

static void round_scores(result_data *r, int64_t digits) {
  if (digits < 0)
    return;
  double scale = pow(10.0, (double)digits);
  for (size_t i = 0; i < r->n_scores; i++)
    r->scores[i] = (float)(round(r->scores[i] * scale) / scale);
}

/* One search; *out is the shaped result (offset applied, names set). */
cairn_status proxy_search_one(cairn_rpc_ctx *ctx, const proxy_coll *c,
                              const Milvus__Proto__Milvus__SearchRequest *req,
                              char *const *partitions, size_t n_partitions,
                              char *const *output_fields, size_t n_output,
                              const char **metric_out, result_data **out,
                              cairn_error *err) {
  mpb_kv *const *kv = req->search_params;
  size_t nkv = req->n_search_params;
  const cairn_field *f = NULL;
  const char *metric = NULL;
  int64_t topk = 0, offset = 0, round_decimal = -1;
  cairn_qn_search q = {.collection_id = c->id};
  cairn_expr *filter = NULL;
  char **names = NULL;
  size_t n_names = 0;
  cairn_status st = anns_field(c->schema, cairn_pb_kv_get(kv, nkv, "anns_field"), &f, err);
  if (st == CAIRN_OK)
    st = proxy_index_metric(ctx, c, f, &metric, err);
  if (metric_out != NULL)
    *metric_out = metric;
  const char *asked = cairn_pb_kv_get(kv, nkv, "metric_type");
  if (st == CAIRN_OK && asked && asked[0] && strcasecmp(asked, metric) != 0)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "metric type not match: invalid parameter[expected=%s]"
                         "[actual=%s]", metric, asked);
  if (st == CAIRN_OK)
    st = kv_int(kv, nkv, "topk", -1, 1, MAX_TOPK, &topk, err);
  if (st == CAIRN_OK && topk < 0)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "topk (limit) is required");
  if (st == CAIRN_OK)
    st = kv_int(kv, nkv, "offset", 0, 0, MAX_TOPK, &offset, err);
  if (st == CAIRN_OK && topk + offset > MAX_TOPK)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "topk + offset must be at most %d", MAX_TOPK);
  if (st == CAIRN_OK)
    st = search_knobs(kv, nkv, &q, &round_decimal, err);
  if (st == CAIRN_OK && req->search_input_case !=
                            MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "search by primary keys is not supported by Cairn yet");
  if (st == CAIRN_OK)
    st = decode_queries(ctx->arena, f, req->placeholder_group, &q.nq, &q.queries, err);
  if (st == CAIRN_OK && f->type != CAIRN_TYPE_SPARSE_FLOAT_VECTOR)
    q.row_bytes = cairn_vector_row_bytes(f->type, f->dim);
  if (st == CAIRN_OK && req->nq > 0 && (size_t)req->nq != q.nq)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "nq is %" PRId64 " but %zu vectors were sent", req->nq, q.nq);
  if (st == CAIRN_OK)
    st = proxy_parse_filter(ctx->arena, c->schema, req->dsl,
                            (void *const *)req->expr_template_values,
                            req->n_expr_template_values, &filter, err);
  if (st == CAIRN_OK)
    st = proxy_output_fields(ctx->arena, c->schema, output_fields, n_output,
                             &q.output, &names, &n_names, err);
  const char *group = cairn_pb_kv_get(kv, nkv, "group_by_field");
  if (st == CAIRN_OK && group && group[0]) {
    const cairn_field *gf = cairn_schema_field(c->schema, group);
    if (gf == NULL || cairn_type_is_vector(gf->type) || gf->type == CAIRN_TYPE_JSON)
      st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "group_by_field '%s' must be a scalar field", group);
    else
      q.group_by_field_id = gf->id;
    int64_t gs = 1;
    if (st == CAIRN_OK)
      st = kv_int(kv, nkv, "group_size", 1, 1, 1024, &gs, err);
    q.group_size = (int)gs;
  }
  int64_t *part_ids = NULL;
  size_t n_part_ids = 0;
  if (st == CAIRN_OK)
    st = proxy_read_scope(ctx, c, partitions, n_partitions, &part_ids, &n_part_ids, err);
  if (st == CAIRN_OK) {
    q.partition_ids = part_ids;
    q.n_partition_ids = n_part_ids;
    q.field_id = f->id;
    q.metric = metric;
    q.topk = (int)(topk + offset);
    q.filter = filter;
    q.ignore_growing = kv_bool(kv, nkv, "ignore_growing");
    q.strong = proxy_strong(req->consistency_level, req->use_default_consistency,
                            c->desc->consistency_level);
    cairn_proxy *p = proxy_of(ctx);
    st = p->data->search(p->data_ctx, &q, ctx->arena, out, err);
  }
  /* With group_by, topk counts groups of group_size hits each. */
  size_t per_hit = q.group_by_field_id != 0 && q.group_size > 0 ? (size_t)q.group_size : 1;
  if (st == CAIRN_OK)
    st = proxy_results_cut(ctx->arena, c->schema, *out, (size_t)offset * per_hit,
                           (size_t)topk * per_hit,
                           f->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR, err);
  if (st == CAIRN_OK) {
    round_scores(*out, round_decimal);
    (*out)->output_fields = names;
    (*out)->n_output_fields = n_names;
    (*out)->top_k = topk;
  }
  /* Whole "$meta" asked for ("*"): name every dynamic key of the hits so
   * the SDKs show them as fields (PROTOCOL.md §0.6). */
  if (st == CAIRN_OK && q.output.n_dynamic_keys == 0 && cairn_schema_dynamic(c->schema))
    st = proxy_results_dynamic_keys(ctx->arena, *out, err);
  cairn_expr_free(filter);
  return st;
}

PROXY_HANDLER(proxy_search) {
  const Milvus__Proto__Milvus__SearchRequest *req =
      (const Milvus__Proto__Milvus__SearchRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__SearchResults *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__SearchResults, 1);
  milvus__proto__milvus__search_results__init(r);
  proxy_coll c;
  cairn_status st = proxy_coll_open(ctx, req->db_name, req->collection_name, &c, &err);
  if (st == CAIRN_OK) {
    st = proxy_check_loaded(ctx, &c, req->partition_names, req->n_partition_names, &err);
    if (st == CAIRN_OK)
      st = proxy_search_one(ctx, &c, req, req->partition_names,
                            req->n_partition_names, req->output_fields,
                            req->n_output_fields, NULL, &r->results, &err);
    r->collection_name = c.desc->collection_name;
    proxy_coll_release(&c);
  }
  if (st != CAIRN_OK)
    r->results = NULL;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

/* ---- query ---- */

static bool wants_count(char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(names[i], "count(*)") == 0)
      return true;
  return false;
}

static cairn_status count_rows(cairn_rpc_ctx *ctx, const proxy_coll *c,
                               cairn_qn_query *q, Milvus__Proto__Milvus__QueryResults *r,
                               cairn_error *err) {
  cairn_proxy *p = proxy_of(ctx);
  uint64_t count = 0;
  cairn_status st;
  if (q->filter == NULL && q->n_partition_ids == 0) {
    st = p->data->count(p->data_ctx, c->id, q->strong, &count, err);
  } else {
    q->count_only = true;
    Milvus__Proto__Schema__FieldData **fields = NULL;
    size_t n_fields = 0, n_rows = 0;
    st = p->data->query(p->data_ctx, q, ctx->arena, &fields, &n_fields, &n_rows, err);
    count = n_rows;
  }
  if (st != CAIRN_OK)
    return st;
  int64_t value = (int64_t)count;
  return proxy_count_field(ctx->arena, value, r);
}

PROXY_HANDLER(proxy_query) {
  const Milvus__Proto__Milvus__QueryRequest *req =
      (const Milvus__Proto__Milvus__QueryRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__QueryResults *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__QueryResults, 1);
  milvus__proto__milvus__query_results__init(r);
  proxy_coll c;
  cairn_expr *filter = NULL;
  cairn_status st = proxy_coll_open(ctx, req->db_name, req->collection_name, &c, &err);
  if (st == CAIRN_OK) {
    int64_t limit = -1, offset = 0;
    cairn_qn_query q = {.collection_id = c.id};
    bool count = wants_count(req->output_fields, req->n_output_fields);
    st = proxy_check_loaded(ctx, &c, req->partition_names, req->n_partition_names, &err);
    if (st == CAIRN_OK)
      st = kv_int(req->query_params, req->n_query_params, "limit", -1, 1, INT64_MAX / 2, &limit, &err);
    if (st == CAIRN_OK)
      st = kv_int(req->query_params, req->n_query_params, "offset", 0, 0, INT64_MAX / 2, &offset, &err);
    if (st == CAIRN_OK)
      st = proxy_parse_filter(ctx->arena, c.schema, req->expr,
                              (void *const *)req->expr_template_values,
                              req->n_expr_template_values, &filter, &err);
    if (st == CAIRN_OK && filter == NULL && limit < 0 && !count)
      st = cairn_error_set(&err, CAIRN_INVALID_ARGUMENT,
                           "empty expression should be used with limit");
    if (st == CAIRN_OK)
      st = proxy_read_scope(ctx, &c, req->partition_names, req->n_partition_names,
                            (int64_t **)&q.partition_ids, &q.n_partition_ids, &err);
    q.filter = filter;
    q.limit = limit;
    q.offset = offset;
    q.strong = proxy_strong(req->consistency_level, req->use_default_consistency,
                            c.desc->consistency_level);
    if (st == CAIRN_OK && count) {
      st = count_rows(ctx, &c, &q, r, &err);
    } else if (st == CAIRN_OK) {
      char *star = "*";
      char *const *names = req->n_output_fields ? req->output_fields : &star;
      size_t n_names = req->n_output_fields ? req->n_output_fields : 1;
      size_t n_rows = 0;
      st = proxy_output_fields(ctx->arena, c.schema, names, n_names, &q.output,
                               &r->output_fields, &r->n_output_fields, &err);
      cairn_proxy *p = proxy_of(ctx);
      if (st == CAIRN_OK)
        st = p->data->query(p->data_ctx, &q, ctx->arena, &r->fields_data,
                            &r->n_fields_data, &n_rows, &err);
    }
    r->collection_name = c.desc->collection_name;
    r->primary_field_name = cairn_arena_strdup(ctx->arena, cairn_schema_primary(c.schema)->name);
    proxy_coll_release(&c);
  }
  cairn_expr_free(filter);
  if (st != CAIRN_OK) {
    r->n_fields_data = 0;
    r->n_output_fields = 0;
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}
