/*
 * dn_internal.h — the datanode's private structures, shared by its files:
 *   datanode.c   life cycle, watch/drop/flush API, the consumer thread
 *   dn_buffer.c  decoding log entries into per-(channel, partition) columns
 *                and the channel's delete buffer
 *   dn_flush.c   cutting a channel: binlogs, delta log, stats log, then
 *                CoordService.SaveSegments
 *   dn_coord.c   the CoordService calls the datanode makes
 *
 * Threading (one lock per level, always taken in this order):
 *   dn->mu     guards the list of watched collections (dn->colls); a
 *              collection is freed only after it was unlinked under dn->mu
 *              and its thread joined, so holding dn->mu keeps it alive;
 *   coll->mu   guards coll->stop, coll->failed, coll->fail_msg and the queue
 *              of flush requests; coll->cv wakes the consumer thread.
 * Everything under dn_channel (buffers, positions) is owned by the
 * collection's consumer thread alone: no lock. growing_rows is atomic so
 * statistics can read it from any thread.
 */
#ifndef CAIRN_DN_INTERNAL_H
#define CAIRN_DN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "cairn_data.pb-c.h"
#include "cairn_internal.pb-c.h"
#include "column.h"
#include "datanode.h"
#include "schema.h"

#define DN_DEFAULT_SEAL_ROWS 1000000u
#define DN_DEFAULT_SEAL_BYTES (512ull << 20)
#define DN_DEFAULT_SEAL_AGE_MS 600000
/* Field id of the per-row timestamp binlog (Milvus's TimeStampField). */
#define DN_TIMESTAMP_FIELD_ID 1
/* Columns above this many bytes are streamed through an object writer
 * instead of being encoded into one buffer first. */
#define DN_STREAM_THRESHOLD (64u << 20)
/* Backoff after a failed automatic flush before trying again. */
#define DN_RETRY_MS 1000

/* The rows buffered for one partition of one channel since the last cut. */
typedef struct dn_part {
  int64_t partition_id;
  size_t n_rows;
  cairn_column **cols; /* schema->n_fields columns, by schema field index */
  cairn_column *ts;    /* Int64 column of row timestamps (field id 1) */
  uint64_t min_ts, max_ts;
} dn_part;

/* One shard channel of a watched collection. */
typedef struct dn_channel {
  char *name;                  /* owned */
  cairn_mq_consumer *consumer; /* owned */
  int64_t checkpoint;    /* recorded position: the next flush starts here */
  uint64_t checkpoint_ts;/* recorded max flushed timestamp */
  int64_t next;          /* next unconsumed position */
  uint64_t range_max_ts; /* max timestamp of entries consumed since the cut */
  /* partition buffers */
  dn_part *parts;
  size_t n_parts, cap_parts;
  /* deletes since the cut: pks in a column of the pk type, timestamps */
  cairn_column *del_pks;
  uint64_t *del_ts;
  size_t n_del, cap_del;
  /* seal accounting */
  uint64_t rows;          /* buffered rows over all partitions */
  uint64_t bytes;         /* payload bytes of the buffered entries */
  int64_t oldest_ms;      /* monotonic ms of the first buffered entry, 0 none */
  int64_t retry_after_ms; /* no automatic flush before this (after a failure) */
} dn_channel;

/* A cairn_datanode_flush call waiting for the consumer thread. Lives on the
 * caller's stack; the consumer thread signals `cv` under `mu` once. */
typedef struct dn_flush_req {
  int64_t *targets; /* per channel: consume up to this position, then cut */
  bool done;
  cairn_status st;
  cairn_error err;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct dn_flush_req *next;
} dn_flush_req;

typedef struct dn_coll {
  int64_t id;
  cairn_datanode *dn;
  cairn_schema *schema;  /* with "$meta" when dynamic; immutable */
  int pk_index;          /* schema index of the primary key */
  dn_channel *channels;
  size_t n_channels;
  pthread_t thread;
  bool thread_started;
  atomic_uint_fast64_t growing_rows;
  /* guarded by mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;            /* close/drop asked the thread to exit */
  bool failed;          /* the thread stopped on an error (fail_msg) */
  bool exited;          /* the thread finished: no request will be served */
  char fail_msg[512];
  dn_flush_req *reqs;   /* pending flush requests (LIFO; order is irrelevant) */
  struct dn_coll *next; /* guarded by dn->mu */
} dn_coll;

struct cairn_datanode {
  cairn_datanode_options opts; /* root points at root_buf */
  char *root_buf;              /* owned copy of opts->root, "" when none */
  pthread_mutex_t mu;
  dn_coll *colls;              /* guarded by mu */
};

/* ---- dn_buffer.c ---- */
/* Decodes one log message and buffers it in ch. A message that does not
 * decode or does not fit the schema is logged and skipped (CAIRN_OK). An
 * error return (out of memory mid-append) leaves the buffers inconsistent:
 * the caller stops the collection. */
cairn_status dn_buffer_message(dn_coll *coll, dn_channel *ch,
                               const uint8_t *payload, size_t len,
                               cairn_error *err);
/* Frees the buffered rows of ch->parts[i] (a dropped partition's) and
 * takes them out of the accounting; the later parts move down one. */
void dn_buffer_forget_part(dn_coll *coll, dn_channel *ch, size_t i);
/* Frees every buffered row and delete of ch and resets its accounting. */
void dn_buffer_reset(dn_coll *coll, dn_channel *ch);
/* Frees ch's buffers (not its consumer or name). */
void dn_buffer_free(dn_coll *coll, dn_channel *ch);

/* ---- dn_flush.c ---- */
/* Cuts ch at ch->next: writes its buffered rows as sealed segments (one
 * per partition) and its deletes as the range's delta log, records them and
 * the new checkpoint with SaveSegments, then drops the buffers. A channel
 * with nothing consumed since the checkpoint is left alone. CAIRN_CONFLICT
 * when another datanode moved the checkpoint. *flushed tells whether a
 * flush was recorded. */
cairn_status dn_flush_channel(dn_coll *coll, dn_channel *ch, bool *flushed,
                              cairn_error *err);
/* "root/" + rest, or rest when root is "", printf-style into buf. */
void dn_key(const cairn_datanode *dn, char *buf, size_t len, const char *fmt,
            ...) __attribute__((format(printf, 4, 5)));

/* ---- dn_drop.c ---- */
/* Removes every object of a collection: its insert, delta and stats logs
 * and the index files of its segments. */
cairn_status dn_remove_objects(cairn_datanode *dn, int64_t collection_id,
                               cairn_error *err);

/* Removes the objects of the collection's partitions that have insert or
 * stats logs but are not in the catalogue any more (dn_drop.c). */
cairn_status dn_sweep_dropped_partitions(cairn_datanode *dn,
                                         int64_t collection_id,
                                         cairn_error *err);

/* ---- dn_coord.c ---- */
/* Schema (with "$meta") and channel names of a collection. The caller frees
 * *schema with cairn_schema_free and each name and the array with free(). */
cairn_status dn_coord_describe(cairn_datanode *dn, int64_t collection_id,
                               cairn_schema **schema, char ***channels,
                               size_t *n_channels, cairn_error *err);
/* The collection's segments and checkpoints, in arena. */
cairn_status dn_coord_list(cairn_datanode *dn, cairn_arena *arena,
                           int64_t collection_id,
                           Cairn__Data__SegmentInfo ***segs, size_t *n_segs,
                           Cairn__Data__ChannelCheckpoint ***cps, size_t *n_cps,
                           cairn_error *err);
/* The ids of the collection's live partitions, in arena. */
cairn_status dn_coord_partitions(cairn_datanode *dn, cairn_arena *arena,
                                 int64_t collection_id, const int64_t **ids,
                                 size_t *n, cairn_error *err);
/* Whether id is among the n ids of a dn_coord_partitions answer. */
bool dn_partition_in(const int64_t *ids, size_t n, int64_t id);
/* count consecutive ids starting at *first. */
cairn_status dn_coord_alloc_ids(cairn_datanode *dn, uint32_t count,
                                int64_t *first, cairn_error *err);
cairn_status dn_coord_save(cairn_datanode *dn,
                           const Cairn__Internal__SaveSegmentsRequest *req,
                           cairn_error *err);

/* Monotonic clock in ms. */
int64_t dn_now_ms(void);

#endif
