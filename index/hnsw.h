/*
 * hnsw.h — HNSW graph index (Malkov & Yashunin, "Efficient and robust
 * approximate nearest neighbor search using Hierarchical Navigable Small
 * World graphs", 2016), private to index/.
 *
 * Files by lifecycle: hnsw.c (life cycle, memory, vtable), hnsw_build.c
 * (insertion, parallel build), hnsw_search.c (layer search, queries,
 * filtered search), hnsw_io.c (file sections and their checks).
 *
 * Memory layout (compact, no per-node allocation on level 0):
 *   vecs    cap * dim values, position order (64-byte aligned block):
 *           float32, or — lossless compact storage — uint8 when every
 *           value added so far is an integer in [0, 255] and the metric is
 *           not COSINE (e.g. image pixels widened to float). Distances are
 *           then computed from the bytes (float query against uint8 row),
 *           with exactly the same values; a later add with other values
 *           widens the storage back to float32. CAIRN_HNSW_NO_COMPACT=1 in
 *           the environment turns this off (for A/B measurements).
 *   links0  cap * (1 + M0) u32: [count][up to M0 neighbour positions]
 *   levels  cap bytes: top level of each node
 *   upper   cap pointers; upper[i] = levels[i] * (1 + M) u32 for levels
 *           1..levels[i] (NULL for level-0 nodes), same [count][ids] form
 *   locks   cap bytes: per-node spin lock, taken only while building
 * M0 = 2*M as in the paper. Positions are < 2^31 (the top bit of a pool
 * entry marks "expanded").
 *
 * Threading: build (hnsw_build.c) runs insertions on all cores; a node's
 * link lists are read and written under its spin lock, the entry point
 * and top level under `global`. Queries run concurrently with each other
 * without locks (no writer may run then); each takes a scratch (visited
 * tags, candidate pool) from a mutex-protected free list.
 */
#ifndef CAIRN_HNSW_H
#define CAIRN_HNSW_H

#include <pthread.h>
#include <stdint.h>

#include "index_impl.h"

#define HNSW_MAX_LEVEL 31
#define HNSW_EXPANDED 0x80000000u

typedef struct hnsw_cand {
  float d;
  uint32_t id; /* position, | HNSW_EXPANDED once expanded */
} hnsw_cand;

/* Per-search scratch, recycled through hnsw.scratch_free. */
typedef struct hnsw_scratch {
  uint16_t *tag;       /* visited tags per position */
  size_t tag_cap;
  uint16_t epoch;      /* tag value meaning "visited in this search" */
  hnsw_cand *pool;     /* sorted candidate pool */
  size_t pool_cap;
  uint32_t *nbuf;      /* neighbour buffer (copy of a link list) */
  uint32_t *fresh;     /* unvisited neighbours of the node being expanded */
  uint8_t *qbytes;     /* the query as uint8 (compact storage), dim bytes */
  size_t qbytes_cap;
  struct hnsw_scratch *next;
} hnsw_scratch;

typedef struct hnsw {
  uint32_t M, M0;      /* max links on upper levels / on level 0 */
  double level_mult;   /* 1 / ln(M) */
  uint8_t *vecs;       /* cap * dim * elem bytes */
  uint32_t elem;       /* bytes per stored value: 4 (float32) or 1 (uint8) */
  uint32_t *links0;
  uint8_t *levels;
  uint32_t **upper;
  uint8_t *locks;
  size_t cap;          /* nodes allocated */
  size_t ninit;        /* slots whose levels/upper/locks are initialised */
  uint32_t entry;      /* entry point (valid when max_level >= 0) */
  int max_level;       /* -1 while empty */
  uint64_t rng;        /* level generator state (seeded) */
  pthread_mutex_t global;       /* guards entry, max_level while building */
  pthread_mutex_t scratch_lock; /* guards scratch_free */
  hnsw_scratch *scratch_free;
} hnsw;

static inline uint32_t *hnsw_links(const hnsw *h, uint32_t node, int level) {
  return level == 0 ? h->links0 + (size_t)node * (h->M0 + 1)
                    : h->upper[node] + (size_t)(level - 1) * (h->M + 1);
}

static inline const uint8_t *hnsw_row(const cairn_index *ix, const hnsw *h,
                                     uint32_t node) {
  return h->vecs + (size_t)node * ix->dim * h->elem;
}

/* A query as the distance code sees it: float32 values, and for compact
 * storage also their uint8 form when they are all integers in [0, 255]
 * (then distances are computed exactly in integers). */
typedef struct hnsw_query {
  const float *f;   /* NULL when only bytes are known (build time) */
  const uint8_t *b; /* NULL unless elem == 1 and the query is integral */
} hnsw_query;

/* Internal distance of a query to a stored node. */
static inline float hnsw_dist(const cairn_index *ix, const hnsw *h,
                              const hnsw_query *q, uint32_t node) {
  const uint8_t *r = hnsw_row(ix, h, node);
  bool l2 = ix->metric == CAIRN_METRIC_L2;
  if (h->elem == 4)
    return cairn_fdist(ix, q->f, (const float *)(const void *)r);
  if (q->b != NULL)
    return l2 ? ix->k->l2_u8(q->b, r, ix->dim) : -ix->k->ip_u8(q->b, r, ix->dim);
  return l2 ? ix->k->l2_f32_u8(q->f, r, ix->dim) : -ix->k->ip_f32_u8(q->f, r, ix->dim);
}

/* The query form of a stored node (no copy). */
static inline hnsw_query hnsw_node_query(const cairn_index *ix, const hnsw *h,
                                         uint32_t node) {
  const uint8_t *r = hnsw_row(ix, h, node);
  hnsw_query q = {NULL, NULL};
  if (h->elem == 4)
    q.f = (const float *)(const void *)r;
  else
    q.b = r;
  return q;
}

#if defined(__x86_64__)
#define HNSW_PAUSE() __builtin_ia32_pause()
#else
#define HNSW_PAUSE() ((void)0)
#endif

/* Per-node spin lock (build time only). */
static inline void hnsw_lock(const hnsw *h, uint32_t node) {
  uint8_t *l = &h->locks[node];
  while (__atomic_test_and_set(l, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(l, __ATOMIC_RELAXED))
      HNSW_PAUSE();
}
static inline void hnsw_unlock(const hnsw *h, uint32_t node) {
  __atomic_clear(&h->locks[node], __ATOMIC_RELEASE);
}

/* hnsw.c */
cairn_status hnsw_reserve(cairn_index *ix, hnsw *h, size_t cap,
                          cairn_error *err);
hnsw_scratch *hnsw_scratch_get(const hnsw *h, size_t n, size_t pool);
void hnsw_scratch_put(const hnsw *h, hnsw_scratch *s);

/* hnsw_search.c */
/* Greedy descent on one upper level from *ep (distance *dep). */
void hnsw_greedy(const cairn_index *ix, const hnsw *h, const hnsw_query *q,
                 int level, bool locked, uint32_t *ep, float *dep,
                 hnsw_scratch *s);
/* Beam search of one level from ep with a pool of ef; returns the pool
 * size; the pool (s->pool) is sorted nearest first. When top is given,
 * every visited node that passes filter is also pushed into it. */
int hnsw_search_level(const cairn_index *ix, const hnsw *h, const hnsw_query *q,
                      uint32_t ep, float dep, int ef, int level, bool locked,
                      hnsw_scratch *s, const cairn_bitset *filter,
                      cairn_topk *top);
cairn_status hnsw_search(const cairn_index *ix, const void *query,
                         const cairn_search_params *sp,
                         const cairn_bitset *filter, cairn_topk *top,
                         cairn_error *err);

/* hnsw_build.c */
cairn_status hnsw_add(cairn_index *ix, size_t n, const void *vecs,
                      cairn_error *err);

/* hnsw_io.c */
cairn_status hnsw_save(const cairn_index *ix, cairn_writer *w,
                       cairn_error *err);
cairn_status hnsw_load(cairn_index *ix, cairn_reader *r, cairn_error *err);

#endif
