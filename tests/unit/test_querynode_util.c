/*
 * test_querynode_util.c — see test_querynode_util.h.
 */
#include "test_querynode_util.h"

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "binlog.h"
#include "cairn_data.pb-c.h"
#include "cairn_internal.pb-c.h"
#include "column.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"

#define PATH(m) "/cairn.internal.CoordService/" m
#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);     \
  } while (0)
#define E (&e_)

static const char *COLORS[] = {"red", "green", "blue"};

/* ---- coordinator calls ---- */

static ProtobufCMessage *call(tq_world *w, const char *method, ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *out) {
  ProtobufCMessage *reply = NULL;
  OK(cairn_rpc_call(w->client, method, req, out, NULL, w->arena, &reply, E));
  return reply;
}

static Milvus__Proto__Schema__FieldSchema *field(tq_world *w, const char *name, int type,
                                                 const char *pkey, const char *pval) {
  Milvus__Proto__Schema__FieldSchema *fs =
      CAIRN_ARENA_NEW(w->arena, Milvus__Proto__Schema__FieldSchema, 1);
  milvus__proto__schema__field_schema__init(fs);
  fs->name = (char *)name;
  fs->data_type = type;
  if (pkey != NULL) {
    fs->type_params = CAIRN_ARENA_NEW(w->arena, Milvus__Proto__Common__KeyValuePair *, 1);
    fs->type_params[0] = cairn_pb_kv_new(w->arena, pkey, pval);
    fs->n_type_params = 1;
  }
  return fs;
}

static void create_collection(tq_world *w) {
  char dim[16];
  snprintf(dim, sizeof dim, "%d", w->dim);
  Milvus__Proto__Schema__FieldSchema *fs[6];
  fs[0] = field(w, "id", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64, NULL, NULL);
  fs[0]->is_primary_key = 1;
  fs[1] = field(w, "vec", MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector, "dim", dim);
  fs[2] = field(w, "bvec", MILVUS__PROTO__SCHEMA__DATA_TYPE__BinaryVector, "dim", "64");
  fs[3] = field(w, "price", MILVUS__PROTO__SCHEMA__DATA_TYPE__Double, NULL, NULL);
  fs[4] = field(w, "tag", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar, "max_length", "16");
  fs[4]->nullable = 1;
  fs[5] = field(w, "cnt", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int32, NULL, NULL);
  Milvus__Proto__Schema__CollectionSchema s = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
  s.name = "c";
  s.fields = fs;
  s.n_fields = 6;
  s.enable_dynamic_field = 1;
  Milvus__Proto__Milvus__CreateCollectionRequest req =
      MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
  req.collection_name = "c";
  req.shards_num = 2;
  req.schema.len = milvus__proto__schema__collection_schema__get_packed_size(&s);
  req.schema.data = cairn_arena_alloc(w->arena, req.schema.len);
  milvus__proto__schema__collection_schema__pack(&s, req.schema.data);
  Milvus__Proto__Common__Status *st = (Milvus__Proto__Common__Status *)call(
      w, PATH("CreateCollection"), &req.pb_base, &milvus__proto__common__status__descriptor);
  assert_int_equal(st->code, 0);
  Milvus__Proto__Milvus__CreatePartitionRequest cp =
      MILVUS__PROTO__MILVUS__CREATE_PARTITION_REQUEST__INIT;
  cp.collection_name = "c";
  cp.partition_name = "p1";
  st = (Milvus__Proto__Common__Status *)call(w, PATH("CreatePartition"), &cp.pb_base,
                                             &milvus__proto__common__status__descriptor);
  assert_int_equal(st->code, 0);
}

static void describe(tq_world *w) {
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.collection_name = "c";
  Milvus__Proto__Milvus__DescribeCollectionResponse *r =
      (Milvus__Proto__Milvus__DescribeCollectionResponse *)call(
          w, PATH("DescribeCollection"), &req.pb_base,
          &milvus__proto__milvus__describe_collection_response__descriptor);
  assert_int_equal(r->status->code, 0);
  w->coll_id = r->collectionid;
  OK(cairn_schema_from_pb(r->schema, &w->schema, E));
  w->n_chans = r->n_virtual_channel_names;
  assert_int_equal(w->n_chans, 2);
  for (size_t i = 0; i < w->n_chans; i++)
    snprintf(w->chans[i].name, sizeof w->chans[i].name, "%s", r->virtual_channel_names[i]);
  w->f_id = cairn_schema_field(w->schema, "id")->id;
  w->f_vec = cairn_schema_field(w->schema, "vec")->id;
  w->f_bvec = cairn_schema_field(w->schema, "bvec")->id;
  w->f_price = cairn_schema_field(w->schema, "price")->id;
  w->f_tag = cairn_schema_field(w->schema, "tag")->id;
  w->f_cnt = cairn_schema_field(w->schema, "cnt")->id;
  w->f_meta = cairn_schema_dynamic(w->schema)->id;
  Milvus__Proto__Milvus__ShowPartitionsRequest sp =
      MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
  sp.collection_name = "c";
  Milvus__Proto__Milvus__ShowPartitionsResponse *pr =
      (Milvus__Proto__Milvus__ShowPartitionsResponse *)call(
          w, PATH("ShowPartitions"), &sp.pb_base,
          &milvus__proto__milvus__show_partitions_response__descriptor);
  assert_int_equal(pr->n_partitionids, 2);
  for (size_t i = 0; i < 2; i++) {
    if (strcmp(pr->partition_names[i], "p1") == 0)
      w->part_p1 = pr->partitionids[i];
    else
      w->part_default = pr->partitionids[i];
  }
}

void tq_open(tq_world *w, int dim, int search_threads) {
  memset(w, 0, sizeof *w);
  w->dim = dim;
  w->next_ts = 1000;
  w->next_seg = 5000;
  snprintf(w->dir, sizeof w->dir, "/tmp/cairn-test-qn-XXXXXX");
  assert_non_null(mkdtemp(w->dir));
  char p[128];
  snprintf(p, sizeof p, "%s/meta", w->dir);
  OK(cairn_meta_open("embedded", p, &w->meta, E));
  OK(cairn_coord_open(w->meta, NULL, &w->coord, E));
  OK(cairn_rpc_client_new_direct(cairn_coord_service(w->coord), &w->client, E));
  snprintf(p, sizeof p, "%s/mq", w->dir);
  OK(cairn_mq_open("embedded", p, &w->mq, E));
  snprintf(p, sizeof p, "%s/obj", w->dir);
  OK(cairn_objstore_open("local", p, &w->os, E));
  w->arena = cairn_arena_new();
  create_collection(w);
  describe(w);
  for (size_t i = 0; i < w->n_chans; i++)
    w->chans[i].entries = calloc(TQ_MAX_ENTRIES, sizeof(tq_entry));
  w->rows = calloc(TQ_MAX_ROWS, sizeof(tq_row));
  w->vecs = calloc((size_t)TQ_MAX_ROWS * (size_t)dim, sizeof(float));
  assert_non_null(w->rows);
  assert_non_null(w->vecs);
  cairn_querynode_options o = {.mq = w->mq, .objstore = w->os, .coord = w->client,
                               .search_threads = search_threads,
                               .strong_timeout_ms = 20000};
  OK(cairn_querynode_open(&o, &w->qn, E));
}

void tq_close(tq_world *w) {
  cairn_querynode_close(w->qn);
  cairn_schema_free(w->schema);
  cairn_arena_free(w->arena);
  cairn_rpc_client_free(w->client);
  cairn_coord_close(w->coord);
  cairn_meta_close(w->meta);
  cairn_mq_close(w->mq);
  cairn_objstore_close(w->os);
  for (size_t i = 0; i < w->n_chans; i++)
    free(w->chans[i].entries);
  free(w->rows);
  free(w->vecs);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", w->dir);
  assert_int_equal(system(cmd), 0);
}

/* ---- rows ---- */

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

size_t tq_add_rows(tq_world *w, size_t n, int64_t part, uint64_t seed) {
  size_t first = w->n_rows;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  assert_true(first + n <= TQ_MAX_ROWS);
  for (size_t k = 0; k < n; k++) {
    size_t i = first + k;
    tq_row *r = &w->rows[i];
    memset(r, 0, sizeof *r);
    r->pk = (int64_t)i;
    r->vec = w->vecs + i * (size_t)w->dim;
    for (int d = 0; d < w->dim; d++)
      r->vec[d] = (float)(rng_unit(&s) * 2 - 1);
    for (int b = 0; b < 8; b++)
      r->bvec[b] = (uint8_t)rng_next(&s);
    r->price = rng_unit(&s);
    r->tag_null = i % 5 == 4;
    snprintf(r->tag, sizeof r->tag, "t%zu", i % 10);
    r->cnt = (int32_t)(i % 7);
    snprintf(r->meta, sizeof r->meta, "{\"color\":\"%s\",\"n\":%zu}", COLORS[i % 3], i);
    r->part = part;
  }
  w->n_rows += n;
  return first;
}

uint64_t tq_new_ts(tq_world *w) { return w->next_ts += 10; }

/* Columns (by schema field index) of rows idx[0..n); plus timestamps. */
static void make_columns(tq_world *w, const size_t *idx, size_t n, cairn_column **cols,
                         cairn_column **ts_col) {
  const cairn_schema *sc = w->schema;
  for (size_t f = 0; f < sc->n_fields; f++)
    OK(cairn_column_new_field(&sc->fields[f], &cols[f], E));
  cairn_column_type tt = {.field_id = 1, .type = CAIRN_TYPE_INT64};
  OK(cairn_column_new(&tt, ts_col, E));
  for (size_t k = 0; k < n; k++) {
    const tq_row *r = &w->rows[idx[k]];
    for (size_t f = 0; f < sc->n_fields; f++) {
      int64_t id = sc->fields[f].id;
      cairn_column *c = cols[f];
      if (id == w->f_id) {
        OK(cairn_column_append_fixed(c, &r->pk, NULL, 1, E));
      } else if (id == w->f_vec) {
        OK(cairn_column_append_fixed(c, r->vec, NULL, 1, E));
      } else if (id == w->f_bvec) {
        OK(cairn_column_append_fixed(c, r->bvec, NULL, 1, E));
      } else if (id == w->f_price) {
        OK(cairn_column_append_fixed(c, &r->price, NULL, 1, E));
      } else if (id == w->f_cnt) {
        OK(cairn_column_append_fixed(c, &r->cnt, NULL, 1, E));
      } else if (id == w->f_tag) {
        const char *p = r->tag;
        size_t l = strlen(r->tag);
        bool valid = !r->tag_null;
        OK(cairn_column_append_strings(c, &p, &l, &valid, 1, E));
      } else {
        const char *p = r->meta;
        size_t l = strlen(r->meta);
        OK(cairn_column_append_strings(c, &p, &l, NULL, 1, E));
      }
    }
    int64_t t = (int64_t)r->ts;
    OK(cairn_column_append_fixed(*ts_col, &t, NULL, 1, E));
  }
}

static void free_columns(tq_world *w, cairn_column **cols, cairn_column *ts) {
  for (size_t f = 0; f < w->schema->n_fields; f++)
    cairn_column_free(cols[f]);
  cairn_column_free(ts);
}

static int64_t produce(tq_world *w, int ch, Cairn__Data__LogEntry *le) {
  size_t len = cairn__data__log_entry__get_packed_size(le);
  uint8_t *buf = malloc(len + 1);
  cairn__data__log_entry__pack(le, buf);
  int64_t pos = -1;
  OK(cairn_mq_produce(w->mq, w->chans[ch].name, buf, len, &pos, E));
  free(buf);
  return pos;
}

void tq_insert(tq_world *w, int ch, size_t first, size_t n, uint64_t ts) {
  if (ts == 0)
    ts = tq_new_ts(w);
  size_t *idx = malloc(n * sizeof *idx);
  int64_t *rows = malloc(n * sizeof *rows);
  for (size_t k = 0; k < n; k++) {
    idx[k] = first + k;
    rows[k] = (int64_t)k;
    w->rows[first + k].ts = ts;
  }
  cairn_column *cols[16];
  cairn_column *tsc;
  make_columns(w, idx, n, cols, &tsc);
  cairn_arena *a = cairn_arena_new();
  Milvus__Proto__Schema__FieldData **fd =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__FieldData *, w->schema->n_fields);
  for (size_t f = 0; f < w->schema->n_fields; f++) {
    cairn_colview v;
    cairn_column_snapshot(cols[f], &v);
    OK(cairn_fielddata_build(a, &w->schema->fields[f], &v, rows, n, NULL, 0, &fd[f], E));
  }
  Cairn__Data__InsertEntry ins = CAIRN__DATA__INSERT_ENTRY__INIT;
  ins.collection_id = w->coll_id;
  ins.partition_id = w->rows[first].part;
  ins.timestamp = ts;
  ins.num_rows = n;
  ins.fields_data = fd;
  ins.n_fields_data = w->schema->n_fields;
  Cairn__Data__LogEntry le = CAIRN__DATA__LOG_ENTRY__INIT;
  le.body_case = CAIRN__DATA__LOG_ENTRY__BODY_INSERT;
  le.insert = &ins;
  int64_t pos = produce(w, ch, &le);
  tq_chan *c = &w->chans[ch];
  assert_true(c->n_entries < TQ_MAX_ENTRIES);
  c->entries[c->n_entries++] = (tq_entry){.pos = pos, .first = first, .n = n,
                                          .part = w->rows[first].part, .ts = ts};
  for (size_t k = 0; k < n; k++)
    w->rows[first + k].produced = true;
  cairn_arena_free(a);
  free_columns(w, cols, tsc);
  free(idx);
  free(rows);
}

uint64_t tq_delete(tq_world *w, int ch, const int64_t *pks, size_t n, uint64_t ts) {
  if (ts == 0)
    ts = tq_new_ts(w);
  assert_true(n <= 64);
  Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
  la.data = (int64_t *)pks;
  la.n_data = n;
  Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
  ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
  ids.int_id = &la;
  Cairn__Data__DeleteEntry del = CAIRN__DATA__DELETE_ENTRY__INIT;
  del.collection_id = w->coll_id;
  del.partition_id = -1;
  del.timestamp = ts;
  del.primary_keys = &ids;
  Cairn__Data__LogEntry le = CAIRN__DATA__LOG_ENTRY__INIT;
  le.body_case = CAIRN__DATA__LOG_ENTRY__BODY_DELETE;
  le.delete_ = &del;
  int64_t pos = produce(w, ch, &le);
  tq_chan *c = &w->chans[ch];
  tq_entry *e = &c->entries[c->n_entries++];
  *e = (tq_entry){.pos = pos, .is_delete = true, .ts = ts, .n_del = n};
  memcpy(e->del_pks, pks, n * sizeof *pks);
  for (size_t i = 0; i < n; i++) {
    assert_true(w->n_dels < TQ_MAX_DELS);
    w->del_pk[w->n_dels] = pks[i];
    w->del_ts[w->n_dels++] = ts;
  }
  return ts;
}

/* ---- the test's datanode ---- */

static char *put_column(tq_world *w, cairn_arena *a, int64_t part, int64_t seg, int64_t field,
                        const cairn_column *col) {
  cairn_colview v;
  cairn_column_snapshot(col, &v);
  void *buf;
  size_t len;
  OK(cairn_binlog_encode(&v, &buf, &len, E));
  char *key = cairn_arena_printf(a, "insert_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64 "/0",
                                 w->coll_id, part, seg, field);
  OK(cairn_objstore_put(w->os, key, buf, len, E));
  free(buf);
  return key;
}

static Cairn__Data__SegmentInfo *make_segment(tq_world *w, cairn_arena *a, int ch, int64_t part,
                                              const size_t *idx, size_t n, int64_t from,
                                              int64_t to) {
  Cairn__Data__SegmentInfo *s = CAIRN_ARENA_NEW(a, Cairn__Data__SegmentInfo, 1);
  cairn__data__segment_info__init(s);
  s->id = w->next_seg++;
  s->collection_id = w->coll_id;
  s->partition_id = part;
  s->channel = w->chans[ch].name;
  s->num_rows = n;
  s->start_position = from;
  s->end_position = to;
  cairn_column *cols[16], *tsc;
  make_columns(w, idx, n, cols, &tsc);
  size_t nf = w->schema->n_fields;
  s->binlogs = CAIRN_ARENA_NEW(a, Cairn__Data__FieldBinlog *, nf + 1);
  for (size_t f = 0; f <= nf && n > 0; f++) {
    Cairn__Data__FieldBinlog *b = CAIRN_ARENA_NEW(a, Cairn__Data__FieldBinlog, 1);
    cairn__data__field_binlog__init(b);
    b->field_id = f < nf ? w->schema->fields[f].id : 1;
    b->key = put_column(w, a, part, s->id, b->field_id, f < nf ? cols[f] : tsc);
    s->binlogs[s->n_binlogs++] = b;
  }
  for (size_t k = 0; k < n; k++) {
    uint64_t t = w->rows[idx[k]].ts;
    if (s->min_timestamp == 0 || t < s->min_timestamp)
      s->min_timestamp = t;
    if (t > s->max_timestamp)
      s->max_timestamp = t;
  }
  free_columns(w, cols, tsc);
  return s;
}

static void put_deltalog(tq_world *w, cairn_arena *a, Cairn__Data__SegmentInfo *s,
                         const int64_t *pks, const uint64_t *ts, size_t n) {
  cairn_delta d = {.pk_type = CAIRN_TYPE_INT64, .n = n, .int_pks = pks, .ts = ts};
  void *buf;
  size_t len;
  OK(cairn_deltalog_encode(&d, &buf, &len, E));
  s->deltalog_key = cairn_arena_printf(a, "delta_log/%" PRId64 "/%" PRId64 "/%" PRId64 "/0",
                                       w->coll_id, s->partition_id, s->id);
  OK(cairn_objstore_put(w->os, s->deltalog_key, buf, len, E));
  free(buf);
}

void tq_flush(tq_world *w, int ch) {
  int64_t first = 0, next = 0;
  OK(cairn_mq_bounds(w->mq, w->chans[ch].name, &first, &next, E));
  tq_flush_to(w, ch, next);
}

void tq_flush_to(tq_world *w, int ch, int64_t next) {
  tq_chan *c = &w->chans[ch];
  if (next <= c->cp)
    return;
  cairn_arena *a = cairn_arena_new();
  int64_t parts[2] = {w->part_default, w->part_p1};
  size_t *idx = malloc(TQ_MAX_ROWS * sizeof *idx);
  int64_t dpk[TQ_MAX_DELS];
  uint64_t dts[TQ_MAX_DELS];
  size_t nd = 0;
  Cairn__Data__SegmentInfo *segs[3];
  size_t n_segs = 0;
  for (int p = 0; p < 2; p++) {
    size_t n = 0;
    for (size_t e = 0; e < c->n_entries; e++) {
      tq_entry *x = &c->entries[e];
      if (x->pos < c->cp || x->pos >= next || x->is_delete || x->part != parts[p])
        continue;
      for (size_t k = 0; k < x->n; k++)
        idx[n++] = x->first + k;
    }
    if (n > 0)
      segs[n_segs++] = make_segment(w, a, ch, parts[p], idx, n, c->cp, next);
  }
  for (size_t e = 0; e < c->n_entries; e++) {
    tq_entry *x = &c->entries[e];
    if (x->pos < c->cp || x->pos >= next || !x->is_delete)
      continue;
    for (size_t k = 0; k < x->n_del; k++) {
      dpk[nd] = x->del_pks[k];
      dts[nd++] = x->ts;
    }
  }
  if (nd > 0) {
    if (n_segs == 0)
      segs[n_segs++] = make_segment(w, a, ch, parts[0], idx, 0, c->cp, next);
    put_deltalog(w, a, segs[0], dpk, dts, nd);
  }
  Cairn__Data__ChannelCheckpoint cp = CAIRN__DATA__CHANNEL_CHECKPOINT__INIT;
  cp.channel = c->name;
  cp.collection_id = w->coll_id;
  cp.position = next;
  Cairn__Internal__SaveSegmentsRequest req = CAIRN__INTERNAL__SAVE_SEGMENTS_REQUEST__INIT;
  req.collection_id = w->coll_id;
  req.channel = c->name;
  req.expected_position = c->cp;
  req.checkpoint = &cp;
  req.segments = segs;
  req.n_segments = n_segs;
  ProtobufCMessage *reply = NULL;
  OK(cairn_rpc_call(w->client, PATH("SaveSegments"), &req.base,
                    &milvus__proto__common__status__descriptor, NULL, a, &reply, E));
  assert_int_equal(((Milvus__Proto__Common__Status *)reply)->code, 0);
  c->cp = next;
  free(idx);
  cairn_arena_free(a);
}

void tq_load(tq_world *w) {
  OK(cairn_querynode_load(w->qn, w->coll_id, E));
  for (int i = 0; i < 2000; i++) {
    cairn_error e = {0};
    int p = cairn_querynode_progress(w->qn, w->coll_id, &e);
    if (p < 0)
      fail_msg("load failed: %s", e.message);
    if (p == 100)
      return;
    usleep(5000);
  }
  fail_msg("load did not finish");
}

/* ---- oracle ---- */

bool tq_visible(const tq_world *w, size_t i) {
  const tq_row *r = &w->rows[i];
  if (!r->produced)
    return false;
  for (size_t d = 0; d < w->n_dels; d++)
    if (w->del_pk[d] == r->pk && w->del_ts[d] > r->ts)
      return false;
  return true;
}

float tq_score(const tq_world *w, int64_t field, cairn_metric m, const void *q,
               const tq_row *r) {
  if (field == w->f_bvec) {
    const uint8_t *a = q;
    int ham = 0, inter = 0, uni = 0;
    for (int b = 0; b < 8; b++) {
      ham += __builtin_popcount(a[b] ^ r->bvec[b]);
      inter += __builtin_popcount(a[b] & r->bvec[b]);
      uni += __builtin_popcount(a[b] | r->bvec[b]);
    }
    return m == CAIRN_METRIC_HAMMING ? (float)ham : uni ? 1.0f - (float)inter / (float)uni : 0;
  }
  const float *a = q;
  double l2 = 0, ip = 0, na = 0, nb = 0;
  for (int d = 0; d < w->dim; d++) {
    double x = a[d], y = r->vec[d];
    l2 += (x - y) * (x - y);
    ip += x * y;
    na += x * x;
    nb += y * y;
  }
  if (m == CAIRN_METRIC_L2)
    return (float)l2;
  if (m == CAIRN_METRIC_IP)
    return (float)ip;
  return (float)(ip / (sqrt(na) * sqrt(nb)));
}

static cairn_metric g_metric;

static int cmp_hit(const void *pa, const void *pb) {
  const tq_hit *a = pa, *b = pb;
  if (a->score != b->score) {
    bool better = cairn_metric_higher_is_better(g_metric) ? a->score > b->score
                                                          : a->score < b->score;
    return better ? -1 : 1;
  }
  return a->pk < b->pk ? -1 : a->pk > b->pk;
}

size_t tq_oracle(const tq_world *w, int64_t field, cairn_metric m, const void *q, int k,
                 tq_pred pred, const void *arg, const int64_t *parts, size_t n_parts,
                 bool range, float radius, float range_filter, tq_hit *out) {
  size_t n = 0;
  tq_hit *all = malloc((w->n_rows + 1) * sizeof *all);
  for (size_t i = 0; i < w->n_rows; i++) {
    const tq_row *r = &w->rows[i];
    if (!tq_visible(w, i) || (pred && !pred(r, arg)))
      continue;
    bool in = n_parts == 0;
    for (size_t p = 0; p < n_parts; p++)
      in |= parts[p] == r->part;
    if (!in)
      continue;
    float s = tq_score(w, field, m, q, r);
    if (range) {
      bool hi = cairn_metric_higher_is_better(m);
      bool ok = hi ? s > radius && (isnan(range_filter) || s <= range_filter)
                   : s < radius && (isnan(range_filter) || s >= range_filter);
      if (!ok)
        continue;
    }
    all[n++] = (tq_hit){r->pk, s, i};
  }
  g_metric = m;
  qsort(all, n, sizeof *all, cmp_hit);
  if (n > (size_t)k)
    n = (size_t)k;
  memcpy(out, all, n * sizeof *out);
  free(all);
  return n;
}

cairn_expr *tq_expr(const tq_world *w, const char *text) {
  cairn_expr *e = NULL;
  OK(cairn_expr_parse(w->schema, text, NULL, &e, E));
  return e;
}
