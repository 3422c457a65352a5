/*
 * proxy_hooks.c — catalogue calls that also move the data path: the
 * request is forwarded to the coordinator, and on success the data roles are
 * told (a new collection is watched by a datanode, a load starts on the
 * querynode, an index definition schedules builds, ...). Load state and
 * statistics combine the catalogue's view with the data roles' progress, so
 * nothing is reported loaded or indexed before it is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_internal.pb-c.h"
#include "proxy_internal.h"

typedef Milvus__Proto__Milvus__GetLoadingProgressResponse progress_reply;

/* Forward; *ok tells whether the coordinator answered success. */
static cairn_grpc_code forward_ok(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                                  ProtobufCMessage **reply, bool *ok) {
  cairn_grpc_code code = proxy_forward(ctx, msg, reply);
  const mpb_status *s = code == CAIRN_GRPC_OK ? proxy_reply_status(*reply) : NULL;
  *ok = code == CAIRN_GRPC_OK && (s == NULL || (s->code == 0 && s->error_code == 0));
  return code;
}

/* The collection's id, or 0 when it cannot be resolved. */
static int64_t collection_id(cairn_rpc_ctx *ctx, const char *db, const char *name) {
  proxy_coll c;
  cairn_error err = {0};
  if (proxy_coll_open(ctx, db, name, &c, &err) != CAIRN_OK)
    return 0;
  int64_t id = c.id;
  proxy_coll_release(&c);
  return id;
}

/* Replace a Status reply with err when a data-path step failed. */
static cairn_grpc_code fail_with(cairn_rpc_ctx *ctx, const cairn_error *err,
                                 ProtobufCMessage **reply) {
  *reply = &cairn_pb_status_err(ctx->arena, err)->base;
  return CAIRN_GRPC_OK;
}

PROXY_HANDLER(proxy_create_collection) {
  const Milvus__Proto__Milvus__CreateCollectionRequest *req =
      (const Milvus__Proto__Milvus__CreateCollectionRequest *)msg;
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok)
    return code;
  cairn_error err = {0};
  int64_t id = collection_id(ctx, req->db_name, req->collection_name);
  cairn_proxy *p = proxy_of(ctx);
  if (id != 0 && p->data->collection_created(p->data_ctx, id, &err) != CAIRN_OK)
    return fail_with(ctx, &err, reply);
  return code;
}

PROXY_HANDLER(proxy_drop_collection) {
  const Milvus__Proto__Milvus__DropCollectionRequest *req =
      (const Milvus__Proto__Milvus__DropCollectionRequest *)msg;
  int64_t id = collection_id(ctx, req->db_name, req->collection_name);
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok || id == 0)
    return code;
  cairn_error err = {0};
  cairn_proxy *p = proxy_of(ctx);
  if (p->data->collection_dropped(p->data_ctx, id, &err) != CAIRN_OK)
    return fail_with(ctx, &err, reply);
  return code;
}

/* The ids of a collection and of one of its partitions (0 when either
 * cannot be resolved). */
static void partition_id(cairn_rpc_ctx *ctx, const char *db, const char *name,
                         const char *partition, int64_t *coll_id,
                         int64_t *part_id) {
  proxy_coll c;
  cairn_error err = {0};
  *coll_id = *part_id = 0;
  if (partition == NULL || proxy_coll_open(ctx, db, name, &c, &err) != CAIRN_OK)
    return;
  int64_t id = proxy_partition_id(&c, partition);
  if (id >= 0) {
    *coll_id = c.id;
    *part_id = id;
  }
  proxy_coll_release(&c);
}

PROXY_HANDLER(proxy_drop_partition) {
  const Milvus__Proto__Milvus__DropPartitionRequest *req =
      (const Milvus__Proto__Milvus__DropPartitionRequest *)msg;
  int64_t coll_id, part_id;
  partition_id(ctx, req->db_name, req->collection_name, req->partition_name,
               &coll_id, &part_id);
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok || coll_id == 0)
    return code;
  cairn_error err = {0};
  cairn_proxy *p = proxy_of(ctx);
  if (p->data->partition_dropped(p->data_ctx, coll_id, part_id, &err) != CAIRN_OK)
    return fail_with(ctx, &err, reply);
  return code;
}

static cairn_grpc_code load(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                            const char *db, const char *name,
                            ProtobufCMessage **reply) {
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok)
    return code;
  cairn_error err = {0};
  int64_t id = collection_id(ctx, db, name);
  cairn_proxy *p = proxy_of(ctx);
  if (id != 0 && p->data->load(p->data_ctx, id, &err) != CAIRN_OK)
    return fail_with(ctx, &err, reply);
  return code;
}

PROXY_HANDLER(proxy_load_collection) {
  const Milvus__Proto__Milvus__LoadCollectionRequest *req =
      (const Milvus__Proto__Milvus__LoadCollectionRequest *)msg;
  return load(ctx, msg, req->db_name, req->collection_name, reply);
}

PROXY_HANDLER(proxy_load_partitions) {
  const Milvus__Proto__Milvus__LoadPartitionsRequest *req =
      (const Milvus__Proto__Milvus__LoadPartitionsRequest *)msg;
  return load(ctx, msg, req->db_name, req->collection_name, reply);
}

PROXY_HANDLER(proxy_release_collection) {
  const Milvus__Proto__Milvus__ReleaseCollectionRequest *req =
      (const Milvus__Proto__Milvus__ReleaseCollectionRequest *)msg;
  int64_t id = collection_id(ctx, req->db_name, req->collection_name);
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok || id == 0)
    return code;
  cairn_error err = {0};
  cairn_proxy *p = proxy_of(ctx);
  if (p->data->release(p->data_ctx, id, &err) != CAIRN_OK)
    return fail_with(ctx, &err, reply);
  return code;
}

/* The querynode's progress of a collection the catalogue says is loaded:
 * 0..100; a querynode that lost it (restart) is asked to load it again. */
static int data_progress(cairn_rpc_ctx *ctx, const char *db, const char *name,
                         cairn_error *err) {
  int64_t id = collection_id(ctx, db, name);
  cairn_proxy *p = proxy_of(ctx);
  if (id == 0)
    return 100;
  int progress = p->data->load_progress(p->data_ctx, id, err);
  if (progress < 0 && err->status == CAIRN_OK) {
    p->data->load(p->data_ctx, id, err);
    progress = 0;
  }
  return progress;
}

PROXY_HANDLER(proxy_loading_progress) {
  const Milvus__Proto__Milvus__GetLoadingProgressRequest *req =
      (const Milvus__Proto__Milvus__GetLoadingProgressRequest *)msg;
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok)
    return code;
  cairn_error err = {0};
  int progress = data_progress(ctx, req->db_name, req->collection_name, &err);
  progress_reply *r = (progress_reply *)*reply;
  if (progress < 0 || err.status != CAIRN_OK) {
    r->status = cairn_pb_status(ctx->arena, err.status ? err.status : CAIRN_INTERNAL,
                                err.message[0] ? err.message : "load failed");
    r->progress = 0;
  } else {
    r->progress = r->refresh_progress = progress;
  }
  return code;
}

PROXY_HANDLER(proxy_load_state) {
  const Milvus__Proto__Milvus__GetLoadStateRequest *req =
      (const Milvus__Proto__Milvus__GetLoadStateRequest *)msg;
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  Milvus__Proto__Milvus__GetLoadStateResponse *r =
      (Milvus__Proto__Milvus__GetLoadStateResponse *)*reply;
  if (!ok || r->state != MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded)
    return code;
  cairn_error err = {0};
  if (data_progress(ctx, req->db_name, req->collection_name, &err) < 100)
    r->state = MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoading;
  return code;
}

PROXY_HANDLER(proxy_create_index) {
  const Milvus__Proto__Milvus__CreateIndexRequest *req =
      (const Milvus__Proto__Milvus__CreateIndexRequest *)msg;
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok)
    return code;
  cairn_error err = {0};
  int64_t id = collection_id(ctx, req->db_name, req->collection_name);
  cairn_proxy *p = proxy_of(ctx);
  if (id != 0 && p->data->index_created(p->data_ctx, id, &err) != CAIRN_OK)
    return fail_with(ctx, &err, reply);
  return code;
}

/* Rows in sealed segments (catalogue) plus rows still growing. */
static uint64_t row_count(cairn_rpc_ctx *ctx, int64_t id) {
  Cairn__Internal__ListSegmentsRequest req =
      CAIRN__INTERNAL__LIST_SEGMENTS_REQUEST__INIT;
  req.collection_id = id;
  ProtobufCMessage *out = NULL;
  cairn_error err = {0};
  uint64_t rows = 0;
  if (proxy_coord_call(ctx, "ListSegments", &req.base,
                       &cairn__internal__list_segments_response__descriptor,
                       &out, &err) == CAIRN_OK) {
    Cairn__Internal__ListSegmentsResponse *r =
        (Cairn__Internal__ListSegmentsResponse *)out;
    for (size_t i = 0; i < r->n_segments; i++)
      rows += r->segments[i]->num_rows;
  }
  cairn_proxy *p = proxy_of(ctx);
  return rows + p->data->growing_rows(p->data_ctx, id);
}

PROXY_HANDLER(proxy_collection_statistics) {
  const Milvus__Proto__Milvus__GetCollectionStatisticsRequest *req =
      (const Milvus__Proto__Milvus__GetCollectionStatisticsRequest *)msg;
  bool ok;
  cairn_grpc_code code = forward_ok(ctx, msg, reply, &ok);
  if (!ok)
    return code;
  Milvus__Proto__Milvus__GetCollectionStatisticsResponse *r =
      (Milvus__Proto__Milvus__GetCollectionStatisticsResponse *)*reply;
  int64_t id = collection_id(ctx, req->db_name, req->collection_name);
  char text[32];
  snprintf(text, sizeof text, "%" PRIu64, id ? row_count(ctx, id) : 0);
  for (size_t i = 0; i < r->n_stats; i++)
    if (strcmp(r->stats[i]->key, "row_count") == 0)
      r->stats[i]->value = cairn_arena_strdup(ctx->arena, text);
  return code;
}
