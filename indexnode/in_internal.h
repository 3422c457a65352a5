/*
 * in_internal.h — the indexnode's private structures, shared by:
 *   indexnode.c  life cycle, the worker pool, schedule (which builds to
 *                queue), wait_idle
 *   in_build.c   one build: binlog -> index -> object -> SaveSegmentIndex
 *   in_coord.c   the CoordService calls
 *
 * Threading: in->mu guards the queue, the `known` table, `running` and
 * `stop`; `work` wakes workers, `idle` wakes wait_idle. A job is owned by
 * the queue until a worker pops it, then by that worker.
 */
#ifndef CAIRN_IN_INTERNAL_H
#define CAIRN_IN_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "cairn_data.pb-c.h"
#include "indexnode.h"
#include "milvus.pb-c.h"
#include "schema.h"

/* IVF training sample: at most this many rows (strided over the segment). */
#define IN_TRAIN_MAX 65536

/* One (segment, index) build. Strings are owned. */
typedef struct in_job {
  int64_t collection_id;
  int64_t segment_id;
  int64_t index_id;
  int64_t field_id;
  cairn_data_type field_type;
  int64_t dim;
  uint64_t num_rows;
  char *index_type, *metric, *params_json;
  char *binlog_key; /* the field's insert binlog */
  struct in_job *next;
} in_job;

typedef enum in_state { IN_QUEUED, IN_RUNNING, IN_DONE, IN_FAILED } in_state;

/* What this indexnode did or does with a (segment, index) pair, so that a
 * schedule never queues it twice and a failed build is not retried. */
typedef struct in_known {
  int64_t segment_id, index_id;
  in_state state;
} in_known;

struct cairn_indexnode {
  cairn_indexnode_options opts; /* root points at root_buf */
  char *root_buf;
  pthread_t *threads;
  int n_threads;
  pthread_mutex_t mu;
  pthread_cond_t work, idle;
  in_job *head, *tail; /* FIFO queue */
  in_known *known;
  size_t n_known, cap_known;
  int running;
  bool stop;
};

/* ---- in_build.c ---- */
/* Builds, stores and records one index file; errors say which step. */
cairn_status in_build(cairn_indexnode *in, const in_job *job, cairn_error *err);
void in_job_free(in_job *job);

/* ---- in_coord.c ---- */
/* The collection's name, db, and schema (arena); resolves the database the
 * collection lives in. */
cairn_status in_coord_collection(cairn_indexnode *in, cairn_arena *arena,
                                 int64_t collection_id, const char **db,
                                 const char **name, cairn_schema **schema,
                                 cairn_error *err);
/* Index descriptions (none: *n = 0, CAIRN_OK). */
cairn_status in_coord_indexes(cairn_indexnode *in, cairn_arena *arena,
                              const char *db, const char *name,
                              Milvus__Proto__Milvus__IndexDescription ***out,
                              size_t *n, cairn_error *err);
cairn_status in_coord_segments(cairn_indexnode *in, cairn_arena *arena,
                               int64_t collection_id,
                               Cairn__Data__SegmentInfo ***segs, size_t *n,
                               cairn_error *err);
cairn_status in_coord_save_index(cairn_indexnode *in, int64_t collection_id,
                                 int64_t segment_id,
                                 Cairn__Data__SegmentIndexFile *file,
                                 cairn_error *err);

#endif
