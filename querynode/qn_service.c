/*
 * qn_service.c — cairn.cluster.QueryNodeService: the querynode's search,
 * query, count and load progress served over gRPC to the proxies of a
 * cluster. Requests are decoded by qn_wire.c against the schema of the
 * loaded collection (held by a reference for the whole call) and run by
 * the same functions standalone calls directly. Business errors (not
 * loaded, bad filter) travel in the reply's common.Status.
 */
#include "cairn_cluster.pb-c.h"
#include "milvus_util.h"
#include "qn_internal.h"
#include "qn_wire.h"

static cairn_querynode *qn_of(cairn_rpc_ctx *ctx) { return ctx->user; }

static cairn_grpc_code h_search(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                                ProtobufCMessage **reply) {
  const Cairn__Cluster__SearchRequest *m = (const Cairn__Cluster__SearchRequest *)msg;
  Cairn__Cluster__SearchResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Cluster__SearchResponse, 1);
  cairn__cluster__search_response__init(r);
  cairn_error err = {0};
  qn_coll *c = NULL;
  cairn_expr *filter = NULL;
  cairn_status st = qn_coll_get_loaded(qn_of(ctx), m->collection_id, &c, &err);
  cairn_qn_search q;
  if (st == CAIRN_OK)
    st = qn_wire_decode_search(ctx->arena, m, c->schema, &q, &filter, &err);
  if (st == CAIRN_OK)
    st = cairn_querynode_search(qn_of(ctx), &q, ctx->arena, &r->results, &err);
  cairn_expr_free(filter);
  if (c != NULL)
    qn_coll_unref(c);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_grpc_code h_query(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                               ProtobufCMessage **reply) {
  const Cairn__Cluster__QueryRequest *m = (const Cairn__Cluster__QueryRequest *)msg;
  Cairn__Cluster__QueryResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Cluster__QueryResponse, 1);
  cairn__cluster__query_response__init(r);
  cairn_error err = {0};
  qn_coll *c = NULL;
  cairn_expr *filter = NULL;
  cairn_status st = qn_coll_get_loaded(qn_of(ctx), m->collection_id, &c, &err);
  cairn_qn_query q;
  size_t n_rows = 0;
  if (st == CAIRN_OK)
    st = qn_wire_decode_query(ctx->arena, m, c->schema, &q, &filter, &err);
  if (st == CAIRN_OK)
    st = cairn_querynode_query(qn_of(ctx), &q, ctx->arena, &r->fields,
                               &r->n_fields, &n_rows, &err);
  r->n_rows = n_rows;
  cairn_expr_free(filter);
  if (c != NULL)
    qn_coll_unref(c);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_grpc_code h_count(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                               ProtobufCMessage **reply) {
  const Cairn__Cluster__CollectionRequest *m =
      (const Cairn__Cluster__CollectionRequest *)msg;
  Cairn__Cluster__CountResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Cluster__CountResponse, 1);
  cairn__cluster__count_response__init(r);
  cairn_error err = {0};
  uint64_t rows = 0;
  cairn_querynode_count(qn_of(ctx), m->collection_id, m->strong, &rows, &err);
  r->rows = rows;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_grpc_code h_progress(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                                  ProtobufCMessage **reply) {
  const Cairn__Cluster__CollectionRequest *m =
      (const Cairn__Cluster__CollectionRequest *)msg;
  Cairn__Cluster__ProgressResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Cluster__ProgressResponse, 1);
  cairn__cluster__progress_response__init(r);
  cairn_error err = {0};
  r->progress = cairn_querynode_progress(qn_of(ctx), m->collection_id, &err);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static const cairn_rpc_method methods[] = {
    {"Search", h_search},
    {"Query", h_query},
    {"Count", h_count},
    {"Progress", h_progress},
    {NULL, NULL},
};

cairn_status cairn_querynode_service_new(cairn_querynode *qn,
                                         cairn_rpc_service **out,
                                         cairn_error *err) {
  return cairn_rpc_service_new(&cairn__cluster__query_node_service__descriptor,
                               methods, qn, out, err);
}
