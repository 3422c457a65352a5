/*
 * datanode.h — the datanode role (DESIGN §1): consumes the shard channels of
 * collections from the log, buffers growing rows, and flushes them as sealed
 * segments (binlogs, delta logs, stats) to the object store, recording each
 * flush in the catalogue (CoordService.SaveSegments).
 *
 * Segment cut rule: a flush of a channel covers the log positions
 * [checkpoint, end) of that channel: every insert entry in the range becomes
 * part of one sealed segment per partition, every delete entry goes into the
 * range's delta log; the channel's checkpoint then moves to `end`. So a row
 * is either in exactly one sealed segment or still in the log after the
 * checkpoint — never both, never neither — which is what makes recovery
 * exactly-once: after a crash the datanode re-reads the log from the
 * checkpoint, and the querynode serves log entries from the checkpoint as
 * growing data.
 *
 * Object keys (root prefix from options):
 *   insert_log/{collection}/{partition}/{segment}/{field}/0
 *   delta_log/{collection}/{partition}/{segment}/0
 *   stats_log/{collection}/{partition}/{segment}/{pk field}/0
 * (formats: core/binlog.h). Objects are written before the catalogue
 * records them; objects of a flush that was never recorded are garbage and
 * are removed when the collection is dropped.
 *
 * When a channel flushes: on cairn_datanode_flush, or when its buffered
 * rows reach seal_rows or seal_bytes, or its oldest buffered row is older
 * than seal_age_ms.
 *
 * Threading: one consumer thread per watched collection (all its channels);
 * the public functions are thread-safe.
 */
#ifndef CAIRN_DATANODE_H
#define CAIRN_DATANODE_H

#include <stddef.h>
#include <stdint.h>

#include "mq.h"
#include "objstore.h"
#include "rpc.h"
#include "status.h"

typedef struct cairn_datanode cairn_datanode;

/* Called (on a datanode thread) after a flush of a collection was recorded
 * in the catalogue; standalone uses it to tell the querynode and indexnode. */
typedef void (*cairn_datanode_flushed_fn)(void *user, int64_t collection_id);

typedef struct cairn_datanode_options {
  cairn_mq *mq;                 /* borrowed */
  cairn_objstore *objstore;     /* borrowed */
  cairn_rpc_client *coord;      /* borrowed: CoordService */
  const char *root;             /* object key prefix, e.g. "files"; "" none */
  uint64_t seal_rows;           /* 0: 1,000,000 */
  uint64_t seal_bytes;          /* 0: 512 MiB */
  int64_t seal_age_ms;          /* 0: 600,000 */
  cairn_datanode_flushed_fn on_flushed; /* may be NULL */
  void *on_flushed_user;
} cairn_datanode_options;

cairn_status cairn_datanode_open(const cairn_datanode_options *opts,
                                 cairn_datanode **out, cairn_error *err);
/* Stops every consumer; unflushed rows stay in the log. NULL is allowed. */
void cairn_datanode_close(cairn_datanode *dn);

/* Start consuming a collection's channels from their checkpoints (schema and
 * channels come from the coordinator). Idempotent. */
cairn_status cairn_datanode_watch(cairn_datanode *dn, int64_t collection_id,
                                  cairn_error *err);
/* Stop consuming a collection (its channels moved to another datanode);
 * unflushed rows stay in the log for the next owner. */
void cairn_datanode_unwatch(cairn_datanode *dn, int64_t collection_id);
/* Stop consuming a dropped collection and remove its objects. */
cairn_status cairn_datanode_drop(cairn_datanode *dn, int64_t collection_id,
                                 cairn_error *err);
/* Remove the objects of a dropped partition's rows (insert and stats logs,
 * index files); its delta logs stay, they may hold deletes of rows of other
 * partitions (dn_drop.c). */
cairn_status cairn_datanode_drop_partition(cairn_datanode *dn,
                                           int64_t collection_id,
                                           int64_t partition_id,
                                           cairn_error *err);
/* Seal and flush everything produced to the collection's channels before
 * the call; returns once the segments are recorded in the catalogue. The IDs
 * of the collection's sealed segments (all of them, new and old) are
 * returned malloc'd in *segment_ids (caller frees; may be NULL). */
cairn_status cairn_datanode_flush(cairn_datanode *dn, int64_t collection_id,
                                  int64_t **segment_ids, size_t *n,
                                  cairn_error *err);
/* Rows consumed but not yet flushed, for statistics. */
uint64_t cairn_datanode_growing_rows(cairn_datanode *dn, int64_t collection_id);

/* cairn.cluster.DataNodeService over this datanode (dn_service.c): Flush,
 * GrowingRows and DropPartition for the proxies of a cluster. */
cairn_status cairn_datanode_service_new(cairn_datanode *dn,
                                        cairn_rpc_service **out,
                                        cairn_error *err);

#endif
