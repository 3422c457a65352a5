/*
 * test_querynode_util.h — the querynode tests' world: a real coordinator on
 * a temp embedded meta store (direct client), the embedded log and a local
 * object store in temp dirs, one collection, and a row table the tests
 * write to the log (as the proxy would) and seal into segments (as the
 * datanode would: binlogs per field + the timestamp binlog, a delta log,
 * SaveSegments moving the channel checkpoint), plus a brute-force oracle.
 */
#ifndef TEST_QUERYNODE_UTIL_H
#define TEST_QUERYNODE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "expr/expr.h"
#include "fielddata.h"
#include "index.h"
#include "meta.h"
#include "mq.h"
#include "objstore.h"
#include "querynode.h"

#define TQ_MAX_ROWS 200000
#define TQ_MAX_ENTRIES 4096
#define TQ_MAX_DELS 4096

typedef struct tq_row {
  int64_t pk;
  float *vec;          /* dim floats (points into tq_world.vecs) */
  uint8_t bvec[8];     /* 64-bit binary vector */
  double price;        /* uniform [0, 1) */
  bool tag_null;
  char tag[16];        /* "t0".."t9" */
  int32_t cnt;         /* row % 7 */
  char meta[64];       /* {"color": "...", "n": i} */
  int64_t part;
  uint64_t ts;
  bool produced;       /* written to the log */
} tq_row;

typedef struct tq_entry {
  int64_t pos;
  bool is_delete;
  size_t first, n;     /* inserts: rows[first .. first+n) */
  int64_t part;
  uint64_t ts;
  int64_t del_pks[64]; /* deletes */
  size_t n_del;
} tq_entry;

typedef struct tq_chan {
  char name[256];
  int64_t cp;          /* checkpoint the test's "datanode" recorded */
  tq_entry *entries;   /* TQ_MAX_ENTRIES */
  size_t n_entries;
} tq_chan;

typedef struct tq_world {
  char dir[64];
  cairn_meta *meta;
  cairn_coord *coord;
  cairn_rpc_client *client;
  cairn_mq *mq;
  cairn_objstore *os;
  cairn_querynode *qn;
  cairn_arena *arena;
  int64_t coll_id;
  cairn_schema *schema;
  int64_t f_id, f_vec, f_bvec, f_price, f_tag, f_cnt, f_meta;
  int64_t part_default, part_p1;
  int dim;
  tq_chan chans[2];
  size_t n_chans;
  tq_row *rows;        /* TQ_MAX_ROWS */
  float *vecs;
  size_t n_rows;
  int64_t del_pk[TQ_MAX_DELS];
  uint64_t del_ts[TQ_MAX_DELS];
  size_t n_dels;
  uint64_t next_ts;
  int64_t next_seg;
} tq_world;

/* Opens everything and creates collection "c" (float dim `dim`). */
void tq_open(tq_world *w, int dim, int search_threads);
void tq_close(tq_world *w);
/* Adds n rows to the table (not produced); returns the first index. pk of
 * row i is i + pk_base unless given later. */
size_t tq_add_rows(tq_world *w, size_t n, int64_t part, uint64_t seed);
/* Produces rows[first .. first+n) as one InsertEntry to channel ch at a
 * fresh timestamp (ts 0) or at ts. */
void tq_insert(tq_world *w, int ch, size_t first, size_t n, uint64_t ts);
/* Produces one DeleteEntry of pks at a fresh timestamp (or ts). Returns ts. */
uint64_t tq_delete(tq_world *w, int ch, const int64_t *pks, size_t n, uint64_t ts);
uint64_t tq_new_ts(tq_world *w);
/* Seals channel ch up to its log end, as the datanode would. */
void tq_flush(tq_world *w, int ch);
/* Seals channel ch up to log position next (exclusive). */
void tq_flush_to(tq_world *w, int ch, int64_t next);
/* Loads and waits for 100%. */
void tq_load(tq_world *w);

/* Oracle. `pred` (may be NULL) says whether a row matches the filter. */
typedef bool (*tq_pred)(const tq_row *r, const void *arg);
bool tq_visible(const tq_world *w, size_t i);
typedef struct tq_hit {
  int64_t pk;
  float score;
  size_t row;
} tq_hit;
/* Brute-force top-k (or range when radius given) of query q on field
 * (f_vec or f_bvec) with metric; returns hit count. */
size_t tq_oracle(const tq_world *w, int64_t field, cairn_metric m, const void *q,
                 int k, tq_pred pred, const void *arg, const int64_t *parts,
                 size_t n_parts, bool range, float radius, float range_filter,
                 tq_hit *out);
float tq_score(const tq_world *w, int64_t field, cairn_metric m, const void *q,
               const tq_row *r);
cairn_expr *tq_expr(const tq_world *w, const char *text);

#endif
