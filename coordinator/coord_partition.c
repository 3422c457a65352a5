/* coord_partition.c — partition DDL: create, drop, has, show, statistics.
 * Collections with a partition key manage their partitions themselves: users
 * may not create or drop partitions there (as in Milvus). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cairn_data.pb-c.h"
#include "coord_internal.h"

static int find_partition(const cat_coll *c, const char *name) {
  for (size_t i = 0; i < c->n_partitions; i++)
    if (strcmp(c->partitions[i]->name, name) == 0)
      return (int)i;
  return -1;
}

static cairn_status check_user_partitions(const cat_coll *c, cairn_error *err) {
  if (c->num_partitions > 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "collection '%s' has a partition key: its "
                           "partitions are managed by the server",
                           c->name);
  return CAIRN_OK;
}

static cairn_status create_partition(cairn_rpc_ctx *ctx,
                                     const Milvus__Proto__Milvus__CreatePartitionRequest *req,
                                     cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  uint64_t ts = 0;
  cairn_status st = coord_collection(ctx, req->db_name, req->collection_name,
                                     &db, &c, err);
  if (st == CAIRN_OK)
    st = coord_check_name("partition", req->partition_name, err);
  if (st == CAIRN_OK)
    st = check_user_partitions(c, err);
  if (st != CAIRN_OK)
    return st;
  if (find_partition(c, req->partition_name) >= 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "partition already exists[collection=%s]"
                           "[partition=%s]",
                           c->name, req->partition_name);
  if ((int)c->n_partitions >= coord->opts.max_partitions)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "partition number (%zu) exceeds the limit %d",
                           c->n_partitions, coord->opts.max_partitions);
  st = coord_now(coord, &ts, err);
  if (st == CAIRN_OK)
    st = coord_add_partition(coord, ctx->arena, c, req->partition_name, ts, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_put_collection(coord->cat, c, err);
  return st;
}

COORD_DDL_HANDLER(h_create_partition, create_partition, Milvus__Proto__Milvus__CreatePartitionRequest)

static bool partition_loaded(const cat_coll *c, const char *name) {
  for (size_t i = 0; i < c->n_loaded_partitions; i++)
    if (strcmp(c->loaded_partitions[i], name) == 0)
      return true;
  return false;
}

static cairn_status drop_partition(cairn_rpc_ctx *ctx,
                                   const Milvus__Proto__Milvus__DropPartitionRequest *req,
                                   cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection(ctx, req->db_name, req->collection_name,
                                     &db, &c, err);
  if (st == CAIRN_OK)
    st = coord_check_name("partition", req->partition_name, err);
  if (st == CAIRN_OK)
    st = check_user_partitions(c, err);
  if (st != CAIRN_OK)
    return st;
  if (strcmp(req->partition_name, "_default") == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "default partition cannot be deleted");
  int i = find_partition(c, req->partition_name);
  if (i < 0) /* dropping is idempotent */
    return CAIRN_OK;
  if (partition_loaded(c, req->partition_name) ||
      c->load_state == MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "partition '%s' is loaded, release it before "
                           "dropping",
                           req->partition_name);
  memmove(&c->partitions[i], &c->partitions[i + 1],
          (c->n_partitions - (size_t)i - 1) * sizeof c->partitions[0]);
  c->n_partitions--;
  st = cairn_catalog_put_collection(coord->cat, c, err);
  if (st == CAIRN_OK) /* the querynodes forget the partition's rows */
    coord_publish_event(coord, c->id);
  return st;
}

COORD_DDL_HANDLER(h_drop_partition, drop_partition, Milvus__Proto__Milvus__DropPartitionRequest)

static COORD_HANDLER(h_has_partition) {
  const Milvus__Proto__Milvus__HasPartitionRequest *req =
      (const Milvus__Proto__Milvus__HasPartitionRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__BoolResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__BoolResponse, 1);
  milvus__proto__milvus__bool_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  if (coord_collection(ctx, req->db_name, req->collection_name, &db, &c,
                       &err) == CAIRN_OK)
    r->value = req->partition_name && find_partition(c, req->partition_name) >= 0;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static bool wanted(const Milvus__Proto__Milvus__ShowPartitionsRequest *req,
                   const char *name) {
  if (req->n_partition_names == 0)
    return true;
  for (size_t i = 0; i < req->n_partition_names; i++)
    if (strcmp(req->partition_names[i], name) == 0)
      return true;
  return false;
}

static void fill_partitions(cairn_arena *arena,
                            const Milvus__Proto__Milvus__ShowPartitionsRequest *req,
                            const cat_coll *c,
                            Milvus__Proto__Milvus__ShowPartitionsResponse *r) {
  size_t n = c->n_partitions, k = 0;
  r->partition_names = CAIRN_ARENA_NEW(arena, char *, n + 1);
  r->partitionids = CAIRN_ARENA_NEW(arena, int64_t, n + 1);
  r->created_timestamps = CAIRN_ARENA_NEW(arena, uint64_t, n + 1);
  r->created_utc_timestamps = CAIRN_ARENA_NEW(arena, uint64_t, n + 1);
  r->inmemory_percentages = CAIRN_ARENA_NEW(arena, int64_t, n + 1);
  bool all_loaded =
      c->load_state == MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded;
  for (size_t i = 0; i < n; i++) {
    const cat_part *p = c->partitions[i];
    if (!wanted(req, p->name))
      continue;
    r->partition_names[k] = p->name;
    r->partitionids[k] = p->id;
    r->created_timestamps[k] = p->created_ts;
    r->created_utc_timestamps[k] = p->created_utc_ms;
    r->inmemory_percentages[k] =
        all_loaded || partition_loaded(c, p->name) ? 100 : 0;
    k++;
  }
  r->n_partition_names = r->n_partitionids = r->n_created_timestamps =
      r->n_created_utc_timestamps = r->n_inmemory_percentages = k;
}

static COORD_HANDLER(h_show_partitions) {
  const Milvus__Proto__Milvus__ShowPartitionsRequest *req =
      (const Milvus__Proto__Milvus__ShowPartitionsRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__ShowPartitionsResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__ShowPartitionsResponse, 1);
  milvus__proto__milvus__show_partitions_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  if (coord_collection_or_id(ctx, req->db_name, req->collection_name,
                             req->collectionid, &db, &c, &err) == CAIRN_OK)
    fill_partitions(ctx->arena, req, c, r);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static COORD_HANDLER(h_partition_statistics) {
  const Milvus__Proto__Milvus__GetPartitionStatisticsRequest *req =
      (const Milvus__Proto__Milvus__GetPartitionStatisticsRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__GetPartitionStatisticsResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__GetPartitionStatisticsResponse, 1);
  milvus__proto__milvus__get_partition_statistics_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  if (coord_collection(ctx, req->db_name, req->collection_name, &db, &c,
                       &err) == CAIRN_OK) {
    if (req->partition_name == NULL || find_partition(c, req->partition_name) < 0) {
      cairn_error_set(&err, CAIRN_PARTITION_NOT_FOUND,
                      "partition not found[collection=%s][partition=%s]",
                      c->name, req->partition_name ? req->partition_name : "");
    } else {
      /* Rows of the partition's sealed segments (growing rows are not
       * counted until flushed, as in Milvus). */
      int64_t part = c->partitions[find_partition(c, req->partition_name)]->id;
      Cairn__Data__SegmentInfo **segs = NULL;
      size_t n = 0;
      uint64_t rows = 0;
      if (coord_list_segments(coord_of(ctx), ctx->arena, c, &segs, &n, &err) ==
          CAIRN_OK)
        for (size_t i = 0; i < n; i++)
          if (segs[i]->partition_id == part)
            rows += segs[i]->num_rows;
      r->stats = CAIRN_ARENA_NEW(ctx->arena, mpb_kv *, 1);
      r->stats[0] = cairn_pb_kv_new(ctx->arena, "row_count",
                                    cairn_arena_printf(ctx->arena, "%" PRIu64, rows));
      r->n_stats = 1;
    }
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

const cairn_rpc_method coord_partition_methods[] = {
    {"CreatePartition", h_create_partition},
    {"DropPartition", h_drop_partition},
    {"HasPartition", h_has_partition},
    {"ShowPartitions", h_show_partitions},
    {"GetPartitionStatistics", h_partition_statistics},
    {NULL, NULL},
};
