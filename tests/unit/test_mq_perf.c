/*
 * test_mq_perf.c — figures for the embedded log: produce latency of small
 * messages (one producer: every produce waits for its own fdatasync), and
 * produce throughput with several producer threads (group commit batches
 * their records into one fdatasync), for 1 KiB, 64 KiB, 1 MiB and mixed
 * 1 KiB..1 MiB messages; then the read-back rate of a consumer. Every run
 * also checks that each channel holds exactly the messages produced, in
 * positions 0..n-1. It prints figures and asserts correctness only: disk
 * speed is not the code's to promise (docs/storage.md records the figures).
 * Usage: test_mq_perf [scale]   (default 1; 0.2 for a quick look)
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

#include "mq.h"

static char base_dir[256];
static double scale = 1.0;
static int dir_seq;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static cairn_mq *open_fresh(void) {
  char dir[320];
  snprintf(dir, sizeof dir, "%s/log%d", base_dir, dir_seq++);
  cairn_mq *mq;
  cairn_error err;
  if (cairn_mq_open("embedded", dir, &mq, &err) != CAIRN_OK)
    fail_msg("open: %s", err.message);
  return mq;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void test_small_latency(void **state) {
  (void)state;
  cairn_mq *mq = open_fresh();
  int n = (int)(400 * scale) + 10;
  double *lat = malloc((size_t)n * sizeof *lat);
  char payload[100];
  memset(payload, 'p', sizeof payload);
  for (int i = 0; i < n; i++) {
    double t0 = now_s();
    int64_t pos;
    cairn_error err;
    assert_int_equal(cairn_mq_produce(mq, "lat", payload, sizeof payload, &pos,
                                      &err),
                     CAIRN_OK);
    lat[i] = (now_s() - t0) * 1e6;
    assert_int_equal(pos, i);
  }
  qsort(lat, (size_t)n, sizeof *lat, cmp_double);
  printf("produce latency, 100 B, 1 producer: p50 %.0f us, p90 %.0f us, "
         "p99 %.0f us (%d produces)\n",
         lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], n);
  free(lat);
  cairn_mq_close(mq);
}

typedef struct worker {
  cairn_mq *mq;
  int id, count;
  size_t min_len, max_len;
  uint8_t *buf;
  uint64_t bytes;
  int failures;
} worker;

static void *worker_main(void *p) {
  worker *w = p;
  uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
  for (int i = 0; i < w->count; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t len = w->min_len + (size_t)(x % (w->max_len - w->min_len + 1));
    cairn_error err;
    if (cairn_mq_produce(w->mq, "tp", w->buf, len, NULL, &err) != CAIRN_OK) {
      w->failures++;
      return NULL;
    }
    w->bytes += len;
  }
  return NULL;
}

/* threads x count messages of min..max bytes; prints MB/s; reads back. */
static void run_throughput(int threads, int count, size_t min_len,
                           size_t max_len) {
  cairn_mq *mq = open_fresh();
  worker *w = calloc((size_t)threads, sizeof *w);
  pthread_t *th = calloc((size_t)threads, sizeof *th);
  uint8_t *buf = malloc(max_len);
  memset(buf, 0xab, max_len);
  double t0 = now_s();
  for (int i = 0; i < threads; i++) {
    w[i] = (worker){.mq = mq, .id = i, .count = count, .min_len = min_len,
                    .max_len = max_len, .buf = buf};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  uint64_t bytes = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].failures, 0);
    bytes += w[i].bytes;
  }
  double dt = now_s() - t0;
  int64_t first, next;
  cairn_error err;
  assert_int_equal(cairn_mq_bounds(mq, "tp", &first, &next, &err), CAIRN_OK);
  assert_int_equal(next, (int64_t)threads * count);
  /* read back */
  cairn_mq_consumer *c;
  assert_int_equal(cairn_mq_consumer_open(mq, "tp", 0, &c, &err), CAIRN_OK);
  double r0 = now_s();
  uint64_t rbytes = 0;
  for (int64_t i = 0; i < next; i++) {
    cairn_mq_message m;
    assert_int_equal(cairn_mq_consumer_next(c, 0, &m, &err), CAIRN_OK);
    assert_int_equal(m.position, i);
    rbytes += m.len;
  }
  double rt = now_s() - r0;
  assert_int_equal(rbytes, bytes);
  cairn_mq_consumer_close(c);
  cairn_mq_wal_stats ws;
  assert_int_equal(cairn_mq_wal_stats_get(mq, &ws, &err), CAIRN_OK);
  assert_int_equal(ws.records, (uint64_t)next);
  assert_int_equal(ws.bytes, bytes);
  printf("produce %2d thr x %5d msgs %7zu..%7zu B: %6.1f MB/s %7.0f msg/s "
         "%5.1f msgs/fsync %5.2f ms/fsync; consume %6.0f MB/s\n",
         threads, count, min_len, max_len, bytes / dt / 1e6,
         threads * count / dt, (double)ws.records / (double)ws.syncs,
         dt * 1e3 / (double)ws.syncs, rbytes / rt / 1e6);
  free(buf);
  free(th);
  free(w);
  cairn_mq_close(mq);
}

static int scaled(int n) { return (int)(n * scale) > 0 ? (int)(n * scale) : 1; }

static void test_throughput(void **state) {
  (void)state;
  run_throughput(4, scaled(2000), 1024, 1024);
  run_throughput(32, scaled(500), 1024, 1024);
  run_throughput(4, scaled(500), 64 << 10, 64 << 10);
  run_throughput(16, scaled(200), 64 << 10, 64 << 10);
  run_throughput(4, scaled(100), 1 << 20, 1 << 20);
  run_throughput(8, scaled(60), 1024, 1 << 20);
}

int main(int argc, char **argv) {
  if (argc > 1)
    scale = atof(argv[1]);
  const char *tmp = getenv("TMPDIR");
  snprintf(base_dir, sizeof base_dir, "%s/cairn-mq-perf-XXXXXX",
           tmp != NULL ? tmp : "/tmp");
  if (mkdtemp(base_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_latency),
      cmocka_unit_test(test_throughput),
  };
  int failed = cmocka_run_group_tests_name("mq perf", tests, NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", base_dir);
  return failed != 0;
}
