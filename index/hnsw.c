/*
 * hnsw.c — HNSW life cycle: creation, growth, scratch recycling, memory
 * accounting and the vtable (design notes in hnsw.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"

static cairn_status hnsw_init(cairn_index *ix, cairn_error *err) {
  hnsw *h = calloc(1, sizeof *h);
  if (h == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  h->M = (uint32_t)ix->params.M;
  h->M0 = 2 * h->M;
  h->level_mult = 1.0 / log((double)(h->M > 1 ? h->M : 2));
  h->max_level = -1;
  h->elem = 4;
  h->rng = 100;
  pthread_mutex_init(&h->global, NULL);
  pthread_mutex_init(&h->scratch_lock, NULL);
  ix->impl = h;
  ix->trained = true;
  return CAIRN_OK;
}

static void hnsw_destroy(cairn_index *ix) {
  hnsw *h = ix->impl;
  if (h == NULL)
    return;
  for (size_t i = 0; i < h->ninit && h->upper; i++)
    free(h->upper[i]);
  free(h->upper);
  free(h->vecs);
  free(h->links0);
  free(h->levels);
  free(h->locks);
  while (h->scratch_free) {
    hnsw_scratch *s = h->scratch_free;
    h->scratch_free = s->next;
    free(s->tag);
    free(s->pool);
    free(s->nbuf);
    free(s->fresh);
    free(s->qbytes);
    free(s);
  }
  pthread_mutex_destroy(&h->global);
  pthread_mutex_destroy(&h->scratch_lock);
  free(h);
  ix->impl = NULL;
}

/* Grows every per-node array to hold cap nodes (new space zeroed). */
cairn_status hnsw_reserve(cairn_index *ix, hnsw *h, size_t cap,
                          cairn_error *err) {
  if (cap <= h->cap)
    return CAIRN_OK;
  size_t old = h->cap, d = ix->dim;
  uint8_t *v = aligned_alloc(64, ((cap * d * h->elem) + 63) / 64 * 64);
  uint32_t *l0 = realloc(h->links0, cap * (h->M0 + 1) * sizeof(uint32_t));
  if (l0 != NULL)
    h->links0 = l0;
  uint8_t *lv = realloc(h->levels, cap);
  if (lv != NULL)
    h->levels = lv;
  uint32_t **up = realloc(h->upper, cap * sizeof *up);
  if (up != NULL)
    h->upper = up;
  uint8_t *lk = realloc(h->locks, cap);
  if (lk != NULL)
    h->locks = lk;
  if (v == NULL || l0 == NULL || lv == NULL || up == NULL || lk == NULL) {
    free(v);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory growing HNSW");
  }
  if (h->vecs != NULL)
    memcpy(v, h->vecs, old * d * h->elem);
  free(h->vecs);
  h->vecs = v;
  /* new slots are initialised by hnsw_add as nodes arrive, so pages of
   * unused capacity are never touched */
  h->cap = cap;
  return CAIRN_OK;
}

hnsw_scratch *hnsw_scratch_get(const hnsw *hc, size_t n, size_t pool) {
  hnsw *h = (hnsw *)hc; /* the free list is the one mutable part */
  pthread_mutex_lock(&h->scratch_lock);
  hnsw_scratch *s = h->scratch_free;
  if (s != NULL)
    h->scratch_free = s->next;
  pthread_mutex_unlock(&h->scratch_lock);
  if (s == NULL) {
    s = calloc(1, sizeof *s);
    if (s == NULL)
      return NULL;
    s->nbuf = malloc((h->M0 + 1) * sizeof(uint32_t));
    s->fresh = malloc((h->M0 + 1) * sizeof(uint32_t));
    if (s->nbuf == NULL || s->fresh == NULL) {
      free(s->nbuf);
      free(s->fresh);
      free(s);
      return NULL;
    }
  }
  if (s->tag_cap < n) {
    free(s->tag);
    s->tag_cap = n + n / 4 + 1024;
    s->tag = calloc(s->tag_cap, sizeof(uint16_t));
    s->epoch = 0;
  }
  if (s->pool_cap < pool + 1) {
    free(s->pool);
    s->pool_cap = pool + 1;
    s->pool = malloc(s->pool_cap * sizeof(hnsw_cand));
  }
  if (s->tag == NULL || s->pool == NULL) {
    free(s->tag);
    free(s->pool);
    free(s->nbuf);
    free(s->fresh);
    free(s);
    return NULL;
  }
  if (++s->epoch == 0) { /* tags wrapped: clear once every 65535 searches */
    memset(s->tag, 0, s->tag_cap * sizeof(uint16_t));
    s->epoch = 1;
  }
  return s;
}

void hnsw_scratch_put(const hnsw *hc, hnsw_scratch *s) {
  hnsw *h = (hnsw *)hc;
  pthread_mutex_lock(&h->scratch_lock);
  s->next = h->scratch_free;
  h->scratch_free = s;
  pthread_mutex_unlock(&h->scratch_lock);
}

static size_t hnsw_memory(const cairn_index *ix) {
  const hnsw *h = ix->impl;
  size_t m = sizeof *h + h->cap * (ix->dim * h->elem +
                                   (h->M0 + 1) * sizeof(uint32_t) + 1 +
                                   sizeof(uint32_t *) + 1);
  for (size_t i = 0; i < ix->n; i++)
    m += h->levels[i] * (h->M + 1) * sizeof(uint32_t);
  return m;
}

const cairn_index_ops cairn_hnsw_ops = {
    .type = CAIRN_INDEX_HNSW,
    .init = hnsw_init,
    .destroy = hnsw_destroy,
    .add = hnsw_add,
    .search = hnsw_search,
    .memory = hnsw_memory,
    .save = hnsw_save,
    .load = hnsw_load,
};
