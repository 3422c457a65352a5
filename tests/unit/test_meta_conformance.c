/*
 * test_meta_conformance.c — backend-neutral meta store tests (see the .h).
 * Every test gets a fresh store from the factory in setup and closes it in
 * teardown. Timing-dependent tests (watch, lease expiry) poll with generous
 * deadlines so they pass on a loaded 2-core machine.
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
#include <time.h>
#include <unistd.h>

#include "test_meta_conformance.h"

static const cairn_meta_factory *factory;

typedef struct fixture {
  cairn_meta *m;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  cairn_error err = {0};
  if (factory->open(factory->ctx, true, &f->m, &err) != CAIRN_OK) {
    fprintf(stderr, "open %s: %s\n", factory->name, err.message);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  cairn_meta_close(f->m);
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
/* The macro above needs `&e_` passed as err: */
#define E (&e_)

static void put_str(cairn_meta *m, const char *k, const char *v, int64_t *rev) {
  OK(cairn_meta_put(m, k, v, strlen(v), 0, rev, E));
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- CRUD --------------------------------------------------------------- */

static void test_crud(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  int64_t r0, r1, r2, r3;
  OK(cairn_meta_revision(m, &r0, E));
  put_str(m, "a/one", "v1", &r1);
  assert_int_equal(r1, r0 + 1);
  cairn_meta_kv kv;
  OK(cairn_meta_get(m, "a/one", &kv, E));
  assert_string_equal(kv.key, "a/one");
  assert_int_equal(kv.value_len, 2);
  assert_memory_equal(kv.value, "v1", 2);
  assert_int_equal(kv.value[2], '\0');
  assert_int_equal(kv.create_revision, r1);
  assert_int_equal(kv.mod_revision, r1);
  assert_int_equal(kv.version, 1);
  cairn_meta_kv_clear(&kv);
  put_str(m, "a/one", "second", &r2);
  assert_int_equal(r2, r1 + 1);
  OK(cairn_meta_get(m, "a/one", &kv, E));
  assert_int_equal(kv.create_revision, r1);
  assert_int_equal(kv.mod_revision, r2);
  assert_int_equal(kv.version, 2);
  assert_string_equal((char *)kv.value, "second");
  cairn_meta_kv_clear(&kv);
  /* binary value with embedded NUL */
  const uint8_t bin[5] = {0, 1, 0, 255, 7};
  OK(cairn_meta_put(m, "a/bin", bin, sizeof bin, 0, NULL, E));
  OK(cairn_meta_get(m, "a/bin", &kv, E));
  assert_int_equal(kv.value_len, 5);
  assert_memory_equal(kv.value, bin, 5);
  cairn_meta_kv_clear(&kv);
  size_t deleted = 99;
  OK(cairn_meta_delete(m, "a/one", &deleted, E));
  assert_int_equal(deleted, 1);
  cairn_error err;
  assert_int_equal(cairn_meta_get(m, "a/one", &kv, &err), CAIRN_IO_NOT_FOUND);
  assert_non_null(strstr(err.message, "a/one"));
  assert_null(kv.key);
  /* deleting an absent key: OK, nothing deleted, revision unchanged */
  OK(cairn_meta_revision(m, &r2, E));
  OK(cairn_meta_delete(m, "a/one", &deleted, E));
  assert_int_equal(deleted, 0);
  OK(cairn_meta_revision(m, &r3, E));
  assert_int_equal(r2, r3);
  /* empty value is a value */
  OK(cairn_meta_put(m, "a/empty", "", 0, 0, NULL, E));
  OK(cairn_meta_get(m, "a/empty", &kv, E));
  assert_int_equal(kv.value_len, 0);
  cairn_meta_kv_clear(&kv);
}

static void test_bad_input(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  cairn_error err;
  cairn_meta_kv kv;
  assert_int_equal(cairn_meta_put(m, "", "x", 1, 0, NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_meta_put(m, NULL, "x", 1, 0, NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_meta_put(m, "bad\nkey", "x", 1, 0, NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_meta_get(m, "\x01", &kv, &err), CAIRN_INVALID_ARGUMENT);
  char big[CAIRN_META_MAX_KEY_LEN + 2];
  memset(big, 'k', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(cairn_meta_put(m, big, "x", 1, 0, NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
  big[CAIRN_META_MAX_KEY_LEN] = '\0'; /* exactly the limit is fine */
  OK(cairn_meta_put(m, big, "x", 1, 0, NULL, E));
  void *huge = calloc(1, CAIRN_META_MAX_VALUE_LEN + 1);
  assert_int_equal(cairn_meta_put(m, "k", huge, CAIRN_META_MAX_VALUE_LEN + 1, 0,
                                  NULL, &err),
                   CAIRN_TOO_LARGE);
  OK(cairn_meta_put(m, "k", huge, CAIRN_META_MAX_VALUE_LEN, 0, NULL, E));
  free(huge);
  assert_int_equal(cairn_meta_put(m, "k", "x", 1, 424242, NULL, &err),
                   CAIRN_IO_NOT_FOUND);
  assert_non_null(strstr(err.message, "424242"));
  int64_t id;
  assert_int_equal(cairn_meta_lease_grant(m, 0, &id, &err), CAIRN_INVALID_ARGUMENT);
}

/* ---- range -------------------------------------------------------------- */

static void test_range(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  /* insert 50 keys under p/ in a shuffled order, plus neighbours */
  int order[50];
  for (int i = 0; i < 50; i++)
    order[i] = i;
  srand(7);
  for (int i = 49; i > 0; i--) {
    int j = rand() % (i + 1), t = order[i];
    order[i] = order[j], order[j] = t;
  }
  char key[32], val[32];
  for (int i = 0; i < 50; i++) {
    snprintf(key, sizeof key, "p/%03d", order[i]);
    snprintf(val, sizeof val, "v%d", order[i]);
    put_str(m, key, val, NULL);
  }
  put_str(m, "p", "exact-prefix-without-slash", NULL);
  put_str(m, "p0", "after", NULL);
  put_str(m, "o/zz", "before", NULL);
  cairn_meta_kvs r;
  OK(cairn_meta_range(m, "p/", NULL, 0, &r, E));
  assert_int_equal(r.count, 50);
  assert_false(r.more);
  int64_t rev;
  OK(cairn_meta_revision(m, &rev, E));
  assert_int_equal(r.revision, rev);
  for (size_t i = 0; i < r.count; i++) {
    snprintf(key, sizeof key, "p/%03zu", i);
    snprintf(val, sizeof val, "v%zu", i);
    assert_string_equal(r.items[i].key, key);
    assert_string_equal((char *)r.items[i].value, val);
  }
  cairn_meta_kvs_free(&r);
  assert_null(r.items);
  /* limit + paging with `after` visits every key once, in order */
  int seen = 0;
  const char *after = NULL;
  char last[32] = "";
  for (;;) {
    OK(cairn_meta_range(m, "p/", after, 7, &r, E));
    assert_true(r.count <= 7);
    for (size_t i = 0; i < r.count; i++, seen++) {
      snprintf(key, sizeof key, "p/%03d", seen);
      assert_string_equal(r.items[i].key, key);
    }
    bool more = r.more;
    if (r.count > 0)
      snprintf(last, sizeof last, "%s", r.items[r.count - 1].key);
    cairn_meta_kvs_free(&r);
    after = last;
    if (!more)
      break;
  }
  assert_int_equal(seen, 50);
  /* all keys: "" prefix, sorted bytewise */
  OK(cairn_meta_range(m, "", NULL, 0, &r, E));
  assert_int_equal(r.count, 53);
  assert_string_equal(r.items[0].key, "o/zz");
  assert_string_equal(r.items[1].key, "p");
  assert_string_equal(r.items[52].key, "p0");
  for (size_t i = 1; i < r.count; i++)
    assert_true(strcmp(r.items[i - 1].key, r.items[i].key) < 0);
  cairn_meta_kvs_free(&r);
  OK(cairn_meta_range(m, "nothing/", NULL, 0, &r, E));
  assert_int_equal(r.count, 0);
  assert_null(r.items);
  cairn_meta_kvs_free(&r);
  size_t deleted;
  OK(cairn_meta_delete_prefix(m, "p/", &deleted, E));
  assert_int_equal(deleted, 50);
  OK(cairn_meta_range(m, "p", NULL, 0, &r, E));
  assert_int_equal(r.count, 2); /* "p" and "p0" survive */
  cairn_meta_kvs_free(&r);
}

/* ---- revisions ---------------------------------------------------------- */

static void test_revisions(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  int64_t prev, rev;
  OK(cairn_meta_revision(m, &prev, E));
  for (int i = 0; i < 100; i++) {
    char key[16];
    snprintf(key, sizeof key, "r/%d", i % 10);
    put_str(m, key, "x", &rev);
    assert_int_equal(rev, prev + 1);
    prev = rev;
  }
  /* a multi-op txn is one revision; every key carries it */
  cairn_meta_op ops[3] = {
      {.type = CAIRN_META_OP_PUT, .key = "t/a", .value = "1", .value_len = 1},
      {.type = CAIRN_META_OP_PUT, .key = "t/b", .value = "2", .value_len = 1},
      {.type = CAIRN_META_OP_DELETE, .key = "r/0"},
  };
  cairn_meta_txn txn = {.success = ops, .n_success = 3};
  cairn_meta_txn_result res;
  OK(cairn_meta_txn_commit(m, &txn, &res, E));
  assert_true(res.succeeded);
  assert_int_equal(res.revision, prev + 1);
  assert_int_equal(res.deleted, 1);
  cairn_meta_kvs r;
  OK(cairn_meta_range(m, "t/", NULL, 0, &r, E));
  assert_int_equal(r.count, 2);
  assert_int_equal(r.items[0].mod_revision, res.revision);
  assert_int_equal(r.items[1].mod_revision, res.revision);
  cairn_meta_kvs_free(&r);
}

/* ---- txn ---------------------------------------------------------------- */

static void test_txn(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  /* create-if-absent: mod_revision == 0 */
  cairn_meta_cmp absent = {.key = "lock", .target = CAIRN_META_CMP_MOD_REVISION,
                           .op = CAIRN_META_CMP_EQ, .revision = 0};
  cairn_meta_op take = {.type = CAIRN_META_OP_PUT, .key = "lock",
                        .value = "owner-1", .value_len = 7};
  cairn_meta_op lost = {.type = CAIRN_META_OP_PUT, .key = "lost",
                        .value = "1", .value_len = 1};
  cairn_meta_txn txn = {.compares = &absent, .n_compares = 1, .success = &take,
                        .n_success = 1, .failure = &lost, .n_failure = 1};
  cairn_meta_txn_result res;
  OK(cairn_meta_txn_commit(m, &txn, &res, E));
  assert_true(res.succeeded);
  int64_t lock_rev = res.revision;
  take.value = "owner-2";
  OK(cairn_meta_txn_commit(m, &txn, &res, E));
  assert_false(res.succeeded);
  cairn_meta_kv kv;
  OK(cairn_meta_get(m, "lock", &kv, E));
  assert_string_equal((char *)kv.value, "owner-1");
  cairn_meta_kv_clear(&kv);
  OK(cairn_meta_get(m, "lost", &kv, E)); /* failure branch ran */
  cairn_meta_kv_clear(&kv);
  /* CAS on mod_revision: stale revision fails, current succeeds */
  cairn_meta_cmp at = {.key = "lock", .target = CAIRN_META_CMP_MOD_REVISION,
                       .op = CAIRN_META_CMP_EQ, .revision = lock_rev - 1};
  cairn_meta_op rel = {.type = CAIRN_META_OP_DELETE, .key = "lock"};
  cairn_meta_txn cas = {.compares = &at, .n_compares = 1, .success = &rel,
                        .n_success = 1};
  int64_t before;
  OK(cairn_meta_revision(m, &before, E));
  OK(cairn_meta_txn_commit(m, &cas, &res, E));
  assert_false(res.succeeded);
  assert_int_equal(res.revision, before); /* failure with no ops: no bump */
  at.revision = lock_rev;
  OK(cairn_meta_txn_commit(m, &cas, &res, E));
  assert_true(res.succeeded);
  assert_int_equal(res.deleted, 1);
  /* value compares and ordering ops */
  put_str(m, "cfg", "beta", NULL);
  cairn_meta_cmp cmps[3] = {
      {.key = "cfg", .target = CAIRN_META_CMP_VALUE, .op = CAIRN_META_CMP_EQ,
       .value = "beta", .value_len = 4},
      {.key = "cfg", .target = CAIRN_META_CMP_VALUE, .op = CAIRN_META_CMP_GT,
       .value = "alpha", .value_len = 5},
      {.key = "cfg", .target = CAIRN_META_CMP_VERSION, .op = CAIRN_META_CMP_LT,
       .revision = 2},
  };
  cairn_meta_op set = {.type = CAIRN_META_OP_PUT, .key = "cfg", .value = "gamma",
                       .value_len = 5};
  cairn_meta_txn vt = {.compares = cmps, .n_compares = 3, .success = &set,
                       .n_success = 1};
  OK(cairn_meta_txn_commit(m, &vt, &res, E));
  assert_true(res.succeeded);
  OK(cairn_meta_txn_commit(m, &vt, &res, E)); /* value now gamma */
  assert_false(res.succeeded);
  cmps[0].value = "gamma", cmps[0].value_len = 5, cmps[0].op = CAIRN_META_CMP_NE;
  vt.n_compares = 1;
  OK(cairn_meta_txn_commit(m, &vt, &res, E));
  assert_false(res.succeeded);
  /* value compare on an absent key never holds */
  cmps[0].key = "nope", cmps[0].op = CAIRN_META_CMP_NE;
  OK(cairn_meta_txn_commit(m, &vt, &res, E));
  assert_false(res.succeeded);
  /* duplicate keys in one branch are rejected */
  cairn_meta_op dup[2] = {take, take};
  cairn_meta_txn dt = {.success = dup, .n_success = 2};
  cairn_error err;
  assert_int_equal(cairn_meta_txn_commit(m, &dt, &res, &err), CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "duplicate"));
  cairn_meta_op ovl[2] = {{.type = CAIRN_META_OP_DELETE_PREFIX, .key = "lo"}, take};
  dt.success = ovl;
  assert_int_equal(cairn_meta_txn_commit(m, &dt, &res, &err), CAIRN_INVALID_ARGUMENT);
  /* a failing op rolls back the whole branch */
  cairn_meta_op partial[2] = {
      {.type = CAIRN_META_OP_PUT, .key = "atomic/a", .value = "1", .value_len = 1},
      {.type = CAIRN_META_OP_PUT, .key = "atomic/b", .value = "1", .value_len = 1,
       .lease = 987654},
  };
  dt.success = partial;
  assert_int_equal(cairn_meta_txn_commit(m, &dt, &res, &err), CAIRN_IO_NOT_FOUND);
  assert_int_equal(cairn_meta_get(m, "atomic/a", &kv, &err), CAIRN_IO_NOT_FOUND);
}

/* ---- watch -------------------------------------------------------------- */

typedef struct collector {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  cairn_meta_event ev[256];
  int n;
  cairn_meta *m;
  cairn_meta_watch *self; /* cancel from the callback after self_after events */
  int self_after;
} collector;

static void collect(const cairn_meta_event *ev, void *user) {
  collector *c = user;
  pthread_mutex_lock(&c->mu);
  if (c->n < 256) {
    cairn_meta_event *d = &c->ev[c->n++];
    d->type = ev->type;
    cairn_meta_kv_copy(&d->kv, ev->kv.key, ev->kv.value, ev->kv.value_len,
                       ev->kv.create_revision, ev->kv.mod_revision,
                       ev->kv.version, ev->kv.lease);
  }
  bool cancel = c->self != NULL && c->n == c->self_after;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  if (cancel)
    cairn_meta_watch_cancel(c->m, c->self);
}

static void collector_init(collector *c, cairn_meta *m) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  c->m = m;
}

static void collector_free(collector *c) {
  for (int i = 0; i < c->n; i++)
    cairn_meta_kv_clear(&c->ev[i].kv);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
}

/* Wait up to 5 s for at least n events; returns the count seen. */
static int collector_wait(collector *c, int n) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 5;
  pthread_mutex_lock(&c->mu);
  while (c->n < n && pthread_cond_timedwait(&c->cv, &c->mu, &dl) == 0) {
  }
  int got = c->n;
  pthread_mutex_unlock(&c->mu);
  return got;
}

static void test_watch(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  put_str(m, "w/before", "old", NULL);
  collector c;
  collector_init(&c, m);
  cairn_meta_watch *w;
  OK(cairn_meta_watch_start(m, "w/", 0, collect, &c, &w, E));
  int64_t r1, r2, r3;
  put_str(m, "w/a", "1", &r1);
  put_str(m, "other/x", "ignored", NULL);
  put_str(m, "w/b", "2", &r2);
  OK(cairn_meta_delete(m, "w/a", NULL, E));
  OK(cairn_meta_revision(m, &r3, E));
  assert_int_equal(collector_wait(&c, 3), 3);
  assert_int_equal(c.ev[0].type, CAIRN_META_EVENT_PUT);
  assert_string_equal(c.ev[0].kv.key, "w/a");
  assert_string_equal((char *)c.ev[0].kv.value, "1");
  assert_int_equal(c.ev[0].kv.mod_revision, r1);
  assert_int_equal(c.ev[1].kv.mod_revision, r2);
  assert_string_equal(c.ev[1].kv.key, "w/b");
  assert_int_equal(c.ev[2].type, CAIRN_META_EVENT_DELETE);
  assert_string_equal(c.ev[2].kv.key, "w/a");
  assert_int_equal(c.ev[2].kv.mod_revision, r3);
  /* many writes arrive in revision order */
  for (int i = 0; i < 100; i++) {
    char key[16];
    snprintf(key, sizeof key, "w/k%d", i % 7);
    put_str(m, key, "v", NULL);
  }
  assert_int_equal(collector_wait(&c, 103), 103);
  for (int i = 1; i < 103; i++)
    assert_true(c.ev[i].kv.mod_revision > c.ev[i - 1].kv.mod_revision);
  cairn_meta_watch_cancel(m, w);
  put_str(m, "w/after-cancel", "x", NULL);
  sleep_ms(200);
  assert_int_equal(c.n, 103);
  collector_free(&c);
}

static void test_watch_history_and_self_cancel(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  int64_t first;
  put_str(m, "h/1", "a", &first);
  put_str(m, "h/2", "b", NULL);
  OK(cairn_meta_delete_prefix(m, "h/", NULL, E)); /* one revision, 2 events */
  put_str(m, "h/3", "c", NULL);
  collector c;
  collector_init(&c, m);
  cairn_meta_watch *w;
  OK(cairn_meta_watch_start(m, "h/", first, collect, &c, &w, E));
  assert_int_equal(collector_wait(&c, 5), 5);
  assert_string_equal(c.ev[0].kv.key, "h/1");
  assert_int_equal(c.ev[2].type, CAIRN_META_EVENT_DELETE);
  assert_int_equal(c.ev[3].type, CAIRN_META_EVENT_DELETE);
  assert_int_equal(c.ev[2].kv.mod_revision, c.ev[3].kv.mod_revision);
  assert_string_equal(c.ev[4].kv.key, "h/3");
  cairn_meta_watch_cancel(m, w);
  collector_free(&c);
  /* a watch that cancels itself from its callback after 2 events */
  collector_init(&c, m);
  c.self_after = 2;
  pthread_mutex_lock(&c.mu);
  OK(cairn_meta_watch_start(m, "s/", 0, collect, &c, &c.self, E));
  pthread_mutex_unlock(&c.mu);
  for (int i = 0; i < 5; i++)
    put_str(m, "s/x", "v", NULL);
  assert_int_equal(collector_wait(&c, 2), 2);
  sleep_ms(200);
  assert_int_equal(c.n, 2);
  collector_free(&c);
  /* a watch left running is cancelled by close (teardown; no leak) */
  collector_init(&c, m);
  OK(cairn_meta_watch_start(m, "", 0, collect, &c, &w, E));
  (void)w;
}

/* ---- leases ------------------------------------------------------------- */

static bool key_exists(cairn_meta *m, const char *key) {
  cairn_meta_kv kv;
  cairn_error err;
  cairn_status st = cairn_meta_get(m, key, &kv, &err);
  cairn_meta_kv_clear(&kv);
  return st == CAIRN_OK;
}

static void test_lease_revoke(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  int64_t id;
  OK(cairn_meta_lease_grant(m, 60, &id, E));
  assert_true(id > 0);
  OK(cairn_meta_put(m, "node/1", "alive", 5, id, NULL, E));
  OK(cairn_meta_put(m, "node/2", "alive", 5, id, NULL, E));
  OK(cairn_meta_put(m, "node/3", "detached", 8, id, NULL, E));
  OK(cairn_meta_put(m, "node/3", "detached", 8, 0, NULL, E)); /* lease dropped */
  cairn_meta_kv kv;
  OK(cairn_meta_get(m, "node/1", &kv, E));
  assert_int_equal(kv.lease, id);
  cairn_meta_kv_clear(&kv);
  OK(cairn_meta_lease_keepalive(m, id, E));
  int64_t before, after;
  OK(cairn_meta_revision(m, &before, E));
  OK(cairn_meta_lease_revoke(m, id, E));
  OK(cairn_meta_revision(m, &after, E));
  assert_int_equal(after, before + 1);
  assert_false(key_exists(m, "node/1"));
  assert_false(key_exists(m, "node/2"));
  assert_true(key_exists(m, "node/3"));
  cairn_error err;
  assert_int_equal(cairn_meta_lease_keepalive(m, id, &err), CAIRN_IO_NOT_FOUND);
  assert_int_equal(cairn_meta_lease_revoke(m, id, &err), CAIRN_IO_NOT_FOUND);
  assert_int_equal(cairn_meta_put(m, "node/4", "x", 1, id, NULL, &err),
                   CAIRN_IO_NOT_FOUND);
  /* a lease with no keys revokes without bumping the revision */
  OK(cairn_meta_lease_grant(m, 60, &id, E));
  OK(cairn_meta_lease_revoke(m, id, E));
  OK(cairn_meta_revision(m, &before, E));
  assert_int_equal(before, after);
}

static void test_lease_expiry(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  int64_t kept, dropped;
  OK(cairn_meta_lease_grant(m, 1, &kept, E));
  OK(cairn_meta_lease_grant(m, 1, &dropped, E));
  assert_int_not_equal(kept, dropped);
  OK(cairn_meta_put(m, "live/kept", "x", 1, kept, NULL, E));
  OK(cairn_meta_put(m, "live/dropped", "x", 1, dropped, NULL, E));
  collector c;
  collector_init(&c, m);
  cairn_meta_watch *w;
  OK(cairn_meta_watch_start(m, "live/", 0, collect, &c, &w, E));
  /* keep one alive for 3 s; the other must expire within that time */
  for (int i = 0; i < 15; i++) {
    sleep_ms(200);
    OK(cairn_meta_lease_keepalive(m, kept, E));
  }
  assert_true(key_exists(m, "live/kept"));
  assert_false(key_exists(m, "live/dropped"));
  cairn_error err;
  assert_int_equal(cairn_meta_lease_keepalive(m, dropped, &err), CAIRN_IO_NOT_FOUND);
  assert_int_equal(collector_wait(&c, 1), 1);
  assert_int_equal(c.ev[0].type, CAIRN_META_EVENT_DELETE);
  assert_string_equal(c.ev[0].kv.key, "live/dropped");
  /* stop keeping it alive: gone within ~2 s */
  int waited = 0;
  while (key_exists(m, "live/kept") && waited < 5000)
    sleep_ms(100), waited += 100;
  assert_false(key_exists(m, "live/kept"));
  assert_true(waited >= 500); /* not before its TTL ran out */
  cairn_meta_watch_cancel(m, w);
  collector_free(&c);
}

/* ---- persistence -------------------------------------------------------- */

static void test_persistence(void **state) {
  fixture *f = *state;
  int64_t rev, lease;
  put_str(f->m, "keep/a", "A", NULL);
  put_str(f->m, "keep/b", "B", &rev);
  OK(cairn_meta_delete(f->m, "keep/a", NULL, E));
  OK(cairn_meta_lease_grant(f->m, 60, &lease, E));
  OK(cairn_meta_put(f->m, "keep/leased", "L", 1, lease, NULL, E));
  int64_t rev_before;
  OK(cairn_meta_revision(f->m, &rev_before, E));
  cairn_meta_close(f->m);
  f->m = NULL;
  OK(factory->open(factory->ctx, false, &f->m, E));
  int64_t rev_after;
  OK(cairn_meta_revision(f->m, &rev_after, E));
  assert_int_equal(rev_after, rev_before);
  cairn_meta_kv kv;
  OK(cairn_meta_get(f->m, "keep/b", &kv, E));
  assert_string_equal((char *)kv.value, "B");
  assert_int_equal(kv.mod_revision, rev);
  cairn_meta_kv_clear(&kv);
  assert_false(key_exists(f->m, "keep/a"));
  /* the lease survived: revoking it deletes its key */
  OK(cairn_meta_lease_keepalive(f->m, lease, E));
  OK(cairn_meta_lease_revoke(f->m, lease, E));
  assert_false(key_exists(f->m, "keep/leased"));
  int64_t next;
  put_str(f->m, "keep/c", "C", &next);
  assert_int_equal(next, rev_before + 2);
}

/* ---- concurrency -------------------------------------------------------- */

#define N_THREADS 4
#define N_PER_THREAD 100

typedef struct worker {
  cairn_meta *m;
  int id;
  int64_t revs[N_PER_THREAD];
  int failures;
  int retries;
} worker;

/* Increment "ctr" with a CAS loop: read, compare mod_revision, put. */
static int cas_increment(cairn_meta *m, int *retries) {
  for (;;) {
    cairn_meta_kv kv;
    cairn_error err;
    long v = 0;
    int64_t modrev = 0;
    cairn_status st = cairn_meta_get(m, "ctr", &kv, &err);
    if (st == CAIRN_OK)
      v = strtol((char *)kv.value, NULL, 10), modrev = kv.mod_revision;
    else if (st != CAIRN_IO_NOT_FOUND)
      return -1;
    cairn_meta_kv_clear(&kv);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld", v + 1);
    cairn_meta_cmp cmp = {.key = "ctr", .target = CAIRN_META_CMP_MOD_REVISION,
                          .op = CAIRN_META_CMP_EQ, .revision = modrev};
    cairn_meta_op op = {.type = CAIRN_META_OP_PUT, .key = "ctr", .value = buf,
                        .value_len = (size_t)n};
    cairn_meta_txn txn = {.compares = &cmp, .n_compares = 1, .success = &op,
                          .n_success = 1};
    cairn_meta_txn_result res;
    if (cairn_meta_txn_commit(m, &txn, &res, &err) != CAIRN_OK)
      return -1;
    if (res.succeeded)
      return 0;
    (*retries)++;
  }
}

static void *writer_main(void *arg) {
  worker *w = arg;
  for (int i = 0; i < N_PER_THREAD; i++) {
    char key[32];
    snprintf(key, sizeof key, "conc/%d/%03d", w->id, i);
    cairn_error err;
    if (cairn_meta_put(w->m, key, key, strlen(key), 0, &w->revs[i], &err) != CAIRN_OK)
      w->failures++;
    if (i % 4 == 0 && cas_increment(w->m, &w->retries) != 0)
      w->failures++;
  }
  return NULL;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void test_concurrent_writers(void **state) {
  cairn_meta *m = ((fixture *)*state)->m;
  worker w[N_THREADS];
  pthread_t th[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].m = m, w[i].id = i;
    pthread_create(&th[i], NULL, writer_main, &w[i]);
  }
  for (int i = 0; i < N_THREADS; i++)
    pthread_join(th[i], NULL);
  int64_t all[N_THREADS * N_PER_THREAD];
  for (int i = 0; i < N_THREADS; i++) {
    assert_int_equal(w[i].failures, 0);
    for (int j = 0; j < N_PER_THREAD; j++) {
      if (j > 0)
        assert_true(w[i].revs[j] > w[i].revs[j - 1]);
      all[i * N_PER_THREAD + j] = w[i].revs[j];
    }
  }
  qsort(all, N_THREADS * N_PER_THREAD, sizeof all[0], cmp_i64);
  for (int i = 1; i < N_THREADS * N_PER_THREAD; i++)
    assert_true(all[i] > all[i - 1]); /* every write got its own revision */
  cairn_meta_kvs r;
  OK(cairn_meta_range(m, "conc/", NULL, 0, &r, E));
  assert_int_equal(r.count, N_THREADS * N_PER_THREAD);
  cairn_meta_kvs_free(&r);
  cairn_meta_kv kv;
  OK(cairn_meta_get(m, "ctr", &kv, E));
  assert_int_equal(strtol((char *)kv.value, NULL, 10), N_THREADS * N_PER_THREAD / 4);
  cairn_meta_kv_clear(&kv);
}

int cairn_meta_conformance_run(const cairn_meta_factory *f) {
  factory = f;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_range, setup, teardown),
      cmocka_unit_test_setup_teardown(test_revisions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_txn, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_history_and_self_cancel, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_lease_revoke, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
  };
  char name[64];
  snprintf(name, sizeof name, "meta conformance (%s)", f->name);
  return _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0],
                                 NULL, NULL);
}
