/*
 * topk.c — the per-query top-k accumulator (a binary max-heap keyed on
 * internal distance, worst entry at the root) and small shared helpers.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index_impl.h"

cairn_status cairn_topk_init(cairn_topk *t, int k) {
  t->k = k;
  t->n = 0;
  t->dist = malloc((size_t)k * sizeof(float));
  t->pos = malloc((size_t)k * sizeof(uint32_t));
  if (t->dist == NULL || t->pos == NULL) {
    cairn_topk_destroy(t);
    return CAIRN_NOMEM;
  }
  return CAIRN_OK;
}

void cairn_topk_destroy(cairn_topk *t) {
  free(t->dist);
  free(t->pos);
  t->dist = NULL;
  t->pos = NULL;
  t->n = 0;
}

void cairn_topk_clear(cairn_topk *t) { t->n = 0; }

/* Heap order: worse = larger distance, ties broken by larger position, so
 * equal distances keep the smaller positions. */
static inline int worse(float da, uint32_t pa, float db, uint32_t pb) {
  return da > db || (da == db && pa > pb);
}

static void sift_down(cairn_topk *t, int i, float d, uint32_t p) {
  int n = t->n;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && worse(t->dist[c + 1], t->pos[c + 1], t->dist[c], t->pos[c]))
      c++;
    if (!worse(t->dist[c], t->pos[c], d, p))
      break;
    t->dist[i] = t->dist[c];
    t->pos[i] = t->pos[c];
    i = c;
  }
  t->dist[i] = d;
  t->pos[i] = p;
}

void cairn_topk_push_slow(cairn_topk *t, float d, uint32_t p) {
  if (t->n < t->k) { /* sift up */
    int i = t->n++;
    while (i > 0) {
      int parent = (i - 1) / 2;
      if (!worse(d, p, t->dist[parent], t->pos[parent]))
        break;
      t->dist[i] = t->dist[parent];
      t->pos[i] = t->pos[parent];
      i = parent;
    }
    t->dist[i] = d;
    t->pos[i] = p;
    return;
  }
  if (!worse(t->dist[0], t->pos[0], d, p))
    return;
  sift_down(t, 0, d, p);
}

void cairn_topk_sort(cairn_topk *t) {
  /* heap sort in place: repeatedly move the worst to the end */
  int n = t->n;
  while (t->n > 1) {
    int last = t->n - 1;
    float d = t->dist[last];
    uint32_t p = t->pos[last];
    t->dist[last] = t->dist[0];
    t->pos[last] = t->pos[0];
    t->n = last;
    sift_down(t, 0, d, p);
  }
  t->n = n;
}

size_t cairn_bitset_count(const cairn_bitset *f, size_t n) {
  if (f == NULL)
    return n;
  size_t lim = n < f->nbits ? n : f->nbits, c = 0, i = 0;
  for (; i + 64 <= lim; i += 64) {
    uint64_t w;
    memcpy(&w, f->bits + i / 8, 8);
    c += (size_t)__builtin_popcountll(w);
  }
  for (; i < lim; i++)
    c += (f->bits[i >> 3] >> (i & 7)) & 1;
  return c;
}

int cairn_index_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}
