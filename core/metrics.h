/*
 * metrics.h — a process-wide, thread-safe Prometheus metrics registry:
 * counters, gauges and histograms with labels, rendered in the text
 * exposition format 0.0.4 for GET /metrics (core/http.h).
 *
 * Usage (label pairs are name, value, ..., terminated by NULL):
 *   cairn_metrics_counter_add("cairn_rpc_requests_total", "RPCs served", 1,
 *                             "method", "Search", "code", "0", NULL);
 *   cairn_metrics_observe("cairn_rpc_latency_seconds", "RPC latency", NULL,
 *                         0.012, "method", "Search", NULL);
 * or, on the RPC path, cairn_metrics_rpc_observe(method, code, seconds).
 *
 * A family (name) is created by its first use, which fixes its type, help
 * text, label names (in order) and, for histograms, its buckets. A later call
 * with another type or other label names is dropped and logged once per
 * family: metrics never fail the caller.
 *
 * Cost: after the first use of a label set, updates do no allocation — one
 * hash lookup under a read lock, then atomic adds. For the hottest paths,
 * cairn_metrics_series_* caches the lookup in a handle.
 *
 * Threading: all functions may be called from any thread. Series live until
 * cairn_metrics_reset (tests only; not safe while other threads update).
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]*; invalid ones are dropped and logged.
 */
#ifndef CAIRN_METRICS_H
#define CAIRN_METRICS_H

#include <stddef.h>

#include "status.h"

/* Default latency buckets (seconds): 0.5 ms .. 10 s. */
#define CAIRN_METRICS_LATENCY_BUCKETS                                          \
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
#define CAIRN_METRICS_MAX_LABELS 8
#define CAIRN_METRICS_MAX_BUCKETS 32

/* Histogram buckets: upper bounds, strictly increasing (+Inf is implicit). */
typedef struct cairn_metrics_buckets {
  const double *bounds;
  size_t count;
} cairn_metrics_buckets;

/* A handle on one series (family + label values); valid until reset. */
typedef struct cairn_metrics_series cairn_metrics_series;

void cairn_metrics_counter_add(const char *name, const char *help, double value,
                               ...) __attribute__((sentinel));
void cairn_metrics_gauge_set(const char *name, const char *help, double value,
                             ...) __attribute__((sentinel));
void cairn_metrics_gauge_add(const char *name, const char *help, double delta,
                             ...) __attribute__((sentinel));
/* buckets NULL = CAIRN_METRICS_LATENCY_BUCKETS. */
void cairn_metrics_observe(const char *name, const char *help,
                           const cairn_metrics_buckets *buckets, double value,
                           ...) __attribute__((sentinel));

/* Handles: look the series up once (NULL if invalid or out of memory; the
 * update functions accept NULL and do nothing). */
cairn_metrics_series *cairn_metrics_counter(const char *name, const char *help,
                                            ...) __attribute__((sentinel));
cairn_metrics_series *cairn_metrics_histogram(const char *name, const char *help,
                                              const cairn_metrics_buckets *buckets,
                                              ...) __attribute__((sentinel));
void cairn_metrics_series_add(cairn_metrics_series *s, double value);
void cairn_metrics_series_observe(cairn_metrics_series *s, double value);

/* cairn_rpc_requests_total{method,code} += 1 and
 * cairn_rpc_latency_seconds{method} observes seconds. */
void cairn_metrics_rpc_observe(const char *method, int code, double seconds);

/* Render every family in the text exposition format 0.0.4 into a new
 * NUL-terminated buffer; the caller frees *out with free(). */
cairn_status cairn_metrics_render(char **out, size_t *len, cairn_error *err);

/* Drop every family and series (tests). No other thread may be using the
 * registry or hold a series handle. */
void cairn_metrics_reset(void);

#endif
