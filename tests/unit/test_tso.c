/* test_tso.c — timestamps and IDs increase strictly, across threads and
 * across close/reopen of the meta store. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meta.h"
#include "tso.h"

static char dir[] = "/tmp/cairn-test-tso-XXXXXX";

static cairn_tso *open_tso(cairn_meta **meta) {
  cairn_error err = {0};
  assert_int_equal(cairn_meta_open("embedded", dir, meta, &err), CAIRN_OK);
  cairn_tso *tso = NULL;
  assert_int_equal(cairn_tso_open(*meta, &tso, &err), CAIRN_OK);
  return tso;
}

static void test_monotonic_across_reopen(void **state) {
  (void)state;
  assert_non_null(mkdtemp(dir));
  uint64_t last_ts = 0;
  int64_t last_id = 0;
  for (int round = 0; round < 5; round++) {
    cairn_meta *meta = NULL;
    cairn_tso *tso = open_tso(&meta);
    cairn_error err = {0};
    for (int i = 0; i < 2000; i++) {
      uint64_t ts;
      int64_t id;
      assert_int_equal(cairn_tso_alloc(tso, 1 + (uint32_t)(i % 3), &ts, &err), CAIRN_OK);
      assert_true(ts > last_ts);
      last_ts = ts + (uint64_t)(i % 3);
      assert_int_equal(cairn_tso_alloc_ids(tso, 1 + i % 50, &id, &err), CAIRN_OK);
      assert_true(id > last_id);
      last_id = id + i % 50;
    }
    /* Physical part is close to the wall clock. */
    assert_true(cairn_ts_physical_ms(last_ts) > 1700000000000ull);
    cairn_tso_close(tso);
    cairn_meta_close(meta);
  }
}

static void test_bad_counts(void **state) {
  (void)state;
  cairn_meta *meta = NULL;
  cairn_tso *tso = open_tso(&meta);
  cairn_error err = {0};
  uint64_t ts;
  int64_t id;
  assert_int_equal(cairn_tso_alloc(tso, 0, &ts, &err), CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_tso_alloc(tso, 1u << 20, &ts, &err), CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_tso_alloc_ids(tso, 0, &id, &err), CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_tso_alloc_ids(tso, -5, &id, &err), CAIRN_INVALID_ARGUMENT);
  cairn_tso_close(tso);
  cairn_meta_close(meta);
}

typedef struct shared {
  cairn_tso *tso;
  uint64_t got[4][5000];
} shared;

static shared sh;

static void *worker(void *p) {
  int k = (int)(intptr_t)p;
  cairn_error err = {0};
  for (int i = 0; i < 5000; i++)
    if (cairn_tso_alloc(sh.tso, 1, &sh.got[k][i], &err) != CAIRN_OK)
      return (void *)1;
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_unique_across_threads(void **state) {
  (void)state;
  cairn_meta *meta = NULL;
  sh.tso = open_tso(&meta);
  pthread_t t[4];
  for (int k = 0; k < 4; k++)
    pthread_create(&t[k], NULL, worker, (void *)(intptr_t)k);
  for (int k = 0; k < 4; k++) {
    void *ret;
    pthread_join(t[k], &ret);
    assert_null(ret);
  }
  uint64_t *all = malloc(sizeof sh.got);
  memcpy(all, sh.got, sizeof sh.got);
  size_t n = sizeof sh.got / sizeof(uint64_t);
  qsort(all, n, sizeof *all, cmp_u64);
  for (size_t i = 1; i < n; i++)
    assert_true(all[i] > all[i - 1]);
  free(all);
  cairn_tso_close(sh.tso);
  cairn_meta_close(meta);
}

static int cleanup(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_monotonic_across_reopen),
      cmocka_unit_test(test_bad_counts),
      cmocka_unit_test(test_unique_across_threads),
  };
  return cmocka_run_group_tests(tests, NULL, cleanup);
}
