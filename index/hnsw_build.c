/*
 * hnsw_build.c — building an HNSW graph: insertion of one node (Algorithm 1
 * of the paper) with the neighbour-selection heuristic (Algorithm 4), and
 * the parallel add that runs insertions on every core.
 *
 * Phases of hnsw_add:
 *   1. grow the arrays (doubling) and copy the new vectors in;
 *   2. draw every new node's level sequentially from the seeded generator
 *      (so levels do not depend on thread timing) and allocate its upper
 *      link lists;
 *   3. if the graph was empty, make the first new node the entry point;
 *   4. insert the remaining nodes from a shared atomic cursor on all
 *      threads (cairn_index_threads()).
 *
 * Locking rule: a node's link lists are only read (copied) or written
 * under its spin lock, and a thread never holds two node locks at once —
 * the reverse-link update computes distances under the neighbour's lock
 * but takes no other. The entry point and top level are read under
 * `global`; an insertion whose level exceeds the current top keeps
 * `global` for its whole duration (as hnswlib does), so the entry point
 * changes only once that node is fully linked.
 *
 * Build results depend on thread interleaving (like every parallel HNSW
 * build); with one thread the graph is deterministic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"

/* Graphs smaller than this after an add are built on one thread. */
#define HNSW_PARALLEL_MIN_NODES 10000

typedef struct build_ctx {
  cairn_index *ix;
  hnsw *h;
  size_t begin, end;        /* positions to insert */
  size_t next;              /* atomic cursor */
  cairn_status st;          /* first failure (atomic-ish, set once) */
} build_ctx;

/* Heuristic neighbour selection (Algorithm 4, no extension, no keeping of
 * pruned connections, as hnswlib): walk candidates nearest first, keep
 * one unless it is closer to an already kept neighbour than to the base.
 * cand[0..n) sorted ascending; the kept ones are compacted to the front;
 * returns how many were kept (<= max). */
static int select_heuristic(const cairn_index *ix, const hnsw *h,
                            hnsw_cand *cand, int n, int max) {
  if (n <= max)
    return n;
  int kept = 0;
  for (int i = 0; i < n && kept < max; i++) {
    uint32_t c = cand[i].id & ~HNSW_EXPANDED;
    hnsw_query qc = hnsw_node_query(ix, h, c);
    bool good = true;
    for (int j = 0; j < kept; j++)
      if (hnsw_dist(ix, h, &qc, cand[j].id) < cand[i].d) {
        good = false;
        break;
      }
    if (good) {
      cand[kept].d = cand[i].d;
      cand[kept].id = c;
      kept++;
    }
  }
  return kept;
}

static int cmp_cand(const void *a, const void *b) {
  const hnsw_cand *x = a, *y = b;
  return x->d < y->d ? -1 : x->d > y->d ? 1 : 0;
}

/* Adds a link node -> cur at level, shrinking node's list with the
 * heuristic when full. */
static void add_reverse(const cairn_index *ix, hnsw *h, uint32_t node,
                        uint32_t cur, int level, hnsw_cand *tmp) {
  uint32_t cap = level == 0 ? h->M0 : h->M;
  hnsw_lock(h, node);
  uint32_t *l = hnsw_links(h, node, level);
  uint32_t n = l[0];
  for (uint32_t j = 1; j <= n; j++)
    if (l[j] == cur) {
      hnsw_unlock(h, node);
      return;
    }
  if (n < cap) {
    l[n + 1] = cur;
    l[0] = n + 1;
    hnsw_unlock(h, node);
    return;
  }
  hnsw_query vn = hnsw_node_query(ix, h, node);
  for (uint32_t j = 0; j < n; j++) {
    tmp[j].id = l[j + 1];
    tmp[j].d = hnsw_dist(ix, h, &vn, l[j + 1]);
  }
  tmp[n].id = cur;
  tmp[n].d = hnsw_dist(ix, h, &vn, cur);
  qsort(tmp, n + 1, sizeof *tmp, cmp_cand);
  int kept = select_heuristic(ix, h, tmp, (int)n + 1, (int)cap);
  for (int j = 0; j < kept; j++)
    l[j + 1] = tmp[j].id;
  l[0] = (uint32_t)kept;
  hnsw_unlock(h, node);
}

/* Links node cur into the graph (Algorithm 1). */
static void insert_node(const cairn_index *ix, hnsw *h, uint32_t cur,
                        hnsw_scratch *s, hnsw_cand *tmp) {
  hnsw_query qq = hnsw_node_query(ix, h, cur), *q = &qq;
  int level = h->levels[cur];
  pthread_mutex_lock(&h->global);
  int top = h->max_level;
  uint32_t ep = h->entry;
  bool hold = level > top;
  if (!hold)
    pthread_mutex_unlock(&h->global);
  float dep = hnsw_dist(ix, h, q, ep);
  for (int l = top; l > level; l--)
    hnsw_greedy(ix, h, q, l, true, &ep, &dep, s);
  int efc = ix->params.efConstruction;
  for (int l = level < top ? level : top; l >= 0; l--) {
    if (++s->epoch == 0) {
      memset(s->tag, 0, s->tag_cap * sizeof(uint16_t));
      s->epoch = 1;
    }
    s->tag[cur] = s->epoch; /* never link to itself */
    int size = hnsw_search_level(ix, h, q, ep, dep, efc, l, true, s, NULL, NULL);
    ep = s->pool[0].id & ~HNSW_EXPANDED;
    dep = s->pool[0].d;
    for (int i = 0; i < size; i++)
      s->pool[i].id &= ~HNSW_EXPANDED;
    int kept = select_heuristic(ix, h, s->pool, size, (int)h->M);
    hnsw_lock(h, cur);
    uint32_t *mine = hnsw_links(h, cur, l);
    for (int i = 0; i < kept; i++)
      mine[i + 1] = s->pool[i].id;
    mine[0] = (uint32_t)kept;
    hnsw_unlock(h, cur);
    for (int i = 0; i < kept; i++)
      add_reverse(ix, h, s->pool[i].id, cur, l, tmp);
  }
  if (hold) {
    h->entry = cur;
    h->max_level = level;
    pthread_mutex_unlock(&h->global);
  }
}

static void *build_worker(void *arg) {
  build_ctx *c = arg;
  hnsw *h = c->h;
  size_t pool = (size_t)c->ix->params.efConstruction;
  hnsw_scratch *s = hnsw_scratch_get(h, c->end, pool);
  hnsw_cand *tmp = malloc((h->M0 + 2) * sizeof *tmp);
  if (s == NULL || tmp == NULL) {
    c->st = CAIRN_NOMEM;
    free(tmp);
    if (s)
      hnsw_scratch_put(h, s);
    return NULL;
  }
  for (;;) {
    size_t i = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
    if (i >= c->end)
      break;
    insert_node(c->ix, h, (uint32_t)i, s, tmp);
  }
  free(tmp);
  hnsw_scratch_put(h, s);
  return NULL;
}

/* Whether every value is an integer in [0, 255] (compact storage ok). */
static bool all_bytes(const cairn_index *ix, const float *x, size_t n) {
  if (ix->metric == CAIRN_METRIC_COSINE) /* normalised: never integral */
    return false;
  const char *off = getenv("CAIRN_HNSW_NO_COMPACT");
  if (off != NULL && off[0] == '1')
    return false;
  for (size_t i = 0; i < n * ix->dim; i++)
    if (!(x[i] >= 0.0f && x[i] <= 255.0f && x[i] == (float)(int)x[i]))
      return false;
  return true;
}

/* uint8 storage -> float32 storage (values unchanged). */
static cairn_status widen(cairn_index *ix, hnsw *h, cairn_error *err) {
  size_t d = ix->dim, cap = h->cap ? h->cap : 1;
  float *v = aligned_alloc(64, (cap * d * sizeof(float) + 63) / 64 * 64);
  if (v == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory widening HNSW storage");
  for (size_t i = 0; i < ix->n * d; i++)
    v[i] = (float)h->vecs[i];
  free(h->vecs);
  h->vecs = (uint8_t *)v;
  h->elem = 4;
  return CAIRN_OK;
}

static void store(const cairn_index *ix, hnsw *h, size_t begin, size_t n,
                  const float *x) {
  size_t d = ix->dim;
  if (h->elem == 4) {
    memcpy(h->vecs + begin * d * 4, x, n * d * sizeof(float));
    return;
  }
  for (size_t i = 0; i < n * d; i++)
    h->vecs[begin * d + i] = (uint8_t)x[i];
}

static int draw_level(hnsw *h) {
  double u = ((double)(cairn_rand_next(&h->rng) >> 11) + 1.0) / 9007199254740993.0;
  int l = (int)(-log(u) * h->level_mult);
  return l > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : l;
}

cairn_status hnsw_add(cairn_index *ix, size_t n, const void *vecs,
                      cairn_error *err) {
  hnsw *h = ix->impl;
  size_t begin = ix->n, end = ix->n + n;
  if (end >= HNSW_EXPANDED)
    return cairn_error_set(err, CAIRN_TOO_LARGE, "HNSW holds at most 2^31-1 rows");
  /* phase 1 */
  size_t cap = h->cap;
  if (cap < end) /* exact on the first add, then grow by half */
    cap = h->cap == 0 ? end : (end > cap + cap / 2 ? end : cap + cap / 2);
  bool bytes = all_bytes(ix, vecs, n);
  if (begin == 0 && h->cap == 0)
    h->elem = bytes ? 1 : 4;
  else if (h->elem == 1 && !bytes && widen(ix, h, err) != CAIRN_OK)
    return CAIRN_NOMEM;
  cairn_status st = hnsw_reserve(ix, h, cap, err);
  if (st != CAIRN_OK)
    return st;
  store(ix, h, begin, n, vecs);
  /* phase 2 */
  for (size_t i = begin; i < end; i++) {
    int l = draw_level(h);
    h->levels[i] = (uint8_t)l;
    memset(h->links0 + i * (h->M0 + 1), 0, (h->M0 + 1) * sizeof(uint32_t));
    h->locks[i] = 0;
    h->upper[i] = NULL;
    h->ninit = i + 1;
    if (l > 0) {
      h->upper[i] = calloc((size_t)l * (h->M + 1), sizeof(uint32_t));
      if (h->upper[i] == NULL)
        return cairn_error_set(err, CAIRN_NOMEM, "out of memory for HNSW levels");
    }
  }
  /* phase 3 */
  if (h->max_level < 0) {
    h->entry = (uint32_t)begin;
    h->max_level = h->levels[begin];
    begin++;
  }
  /* phase 4 */
  build_ctx c = {.ix = ix, .h = h, .begin = begin, .end = end, .next = begin,
                 .st = CAIRN_OK};
  /* Small graphs are built on one thread: threads cost more than they
   * save there, and in a graph of a few thousand nodes every insertion
   * rewires the same hubs, so parallel interleaving shows in its quality
   * (recall of a 300-row build varied from 0.94 to 1.00 between runs).
   * One thread also makes small builds deterministic. */
  int nt = end < HNSW_PARALLEL_MIN_NODES ? 1 : cairn_index_threads();
  if ((size_t)nt > end - begin)
    nt = (int)(end - begin);
  pthread_t th[256];
  if (nt > 256)
    nt = 256;
  int started = 0;
  for (int t = 1; t < nt; t++)
    if (pthread_create(&th[started], NULL, build_worker, &c) == 0)
      started++;
  if (end > begin)
    build_worker(&c);
  for (int t = 0; t < started; t++)
    pthread_join(th[t], NULL);
  if (c.st != CAIRN_OK)
    return cairn_error_set(err, c.st, "out of memory building HNSW");
  return CAIRN_OK;
}
