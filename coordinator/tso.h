/*
 * tso.h — timestamp oracle and ID allocator of the coordinator (DESIGN §4).
 *
 * Timestamps are hybrid: physical_ms << 18 | logical. IDs are int64 values
 * from one global increasing sequence. Both never repeat or go backwards,
 * across restarts and kill -9, because each persists a high-water mark in
 * the meta store *before* handing out anything at or above the previous one:
 *
 *   - TSO: key cairn/tso/hwm holds a physical ms value P (decimal text).
 *     Every issued timestamp has physical < P. At open, issuing resumes at
 *     max(now, P) and a new P' = that + window is saved first.
 *   - IDs: key cairn/id/hwm holds N (decimal text); every issued ID is < N.
 *     At open issuing resumes at N; blocks of ids are reserved by saving
 *     N' = N + max(request, block) first.
 *
 * Threading: one mutex per allocator; safe from any thread.
 */
#ifndef CAIRN_TSO_H
#define CAIRN_TSO_H

#include <stdint.h>

#include "meta.h"
#include "status.h"

#define CAIRN_TSO_LOGICAL_BITS 18
#define CAIRN_TSO_WINDOW_MS 3000
#define CAIRN_ID_BLOCK 10000

typedef struct cairn_tso cairn_tso;

/* Open the allocators on a meta store (not owned; must outlive the tso). */
cairn_status cairn_tso_open(cairn_meta *meta, cairn_tso **out, cairn_error *err);
void cairn_tso_close(cairn_tso *tso);
/* Allocate count consecutive timestamps; *first is the first. */
cairn_status cairn_tso_alloc(cairn_tso *tso, uint32_t count, uint64_t *first,
                             cairn_error *err);
/* Allocate count consecutive IDs; *first is the first. */
cairn_status cairn_tso_alloc_ids(cairn_tso *tso, int64_t count, int64_t *first,
                                 cairn_error *err);

static inline uint64_t cairn_ts_compose(uint64_t physical_ms, uint64_t logical) {
  return physical_ms << CAIRN_TSO_LOGICAL_BITS | logical;
}
static inline uint64_t cairn_ts_physical_ms(uint64_t ts) {
  return ts >> CAIRN_TSO_LOGICAL_BITS;
}

#endif
