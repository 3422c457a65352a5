/*
 * test_metrics.c — the metrics registry: exposition format, labels,
 * histograms, misuse being dropped, exact totals under concurrency, and no
 * allocation on the update path after first use (malloc/calloc/realloc are
 * wrapped with -Wl,--wrap, see core.cmake, and counted per thread).
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

#include "metrics.h"

/* ---- allocation counting ------------------------------------------------ */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
static _Thread_local long allocs;
void *__wrap_malloc(size_t n) { allocs++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { allocs++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { allocs++; return __real_realloc(p, n); }

static char *render(void) {
  char *out;
  size_t len;
  cairn_error err;
  assert_int_equal(cairn_metrics_render(&out, &len, &err), CAIRN_OK);
  assert_int_equal(strlen(out), len);
  return out;
}

static void assert_contains(const char *hay, const char *needle) {
  if (strstr(hay, needle) == NULL)
    fail_msg("missing:\n%s\nin:\n%s", needle, hay);
}

static int reset(void **state) {
  (void)state;
  cairn_metrics_reset();
  return 0;
}

static void test_counter_and_gauge(void **state) {
  (void)state;
  cairn_metrics_counter_add("cairn_rpc_requests_total", "RPC requests", 1,
                            "method", "Search", "code", "0", NULL);
  cairn_metrics_counter_add("cairn_rpc_requests_total", "RPC requests", 2,
                            "method", "Search", "code", "0", NULL);
  cairn_metrics_counter_add("cairn_rpc_requests_total", "RPC requests", 1,
                            "method", "Insert", "code", "100", NULL);
  cairn_metrics_counter_add("cairn_rpc_requests_total", "RPC requests", -5,
                            "method", "Insert", "code", "100", NULL); /* ignored */
  cairn_metrics_counter_add("cairn_up_total", "no labels", 0.5, NULL);
  cairn_metrics_gauge_set("cairn_segments", "Loaded segments", 7, "role",
                          "querynode", NULL);
  cairn_metrics_gauge_add("cairn_segments", "Loaded segments", -2, "role",
                          "querynode", NULL);
  char *out = render();
  assert_contains(out, "# HELP cairn_rpc_requests_total RPC requests\n"
                       "# TYPE cairn_rpc_requests_total counter\n"
                       "cairn_rpc_requests_total{method=\"Search\",code=\"0\"} 3\n"
                       "cairn_rpc_requests_total{method=\"Insert\",code=\"100\"} 1\n");
  assert_contains(out, "# TYPE cairn_up_total counter\ncairn_up_total 0.5\n");
  assert_contains(out, "# TYPE cairn_segments gauge\n"
                       "cairn_segments{role=\"querynode\"} 5\n");
  free(out);
}

static void test_histogram(void **state) {
  (void)state;
  static const double b[] = {0.1, 1, 10};
  cairn_metrics_buckets buckets = {b, 3};
  double vals[] = {0.05, 0.1, 0.5, 2, 20, 30};
  for (size_t i = 0; i < 6; i++)
    cairn_metrics_observe("cairn_test_seconds", "Test", &buckets, vals[i], "op",
                          "x", NULL);
  char *out = render();
  assert_contains(out, "# TYPE cairn_test_seconds histogram\n"
                       "cairn_test_seconds_bucket{op=\"x\",le=\"0.1\"} 2\n"
                       "cairn_test_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
                       "cairn_test_seconds_bucket{op=\"x\",le=\"10\"} 4\n"
                       "cairn_test_seconds_bucket{op=\"x\",le=\"+Inf\"} 6\n"
                       "cairn_test_seconds_sum{op=\"x\"} 52.65\n"
                       "cairn_test_seconds_count{op=\"x\"} 6\n");
  free(out);
  /* the RPC helper: counter + default latency buckets */
  cairn_metrics_rpc_observe("Search", 0, 0.003);
  cairn_metrics_rpc_observe("Search", 0, 0.2);
  cairn_metrics_rpc_observe("Search", 65535, 0.001);
  out = render();
  assert_contains(out, "cairn_rpc_requests_total{method=\"Search\",code=\"0\"} 2\n");
  assert_contains(out, "cairn_rpc_requests_total{method=\"Search\",code=\"65535\"} 1\n");
  assert_contains(out, "cairn_rpc_latency_seconds_bucket{method=\"Search\",le=\"0.001\"} 1\n");
  assert_contains(out, "cairn_rpc_latency_seconds_bucket{method=\"Search\",le=\"0.005\"} 2\n");
  assert_contains(out, "cairn_rpc_latency_seconds_bucket{method=\"Search\",le=\"0.25\"} 3\n");
  assert_contains(out, "cairn_rpc_latency_seconds_count{method=\"Search\"} 3\n");
  free(out);
}

static void test_escaping_and_misuse(void **state) {
  (void)state;
  cairn_metrics_counter_add("cairn_esc_total", "help with \\ and\nnewline", 1,
                            "path", "a\"b\\c\nd", NULL);
  /* misuse is dropped, never crashes or corrupts the output */
  cairn_metrics_gauge_set("cairn_esc_total", "type clash", 5, "path", "x", NULL);
  cairn_metrics_counter_add("cairn_esc_total", "label clash", 1, "other", "x", NULL);
  cairn_metrics_counter_add("9bad name", "bad", 1, NULL);
  cairn_metrics_counter_add("cairn_bad_label_total", "bad", 1, "le", "1", NULL);
  cairn_metrics_counter_add("cairn_bad_label_total", "bad", 1, "a-b", "1", NULL);
  cairn_metrics_counter_add("cairn_odd_total", "odd", 1, "k", NULL);
  static const double unsorted[] = {1, 0.5};
  cairn_metrics_buckets ub = {unsorted, 2};
  cairn_metrics_observe("cairn_unsorted_seconds", "bad", &ub, 1, NULL);
  cairn_metrics_series_add(NULL, 1);
  char *out = render();
  assert_contains(out, "# HELP cairn_esc_total help with \\\\ and\\nnewline\n");
  assert_contains(out, "cairn_esc_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
  assert_null(strstr(out, "type clash"));
  assert_null(strstr(out, "other="));
  assert_null(strstr(out, "9bad"));
  assert_null(strstr(out, "cairn_bad_label_total"));
  assert_null(strstr(out, "cairn_odd_total"));
  assert_null(strstr(out, "cairn_unsorted_seconds"));
  free(out);
}

#define THREADS 4
#define PER_THREAD 100000

static void *hammer(void *arg) {
  long id = (long)arg;
  const char *methods[] = {"Search", "Insert", "Query"};
  for (int i = 0; i < PER_THREAD; i++) {
    cairn_metrics_counter_add("cairn_conc_total", "c", 1, "method",
                              methods[i % 3], NULL);
    cairn_metrics_observe("cairn_conc_seconds", "h", NULL, 0.001 * (double)(i % 7),
                          "thread", id % 2 ? "odd" : "even", NULL);
  }
  return NULL;
}

static long count_of(const char *out, const char *line_prefix) {
  const char *p = strstr(out, line_prefix);
  assert_non_null(p);
  return strtol(p + strlen(line_prefix), NULL, 10);
}

static void test_concurrency(void **state) {
  (void)state;
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, hammer, (void *)i);
  for (int i = 0; i < 20; i++) /* scrape while they run */
    free(render());
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  char *out = render();
  long total = count_of(out, "cairn_conc_total{method=\"Search\"} ") +
               count_of(out, "cairn_conc_total{method=\"Insert\"} ") +
               count_of(out, "cairn_conc_total{method=\"Query\"} ");
  assert_int_equal(total, THREADS * PER_THREAD);
  assert_int_equal(count_of(out, "cairn_conc_seconds_count{thread=\"even\"} ") +
                       count_of(out, "cairn_conc_seconds_count{thread=\"odd\"} "),
                   THREADS * PER_THREAD);
  free(out);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_hot_path_no_alloc(void **state) {
  (void)state;
  cairn_metrics_rpc_observe("Search", 0, 0.01); /* first use allocates */
  cairn_metrics_series *h = cairn_metrics_counter("cairn_handle_total", "h", NULL);
  long before = allocs;
  double t0 = now_s();
  for (int i = 0; i < 100000; i++)
    cairn_metrics_rpc_observe("Search", 0, 0.01);
  double t1 = now_s();
  for (int i = 0; i < 100000; i++)
    cairn_metrics_series_add(h, 1);
  double t2 = now_s();
  assert_int_equal(allocs, before);
  fprintf(stderr, "metrics: rpc_observe %.0f ns/call, series_add %.1f ns/call\n",
          (t1 - t0) * 1e9 / 100000, (t2 - t1) * 1e9 / 100000);
  char *out = render();
  assert_contains(out, "cairn_handle_total 100000\n");
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_counter_and_gauge, reset),
      cmocka_unit_test_setup(test_histogram, reset),
      cmocka_unit_test_setup(test_escaping_and_misuse, reset),
      cmocka_unit_test_setup(test_concurrency, reset),
      cmocka_unit_test_setup(test_hot_path_no_alloc, reset),
  };
  int failed = cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
  cairn_metrics_reset();
  return failed;
}
