/*
 * coord_segment.c — sealed segments and channel checkpoints.
 *
 * Keys (values are cairn.data records, cairn_data.proto):
 *   cairn/catalog/seg/{collection id}/{segment id}   SegmentInfo
 *   cairn/catalog/chcp/{channel}                     ChannelCheckpoint
 * A datanode's flush of a channel is one transaction: its new segments plus
 * the channel's new checkpoint, guarded by a compare on the checkpoint it
 * started from, so two datanodes can never both record the same range and
 * a crash leaves either all of a flush or none of it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_data.pb-c.h"
#include "cairn_internal.pb-c.h"
#include "coord_internal.h"

#define KEY_SEG CAIRN_CATALOG_SEGMENT_PREFIX
#define KEY_CHCP CAIRN_CATALOG_CHECKPOINT_PREFIX
#define KEY_MAX 512

typedef Cairn__Data__SegmentInfo seg_info;
typedef Cairn__Data__ChannelCheckpoint chan_cp;

static void seg_key(char *buf, int64_t coll, int64_t seg) {
  snprintf(buf, KEY_MAX, KEY_SEG "%" PRId64 "/%" PRId64, coll, seg);
}

static void cp_key(char *buf, const char *channel) {
  snprintf(buf, KEY_MAX, KEY_CHCP "%s", channel);
}

static uint8_t *pack(cairn_arena *arena, const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = cairn_arena_alloc(arena, *len + 1);
  if (buf != NULL)
    protobuf_c_message_pack(m, buf);
  return buf;
}

/* The stored checkpoint of a channel (position 0 when none) and its key's
 * mod revision (0 when absent). */
static cairn_status load_checkpoint(cairn_coord *coord, cairn_arena *arena,
                                    const char *channel, chan_cp **out,
                                    int64_t *mod_rev, cairn_error *err) {
  char key[KEY_MAX];
  cp_key(key, channel);
  cairn_meta_kv kv = {0};
  *out = NULL;
  *mod_rev = 0;
  cairn_status st = cairn_meta_get(coord->meta, key, &kv, err);
  if (st == CAIRN_IO_NOT_FOUND) {
    cairn_error_clear(err);
    return CAIRN_OK;
  }
  if (st != CAIRN_OK)
    return st;
  *mod_rev = kv.mod_revision;
  *out = cairn__data__channel_checkpoint__unpack(cairn_arena_protobuf(arena),
                                                kv.value_len, kv.value);
  cairn_meta_kv_clear(&kv);
  if (*out == NULL)
    return cairn_error_set(err, CAIRN_CORRUPT, "checkpoint %s is corrupt", key);
  return CAIRN_OK;
}

static cairn_status save_segments(cairn_rpc_ctx *ctx,
                                  const Cairn__Internal__SaveSegmentsRequest *req,
                                  cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  if (req->channel == NULL || req->channel[0] == '\0' || req->checkpoint == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "SaveSegments needs a channel and a checkpoint");
  if (req->n_segments + 1 > CAIRN_META_MAX_TXN_OPS - 1)
    return cairn_error_set(err, CAIRN_TOO_LARGE,
                           "too many segments in one flush (%zu)",
                           req->n_segments);
  chan_cp *cur = NULL;
  int64_t rev = 0;
  cairn_status st = load_checkpoint(coord, ctx->arena, req->channel, &cur, &rev, err);
  if (st != CAIRN_OK)
    return st;
  int64_t cur_pos = cur ? cur->position : 0;
  if (cur_pos != req->expected_position)
    return cairn_error_set(err, CAIRN_CONFLICT,
                           "channel %s is flushed up to %" PRId64
                           ", not %" PRId64 ": another datanode flushed it",
                           req->channel, cur_pos, req->expected_position);
  size_t n = req->n_segments + 1;
  cairn_meta_op *ops = CAIRN_ARENA_NEW(ctx->arena, cairn_meta_op, n);
  for (size_t i = 0; i < req->n_segments; i++) {
    char *key = cairn_arena_alloc(ctx->arena, KEY_MAX);
    seg_key(key, req->segments[i]->collection_id, req->segments[i]->id);
    ops[i].type = CAIRN_META_OP_PUT;
    ops[i].key = key;
    ops[i].value = pack(ctx->arena, &req->segments[i]->base, &ops[i].value_len);
  }
  char *key = cairn_arena_alloc(ctx->arena, KEY_MAX);
  cp_key(key, req->channel);
  ops[n - 1].type = CAIRN_META_OP_PUT;
  ops[n - 1].key = key;
  ops[n - 1].value = pack(ctx->arena, &req->checkpoint->base, &ops[n - 1].value_len);
  cairn_meta_cmp cmp = {.key = key, .target = CAIRN_META_CMP_MOD_REVISION,
                        .op = CAIRN_META_CMP_EQ, .revision = rev};
  cairn_meta_txn txn = {.compares = &cmp, .n_compares = 1, .success = ops,
                        .n_success = n};
  cairn_meta_txn_result res = {0};
  st = cairn_meta_txn_commit(coord->meta, &txn, &res, err);
  if (st == CAIRN_OK && !res.succeeded)
    st = cairn_error_set(err, CAIRN_CONFLICT,
                         "channel %s checkpoint moved during the flush",
                         req->channel);
  if (st == CAIRN_OK)
    coord_publish_event(coord, req->collection_id);
  return st;
}

COORD_DDL_HANDLER(h_save_segments, save_segments, Cairn__Internal__SaveSegmentsRequest)

static bool partition_wanted(const Cairn__Internal__ListSegmentsRequest *req,
                             int64_t partition) {
  if (req->n_partition_ids == 0)
    return true;
  for (size_t i = 0; i < req->n_partition_ids; i++)
    if (req->partition_ids[i] == partition)
      return true;
  return false;
}

static bool partition_live(const cat_coll *c, int64_t partition) {
  if (partition < 0) /* a delete-only segment */
    return true;
  for (size_t i = 0; i < c->n_partitions; i++)
    if (c->partitions[i]->id == partition)
      return true;
  return false;
}

/* A segment of a dropped partition as readers see it: its rows are gone,
 * but the delta log it names (the deletes of its cut, which may hit rows
 * of live partitions) must still be applied, so it is shown delete-only
 * (the shape of the datanode's delete-only segments); one that names no
 * delta log is left out (false). */
static bool deletes_only(seg_info *s) {
  if (s->deltalog_key == NULL || s->deltalog_key[0] == '\0')
    return false;
  s->partition_id = -1;
  s->num_rows = 0;
  s->n_binlogs = 0;
  s->binlogs = NULL;
  s->stats_key = (char *)"";
  s->n_index_files = 0;
  s->index_files = NULL;
  return true;
}

cairn_status coord_list_segments(cairn_coord *coord, cairn_arena *arena,
                                 const cat_coll *c, seg_info ***out,
                                 size_t *n, cairn_error *err) {
  char prefix[KEY_MAX];
  snprintf(prefix, sizeof prefix, KEY_SEG "%" PRId64 "/", c->id);
  cairn_meta_kvs kvs = {0};
  *n = 0;
  cairn_status st = cairn_meta_range(coord->meta, prefix, NULL, 0, &kvs, err);
  *out = CAIRN_ARENA_NEW(arena, seg_info *, kvs.count + 1);
  for (size_t i = 0; st == CAIRN_OK && i < kvs.count; i++) {
    seg_info *s = cairn__data__segment_info__unpack(
        cairn_arena_protobuf(arena), kvs.items[i].value_len, kvs.items[i].value);
    if (s == NULL)
      st = cairn_error_set(err, CAIRN_CORRUPT, "segment record %s is corrupt",
                           kvs.items[i].key);
    else if (partition_live(c, s->partition_id) || deletes_only(s))
      (*out)[(*n)++] = s;
  }
  cairn_meta_kvs_free(&kvs);
  return st;
}

static COORD_HANDLER(h_list_segments) {
  const Cairn__Internal__ListSegmentsRequest *req =
      (const Cairn__Internal__ListSegmentsRequest *)msg;
  cairn_error err = {0};
  Cairn__Internal__ListSegmentsResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Internal__ListSegmentsResponse, 1);
  cairn__internal__list_segments_response__init(r);
  seg_info **all = NULL;
  size_t n = 0;
  cat_coll *c = NULL;
  cairn_status st = cairn_catalog_get_collection_by_id(
      coord_of(ctx)->cat, ctx->arena, req->collection_id, &c, &err);
  /* Checkpoints first, then segments: a flush records its segments and
   * its checkpoint in one transaction, so every segment up to the
   * checkpoints read is listed. The other order could pair a checkpoint
   * with a segment list that misses the flush that moved it, and a reader
   * trimming its growing rows to that checkpoint would lose the flush's
   * rows. Segments past a checkpoint (a flush in between) are fine: readers
   * take a channel's position as the furthest of both. */
  if (st == CAIRN_OK) {
    r->checkpoints = CAIRN_ARENA_NEW(ctx->arena, chan_cp *, c->n_virtual_channels + 1);
    for (size_t i = 0; st == CAIRN_OK && i < c->n_virtual_channels; i++) {
      chan_cp *cp = NULL;
      int64_t rev;
      st = load_checkpoint(coord_of(ctx), ctx->arena, c->virtual_channels[i],
                           &cp, &rev, &err);
      if (cp != NULL)
        r->checkpoints[r->n_checkpoints++] = cp;
    }
  }
  if (st == CAIRN_OK)
    st = coord_list_segments(coord_of(ctx), ctx->arena, c, &all, &n, &err);
  if (st == CAIRN_OK) {
    r->segments = CAIRN_ARENA_NEW(ctx->arena, seg_info *, n + 1);
    for (size_t i = 0; i < n; i++)
      if (partition_wanted(req, all[i]->partition_id))
        r->segments[r->n_segments++] = all[i];
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_status save_index(cairn_rpc_ctx *ctx,
                               const Cairn__Internal__SaveSegmentIndexRequest *req,
                               cairn_error *err) {
  if (req->file == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "index file missing");
  char key[KEY_MAX];
  seg_key(key, req->collection_id, req->segment_id);
  cairn_meta_kv kv = {0};
  cairn_status st = cairn_meta_get(coord_of(ctx)->meta, key, &kv, err);
  if (st != CAIRN_OK)
    return st == CAIRN_IO_NOT_FOUND
               ? cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                                 "segment %" PRId64 " not found (dropped?)",
                                 req->segment_id)
               : st;
  seg_info *s = cairn__data__segment_info__unpack(cairn_arena_protobuf(ctx->arena),
                                                  kv.value_len, kv.value);
  cairn_meta_kv_clear(&kv);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_CORRUPT, "segment record %s is corrupt", key);
  Cairn__Data__SegmentIndexFile **files =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Data__SegmentIndexFile *, s->n_index_files + 1);
  size_t k = 0;
  for (size_t i = 0; i < s->n_index_files; i++)
    if (s->index_files[i]->index_id != req->file->index_id)
      files[k++] = s->index_files[i];
  files[k++] = req->file;
  s->index_files = files;
  s->n_index_files = k;
  size_t len;
  uint8_t *buf = pack(ctx->arena, &s->base, &len);
  st = cairn_meta_put(coord_of(ctx)->meta, key, buf, len, 0, NULL, err);
  if (st == CAIRN_OK)
    coord_publish_event(coord_of(ctx), req->collection_id);
  return st;
}

COORD_DDL_HANDLER(h_save_segment_index, save_index, Cairn__Internal__SaveSegmentIndexRequest)

cairn_status coord_drop_collection_data(cairn_coord *coord, const cat_coll *c,
                                        cairn_error *err) {
  char prefix[KEY_MAX];
  snprintf(prefix, sizeof prefix, KEY_SEG "%" PRId64 "/", c->id);
  cairn_status st = cairn_meta_delete_prefix(coord->meta, prefix, NULL, err);
  for (size_t i = 0; st == CAIRN_OK && i < c->n_virtual_channels; i++) {
    char key[KEY_MAX];
    cp_key(key, c->virtual_channels[i]);
    st = cairn_meta_delete(coord->meta, key, NULL, err);
  }
  return st;
}

const cairn_rpc_method coord_segment_methods[] = {
    {"SaveSegments", h_save_segments},
    {"ListSegments", h_list_segments},
    {"SaveSegmentIndex", h_save_segment_index},
    {NULL, NULL},
};
