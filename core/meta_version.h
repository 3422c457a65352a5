/*
 * meta_version.h — a counter that moves after every change of the keys
 * under one prefix of a meta store, whichever process made it: the version
 * a cache of what those keys describe is checked against (the cluster
 * proxy's collection cache, proxy/proxy_cache.c, on the catalogue prefix).
 *
 * How it moves: a watch on the prefix bumps the counter once per event,
 * but for keys under one of the `ignore` prefixes given at open (records
 * under the prefix that the cache does not hold, e.g. the catalogue's
 * segment records, which move with every flush).
 * An event arrives after its write committed, with a delay (etcd: about a
 * millisecond on a quiet cluster), so a reader may still see the old value
 * for that long after another process's write returned: the version is
 * *eventually* current, never ahead. Callers that must not act on a stale
 * view for even that long (writes of rows) must not rely on it.
 *
 * While no watch runs (before the first one started, after one reported
 * CAIRN_META_EVENT_LOST, while the store is unreachable) every call to
 * cairn_meta_version_get returns a value no call returned before, so
 * nothing checked against it stays valid; a keeper thread starts the watch
 * again (from the store's current revision, pauses 100 ms doubling to 2 s)
 * and bumps the counter once more when it runs. So a value returned twice
 * means a watch ran, without a break, from before the first of those calls
 * until the second: no change of the prefix committed in between has been
 * missed, except the ones whose events are still in flight.
 *
 * Threading: get is lock-free and safe from any thread; open and close are
 * not concurrent with anything else on the same handle.
 */
#ifndef CAIRN_META_VERSION_H
#define CAIRN_META_VERSION_H

#include <stdint.h>

#include "meta.h"
#include "status.h"

typedef struct cairn_meta_version cairn_meta_version;

/* Start following `prefix` of `meta` (borrowed: it must outlive the
 * handle), but for the keys under the prefixes of `ignore` (a NULL-
 * terminated list, copied; NULL: none). Fails only on bad arguments or
 * memory: an unreachable store leaves the version unstable until the
 * keeper's watch starts. */
cairn_status cairn_meta_version_open(cairn_meta *meta, const char *prefix,
                                     const char *const *ignore,
                                     cairn_meta_version **out, cairn_error *err);
/* The current version; see the header comment for what equal values mean. */
uint64_t cairn_meta_version_get(cairn_meta_version *v);
/* Stop the keeper and the watch, then free. NULL is a no-op. */
void cairn_meta_version_close(cairn_meta_version *v);

#endif
