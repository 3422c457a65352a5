/*
 * test_meta_version.c — core/meta_version.c:
 *   - on the embedded store: the version is stable while nothing under the
 *     prefix changes (writes elsewhere and under an ignored prefix
 *     included) and moves after a write under it;
 *   - on a scripted backend (only watch / watch_cancel): while the watch
 *     cannot start no value is returned twice; once it runs the version is
 *     stable; a LOST event makes it unstable at once, the keeper cancels the
 *     lost watch and starts another, and the version settles on a value
 *     never returned before; close cancels the running watch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meta.h"
#include "meta_version.h"

#define PREFIX "cairn/catalog/"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The version once two reads 20 ms apart agree, waiting up to 5 s. */
static uint64_t settled(cairn_meta_version *v) {
  for (int i = 0; i < 250; i++) {
    uint64_t a = cairn_meta_version_get(v);
    sleep_ms(20);
    if (cairn_meta_version_get(v) == a)
      return a;
  }
  fail_msg("the version never settled");
  return 0;
}

static void put(cairn_meta *m, const char *key) {
  cairn_error err = {0};
  assert_int_equal(cairn_meta_put(m, key, (const uint8_t *)"x", 1, 0, NULL, &err), CAIRN_OK);
}

static void test_embedded(void **state) {
  (void)state;
  char dir[] = "/tmp/cairn-meta-version-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cairn_meta *m = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_meta_open("embedded", dir, &m, &err), CAIRN_OK);
  cairn_meta_version *v = NULL;
  static const char *const ignore[] = {PREFIX "seg/", NULL};
  assert_int_equal(cairn_meta_version_open(m, PREFIX, ignore, &v, &err), CAIRN_OK);
  uint64_t v0 = settled(v);

  /* outside the prefix, or under an ignored one: no move */
  put(m, "cairn/tso/hwm");
  put(m, PREFIX "seg/1/2");
  sleep_ms(100);
  assert_int_equal(cairn_meta_version_get(v), v0);

  put(m, PREFIX "coll/1/c");
  uint64_t v1 = v0;
  for (int i = 0; i < 500 && v1 == v0; i++) {
    sleep_ms(10);
    v1 = cairn_meta_version_get(v);
  }
  assert_true(v1 > v0);
  assert_int_equal(settled(v), v1);

  cairn_meta_version_close(v);
  cairn_meta_close(m);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* ---- a scripted backend ---- */

typedef struct fake_meta {
  cairn_meta base;
  atomic_int starts;  /* watch calls */
  atomic_int fail_first; /* watch calls that fail before one succeeds */
  atomic_int cancels;
  pthread_mutex_t mu;
  cairn_meta_watch_fn fn; /* of the running watch */
  void *user;
} fake_meta;

struct cairn_meta_watch {
  int id;
};
static struct cairn_meta_watch the_watch = {1};

static cairn_status fake_watch(cairn_meta *m, const char *prefix, int64_t from,
                               cairn_meta_watch_fn fn, void *user,
                               cairn_meta_watch **out, cairn_error *err) {
  fake_meta *f = (fake_meta *)m;
  assert_string_equal(prefix, PREFIX);
  assert_int_equal(from, 0);
  if (atomic_fetch_add(&f->starts, 1) < atomic_load(&f->fail_first))
    return cairn_error_set(err, CAIRN_NOT_READY, "etcd unreachable (scripted)");
  pthread_mutex_lock(&f->mu);
  f->fn = fn;
  f->user = user;
  pthread_mutex_unlock(&f->mu);
  *out = &the_watch;
  return CAIRN_OK;
}

static void fake_cancel(cairn_meta *m, cairn_meta_watch *w) {
  fake_meta *f = (fake_meta *)m;
  assert_ptr_equal(w, &the_watch);
  pthread_mutex_lock(&f->mu);
  f->fn = NULL;
  pthread_mutex_unlock(&f->mu);
  atomic_fetch_add(&f->cancels, 1);
}

static const cairn_meta_vtable fake_vtable = {
    .name = "fake", .watch = fake_watch, .watch_cancel = fake_cancel};

/* Deliver one event of type t as the watch's thread would. */
static void deliver(fake_meta *f, cairn_meta_event_type t) {
  pthread_mutex_lock(&f->mu);
  cairn_meta_watch_fn fn = f->fn;
  void *user = f->user;
  pthread_mutex_unlock(&f->mu);
  assert_non_null(fn);
  cairn_meta_event ev = {.type = t};
  fn(&ev, user);
}

static void test_restarts(void **state) {
  (void)state;
  fake_meta f = {.base = {.vt = &fake_vtable}};
  pthread_mutex_init(&f.mu, NULL);
  atomic_init(&f.fail_first, 2);
  cairn_meta_version *v = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_meta_version_open(&f.base, PREFIX, NULL, &v, &err), CAIRN_OK);

  /* no watch yet: every value is new */
  uint64_t a = cairn_meta_version_get(v), b = cairn_meta_version_get(v);
  assert_true(b > a);

  uint64_t v0 = settled(v);
  assert_true(v0 > b);
  assert_int_equal(atomic_load(&f.starts), 3); /* two refused, one running */

  deliver(&f, CAIRN_META_EVENT_PUT);
  uint64_t v1 = cairn_meta_version_get(v);
  assert_int_equal(v1, v0 + 1);

  /* lost: no older value comes back, a new watch starts, and the version
   * settles on a value never returned before */
  deliver(&f, CAIRN_META_EVENT_LOST);
  uint64_t c = cairn_meta_version_get(v);
  assert_true(c > v1);
  uint64_t v2 = settled(v);
  assert_true(v2 >= c);
  assert_int_equal(atomic_load(&f.starts), 4);
  assert_int_equal(atomic_load(&f.cancels), 1);

  cairn_meta_version_close(v);
  assert_int_equal(atomic_load(&f.cancels), 2);
  pthread_mutex_destroy(&f.mu);
}

static void test_bad_arguments(void **state) {
  (void)state;
  cairn_meta_version *v = (cairn_meta_version *)1;
  cairn_error err = {0};
  assert_int_equal(cairn_meta_version_open(NULL, PREFIX, NULL, &v, &err), CAIRN_INVALID_ARGUMENT);
  assert_null(v);
  cairn_meta_version_close(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedded),
      cmocka_unit_test(test_restarts),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
