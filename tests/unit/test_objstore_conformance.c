/*
 * test_objstore_conformance.c — backend-neutral object store tests (see the
 * .h). Every test gets a fresh store from the factory in setup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_objstore_conformance.h"

static const cairn_objstore_factory *factory;

typedef struct fixture {
  cairn_objstore *s;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  cairn_error err = {0};
  if (factory->open(factory->ctx, true, &f->s, &err) != CAIRN_OK) {
    fprintf(stderr, "open %s: %s\n", factory->name, err.message);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  cairn_objstore_close(f->s);
  free(f);
  return 0;
}

#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);      \
  } while (0)
#define E (&e_)

static void put_str(cairn_objstore *s, const char *key, const char *v) {
  OK(cairn_objstore_put(s, key, v, strlen(v), E));
}

/* Whole object equals v. */
static void expect_str(cairn_objstore *s, const char *key, const char *v) {
  void *data;
  size_t got;
  OK(cairn_objstore_get(s, key, 0, UINT64_MAX, &data, &got, E));
  assert_int_equal(got, strlen(v));
  assert_memory_equal(data, v, got);
  free(data);
}

static void expect_absent(cairn_objstore *s, const char *key) {
  void *data = (void *)1;
  size_t got = 7;
  uint64_t size = 7;
  cairn_error err;
  assert_int_equal(cairn_objstore_get(s, key, 0, UINT64_MAX, &data, &got, &err),
                   CAIRN_IO_NOT_FOUND);
  assert_null(data);
  assert_int_equal(got, 0);
  assert_int_equal(cairn_objstore_stat(s, key, &size, &err), CAIRN_IO_NOT_FOUND);
}

static void test_put_get_stat(void **state) {
  fixture *f = *state;
  expect_absent(f->s, "a/b/c");
  put_str(f->s, "a/b/c", "hello world");
  expect_str(f->s, "a/b/c", "hello world");
  uint64_t size;
  OK(cairn_objstore_stat(f->s, "a/b/c", &size, E));
  assert_int_equal(size, 11);
  put_str(f->s, "a/b/c", "replaced"); /* a put replaces the whole object */
  expect_str(f->s, "a/b/c", "replaced");
  OK(cairn_objstore_put(f->s, "empty", NULL, 0, E));
  expect_str(f->s, "empty", "");
  OK(cairn_objstore_stat(f->s, "empty", &size, E));
  assert_int_equal(size, 0);
  expect_absent(f->s, "a/b"); /* a prefix of a key is no object */
  expect_absent(f->s, "a");
  expect_absent(f->s, "a/b/c/d");
  put_str(f->s, "top", "level");
  expect_str(f->s, "top", "level");
}

static void expect_range(cairn_objstore *s, const char *key, uint64_t off,
                         uint64_t len, const char *want) {
  void *data;
  size_t got;
  OK(cairn_objstore_get(s, key, off, len, &data, &got, E));
  assert_int_equal(got, strlen(want));
  assert_memory_equal(data, want, got);
  assert_non_null(data); /* also for 0 bytes: a buffer to free */
  free(data);
}

static void test_ranges(void **state) {
  fixture *f = *state;
  put_str(f->s, "r", "0123456789");
  expect_range(f->s, "r", 0, 3, "012");
  expect_range(f->s, "r", 4, 2, "45");
  expect_range(f->s, "r", 7, 100, "789");  /* cut at the end */
  expect_range(f->s, "r", 10, 5, "");      /* at the end */
  expect_range(f->s, "r", 1000, 5, "");    /* past the end */
  expect_range(f->s, "r", 3, 0, "");       /* empty range */
  expect_range(f->s, "r", 0, UINT64_MAX, "0123456789");
  expect_range(f->s, "r", 9, UINT64_MAX, "9");
}

/* ---- list -------------------------------------------------------------------- */

static const char *const list_keys[] = {
    "a/1", "a/10", "a/2", "a/sub/deep", "a.b", "a-c", "a=d", "ab", "b/x",
    "a/sub0", "zz/top/x/y/z", "A/upper",
};
#define N_LIST_KEYS (sizeof list_keys / sizeof list_keys[0])

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of list_keys under prefix, in byte order. */
static size_t expected(const char *prefix, const char **out) {
  size_t n = 0;
  for (size_t i = 0; i < N_LIST_KEYS; i++)
    if (strncmp(list_keys[i], prefix, strlen(prefix)) == 0)
      out[n++] = list_keys[i];
  qsort(out, n, sizeof *out, cmp_str);
  return n;
}

static void expect_list(cairn_objstore *s, const char *prefix) {
  const char *want[N_LIST_KEYS];
  size_t n_want = expected(prefix, want);
  cairn_obj_info *items;
  size_t n;
  bool more = true;
  OK(cairn_objstore_list(s, prefix, NULL, 0, &items, &n, &more, E));
  if (n != n_want)
    fail_msg("list '%s': %zu keys, want %zu", prefix, n, n_want);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(items[i].key, want[i]);
    assert_int_equal(items[i].size, strlen(want[i]) + 1);
  }
  assert_false(more);
  cairn_obj_infos_free(items, n);
  /* the same through pages of every size */
  for (size_t page = 1; page <= n_want + 1; page++) {
    char after[CAIRN_OBJ_MAX_KEY + 1] = "";
    size_t seen = 0;
    for (more = true; more;) {
      OK(cairn_objstore_list(s, prefix, seen ? after : NULL, page, &items, &n,
                             &more, E));
      assert_true(n <= page);
      assert_true(more ? n == page : true);
      for (size_t i = 0; i < n; i++)
        assert_string_equal(items[i].key, want[seen + i]);
      seen += n;
      if (n > 0)
        strcpy(after, items[n - 1].key);
      cairn_obj_infos_free(items, n);
      if (n == 0)
        break;
    }
    assert_int_equal(seen, n_want);
  }
}

static void test_list(void **state) {
  fixture *f = *state;
  cairn_obj_info *items;
  size_t n;
  bool more;
  OK(cairn_objstore_list(f->s, "", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 0);
  cairn_obj_infos_free(items, n);
  for (size_t i = 0; i < N_LIST_KEYS; i++) {
    char v[64];
    snprintf(v, sizeof v, "%s_", list_keys[i]); /* size = strlen(key) + 1 */
    put_str(f->s, list_keys[i], v);
  }
  const char *prefixes[] = {"", "a", "a/", "a/1", "a/sub", "a/sub/", "b",
                            "zz/top/", "nothing", "A"};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    expect_list(f->s, prefixes[i]);
  /* after a key that does not exist */
  OK(cairn_objstore_list(f->s, "a/", "a/15", 0, &items, &n, &more, E));
  assert_int_equal(n, 3); /* a/2, a/sub/deep, a/sub0 */
  assert_string_equal(items[0].key, "a/2");
  cairn_obj_infos_free(items, n);
  OK(cairn_objstore_list(f->s, "", "zz/top/x/y/z", 0, &items, &n, &more, E));
  assert_int_equal(n, 0);
  cairn_obj_infos_free(items, n);
}

static void test_remove(void **state) {
  fixture *f = *state;
  OK(cairn_objstore_remove(f->s, "never/was", E)); /* absent is OK */
  put_str(f->s, "d/1", "x");
  put_str(f->s, "d/2/3", "y");
  put_str(f->s, "d2", "z");
  OK(cairn_objstore_remove(f->s, "d/1", E));
  expect_absent(f->s, "d/1");
  expect_str(f->s, "d/2/3", "y");
  OK(cairn_objstore_remove(f->s, "d/2", E)); /* a prefix, not a key: no-op */
  expect_str(f->s, "d/2/3", "y");
  OK(cairn_objstore_remove(f->s, "d/2/3", E));
  put_str(f->s, "d/1", "again"); /* the pruned path can be reused */
  expect_str(f->s, "d/1", "again");
  for (int i = 0; i < 150; i++) { /* spread over 7 directories */
    char k[64];
    snprintf(k, sizeof k, "many/%d/%d", i % 7, i);
    put_str(f->s, k, "v");
  }
  OK(cairn_objstore_remove_prefix(f->s, "many/", E));
  cairn_obj_info *items;
  size_t n;
  bool more;
  OK(cairn_objstore_list(f->s, "many", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 0);
  cairn_obj_infos_free(items, n);
  OK(cairn_objstore_remove_prefix(f->s, "d", E)); /* d/1 and d2 */
  OK(cairn_objstore_list(f->s, "", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 0);
  cairn_obj_infos_free(items, n);
}

/* ---- writer ------------------------------------------------------------------- */

static void test_writer(void **state) {
  fixture *f = *state;
  put_str(f->s, "w/obj", "old");
  cairn_obj_writer *w;
  OK(cairn_obj_writer_open(f->s, "w/obj", &w, E));
  size_t total = 3u << 20;
  uint8_t *src = malloc(total);
  for (size_t i = 0; i < total; i++)
    src[i] = (uint8_t)(i * 13 + (i >> 16));
  for (size_t off = 0; off < total; off += 65536 + 1)
    OK(cairn_obj_writer_append(w, src + off,
                               off + 65537 <= total ? 65537 : total - off, E));
  OK(cairn_obj_writer_append(w, NULL, 0, E));
  expect_str(f->s, "w/obj", "old"); /* nothing visible before commit */
  cairn_obj_info *items;
  size_t n;
  bool more;
  OK(cairn_objstore_list(f->s, "w/", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 1);
  assert_int_equal(items[0].size, 3);
  cairn_obj_infos_free(items, n);
  OK(cairn_obj_writer_commit(w, E));
  void *data;
  size_t got;
  OK(cairn_objstore_get(f->s, "w/obj", 0, UINT64_MAX, &data, &got, E));
  assert_int_equal(got, total);
  assert_memory_equal(data, src, total);
  free(data);
  OK(cairn_objstore_get(f->s, "w/obj", 1000000, 5000, &data, &got, E));
  assert_int_equal(got, 5000);
  assert_memory_equal(data, src + 1000000, 5000);
  free(data);
  /* abort: nothing published, nothing left behind */
  OK(cairn_obj_writer_open(f->s, "w/aborted", &w, E));
  OK(cairn_obj_writer_append(w, "partial", 7, E));
  cairn_obj_writer_abort(w);
  expect_absent(f->s, "w/aborted");
  cairn_obj_writer_abort(NULL);
  OK(cairn_objstore_list(f->s, "", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 1);
  cairn_obj_infos_free(items, n);
  /* an empty object through a writer */
  OK(cairn_obj_writer_open(f->s, "w/empty", &w, E));
  OK(cairn_obj_writer_commit(w, E));
  expect_str(f->s, "w/empty", "");
  free(src);
}

/* ---- atomic replacement ----------------------------------------------------------- */

#define SIZE_A (256u << 10)
#define SIZE_B (300u << 10)

typedef struct race {
  cairn_objstore *s;
  int stop;  /* atomic */
  int bad;   /* atomic: torn reads seen */
  int reads; /* atomic */
} race;

static void *race_reader(void *p) {
  race *r = p;
  while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
    void *data;
    size_t got;
    cairn_error err;
    if (cairn_objstore_get(r->s, "race/obj", 0, UINT64_MAX, &data, &got,
                           &err) != CAIRN_OK) {
      __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
      continue;
    }
    const uint8_t *d = data;
    uint8_t c = got ? d[0] : 0;
    bool ok = (c == 'A' && got == SIZE_A) || (c == 'B' && got == SIZE_B);
    for (size_t i = 0; ok && i < got; i++)
      ok = d[i] == c;
    if (!ok)
      __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->reads, 1, __ATOMIC_RELAXED);
    free(data);
  }
  return NULL;
}

static void test_atomic_replace(void **state) {
  fixture *f = *state;
  uint8_t *a = malloc(SIZE_A), *b = malloc(SIZE_B);
  memset(a, 'A', SIZE_A);
  memset(b, 'B', SIZE_B);
  OK(cairn_objstore_put(f->s, "race/obj", a, SIZE_A, E));
  race r = {.s = f->s};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, race_reader, &r);
  for (int i = 0; i < 60; i++) {
    if (i % 3 == 2) { /* also through a writer, in two parts */
      cairn_obj_writer *w;
      OK(cairn_obj_writer_open(f->s, "race/obj", &w, E));
      OK(cairn_obj_writer_append(w, b, SIZE_B / 2, E));
      OK(cairn_obj_writer_append(w, b + SIZE_B / 2, SIZE_B - SIZE_B / 2, E));
      OK(cairn_obj_writer_commit(w, E));
    } else {
      OK(cairn_objstore_put(f->s, "race/obj", i % 2 ? b : a,
                            i % 2 ? SIZE_B : SIZE_A, E));
    }
  }
  __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(r.bad, 0);
  assert_true(r.reads > 0);
  free(a);
  free(b);
}

/* ---- keys --------------------------------------------------------------------- */

static void test_key_validation(void **state) {
  fixture *f = *state;
  char longkey[CAIRN_OBJ_MAX_KEY + 2];
  memset(longkey, 'k', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = '\0';
  for (int i = 100; i < CAIRN_OBJ_MAX_KEY; i += 101)
    longkey[i] = '/';
  const char *bad[] = {"", "/a", "a//b", "a/", "a/../b", "..", ".", "a/./b",
                       "./a", "a/.", "a b", "a\\b", "a?b", "\xc3\xbc",
                       "a..b", longkey, NULL};
  cairn_error err;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    void *data;
    size_t got;
    uint64_t size;
    cairn_obj_writer *w = (cairn_obj_writer *)1;
    assert_int_equal(cairn_objstore_put(f->s, bad[i], "x", 1, &err),
                     CAIRN_INVALID_ARGUMENT);
    assert_int_equal(cairn_objstore_get(f->s, bad[i], 0, 1, &data, &got, &err),
                     CAIRN_INVALID_ARGUMENT);
    assert_int_equal(cairn_objstore_stat(f->s, bad[i], &size, &err),
                     CAIRN_INVALID_ARGUMENT);
    assert_int_equal(cairn_objstore_remove(f->s, bad[i], &err),
                     CAIRN_INVALID_ARGUMENT);
    assert_int_equal(cairn_obj_writer_open(f->s, bad[i], &w, &err),
                     CAIRN_INVALID_ARGUMENT);
    assert_null(w);
  }
  assert_int_equal(cairn_objstore_put(f->s, "/etc/passwd", "x", 1, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "invalid key"));
  longkey[CAIRN_OBJ_MAX_KEY] = '\0'; /* exactly the limit */
  put_str(f->s, longkey, "long");
  expect_str(f->s, longkey, "long");
  put_str(f->s, "x.y_z=1-2/.hidden/v.", "ok"); /* dots inside names are fine */
  expect_str(f->s, "x.y_z=1-2/.hidden/v.", "ok");
  /* bad prefixes for list */
  cairn_obj_info *items;
  size_t n;
  assert_int_equal(cairn_objstore_list(f->s, "/a", NULL, 0, &items, &n, NULL,
                                       &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_objstore_list(f->s, "a/../", NULL, 0, &items, &n,
                                       NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_objstore_put(f->s, "ok", NULL, 5, &err),
                   CAIRN_INVALID_ARGUMENT);
}

int cairn_objstore_conformance_run(const cairn_objstore_factory *fac) {
  factory = fac;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_stat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_atomic_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_validation, setup, teardown),
  };
  char group[128];
  snprintf(group, sizeof group, "objstore conformance (%s)", fac->name);
  return _cmocka_run_group_tests(group, tests, sizeof tests / sizeof tests[0],
                                 NULL, NULL);
}
