/*
 * hnsw_search.c — searching an HNSW graph: greedy descent through the
 * upper levels, beam search on a level (Algorithm 2 of the paper, with a
 * sorted fixed-size candidate pool instead of two heaps), and the query
 * entry point with filtered search.
 *
 * Beam search: the pool holds the ef nearest nodes seen so far, sorted; a
 * cursor walks it from the front, expanding the first unexpanded node.
 * Expanding a node first collects its unvisited neighbours and prefetches
 * their vectors, then measures them all — so the memory loads overlap
 * instead of stalling one by one. A new node that lands before the cursor
 * moves the cursor back to it. The search ends when every node in the
 * pool has been expanded (the pool-based equivalent of "nearest candidate
 * farther than the furthest result").
 *
 * Filtered search (the bitset of allowed positions):
 *   - rows that fail the filter still route the search (the graph stays
 *     connected) but never enter the results; every visited row that
 *     passes is pushed into the caller's top-k;
 *   - the pool is widened to ef / selectivity (capped) so that about ef
 *     passing rows are explored near the query;
 *   - when few rows pass — fewer than the graph walk would measure anyway
 *     (about widened-ef * M distance computations) — the search switches
 *     to an exact scan of the passing rows, so recall stays high at any
 *     selectivity.
 *
 * `locked` variants (build time) copy a link list under the node's spin
 * lock before reading it, because other threads may be rewriting it.
 */
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"

#define HNSW_MAX_FILTER_EF 4096 /* cap of the widened pool */


/* The link list of node at level, copied under its lock when locked. */
static inline const uint32_t *read_links(const hnsw *h, uint32_t node,
                                         int level, bool locked,
                                         hnsw_scratch *s) {
  const uint32_t *l = hnsw_links(h, node, level);
  if (!locked)
    return l;
  hnsw_lock(h, node);
  uint32_t n = l[0];
  memcpy(s->nbuf, l, (n + 1) * sizeof(uint32_t));
  hnsw_unlock(h, node);
  return s->nbuf;
}

static inline float dist_to(const cairn_index *ix, const hnsw *h,
                            const hnsw_query *q, uint32_t node) {
  return hnsw_dist(ix, h, q, node);
}

void hnsw_greedy(const cairn_index *ix, const hnsw *h, const hnsw_query *q,
                 int level, bool locked, uint32_t *ep, float *dep,
                 hnsw_scratch *s) {
  bool changed = true;
  while (changed) {
    changed = false;
    const uint32_t *l = read_links(h, *ep, level, locked, s);
    uint32_t n = l[0];
    for (uint32_t j = 1; j <= n; j++)
      __builtin_prefetch(hnsw_row(ix, h, l[j]));
    for (uint32_t j = 1; j <= n; j++) {
      float d = dist_to(ix, h, q, l[j]);
      if (d < *dep) {
        *dep = d;
        *ep = l[j];
        changed = true;
      }
    }
  }
}

/* Inserts (d, id) into the sorted pool of size *size (capacity L); returns
 * the slot or L when it did not fit. */
static inline int pool_insert(hnsw_cand *pool, int *size, int L, float d,
                              uint32_t id) {
  int n = *size;
  if (n == L && d >= pool[L - 1].d)
    return L;
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (pool[mid].d <= d)
      lo = mid + 1;
    else
      hi = mid;
  }
  int move = (n == L ? L - 1 : n) - lo;
  if (move > 0)
    memmove(pool + lo + 1, pool + lo, (size_t)move * sizeof *pool);
  pool[lo].d = d;
  pool[lo].id = id;
  if (n < L)
    *size = n + 1;
  return lo;
}

static inline void prefetch_vec(const cairn_index *ix, const hnsw *h,
                                uint32_t node) {
  /* whole vector up to 512 bytes (glove-size rows arrive complete); for
   * longer rows the first lines start the hardware prefetcher's stream */
  const char *p = (const char *)hnsw_row(ix, h, node);
  size_t bytes = ix->dim * h->elem;
  size_t lim = bytes < 512 ? bytes : 256;
  for (size_t off = 0; off < lim; off += 64)
    __builtin_prefetch(p + off);
}

int hnsw_search_level(const cairn_index *ix, const hnsw *h, const hnsw_query *q,
                      uint32_t ep, float dep, int ef, int level, bool locked,
                      hnsw_scratch *s, const cairn_bitset *filter,
                      cairn_topk *top) {
  hnsw_cand *pool = s->pool;
  uint16_t *tag = s->tag, epoch = s->epoch;
  int size = 0;
  pool_insert(pool, &size, ef, dep, ep);
  tag[ep] = epoch;
  if (top != NULL && cairn_bitset_test(filter, ep))
    cairn_topk_push(top, dep, ep);
  int k = 0;
  while (k < size) {
    if (pool[k].id & HNSW_EXPANDED) {
      k++;
      continue;
    }
    uint32_t cur = pool[k].id;
    pool[k].id |= HNSW_EXPANDED;
    const uint32_t *l = read_links(h, cur, level, locked, s);
    if (k + 1 < size) /* the likely next expansion: fetch its links early */
      __builtin_prefetch(hnsw_links(h, pool[k + 1].id & ~HNSW_EXPANDED, level));
    /* phase 1: collect unvisited neighbours, prefetch them */
    uint32_t n = l[0], m = 0;
    for (uint32_t j = 1; j <= n; j++) {
      uint32_t nb = l[j];
      if (tag[nb] == epoch)
        continue;
      tag[nb] = epoch;
      s->fresh[m++] = nb;
      prefetch_vec(ix, h, nb);
    }
    /* phase 2: measure and insert */
    int nk = size;
    for (uint32_t j = 0; j < m; j++) {
      uint32_t nb = s->fresh[j];
      if (j + 1 < m)
        __builtin_prefetch(hnsw_row(ix, h, s->fresh[j + 1]) + 128);
      float d = dist_to(ix, h, q, nb);
      if (top != NULL && cairn_bitset_test(filter, nb))
        cairn_topk_push(top, d, nb);
      int r = pool_insert(pool, &size, ef, d, nb);
      if (r < nk)
        nk = r;
    }
    k = nk <= k ? nk : k + 1;
  }
  return size;
}

/* Exact scan of the rows that pass the filter. */
static void exact_filtered(const cairn_index *ix, const hnsw *h, const hnsw_query *q,
                           const cairn_bitset *filter, cairn_topk *top) {
  size_t lim = ix->n < filter->nbits ? ix->n : filter->nbits;
  for (size_t w = 0; w < lim; w += 64) {
    uint64_t word = 0;
    size_t nbytes = (lim - w + 7) / 8 < 8 ? (lim - w + 7) / 8 : 8;
    memcpy(&word, filter->bits + w / 8, nbytes);
    if (lim - w < 64)
      word &= (1ULL << (lim - w)) - 1;
    while (word) {
      uint32_t i = (uint32_t)(w + (size_t)__builtin_ctzll(word));
      word &= word - 1;
      cairn_topk_push(top, dist_to(ix, h, q, i), i);
    }
  }
}

/* For compact storage: the query as bytes when it is integral in [0, 255]
 * (*out stays NULL otherwise). False only when out of memory. */
static bool query_bytes(const cairn_index *ix, hnsw_scratch *s, const float *q,
                        const uint8_t **out) {
  *out = NULL;
  for (uint32_t j = 0; j < ix->dim; j++)
    if (!(q[j] >= 0.0f && q[j] <= 255.0f && q[j] == (float)(int)q[j]))
      return true;
  if (s->qbytes_cap < ix->dim) {
    free(s->qbytes);
    s->qbytes = malloc(ix->dim);
    s->qbytes_cap = s->qbytes ? ix->dim : 0;
    if (s->qbytes == NULL)
      return false;
  }
  for (uint32_t j = 0; j < ix->dim; j++)
    s->qbytes[j] = (uint8_t)q[j];
  *out = s->qbytes;
  return true;
}

cairn_status hnsw_search(const cairn_index *ix, const void *query,
                         const cairn_search_params *sp,
                         const cairn_bitset *filter, cairn_topk *top,
                         cairn_error *err) {
  const hnsw *h = ix->impl;
  hnsw_query qq = {query, NULL}, *q = &qq;
  if (ix->n == 0 || h->max_level < 0)
    return CAIRN_OK;
  int ef = sp->ef > 0 ? sp->ef : ix->params.ef > 0 ? ix->params.ef : 64;
  if (ef < top->k)
    ef = top->k;
  bool exact = false;
  if (filter != NULL) {
    size_t pass = cairn_bitset_count(filter, ix->n);
    if (pass == 0)
      return CAIRN_OK;
    double sel = (double)pass / (double)ix->n;
    double wide = ef / sel;
    int cap = ef > HNSW_MAX_FILTER_EF ? ef : HNSW_MAX_FILTER_EF;
    ef = wide > cap ? cap : (int)wide;
    exact = (double)pass <= (double)ef * h->M;
  }
  hnsw_scratch *s = hnsw_scratch_get(h, ix->n, (size_t)ef);
  if (s == NULL || (h->elem == 1 && !query_bytes(ix, s, qq.f, &qq.b))) {
    if (s != NULL)
      hnsw_scratch_put(h, s);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory for HNSW search");
  }
  if (exact) {
    exact_filtered(ix, h, q, filter, top);
    hnsw_scratch_put(h, s);
    return CAIRN_OK;
  }
  uint32_t ep = h->entry;
  float dep = dist_to(ix, h, q, ep);
  for (int l = h->max_level; l > 0; l--)
    hnsw_greedy(ix, h, q, l, false, &ep, &dep, s);
  if (filter != NULL) {
    hnsw_search_level(ix, h, q, ep, dep, ef, 0, false, s, filter, top);
  } else {
    int size = hnsw_search_level(ix, h, q, ep, dep, ef, 0, false, s, NULL, NULL);
    for (int i = 0; i < size && i < top->k; i++)
      cairn_topk_push(top, s->pool[i].d, s->pool[i].id & ~HNSW_EXPANDED);
  }
  hnsw_scratch_put(h, s);
  return CAIRN_OK;
}
