/*
 * test_datanode_util.c — the datanode/indexnode test fixture; see
 * test_datanode_util.h.
 */
#include "test_datanode_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cairn_internal.pb-c.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"

#define PATH(m) "/cairn.internal.CoordService/" m

typedef Milvus__Proto__Schema__FieldSchema pb_field;
typedef Milvus__Proto__Schema__FieldData pb_fd;

static ProtobufCMessage *call(tu_fx *f, const char *method,
                              ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *out) {
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  cairn_status st = cairn_rpc_call(f->client, method, req, out, NULL, f->arena,
                                   &reply, &err);
  if (st != CAIRN_OK)
    fail_msg("%s: %s", method, err.message);
  return reply;
}

static void expect_ok(const Milvus__Proto__Common__Status *s, const char *what) {
  if (s->code != 0)
    fail_msg("%s: %d %s", what, s->code, s->reason);
}

static pb_field *field(tu_fx *f, const char *name, int type, const char *k,
                       const char *v) {
  pb_field *fs = CAIRN_ARENA_NEW(f->arena, pb_field, 1);
  milvus__proto__schema__field_schema__init(fs);
  fs->name = (char *)name;
  fs->data_type = type;
  if (k != NULL) {
    fs->type_params = CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Common__KeyValuePair *, 1);
    fs->type_params[0] = cairn_pb_kv_new(f->arena, k, v);
    fs->n_type_params = 1;
  }
  return fs;
}

static void create_collection(tu_fx *f, const char *name, int shards) {
  pb_field *fs[3];
  fs[0] = field(f, "id", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64, NULL, NULL);
  fs[0]->is_primary_key = 1;
  char dim[32];
  snprintf(dim, sizeof dim, "%lld", (long long)f->dim);
  fs[1] = field(f, "vector", MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector, "dim", dim);
  fs[2] = field(f, "title", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar, "max_length", "64");
  fs[2]->nullable = 1;
  Milvus__Proto__Schema__CollectionSchema s = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
  s.name = (char *)name;
  s.fields = fs;
  s.n_fields = 3;
  s.enable_dynamic_field = 1;
  Milvus__Proto__Milvus__CreateCollectionRequest req =
      MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.shards_num = shards;
  req.schema.len = milvus__proto__schema__collection_schema__get_packed_size(&s);
  req.schema.data = cairn_arena_alloc(f->arena, req.schema.len);
  milvus__proto__schema__collection_schema__pack(&s, req.schema.data);
  expect_ok((Milvus__Proto__Common__Status *)call(
                f, PATH("CreateCollection"), &req.pb_base,
                &milvus__proto__common__status__descriptor),
            "CreateCollection");
  Milvus__Proto__Milvus__CreatePartitionRequest cp =
      MILVUS__PROTO__MILVUS__CREATE_PARTITION_REQUEST__INIT;
  cp.collection_name = (char *)name;
  cp.partition_name = "p1";
  expect_ok((Milvus__Proto__Common__Status *)call(
                f, PATH("CreatePartition"), &cp.pb_base,
                &milvus__proto__common__status__descriptor),
            "CreatePartition");
}

void tu_drop_partition(tu_fx *f, const char *name, const char *partition) {
  Milvus__Proto__Milvus__DropPartitionRequest req =
      MILVUS__PROTO__MILVUS__DROP_PARTITION_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.partition_name = (char *)partition;
  expect_ok((Milvus__Proto__Common__Status *)call(
                f, PATH("DropPartition"), &req.pb_base,
                &milvus__proto__common__status__descriptor),
            "DropPartition");
}

static void describe_collection(tu_fx *f, const char *name) {
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  Milvus__Proto__Milvus__DescribeCollectionResponse *r =
      (Milvus__Proto__Milvus__DescribeCollectionResponse *)call(
          f, PATH("DescribeCollection"), &req.pb_base,
          &milvus__proto__milvus__describe_collection_response__descriptor);
  expect_ok(r->status, "DescribeCollection");
  f->coll_id = r->collectionid;
  f->n_channels = r->n_virtual_channel_names;
  assert_true(f->n_channels <= 4);
  for (size_t i = 0; i < f->n_channels; i++)
    snprintf(f->channels[i], sizeof f->channels[i], "%s",
             r->virtual_channel_names[i]);
  Milvus__Proto__Milvus__ShowPartitionsRequest sp =
      MILVUS__PROTO__MILVUS__SHOW_PARTITIONS_REQUEST__INIT;
  sp.collection_name = (char *)name;
  Milvus__Proto__Milvus__ShowPartitionsResponse *pr =
      (Milvus__Proto__Milvus__ShowPartitionsResponse *)call(
          f, PATH("ShowPartitions"), &sp.pb_base,
          &milvus__proto__milvus__show_partitions_response__descriptor);
  expect_ok(pr->status, "ShowPartitions");
  for (size_t i = 0; i < pr->n_partition_names; i++) {
    if (strcmp(pr->partition_names[i], "_default") == 0)
      f->part_default = pr->partitionids[i];
    if (strcmp(pr->partition_names[i], "p1") == 0)
      f->part_p1 = pr->partitionids[i];
  }
  assert_true(f->part_default != 0 && f->part_p1 != 0);
}

void tu_open(tu_fx *f, const char *name, int shards, int64_t dim) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-dn-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char sub[128];
  cairn_error err = {0};
  snprintf(sub, sizeof sub, "%s/meta", f->dir);
  assert_int_equal(cairn_meta_open("embedded", sub, &f->meta, &err), CAIRN_OK);
  assert_int_equal(cairn_coord_open(f->meta, NULL, &f->coord, &err), CAIRN_OK);
  assert_int_equal(cairn_rpc_client_new_direct(cairn_coord_service(f->coord),
                                               &f->client, &err), CAIRN_OK);
  snprintf(sub, sizeof sub, "%s/mq", f->dir);
  assert_int_equal(cairn_mq_open("embedded", sub, &f->mq, &err), CAIRN_OK);
  snprintf(sub, sizeof sub, "%s/obj", f->dir);
  assert_int_equal(cairn_objstore_open("local", sub, &f->store, &err), CAIRN_OK);
  f->arena = cairn_arena_new();
  f->dim = dim;
  create_collection(f, name, shards);
  describe_collection(f, name);
  tu_reset(f);
}

void tu_close(tu_fx *f) {
  cairn_arena_free(f->arena);
  cairn_objstore_close(f->store);
  cairn_mq_close(f->mq);
  cairn_rpc_client_free(f->client);
  cairn_coord_close(f->coord);
  cairn_meta_close(f->meta);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
}

void tu_reset(tu_fx *f) {
  cairn_arena_free(f->arena);
  f->arena = cairn_arena_new();
}

bool tu_random_vectors;

float tu_vec(int64_t g, int64_t j) {
  if (tu_random_vectors) {
    uint64_t x = (uint64_t)g * 0x9E3779B97F4A7C15ull ^ (uint64_t)j * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (float)(x >> 40) / (float)(1u << 24);
  }
  return (float)((g * 31 + j * 7) % 1000) * 0.01f + (float)j;
}

/* ---- producing ------------------------------------------------------------ */

static pb_fd *fd_new(cairn_arena *a, const char *name, int64_t id, int type) {
  pb_fd *fd = CAIRN_ARENA_NEW(a, pb_fd, 1);
  milvus__proto__schema__field_data__init(fd);
  fd->field_name = (char *)name;
  fd->field_id = id;
  fd->type = type;
  return fd;
}

static Milvus__Proto__Schema__ScalarField *scalars(cairn_arena *a, pb_fd *fd) {
  Milvus__Proto__Schema__ScalarField *s =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__ScalarField, 1);
  milvus__proto__schema__scalar_field__init(s);
  fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
  fd->scalars = s;
  return s;
}

static pb_fd *pk_column(cairn_arena *a, int64_t g0, size_t n) {
  pb_fd *fd = fd_new(a, "id", 100, MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64);
  Milvus__Proto__Schema__ScalarField *s = scalars(a, fd);
  Milvus__Proto__Schema__LongArray *la =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__LongArray, 1);
  milvus__proto__schema__long_array__init(la);
  la->data = CAIRN_ARENA_NEW(a, int64_t, n);
  la->n_data = n;
  for (size_t i = 0; i < n; i++)
    la->data[i] = g0 + (int64_t)i;
  s->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
  s->long_data = la;
  return fd;
}

static pb_fd *vec_column(cairn_arena *a, int64_t g0, size_t n, int64_t dim) {
  pb_fd *fd = fd_new(a, "vector", 101, MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector);
  Milvus__Proto__Schema__VectorField *v =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__VectorField, 1);
  milvus__proto__schema__vector_field__init(v);
  Milvus__Proto__Schema__FloatArray *fa =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__FloatArray, 1);
  milvus__proto__schema__float_array__init(fa);
  fa->n_data = n * (size_t)dim;
  fa->data = CAIRN_ARENA_NEW(a, float, fa->n_data);
  for (size_t i = 0; i < n; i++)
    for (int64_t j = 0; j < dim; j++)
      fa->data[i * (size_t)dim + (size_t)j] = tu_vec(g0 + (int64_t)i, j);
  v->dim = dim;
  v->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
  v->float_vector = fa;
  fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
  fd->vectors = v;
  return fd;
}

static pb_fd *title_column(cairn_arena *a, int64_t g0, size_t n) {
  pb_fd *fd = fd_new(a, "title", 102, MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar);
  Milvus__Proto__Schema__ScalarField *s = scalars(a, fd);
  Milvus__Proto__Schema__StringArray *sa =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__StringArray, 1);
  milvus__proto__schema__string_array__init(sa);
  sa->data = CAIRN_ARENA_NEW(a, char *, n);
  sa->n_data = n;
  fd->valid_data = CAIRN_ARENA_NEW(a, protobuf_c_boolean, n);
  fd->n_valid_data = n;
  for (size_t i = 0; i < n; i++) {
    int64_t g = g0 + (int64_t)i;
    fd->valid_data[i] = g % 5 != 0;
    sa->data[i] = g % 5 != 0 ? cairn_arena_printf(a, "t%lld", (long long)g) : "";
  }
  s->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
  s->string_data = sa;
  return fd;
}

static pb_fd *meta_column(cairn_arena *a, int64_t g0, size_t n) {
  pb_fd *fd = fd_new(a, "$meta", 103, MILVUS__PROTO__SCHEMA__DATA_TYPE__JSON);
  fd->is_dynamic = 1;
  Milvus__Proto__Schema__ScalarField *s = scalars(a, fd);
  Milvus__Proto__Schema__JSONArray *ja =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__JSONArray, 1);
  milvus__proto__schema__jsonarray__init(ja);
  ja->data = CAIRN_ARENA_NEW(a, ProtobufCBinaryData, n);
  ja->n_data = n;
  for (size_t i = 0; i < n; i++) {
    char *j = cairn_arena_printf(a, "{\"g\":%lld}", (long long)(g0 + (int64_t)i));
    ja->data[i].data = (uint8_t *)j;
    ja->data[i].len = strlen(j);
  }
  s->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
  s->json_data = ja;
  return fd;
}

static int64_t produce_entry(tu_fx *f, size_t ch, Cairn__Data__LogEntry *e) {
  size_t len = cairn__data__log_entry__get_packed_size(e);
  uint8_t *buf = malloc(len + 1);
  assert_non_null(buf);
  cairn__data__log_entry__pack(e, buf);
  int64_t pos = -1;
  cairn_error err = {0};
  assert_int_equal(cairn_mq_produce(f->mq, f->channels[ch], buf, len, &pos, &err),
                   CAIRN_OK);
  free(buf);
  return pos;
}

static int64_t insert_dim(tu_fx *f, size_t ch, int64_t part, int64_t g0,
                          size_t n, uint64_t ts, int64_t dim) {
  cairn_arena *a = cairn_arena_new();
  pb_fd *cols[4] = {pk_column(a, g0, n), vec_column(a, g0, n, dim),
                    title_column(a, g0, n), meta_column(a, g0, n)};
  Cairn__Data__InsertEntry ie = CAIRN__DATA__INSERT_ENTRY__INIT;
  ie.collection_id = f->coll_id;
  ie.partition_id = part;
  ie.timestamp = ts;
  ie.num_rows = n;
  ie.fields_data = cols;
  ie.n_fields_data = 4;
  Cairn__Data__LogEntry e = CAIRN__DATA__LOG_ENTRY__INIT;
  e.body_case = CAIRN__DATA__LOG_ENTRY__BODY_INSERT;
  e.insert = &ie;
  int64_t pos = produce_entry(f, ch, &e);
  cairn_arena_free(a);
  return pos;
}

int64_t tu_insert(tu_fx *f, size_t ch, int64_t part, int64_t g0, size_t n,
                  uint64_t ts) {
  return insert_dim(f, ch, part, g0, n, ts, f->dim);
}

int64_t tu_insert_bad_dim(tu_fx *f, size_t ch, int64_t g0, size_t n,
                          uint64_t ts) {
  return insert_dim(f, ch, f->part_default, g0, n, ts, f->dim + 1);
}

int64_t tu_delete(tu_fx *f, size_t ch, const int64_t *pks, size_t n,
                  uint64_t ts) {
  Milvus__Proto__Schema__LongArray la = MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT;
  la.data = (int64_t *)pks;
  la.n_data = n;
  Milvus__Proto__Schema__IDs ids = MILVUS__PROTO__SCHEMA__IDS__INIT;
  ids.id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
  ids.int_id = &la;
  Cairn__Data__DeleteEntry de = CAIRN__DATA__DELETE_ENTRY__INIT;
  de.collection_id = f->coll_id;
  de.partition_id = -1;
  de.timestamp = ts;
  de.primary_keys = &ids;
  Cairn__Data__LogEntry e = CAIRN__DATA__LOG_ENTRY__INIT;
  e.body_case = CAIRN__DATA__LOG_ENTRY__BODY_DELETE;
  e.delete_ = &de;
  return produce_entry(f, ch, &e);
}

/* ---- reading back ----------------------------------------------------------- */

void tu_list(tu_fx *f, Cairn__Data__SegmentInfo ***segs, size_t *n,
             Cairn__Data__ChannelCheckpoint ***cps, size_t *n_cps) {
  Cairn__Internal__ListSegmentsRequest req = CAIRN__INTERNAL__LIST_SEGMENTS_REQUEST__INIT;
  req.collection_id = f->coll_id;
  Cairn__Internal__ListSegmentsResponse *r =
      (Cairn__Internal__ListSegmentsResponse *)call(
          f, PATH("ListSegments"), &req.base,
          &cairn__internal__list_segments_response__descriptor);
  expect_ok(r->status, "ListSegments");
  *segs = r->segments;
  *n = r->n_segments;
  if (cps != NULL) {
    *cps = r->checkpoints;
    *n_cps = r->n_checkpoints;
  }
}

int64_t tu_checkpoint(tu_fx *f, size_t ch) {
  Cairn__Data__SegmentInfo **segs;
  Cairn__Data__ChannelCheckpoint **cps;
  size_t n, n_cps;
  tu_list(f, &segs, &n, &cps, &n_cps);
  for (size_t i = 0; i < n_cps; i++)
    if (strcmp(cps[i]->channel, f->channels[ch]) == 0)
      return cps[i]->position;
  return 0;
}

cairn_binlog *tu_open_binlog(tu_fx *f, const char *key) {
  char path[2048];
  assert_non_null(cairn_objstore_local_path(f->store, key, path, sizeof path));
  cairn_binlog *b = NULL;
  cairn_error err = {0};
  if (cairn_binlog_open_file(path, &b, &err) != CAIRN_OK)
    fail_msg("binlog %s: %s", key, err.message);
  return b;
}

const char *tu_binlog_key(const Cairn__Data__SegmentInfo *s, int64_t field_id) {
  for (size_t i = 0; i < s->n_binlogs; i++)
    if (s->binlogs[i]->field_id == field_id)
      return s->binlogs[i]->key;
  return NULL;
}

static cairn_colview view_of(cairn_binlog *b, uint64_t rows) {
  cairn_colview v;
  cairn_error err = {0};
  assert_int_equal(cairn_binlog_view(b, &v, &err), CAIRN_OK);
  assert_int_equal(v.n_rows, rows);
  return v;
}

static void check_row(tu_fx *f, const cairn_colview *vv, const cairn_colview *tv,
                      const cairn_colview *mv, size_t r, int64_t g) {
  const float *vec = cairn_colview_vector(vv, r);
  for (int64_t j = 0; j < f->dim; j++)
    if (vec[j] != tu_vec(g, j))
      fail_msg("pk %lld: vector[%lld] = %f, want %f", (long long)g,
               (long long)j, vec[j], tu_vec(g, j));
  assert_int_equal(cairn_colview_valid(tv, r), g % 5 != 0);
  char want[64];
  size_t len;
  if (g % 5 != 0) {
    snprintf(want, sizeof want, "t%lld", (long long)g);
    const char *s = cairn_colview_string(tv, r, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(s, want, len);
  }
  snprintf(want, sizeof want, "{\"g\":%lld}", (long long)g);
  const char *m = cairn_colview_string(mv, r, &len);
  if (len != strlen(want) || memcmp(m, want, len) != 0)
    fail_msg("pk %lld: $meta '%.*s', want '%s'", (long long)g, (int)len, m, want);
}

void tu_check_segment(tu_fx *f, const Cairn__Data__SegmentInfo *s,
                      uint64_t (*ts_of)(int64_t g), int *seen, int64_t max_g) {
  const int64_t ids[5] = {100, 101, 102, 103, 1};
  cairn_binlog *b[5];
  for (int i = 0; i < 5; i++) {
    const char *key = tu_binlog_key(s, ids[i]);
    if (key == NULL)
      fail_msg("segment %lld has no binlog for field %lld", (long long)s->id,
               (long long)ids[i]);
    b[i] = tu_open_binlog(f, key);
  }
  cairn_colview pk = view_of(b[0], s->num_rows), vv = view_of(b[1], s->num_rows),
                tv = view_of(b[2], s->num_rows), mv = view_of(b[3], s->num_rows),
                ts = view_of(b[4], s->num_rows);
  for (size_t r = 0; r < s->num_rows; r++) {
    int64_t g = ((const int64_t *)pk.col.values)[r];
    assert_true(g >= 0 && g < max_g);
    if (seen[g]++ != 0)
      fail_msg("pk %lld is in two segments (or twice)", (long long)g);
    check_row(f, &vv, &tv, &mv, r, g);
    uint64_t t = (uint64_t)((const int64_t *)ts.col.values)[r];
    assert_int_equal(t, ts_of(g));
    assert_true(t >= s->min_timestamp && t <= s->max_timestamp);
  }
  for (int i = 0; i < 5; i++)
    cairn_binlog_close(b[i]);
}

bool tu_wait(tu_fx *f, bool (*cond)(tu_fx *f), int ms) {
  for (int waited = 0; waited <= ms; waited += 10) {
    if (cond(f))
      return true;
    struct timespec d = {0, 10 * 1000000L};
    nanosleep(&d, NULL);
  }
  return cond(f);
}
