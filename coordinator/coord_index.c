/*
 * coord_index.c — index definitions: create, describe, state, progress,
 * drop. The catalogue records what the user asked for (validated by the
 * index library's cairn_index_validate_params; AUTOINDEX resolved to a
 * concrete type). Progress comes from the sealed segments the datanodes
 * recorded: an index covers the rows of the segments that carry a file built
 * for it (an index with no data covers 0 of 0 rows and is Finished).
 *
 * Parameters arrive as KV pairs: index_type, metric_type, params (a JSON
 * object string); any other key is a flattened parameter (old clients) and is
 * merged into the JSON object. Scalar fields take INVERTED, STL_SORT, Trie,
 * BITMAP or AUTOINDEX (= INVERTED).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn_data.pb-c.h"
#include "coord_internal.h"
#include "index.h"
#include "schema.h"

typedef Milvus__Proto__Schema__FieldSchema pb_field;

/* The user's parameters merged into one JSON object string in the arena. */
static cairn_status params_json(cairn_arena *arena, mpb_kv *const *kvs,
                                size_t n, const char **out, cairn_error *err) {
  const char *params = cairn_pb_kv_get(kvs, n, "params");
  json_object *obj = NULL;
  if (params != NULL && params[0] != '\0') {
    obj = json_tokener_parse(params);
    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
      json_object_put(obj);
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "index params must be a JSON object, got '%s'",
                             params);
    }
  } else {
    obj = json_object_new_object();
  }
  for (size_t i = 0; i < n; i++) {
    const char *k = kvs[i]->key;
    if (strcmp(k, "params") == 0 || strcmp(k, "index_type") == 0 ||
        strcmp(k, "metric_type") == 0)
      continue;
    char *end = NULL;
    long long v = strtoll(kvs[i]->value, &end, 10);
    json_object *val = end != kvs[i]->value && *end == '\0'
                           ? json_object_new_int64(v)
                           : json_object_new_string(kvs[i]->value);
    json_object_object_add(obj, k, val);
  }
  *out = cairn_arena_strdup(arena, json_object_to_json_string_ext(
                                       obj, JSON_C_TO_STRING_PLAIN));
  json_object_put(obj);
  return CAIRN_OK;
}

static const char *const scalar_index_types[] = {"INVERTED", "STL_SORT",
                                                 "Trie", "BITMAP", NULL};

static cairn_status check_scalar_index(const pb_field *f, const char **type,
                                       cairn_error *err) {
  if (strcasecmp(*type, "AUTOINDEX") == 0 || (*type)[0] == '\0')
    *type = "INVERTED";
  const char *canonical = NULL;
  for (const char *const *t = scalar_index_types; *t; t++)
    if (strcasecmp(*t, *type) == 0)
      canonical = *t;
  if (canonical == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "index type %s is not supported on scalar field "
                           "'%s' (use INVERTED, STL_SORT, Trie or BITMAP)",
                           *type, f->name);
  *type = canonical;
  int t = f->data_type;
  bool ok = t != CAIRN_TYPE_JSON;
  if (strcmp(canonical, "STL_SORT") == 0)
    ok = cairn_type_is_integer(t) || cairn_type_is_floating(t);
  else if (strcmp(canonical, "Trie") == 0)
    ok = t == CAIRN_TYPE_VARCHAR;
  else if (strcmp(canonical, "BITMAP") == 0)
    ok = t == CAIRN_TYPE_BOOL || cairn_type_is_integer(t) ||
         t == CAIRN_TYPE_VARCHAR || t == CAIRN_TYPE_ARRAY;
  if (!ok)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "index type %s cannot be built on field '%s' of "
                           "type %s",
                           canonical, f->name,
                           cairn_type_name((cairn_data_type)t));
  return CAIRN_OK;
}

/* Resolve type and metric and validate; fills the record's fields. */
static cairn_status resolve_index(cairn_arena *arena, const pb_field *f,
                                  mpb_kv *const *kvs, size_t n, cat_index *ix,
                                  cairn_error *err) {
  const char *type = cairn_pb_kv_get(kvs, n, "index_type");
  const char *metric = cairn_pb_kv_get(kvs, n, "metric_type");
  const char *json = NULL;
  if (type == NULL)
    type = "";
  ix->is_auto_index = type[0] == '\0' || strcasecmp(type, "AUTOINDEX") == 0;
  cairn_status st = params_json(arena, kvs, n, &json, err);
  if (st != CAIRN_OK)
    return st;
  if (!coord_is_vector_type(f->data_type)) {
    st = check_scalar_index(f, &type, err);
    metric = "";
  } else {
    if (ix->is_auto_index)
      type = cairn_index_default_for((cairn_data_type)f->data_type);
    if (metric == NULL || metric[0] == '\0')
      metric = cairn_index_default_metric_for((cairn_data_type)f->data_type);
    st = cairn_index_validate_params(type, metric, (cairn_data_type)f->data_type,
                                     coord_type_param(f, "dim"), json, err);
    /* An index type the field cannot take is a bad parameter to Milvus
     * clients (1100 / IllegalArgument), not a server limitation. */
    if (st == CAIRN_INDEX_NOT_SUPPORTED)
      st = err->status = CAIRN_INVALID_ARGUMENT;
  }
  if (st != CAIRN_OK)
    return st;
  ix->index_type = cairn_arena_strdup(arena, type);
  ix->metric_type = cairn_arena_strdup(arena, metric);
  ix->user_params = cairn_pb_kv_copy(arena, kvs, n);
  ix->n_user_params = n;
  ix->params = CAIRN_ARENA_NEW(arena, mpb_kv *, 3);
  ix->params[ix->n_params++] = cairn_pb_kv_new(arena, "index_type", type);
  if (metric[0] != '\0')
    ix->params[ix->n_params++] = cairn_pb_kv_new(arena, "metric_type", metric);
  ix->params[ix->n_params++] = cairn_pb_kv_new(arena, "params", json);
  return CAIRN_OK;
}

/* The vector field an unnamed CreateIndex means: the only one there is. */
static pb_field *default_field(const cat_coll *c) {
  pb_field *found = NULL;
  for (size_t i = 0; i < c->schema->n_fields; i++)
    if (coord_is_vector_type(c->schema->fields[i]->data_type)) {
      if (found != NULL)
        return NULL;
      found = c->schema->fields[i];
    }
  return found;
}

static bool same_definition(const cat_index *a, const cat_index *b) {
  if (strcmp(a->index_type, b->index_type) != 0 ||
      strcmp(a->metric_type, b->metric_type) != 0 || a->n_params != b->n_params)
    return false;
  for (size_t i = 0; i < a->n_params; i++)
    if (strcmp(a->params[i]->value, b->params[i]->value) != 0)
      return false;
  return true;
}

/* An existing index on the same field or with the same name: identical is a
 * no-op (*dup = true), anything else an error. */
static cairn_status check_duplicate(const cat_coll *c, const cat_index *ix,
                                    bool *dup, cairn_error *err) {
  *dup = false;
  for (size_t i = 0; i < c->n_indexes; i++) {
    const cat_index *old = c->indexes[i];
    bool same_field = old->field_id == ix->field_id;
    bool same_name = strcmp(old->name, ix->name) == 0;
    if (!same_field && !same_name)
      continue;
    if (same_field && same_name && same_definition(old, ix)) {
      *dup = true;
      return CAIRN_OK;
    }
    if (same_name && !same_field)
      return cairn_error_set(err, CAIRN_INDEX_DUPLICATE,
                             "index name '%s' is already used on another "
                             "field of collection '%s'",
                             ix->name, c->name);
    return cairn_error_set(err, CAIRN_INDEX_DUPLICATE,
                           "at most one distinct index is allowed per field: "
                           "field of index '%s' already has index '%s' with "
                           "other parameters; drop it first",
                           ix->name, old->name);
  }
  return CAIRN_OK;
}

static cairn_status append_index(cairn_arena *arena, cat_coll *c,
                                 cat_index *ix, cairn_error *err) {
  cat_index **all = CAIRN_ARENA_NEW(arena, cat_index *, c->n_indexes + 1);
  if (all == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (c->n_indexes)
    memcpy(all, c->indexes, c->n_indexes * sizeof *all);
  all[c->n_indexes++] = ix;
  c->indexes = all;
  return CAIRN_OK;
}

static cairn_status create_index(cairn_rpc_ctx *ctx,
                                 const Milvus__Proto__Milvus__CreateIndexRequest *req,
                                 cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection(ctx, req->db_name, req->collection_name,
                                     &db, &c, err);
  if (st != CAIRN_OK)
    return st;
  pb_field *f = req->field_name && req->field_name[0]
                    ? coord_schema_field(c->schema, req->field_name)
                    : default_field(c);
  if (f == NULL || f->is_dynamic)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           req->field_name && req->field_name[0]
                               ? "field '%s' not found in collection '%s'"
                               : "%sfield name is required: collection '%s' "
                                 "does not have exactly one vector field",
                           req->field_name ? req->field_name : "", c->name);
  cat_index *ix = CAIRN_ARENA_NEW(ctx->arena, cat_index, 1);
  cairn__catalog__index_info__init(ix);
  ix->field_id = f->fieldid;
  ix->name = req->index_name && req->index_name[0] ? req->index_name : f->name;
  st = coord_check_name("index", ix->name, err);
  if (st == CAIRN_OK)
    st = resolve_index(ctx->arena, f, req->extra_params, req->n_extra_params,
                       ix, err);
  bool dup = false;
  if (st == CAIRN_OK)
    st = check_duplicate(c, ix, &dup, err);
  if (st != CAIRN_OK || dup)
    return st;
  st = coord_new_id(coord, &ix->id, err);
  if (st == CAIRN_OK)
    st = coord_now(coord, &ix->created_ts, err);
  if (st == CAIRN_OK)
    st = append_index(ctx->arena, c, ix, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_put_collection(coord->cat, c, err);
  if (st == CAIRN_OK)
    coord_publish_event(coord, c->id);
  return st;
}

COORD_DDL_HANDLER(h_create_index, create_index, Milvus__Proto__Milvus__CreateIndexRequest)

static const char *field_name_of(const cat_coll *c, int64_t id) {
  for (size_t i = 0; i < c->schema->n_fields; i++)
    if (c->schema->fields[i]->fieldid == id)
      return c->schema->fields[i]->name;
  return "";
}

/* Index i of c matches a (field_name, index_name) filter. */
static bool index_matches(const cat_coll *c, const cat_index *ix,
                          const char *field, const char *name) {
  if (name && name[0] && strcmp(ix->name, name) != 0)
    return false;
  if (field && field[0] && strcmp(field_name_of(c, ix->field_id), field) != 0)
    return false;
  return true;
}

/* The indexes matching the filter; INDEX_NOT_FOUND when none. */
static cairn_status matching_indexes(cairn_rpc_ctx *ctx, const char *db_field,
                                     const char *collection, const char *field,
                                     const char *name, cat_coll **c,
                                     cat_index ***out, size_t *n,
                                     cairn_error *err) {
  cat_db *db = NULL;
  *n = 0;
  cairn_status st = coord_collection(ctx, db_field, collection, &db, c, err);
  if (st != CAIRN_OK)
    return st;
  *out = CAIRN_ARENA_NEW(ctx->arena, cat_index *, (*c)->n_indexes + 1);
  for (size_t i = 0; i < (*c)->n_indexes; i++)
    if (index_matches(*c, (*c)->indexes[i], field, name))
      (*out)[(*n)++] = (*c)->indexes[i];
  if (*n == 0)
    return cairn_error_set(err, CAIRN_INDEX_NOT_FOUND,
                           "index not found[collection=%s]%s%s%s", (*c)->name,
                           name && name[0] ? "[index=" : "",
                           name && name[0] ? name : "",
                           name && name[0] ? "]" : "");
  return CAIRN_OK;
}

/* Rows of the collection's sealed segments, and of those carrying a built
 * file for index ix. Growing data is not counted (as in Milvus). */
static void count_rows(cairn_rpc_ctx *ctx, const cat_coll *c,
                       const cat_index *ix, int64_t *total, int64_t *indexed) {
  Cairn__Data__SegmentInfo **segs = NULL;
  size_t n = 0;
  cairn_error err = {0};
  *total = *indexed = 0;
  if (coord_list_segments(coord_of(ctx), ctx->arena, c, &segs, &n, &err) !=
      CAIRN_OK)
    return;
  for (size_t i = 0; i < n; i++) {
    *total += (int64_t)segs[i]->num_rows;
    for (size_t j = 0; j < segs[i]->n_index_files; j++)
      if (segs[i]->index_files[j]->index_id == ix->id)
        *indexed += (int64_t)segs[i]->num_rows;
  }
}

static Milvus__Proto__Milvus__IndexDescription *
describe_one(cairn_rpc_ctx *ctx, const cat_coll *c, const cat_index *ix) {
  Milvus__Proto__Milvus__IndexDescription *d =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__IndexDescription, 1);
  milvus__proto__milvus__index_description__init(d);
  d->index_name = ix->name;
  d->indexid = ix->id;
  d->params = ix->params;
  d->n_params = ix->n_params;
  d->field_name = (char *)field_name_of(c, ix->field_id);
  count_rows(ctx, c, ix, &d->total_rows, &d->indexed_rows);
  d->pending_index_rows = d->total_rows - d->indexed_rows;
  d->state = d->pending_index_rows == 0
                 ? MILVUS__PROTO__COMMON__INDEX_STATE__Finished
                 : MILVUS__PROTO__COMMON__INDEX_STATE__InProgress;
  return d;
}

static COORD_HANDLER(h_describe_index) {
  const Milvus__Proto__Milvus__DescribeIndexRequest *req =
      (const Milvus__Proto__Milvus__DescribeIndexRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__DescribeIndexResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__DescribeIndexResponse, 1);
  milvus__proto__milvus__describe_index_response__init(r);
  cat_coll *c = NULL;
  cat_index **found = NULL;
  size_t n = 0;
  if (matching_indexes(ctx, req->db_name, req->collection_name,
                       req->field_name, req->index_name, &c, &found, &n,
                       &err) == CAIRN_OK) {
    r->index_descriptions = CAIRN_ARENA_NEW(
        ctx->arena, Milvus__Proto__Milvus__IndexDescription *, n);
    for (size_t i = 0; i < n; i++)
      r->index_descriptions[i] = describe_one(ctx, c, found[i]);
    r->n_index_descriptions = n;
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static COORD_HANDLER(h_index_state) {
  const Milvus__Proto__Milvus__GetIndexStateRequest *req =
      (const Milvus__Proto__Milvus__GetIndexStateRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__GetIndexStateResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__GetIndexStateResponse, 1);
  milvus__proto__milvus__get_index_state_response__init(r);
  cat_coll *c = NULL;
  cat_index **found = NULL;
  size_t n = 0;
  if (matching_indexes(ctx, req->db_name, req->collection_name,
                       req->field_name, req->index_name, &c, &found, &n,
                       &err) == CAIRN_OK)
    r->state = describe_one(ctx, c, found[0])->state;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static COORD_HANDLER(h_index_progress) {
  const Milvus__Proto__Milvus__GetIndexBuildProgressRequest *req =
      (const Milvus__Proto__Milvus__GetIndexBuildProgressRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__GetIndexBuildProgressResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__GetIndexBuildProgressResponse, 1);
  milvus__proto__milvus__get_index_build_progress_response__init(r);
  cat_coll *c = NULL;
  cat_index **found = NULL;
  size_t n = 0;
  if (matching_indexes(ctx, req->db_name, req->collection_name,
                       req->field_name, req->index_name, &c, &found, &n,
                       &err) == CAIRN_OK)
    count_rows(ctx, c, found[0], &r->total_rows, &r->indexed_rows);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_status drop_index(cairn_rpc_ctx *ctx,
                               const Milvus__Proto__Milvus__DropIndexRequest *req,
                               cairn_error *err) {
  cat_coll *c = NULL;
  cat_index **found = NULL;
  size_t n = 0;
  cairn_status st =
      matching_indexes(ctx, req->db_name, req->collection_name, req->field_name,
                       req->index_name, &c, &found, &n, err);
  if (st == CAIRN_INDEX_NOT_FOUND) { /* dropping is idempotent */
    cairn_error_clear(err);
    return CAIRN_OK;
  }
  if (st != CAIRN_OK)
    return st;
  if (c->load_state != MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateNotLoad ||
      c->n_loaded_partitions > 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "index cannot be dropped, collection '%s' is "
                           "loaded, please release it first",
                           c->name);
  size_t k = 0;
  for (size_t i = 0; i < c->n_indexes; i++) {
    bool drop = false;
    for (size_t j = 0; j < n; j++)
      drop |= c->indexes[i] == found[j];
    if (!drop)
      c->indexes[k++] = c->indexes[i];
  }
  c->n_indexes = k;
  return cairn_catalog_put_collection(coord_of(ctx)->cat, c, err);
}

COORD_DDL_HANDLER(h_drop_index, drop_index, Milvus__Proto__Milvus__DropIndexRequest)

const cairn_rpc_method coord_index_methods[] = {
    {"CreateIndex", h_create_index},
    {"DescribeIndex", h_describe_index},
    {"GetIndexState", h_index_state},
    {"GetIndexBuildProgress", h_index_progress},
    {"DropIndex", h_drop_index},
    {NULL, NULL},
};
