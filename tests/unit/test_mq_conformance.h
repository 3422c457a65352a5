/*
 * test_mq_conformance.h — the log conformance suite (STYLE §9): cmocka tests
 * written against mq.h only, run by every backend's test program through a
 * factory ("embedded" today, "kafka" later).
 */
#ifndef CAIRN_TEST_MQ_CONFORMANCE_H
#define CAIRN_TEST_MQ_CONFORMANCE_H

#include <stdbool.h>

#include "mq.h"

typedef struct cairn_mq_factory {
  const char *name;
  void *ctx;
  /* Open a log: fresh = a new, empty one; otherwise reopen the log the last
   * fresh open created (after it was closed). */
  cairn_status (*open)(void *ctx, bool fresh, cairn_mq **out, cairn_error *err);
} cairn_mq_factory;

/* Run every conformance test against the factory; returns the number of
 * failed tests (0 = pass). */
int cairn_mq_conformance_run(const cairn_mq_factory *factory);

#endif
