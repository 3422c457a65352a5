/*
 * querynode.h — the querynode role (DESIGN §1, §6): serves search and query
 * over loaded collections.
 *
 * A loaded collection is a set of segments per shard channel:
 *   - sealed segments recorded in the catalogue (CoordService.ListSegments):
 *     columns read from their binlogs (mmap'd where the object store has
 *     local files), the vector index from their index file when one is built
 *     (else an exact scan), deletes from the delta logs;
 *   - one growing segment per channel: every log entry at or after the
 *     channel's checkpoint, consumed as it arrives (core/mq.h) into columns
 *     (core/column.h) that searches read while the consumer appends.
 * A row is visible when no delete of its primary key has a larger timestamp
 * (upsert = delete + insert at one timestamp keeps the new row).
 *
 * When the datanode records a flush, cairn_querynode_refresh loads the new
 * sealed segments and, in one step visible to searches, drops the growing
 * rows they cover; when the indexnode records an index file, refresh swaps
 * the exact scan of that segment for the index.
 *
 * Search: per segment, the filter (core/expr) gives a bitset of allowed rows,
 * deleted rows are cleared from it, the index (or exact scan) returns the
 * segment's top-k, and the per-segment results are merged into the
 * collection's top-k (ties broken by primary key). Output fields are
 * gathered from the segments' columns for the winning rows only.
 *
 * Consistency: with `strong` set, a search or query first waits until every
 * channel of the collection has been consumed up to the log's end as of the
 * call (so acknowledged writes are visible); otherwise it reads what is
 * consumed.
 *
 * Threading: public functions are thread-safe; searches run concurrently
 * with consumption and refreshes (segments are reference-counted, the
 * segment set is replaced, never mutated in place).
 */
#ifndef CAIRN_QUERYNODE_H
#define CAIRN_QUERYNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "expr/expr.h"
#include "index.h"
#include "mq.h"
#include "objstore.h"
#include "rpc.h"
#include "schema.pb-c.h"
#include "status.h"

typedef struct cairn_querynode cairn_querynode;

typedef struct cairn_querynode_options {
  cairn_mq *mq;               /* borrowed */
  cairn_objstore *objstore;   /* borrowed */
  cairn_rpc_client *coord;    /* borrowed: CoordService */
  int search_threads;         /* 0: number of cores */
  int strong_timeout_ms;      /* strong reads wait at most this long for
                                 the consumers (then CAIRN_NOT_READY);
                                 0: 10,000 */
} cairn_querynode_options;

cairn_status cairn_querynode_open(const cairn_querynode_options *opts,
                                  cairn_querynode **out, cairn_error *err);
void cairn_querynode_close(cairn_querynode *qn);

/* Start loading a collection (all partitions); returns at once. Loading
 * reads the sealed segments and catches up with the log. Idempotent. */
cairn_status cairn_querynode_load(cairn_querynode *qn, int64_t collection_id,
                                  cairn_error *err);
/* 0..100 while loading, 100 when loaded, -1 when not loaded; a failed load
 * gives -1 and its error in err. */
int cairn_querynode_progress(cairn_querynode *qn, int64_t collection_id,
                             cairn_error *err);
cairn_status cairn_querynode_release(cairn_querynode *qn, int64_t collection_id,
                                     cairn_error *err);
/* Pick up new sealed segments and index files of a loaded collection. */
cairn_status cairn_querynode_refresh(cairn_querynode *qn, int64_t collection_id,
                                     cairn_error *err);
/* Rows visible in a loaded collection (deletes applied). */
cairn_status cairn_querynode_count(cairn_querynode *qn, int64_t collection_id,
                                   bool strong, uint64_t *rows, cairn_error *err);

/* Output columns of a search or query. The primary key is always returned. */
typedef struct cairn_qn_output {
  const int64_t *field_ids;        /* fields to return (schema field ids) */
  size_t n_fields;
  const char *const *dynamic_keys; /* "$meta" keys to return; with the
                                      dynamic field id in field_ids and
                                      n_dynamic_keys == 0, whole objects */
  size_t n_dynamic_keys;
} cairn_qn_output;

typedef struct cairn_qn_search {
  int64_t collection_id;
  const int64_t *partition_ids;    /* NULL/0: every partition */
  size_t n_partition_ids;
  int64_t field_id;                /* the vector field searched */
  const char *metric;              /* "L2", "IP", "COSINE", "HAMMING", ... */
  size_t nq;
  const void *queries;             /* nq rows in the field's layout
                                      (index.h); sparse: cairn_sparse_row[] */
  size_t row_bytes;                /* dense: bytes of one query row (for
                                      sending the request to another
                                      process); 0 for sparse */
  int topk;                        /* hits per query (offset included) */
  cairn_search_params params;      /* ef, nprobe, drop_ratio_search */
  bool is_range;                   /* range search with radius/range_filter */
  float radius;
  float range_filter;              /* NAN when absent */
  const cairn_expr *filter;        /* NULL: every row */
  bool ignore_growing;
  bool strong;
  int64_t group_by_field_id;       /* 0: no grouping */
  int group_size;                  /* hits per group (default 1) */
  cairn_qn_output output;
} cairn_qn_search;

/* Search: *out is a schema.SearchResultData built in arena (num_queries,
 * top_k, topks, scores, ids, fields_data with the pk and output fields,
 * output_fields names, primary_field_name). */
cairn_status cairn_querynode_search(cairn_querynode *qn,
                                    const cairn_qn_search *req,
                                    cairn_arena *arena,
                                    Milvus__Proto__Schema__SearchResultData **out,
                                    cairn_error *err);

typedef struct cairn_qn_query {
  int64_t collection_id;
  const int64_t *partition_ids;    /* NULL/0: every partition */
  size_t n_partition_ids;
  const cairn_expr *filter;        /* NULL: every row */
  int64_t offset;
  int64_t limit;                   /* < 0: no limit */
  bool strong;
  bool count_only;                 /* count(*): only *n_rows is set (the
                                      number of matching rows, offset and
                                      limit ignored); no FieldData built */
  cairn_qn_output output;
} cairn_qn_query;

/* Query: matching rows (row order within a segment, segments in order:
 * sealed by channel then start position, then the growing ones) as
 * FieldData columns in arena (pk first, then output fields). */
cairn_status cairn_querynode_query(cairn_querynode *qn, const cairn_qn_query *req,
                                   cairn_arena *arena,
                                   Milvus__Proto__Schema__FieldData ***fields,
                                   size_t *n_fields, size_t *n_rows,
                                   cairn_error *err);

/* cairn.cluster.QueryNodeService over this querynode (qn_service.c), for
 * the proxies of a cluster; the caller frees it after the server stops. */
cairn_status cairn_querynode_service_new(cairn_querynode *qn,
                                         cairn_rpc_service **out,
                                         cairn_error *err);

#endif
