/*
 * test_datanode_perf.c — throughput figures of the datanode and indexnode
 * (label "perf"; sizes from the environment):
 *   - flush: N rows of 128-d float vectors (+ pk, title, $meta) produced to
 *     one channel, consumed by the datanode (timed: consume MB/s), then one
 *     cairn_datanode_flush writes them as one segment (timed: flush MB/s of
 *     column bytes written); the rows are then read back and checked;
 *   - index: an HNSW (M 16, efConstruction 200) build of M rows of 128-d
 *     random vectors through the indexnode (timed: schedule to idle).
 * CAIRN_PERF_FULL=1 uses N = 1,000,000 and M = 100,000 (the reported
 * figures); the default run uses 100,000 and 10,000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "datanode.h"
#include "indexnode.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "test_datanode_util.h"

#define DIM 128
#define ENTRY_ROWS 10000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool full(void) {
  const char *e = getenv("CAIRN_PERF_FULL");
  return e != NULL && e[0] == '1';
}

static uint64_t ts_of(int64_t g) { return 1000 + (uint64_t)(g / ENTRY_ROWS); }

static void produce(tu_fx *f, size_t rows) {
  for (size_t g0 = 0; g0 < rows; g0 += ENTRY_ROWS)
    tu_insert(f, 0, f->part_default, (int64_t)g0, ENTRY_ROWS, ts_of((int64_t)g0));
}

static cairn_datanode *dn_open(tu_fx *f) {
  cairn_datanode_options o = {.mq = f->mq, .objstore = f->store,
                              .coord = f->client, .root = "files",
                              .seal_rows = 10000000, .seal_bytes = 64ull << 30};
  cairn_datanode *dn = NULL;
  assert_int_equal(cairn_datanode_open(&o, &dn, NULL), CAIRN_OK);
  return dn;
}

static uint64_t segment_bytes(tu_fx *f) {
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_reset(f);
  tu_list(f, &segs, &n, NULL, NULL);
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < segs[i]->n_binlogs; b++)
      bytes += segs[i]->binlogs[b]->size;
  return bytes;
}

static void test_flush_throughput(void **state) {
  (void)state;
  size_t rows = full() ? 1000000 : 100000;
  tu_fx f;
  tu_random_vectors = true;
  tu_open(&f, "perf", 1, DIM);
  double t0 = now_s();
  produce(&f, rows);
  double t_produce = now_s() - t0;
  cairn_datanode *dn = dn_open(&f);
  t0 = now_s();
  assert_int_equal(cairn_datanode_watch(dn, f.coll_id, NULL), CAIRN_OK);
  while (cairn_datanode_growing_rows(dn, f.coll_id) < rows) {
    struct timespec d = {0, 2000000};
    nanosleep(&d, NULL);
  }
  double t_consume = now_s() - t0;
  t0 = now_s();
  assert_int_equal(cairn_datanode_flush(dn, f.coll_id, NULL, NULL, NULL), CAIRN_OK);
  double t_flush = now_s() - t0;
  uint64_t bytes = segment_bytes(&f);
  double mb = (double)bytes / 1048576.0;
  printf("flush %zu x %d-d rows: produce %.2f s; consume %.2f s (%.0f MB/s); "
         "flush %.2f s = %.0f MB/s of binlogs (%.0f MB)\n",
         rows, DIM, t_produce, t_consume, mb / t_consume, t_flush, mb / t_flush, mb);
  assert_int_equal(cairn_datanode_growing_rows(dn, f.coll_id), 0);
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_list(&f, &segs, &n, NULL, NULL);
  assert_int_equal(n, 1);
  assert_int_equal(segs[0]->num_rows, rows);
  int *seen = calloc(rows, sizeof *seen);
  tu_check_segment(&f, segs[0], ts_of, seen, (int64_t)rows);
  for (size_t g = 0; g < rows; g++)
    assert_int_equal(seen[g], 1);
  free(seen);
  cairn_datanode_close(dn);
  tu_close(&f);
}

static void test_hnsw_build_time(void **state) {
  (void)state;
  size_t rows = full() ? 100000 : 10000;
  tu_fx f;
  tu_random_vectors = true;
  tu_open(&f, "perf", 1, DIM);
  produce(&f, rows);
  cairn_datanode *dn = dn_open(&f);
  assert_int_equal(cairn_datanode_flush(dn, f.coll_id, NULL, NULL, NULL), CAIRN_OK);
  cairn_datanode_close(dn);
  Milvus__Proto__Milvus__CreateIndexRequest req =
      MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
  req.collection_name = "perf";
  req.field_name = "vector";
  Milvus__Proto__Common__KeyValuePair *kv[3] = {
      cairn_pb_kv_new(f.arena, "index_type", "HNSW"),
      cairn_pb_kv_new(f.arena, "metric_type", "L2"),
      cairn_pb_kv_new(f.arena, "params", "{\"M\": 16, \"efConstruction\": 200}")};
  req.extra_params = kv;
  req.n_extra_params = 3;
  ProtobufCMessage *r = NULL;
  assert_int_equal(cairn_rpc_call(f.client, "/cairn.internal.CoordService/CreateIndex",
                                  &req.pb_base, &milvus__proto__common__status__descriptor,
                                  NULL, f.arena, &r, NULL), CAIRN_OK);
  assert_int_equal(((Milvus__Proto__Common__Status *)r)->code, 0);
  cairn_indexnode_options o = {.objstore = f.store, .coord = f.client,
                               .root = "files", .workers = 1};
  cairn_indexnode *in = NULL;
  assert_int_equal(cairn_indexnode_open(&o, &in, NULL), CAIRN_OK);
  double t0 = now_s();
  assert_int_equal(cairn_indexnode_schedule(in, f.coll_id, NULL), CAIRN_OK);
  cairn_indexnode_wait_idle(in);
  double t = now_s() - t0;
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_reset(&f);
  tu_list(&f, &segs, &n, NULL, NULL);
  assert_int_equal(n, 1);
  assert_int_equal(segs[0]->n_index_files, 1);
  printf("HNSW (M 16, efConstruction 200) build of %zu x %d-d rows through the "
         "indexnode: %.2f s (%.0f rows/s), file %.1f MB\n",
         rows, DIM, t, (double)rows / t,
         (double)segs[0]->index_files[0]->size / 1048576.0);
  cairn_indexnode_close(in);
  tu_close(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flush_throughput),
      cmocka_unit_test(test_hnsw_build_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
