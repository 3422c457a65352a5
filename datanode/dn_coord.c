/*
 * dn_coord.c — the CoordService calls of the datanode: DescribeCollection
 * (schema + channels), ShowPartitions (the live partitions a flush keeps),
 * ListSegments (checkpoints), AllocID (segment ids), AllocTimestamp
 * (created_ts of segments) and SaveSegments (a flush).
 *
 * Every reply carries a common.Status; a non-success one is turned back
 * into the cairn_status whose Milvus code it carries (the first in the
 * status table with that code), with the coordinator's reason as message.
 * Each call uses its own arena, freed before returning, except
 * dn_coord_list and dn_coord_partitions whose replies live in the caller's
 * arena.
 */
#include <stdlib.h>
#include <string.h>

#include "dn_internal.h"
#include "fielddata.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"

#define PATH(m) "/cairn.internal.CoordService/" m

static cairn_status call(cairn_datanode *dn, cairn_arena *arena,
                         const char *method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *desc,
                         ProtobufCMessage **reply, cairn_error *err) {
  return cairn_rpc_call(dn->opts.coord, method, req, desc, NULL, arena, reply,
                        err);
}

static cairn_status copy_channels(const Milvus__Proto__Milvus__DescribeCollectionResponse *r,
                                  char ***channels, size_t *n,
                                  cairn_error *err) {
  if (r->n_virtual_channel_names == 0)
    return cairn_error_set(err, CAIRN_INTERNAL, "collection %lld has no channels",
                           (long long)r->collectionid);
  *channels = calloc(r->n_virtual_channel_names, sizeof **channels);
  if (*channels == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < r->n_virtual_channel_names; i++) {
    (*channels)[i] = strdup(r->virtual_channel_names[i]);
    *n = i + 1;
    if ((*channels)[i] == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  return CAIRN_OK;
}

cairn_status dn_coord_describe(cairn_datanode *dn, int64_t collection_id,
                               cairn_schema **schema, char ***channels,
                               size_t *n_channels, cairn_error *err) {
  *schema = NULL;
  *channels = NULL;
  *n_channels = 0;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.collectionid = collection_id;
  Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
  cairn_status st = call(dn, arena, PATH("DescribeCollection"), &req.pb_base,
                         &milvus__proto__milvus__describe_collection_response__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "DescribeCollection", err);
  if (st == CAIRN_OK && r->schema == NULL)
    st = cairn_error_set(err, CAIRN_INTERNAL, "collection %lld has no schema",
                         (long long)collection_id);
  if (st == CAIRN_OK)
    st = cairn_schema_from_pb(r->schema, schema, err);
  if (st == CAIRN_OK)
    st = copy_channels(r, channels, n_channels, err);
  if (st != CAIRN_OK) {
    cairn_schema_free(*schema);
    *schema = NULL;
    for (size_t i = 0; i < *n_channels; i++)
      free((*channels)[i]);
    free(*channels);
    *channels = NULL;
    *n_channels = 0;
  }
  cairn_arena_free(arena);
  return st;
}

cairn_status dn_coord_list(cairn_datanode *dn, cairn_arena *arena,
                           int64_t collection_id,
                           Cairn__Data__SegmentInfo ***segs, size_t *n_segs,
                           Cairn__Data__ChannelCheckpoint ***cps, size_t *n_cps,
                           cairn_error *err) {
  Cairn__Internal__ListSegmentsRequest req =
      CAIRN__INTERNAL__LIST_SEGMENTS_REQUEST__INIT;
  req.collection_id = collection_id;
  Cairn__Internal__ListSegmentsResponse *r = NULL;
  *n_segs = *n_cps = 0;
  cairn_status st = call(dn, arena, PATH("ListSegments"), &req.base,
                         &cairn__internal__list_segments_response__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "ListSegments", err);
  if (st != CAIRN_OK)
    return st;
  *segs = r->segments;
  *n_segs = r->n_segments;
  *cps = r->checkpoints;
  *n_cps = r->n_checkpoints;
  return CAIRN_OK;
}

bool dn_partition_in(const int64_t *ids, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id)
      return true;
  return false;
}

cairn_status dn_coord_partitions(cairn_datanode *dn, cairn_arena *arena,
                                 int64_t collection_id, const int64_t **ids,
                                 size_t *n, cairn_error *err) {
  Milvus__Proto__Milvus__ShowPartitionsRequest req =
      MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
  req.collectionid = collection_id;
  Milvus__Proto__Milvus__ShowPartitionsResponse *r = NULL;
  *ids = NULL;
  *n = 0;
  cairn_status st = call(dn, arena, PATH("ShowPartitions"), &req.pb_base,
                         &milvus__proto__milvus__show_partitions_response__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "ShowPartitions", err);
  if (st == CAIRN_OK) {
    *ids = r->partitionids;
    *n = r->n_partitionids;
  }
  return st;
}

cairn_status dn_coord_alloc_ids(cairn_datanode *dn, uint32_t count,
                                int64_t *first, cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Internal__AllocIDRequest req = CAIRN__INTERNAL__ALLOC_IDREQUEST__INIT;
  req.count = count;
  Cairn__Internal__AllocIDResponse *r = NULL;
  cairn_status st = call(dn, arena, PATH("AllocID"), &req.base,
                         &cairn__internal__alloc_idresponse__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "AllocID", err);
  if (st == CAIRN_OK && r->count < count)
    st = cairn_error_set(err, CAIRN_INTERNAL, "AllocID granted %u of %u ids",
                         r->count, count);
  if (st == CAIRN_OK)
    *first = r->id;
  cairn_arena_free(arena);
  return st;
}

cairn_status dn_coord_save(cairn_datanode *dn,
                           const Cairn__Internal__SaveSegmentsRequest *req,
                           cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  mpb_status *r = NULL;
  cairn_status st = call(dn, arena, PATH("SaveSegments"), &req->base,
                         &milvus__proto__common__status__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r, "SaveSegments", err);
  cairn_arena_free(arena);
  return st;
}
