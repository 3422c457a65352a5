/*
 * dn_flush.c — cutting a channel into sealed segments (datanode.h, "Segment
 * cut rule").
 *
 * A cut covers the channel's log positions [checkpoint, next) and runs in
 * five phases:
 *   1. ids: one AllocID call for all segments of the cut (one per partition
 *      with rows; one delete-only segment when the range holds deletes but
 *      no rows), one AllocTimestamp for their created_ts;
 *   2. per segment: an insert binlog per schema field ("$meta" included) at
 *      insert_log/{coll}/{part}/{seg}/{field}/0, the row timestamps as an
 *      Int64 binlog under field id 1 (Milvus's timestamp system field; the
 *      querynode needs them for delete visibility), and the stats log (pk
 *      min/max + bloom) at stats_log/{coll}/{part}/{seg}/{pk field}/0;
 *   3. the range's delta log (every delete in [checkpoint, next)) at
 *      delta_log/{coll}/{part}/{seg}/0 of the cut's first segment; every
 *      segment of the cut names it in deltalog_key (deletes also apply to
 *      rows of older segments, so a reader applies every delta log of the
 *      channel — loading one twice is harmless, (pk, ts) pairs are sets);
 *   4. SaveSegments: the segments and the new checkpoint (position = next,
 *      timestamp = the max timestamp flushed so far) in one transaction,
 *      guarded by expected_position = the checkpoint the range started at;
 *   5. the buffers are freed (flushed rows are not kept) and the checkpoint
 *      moves.
 * A range with no rows and no deletes records zero segments: only the
 * checkpoint moves, so a restart does not re-read it.
 *
 * Before phase 1 the cut asks the coordinator for the collection's live
 * partitions (ShowPartitions by id) and forgets the buffered rows of any
 * other: their partition was dropped after the proxy wrote them (partition
 * ids are never reused), so they would only be objects no reader wants.
 * Their log range still moves past the checkpoint with the cut.
 *
 * A delete-only segment has num_rows 0 and partition_id -1 (Milvus's "L0"
 * segment): it only carries the delta log and its stats_key is empty.
 *
 * Objects go to the store before the catalogue names them; when a cut
 * fails they stay as garbage (removed with the collection) except on
 * CONFLICT, where they are certainly unreferenced and removed at once. A
 * failed cut keeps the buffers, so the next attempt writes the same rows
 * under new segment ids.
 *
 * Columns bigger than DN_STREAM_THRESHOLD are streamed into an object
 * writer (multipart on S3) instead of being encoded in memory first.
 *
 * Threading: runs on the collection's consumer thread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "dn_internal.h"
#include "milvus_util.h"
#include "log.h"

typedef Cairn__Data__SegmentInfo seg_info;
typedef Cairn__Data__FieldBinlog field_binlog;

#define KEY_LEN CAIRN_OBJ_MAX_KEY

void dn_key(const cairn_datanode *dn, char *buf, size_t len, const char *fmt,
            ...) {
  size_t at = 0;
  if (dn->root_buf[0] != '\0')
    at = (size_t)snprintf(buf, len, "%s/", dn->root_buf);
  if (at >= len)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + at, len - at, fmt, ap);
  va_end(ap);
}

/* ---- writing one column --------------------------------------------------- */

typedef struct stream_ctx {
  cairn_obj_writer *w;
  uint64_t bytes;
} stream_ctx;

static cairn_status stream_sink(void *ctx, const void *data, size_t len,
                                cairn_error *err) {
  stream_ctx *s = ctx;
  s->bytes += len;
  return cairn_obj_writer_append(s->w, data, len, err);
}

static cairn_status put_streamed(cairn_objstore *store, const char *key,
                                 const cairn_colview *v, uint64_t *size,
                                 cairn_error *err) {
  stream_ctx s = {0};
  cairn_status st = cairn_obj_writer_open(store, key, &s.w, err);
  if (st != CAIRN_OK)
    return st;
  st = cairn_binlog_write(v, stream_sink, &s, err);
  if (st != CAIRN_OK) {
    cairn_obj_writer_abort(s.w);
    return st;
  }
  *size = s.bytes;
  return cairn_obj_writer_commit(s.w, err);
}

static cairn_status put_column(cairn_datanode *dn, const char *key,
                               const cairn_column *col, uint64_t *size,
                               cairn_error *err) {
  cairn_colview v;
  cairn_column_snapshot(col, &v);
  if (cairn_column_memory(col) > DN_STREAM_THRESHOLD)
    return put_streamed(dn->opts.objstore, key, &v, size, err);
  void *buf = NULL;
  size_t len = 0;
  cairn_status st = cairn_binlog_encode(&v, &buf, &len, err);
  if (st == CAIRN_OK)
    st = cairn_objstore_put(dn->opts.objstore, key, buf, len, err);
  free(buf);
  *size = len;
  return st;
}

/* ---- one segment ------------------------------------------------------------ */

static field_binlog *binlog_rec(cairn_arena *arena, int64_t field_id,
                                const char *key, uint64_t size) {
  field_binlog *b = CAIRN_ARENA_NEW(arena, field_binlog, 1);
  if (b == NULL)
    return NULL;
  cairn__data__field_binlog__init(b);
  b->field_id = field_id;
  b->key = cairn_arena_strdup(arena, key);
  b->size = size;
  return b;
}

static seg_info *seg_new(cairn_arena *arena, const dn_coll *coll,
                         const dn_channel *ch, int64_t id, int64_t partition,
                         uint64_t created) {
  seg_info *s = CAIRN_ARENA_NEW(arena, seg_info, 1);
  if (s == NULL)
    return NULL;
  cairn__data__segment_info__init(s);
  s->id = id;
  s->collection_id = coll->id;
  s->partition_id = partition;
  s->channel = ch->name;
  s->start_position = ch->checkpoint;
  s->end_position = ch->next;
  s->created_ts = created;
  return s;
}

static cairn_status write_stats(dn_coll *coll, const dn_part *p, seg_info *s,
                                cairn_arena *arena, cairn_error *err) {
  cairn_datanode *dn = coll->dn;
  const cairn_field *pk = &coll->schema->fields[coll->pk_index];
  char key[KEY_LEN];
  dn_key(dn, key, sizeof key, "stats_log/%" PRId64 "/%" PRId64 "/%" PRId64
         "/%" PRId64 "/0", coll->id, p->partition_id, s->id, pk->id);
  cairn_colview v;
  cairn_column_snapshot(p->cols[coll->pk_index], &v);
  void *buf = NULL;
  size_t len = 0;
  cairn_status st = cairn_statslog_encode(&v, &buf, &len, err);
  if (st == CAIRN_OK)
    st = cairn_objstore_put(dn->opts.objstore, key, buf, len, err);
  free(buf);
  s->stats_key = cairn_arena_strdup(arena, key);
  return st;
}

/* Binlogs of every field, the timestamps and the stats of one partition. */
static cairn_status write_segment(dn_coll *coll, const dn_part *p, seg_info *s,
                                  cairn_arena *arena, cairn_error *err) {
  cairn_datanode *dn = coll->dn;
  size_t nf = coll->schema->n_fields;
  s->num_rows = p->n_rows;
  s->min_timestamp = p->min_ts;
  s->max_timestamp = p->max_ts;
  s->binlogs = CAIRN_ARENA_NEW(arena, field_binlog *, nf + 1);
  if (s->binlogs == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = CAIRN_OK;
  for (size_t f = 0; f <= nf && st == CAIRN_OK; f++) {
    const cairn_column *col = f < nf ? p->cols[f] : p->ts;
    int64_t field_id = f < nf ? coll->schema->fields[f].id : DN_TIMESTAMP_FIELD_ID;
    char key[KEY_LEN];
    dn_key(dn, key, sizeof key, "insert_log/%" PRId64 "/%" PRId64 "/%" PRId64
           "/%" PRId64 "/0", coll->id, p->partition_id, s->id, field_id);
    uint64_t size = 0;
    st = put_column(dn, key, col, &size, err);
    if (st == CAIRN_OK &&
        (s->binlogs[s->n_binlogs++] = binlog_rec(arena, field_id, key, size)) == NULL)
      st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  if (st == CAIRN_OK)
    st = write_stats(coll, p, s, arena, err);
  return st;
}

/* The range's delta log, under segment s; its key in *key (arena). */
static cairn_status write_delta(dn_coll *coll, const dn_channel *ch,
                                const seg_info *s, cairn_arena *arena,
                                char **key_out, cairn_error *err) {
  cairn_datanode *dn = coll->dn;
  char key[KEY_LEN];
  dn_key(dn, key, sizeof key, "delta_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/0",
         coll->id, s->partition_id, s->id);
  cairn_colview v;
  cairn_column_snapshot(ch->del_pks, &v);
  cairn_delta d = {.pk_type = v.type.type, .n = ch->n_del, .ts = ch->del_ts};
  if (d.pk_type == CAIRN_TYPE_INT64) {
    d.int_pks = v.col.values;
  } else {
    d.str_offsets = v.col.offsets;
    d.str_data = v.col.data;
  }
  void *buf = NULL;
  size_t len = 0;
  cairn_status st = cairn_deltalog_encode(&d, &buf, &len, err);
  if (st == CAIRN_OK)
    st = cairn_objstore_put(dn->opts.objstore, key, buf, len, err);
  free(buf);
  *key_out = cairn_arena_strdup(arena, key);
  return st;
}

/* ---- the cut ------------------------------------------------------------------ */

typedef struct cut {
  seg_info **segs;
  size_t n_segs;
} cut;

/* Phases 1-3: ids, segment files, delta log. */
static cairn_status write_cut(dn_coll *coll, dn_channel *ch, cairn_arena *arena,
                              cut *c, cairn_error *err) {
  size_t n_alloc = ch->n_parts + (ch->n_parts == 0 && ch->n_del > 0);
  c->segs = CAIRN_ARENA_NEW(arena, seg_info *, n_alloc + 1);
  if (n_alloc == 0)
    return CAIRN_OK;
  int64_t first = 0;
  uint64_t created = 0;
  cairn_status st = dn_coord_alloc_ids(coll->dn, (uint32_t)n_alloc, &first, err);
  if (st == CAIRN_OK)
    st = cairn_coord_alloc_timestamp(coll->dn->opts.coord, &created, err);
  for (size_t i = 0; st == CAIRN_OK && i < n_alloc; i++) {
    int64_t part = i < ch->n_parts ? ch->parts[i].partition_id : -1;
    seg_info *s = seg_new(arena, coll, ch, first + (int64_t)i, part, created);
    if (s == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    c->segs[c->n_segs++] = s;
    if (i < ch->n_parts)
      st = write_segment(coll, &ch->parts[i], s, arena, err);
  }
  char *delta_key = NULL;
  if (st == CAIRN_OK && ch->n_del > 0)
    st = write_delta(coll, ch, c->segs[0], arena, &delta_key, err);
  for (size_t i = 0; st == CAIRN_OK && delta_key && i < c->n_segs; i++)
    c->segs[i]->deltalog_key = delta_key;
  return st;
}

/* Removes the objects of a cut that the catalogue refused. */
static void remove_cut(dn_coll *coll, const cut *c) {
  cairn_objstore *store = coll->dn->opts.objstore;
  for (size_t i = 0; i < c->n_segs; i++) {
    const seg_info *s = c->segs[i];
    for (size_t b = 0; b < s->n_binlogs; b++)
      cairn_objstore_remove(store, s->binlogs[b]->key, NULL);
    if (s->stats_key && s->stats_key[0])
      cairn_objstore_remove(store, s->stats_key, NULL);
    if (s->deltalog_key && s->deltalog_key[0])
      cairn_objstore_remove(store, s->deltalog_key, NULL);
  }
}

/* Forgets the buffered rows of partitions the catalogue no longer has. */
static cairn_status forget_dropped_partitions(dn_coll *coll, dn_channel *ch,
                                              cairn_arena *arena,
                                              cairn_error *err) {
  if (ch->n_parts == 0)
    return CAIRN_OK;
  const int64_t *live = NULL;
  size_t n_live = 0;
  cairn_status st =
      dn_coord_partitions(coll->dn, arena, coll->id, &live, &n_live, err);
  for (size_t i = 0; st == CAIRN_OK && i < ch->n_parts;) {
    if (dn_partition_in(live, n_live, ch->parts[i].partition_id)) {
      i++;
      continue;
    }
    cairn_log_info("datanode: collection %" PRId64 " channel %s: %zu rows of "
                   "dropped partition %" PRId64 " not flushed", coll->id,
                   ch->name, ch->parts[i].n_rows, ch->parts[i].partition_id);
    dn_buffer_forget_part(coll, ch, i);
  }
  return st;
}

/* Phase 4: the catalogue transaction. */
static cairn_status record_cut(dn_coll *coll, dn_channel *ch, const cut *c,
                               uint64_t cp_ts, cairn_error *err) {
  Cairn__Data__ChannelCheckpoint cp = CAIRN__DATA__CHANNEL_CHECKPOINT__INIT;
  cp.channel = ch->name;
  cp.collection_id = coll->id;
  cp.position = ch->next;
  cp.timestamp = cp_ts;
  Cairn__Internal__SaveSegmentsRequest req =
      CAIRN__INTERNAL__SAVE_SEGMENTS_REQUEST__INIT;
  req.collection_id = coll->id;
  req.channel = ch->name;
  req.expected_position = ch->checkpoint;
  req.checkpoint = &cp;
  req.segments = c->segs;
  req.n_segments = c->n_segs;
  return dn_coord_save(coll->dn, &req, err);
}

cairn_status dn_flush_channel(dn_coll *coll, dn_channel *ch, bool *flushed,
                              cairn_error *err) {
  *flushed = false;
  if (ch->next == ch->checkpoint && ch->rows == 0 && ch->n_del == 0)
    return CAIRN_OK;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cut c = {0};
  uint64_t cp_ts = ch->range_max_ts > ch->checkpoint_ts ? ch->range_max_ts
                                                        : ch->checkpoint_ts;
  cairn_status st = forget_dropped_partitions(coll, ch, arena, err);
  if (st == CAIRN_OK)
    st = write_cut(coll, ch, arena, &c, err);
  if (st == CAIRN_OK)
    st = record_cut(coll, ch, &c, cp_ts, err);
  if (st == CAIRN_CONFLICT)
    remove_cut(coll, &c);
  if (st == CAIRN_OK) {
    cairn_log_info("datanode: collection %" PRId64 " channel %s flushed "
                   "[%" PRId64 ", %" PRId64 "): %" PRIu64 " rows, %zu deletes, "
                   "%zu segments", coll->id, ch->name, ch->checkpoint, ch->next,
                   ch->rows, ch->n_del, c.n_segs);
    ch->checkpoint = ch->next;
    ch->checkpoint_ts = cp_ts;
    dn_buffer_reset(coll, ch);
    *flushed = true;
  }
  cairn_arena_free(arena);
  return st;
}
