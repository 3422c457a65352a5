/*
 * ivf_search.c — searching the IVF indexes: pick the nprobe nearest
 * centroids, scan their lists with the code's distance, keep the top k.
 *
 * Per-query preparation (once, before the scans):
 *   - SQ8: per probed list l (centroid z) the grid of its codes, decoded
 *     r_j = lo_j + c_j step_j (ivf_sq8_range: the list's own ranges, or
 *     the global ones of legacy files); an O(dim) step per list, small
 *     next to the list scan;
 *   - SQ8, L2: qp_j = (q_j - z_j - lo_j) / step_j, w_j = step_j^2, so
 *     |q - decode(c)|^2 = |(q - z) - r(c)|^2 = sum w_j (qp_j - c_j)^2 (one
 *     kernel call per row);
 *   - SQ8, IP: a_j = q_j step_j, base = sum q_j lo_j, so
 *     q.decode(c) = q.z + base + sum a_j c_j, with q.z the coarse score of
 *     the probed list (passed as the scan's bias);
 *   - SQ8, COSINE: q and the rows are unit vectors, so -cos(q, x) =
 *     |q - x|^2 / 2 - 1, scored with the L2 form above. Against a decoded
 *     row x + e that errs by <q - x, e> instead of the IP form's <q, e>:
 *     much smaller for near neighbours (the recall gap to IVF_FLAT on
 *     clustered unit vectors drops from ~7 points to under 1);
 *   - legacy SQ8 version 1 (raw codes): the same with z = 0;
 *   - PQ, IP: table T[s][c] = q_s . codebook_s[c], shared by all lists;
 *     PQ, L2: Q[s][c] = -2 q_s . codebook_s[c] once, and per probed list
 *     the precomputed |cb|^2 + 2 centroid.cb table (ivf.h) added to it, so
 *     |q - c - r|^2 = |q - c|^2 + sum_s table[s][code_s] (as FAISS does).
 *
 * Filtered search: rows failing the bitset are skipped before any
 * distance is computed; nprobe is widened to nprobe / selectivity (up to
 * nlist), so when few rows pass every list is visited — for IVF_FLAT and
 * BIN_IVF_FLAT that is an exact scan of exactly the rows that pass.
 *
 * Scores of SQ8 and PQ are the distances to the decoded vectors (what
 * Milvus returns for these indexes without refinement).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ivf.h"

#define SCAN_BLOCK 256

typedef struct ivf_query {
  const float *q;       /* internal query (float indexes) */
  const uint8_t *bq;    /* binary query */
  float *qp, *w, *a;    /* SQ8 preparation for the list being scanned */
  float *lo, *step;     /* SQ8: that list's grid (ivf_sq8_range) */
  float base;           /* SQ8 IP constant of that list */
  float *lut;           /* PQ table m * ksub (per list for L2) */
  float *qtab;          /* PQ + L2: -2 <q_s, cb_s[c]>, m * ksub */
} ivf_query;

static void pq_table(const cairn_index *ix, const ivf *v, const float *q,
                     bool l2, float *lut) {
  for (uint32_t s = 0; s < v->m; s++) {
    const float *cb = v->codebooks + (size_t)s * v->ksub * v->dsub;
    const float *qs = q + (size_t)s * v->dsub;
    float *t = lut + (size_t)s * v->ksub;
    if (l2)
      ix->k->l2_f32_batch(qs, cb, v->ksub, v->dsub, t);
    else
      ix->k->ip_f32_batch(qs, cb, v->ksub, v->dsub, t);
  }
}

static inline float pq_sum(const float *lut, uint32_t m, uint32_t ksub,
                           const uint8_t *c) {
  float s0 = 0, s1 = 0;
  uint32_t s = 0;
  for (; s + 2 <= m; s += 2) {
    s0 += lut[(size_t)s * ksub + c[s]];
    s1 += lut[(size_t)(s + 1) * ksub + c[s + 1]];
  }
  if (s < m)
    s0 += lut[(size_t)s * ksub + c[s]];
  return s0 + s1;
}

/* Distance of query to one code of list l (not FLAT's batched path). */
static inline float code_dist(const cairn_index *ix, const ivf *v,
                              const ivf_query *p, float bias,
                              const uint8_t *c) {
  switch (ix->type) {
  case CAIRN_INDEX_IVF_FLAT:
    return cairn_fdist(ix, p->q, (const float *)(const void *)c);
  case CAIRN_INDEX_IVF_SQ8:
    if (ix->metric == CAIRN_METRIC_L2)
      return ix->k->sq8_l2(p->qp, p->w, c, ix->dim);
    if (ix->metric == CAIRN_METRIC_COSINE) /* -cos = |q - x|^2 / 2 - 1 */
      return 0.5f * ix->k->sq8_l2(p->qp, p->w, c, ix->dim) - 1.0f;
    return -(bias + p->base + ix->k->sq8_ip(p->a, c, ix->dim));
  case CAIRN_INDEX_IVF_PQ: {
    float s = pq_sum(p->lut, v->m, v->ksub, c);
    return ix->metric == CAIRN_METRIC_L2 ? bias + s : -(bias + s);
  }
  default:
    return cairn_bdist(ix, p->bq, c);
  }
}

/* PQ without a filter: four codes at a time, so four independent table
 * lookups are in flight per sub-quantiser. */
static void scan_pq4(const cairn_index *ix, const ivf *v, const ivf_list *L,
                     const ivf_query *p, float bias, cairn_topk *top) {
  uint32_t m = v->m, ksub = v->ksub, i = 0;
  float sign = ix->metric == CAIRN_METRIC_L2 ? 1.0f : -1.0f;
  for (; i + 4 <= L->n; i += 4) {
    const uint8_t *c = L->codes + (size_t)i * m;
    float a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    const float *t = p->lut;
    for (uint32_t s = 0; s < m; s++, t += ksub) {
      a0 += t[c[s]];
      a1 += t[c[m + s]];
      a2 += t[c[2 * m + s]];
      a3 += t[c[3 * m + s]];
    }
    cairn_topk_push(top, sign * a0, L->pos[i]);
    cairn_topk_push(top, sign * a1, L->pos[i + 1]);
    cairn_topk_push(top, sign * a2, L->pos[i + 2]);
    cairn_topk_push(top, sign * a3, L->pos[i + 3]);
  }
  for (; i < L->n; i++)
    cairn_topk_push(top, code_dist(ix, v, p, bias, L->codes + (size_t)i * m), L->pos[i]);
}

static void scan_list(const cairn_index *ix, const ivf *v, const ivf_list *L,
                      const ivf_query *p, float bias, const cairn_bitset *filter,
                      cairn_topk *top) {
  size_t cs = v->code_size;
  if (filter == NULL && ix->type == CAIRN_INDEX_IVF_PQ) {
    scan_pq4(ix, v, L, p, bias, top);
    return;
  }
  if (filter == NULL && ix->type == CAIRN_INDEX_IVF_FLAT) {
    float d[SCAN_BLOCK];
    for (uint32_t b = 0; b < L->n; b += SCAN_BLOCK) {
      uint32_t nb = L->n - b < SCAN_BLOCK ? L->n - b : SCAN_BLOCK;
      cairn_fdist_batch(ix, p->q, (const float *)(const void *)(L->codes + (size_t)b * cs),
                        nb, d);
      for (uint32_t i = 0; i < nb; i++)
        cairn_topk_push(top, d[i], L->pos[b + i]);
    }
    return;
  }
  for (uint32_t i = 0; i < L->n; i++) {
    if (filter != NULL && !cairn_bitset_test(filter, L->pos[i]))
      continue;
    cairn_topk_push(top, code_dist(ix, v, p, bias, L->codes + (size_t)i * cs),
                    L->pos[i]);
  }
}

static cairn_status prepare(const cairn_index *ix, const ivf *v, const void *q,
                            ivf_query *p) {
  size_t d = ix->dim;
  memset(p, 0, sizeof *p);
  if (ix->type == CAIRN_INDEX_BIN_IVF_FLAT) {
    p->bq = q;
    return CAIRN_OK;
  }
  p->q = q;
  if (ix->type == CAIRN_INDEX_IVF_SQ8) {
    p->qp = malloc(5 * d * sizeof(float));
    if (p->qp == NULL)
      return CAIRN_NOMEM;
    p->w = p->qp + d;
    p->a = p->w + d;
    p->lo = p->a + d;
    p->step = p->lo + d;
  } else if (ix->type == CAIRN_INDEX_IVF_PQ) {
    size_t t = (size_t)v->m * v->ksub;
    p->lut = malloc(2 * t * sizeof(float));
    if (p->lut == NULL)
      return CAIRN_NOMEM;
    p->qtab = p->lut + t;
    if (ix->metric != CAIRN_METRIC_L2) {
      pq_table(ix, v, p->q, false, p->lut);
    } else {
      pq_table(ix, v, p->q, false, p->qtab);
      for (size_t i = 0; i < t; i++)
        p->qtab[i] *= -2.0f;
    }
  }
  return CAIRN_OK;
}

/* SQ8: prepares p for scanning list l (see the top of the file); returns
 * the scan's bias: q.z for IP on residual codes, else 0. coarse_dist is the
 * probe's distance to the list's centroid. */
static float sq8_list_query(const cairn_index *ix, const ivf *v, ivf_query *p,
                            uint32_t l, float coarse_dist) {
  size_t d = ix->dim;
  const float *z = v->centroids + (size_t)l * d;
  bool raw = v->sq8_version == 1;
  ivf_sq8_range(ix, v, l, p->lo, p->step);
  if (ix->metric == CAIRN_METRIC_IP) {
    p->base = 0;
    for (size_t j = 0; j < d; j++) {
      p->a[j] = p->q[j] * p->step[j];
      p->base += p->q[j] * p->lo[j];
    }
    return raw ? 0 : -coarse_dist; /* coarse_dist = -q.z */
  }
  for (size_t j = 0; j < d; j++) {
    p->qp[j] = (p->q[j] - (raw ? 0.0f : z[j]) - p->lo[j]) / p->step[j];
    p->w[j] = p->step[j] * p->step[j];
  }
  return 0;
}

/* The nprobe nearest lists, in coarse.pos (sorted). */
static void probe(const cairn_index *ix, const ivf *v, const ivf_query *p,
                  cairn_topk *coarse) {
  if (ix->type == CAIRN_INDEX_BIN_IVF_FLAT) {
    size_t nb = ix->dim / 8;
    for (uint32_t l = 0; l < v->nlist; l++)
      cairn_topk_push(coarse, cairn_bdist(ix, p->bq, v->bcentroids + l * nb), l);
  } else {
    float d[SCAN_BLOCK];
    for (uint32_t b = 0; b < v->nlist; b += SCAN_BLOCK) {
      uint32_t nb = v->nlist - b < SCAN_BLOCK ? v->nlist - b : SCAN_BLOCK;
      cairn_fdist_batch(ix, p->q, v->centroids + (size_t)b * ix->dim, nb, d);
      for (uint32_t i = 0; i < nb; i++)
        cairn_topk_push(coarse, d[i], b + i);
    }
  }
  cairn_topk_sort(coarse);
}

cairn_status ivf_search(const cairn_index *ix, const void *query,
                        const cairn_search_params *sp,
                        const cairn_bitset *filter, cairn_topk *top,
                        cairn_error *err) {
  const ivf *v = ix->impl;
  if (ix->n == 0 || !ix->trained)
    return CAIRN_OK;
  double nprobe = sp->nprobe > 0 ? sp->nprobe : ix->params.nprobe;
  if (filter != NULL) {
    size_t pass = cairn_bitset_count(filter, ix->n);
    if (pass == 0)
      return CAIRN_OK;
    nprobe = ceil(nprobe * (double)ix->n / (double)pass);
  }
  if (nprobe > v->nlist)
    nprobe = v->nlist;
  ivf_query p;
  cairn_topk coarse;
  if (prepare(ix, v, query, &p) != CAIRN_OK ||
      cairn_topk_init(&coarse, (int)nprobe) != CAIRN_OK) {
    free(p.qp);
    free(p.lut);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory in IVF search");
  }
  probe(ix, v, &p, &coarse);
  for (int i = 0; i < coarse.n; i++) {
    uint32_t l = coarse.pos[i];
    float bias = 0;
    if (v->lists[l].n == 0)
      continue;
    if (ix->type == CAIRN_INDEX_IVF_SQ8) {
      bias = sq8_list_query(ix, v, &p, l, coarse.dist[i]);
    } else if (ix->type == CAIRN_INDEX_IVF_PQ) {
      if (ix->metric == CAIRN_METRIC_L2) {
        size_t t = (size_t)v->m * v->ksub;
        const float *pre = v->pq_pre + (size_t)l * t;
        for (size_t j = 0; j < t; j++)
          p.lut[j] = pre[j] + p.qtab[j];
        bias = coarse.dist[i]; /* |q - centroid|^2 */
      } else {
        bias = -coarse.dist[i]; /* q . centroid */
      }
    }
    scan_list(ix, v, &v->lists[l], &p, bias, filter, top);
  }
  cairn_topk_destroy(&coarse);
  free(p.qp);
  free(p.lut);
  return CAIRN_OK;
}
