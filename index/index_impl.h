/*
 * index_impl.h — what every index type implements, and the helpers they
 * share (private to index/; callers use index.h).
 *
 * Layering: index.c owns everything common — names, parameter parsing and
 * validation, row ids (position -> id), conversion of caller vectors into
 * the internal form, result padding and score conversion, the file
 * container (index_io.c). A type only sees internal vectors and returns
 * *positions* with *internal distances*.
 *
 * Internal forms:
 *   - float field types: float32 rows; for COSINE the rows and queries are
 *     L2-normalised, so COSINE is computed as IP;
 *   - binary: dim/8 bytes per row;
 *   - sparse: cairn_sparse_row records.
 * Internal distance: smaller is better, always. L2 -> squared L2; IP and
 * COSINE -> negated inner product; HAMMING, JACCARD -> as is. index.c turns
 * it back into the Milvus score (negating again for IP/COSINE).
 *
 * Each type declares one `static const cairn_index_ops` with designated
 * initialisers; cairn_index_ops_for() maps a type to its table.
 */
#ifndef CAIRN_INDEX_IMPL_H
#define CAIRN_INDEX_IMPL_H

#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distance.h"
#include "index.h"
#include "index_io.h"

/* Build parameters with Milvus names; DEFAULT/MIN/MAX triples in index.c. */
typedef struct cairn_index_params {
  int M;               /* HNSW max neighbours per node on upper layers */
  int efConstruction;  /* HNSW build candidate list size */
  int ef;              /* HNSW default search ef (0: automatic) */
  int nlist;           /* IVF number of lists */
  int nprobe;          /* IVF default lists probed at search */
  int m;               /* IVF_PQ sub-quantisers (divides dim) */
  int nbits;           /* IVF_PQ bits per code (1..8) */
  float drop_ratio_build;  /* SPARSE: fraction of smallest row values dropped */
  float drop_ratio_search; /* SPARSE default at search */
} cairn_index_params;

/* One query's top-k accumulator: a max-heap on dist (worst at [0]). */
typedef struct cairn_topk {
  int k;
  int n;          /* entries held, <= k */
  float *dist;    /* k entries */
  uint32_t *pos;  /* k entries */
} cairn_topk;

typedef struct cairn_index_ops {
  cairn_index_type type;
  /* Allocates ix->impl for an empty index. */
  cairn_status (*init)(cairn_index *ix, cairn_error *err);
  /* Frees ix->impl and everything under it (impl may be NULL). */
  void (*destroy)(cairn_index *ix);
  /* Optional. vecs are internal rows. */
  cairn_status (*train)(cairn_index *ix, size_t n, const void *vecs,
                        cairn_error *err);
  /* Appends n internal rows at positions ix->n .. ix->n+n-1 (ix->n is
   * advanced by index.c after success). */
  cairn_status (*add)(cairn_index *ix, size_t n, const void *vecs,
                      cairn_error *err);
  /* One query (internal form); fills top (cleared by the caller). */
  cairn_status (*search)(const cairn_index *ix, const void *query,
                         const cairn_search_params *sp,
                         const cairn_bitset *filter, cairn_topk *top,
                         cairn_error *err);
  /* Optional: many queries at once (FLAT's blocked scan). tops[nq]. */
  cairn_status (*search_batch)(const cairn_index *ix, size_t nq,
                               const void *queries,
                               const cairn_search_params *sp,
                               const cairn_bitset *filter, cairn_topk *tops,
                               cairn_error *err);
  /* Bytes held by impl (ids are counted by index.c). */
  size_t (*memory)(const cairn_index *ix);
  /* Writes / reads impl's sections (after the common ones). */
  cairn_status (*save)(const cairn_index *ix, cairn_writer *w,
                       cairn_error *err);
  cairn_status (*load)(cairn_index *ix, cairn_reader *r, cairn_error *err);
} cairn_index_ops;

struct cairn_index {
  const cairn_index_ops *ops;
  cairn_index_type type;
  cairn_metric metric;
  cairn_data_type dtype;   /* field type the caller passes vectors in */
  uint32_t dim;            /* values per row (bits for binary; 0 sparse) */
  cairn_index_params params;
  const cairn_kernels *k;  /* kernel table chosen at creation */
  size_t n;                /* rows held */
  size_t cap_ids;
  int64_t *ids;            /* owned; ids[position] */
  bool trained;
  void *impl;              /* owned by ops */
};

const cairn_index_ops *cairn_index_ops_for(cairn_index_type type);
/* index.c: an empty index from already-validated parts (used by load,
 * which re-checks them since they come from a file). */
cairn_status cairn_index__new_raw(cairn_index_type type, cairn_metric metric,
                                  cairn_data_type dtype, uint32_t dim,
                                  const cairn_index_params *params,
                                  cairn_index **out, cairn_error *err);

extern const cairn_index_ops cairn_flat_ops;
extern const cairn_index_ops cairn_bin_flat_ops;
extern const cairn_index_ops cairn_hnsw_ops;
extern const cairn_index_ops cairn_ivf_flat_ops;
extern const cairn_index_ops cairn_ivf_sq8_ops;
extern const cairn_index_ops cairn_ivf_pq_ops;
extern const cairn_index_ops cairn_bin_ivf_flat_ops;
extern const cairn_index_ops cairn_sparse_ops;

/* ---- shared helpers ----------------------------------------------------- */

static inline bool cairn_bitset_test(const cairn_bitset *f, size_t pos) {
  if (f == NULL)
    return true;
  return pos < f->nbits && ((f->bits[pos >> 3] >> (pos & 7)) & 1);
}

/* Rows that pass the filter among the first n positions. */
size_t cairn_bitset_count(const cairn_bitset *f, size_t n);

/* top-k heap (topk.c) */
cairn_status cairn_topk_init(cairn_topk *t, int k);
void cairn_topk_destroy(cairn_topk *t);
void cairn_topk_clear(cairn_topk *t);
/* Worst distance held, or +FLT_MAX while not full. */
static inline float cairn_topk_bound(const cairn_topk *t) {
  return t->n < t->k ? FLT_MAX : t->dist[0];
}
void cairn_topk_push_slow(cairn_topk *t, float dist, uint32_t pos);
static inline void cairn_topk_push(cairn_topk *t, float dist, uint32_t pos) {
  if (t->n < t->k || dist <= t->dist[0])
    cairn_topk_push_slow(t, dist, pos);
}
/* Sorts the held entries best first (ties: smaller position first);
 * the heap property is lost. */
void cairn_topk_sort(cairn_topk *t);

/* Internal distance of two float rows for the index's metric. */
static inline float cairn_fdist(const cairn_index *ix, const float *a,
                                const float *b) {
  return ix->metric == CAIRN_METRIC_L2 ? ix->k->l2_f32(a, b, ix->dim)
                                       : -ix->k->ip_f32(a, b, ix->dim);
}
/* Batched form: out[i] = internal distance of q and rows[i]. */
static inline void cairn_fdist_batch(const cairn_index *ix, const float *q,
                                     const float *rows, size_t n, float *out) {
  if (ix->metric == CAIRN_METRIC_L2) {
    ix->k->l2_f32_batch(q, rows, n, ix->dim, out);
  } else {
    ix->k->ip_f32_batch(q, rows, n, ix->dim, out);
    for (size_t i = 0; i < n; i++)
      out[i] = -out[i];
  }
}
/* Internal distance of two binary rows. */
static inline float cairn_bdist(const cairn_index *ix, const uint8_t *a,
                                const uint8_t *b) {
  size_t nb = ix->dim / 8;
  return ix->metric == CAIRN_METRIC_HAMMING ? (float)ix->k->hamming(a, b, nb)
                                            : ix->k->jaccard(a, b, nb);
}

/* Bytes per internal row of a float or binary index. */
static inline size_t cairn_row_bytes(const cairn_index *ix) {
  return ix->dtype == CAIRN_TYPE_BINARY_VECTOR ? ix->dim / 8
                                               : ix->dim * sizeof(float);
}

/* k-means on float rows (kmeans.c): k centroids of dim d from n rows,
 * k-means++ initialisation on a sample of at most max(k*256, 10000) rows,
 * `iters` Lloyd iterations, seeded. centroids: k*d floats, caller-owned. */
cairn_status cairn_kmeans(const float *x, size_t n, size_t d, size_t k,
                          int iters, uint64_t seed, bool spherical,
                          float *centroids, cairn_error *err);
/* Nearest centroid by squared L2 (or max IP when ip) for each of n rows. */
void cairn_kmeans_assign(const cairn_kernels *kt, const float *x, size_t n,
                         size_t d, const float *centroids, size_t k, bool ip,
                         uint32_t *assign);

/* Small deterministic PRNG (splitmix64). */
static inline uint64_t cairn_rand_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Number of worker threads for parallel build (online CPUs, >= 1). */
int cairn_index_threads(void);

#endif
