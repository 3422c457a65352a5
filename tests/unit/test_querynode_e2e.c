/*
 * test_querynode_e2e.c — the querynode on segments written by the real
 * datanode (datanode/) and index files built by the real indexnode
 * (indexnode/), checked against the brute-force oracle of
 * test_querynode_util.c: the SegmentInfo contract between the roles (binlog
 * keys, the timestamp binlog, delta logs incl. delete-only segments, index
 * row ids = row offsets).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "datanode.h"
#include "indexnode.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "test_querynode_util.h"

#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);     \
  } while (0)
#define E (&e_)

static void check_search(tq_world *w, bool exact) {
  float q[2 * 16];
  for (int i = 0; i < 32; i++)
    q[i] = (float)sin(i * 1.7 + 0.3);
  double lim = 0.5;
  for (int f = 0; f < 2; f++) {
    cairn_arena *a = cairn_arena_new();
    cairn_expr *e = f ? tq_expr(w, "price < 0.5") : NULL;
    cairn_qn_search req = {.collection_id = w->coll_id, .field_id = w->f_vec,
                           .metric = "L2", .nq = 2, .queries = q, .topk = 10,
                           .filter = e, .strong = true, .params = {.ef = 128}};
    Milvus__Proto__Schema__SearchResultData *r = NULL;
    OK(cairn_querynode_search(w->qn, &req, a, &r, E));
    size_t off = 0, hit = 0, total = 0;
    for (int k = 0; k < 2; k++) {
      tq_hit want[10];
      size_t n = tq_oracle(w, w->f_vec, CAIRN_METRIC_L2, q + k * 16, 10,
                           f ? (tq_pred)NULL : NULL, NULL, NULL, 0, false, 0, NAN, want);
      if (f) { /* the oracle's filter */
        tq_hit all[10];
        n = 0;
        tq_hit *tmp = malloc(w->n_rows * sizeof *tmp);
        size_t m = tq_oracle(w, w->f_vec, CAIRN_METRIC_L2, q + k * 16, (int)w->n_rows, NULL,
                             NULL, NULL, 0, false, 0, NAN, tmp);
        for (size_t i = 0; i < m && n < 10; i++)
          if (w->rows[tmp[i].row].price < lim)
            all[n++] = tmp[i];
        memcpy(want, all, n * sizeof *want);
        free(tmp);
      }
      assert_int_equal(r->topks[k], n);
      for (size_t i = 0; i < n; i++) {
        if (exact) {
          assert_int_equal(r->ids->int_id->data[off + i], want[i].pk);
          assert_true(fabsf(r->scores[off + i] - want[i].score) < 1e-4f * fmaxf(1, want[i].score));
        }
        for (size_t j = 0; j < n; j++)
          hit += r->ids->int_id->data[off + j] == want[i].pk;
      }
      total += n;
      off += n;
    }
    assert_true((double)hit >= 0.9 * (double)total);
    cairn_expr_free(e);
    cairn_arena_free(a);
  }
}

static void create_index(tq_world *w, const char *type) {
  Milvus__Proto__Milvus__CreateIndexRequest req = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
  req.collection_name = "c";
  req.field_name = "vec";
  req.extra_params = CAIRN_ARENA_NEW(w->arena, Milvus__Proto__Common__KeyValuePair *, 2);
  req.extra_params[req.n_extra_params++] = cairn_pb_kv_new(w->arena, "index_type", type);
  req.extra_params[req.n_extra_params++] = cairn_pb_kv_new(w->arena, "metric_type", "L2");
  ProtobufCMessage *rep = NULL;
  OK(cairn_rpc_call(w->client, "/cairn.internal.CoordService/CreateIndex", &req.pb_base,
                    &milvus__proto__common__status__descriptor, NULL, w->arena, &rep, E));
  assert_int_equal(((Milvus__Proto__Common__Status *)rep)->code, 0);
}

static void test_with_datanode_and_indexnode(void **state) {
  (void)state;
  tq_world w;
  tq_open(&w, 16, 2);
  cairn_datanode *dn = NULL;
  cairn_datanode_options dopt = {.mq = w.mq, .objstore = w.os, .coord = w.client,
                                 .root = ""};
  OK(cairn_datanode_open(&dopt, &dn, E));
  OK(cairn_datanode_watch(dn, w.coll_id, E));
  /* two flushed rounds (one with deletes only after it), one growing */
  for (int round = 0; round < 3; round++) {
    for (int ch = 0; ch < 2; ch++) {
      size_t f = tq_add_rows(&w, 200, round == 1 && ch == 1 ? w.part_p1 : w.part_default,
                             (uint64_t)(round * 2 + ch + 1));
      tq_insert(&w, ch, f, 200, 0);
    }
    int64_t del[] = {(int64_t)round * 400 + 3, (int64_t)round * 400 + 250};
    tq_delete(&w, round % 2, del, 2, 0);
    if (round < 2)
      OK(cairn_datanode_flush(dn, w.coll_id, NULL, NULL, E));
  }
  tq_load(&w);
  uint64_t n = 0;
  OK(cairn_querynode_count(w.qn, w.coll_id, true, &n, E));
  size_t want = 0;
  for (size_t i = 0; i < w.n_rows; i++)
    want += tq_visible(&w, i);
  assert_int_equal(n, want);
  check_search(&w, true);
  /* flush the growing round plus a delete-only range, refresh */
  OK(cairn_datanode_flush(dn, w.coll_id, NULL, NULL, E));
  int64_t del2[] = {10, 410, 810};
  tq_delete(&w, 0, del2, 3, 0);
  OK(cairn_datanode_flush(dn, w.coll_id, NULL, NULL, E));
  OK(cairn_querynode_refresh(w.qn, w.coll_id, E));
  OK(cairn_querynode_count(w.qn, w.coll_id, true, &n, E));
  assert_int_equal(n, want - 3);
  check_search(&w, true);
  /* an HNSW index built by the indexnode: refresh swaps the scans */
  create_index(&w, "HNSW");
  cairn_indexnode *in = NULL;
  cairn_indexnode_options iopt = {.objstore = w.os, .coord = w.client, .root = ""};
  OK(cairn_indexnode_open(&iopt, &in, E));
  OK(cairn_indexnode_schedule(in, w.coll_id, E));
  cairn_indexnode_wait_idle(in);
  OK(cairn_querynode_refresh(w.qn, w.coll_id, E));
  check_search(&w, false);
  OK(cairn_querynode_count(w.qn, w.coll_id, true, &n, E));
  assert_int_equal(n, want - 3);
  cairn_indexnode_close(in);
  cairn_datanode_close(dn);
  tq_close(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_with_datanode_and_indexnode)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
