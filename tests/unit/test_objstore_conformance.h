/*
 * test_objstore_conformance.h — the object store conformance suite (STYLE
 * §9): cmocka tests written against objstore.h only, run by every backend's
 * test program through a factory ("local" today, "s3" later).
 */
#ifndef CAIRN_TEST_OBJSTORE_CONFORMANCE_H
#define CAIRN_TEST_OBJSTORE_CONFORMANCE_H

#include <stdbool.h>

#include "objstore.h"

typedef struct cairn_objstore_factory {
  const char *name;
  void *ctx;
  /* Open a store: fresh = a new, empty one; otherwise reopen the store the
   * last fresh open created. */
  cairn_status (*open)(void *ctx, bool fresh, cairn_objstore **out,
                       cairn_error *err);
} cairn_objstore_factory;

/* Run every conformance test against the factory; returns the number of
 * failed tests (0 = pass). */
int cairn_objstore_conformance_run(const cairn_objstore_factory *factory);

#endif
