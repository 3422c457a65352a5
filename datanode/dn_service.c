/*
 * dn_service.c — cairn.cluster.DataNodeService: Flush, GrowingRows and
 * DropPartition of the collections this datanode consumes, served over
 * gRPC to the proxies of a cluster (standalone calls the same functions
 * directly). A flush of a collection this node does not consume answers
 * NOT_READY in the Status, so the proxy can look up the new owner and
 * retry; DropPartition works on the object store alone, whoever asks.
 */
#include <stdlib.h>

#include "cairn_cluster.pb-c.h"
#include "datanode.h"
#include "milvus_util.h"

static cairn_datanode *dn_of(cairn_rpc_ctx *ctx) { return ctx->user; }

static cairn_grpc_code h_flush(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                               ProtobufCMessage **reply) {
  const Cairn__Cluster__CollectionRequest *m =
      (const Cairn__Cluster__CollectionRequest *)msg;
  Cairn__Cluster__FlushResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Cluster__FlushResponse, 1);
  cairn__cluster__flush_response__init(r);
  cairn_error err = {0};
  int64_t *ids = NULL;
  size_t n = 0;
  if (cairn_datanode_flush(dn_of(ctx), m->collection_id, &ids, &n, &err) ==
      CAIRN_OK) {
    r->segment_ids = CAIRN_ARENA_NEW(ctx->arena, int64_t, n + 1);
    for (size_t i = 0; i < n; i++)
      r->segment_ids[i] = ids[i];
    r->n_segment_ids = n;
  }
  free(ids);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_grpc_code h_growing(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                                 ProtobufCMessage **reply) {
  const Cairn__Cluster__CollectionRequest *m =
      (const Cairn__Cluster__CollectionRequest *)msg;
  Cairn__Cluster__GrowingRowsResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Cluster__GrowingRowsResponse, 1);
  cairn__cluster__growing_rows_response__init(r);
  r->rows = cairn_datanode_growing_rows(dn_of(ctx), m->collection_id);
  r->status = cairn_pb_ok(ctx->arena);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_grpc_code h_drop_partition(cairn_rpc_ctx *ctx,
                                        const ProtobufCMessage *msg,
                                        ProtobufCMessage **reply) {
  const Cairn__Cluster__PartitionRequest *m =
      (const Cairn__Cluster__PartitionRequest *)msg;
  Cairn__Cluster__DropPartitionResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Cluster__DropPartitionResponse, 1);
  cairn__cluster__drop_partition_response__init(r);
  cairn_error err = {0};
  if (m->collection_id <= 0 || m->partition_id <= 0)
    cairn_error_set(&err, CAIRN_INVALID_ARGUMENT,
                    "DropPartition needs a collection id and a partition id");
  else
    cairn_datanode_drop_partition(dn_of(ctx), m->collection_id,
                                  m->partition_id, &err);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static const cairn_rpc_method methods[] = {
    {"Flush", h_flush},
    {"GrowingRows", h_growing},
    {"DropPartition", h_drop_partition},
    {NULL, NULL},
};

cairn_status cairn_datanode_service_new(cairn_datanode *dn,
                                        cairn_rpc_service **out,
                                        cairn_error *err) {
  return cairn_rpc_service_new(&cairn__cluster__data_node_service__descriptor,
                               methods, dn, out, err);
}
