/*
 * qn_delmap.c — the per-collection delete map: primary key -> the largest
 * timestamp at which it was deleted. A row (pk p, ts t) is visible iff
 * get(p) <= t (0 when never deleted), so upsert = delete + insert at one
 * timestamp keeps the new row.
 *
 * Layout: open addressing with linear probing over a power-of-two table,
 * grown (rehashed) when it would pass half full. Hashes are the binlog's
 * pk hashes (XXH3), so the same key hashes alike everywhere. String keys
 * are copied (malloc); the map never shrinks (XXX: deletes of keys whose
 * rows are all gone could be dropped at compaction).
 *
 * Threading: one rwlock (qn_internal.h); `version` is bumped after every
 * change, inside the write lock.
 */
#include <stdlib.h>
#include <string.h>

#include "qn_internal.h"

#define DELMAP_MIN_CAP 64

cairn_status qn_delmap_init(qn_delmap *m, bool str_keys, cairn_error *err) {
  memset(m, 0, sizeof *m);
  m->str_keys = str_keys;
  if (pthread_rwlock_init(&m->lock, NULL) != 0)
    return cairn_error_set(err, CAIRN_INTERNAL, "rwlock init failed");
  return CAIRN_OK;
}

static void free_slots(int64_t *ik, char **sk, size_t *sl, uint64_t *ts,
                       size_t cap) {
  if (sk != NULL)
    for (size_t i = 0; i < cap; i++)
      free(sk[i]);
  free(ik);
  free(sk);
  free(sl);
  free(ts);
}

void qn_delmap_destroy(qn_delmap *m) {
  free_slots(m->ikeys, m->skeys, m->slens, m->ts, m->cap);
  pthread_rwlock_destroy(&m->lock);
  memset(m, 0, sizeof *m);
}

void qn_delmap_rdlock(qn_delmap *m) { pthread_rwlock_rdlock(&m->lock); }
void qn_delmap_wrlock(qn_delmap *m) { pthread_rwlock_wrlock(&m->lock); }
void qn_delmap_unlock(qn_delmap *m) { pthread_rwlock_unlock(&m->lock); }

/* Slot of a key, or the empty slot where it would go. */
static size_t find_int(const qn_delmap *m, int64_t pk) {
  size_t mask = m->cap - 1, i = cairn_pk_hash_int(pk) & mask;
  while (m->ts[i] != 0 && m->ikeys[i] != pk)
    i = (i + 1) & mask;
  return i;
}

static size_t find_str(const qn_delmap *m, const char *pk, size_t len) {
  size_t mask = m->cap - 1, i = cairn_pk_hash_str(pk, len) & mask;
  while (m->ts[i] != 0 &&
         !(m->slens[i] == len && memcmp(m->skeys[i], pk, len) == 0))
    i = (i + 1) & mask;
  return i;
}

/* Doubles the table (or creates it), moving every entry. */
static cairn_status grow(qn_delmap *m, cairn_error *err) {
  size_t cap = m->cap ? m->cap * 2 : DELMAP_MIN_CAP;
  qn_delmap t = *m;
  t.cap = cap;
  t.ts = calloc(cap, sizeof *t.ts);
  t.ikeys = m->str_keys ? NULL : calloc(cap, sizeof *t.ikeys);
  t.skeys = m->str_keys ? calloc(cap, sizeof *t.skeys) : NULL;
  t.slens = m->str_keys ? calloc(cap, sizeof *t.slens) : NULL;
  if (t.ts == NULL || (m->str_keys ? t.skeys == NULL || t.slens == NULL
                                   : t.ikeys == NULL)) {
    free_slots(t.ikeys, t.skeys, t.slens, t.ts, 0);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory growing the delete map");
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (m->ts[i] == 0)
      continue;
    size_t j = m->str_keys ? find_str(&t, m->skeys[i], m->slens[i])
                           : find_int(&t, m->ikeys[i]);
    t.ts[j] = m->ts[i];
    if (m->str_keys) {
      t.skeys[j] = m->skeys[i];
      t.slens[j] = m->slens[i];
    } else {
      t.ikeys[j] = m->ikeys[i];
    }
  }
  free_slots(m->ikeys, NULL, m->slens, m->ts, 0);
  free(m->skeys); /* the strings moved to t */
  m->ikeys = t.ikeys;
  m->skeys = t.skeys;
  m->slens = t.slens;
  m->ts = t.ts;
  m->cap = cap;
  return CAIRN_OK;
}

static cairn_status room(qn_delmap *m, cairn_error *err) {
  if (m->cap == 0 || (m->n + 1) * 2 > m->cap)
    return grow(m, err);
  return CAIRN_OK;
}

cairn_status qn_delmap_put_int(qn_delmap *m, int64_t pk, uint64_t ts,
                               cairn_error *err) {
  if (m->str_keys || ts == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "delete of an int64 key in a varchar collection");
  cairn_status st = room(m, err);
  if (st != CAIRN_OK)
    return st;
  size_t i = find_int(m, pk);
  if (m->ts[i] == 0) {
    m->ikeys[i] = pk;
    m->n++;
  }
  if (ts > m->ts[i])
    m->ts[i] = ts;
  atomic_fetch_add(&m->version, 1);
  return CAIRN_OK;
}

cairn_status qn_delmap_put_str(qn_delmap *m, const char *pk, size_t len,
                               uint64_t ts, cairn_error *err) {
  if (!m->str_keys || ts == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "delete of a varchar key in an int64 collection");
  cairn_status st = room(m, err);
  if (st != CAIRN_OK)
    return st;
  size_t i = find_str(m, pk, len);
  if (m->ts[i] == 0) {
    char *copy = malloc(len + 1);
    if (copy == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    memcpy(copy, pk, len);
    copy[len] = '\0';
    m->skeys[i] = copy;
    m->slens[i] = len;
    m->n++;
  }
  if (ts > m->ts[i])
    m->ts[i] = ts;
  atomic_fetch_add(&m->version, 1);
  return CAIRN_OK;
}

uint64_t qn_delmap_get_int(const qn_delmap *m, int64_t pk) {
  if (m->n == 0 || m->str_keys)
    return 0;
  return m->ts[find_int(m, pk)];
}

uint64_t qn_delmap_get_str(const qn_delmap *m, const char *pk, size_t len) {
  if (m->n == 0 || !m->str_keys)
    return 0;
  return m->ts[find_str(m, pk, len)];
}

cairn_status qn_delmap_add_delta(qn_delmap *m, const cairn_delta *d,
                                 cairn_error *err) {
  cairn_status st = CAIRN_OK;
  qn_delmap_wrlock(m);
  for (size_t i = 0; st == CAIRN_OK && i < d->n; i++) {
    if (d->pk_type == CAIRN_TYPE_INT64)
      st = qn_delmap_put_int(m, d->int_pks[i], d->ts[i], err);
    else
      st = qn_delmap_put_str(m, d->str_data + d->str_offsets[i],
                             d->str_offsets[i + 1] - d->str_offsets[i], d->ts[i],
                             err);
  }
  qn_delmap_unlock(m);
  return st;
}
