/*
 * test_meta_conformance.h — the meta store conformance suite (STYLE §9): one
 * set of cmocka tests written against meta.h only, run by every backend's
 * test program through a factory.
 */
#ifndef CAIRN_TEST_META_CONFORMANCE_H
#define CAIRN_TEST_META_CONFORMANCE_H

#include <stdbool.h>

#include "meta.h"

typedef struct cairn_meta_factory {
  const char *name;
  void *ctx;
  /* Open a store: fresh = a new, empty one; otherwise reopen the store the
   * last fresh open created (after it was closed). */
  cairn_status (*open)(void *ctx, bool fresh, cairn_meta **out, cairn_error *err);
} cairn_meta_factory;

/* Run every conformance test against the factory; returns the number of
 * failed tests (0 = pass). */
int cairn_meta_conformance_run(const cairn_meta_factory *factory);

#endif
