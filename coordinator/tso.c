/* tso.c — timestamp oracle and ID allocator; see tso.h for the invariants. */
#include "tso.h"

#include "clock.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TSO_KEY "cairn/tso/hwm"
#define ID_KEY "cairn/id/hwm"
#define LOGICAL_MAX ((1u << CAIRN_TSO_LOGICAL_BITS) - 1)

struct cairn_tso {
  cairn_meta *meta;
  pthread_mutex_t lock; /* guards every field below */
  uint64_t physical;    /* physical ms of the last issued timestamp */
  uint64_t logical;     /* logical part of the last issued timestamp */
  uint64_t saved_hwm;   /* persisted bound: physical < saved_hwm */
  int64_t next_id;      /* next ID to issue */
  int64_t id_limit;     /* persisted bound: next_id <= id_limit */
};

static cairn_status load_counter(cairn_meta *meta, const char *key,
                                 int64_t *value, cairn_error *err) {
  cairn_meta_kv kv = {0};
  *value = 0;
  cairn_status st = cairn_meta_get(meta, key, &kv, err);
  if (st == CAIRN_IO_NOT_FOUND)
    return CAIRN_OK;
  if (st != CAIRN_OK)
    return st;
  char *end = NULL;
  long long v = strtoll((const char *)kv.value, &end, 10);
  bool bad = end == (const char *)kv.value || v < 0;
  cairn_meta_kv_clear(&kv);
  if (bad)
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "meta key %s does not hold a counter", key);
  *value = v;
  return CAIRN_OK;
}

static cairn_status save_counter(cairn_meta *meta, const char *key,
                                 int64_t value, cairn_error *err) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%" PRId64, value);
  return cairn_meta_put(meta, key, buf, (size_t)n, 0, NULL, err);
}

cairn_status cairn_tso_open(cairn_meta *meta, cairn_tso **out,
                            cairn_error *err) {
  *out = NULL;
  int64_t hwm = 0, id_hwm = 0;
  cairn_status st = load_counter(meta, TSO_KEY, &hwm, err);
  if (st == CAIRN_OK)
    st = load_counter(meta, ID_KEY, &id_hwm, err);
  if (st != CAIRN_OK)
    return st;
  cairn_tso *tso = calloc(1, sizeof *tso);
  if (tso == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  tso->meta = meta;
  pthread_mutex_init(&tso->lock, NULL);
  uint64_t now = (uint64_t)cairn_realtime_ms();
  tso->physical = now > (uint64_t)hwm ? now : (uint64_t)hwm;
  tso->logical = 0;
  tso->saved_hwm = tso->physical + CAIRN_TSO_WINDOW_MS;
  st = save_counter(meta, TSO_KEY, (int64_t)tso->saved_hwm, err);
  /* A fresh store starts IDs at the current timestamp, so IDs look like
   * Milvus's and never collide with small hand-made numbers. */
  tso->next_id = id_hwm > 0 ? id_hwm
                            : (int64_t)cairn_ts_compose(tso->physical, 0);
  tso->id_limit = tso->next_id;
  if (st != CAIRN_OK) {
    cairn_tso_close(tso);
    return st;
  }
  *out = tso;
  return CAIRN_OK;
}

void cairn_tso_close(cairn_tso *tso) {
  if (tso == NULL)
    return;
  pthread_mutex_destroy(&tso->lock);
  free(tso);
}

/* Advance (physical, logical) by count; caller holds the lock. */
static void advance_nolock(cairn_tso *tso, uint32_t count, uint64_t *first) {
  uint64_t now = (uint64_t)cairn_realtime_ms();
  if (now > tso->physical) {
    tso->physical = now;
    tso->logical = 0;
  } else {
    tso->logical++;
  }
  if (tso->logical + count - 1 > LOGICAL_MAX) {
    /* Logical space of this millisecond used up: borrow the next one. */
    tso->physical++;
    tso->logical = 0;
  }
  *first = cairn_ts_compose(tso->physical, tso->logical);
  tso->logical += count - 1;
}

cairn_status cairn_tso_alloc(cairn_tso *tso, uint32_t count, uint64_t *first,
                             cairn_error *err) {
  *first = 0;
  if (count == 0 || count > LOGICAL_MAX)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "timestamp count must be in [1, %u], got %u",
                           LOGICAL_MAX, count);
  pthread_mutex_lock(&tso->lock);
  advance_nolock(tso, count, first);
  cairn_status st = CAIRN_OK;
  if (tso->physical + 1 >= tso->saved_hwm) {
    uint64_t hwm = tso->physical + CAIRN_TSO_WINDOW_MS;
    st = save_counter(tso->meta, TSO_KEY, (int64_t)hwm, err);
    if (st == CAIRN_OK)
      tso->saved_hwm = hwm;
  }
  pthread_mutex_unlock(&tso->lock);
  if (st != CAIRN_OK)
    *first = 0;
  return st;
}

cairn_status cairn_tso_alloc_ids(cairn_tso *tso, int64_t count, int64_t *first,
                                 cairn_error *err) {
  *first = 0;
  if (count <= 0 || count > (int64_t)1 << 40)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "id count must be in [1, 2^40], got %lld",
                           (long long)count);
  pthread_mutex_lock(&tso->lock);
  cairn_status st = CAIRN_OK;
  if (tso->next_id + count > tso->id_limit) {
    int64_t limit = tso->next_id + (count > CAIRN_ID_BLOCK ? count : CAIRN_ID_BLOCK);
    st = save_counter(tso->meta, ID_KEY, limit, err);
    if (st == CAIRN_OK)
      tso->id_limit = limit;
  }
  if (st == CAIRN_OK) {
    *first = tso->next_id;
    tso->next_id += count;
  }
  pthread_mutex_unlock(&tso->lock);
  return st;
}
