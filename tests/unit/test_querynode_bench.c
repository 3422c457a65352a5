/*
 * test_querynode_bench.c — search latency and QPS of the querynode over one
 * sealed segment of 100k x 128-d float rows (clustered, fixed seed): exact scan vs an
 * HNSW index file (M 16, efConstruction 200, ef 64 and 256), unfiltered and with
 * filters keeping ~1% and ~50% of the rows; recall@10 of HNSW against the
 * exact results. Sequential single-query searches (nq 1, topk 10) from one
 * client thread. Label "bench" (not in the default unit run):
 *   ctest -L bench --output-on-failure   or run the binary directly.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cairn_internal.pb-c.h"
#include "test_querynode_util.h"

#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);     \
  } while (0)
#define E (&e_)

#define N_ROWS 100000
#define DIM 128
#define N_QUERIES 200
#define K 10

static double unit(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*s >> 11) / 9007199254740992.0;
}

/* n rows around 256 fixed centres (uniform in [-1,1)^DIM) with gaussian-ish
 * noise of sd ~0.25 per coordinate: data with structure, as embeddings
 * have (uniform random 128-d data has none and defeats every graph). */
static void clustered(float *v, size_t n, uint64_t seed) {
  static float centres[256 * DIM];
  uint64_t s = 12345;
  for (size_t i = 0; i < 256 * DIM; i++)
    centres[i] = (float)(unit(&s) * 2 - 1);
  s = seed * 977 + 1;
  for (size_t i = 0; i < n; i++) {
    size_t c = (size_t)(unit(&s) * 256);
    for (size_t d = 0; d < DIM; d++) {
      double g = unit(&s) + unit(&s) + unit(&s) - 1.5; /* sd 0.5 */
      v[i * DIM + d] = centres[c * DIM + d] + (float)(g * 0.5);
    }
  }
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Runs the queries; returns mean latency in ms; ids[q*K..] receive hits. */
static double run(tq_world *w, const float *qs, const char *filter, int ef, int64_t *ids) {
  cairn_expr *e = filter ? tq_expr(w, filter) : NULL;
  double t0 = now_s();
  for (int q = 0; q < N_QUERIES; q++) {
    cairn_arena *a = cairn_arena_new();
    cairn_qn_search req = {.collection_id = w->coll_id, .field_id = w->f_vec,
                           .metric = "L2", .nq = 1, .queries = qs + (size_t)q * DIM,
                           .topk = K, .filter = e, .params = {.ef = ef}};
    Milvus__Proto__Schema__SearchResultData *r = NULL;
    OK(cairn_querynode_search(w->qn, &req, a, &r, E));
    for (int i = 0; i < K; i++)
      ids[q * K + i] = i < r->topks[0] ? r->ids->int_id->data[i] : -1;
    cairn_arena_free(a);
  }
  double dt = now_s() - t0;
  cairn_expr_free(e);
  return dt * 1000.0 / N_QUERIES;
}

static double recall(const int64_t *got, const int64_t *truth) {
  size_t hit = 0, total = 0;
  for (int q = 0; q < N_QUERIES; q++)
    for (int i = 0; i < K; i++) {
      if (truth[q * K + i] < 0)
        continue;
      total++;
      for (int j = 0; j < K; j++)
        hit += got[q * K + j] == truth[q * K + i];
    }
  return total ? (double)hit / (double)total : 1.0;
}

static void add_hnsw(tq_world *w) {
  cairn_arena *a = cairn_arena_new();
  Cairn__Internal__ListSegmentsRequest lr = CAIRN__INTERNAL__LIST_SEGMENTS_REQUEST__INIT;
  lr.collection_id = w->coll_id;
  Cairn__Internal__ListSegmentsResponse *ls = NULL;
  OK(cairn_rpc_call(w->client, "/cairn.internal.CoordService/ListSegments", &lr.base,
                    &cairn__internal__list_segments_response__descriptor, NULL, a,
                    (ProtobufCMessage **)&ls, E));
  assert_int_equal(ls->n_segments, 1);
  cairn_index *ix = NULL;
  double t0 = now_s();
  OK(cairn_index_new("HNSW", "L2", CAIRN_TYPE_FLOAT_VECTOR, DIM,
                     "{\"M\":16,\"efConstruction\":200}", &ix, E));
  OK(cairn_index_add(ix, N_ROWS, w->vecs, NULL, E));
  printf("  HNSW build: %.1f s\n", now_s() - t0);
  uint8_t *buf;
  size_t len;
  OK(cairn_index_serialize(ix, &buf, &len, E));
  const char *key = "index_files/1/1/bench/index";
  OK(cairn_objstore_put(w->os, key, buf, len, E));
  free(buf);
  cairn_index_free(ix);
  Cairn__Data__SegmentIndexFile file = CAIRN__DATA__SEGMENT_INDEX_FILE__INIT;
  file.index_id = 1;
  file.field_id = w->f_vec;
  file.key = (char *)key;
  file.built_ts = 1;
  Cairn__Internal__SaveSegmentIndexRequest sr = CAIRN__INTERNAL__SAVE_SEGMENT_INDEX_REQUEST__INIT;
  sr.collection_id = w->coll_id;
  sr.segment_id = ls->segments[0]->id;
  sr.file = &file;
  ProtobufCMessage *rep;
  OK(cairn_rpc_call(w->client, "/cairn.internal.CoordService/SaveSegmentIndex", &sr.base,
                    &milvus__proto__common__status__descriptor, NULL, a, &rep, E));
  t0 = now_s();
  OK(cairn_querynode_refresh(w->qn, w->coll_id, E));
  printf("  refresh (index load): %.2f s\n", now_s() - t0);
  cairn_arena_free(a);
}

static void test_bench(void **state) {
  (void)state;
  static tq_world w;
  tq_open(&w, DIM, 0);
  double t0 = now_s();
  size_t f = tq_add_rows(&w, N_ROWS, w.part_default, 42);
  clustered(w.vecs, N_ROWS, 1);
  for (size_t i = 0; i < N_ROWS; i += 10000)
    tq_insert(&w, 0, f + i, 10000, 0);
  tq_flush(&w, 0);
  printf("  write + seal %d rows: %.1f s\n", N_ROWS, now_s() - t0);
  t0 = now_s();
  tq_load(&w);
  printf("  load (mmap): %.2f s\n", now_s() - t0);
  float *qs = malloc((size_t)N_QUERIES * DIM * sizeof *qs);
  clustered(qs, N_QUERIES, 2);
  const char *filters[] = {NULL, "price < 0.01", "price < 0.5"};
  const char *names[] = {"no filter", "1% filter", "50% filter"};
  int64_t *exact[3], *hnsw = malloc(N_QUERIES * K * sizeof *hnsw);
  double lat_exact[3];
  for (int i = 0; i < 3; i++) {
    exact[i] = malloc(N_QUERIES * K * sizeof **exact);
    lat_exact[i] = run(&w, qs, filters[i], 0, exact[i]);
  }
  add_hnsw(&w);
  printf("  %-11s %10s %8s | %-6s %10s %8s %8s\n", "", "exact ms", "QPS", "ef",
         "HNSW ms", "QPS", "recall");
  for (int i = 0; i < 3; i++) {
    for (int ef = 64; ef <= 256; ef *= 4) {
      double lat = run(&w, qs, filters[i], ef, hnsw);
      double rec = recall(hnsw, exact[i]);
      printf("  %-11s %10.3f %8.0f | %-6d %10.3f %8.0f %8.3f\n", names[i], lat_exact[i],
             1000.0 / lat_exact[i], ef, lat, 1000.0 / lat, rec);
      if (ef == 256)
        assert_true(rec >= 0.9);
    }
    free(exact[i]);
  }
  free(hnsw);
  free(qs);
  tq_close(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_bench)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
