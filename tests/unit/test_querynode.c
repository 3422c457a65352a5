/*
 * test_querynode.c — the querynode against a brute-force oracle: sealed
 * segments written by the test's own "datanode" (test_querynode_util.c)
 * and growing rows from the log, a real coordinator, the embedded log and
 * a local object store. Exact search (no index file) must agree with the
 * oracle exactly: same pks in the same order, scores within 1e-4.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "binlog.h"
#include "cairn_data.pb-c.h"
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

typedef Milvus__Proto__Schema__SearchResultData result_data;

static tq_world W;

/* Standard data: 3 rounds on each of 2 channels; rounds 0-1 sealed, the
 * last one growing; a third of the rows in partition p1. */
static void standard_data(tq_world *w, size_t per_entry) {
  for (int round = 0; round < 3; round++) {
    for (int ch = 0; ch < 2; ch++) {
      int64_t part = (round + ch) % 3 == 2 ? w->part_p1 : w->part_default;
      size_t f = tq_add_rows(w, per_entry, part, (uint64_t)(round * 2 + ch + 1));
      tq_insert(w, ch, f, per_entry / 2, 0);
      tq_insert(w, ch, f + per_entry / 2, per_entry - per_entry / 2, 0);
    }
    if (round < 2) {
      tq_flush(w, 0);
      tq_flush(w, 1);
    }
  }
}

static int setup(void **state) {
  (void)state;
  tq_open(&W, 16, 2);
  standard_data(&W, 300);
  tq_load(&W);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tq_close(&W);
  return 0;
}

/* ---- helpers ---- */

static result_data *search(tq_world *w, cairn_arena *a, cairn_qn_search *req) {
  result_data *r = NULL;
  req->collection_id = w->coll_id;
  req->strong = true;
  OK(cairn_querynode_search(w->qn, req, a, &r, E));
  return r;
}

static void query_vec(const tq_world *w, uint64_t seed, float *q) {
  uint64_t s = seed * 7919 + 3;
  for (int d = 0; d < w->dim; d++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    q[d] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
  }
}

/* Checks hits [off, off+n) of r against the oracle's. */
static void check_hits(const result_data *r, size_t off, const tq_hit *want, size_t n) {
  assert_non_null(r->ids);
  for (size_t i = 0; i < n; i++) {
    int64_t got = r->ids->int_id->data[off + i];
    float gs = r->scores[off + i];
    if (got != want[i].pk || fabsf(gs - want[i].score) > 1e-4f * fmaxf(1, fabsf(want[i].score)))
      fail_msg("hit %zu: got pk %lld score %g, want pk %lld score %g", i, (long long)got, gs,
               (long long)want[i].pk, want[i].score);
  }
}

static bool pred_price(const tq_row *r, const void *arg) {
  return r->price < *(const double *)arg;
}

static bool pred_tag_null(const tq_row *r, const void *arg) {
  (void)arg;
  return r->tag_null;
}

typedef struct filter_case {
  const char *text;
  tq_pred pred;
  double arg;
} filter_case;

static void run_metric(tq_world *w, int64_t field, cairn_metric m, const char *mname) {
  static const filter_case cases[] = {
      {NULL, NULL, 0},
      {"price < 0.5", pred_price, 0.5},
      {"price < 0.05", pred_price, 0.05},
      {"price < 0.002", pred_price, 0.002},
      {"tag is null", pred_tag_null, 0},
  };
  const int nq = 3, k = 10;
  float qf[3 * 64];
  uint8_t qb[3 * 8];
  for (int q = 0; q < nq; q++) {
    query_vec(w, (uint64_t)q + 11, qf + q * w->dim);
    for (int b = 0; b < 8; b++)
      qb[q * 8 + b] = (uint8_t)(q * 37 + b * 101 + 5);
  }
  const void *queries = field == w->f_bvec ? (const void *)qb : (const void *)qf;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (int parted = 0; parted < 2; parted++) {
      cairn_arena *a = cairn_arena_new();
      cairn_expr *e = cases[c].text ? tq_expr(w, cases[c].text) : NULL;
      int64_t parts[1] = {w->part_p1};
      cairn_qn_search req = {.field_id = field, .metric = mname, .nq = nq,
                             .queries = queries, .topk = k, .filter = e,
                             .partition_ids = parted ? parts : NULL,
                             .n_partition_ids = parted ? 1 : 0};
      result_data *r = search(w, a, &req);
      assert_int_equal(r->num_queries, nq);
      size_t off = 0;
      for (int q = 0; q < nq; q++) {
        tq_hit want[16];
        const void *qv = field == w->f_bvec ? (const void *)(qb + q * 8)
                                            : (const void *)(qf + q * w->dim);
        size_t n = tq_oracle(w, field, m, qv, k, cases[c].pred, &cases[c].arg,
                             parted ? parts : NULL, parted ? 1 : 0, false, 0, NAN, want);
        if ((size_t)r->topks[q] != n)
          fail_msg("%s filter %s parted %d q %d: %lld hits, want %zu", mname,
                   cases[c].text ? cases[c].text : "-", parted, q, (long long)r->topks[q], n);
        check_hits(r, off, want, n);
        off += n;
      }
      cairn_expr_free(e);
      cairn_arena_free(a);
    }
  }
}

/* ---- tests ---- */

static void test_search_metrics(void **state) {
  (void)state;
  run_metric(&W, W.f_vec, CAIRN_METRIC_L2, "L2");
  run_metric(&W, W.f_vec, CAIRN_METRIC_IP, "IP");
  run_metric(&W, W.f_vec, CAIRN_METRIC_COSINE, "COSINE");
  run_metric(&W, W.f_bvec, CAIRN_METRIC_HAMMING, "HAMMING");
  run_metric(&W, W.f_bvec, CAIRN_METRIC_JACCARD, "JACCARD");
}

static uint64_t count(tq_world *w) {
  uint64_t n = 0;
  OK(cairn_querynode_count(w->qn, w->coll_id, true, &n, E));
  return n;
}

static uint64_t oracle_count(const tq_world *w) {
  uint64_t n = 0;
  for (size_t i = 0; i < w->n_rows; i++)
    n += tq_visible(w, i);
  return n;
}

static void test_deletes_upsert(void **state) {
  (void)state;
  assert_int_equal(count(&W), oracle_count(&W));
  /* deletes of rows in sealed segments (pk 5, 700) and growing ones (the
   * last round starts at row 1200) */
  int64_t del[] = {5, 700, 1210, 1500};
  tq_delete(&W, 0, del, 4, 0);
  assert_int_equal(count(&W), oracle_count(&W));
  /* upsert pk 7 (sealed) and pk 1220 (growing): delete + insert at one ts
   * with new vectors equal to a query */
  float q[16];
  query_vec(&W, 99, q);
  for (int u = 0; u < 2; u++) {
    int64_t pk = u == 0 ? 7 : 1220;
    size_t f = tq_add_rows(&W, 1, W.part_default, 777 + (uint64_t)u);
    W.rows[f].pk = pk;
    memcpy(W.rows[f].vec, q, sizeof q);
    uint64_t ts = tq_new_ts(&W);
    tq_delete(&W, 1, &pk, 1, ts);
    tq_insert(&W, 1, f, 1, ts);
  }
  assert_int_equal(count(&W), oracle_count(&W));
  run_metric(&W, W.f_vec, CAIRN_METRIC_L2, "L2");
  cairn_arena *a = cairn_arena_new();
  cairn_qn_search req = {.field_id = W.f_vec, .metric = "L2", .nq = 1, .queries = q,
                         .topk = 3};
  result_data *r = search(&W, a, &req);
  assert_int_equal(r->topks[0], 3);
  assert_int_equal(r->ids->int_id->data[0], 7);     /* score 0, pk order */
  assert_int_equal(r->ids->int_id->data[1], 1220);
  assert_true(r->scores[0] < 1e-6f && r->scores[1] < 1e-6f);
  cairn_arena_free(a);
  /* the deletes and upserts survive a flush + refresh (delta logs) */
  tq_flush(&W, 0);
  tq_flush(&W, 1);
  OK(cairn_querynode_refresh(W.qn, W.coll_id, E));
  assert_int_equal(count(&W), oracle_count(&W));
  run_metric(&W, W.f_vec, CAIRN_METRIC_IP, "IP");
}

static void test_query_limit_offset_count(void **state) {
  (void)state;
  cairn_expr *e = tq_expr(&W, "price < 0.3 and cnt != 2");
  size_t want_n = 0;
  int64_t *want = malloc(W.n_rows * sizeof *want);
  for (size_t i = 0; i < W.n_rows; i++)
    if (tq_visible(&W, i) && W.rows[i].price < 0.3 && W.rows[i].cnt != 2)
      want[want_n++] = W.rows[i].pk;
  /* count_only */
  cairn_qn_query cq = {.collection_id = W.coll_id, .filter = e, .limit = -1, .strong = true,
                       .count_only = true};
  Milvus__Proto__Schema__FieldData **fd;
  size_t nf, nr;
  OK(cairn_querynode_query(W.qn, &cq, NULL, &fd, &nf, &nr, E));
  assert_int_equal(nr, want_n);
  /* every row, then pages */
  cairn_arena *a = cairn_arena_new();
  cairn_qn_query q = {.collection_id = W.coll_id, .filter = e, .limit = -1, .strong = true};
  OK(cairn_querynode_query(W.qn, &q, a, &fd, &nf, &nr, E));
  assert_int_equal(nr, want_n);
  assert_int_equal(nf, 1); /* the pk, always */
  int64_t *all = fd[0]->scalars->long_data->data;
  /* the same set (order is segment order) */
  size_t matched = 0;
  for (size_t i = 0; i < nr; i++)
    for (size_t j = 0; j < want_n; j++)
      if (want[j] == all[i]) {
        matched++;
        break;
      }
  assert_int_equal(matched, want_n);
  for (int64_t off = 0; off < (int64_t)nr; off += 37) {
    cairn_qn_query p = q;
    p.offset = off;
    p.limit = 37;
    OK(cairn_querynode_query(W.qn, &p, a, &fd, &nf, &nr, E));
    size_t exp = (size_t)(want_n - (size_t)off < 37 ? want_n - (size_t)off : 37);
    assert_int_equal(nr, exp);
    for (size_t i = 0; i < nr; i++)
      assert_int_equal(fd[0]->scalars->long_data->data[i], all[off + (int64_t)i]);
  }
  /* partitions */
  int64_t parts[1] = {W.part_p1};
  cairn_qn_query pq = {.collection_id = W.coll_id, .partition_ids = parts,
                       .n_partition_ids = 1, .limit = -1, .count_only = true};
  OK(cairn_querynode_query(W.qn, &pq, NULL, &fd, &nf, &nr, E));
  size_t in_p1 = 0;
  for (size_t i = 0; i < W.n_rows; i++)
    in_p1 += tq_visible(&W, i) && W.rows[i].part == W.part_p1;
  assert_int_equal(nr, in_p1);
  cairn_arena_free(a);
  cairn_expr_free(e);
  free(want);
}

static void test_range_search(void **state) {
  (void)state;
  float q[16];
  query_vec(&W, 5, q);
  struct { cairn_metric m; const char *name; float radius, rf; } cases[] = {
      {CAIRN_METRIC_L2, "L2", 3.0f, NAN},
      {CAIRN_METRIC_L2, "L2", 4.0f, 2.0f},
      {CAIRN_METRIC_IP, "IP", 1.0f, NAN},
      {CAIRN_METRIC_IP, "IP", 0.5f, 2.0f},
      {CAIRN_METRIC_COSINE, "COSINE", 0.5f, 0.9f},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    cairn_arena *a = cairn_arena_new();
    cairn_qn_search req = {.field_id = W.f_vec, .metric = cases[c].name, .nq = 1,
                           .queries = q, .topk = 50, .is_range = true,
                           .radius = cases[c].radius, .range_filter = cases[c].rf};
    result_data *r = search(&W, a, &req);
    tq_hit want[64];
    size_t n = tq_oracle(&W, W.f_vec, cases[c].m, q, 50, NULL, NULL, NULL, 0, true,
                         cases[c].radius, cases[c].rf, want);
    assert_true(n > 0);
    assert_int_equal(r->topks[0], n);
    check_hits(r, 0, want, n);
    cairn_arena_free(a);
  }
}

static void test_group_by(void **state) {
  (void)state;
  float q[16];
  query_vec(&W, 8, q);
  cairn_arena *a = cairn_arena_new();
  cairn_qn_search req = {.field_id = W.f_vec, .metric = "L2", .nq = 1, .queries = q,
                         .topk = 3, .group_by_field_id = W.f_cnt, .group_size = 2};
  result_data *r = search(&W, a, &req);
  /* oracle: all rows by score, then the best 2 of each of the first 3
   * distinct cnt values, grouped */
  tq_hit *all = malloc(W.n_rows * sizeof *all);
  size_t n = tq_oracle(&W, W.f_vec, CAIRN_METRIC_L2, q, (int)W.n_rows, NULL, NULL, NULL, 0,
                       false, 0, NAN, all);
  int32_t groups[3];
  size_t n_groups = 0, per[3] = {0};
  tq_hit want[6];
  for (size_t i = 0; i < n; i++) {
    int32_t g = W.rows[all[i].row].cnt;
    size_t j = 0;
    while (j < n_groups && groups[j] != g)
      j++;
    if (j == n_groups) {
      if (n_groups == 3)
        continue;
      groups[n_groups++] = g;
    }
    if (per[j] < 2)
      want[j * 2 + per[j]++] = all[i];
  }
  assert_int_equal(r->topks[0], 6);
  check_hits(r, 0, want, 6);
  assert_non_null(r->group_by_field_value);
  for (int i = 0; i < 6; i++)
    assert_int_equal(r->group_by_field_value->scalars->int_data->data[i],
                     groups[i / 2]);
  free(all);
  cairn_arena_free(a);
}

static const Milvus__Proto__Schema__FieldData *column(const result_data *r, const char *name) {
  for (size_t i = 0; i < r->n_fields_data; i++)
    if (strcmp(r->fields_data[i]->field_name, name) == 0)
      return r->fields_data[i];
  fail_msg("no column %s", name);
  return NULL;
}

static void test_output_fields(void **state) {
  (void)state;
  float q[16];
  query_vec(&W, 21, q);
  cairn_arena *a = cairn_arena_new();
  int64_t fields[] = {W.f_vec, W.f_bvec, W.f_price, W.f_tag, W.f_cnt};
  const char *keys[] = {"color"};
  cairn_qn_search req = {.field_id = W.f_vec, .metric = "L2", .nq = 2, .topk = 40,
                         .output = {.field_ids = fields, .n_fields = 5,
                                    .dynamic_keys = keys, .n_dynamic_keys = 1}};
  float qq[32];
  memcpy(qq, q, sizeof q);
  query_vec(&W, 22, qq + 16);
  req.queries = qq;
  result_data *r = search(&W, a, &req);
  size_t total = (size_t)(r->topks[0] + r->topks[1]);
  assert_int_equal(total, 80);
  assert_int_equal(r->n_fields_data, 7); /* pk + 5 + $meta */
  assert_string_equal(r->fields_data[0]->field_name, "id");
  assert_string_equal(r->primary_field_name, "id");
  assert_int_equal(r->n_output_fields, 7); /* id, 5 fields, "color" */
  assert_string_equal(r->output_fields[6], "color");
  const Milvus__Proto__Schema__FieldData *vec = column(r, "vec"), *bvec = column(r, "bvec"),
      *price = column(r, "price"), *tag = column(r, "tag"), *cnt = column(r, "cnt"),
      *meta = column(r, "$meta"), *pk = column(r, "id");
  assert_int_equal(vec->vectors->dim, 16);
  assert_int_equal(tag->n_valid_data, total);
  size_t nulls = 0;
  for (size_t i = 0; i < total; i++) {
    int64_t id = r->ids->int_id->data[i];
    assert_int_equal(pk->scalars->long_data->data[i], id);
    const tq_row *row = NULL;
    for (size_t j = W.n_rows; j-- > 0;)
      if (W.rows[j].pk == id && tq_visible(&W, j)) {
        row = &W.rows[j];
        break;
      }
    assert_non_null(row);
    assert_memory_equal(vec->vectors->float_vector->data + i * 16, row->vec, 16 * sizeof(float));
    assert_memory_equal(bvec->vectors->binary_vector.data + i * 8, row->bvec, 8);
    assert_true(price->scalars->double_data->data[i] == row->price);
    assert_int_equal(cnt->scalars->int_data->data[i], row->cnt);
    assert_int_equal(tag->valid_data[i], !row->tag_null);
    nulls += row->tag_null;
    if (!row->tag_null)
      assert_string_equal(tag->scalars->string_data->data[i], row->tag);
    char want[64];
    snprintf(want, sizeof want, "{\"color\":\"%s\"}",
             strstr(row->meta, "red") ? "red" : strstr(row->meta, "green") ? "green" : "blue");
    const ProtobufCBinaryData *j = &meta->scalars->json_data->data[i];
    char got[64];
    snprintf(got, sizeof got, "%.*s", (int)j->len, (const char *)j->data);
    char *sp;
    while ((sp = strchr(got, ' ')) != NULL)
      memmove(sp, sp + 1, strlen(sp));
    assert_string_equal(got, want);
  }
  assert_true(nulls > 0); /* the null path was exercised */
  /* whole $meta objects when the field is asked for without keys */
  int64_t mf[] = {W.f_meta};
  cairn_qn_query qq2 = {.collection_id = W.coll_id, .limit = 3,
                        .output = {.field_ids = mf, .n_fields = 1}};
  Milvus__Proto__Schema__FieldData **fd;
  size_t nf, nr;
  OK(cairn_querynode_query(W.qn, &qq2, a, &fd, &nf, &nr, E));
  assert_int_equal(nf, 2);
  assert_int_equal(nr, 3);
  assert_non_null(strstr((const char *)fd[1]->scalars->json_data->data[0].data, "\"n\""));
  cairn_arena_free(a);
}

/* ---- refresh during searches ---- */

typedef struct searcher {
  tq_world *w;
  atomic_bool stop;
  atomic_int rounds;
  size_t expect;       /* visible rows, constant during the test */
  char failure[600];
} searcher;

static void *search_loop(void *arg) {
  searcher *s = arg;
  size_t n_rows = s->w->n_rows;
  uint8_t *seen = calloc(n_rows + 1, 1);
  while (!atomic_load(&s->stop) && s->failure[0] == '\0') {
    cairn_arena *a = cairn_arena_new();
    cairn_qn_query q = {.collection_id = s->w->coll_id, .limit = -1};
    Milvus__Proto__Schema__FieldData **fd;
    size_t nf, nr;
    cairn_error err = {0};
    if (cairn_querynode_query(s->w->qn, &q, a, &fd, &nf, &nr, &err) != CAIRN_OK) {
      snprintf(s->failure, sizeof s->failure, "query: %s", err.message);
    } else if (nr != s->expect) {
      snprintf(s->failure, sizeof s->failure, "query saw %zu rows, want %zu", nr, s->expect);
    } else {
      memset(seen, 0, n_rows + 1);
      for (size_t i = 0; i < nr; i++) {
        int64_t pk = fd[0]->scalars->long_data->data[i];
        if (pk < 0 || (size_t)pk >= n_rows || seen[pk]++) {
          snprintf(s->failure, sizeof s->failure, "pk %lld seen twice", (long long)pk);
          break;
        }
      }
    }
    /* a search over everything: topk = all rows, each once */
    float qv[16] = {0};
    cairn_qn_search sr = {.collection_id = s->w->coll_id, .field_id = s->w->f_vec,
                          .metric = "L2", .nq = 1, .queries = qv,
                          .topk = (int)s->expect};
    result_data *r = NULL;
    if (s->failure[0] == '\0' && cairn_querynode_search(s->w->qn, &sr, a, &r, &err) != CAIRN_OK)
      snprintf(s->failure, sizeof s->failure, "search: %s", err.message);
    else if (s->failure[0] == '\0' && (size_t)r->topks[0] != s->expect)
      snprintf(s->failure, sizeof s->failure, "search saw %lld rows, want %zu",
               (long long)r->topks[0], s->expect);
    cairn_arena_free(a);
    atomic_fetch_add(&s->rounds, 1);
  }
  free(seen);
  return NULL;
}

static void test_refresh_concurrent(void **state) {
  (void)state;
  tq_world w;
  tq_open(&w, 16, 3);
  /* 40 entries of 50 rows on each channel, all in the log, none sealed */
  for (int i = 0; i < 40; i++)
    for (int ch = 0; ch < 2; ch++) {
      size_t f = tq_add_rows(&w, 50, i % 4 == 3 ? w.part_p1 : w.part_default,
                             (uint64_t)(i * 2 + ch));
      tq_insert(&w, ch, f, 50, 0);
    }
  tq_load(&w);
  searcher s = {.w = &w, .expect = w.n_rows};
  atomic_init(&s.stop, false);
  atomic_init(&s.rounds, 0);
  assert_int_equal(count(&w), w.n_rows);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, search_loop, &s), 0);
  /* seal the log five entries at a time, alternating channels: 16
   * refreshes, each moving rows from growing to sealed */
  for (int round = 0; round < 16; round++) {
    int ch = round % 2;
    tq_flush_to(&w, ch, w.chans[ch].cp + 5);
    OK(cairn_querynode_refresh(w.qn, w.coll_id, E));
    int before = atomic_load(&s.rounds);
    while (atomic_load(&s.rounds) < before + 2 && s.failure[0] == '\0')
      usleep(1000);
  }
  assert_int_equal(w.chans[0].cp, 40);
  assert_int_equal(w.chans[1].cp, 40);
  atomic_store(&s.stop, true);
  pthread_join(t, NULL);
  if (s.failure[0] != '\0')
    fail_msg("%s", s.failure);
  assert_true(atomic_load(&s.rounds) >= 32);
  assert_int_equal(count(&w), w.n_rows);
  tq_close(&w);
}

/* Growing rows appended while searches run: rows inserted after load show
 * up with strong consistency, and a refresh with no new segments keeps
 * everything. */
static void test_growing_appends(void **state) {
  (void)state;
  tq_world w;
  tq_open(&w, 16, 0);
  tq_load(&w);
  assert_int_equal(count(&w), 0);
  for (int i = 0; i < 30; i++) {
    size_t f = tq_add_rows(&w, 7, w.part_default, (uint64_t)i);
    tq_insert(&w, i % 2, f, 7, 0);
    assert_int_equal(count(&w), w.n_rows);
    if (i % 10 == 9) {
      tq_flush(&w, i % 2);
      OK(cairn_querynode_refresh(w.qn, w.coll_id, E));
      assert_int_equal(count(&w), w.n_rows);
    }
  }
  run_metric(&w, w.f_vec, CAIRN_METRIC_COSINE, "COSINE");
  /* release: searches answer "not loaded" */
  OK(cairn_querynode_release(w.qn, w.coll_id, E));
  uint64_t n;
  cairn_error err = {0};
  assert_int_equal(cairn_querynode_count(w.qn, w.coll_id, false, &n, &err),
                   CAIRN_COLLECTION_NOT_LOADED);
  assert_int_equal(cairn_querynode_progress(w.qn, w.coll_id, NULL), -1);
  /* load again from the log + segments */
  tq_load(&w);
  assert_int_equal(count(&w), w.n_rows);
  tq_close(&w);
}

/* Stores a channel's checkpoint as `position`, as a ListSegments that read
 * the checkpoint just before a flush committed sees it. */
static void set_checkpoint(tq_world *w, int ch, int64_t position) {
  Cairn__Data__ChannelCheckpoint cp = CAIRN__DATA__CHANNEL_CHECKPOINT__INIT;
  cp.channel = w->chans[ch].name;
  cp.collection_id = w->coll_id;
  cp.position = position;
  uint8_t buf[512];
  size_t len = cairn__data__channel_checkpoint__pack(&cp, buf);
  char key[400];
  snprintf(key, sizeof key, "cairn/catalog/chcp/%s", w->chans[ch].name);
  OK(cairn_meta_put(w->meta, key, buf, len, 0, NULL, E));
}

/* A segment list that runs past its channel's checkpoint (the coordinator
 * reads checkpoints, then segments; a flush may commit in between): the
 * rows of that flush are sealed, so neither a refresh nor a first load may
 * keep or read them as growing too. */
static void test_segments_past_checkpoint(void **state) {
  (void)state;
  tq_world w;
  tq_open(&w, 16, 0);
  for (int i = 0; i < 10; i++)
    for (int ch = 0; ch < 2; ch++) {
      size_t f = tq_add_rows(&w, 20, w.part_default, (uint64_t)(i * 2 + ch) + 900);
      tq_insert(&w, ch, f, 20, 0);
    }
  tq_load(&w);
  assert_int_equal(count(&w), w.n_rows);
  int64_t before = w.chans[0].cp;
  tq_flush_to(&w, 0, before + 5);
  set_checkpoint(&w, 0, before);
  OK(cairn_querynode_refresh(w.qn, w.coll_id, E));
  assert_int_equal(count(&w), w.n_rows);
  OK(cairn_querynode_release(w.qn, w.coll_id, E));
  tq_load(&w);
  assert_int_equal(count(&w), w.n_rows);
  set_checkpoint(&w, 0, w.chans[0].cp);
  tq_flush_to(&w, 0, w.chans[0].cp + 5);
  OK(cairn_querynode_refresh(w.qn, w.coll_id, E));
  assert_int_equal(count(&w), w.n_rows);
  tq_close(&w);
}

/* Searches scoped to partitions over growing rows of mixed partitions: a
 * growing segment whose partitions are all wanted is searched whole, one
 * holding rows of an unwanted partition is filtered row by row. */
static void test_growing_partitions(void **state) {
  (void)state;
  tq_world w;
  tq_open(&w, 16, 0);
  tq_load(&w);
  for (int i = 0; i < 6; i++) { /* channel 0 mixes both partitions */
    int64_t part = i % 2 ? w.part_p1 : w.part_default;
    size_t f = tq_add_rows(&w, 40, part, (uint64_t)i + 500);
    tq_insert(&w, 0, f, 40, 0);
  }
  size_t f = tq_add_rows(&w, 40, w.part_p1, 900); /* channel 1: p1 only */
  tq_insert(&w, 1, f, 40, 0);
  int64_t both[2] = {w.part_default, w.part_p1}, only_p1[1] = {w.part_p1};
  const struct { const int64_t *parts; size_t n; } scopes[] = {
      {both, 2}, {only_p1, 1}, {both + 0, 1}};
  float q[16];
  for (size_t s = 0; s < sizeof scopes / sizeof scopes[0]; s++) {
    for (uint64_t k = 0; k < 4; k++) {
      query_vec(&w, k + 77, q);
      cairn_arena *a = cairn_arena_new();
      cairn_qn_search req = {.field_id = w.f_vec, .metric = "COSINE", .nq = 1,
                             .queries = q, .topk = 50,
                             .partition_ids = scopes[s].parts,
                             .n_partition_ids = scopes[s].n};
      result_data *r = search(&w, a, &req);
      tq_hit want[64];
      size_t n = tq_oracle(&w, w.f_vec, CAIRN_METRIC_COSINE, q, 50, NULL, NULL,
                           scopes[s].parts, scopes[s].n, false, 0, NAN, want);
      assert_int_equal(r->topks[0], n);
      check_hits(r, 0, want, n);
      cairn_arena_free(a);
    }
  }
  tq_close(&w);
}

/* An index file for a sealed segment: FLAT stays exact, HNSW recalls. */
static void test_index_files(void **state) {
  (void)state;
  tq_world w;
  tq_open(&w, 16, 2);
  size_t f = tq_add_rows(&w, 2000, w.part_default, 3);
  tq_insert(&w, 0, f, 2000, 0);
  tq_flush(&w, 0);
  tq_load(&w);
  const char *types[] = {"FLAT", "HNSW"};
  for (int t = 0; t < 2; t++) {
    cairn_arena *a = cairn_arena_new();
    Cairn__Internal__ListSegmentsRequest lr = CAIRN__INTERNAL__LIST_SEGMENTS_REQUEST__INIT;
    lr.collection_id = w.coll_id;
    Cairn__Internal__ListSegmentsResponse *ls = NULL;
    OK(cairn_rpc_call(w.client, "/cairn.internal.CoordService/ListSegments", &lr.base,
                      &cairn__internal__list_segments_response__descriptor, NULL, a,
                      (ProtobufCMessage **)&ls, E));
    assert_int_equal(ls->n_segments, 1);
    cairn_index *ix = NULL;
    OK(cairn_index_new(types[t], "L2", CAIRN_TYPE_FLOAT_VECTOR, 16, NULL, &ix, E));
    OK(cairn_index_add(ix, 2000, w.vecs, NULL, E));
    uint8_t *buf;
    size_t len;
    OK(cairn_index_serialize(ix, &buf, &len, E));
    char key[128];
    snprintf(key, sizeof key, "index_files/%d/1/%lld/index", 100 + t,
             (long long)ls->segments[0]->id);
    OK(cairn_objstore_put(w.os, key, buf, len, E));
    free(buf);
    cairn_index_free(ix);
    Cairn__Data__SegmentIndexFile file = CAIRN__DATA__SEGMENT_INDEX_FILE__INIT;
    file.index_id = 100 + t;
    file.field_id = w.f_vec;
    file.key = key;
    file.built_ts = (uint64_t)(10 + t);
    Cairn__Internal__SaveSegmentIndexRequest sr = CAIRN__INTERNAL__SAVE_SEGMENT_INDEX_REQUEST__INIT;
    sr.collection_id = w.coll_id;
    sr.segment_id = ls->segments[0]->id;
    sr.file = &file;
    ProtobufCMessage *rep;
    OK(cairn_rpc_call(w.client, "/cairn.internal.CoordService/SaveSegmentIndex", &sr.base,
                      &milvus__proto__common__status__descriptor, NULL, a, &rep, E));
    OK(cairn_querynode_refresh(w.qn, w.coll_id, E));
    size_t hit = 0, total = 0;
    for (int q = 0; q < 20; q++) {
      float qv[16];
      query_vec(&w, (uint64_t)q + 100, qv);
      cairn_expr *e = q % 2 ? tq_expr(&w, "price < 0.5") : NULL;
      double lim = 0.5;
      cairn_qn_search req = {.field_id = w.f_vec, .metric = "L2", .nq = 1, .queries = qv,
                             .topk = 10, .filter = e, .params = {.ef = 64}};
      result_data *r = search(&w, a, &req);
      tq_hit want[10];
      size_t n = tq_oracle(&w, w.f_vec, CAIRN_METRIC_L2, qv, 10, e ? pred_price : NULL, &lim,
                           NULL, 0, false, 0, NAN, want);
      if (t == 0) {
        assert_int_equal(r->topks[0], n);
        check_hits(r, 0, want, n);
      }
      for (size_t i = 0; i < n; i++)
        for (int64_t j = 0; j < r->topks[0]; j++)
          hit += r->ids->int_id->data[j] == want[i].pk;
      total += n;
      cairn_expr_free(e);
    }
    double recall = (double)hit / (double)total;
    printf("  %s index file: recall@10 %.3f\n", types[t], recall);
    assert_true(recall >= (t == 0 ? 1.0 : 0.9));
    cairn_arena_free(a);
  }
  tq_close(&w);
}

static void test_bad_requests(void **state) {
  (void)state;
  cairn_arena *a = cairn_arena_new();
  float q[16] = {0};
  result_data *r = NULL;
  cairn_error err = {0};
  cairn_qn_search req = {.collection_id = W.coll_id, .field_id = W.f_price, .nq = 1,
                         .queries = q, .topk = 5};
  assert_int_equal(cairn_querynode_search(W.qn, &req, a, &r, &err), CAIRN_INVALID_ARGUMENT);
  req.field_id = W.f_vec;
  req.topk = 0;
  assert_int_equal(cairn_querynode_search(W.qn, &req, a, &r, &err), CAIRN_INVALID_ARGUMENT);
  req.topk = 5;
  req.metric = "HAMMING";
  assert_int_equal(cairn_querynode_search(W.qn, &req, a, &r, &err), CAIRN_INVALID_ARGUMENT);
  req.metric = "NOPE";
  assert_int_equal(cairn_querynode_search(W.qn, &req, a, &r, &err), CAIRN_INVALID_ARGUMENT);
  req.metric = NULL; /* default for float vectors: COSINE */
  assert_int_equal(cairn_querynode_search(W.qn, &req, a, &r, &err), CAIRN_OK);
  req.collection_id = 424242;
  assert_int_equal(cairn_querynode_search(W.qn, &req, a, &r, &err),
                   CAIRN_COLLECTION_NOT_LOADED);
  assert_int_equal(cairn_querynode_load(W.qn, 424242, &err), CAIRN_COLLECTION_NOT_FOUND);
  cairn_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_search_metrics),
      cmocka_unit_test(test_range_search),
      cmocka_unit_test(test_group_by),
      cmocka_unit_test(test_output_fields),
      cmocka_unit_test(test_query_limit_offset_count),
      cmocka_unit_test(test_bad_requests),
      cmocka_unit_test(test_deletes_upsert),
  };
  const struct CMUnitTest solo[] = {
      cmocka_unit_test(test_growing_appends),
      cmocka_unit_test(test_growing_partitions),
      cmocka_unit_test(test_refresh_concurrent),
      cmocka_unit_test(test_segments_past_checkpoint),
      cmocka_unit_test(test_index_files),
  };
  int fails = cmocka_run_group_tests(tests, setup, teardown);
  return fails + cmocka_run_group_tests(solo, NULL, NULL);
}
