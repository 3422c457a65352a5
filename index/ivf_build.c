/*
 * ivf_build.c — training and filling the IVF indexes (layout in ivf.h).
 *
 * train: k-means (kmeans.c) on the rows given, nlist centroids
 * (spherical for IP/COSINE); then SQ8 ranges or PQ codebooks from the
 * residuals (row - nearest centroid) of the same sample. If fewer rows than nlist are given, centroids repeat rows
 * (lists may stay empty — harmless). BIN_IVF_FLAT trains binary centroids
 * by Hamming k-means with bitwise-majority updates, seeded from distinct
 * random rows.
 *
 * add: assign every row to its nearest centroid (parallel), encode, append
 * to the list (arrays grow by doubling).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ivf.h"

#define IVF_KMEANS_ITERS 10
#define PQ_TRAIN_MAX 65536
#define BIN_KMEANS_ITERS 8
#define SQ8_TRAIN_MAX 65536
#define SQ8_TRIM 0.001 /* quantile cut at each end of the residual ranges */

static bool is_bin(const cairn_index *ix) { return ix->type == CAIRN_INDEX_BIN_IVF_FLAT; }
static bool use_ip(const cairn_index *ix) { return ix->metric == CAIRN_METRIC_IP || ix->metric == CAIRN_METRIC_COSINE; }

static cairn_status ivf_init(cairn_index *ix, cairn_error *err) {
  ivf *v = calloc(1, sizeof *v);
  if (v == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  ix->impl = v;
  v->nlist = (uint32_t)ix->params.nlist;
  v->lists = calloc(v->nlist, sizeof *v->lists);
  if (v->lists == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  switch (ix->type) {
  case CAIRN_INDEX_IVF_FLAT: v->code_size = ix->dim * sizeof(float); break;
  case CAIRN_INDEX_IVF_SQ8: v->code_size = ix->dim; break;
  case CAIRN_INDEX_IVF_PQ:
    v->m = (uint32_t)ix->params.m;
    v->ksub = 1u << ix->params.nbits;
    v->dsub = ix->dim / v->m;
    v->code_size = v->m;
    break;
  default: v->code_size = ix->dim / 8; break;
  }
  return CAIRN_OK;
}

static void ivf_destroy(cairn_index *ix) {
  ivf *v = ix->impl;
  if (v == NULL)
    return;
  for (uint32_t l = 0; v->lists && l < v->nlist; l++) {
    free(v->lists[l].pos);
    free(v->lists[l].codes);
  }
  free(v->lists);
  free(v->centroids);
  free(v->bcentroids);
  free(v->vmin);
  free(v->vdiff);
  free(v->codebooks);
  free(v->pq_pre);
  free(v);
  ix->impl = NULL;
}

void ivf_assign(const cairn_index *ix, const ivf *v, const void *rows,
                size_t n, uint32_t *out) {
  if (!is_bin(ix)) {
    cairn_kmeans_assign(ix->k, rows, n, ix->dim, v->centroids, v->nlist,
                        use_ip(ix), out);
    return;
  }
  size_t nb = ix->dim / 8;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *r = (const uint8_t *)rows + i * nb;
    float best = FLT_MAX;
    for (uint32_t c = 0; c < v->nlist; c++) {
      float d = cairn_bdist(ix, r, v->bcentroids + c * nb);
      if (d < best) {
        best = d;
        out[i] = c;
      }
    }
  }
}

/* Binary k-means: Hamming/Jaccard assignment, bitwise-majority update. */
static cairn_status train_binary(cairn_index *ix, ivf *v, size_t n,
                                 const uint8_t *x, cairn_error *err) {
  size_t nb = ix->dim / 8, k = v->nlist;
  uint64_t rng = 1234;
  v->bcentroids = malloc(k * nb);
  uint32_t *assign = malloc(n * sizeof(uint32_t));
  uint32_t *ones = malloc(k * ix->dim * sizeof(uint32_t));
  uint32_t *cnt = malloc(k * sizeof(uint32_t));
  cairn_status st = CAIRN_OK;
  if (v->bcentroids == NULL || assign == NULL || ones == NULL || cnt == NULL) {
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
    goto done;
  }
  for (size_t c = 0; c < k; c++)
    memcpy(v->bcentroids + c * nb, x + (n > k ? cairn_rand_next(&rng) % n : c % n) * nb, nb);
  for (int it = 0; it < BIN_KMEANS_ITERS; it++) {
    ivf_assign(ix, v, x, n, assign);
    memset(ones, 0, k * ix->dim * sizeof(uint32_t));
    memset(cnt, 0, k * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
      cnt[assign[i]]++;
      for (size_t b = 0; b < ix->dim; b++)
        ones[assign[i] * ix->dim + b] += (x[i * nb + b / 8] >> (b % 8)) & 1;
    }
    for (size_t c = 0; c < k; c++) {
      if (cnt[c] == 0)
        continue;
      uint8_t *cc = v->bcentroids + c * nb;
      memset(cc, 0, nb);
      for (size_t b = 0; b < ix->dim; b++)
        if (2 * ones[c * ix->dim + b] > cnt[c])
          cc[b / 8] |= (uint8_t)(1u << (b % 8));
    }
  }
done:
  free(assign);
  free(ones);
  free(cnt);
  return st;
}

/* k-th smallest of a[0..n) (a is reordered); quickselect, n > k. */
static float select_kth(float *a, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    float piv = a[lo + (hi - lo) / 2];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < piv)
        i++;
      while (a[j] > piv)
        j--;
      if (i <= j) {
        float t = a[i];
        a[i++] = a[j];
        a[j] = t;
        if (j == 0)
          break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return a[k];
  }
  return a[k];
}

/* SQ8 ranges: per dimension the SQ8_TRIM .. 1-SQ8_TRIM quantiles of the
 * residuals (row - its centroid) of the first SQ8_TRAIN_MAX sample rows. */
static cairn_status train_sq8(const cairn_index *ix, ivf *v, size_t n,
                              const float *x, cairn_error *err) {
  size_t d = ix->dim, m = n < SQ8_TRAIN_MAX ? n : SQ8_TRAIN_MAX;
  double trim = SQ8_TRIM; /* trimming 0 gave the same glove recall (0.9415
                             at nprobe 40); kept for outlier-heavy data */
  uint32_t *assign = malloc(m * sizeof(uint32_t));
  float *col = malloc(m * sizeof(float));
  if (assign == NULL || col == NULL) {
    free(assign);
    free(col);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  ivf_assign(ix, v, x, m, assign);
  size_t klo = (size_t)(trim * (double)(m - 1));
  size_t khi = m - 1 - klo;
  for (size_t j = 0; j < d; j++) {
    for (size_t i = 0; i < m; i++)
      col[i] = x[i * d + j] - v->centroids[(size_t)assign[i] * d + j];
    float lo = select_kth(col, m, klo), hi = select_kth(col, m, khi);
    v->vmin[j] = lo;
    v->vdiff[j] = hi > lo ? hi - lo : 1.0f;
  }
  free(assign);
  free(col);
  return CAIRN_OK;
}

static cairn_status train_pq(const cairn_index *ix, ivf *v, size_t n,
                             const float *x, cairn_error *err) {
  size_t d = ix->dim, m = n < PQ_TRAIN_MAX ? n : PQ_TRAIN_MAX;
  float *res = malloc(m * d * sizeof(float)), *sub = malloc(m * v->dsub * sizeof(float));
  uint32_t *assign = malloc(m * sizeof(uint32_t));
  cairn_status st = CAIRN_OK;
  if (res == NULL || sub == NULL || assign == NULL) {
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
    goto done;
  }
  /* the first m rows (train input is already a sample), as residuals */
  ivf_assign(ix, v, x, m, assign);
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < d; j++)
      res[i * d + j] = x[i * d + j] - v->centroids[assign[i] * d + j];
  for (uint32_t s = 0; s < v->m && st == CAIRN_OK; s++) {
    for (size_t i = 0; i < m; i++)
      memcpy(sub + i * v->dsub, res + i * d + s * v->dsub, v->dsub * sizeof(float));
    st = cairn_kmeans(sub, m, v->dsub, v->ksub, IVF_KMEANS_ITERS, 7 + s, false,
                      v->codebooks + (size_t)s * v->ksub * v->dsub, err);
  }
done:
  free(res);
  free(sub);
  free(assign);
  return st;
}

cairn_status ivf_pq_precompute(const cairn_index *ix, ivf *v) {
  free(v->pq_pre);
  v->pq_pre = NULL;
  if (ix->metric != CAIRN_METRIC_L2 || v->codebooks == NULL || v->centroids == NULL)
    return CAIRN_OK;
  size_t per_list = (size_t)v->m * v->ksub;
  v->pq_pre = malloc((size_t)v->nlist * per_list * sizeof(float));
  float *norms = malloc(per_list * sizeof(float));
  if (v->pq_pre == NULL || norms == NULL) {
    free(norms);
    free(v->pq_pre);
    v->pq_pre = NULL;
    return CAIRN_NOMEM;
  }
  for (uint32_t s = 0; s < v->m; s++)
    for (uint32_t c = 0; c < v->ksub; c++) {
      const float *cb = v->codebooks + ((size_t)s * v->ksub + c) * v->dsub;
      norms[(size_t)s * v->ksub + c] = ix->k->ip_f32(cb, cb, v->dsub);
    }
  for (uint32_t l = 0; l < v->nlist; l++) {
    float *t = v->pq_pre + (size_t)l * per_list;
    const float *cent = v->centroids + (size_t)l * ix->dim;
    for (uint32_t s = 0; s < v->m; s++)
      ix->k->ip_f32_batch(cent + (size_t)s * v->dsub,
                          v->codebooks + (size_t)s * v->ksub * v->dsub, v->ksub,
                          v->dsub, t + (size_t)s * v->ksub);
    for (size_t i = 0; i < per_list; i++)
      t[i] = norms[i] + 2 * t[i];
  }
  free(norms);
  return CAIRN_OK;
}

static cairn_status ivf_train(cairn_index *ix, size_t n, const void *vecs,
                              cairn_error *err) {
  ivf *v = ix->impl;
  if (is_bin(ix))
    return train_binary(ix, v, n, vecs, err);
  size_t d = ix->dim;
  free(v->centroids);
  v->centroids = malloc(v->nlist * d * sizeof(float));
  if (v->centroids == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = cairn_kmeans(vecs, n, d, v->nlist, IVF_KMEANS_ITERS, 42,
                                 ix->metric == CAIRN_METRIC_COSINE, v->centroids, err);
  if (st != CAIRN_OK)
    return st;
  if (ix->type == CAIRN_INDEX_IVF_SQ8) {
    free(v->vmin);
    free(v->vdiff);
    v->vmin = malloc(d * sizeof(float));
    v->vdiff = malloc(d * sizeof(float));
    if (v->vmin == NULL || v->vdiff == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    v->sq8_raw = false;
    st = train_sq8(ix, v, n, vecs, err);
  } else if (ix->type == CAIRN_INDEX_IVF_PQ) {
    v->codebooks = malloc((size_t)v->m * v->ksub * v->dsub * sizeof(float));
    if (v->codebooks == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    st = train_pq(ix, v, n, vecs, err);
    if (st == CAIRN_OK && ivf_pq_precompute(ix, v) != CAIRN_OK)
      st = cairn_error_set(err, CAIRN_NOMEM, "out of memory for PQ tables");
  }
  return st;
}

/* Encodes one row (internal form) for list l into out. */
static void encode(const cairn_index *ix, const ivf *v, const void *row,
                   uint32_t l, uint8_t *out, float *r) {
  const float *x = row;
  size_t d = ix->dim;
  if (ix->type == CAIRN_INDEX_IVF_SQ8) {
    const float *cent = v->centroids + (size_t)l * d;
    for (size_t j = 0; j < d; j++) {
      float rj = v->sq8_raw ? x[j] : x[j] - cent[j];
      float c = (rj - v->vmin[j]) / v->vdiff[j] * 255.0f;
      c = c < 0 ? 0 : c > 255 ? 255 : c;
      out[j] = (uint8_t)lrintf(c);
    }
  } else if (ix->type == CAIRN_INDEX_IVF_PQ) {
    const float *cent = v->centroids + (size_t)l * d;
    for (uint32_t s = 0; s < v->m; s++) {
      size_t off = (size_t)s * v->dsub;
      for (uint32_t j = 0; j < v->dsub; j++)
        r[j] = x[off + j] - cent[off + j];
      const float *cb = v->codebooks + (size_t)s * v->ksub * v->dsub;
      float best = FLT_MAX;
      for (uint32_t c = 0; c < v->ksub; c++) {
        float dd = ix->k->l2_f32(r, cb + (size_t)c * v->dsub, v->dsub);
        if (dd < best) {
          best = dd;
          out[s] = (uint8_t)c;
        }
      }
    }
  } else {
    memcpy(out, row, v->code_size);
  }
}

static cairn_status list_push(ivf_list *L, size_t cs, uint32_t pos,
                              const uint8_t *code) {
  if (L->n == L->cap) {
    uint32_t cap = L->cap ? L->cap * 2 : 16;
    uint32_t *p = realloc(L->pos, cap * sizeof(uint32_t));
    if (p == NULL)
      return CAIRN_NOMEM;
    L->pos = p;
    uint8_t *c = realloc(L->codes, cap * cs);
    if (c == NULL)
      return CAIRN_NOMEM;
    L->codes = c;
    L->cap = cap;
  }
  L->pos[L->n] = pos;
  memcpy(L->codes + (size_t)L->n * cs, code, cs);
  L->n++;
  return CAIRN_OK;
}

/* Trims a list's spare capacity after a batch (a later add regrows it). */
static void shrink(ivf_list *L, size_t cs) {
  if (L->cap == L->n || L->n == 0)
    return;
  uint32_t *p = realloc(L->pos, L->n * sizeof(uint32_t));
  if (p == NULL)
    return;
  L->pos = p;
  L->cap = L->n; /* codes may keep a larger block if its shrink fails */
  uint8_t *c = realloc(L->codes, (size_t)L->n * cs);
  if (c != NULL)
    L->codes = c;
}

static cairn_status ivf_add(cairn_index *ix, size_t n, const void *vecs,
                            cairn_error *err) {
  ivf *v = ix->impl;
  size_t rb = cairn_row_bytes(ix);
  uint32_t *assign = malloc(n * sizeof(uint32_t));
  uint8_t *code = malloc(v->code_size);
  float *r = malloc(ix->dim * sizeof(float) + 4);
  if (assign == NULL || code == NULL || r == NULL) {
    free(assign);
    free(code);
    free(r);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  ivf_assign(ix, v, vecs, n, assign);
  cairn_status st = CAIRN_OK;
  for (size_t i = 0; i < n && st == CAIRN_OK; i++) {
    const uint8_t *row = (const uint8_t *)vecs + i * rb;
    encode(ix, v, row, assign[i], code, r);
    st = list_push(&v->lists[assign[i]], v->code_size, (uint32_t)(ix->n + i), code);
  }
  free(assign);
  free(code);
  free(r);
  for (uint32_t l = 0; st == CAIRN_OK && l < v->nlist; l++)
    shrink(&v->lists[l], v->code_size);
  return st == CAIRN_OK ? CAIRN_OK
                        : cairn_error_set(err, CAIRN_NOMEM, "out of memory adding to IVF");
}

static size_t ivf_memory(const cairn_index *ix) {
  const ivf *v = ix->impl;
  size_t m = sizeof *v + v->nlist * sizeof(ivf_list);
  m += v->centroids ? v->nlist * ix->dim * sizeof(float) : 0;
  m += v->bcentroids ? v->nlist * ix->dim / 8 : 0;
  m += v->vmin ? 2 * ix->dim * sizeof(float) : 0;
  m += v->codebooks ? (size_t)v->m * v->ksub * v->dsub * sizeof(float) : 0;
  m += v->pq_pre ? (size_t)v->nlist * v->m * v->ksub * sizeof(float) : 0;
  for (uint32_t l = 0; l < v->nlist; l++)
    m += (size_t)v->lists[l].cap * (sizeof(uint32_t) + v->code_size);
  return m;
}

#define IVF_OPS(NAME, TYPE)                                                    \
  const cairn_index_ops NAME = {                                               \
      .type = TYPE,                                                            \
      .init = ivf_init,                                                        \
      .destroy = ivf_destroy,                                                  \
      .train = ivf_train,                                                      \
      .add = ivf_add,                                                          \
      .search = ivf_search,                                                    \
      .memory = ivf_memory,                                                    \
      .save = ivf_save,                                                        \
      .load = ivf_load,                                                        \
  };

IVF_OPS(cairn_ivf_flat_ops, CAIRN_INDEX_IVF_FLAT)
IVF_OPS(cairn_ivf_sq8_ops, CAIRN_INDEX_IVF_SQ8)
IVF_OPS(cairn_ivf_pq_ops, CAIRN_INDEX_IVF_PQ)
IVF_OPS(cairn_bin_ivf_flat_ops, CAIRN_INDEX_BIN_IVF_FLAT)
