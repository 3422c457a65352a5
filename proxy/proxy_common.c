/*
 * proxy_common.c — coordinator calls and collection resolution shared by the
 * proxy's data handlers: the *_fetch functions always ask the coordinator;
 * the others answer from the cache (proxy_cache.c) when the proxy has one.
 */
#include <stdio.h>
#include <string.h>

#include "cairn_internal.pb-c.h"
#include "fielddata.h"
#include "proxy_internal.h"

const mpb_status *proxy_reply_status(const ProtobufCMessage *reply) {
  if (reply->descriptor == &milvus__proto__common__status__descriptor)
    return (const mpb_status *)reply;
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field_by_name(reply->descriptor,
                                                      "status");
  if (f == NULL)
    return NULL;
  return *(mpb_status *const *)((const char *)reply + f->offset);
}

cairn_status proxy_coord_call(cairn_rpc_ctx *ctx, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              ProtobufCMessage **reply, cairn_error *err) {
  char path[256];
  snprintf(path, sizeof path, "/cairn.internal.CoordService/%s", method);
  cairn_rpc_call_opts opts = {.dbname = cairn_pb_db_name(NULL, ctx->dbname),
                              .authorization = ctx->authorization};
  cairn_status st = cairn_rpc_call(proxy_of(ctx)->coord, path, req, reply_desc,
                                   &opts, ctx->arena, reply, err);
  if (st != CAIRN_OK)
    return st;
  const mpb_status *s = proxy_reply_status(*reply);
  return s == NULL ? CAIRN_OK : cairn_pb_status_check(s, NULL, err);
}

cairn_status proxy_partitions_fetch(
    cairn_rpc_ctx *ctx, const proxy_coll *c,
    Milvus__Proto__Milvus__ShowPartitionsResponse **out, cairn_error *err) {
  Milvus__Proto__Milvus__ShowPartitionsRequest req =
      MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
  req.db_name = (char *)c->db;
  req.collection_name = c->desc->collection_name;
  ProtobufCMessage *reply = NULL;
  cairn_status st = proxy_coord_call(
      ctx, "ShowPartitions", &req.pb_base,
      &milvus__proto__milvus__show_partitions_response__descriptor, &reply, err);
  *out = (Milvus__Proto__Milvus__ShowPartitionsResponse *)reply;
  return st;
}

static cairn_status load_partitions(cairn_rpc_ctx *ctx, proxy_coll *c,
                                    cairn_error *err) {
  Milvus__Proto__Milvus__ShowPartitionsResponse *r = NULL;
  cairn_status st = proxy_partitions_fetch(ctx, c, &r, err);
  if (st != CAIRN_OK)
    return st;
  c->n_partitions = r->n_partition_names;
  c->partition_names = r->partition_names ? r->partition_names
                                          : CAIRN_ARENA_NEW(ctx->arena, char *, 1);
  c->partition_ids = r->partitionids;
  c->partition_in_memory = r->inmemory_percentages;
  if (r->n_inmemory_percentages != r->n_partition_names)
    return cairn_error_set(err, CAIRN_INTERNAL, "partitions listed without load state");
  return c->partition_names ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
}

/* From the cache when use_cache (and there is one), else the coordinator. */
static cairn_status coll_open(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *name, bool use_cache, proxy_coll *out,
                              cairn_error *err) {
  if (use_cache && proxy_of(ctx)->cache != NULL)
    return proxy_cache_open(ctx, db_field, name, out, err);
  cairn_status st = proxy_coll_fetch(ctx, db_field, name, out, err);
  if (st == CAIRN_OK && (st = load_partitions(ctx, out, err)) != CAIRN_OK)
    proxy_coll_release(out);
  return st;
}

cairn_status proxy_coll_open(cairn_rpc_ctx *ctx, const char *db_field,
                             const char *name, proxy_coll *out,
                             cairn_error *err) {
  return coll_open(ctx, db_field, name, true, out, err);
}

cairn_status proxy_coll_open_for_write(cairn_rpc_ctx *ctx, const char *db_field,
                                       const char *name, proxy_coll *out,
                                       cairn_error *err) {
  return coll_open(ctx, db_field, name, !proxy_of(ctx)->catalog_version_lags, out, err);
}

cairn_status proxy_coll_fetch(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *name, proxy_coll *out,
                              cairn_error *err) {
  memset(out, 0, sizeof *out);
  out->db = cairn_pb_db_name(db_field, ctx->dbname);
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.db_name = (char *)out->db;
  req.collection_name = (char *)(name ? name : "");
  ProtobufCMessage *reply = NULL;
  cairn_status st = proxy_coord_call(
      ctx, "DescribeCollection", &req.pb_base,
      &milvus__proto__milvus__describe_collection_response__descriptor, &reply,
      err);
  if (st != CAIRN_OK)
    return st;
  out->desc = (Milvus__Proto__Milvus__DescribeCollectionResponse *)reply;
  out->id = out->desc->collectionid;
  return cairn_schema_from_pb(out->desc->schema, &out->schema, err);
}

void proxy_coll_release(proxy_coll *c) {
  if (c->cached == NULL) /* a cached schema belongs to the cache entry */
    cairn_schema_free(c->schema);
  c->schema = NULL;
}

int64_t proxy_partition_id(const proxy_coll *c, const char *name) {
  for (size_t i = 0; i < c->n_partitions; i++)
    if (strcmp(c->partition_names[i], name) == 0)
      return c->partition_ids[i];
  return -1;
}

/* The error of a read of a collection that is not loaded (Milvus code 101). */
static cairn_status not_loaded(const proxy_coll *c, cairn_error *err) {
  return cairn_error_set(err, CAIRN_COLLECTION_NOT_LOADED,
                         "collection not loaded[collection=%s]",
                         c->desc->collection_name);
}

cairn_status proxy_read_scope(cairn_rpc_ctx *ctx, const proxy_coll *c,
                              char *const *names, size_t n, int64_t **ids,
                              size_t *n_ids, cairn_error *err) {
  size_t cap = n > 0 ? n : c->n_partitions;
  *n_ids = 0;
  *ids = CAIRN_ARENA_NEW(ctx->arena, int64_t, cap + 1);
  if (*ids == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < n; i++) {
    int64_t id = proxy_partition_id(c, names[i]);
    if (id < 0)
      return cairn_error_set(err, CAIRN_PARTITION_NOT_FOUND,
                             "partition not found[partition=%s]", names[i]);
    (*ids)[(*n_ids)++] = id;
  }
  for (size_t i = 0; n == 0 && i < c->n_partitions; i++)
    if (c->partition_in_memory[i] > 0)
      (*ids)[(*n_ids)++] = c->partition_ids[i];
  if (*n_ids == 0)
    return not_loaded(c, err);
  return CAIRN_OK;
}

cairn_status proxy_need_data(cairn_rpc_ctx *ctx, cairn_error *err) {
  if (proxy_of(ctx)->data == NULL)
    return cairn_error_set(err, CAIRN_UNIMPLEMENTED,
                           "this proxy has no data path configured");
  return CAIRN_OK;
}

cairn_status proxy_check_loaded(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                char *const *partitions, size_t n,
                                cairn_error *err) {
  if (c->cached != NULL && n == 0)
    return proxy_cached_loaded(c->cached)
               ? CAIRN_OK
               : not_loaded(c, err);
  return proxy_check_loaded_fetch(ctx, c, partitions, n, err);
}

cairn_status proxy_check_loaded_fetch(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                      char *const *partitions, size_t n,
                                      cairn_error *err) {
  Milvus__Proto__Milvus__GetLoadStateRequest req =
      MILVUS__PROTO__MILVUS__GET_LOAD_STATE_REQUEST__INIT;
  req.db_name = (char *)c->db;
  req.collection_name = c->desc->collection_name;
  req.partition_names = (char **)partitions;
  req.n_partition_names = n;
  ProtobufCMessage *out = NULL;
  cairn_status st = proxy_coord_call(
      ctx, "GetLoadState", &req.pb_base,
      &milvus__proto__milvus__get_load_state_response__descriptor, &out, err);
  if (st != CAIRN_OK)
    return st;
  if (((Milvus__Proto__Milvus__GetLoadStateResponse *)out)->state !=
      MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded)
    return not_loaded(c, err);
  return CAIRN_OK;
}

cairn_status proxy_index_metric_fetch(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                      const cairn_field *f, const char **metric,
                                      cairn_error *err) {
  Milvus__Proto__Milvus__DescribeIndexRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
  req.db_name = (char *)c->db;
  req.collection_name = c->desc->collection_name;
  req.field_name = f->name;
  ProtobufCMessage *out = NULL;
  *metric = NULL;
  cairn_status st = proxy_coord_call(
      ctx, "DescribeIndex", &req.pb_base,
      &milvus__proto__milvus__describe_index_response__descriptor, &out, err);
  if (st != CAIRN_OK)
    return st;
  Milvus__Proto__Milvus__DescribeIndexResponse *r =
      (Milvus__Proto__Milvus__DescribeIndexResponse *)out;
  *metric = r->n_index_descriptions
                ? cairn_pb_kv_get(r->index_descriptions[0]->params,
                                  r->index_descriptions[0]->n_params, "metric_type")
                : NULL;
  if (*metric == NULL)
    return cairn_error_set(err, CAIRN_INDEX_NOT_FOUND,
                           "there is no vector index on field %s", f->name);
  return CAIRN_OK;
}

cairn_status proxy_index_metric(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                const cairn_field *f, const char **metric,
                                cairn_error *err) {
  if (c->cached != NULL)
    return proxy_cached_metric(c->cached, f, metric, err);
  return proxy_index_metric_fetch(ctx, c, f, metric, err);
}
