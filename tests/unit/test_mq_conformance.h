/*
 * test_mq_conformance.h — the log conformance suite (STYLE §9): cmocka tests
 * written against mq.h only, run by every backend's test program through a
 * factory ("embedded" today, "kafka" later).
 */
#ifndef CAIRN_TEST_MQ_CONFORMANCE_H
#define CAIRN_TEST_MQ_CONFORMANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "mq.h"

typedef struct cairn_mq_factory {
  const char *name;
  void *ctx;
  /* Open a log: fresh = a new, empty one; otherwise reopen the log the last
   * fresh open created (after it was closed). */
  cairn_status (*open)(void *ctx, bool fresh, cairn_mq **out, cairn_error *err);
} cairn_mq_factory;

/* Capability flags: where a backend's test server cannot offer a semantic,
 * the suite adapts how it checks, never what it checks. All zero = none. */
typedef struct cairn_mq_caps {
  /* 0 for a server that keeps everything produced (until truncated).
   * Otherwise the test server drops a channel's oldest messages once it holds
   * more than this many bytes, as retention would (librdkafka's mock Kafka
   * cluster keeps at most 5 MiB per partition, fixed in its code). Tests that
   * produce more than that to one channel then read each message back right
   * after producing it: the same checks on the same messages, without the
   * server having to hold them all at once. */
  uint64_t retain_bytes;
} cairn_mq_caps;

/* Run every conformance test against the factory; returns the number of
 * failed tests (0 = pass). */
int cairn_mq_conformance_run(const cairn_mq_factory *factory);
/* The same with capability flags (caps may be NULL: none). */
int cairn_mq_conformance_run_caps(const cairn_mq_factory *factory,
                                  const cairn_mq_caps *caps);

#endif
