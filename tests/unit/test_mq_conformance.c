/*
 * test_mq_conformance.c — backend-neutral log tests (see the .h). Every test
 * gets a fresh log from the factory in setup and closes it in teardown.
 * What a backend may round (truncation granularity) is asserted as a bound,
 * not an exact value. Timing tests use generous deadlines (2-core machine).
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

#include "test_mq_conformance.h"

static const cairn_mq_factory *factory;
static cairn_mq_caps caps; /* of the run in progress */

typedef struct fixture {
  cairn_mq *mq;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  cairn_error err = {0};
  if (factory->open(factory->ctx, true, &f->mq, &err) != CAIRN_OK) {
    fprintf(stderr, "open %s: %s\n", factory->name, err.message);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  cairn_mq_close(f->mq);
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

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Deterministic payload of message i: length and bytes from i. */
static size_t payload_len(int i) { return (size_t)((i * 7919) % 3000); }
static void payload_fill(uint8_t *buf, int i, size_t len) {
  uint32_t x = (uint32_t)i * 2654435761u + 1;
  for (size_t k = 0; k < len; k++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    buf[k] = (uint8_t)x;
  }
}

static void produce_n(cairn_mq *mq, const char *ch, int from, int n) {
  uint8_t buf[4096];
  for (int i = from; i < from + n; i++) {
    size_t len = payload_len(i);
    payload_fill(buf, i, len);
    int64_t pos = -7;
    OK(cairn_mq_produce(mq, ch, buf, len, &pos, E));
    assert_int_equal(pos, i);
  }
}

/* Read positions [from, to) and check each against payload_fill. */
static void expect_range(cairn_mq *mq, const char *ch, int from, int to) {
  cairn_mq_consumer *c;
  OK(cairn_mq_consumer_open(mq, ch, from, &c, E));
  uint8_t buf[4096];
  for (int i = from; i < to; i++) {
    cairn_mq_message m;
    OK(cairn_mq_consumer_next(c, 1000, &m, E));
    assert_int_equal(m.position, i);
    size_t len = payload_len(i);
    assert_int_equal(m.len, len);
    payload_fill(buf, i, len);
    assert_memory_equal(m.payload, buf, len);
  }
  cairn_mq_message m;
  cairn_error err;
  assert_int_equal(cairn_mq_consumer_next(c, 0, &m, &err), CAIRN_NOT_READY);
  cairn_mq_consumer_close(c);
}

static void test_produce_consume_order(void **state) {
  fixture *f = *state;
  int64_t first = -1, next = -1;
  OK(cairn_mq_bounds(f->mq, "ch1", &first, &next, E));
  assert_int_equal(first, 0);
  assert_int_equal(next, 0);
  produce_n(f->mq, "ch1", 0, 200);
  OK(cairn_mq_bounds(f->mq, "ch1", &first, &next, E));
  assert_int_equal(first, 0);
  assert_int_equal(next, 200);
  expect_range(f->mq, "ch1", 0, 200);
  expect_range(f->mq, "ch1", 137, 200); /* from the middle */
  expect_range(f->mq, "ch1", 200, 200); /* at the end: nothing yet */
  /* another channel has its own positions */
  produce_n(f->mq, "ch2", 0, 3);
  OK(cairn_mq_bounds(f->mq, "ch1", &first, &next, E));
  assert_int_equal(next, 200);
}

static void test_empty_and_position_null(void **state) {
  fixture *f = *state;
  OK(cairn_mq_produce(f->mq, "e", NULL, 0, NULL, E));
  int64_t pos;
  OK(cairn_mq_produce(f->mq, "e", "x", 1, &pos, E));
  assert_int_equal(pos, 1);
  cairn_mq_consumer *c;
  cairn_mq_message m;
  OK(cairn_mq_consumer_open(f->mq, "e", 0, &c, E));
  OK(cairn_mq_consumer_next(c, 100, &m, E));
  assert_int_equal(m.position, 0);
  assert_int_equal(m.len, 0);
  OK(cairn_mq_consumer_next(c, 100, &m, E));
  assert_int_equal(m.len, 1);
  assert_memory_equal(m.payload, "x", 1);
  cairn_mq_consumer_close(c);
}

static void big_fill(uint8_t *buf, int i, size_t len) {
  for (size_t k = 0; k < len; k++)
    buf[k] = (uint8_t)(k * 31 + (size_t)i);
}

static void big_expect(cairn_mq_consumer *c, int i, size_t len, uint8_t *buf) {
  cairn_mq_message m;
  OK(cairn_mq_consumer_next(c, 1000, &m, E));
  assert_int_equal(m.position, i);
  assert_int_equal(m.len, len);
  big_fill(buf, i, len);
  assert_memory_equal(m.payload, buf, len);
}

static void test_large_messages(void **state) {
  fixture *f = *state;
  size_t sizes[] = {1u << 20, 3u << 20, 10, (2u << 20) + 7};
  uint64_t total = 0;
  for (int i = 0; i < 4; i++)
    total += sizes[i];
  /* see retain_bytes in the .h: read each one back at once if the server
   * would not keep all four */
  bool interleave = caps.retain_bytes != 0 && total > caps.retain_bytes;
  uint8_t *buf = malloc(3u << 20);
  cairn_mq_consumer *c = NULL;
  if (interleave)
    OK(cairn_mq_consumer_open(f->mq, "big", 0, &c, E));
  for (int i = 0; i < 4; i++) {
    big_fill(buf, i, sizes[i]);
    int64_t pos;
    OK(cairn_mq_produce(f->mq, "big", buf, sizes[i], &pos, E));
    assert_int_equal(pos, i);
    if (interleave)
      big_expect(c, i, sizes[i], buf);
  }
  if (!interleave) {
    OK(cairn_mq_consumer_open(f->mq, "big", 0, &c, E));
    for (int i = 0; i < 4; i++)
      big_expect(c, i, sizes[i], buf);
  }
  cairn_mq_consumer_close(c);
  free(buf);
}

/* ---- blocking consume ----------------------------------------------------- */

typedef struct delayed {
  cairn_mq *mq;
  const char *channel;
  int delay_ms;
} delayed;

static void *produce_later(void *arg) {
  delayed *d = arg;
  usleep((useconds_t)d->delay_ms * 1000);
  cairn_error err;
  if (cairn_mq_produce(d->mq, d->channel, "late", 4, NULL, &err) != CAIRN_OK)
    fprintf(stderr, "produce_later: %s\n", err.message);
  return NULL;
}

static void test_blocking_consume(void **state) {
  fixture *f = *state;
  cairn_mq_consumer *c;
  cairn_mq_message m;
  cairn_error err;
  /* a channel nobody produced to yet can be waited on from 0 */
  OK(cairn_mq_consumer_open(f->mq, "wait", 0, &c, E));
  double t0 = now_ms();
  assert_int_equal(cairn_mq_consumer_next(c, 200, &m, &err), CAIRN_NOT_READY);
  double waited = now_ms() - t0;
  assert_true(waited >= 190);
  assert_true(waited < 3000);
  delayed d = {f->mq, "wait", 150};
  pthread_t th;
  pthread_create(&th, NULL, produce_later, &d);
  t0 = now_ms();
  OK(cairn_mq_consumer_next(c, 10000, &m, E));
  waited = now_ms() - t0;
  pthread_join(th, NULL);
  assert_true(waited >= 100);  /* it did block */
  assert_true(waited < 5000); /* and woke on the produce, not the timeout */
  assert_int_equal(m.position, 0);
  assert_int_equal(m.len, 4);
  assert_memory_equal(m.payload, "late", 4);
  t0 = now_ms();
  assert_int_equal(cairn_mq_consumer_next(c, 0, &m, &err), CAIRN_NOT_READY);
  assert_true(now_ms() - t0 < 100); /* 0 = poll */
  cairn_mq_consumer_close(c);
}

/* ---- many producers ---------------------------------------------------------- */

#define PRODUCERS 6
#define PER_PRODUCER 300

typedef struct prod_arg {
  cairn_mq *mq;
  int id;
  int64_t pos[2][PER_PRODUCER];
  int failures;
} prod_arg;

static void *producer_main(void *arg) {
  prod_arg *a = arg;
  uint8_t buf[2048];
  for (int s = 0; s < PER_PRODUCER; s++) {
    int ch = s & 1;
    size_t len = 8 + (size_t)((a->id * 131 + s * 17) % 2000);
    memset(buf, (int)(a->id + s), len);
    memcpy(buf, &a->id, 4);
    memcpy(buf + 4, &s, 4);
    cairn_error err;
    if (cairn_mq_produce(a->mq, ch ? "mp-b" : "mp-a", buf, len,
                         &a->pos[ch][s], &err) != CAIRN_OK)
      a->failures++;
  }
  return NULL;
}

static void check_channel_total_order(cairn_mq *mq, const char *name, int ch,
                                      prod_arg *args) {
  int total = PRODUCERS * PER_PRODUCER / 2;
  int64_t first, next;
  OK(cairn_mq_bounds(mq, name, &first, &next, E));
  assert_int_equal(first, 0);
  assert_int_equal(next, total);
  int *seen = calloc((size_t)total, sizeof *seen);
  cairn_mq_consumer *c;
  OK(cairn_mq_consumer_open(mq, name, 0, &c, E));
  int last_seq[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++)
    last_seq[p] = -1;
  for (int i = 0; i < total; i++) {
    cairn_mq_message m;
    OK(cairn_mq_consumer_next(c, 1000, &m, E));
    assert_int_equal(m.position, i);
    int id, s;
    memcpy(&id, m.payload, 4);
    memcpy(&s, m.payload + 4, 4);
    assert_true(id >= 0 && id < PRODUCERS && s >= 0 && s < PER_PRODUCER);
    assert_int_equal(s & 1, ch);
    assert_int_equal(args[id].pos[ch][s], i); /* the position produce said */
    assert_true(s > last_seq[id]); /* one producer's messages in its order */
    last_seq[id] = s;
    seen[i]++;
  }
  for (int i = 0; i < total; i++)
    assert_int_equal(seen[i], 1);
  cairn_mq_consumer_close(c);
  free(seen);
}

static void test_many_producers(void **state) {
  fixture *f = *state;
  prod_arg *args = calloc(PRODUCERS, sizeof *args);
  pthread_t th[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++) {
    args[p].mq = f->mq;
    args[p].id = p;
    pthread_create(&th[p], NULL, producer_main, &args[p]);
  }
  for (int p = 0; p < PRODUCERS; p++) {
    pthread_join(th[p], NULL);
    assert_int_equal(args[p].failures, 0);
  }
  check_channel_total_order(f->mq, "mp-a", 0, args);
  check_channel_total_order(f->mq, "mp-b", 1, args);
  free(args);
}

/* A consumer follows producers live and sees every message exactly once. */
typedef struct follower {
  cairn_mq *mq;
  int want;
  int got;
  int errors;
} follower;

static void *follower_main(void *arg) {
  follower *fl = arg;
  cairn_mq_consumer *c;
  cairn_error err;
  if (cairn_mq_consumer_open(fl->mq, "live", 0, &c, &err) != CAIRN_OK) {
    fl->errors++;
    return NULL;
  }
  while (fl->got < fl->want) {
    cairn_mq_message m;
    cairn_status st = cairn_mq_consumer_next(c, 5000, &m, &err);
    if (st != CAIRN_OK || m.position != fl->got) {
      fl->errors++;
      break;
    }
    fl->got++;
  }
  cairn_mq_consumer_close(c);
  return NULL;
}

static void *live_producer(void *arg) {
  cairn_mq *mq = arg;
  for (int i = 0; i < 200; i++) {
    cairn_error err;
    if (cairn_mq_produce(mq, "live", &i, sizeof i, NULL, &err) != CAIRN_OK)
      break;
  }
  return NULL;
}

static void test_live_follow(void **state) {
  fixture *f = *state;
  follower fl = {.mq = f->mq, .want = 600};
  pthread_t tf, tp[3];
  pthread_create(&tf, NULL, follower_main, &fl);
  for (int i = 0; i < 3; i++)
    pthread_create(&tp[i], NULL, live_producer, f->mq);
  for (int i = 0; i < 3; i++)
    pthread_join(tp[i], NULL);
  pthread_join(tf, NULL);
  assert_int_equal(fl.errors, 0);
  assert_int_equal(fl.got, 600);
}

/* ---- truncate ------------------------------------------------------------------ */

static void test_truncate(void **state) {
  fixture *f = *state;
  produce_n(f->mq, "t", 0, 600);
  int64_t first, next;
  OK(cairn_mq_truncate(f->mq, "t", 300, E));
  OK(cairn_mq_bounds(f->mq, "t", &first, &next, E));
  assert_true(first >= 0 && first <= 300); /* rounded down, never up */
  assert_int_equal(next, 600);
  expect_range(f->mq, "t", 300, 600); /* nothing >= before was dropped */
  expect_range(f->mq, "t", (int)first, 600);
  if (first > 0) {
    cairn_mq_consumer *c;
    cairn_error err;
    assert_int_equal(cairn_mq_consumer_open(f->mq, "t", first - 1, &c, &err),
                     CAIRN_IO_NOT_FOUND);
  }
  /* truncating to an earlier point never brings messages back */
  int64_t first2;
  OK(cairn_mq_truncate(f->mq, "t", 100, E));
  OK(cairn_mq_bounds(f->mq, "t", &first2, &next, E));
  assert_int_equal(first2, first);
  /* past the end: positions are never skipped or reused */
  OK(cairn_mq_truncate(f->mq, "t", 99999, E));
  OK(cairn_mq_bounds(f->mq, "t", &first, &next, E));
  assert_int_equal(next, 600);
  assert_true(first <= 600);
  produce_n(f->mq, "t", 600, 10);
  expect_range(f->mq, "t", 600, 610);
  /* unknown channel: nothing to do */
  OK(cairn_mq_truncate(f->mq, "never-produced", 5, E));
  OK(cairn_mq_bounds(f->mq, "never-produced", &first, &next, E));
  assert_int_equal(first, 0);
  assert_int_equal(next, 0);
}

/* ---- persistence --------------------------------------------------------------- */

static void test_reopen(void **state) {
  fixture *f = *state;
  produce_n(f->mq, "p", 0, 500);
  produce_n(f->mq, "q", 0, 5);
  OK(cairn_mq_truncate(f->mq, "p", 250, E));
  int64_t first, next;
  OK(cairn_mq_bounds(f->mq, "p", &first, &next, E));
  cairn_mq_close(f->mq);
  f->mq = NULL;
  OK(factory->open(factory->ctx, false, &f->mq, E));
  int64_t first2, next2;
  OK(cairn_mq_bounds(f->mq, "p", &first2, &next2, E));
  assert_int_equal(first2, first);
  assert_int_equal(next2, 500);
  expect_range(f->mq, "p", (int)first2, 500);
  expect_range(f->mq, "q", 0, 5);
  produce_n(f->mq, "p", 500, 20); /* appending continues at 500 */
  expect_range(f->mq, "p", 250, 520);
}

static bool has_name(char **names, size_t n, const char *want) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], want) == 0)
      return true;
  return false;
}

static void test_list_channels(void **state) {
  fixture *f = *state;
  char **names;
  size_t n;
  OK(cairn_mq_list_channels(f->mq, &names, &n, E));
  assert_int_equal(n, 0);
  free(names);
  const char *chans[] = {"b", "a", "c.x-y_Z9", ".", ".."};
  for (int i = 0; i < 5; i++)
    OK(cairn_mq_produce(f->mq, chans[i], "v", 1, NULL, E));
  int64_t first, next;
  OK(cairn_mq_bounds(f->mq, "unknown", &first, &next, E)); /* not listed */
  OK(cairn_mq_list_channels(f->mq, &names, &n, E));
  assert_int_equal(n, 5);
  for (int i = 0; i < 5; i++)
    assert_true(has_name(names, n, chans[i]));
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  cairn_mq_close(f->mq);
  f->mq = NULL;
  OK(factory->open(factory->ctx, false, &f->mq, E));
  OK(cairn_mq_list_channels(f->mq, &names, &n, E));
  assert_int_equal(n, 5);
  assert_true(has_name(names, n, ".."));
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

/* ---- argument errors ----------------------------------------------------------- */

static void test_invalid_arguments(void **state) {
  fixture *f = *state;
  cairn_error err;
  int64_t pos = 5;
  char longname[CAIRN_MQ_MAX_CHANNEL_LEN + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  const char *bad[] = {"", "a/b", "sp ace", "ü", longname, NULL};
  for (int i = 0; i < 6; i++) {
    assert_int_equal(cairn_mq_produce(f->mq, bad[i], "x", 1, &pos, &err),
                     CAIRN_INVALID_ARGUMENT);
    assert_int_equal(pos, -1);
  }
  longname[CAIRN_MQ_MAX_CHANNEL_LEN] = '\0'; /* exactly the limit: fine */
  OK(cairn_mq_produce(f->mq, longname, "x", 1, &pos, E));
  assert_int_equal(cairn_mq_produce(f->mq, "ok", NULL, 3, &pos, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_mq_produce(f->mq, "ok", "x",
                                    (size_t)CAIRN_MQ_MAX_MESSAGE + 1, &pos, &err),
                   CAIRN_TOO_LARGE);
  assert_int_equal(cairn_mq_truncate(f->mq, "ok", -1, &err),
                   CAIRN_INVALID_ARGUMENT);
  cairn_mq_consumer *c = (cairn_mq_consumer *)1;
  assert_int_equal(cairn_mq_consumer_open(f->mq, "ok", -1, &c, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_null(c);
  OK(cairn_mq_produce(f->mq, "ok", "x", 1, &pos, E));
  assert_int_equal(cairn_mq_consumer_open(f->mq, "ok", 2, &c, &err),
                   CAIRN_INVALID_ARGUMENT); /* past next */
  assert_non_null(strstr(err.message, "past the end"));
  OK(cairn_mq_consumer_open(f->mq, "ok", 0, &c, E));
  cairn_mq_message m;
  assert_int_equal(cairn_mq_consumer_next(c, -5, &m, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_mq_consumer_next(NULL, 0, &m, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_mq_consumer_next(c, 0, NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
  cairn_mq_consumer_close(c);
  cairn_mq_consumer_close(NULL);
  assert_int_equal(cairn_mq_bounds(NULL, "ok", NULL, NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_mq_list_channels(f->mq, NULL, NULL, &err),
                   CAIRN_INVALID_ARGUMENT);
}

int cairn_mq_conformance_run(const cairn_mq_factory *fac) {
  return cairn_mq_conformance_run_caps(fac, NULL);
}

int cairn_mq_conformance_run_caps(const cairn_mq_factory *fac,
                                  const cairn_mq_caps *c) {
  factory = fac;
  caps = c != NULL ? *c : (cairn_mq_caps){0};
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_produce_consume_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_and_position_null, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_blocking_consume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_producers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_follow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_channels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
  };
  char group[128];
  snprintf(group, sizeof group, "mq conformance (%s)", fac->name);
  return _cmocka_run_group_tests(group, tests, sizeof tests / sizeof tests[0],
                                 NULL, NULL);
}
