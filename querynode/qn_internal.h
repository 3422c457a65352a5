/*
 * qn_internal.h — the querynode's internal structures, shared by its files:
 *
 *   querynode.c   registry of loaded collections, load / release / refresh
 *   qn_segment.c  sealed segments (binlogs + index files), growing segments
 *                 (append, trim, snapshot), segment sets (views)
 *   qn_consume.c  one log consumer thread per channel
 *   qn_delmap.c   the per-collection delete map (pk -> max delete ts)
 *   qn_scan.c     exact scans (top-k and range) over a column view
 *   qn_search.c   search: per-segment filter + ANN, merge, group_by, reply
 *   qn_query.c    query and count
 *   qn_pool.c     the small thread pool searches fan out on
 *
 * Object graph and lifetimes (all reference counts are atomics):
 *
 *   cairn_querynode ──(mu)── qn_coll[]            registry
 *   qn_coll ──(mu)── qn_view *view                current segment set
 *   qn_view ── qn_sealed *[] + qn_growing *[]     immutable once published
 *   qn_chan ──(chan mu)── qn_growing *g           the one being appended to
 *
 * A reader (search, query, count) takes a reference on the collection (in
 * the registry lock) and on the current view (in coll->mu), works on
 * snapshots of the view's segments, then drops both. A refresh builds a new
 * view and swaps the pointer under coll->mu; the old view and its segments
 * live until the last reader drops them (RCU by reference counting: the
 * writer never waits for readers, the last reader frees).
 *
 * Growing rows: the consumer appends under chan->mu to chan->g and then
 * publishes g->n_rows (release); readers load n_rows first (acquire) and
 * read only rows below it (column.h's snapshot rule, extended over all the
 * segment's columns). A refresh that moves rows to sealed segments copies
 * the rows that stay (log position >= the new checkpoint) into a NEW
 * growing segment under chan->mu, so the consumer's next append goes to the
 * new one, and publishes it in the same view swap as the new sealed
 * segments: a reader sees either (old sealed, old growing) or (new sealed,
 * new growing), never a row twice or not at all.
 */
#ifndef CAIRN_QN_INTERNAL_H
#define CAIRN_QN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "binlog.h"
#include "cairn_data.pb-c.h"
#include "column.h"
#include "common.pb-c.h"
#include "fielddata.h"
#include "querynode.h"

#define QN_TS_FIELD_ID 1 /* the datanode's per-row timestamp binlog */

/* ---- delete map (qn_delmap.c) ----------------------------------------
 * Open addressing, linear probing, power-of-two capacity, load <= 1/2.
 * Keys are int64 or strings (copied), values the max delete timestamp of
 * the key (a slot with ts 0 is empty: timestamps are never 0). Locking:
 * the rwlock; writers call the _put functions inside qn_delmap_wrlock, and
 * readers the _get ones inside qn_delmap_rdlock. `version` grows with every
 * change so caches of deleted rows know when they are stale. */
typedef struct qn_delmap {
  pthread_rwlock_t lock;
  bool str_keys;
  size_t cap, n;
  int64_t *ikeys;
  char **skeys;           /* malloc'd copies, NUL-terminated */
  size_t *slens;
  uint64_t *ts;           /* 0 = empty slot */
  _Atomic uint64_t version;
} qn_delmap;

cairn_status qn_delmap_init(qn_delmap *m, bool str_keys, cairn_error *err);
void qn_delmap_destroy(qn_delmap *m);
void qn_delmap_rdlock(qn_delmap *m);
void qn_delmap_wrlock(qn_delmap *m);
void qn_delmap_unlock(qn_delmap *m);
cairn_status qn_delmap_put_int(qn_delmap *m, int64_t pk, uint64_t ts,
                               cairn_error *err);
cairn_status qn_delmap_put_str(qn_delmap *m, const char *pk, size_t len,
                               uint64_t ts, cairn_error *err);
uint64_t qn_delmap_get_int(const qn_delmap *m, int64_t pk);
uint64_t qn_delmap_get_str(const qn_delmap *m, const char *pk, size_t len);
/* Adds every entry of a delta log (takes the write lock). */
cairn_status qn_delmap_add_delta(qn_delmap *m, const cairn_delta *d,
                                 cairn_error *err);

/* ---- segments (qn_segment.c) ------------------------------------------ */

typedef struct qn_vindex {
  int64_t field_id;
  cairn_index *index;      /* owned; row ids = row offsets in the segment */
} qn_vindex;

/* A sealed segment: immutable after load except the deleted-rows cache. */
typedef struct qn_sealed {
  atomic_int refs;
  int64_t id, partition_id;
  int chan;                  /* index in coll->chans, -1: unknown channel */
  int64_t start_pos;
  size_t n_rows;
  size_t n_fields;           /* the schema's */
  cairn_colview *cols;       /* by schema field index */
  const int64_t *ts;         /* per-row timestamps, NULL: all fallback_ts */
  uint64_t fallback_ts;
  cairn_binlog **logs;       /* owned readers (views point into them) */
  void **bufs;               /* buffers readers borrow (NULL when mmap'd) */
  size_t n_logs;
  qn_vindex *vix;
  size_t n_vix;
  bool *mapped;              /* by schema field index: cols[f] points into a
                                file mapping (not a malloc'd buffer) */
  char *index_sig;           /* the index keys loaded, to spot new ones */
  pthread_mutex_t del_mu;    /* guards the four fields below */
  uint64_t del_version;      /* delete map version `deleted` reflects */
  uint64_t *deleted;         /* bit set = row deleted; NULL: none */
  size_t n_deleted;          /* bits set in `deleted` */
  bool del_valid;
} qn_sealed;

/* A growing segment: columns appended by one consumer (chan->mu held).
 *
 * Reclaiming the buffers a column retires when it grows (column.h): a
 * reader counts itself in `readers` BEFORE it loads any column pointer
 * (qn_segviews_make) and leaves when it drops its snapshot
 * (qn_segviews_free). Retired buffers are freed, under grow_mu, by whoever
 * finds no reader after they were retired: the appender right after its
 * append, or the last reader leaving while `retired` is set. Both sides
 * order their store before the other's load with a seq_cst fence, so either
 * the appender sees the reader, or the reader loads the new pointers
 * (a retired buffer is never published again). */
#define QN_GROWING_PART_IDS 16

typedef struct qn_growing {
  atomic_int refs;
  int chan;
  size_t n_fields;
  cairn_column **cols;       /* by schema field index */
  cairn_column *ts;          /* Int64: row timestamps */
  cairn_column *part;        /* Int64: row partitions */
  /* The distinct partitions of its rows, so a read scoped to partitions
   * knows without a pass that every row is wanted. Written under grow_mu
   * before the rows are published (n_part_ids release-stored, a superset
   * for any published row count); over QN_GROWING_PART_IDS: parts_many. */
  int64_t part_ids[QN_GROWING_PART_IDS];
  _Atomic size_t n_part_ids;
  atomic_bool parts_many;
  _Atomic size_t n_rows;     /* published row count (all columns) */
  atomic_int readers;        /* snapshots in use (see above) */
  atomic_bool retired;       /* some column holds retired buffers */
  pthread_mutex_t grow_mu;   /* appends and reclaims of the columns */
  /* writer side (chan->mu): the first row and log position of each insert
   * entry appended, for trimming at refresh */
  size_t n_entries, cap_entries;
  size_t *entry_first;
  int64_t *entry_pos;
} qn_growing;

typedef struct qn_view {
  atomic_int refs;
  size_t n_sealed;
  qn_sealed **sealed;        /* by channel, then start position */
  size_t n_growing;
  qn_growing **growing;      /* one per channel */
} qn_view;

struct qn_coll;

typedef struct qn_chan {
  struct qn_coll *coll;
  int idx;
  char *name;
  pthread_mutex_t mu;        /* guards the fields below */
  pthread_cond_t cond;       /* broadcast when `consumed` moves */
  qn_growing *g;             /* current growing segment (a ref) */
  int64_t skip_below;        /* inserts below this position are sealed */
  int64_t consumed;          /* next position the consumer will read */
  int64_t target;            /* log end at load: loaded when consumed >= */
  cairn_status failed;       /* consumer gave up (CAIRN_OK: running) */
  char failed_msg[512];
  pthread_t thread;
  bool started;
} qn_chan;

typedef enum qn_state { QN_LOADING, QN_LOADED, QN_FAILED } qn_state;

typedef struct qn_coll {
  atomic_int refs;
  cairn_querynode *qn;
  int64_t id;
  cairn_schema *schema;      /* owned; immutable */
  int pk_index;              /* schema field index of the primary key */
  qn_delmap dels;
  size_t n_chans;
  qn_chan *chans;
  atomic_bool stop;          /* release: consumers and loader exit */
  pthread_mutex_t refresh_mu;/* one load/refresh builds a view at a time */
  pthread_mutex_t mu;        /* guards view, state, progress, load_err */
  qn_view *view;
  qn_state state;
  int progress;
  cairn_error load_err;
  pthread_t loader;
  bool loader_started;
} qn_coll;

typedef struct qn_pool qn_pool;

struct cairn_querynode {
  cairn_querynode_options opts;
  pthread_mutex_t mu;        /* guards the registry */
  qn_coll **colls;
  size_t n_colls, cap_colls;
  qn_pool *pool;
};

/* Sealed segment from its catalogue record; *out has one reference. */
cairn_status qn_sealed_load(qn_coll *c, const Cairn__Data__SegmentInfo *info,
                            qn_sealed **out, cairn_error *err);
void qn_sealed_ref(qn_sealed *s);
void qn_sealed_unref(qn_sealed *s);
/* Reads a delta log object into the collection's delete map. */
cairn_status qn_load_deltalog(qn_coll *c, const char *key, cairn_error *err);
/* The signature of the index files a record names (compare to index_sig). */
char *qn_index_sig(const Cairn__Data__SegmentInfo *info);

cairn_status qn_growing_new(const cairn_schema *schema, int chan,
                            qn_growing **out, cairn_error *err);
void qn_growing_ref(qn_growing *g);
void qn_growing_unref(qn_growing *g);
/* Appends one insert entry's decoded columns (chan->mu held). */
cairn_status qn_growing_append(qn_growing *g, const cairn_insert_batch *b,
                               uint64_t ts, int64_t partition,
                               int64_t position, cairn_error *err);
/* A new growing segment with the rows of entries at positions >= keep_from
 * (chan->mu held). */
cairn_status qn_growing_trim(const qn_growing *g, const cairn_schema *schema,
                             int64_t keep_from, qn_growing **out,
                             cairn_error *err);

void qn_view_ref(qn_view *v);
void qn_view_unref(qn_view *v);

/* A reader's snapshot of one segment (sealed or growing). */
typedef struct qn_segview {
  qn_sealed *sealed;         /* exactly one of sealed / growing is set */
  qn_growing *growing;       /* counted in growing->readers while set */
  int64_t seg_id;            /* sealed: segment id; growing: -1 - channel */
  int64_t partition_id;      /* sealed only */
  size_t n_rows;
  size_t n_fields;
  cairn_colview *cols;       /* owned by the segview */
  cairn_expr_column *ecols;  /* owned: the expr engine's view of cols */
  const int64_t *ts;         /* n_rows row timestamps or NULL (fallback) */
  uint64_t fallback_ts;
  const int64_t *part;       /* growing: row partitions; sealed: NULL */
} qn_segview;

/* Snapshots of every segment of a view (growing skipped when asked). */
cairn_status qn_segviews_make(const qn_view *v, bool with_growing,
                              qn_segview **out, size_t *n, cairn_error *err);
void qn_segviews_free(qn_segview *sv, size_t n);
/* Whether every row of sv is visible under partitions, deletes and filter,
 * found without a pass over the rows (no filter or a constant true one, the
 * segment's partition wanted, nothing deleted): the caller can then search
 * with no bitset at all. false means "compute qn_segview_allowed". */
bool qn_segview_all_allowed(qn_coll *c, const qn_segview *sv,
                            const int64_t *parts, size_t n_parts,
                            const cairn_expr *filter);
/* Bits (n_rows+63)/64 words: rows visible under partitions, deletes and
 * filter. *n_set receives the count of set bits. */
cairn_status qn_segview_allowed(qn_coll *c, const qn_segview *sv,
                                const int64_t *parts, size_t n_parts,
                                const cairn_expr *filter, uint64_t *bits,
                                size_t *n_set, cairn_error *err);

/* ---- consumers (qn_consume.c) ------------------------------------------ */

cairn_status qn_consumer_start(qn_chan *ch, cairn_error *err);
/* Joins the thread (coll->stop must be set). */
void qn_consumer_join(qn_chan *ch);
/* Waits until every channel consumed what the log held at the call. */
cairn_status qn_wait_strong(qn_coll *c, int timeout_ms, cairn_error *err);

/* ---- collections (querynode.c) ------------------------------------------ */

/* The loaded collection with a reference, or COLLECTION_NOT_LOADED. */
cairn_status qn_coll_get_loaded(cairn_querynode *qn, int64_t id,
                                qn_coll **out, cairn_error *err);
void qn_coll_unref(qn_coll *c);
/* The current view with a reference. */
qn_view *qn_coll_view(qn_coll *c);
/* Prepares a read: strong wait, then the view (a reference the caller
 * drops with qn_view_unref after freeing the snapshots) and snapshots of
 * its segments. */
cairn_status qn_read_begin(qn_coll *c, bool strong, bool with_growing,
                           qn_view **view, qn_segview **sv, size_t *n,
                           cairn_error *err);

/* ---- exact scans (qn_scan.c) -------------------------------------------- */

/* Scores (Milvus values) of the vectors of one column against queries. */
typedef struct qn_hit {
  float score;
  int64_t row;
} qn_hit;

/* Top-k of one query over rows allowed by bits (NULL: all): writes up to k
 * hits best first into out, returns how many. */
cairn_status qn_scan_topk(const cairn_colview *v, size_t n_rows,
                          cairn_metric metric, const void *query,
                          const uint64_t *bits, int k, qn_hit *out,
                          size_t *n_out, cairn_error *err);
/* Every allowed row within range (Milvus semantics), best first; *out
 * malloc'd (caller frees). */
cairn_status qn_scan_range(const cairn_colview *v, size_t n_rows,
                           cairn_metric metric, const void *query,
                           const uint64_t *bits, float radius,
                           float range_filter, qn_hit **out, size_t *n_out,
                           cairn_error *err);
/* Query row q of the request's queries (sparse: a cairn_sparse_row). */
const void *qn_query_row(cairn_data_type type, int64_t dim,
                         const void *queries, size_t q);
/* Whether score a ranks before b under metric. */
static inline bool qn_better(cairn_metric m, float a, float b) {
  return cairn_metric_higher_is_better(m) ? a > b : a < b;
}

/* ---- output columns (qn_output.c) -------------------------------------- */

/* A result row: segment (index into the reader's segviews) and row. */
typedef struct qn_cand {
  float score;
  int seg;
  int64_t row;
} qn_cand;

#define QN_MAX_OUT_FIELDS 256

/* The output columns (schema field indexes, pk first) and their names. */
typedef struct qn_out_plan {
  int fields[QN_MAX_OUT_FIELDS];
  size_t n_fields;
  const char *const *keys;  /* $meta keys kept (n_keys > 0), else whole */
  size_t n_keys;
  const char **names;       /* user-facing names (in the arena) */
  size_t n_names;
} qn_out_plan;

cairn_status qn_make_plan(cairn_arena *a, const qn_coll *c,
                          const cairn_qn_output *o, qn_out_plan *p,
                          cairn_error *err);
/* The plan's FieldData columns for rows w[0..n) into the arena. */
cairn_status qn_build_columns(cairn_arena *a, const qn_coll *c,
                              const qn_segview *sv, const qn_out_plan *p,
                              const qn_cand *w, size_t n,
                              cairn_pb_field_data ***cols, cairn_error *err);
/* One field's FieldData for rows w[0..n). */
cairn_status qn_gather_field(cairn_arena *a, const qn_coll *c,
                             const qn_segview *sv, int fidx, const qn_cand *w,
                             size_t n, const char *const *keys, size_t n_keys,
                             cairn_pb_field_data **out, cairn_error *err);
/* schema.IDs of rows w[0..n). */
cairn_status qn_build_ids(cairn_arena *a, const qn_coll *c, const qn_segview *sv,
                          const qn_cand *w, size_t n, cairn_pb_ids **out,
                          cairn_error *err);

/* ---- thread pool (qn_pool.c) -------------------------------------------- */

typedef void (*qn_task_fn)(void *arg, size_t i);
cairn_status qn_pool_new(int threads, qn_pool **out, cairn_error *err);
void qn_pool_free(qn_pool *p);
/* Runs fn(arg, i) for i in [0, n) on the pool and the calling thread;
 * returns when all are done. */
void qn_pool_run(qn_pool *p, qn_task_fn fn, void *arg, size_t n);

/* ---- helpers ------------------------------------------------------------ */

/* A cairn_status from a reply's common.Status (CAIRN_OK when code 0). */
cairn_status qn_pb_status(const Milvus__Proto__Common__Status *s,
                          const char *what, cairn_error *err);

#endif
