/* test_arena.c — the per-request bump allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "common.pb-c.h"

static void test_alignment_and_zeroing(void **state) {
  (void)state;
  cairn_arena *a = cairn_arena_new();
  assert_non_null(a);
  for (size_t size = 1; size < 5000; size += 37) {
    unsigned char *p = cairn_arena_alloc(a, size);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    for (size_t i = 0; i < size; i++)
      assert_int_equal(p[i], 0);
    memset(p, 0xab, size); /* must not corrupt other allocations */
  }
  cairn_arena_free(a);
}

static void test_large_allocations_are_distinct(void **state) {
  (void)state;
  cairn_arena *a = cairn_arena_new();
  char *small = cairn_arena_strdup(a, "keep me");
  char *big1 = cairn_arena_alloc(a, 3 << 20);
  char *big2 = cairn_arena_alloc(a, 5 << 20);
  assert_non_null(big1);
  assert_non_null(big2);
  memset(big1, 1, 3 << 20);
  memset(big2, 2, 5 << 20);
  char *after = cairn_arena_strdup(a, "after");
  assert_string_equal(small, "keep me");
  assert_string_equal(after, "after");
  assert_int_equal(big1[(3 << 20) - 1], 1);
  assert_true(cairn_arena_bytes(a) >= (size_t)(8 << 20));
  cairn_arena_free(a);
}

static void test_strings(void **state) {
  (void)state;
  cairn_arena *a = cairn_arena_new();
  assert_string_equal(cairn_arena_strndup(a, "abcdef", 3), "abc");
  assert_string_equal(cairn_arena_printf(a, "%s-%d", "x", 42), "x-42");
  assert_string_equal(cairn_arena_strdup(a, NULL), "");
  cairn_arena_free(a);
}

static void test_protobuf_unpack_into_arena(void **state) {
  (void)state;
  Milvus__Proto__Common__KeyValuePair kv =
      MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT;
  kv.key = "dim";
  kv.value = "128";
  uint8_t buf[64];
  size_t n = milvus__proto__common__key_value_pair__pack(&kv, buf);
  cairn_arena *a = cairn_arena_new();
  Milvus__Proto__Common__KeyValuePair *out =
      milvus__proto__common__key_value_pair__unpack(cairn_arena_protobuf(a), n,
                                                    buf);
  assert_non_null(out);
  assert_string_equal(out->key, "dim");
  assert_string_equal(out->value, "128");
  /* Truncated input fails cleanly. */
  assert_null(milvus__proto__common__key_value_pair__unpack(
      cairn_arena_protobuf(a), n - 2, buf));
  cairn_arena_free(a); /* frees out: no per-field frees needed */
}

typedef struct call_log {
  int order[4];
  int n;
} call_log;

typedef struct deferred_arg {
  call_log *log;
  int id;
} deferred_arg;

static void record_call(void *p) {
  deferred_arg *arg = p;
  arg->log->order[arg->log->n++] = arg->id;
}

static void test_deferred_calls_run_at_free_newest_first(void **state) {
  (void)state;
  call_log log = {{0}, 0};
  deferred_arg first = {&log, 1}, second = {&log, 2};
  cairn_arena *a = cairn_arena_new();
  assert_true(cairn_arena_defer(a, record_call, &first));
  for (int i = 0; i < 100; i++) /* spans several chunks */
    assert_non_null(cairn_arena_alloc(a, 1000));
  assert_true(cairn_arena_defer(a, record_call, &second));
  assert_int_equal(log.n, 0); /* nothing runs before the free */
  cairn_arena_free(a);
  assert_int_equal(log.n, 2);
  assert_int_equal(log.order[0], 2);
  assert_int_equal(log.order[1], 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alignment_and_zeroing),
      cmocka_unit_test(test_large_allocations_are_distinct),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_protobuf_unpack_into_arena),
      cmocka_unit_test(test_deferred_calls_run_at_free_newest_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
