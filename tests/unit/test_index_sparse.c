/* test_index_sparse.c — SPARSE_INVERTED_INDEX against a brute-force sparse
 * dot product: exact top-k without drop ratios, filter honoured, recall
 * floor with drop_ratio_build/search, serialize round trip, truncation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "distance.h"
#include "index.h"

#define N 2000
#define NQ 40
#define NNZ 24
#define K 10

static uint64_t st = 5;
static uint32_t rnd(void) {
  st = st * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(st >> 33);
}

static uint32_t idx[(N + NQ) * NNZ];
static float val[(N + NQ) * NNZ];
static cairn_sparse_row rows[N + NQ];

static void make(void) {
  for (int i = 0; i < N + NQ; i++) {
    uint32_t *ix = idx + i * NNZ;
    uint32_t d = rnd() % 20;
    for (int j = 0; j < NNZ; j++) {
      d += 1 + rnd() % 40; /* strictly increasing, dims up to ~1000 */
      ix[j] = d;
      val[i * NNZ + j] = (float)(rnd() % 1000) / 1000.0f + 0.01f;
    }
    rows[i] = (cairn_sparse_row){NNZ, ix, val + i * NNZ};
  }
}

static void brute(const cairn_sparse_row *q, const uint8_t *bits, int64_t *ids,
                  float *sc) {
  for (int i = 0; i < K; i++) {
    ids[i] = -1;
    sc[i] = -1e30f;
  }
  for (int i = 0; i < N; i++) {
    if (bits && !(bits[i / 8] & (1u << (i % 8))))
      continue;
    float s = cairn_sparse_dot(rows[i].nnz, rows[i].idx, rows[i].val, q->nnz,
                               q->idx, q->val);
    if (s == 0)
      continue;
    int p = K;
    while (p > 0 && s > sc[p - 1])
      p--;
    if (p >= K)
      continue;
    memmove(ids + p + 1, ids + p, (K - p - 1) * sizeof *ids);
    memmove(sc + p + 1, sc + p, (K - p - 1) * sizeof *sc);
    ids[p] = i;
    sc[p] = s;
  }
}

static cairn_index *build(const char *params) {
  cairn_index *ix;
  cairn_error err;
  assert_int_equal(cairn_index_new("SPARSE_INVERTED_INDEX", "IP",
                                   CAIRN_TYPE_SPARSE_FLOAT_VECTOR, 0, params, &ix, &err),
                   CAIRN_OK);
  assert_int_equal(cairn_index_add(ix, N, rows, NULL, &err), CAIRN_OK);
  return ix;
}

static void test_exact_and_filter(void **state) {
  (void)state;
  make();
  cairn_index *ix = build(NULL);
  uint8_t bits[(N + 7) / 8];
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < (N + 7) / 8; i++)
      bits[i] = pass ? (uint8_t)rnd() & (uint8_t)rnd() : 0xff;
    cairn_bitset f = {bits, N};
    int64_t ids[NQ * K], want[K];
    float sc[NQ * K], wsc[K];
    cairn_error err;
    assert_int_equal(cairn_index_search(ix, NQ, rows + N, K, NULL, pass ? &f : NULL,
                                        ids, sc, &err), CAIRN_OK);
    for (int q = 0; q < NQ; q++) {
      brute(&rows[N + q], pass ? bits : NULL, want, wsc);
      for (int j = 0; j < K; j++) {
        assert_int_equal(ids[q * K + j], want[j]);
        assert_true(fabsf(sc[q * K + j] - wsc[j]) < 1e-4f);
      }
    }
  }
  /* round trip and truncation */
  uint8_t *buf;
  size_t len;
  cairn_error err;
  assert_int_equal(cairn_index_serialize(ix, &buf, &len, &err), CAIRN_OK);
  cairn_index *back;
  assert_int_equal(cairn_index_deserialize(buf, len, &back, &err), CAIRN_OK);
  int64_t a[K], b[K];
  float sa[K], sb[K];
  cairn_index_search(ix, 1, rows + N, K, NULL, NULL, a, sa, &err);
  cairn_index_search(back, 1, rows + N, K, NULL, NULL, b, sb, &err);
  assert_memory_equal(a, b, sizeof a);
  assert_memory_equal(sa, sb, sizeof sa);
  for (size_t cut = 0; cut < len; cut += 1 + len / 50) {
    cairn_index *bad = NULL;
    assert_int_not_equal(cairn_index_deserialize(buf, cut, &bad, &err), CAIRN_OK);
  }
  free(buf);
  cairn_index_free(back);
  /* bad input rows are refused */
  uint32_t bi[2] = {5, 5};
  float bv[2] = {1, 1};
  cairn_sparse_row bad = {2, bi, bv};
  assert_int_equal(cairn_index_add(ix, 1, &bad, NULL, &err), CAIRN_INVALID_ARGUMENT);
  cairn_index_free(ix);
}

static void test_drop_ratio(void **state) {
  (void)state;
  make();
  cairn_index *full = build(NULL);
  cairn_index *ix = build("{\"drop_ratio_build\": 0.2}");
  assert_true(cairn_index_memory(ix) < cairn_index_memory(full));
  cairn_search_params sp = {.drop_ratio_search = 0.2f};
  int64_t ids[NQ * K], want[NQ * K];
  float sc[NQ * K];
  cairn_error err;
  assert_int_equal(cairn_index_search(full, NQ, rows + N, K, NULL, NULL, want, sc, &err), CAIRN_OK);
  assert_int_equal(cairn_index_search(ix, NQ, rows + N, K, &sp, NULL, ids, sc, &err), CAIRN_OK);
  int hit = 0;
  for (int q = 0; q < NQ; q++)
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++)
        hit += ids[q * K + j] == want[q * K + i];
  double r = (double)hit / (NQ * K);
  if (r < 0.7) {
    print_error("sparse recall with drop ratios %.3f < 0.7\n", r);
    fail();
  }
  cairn_index_free(ix);
  cairn_index_free(full);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_and_filter),
      cmocka_unit_test(test_drop_ratio),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
