/*
 * qn_scan.c — exact search over a column view: the querynode's scan of
 * growing segments and of sealed segments without an index file.
 *
 * Why not the index library's FLAT: it copies every vector in (and
 * converts half-precision types to float), which for a growing segment
 * would mean a copy per search or an index kept in step with every append;
 * scanning the column in place with the same distance kernels
 * (index/distance.h) costs nothing up front and reads the mmap'd binlog of
 * a sealed segment directly.
 *
 * Scores are Milvus's values (index.h): squared L2, IP, cosine similarity,
 * Hamming bit count, Jaccard distance; sparse vectors use IP. Internally a
 * key "smaller is better" (the score, negated for IP/COSINE) orders a
 * bounded max-heap of the k best rows, ties to the smaller row.
 * Fast path: float32 L2/IP with no filter and no nulls runs the batched
 * kernels over blocks of SCAN_BLOCK rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "qn_internal.h"

#define SCAN_BLOCK 256

typedef struct scorer {
  const cairn_kernels *k;
  cairn_data_type type;
  cairn_metric metric;
  size_t dim;       /* elements (bytes for binary) per row */
  const void *q;
  float qnorm;      /* float32 cosine: |q| */
} scorer;

const void *qn_query_row(cairn_data_type type, int64_t dim, const void *queries,
                         size_t q) {
  if (type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR)
    return &((const cairn_sparse_row *)queries)[q];
  return (const uint8_t *)queries + q * cairn_vector_row_bytes(type, dim);
}

static bool metric_fits(cairn_data_type t, cairn_metric m) {
  switch (t) {
  case CAIRN_TYPE_BINARY_VECTOR:
    return m == CAIRN_METRIC_HAMMING || m == CAIRN_METRIC_JACCARD;
  case CAIRN_TYPE_SPARSE_FLOAT_VECTOR: return m == CAIRN_METRIC_IP;
  default:
    return m == CAIRN_METRIC_L2 || m == CAIRN_METRIC_IP || m == CAIRN_METRIC_COSINE;
  }
}

static cairn_status scorer_init(scorer *s, const cairn_colview *v,
                                cairn_metric m, const void *q, cairn_error *err) {
  if (!cairn_type_is_vector(v->type.type) || !metric_fits(v->type.type, m))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "metric %s does not apply to a %s field",
                           cairn_metric_name(m) ? cairn_metric_name(m) : "?",
                           cairn_type_name(v->type.type));
  s->k = cairn_kernels_get();
  s->type = v->type.type;
  s->metric = m;
  s->dim = v->type.type == CAIRN_TYPE_BINARY_VECTOR ? (size_t)v->type.dim / 8
                                                    : (size_t)v->type.dim;
  s->q = q;
  s->qnorm = 0;
  if (s->type == CAIRN_TYPE_FLOAT_VECTOR && m == CAIRN_METRIC_COSINE)
    s->qnorm = sqrtf(s->k->ip_f32(q, q, s->dim));
  return CAIRN_OK;
}

static float sparse_ip(const cairn_sparse_row *q, const cairn_sparse_pair *p,
                       size_t n) {
  float sum = 0;
  size_t i = 0, j = 0;
  while (i < q->nnz && j < n) {
    if (q->idx[i] == p[j].index)
      sum += q->val[i++] * p[j++].value;
    else if (q->idx[i] < p[j].index)
      i++;
    else
      j++;
  }
  return sum;
}

static float cosine_f32(const scorer *s, const float *r) {
  float rn = sqrtf(s->k->ip_f32(r, r, s->dim));
  if (rn == 0 || s->qnorm == 0)
    return 0;
  return s->k->ip_f32(s->q, r, s->dim) / (s->qnorm * rn);
}

/* The Milvus score of row r. */
static float score_row(const scorer *s, const cairn_colview *v, size_t r) {
  const cairn_kernels *k = s->k;
  cairn_metric m = s->metric;
  if (s->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR) {
    size_t n;
    const cairn_sparse_pair *p = cairn_colview_sparse(v, r, &n);
    return sparse_ip(s->q, p, n);
  }
  const void *row = cairn_colview_vector(v, r);
  switch (s->type) {
  case CAIRN_TYPE_FLOAT_VECTOR:
    return m == CAIRN_METRIC_L2 ? k->l2_f32(s->q, row, s->dim)
           : m == CAIRN_METRIC_IP ? k->ip_f32(s->q, row, s->dim)
                                  : cosine_f32(s, row);
  case CAIRN_TYPE_FLOAT16_VECTOR:
    return m == CAIRN_METRIC_L2 ? k->l2_f16(s->q, row, s->dim)
           : m == CAIRN_METRIC_IP ? k->ip_f16(s->q, row, s->dim)
                                  : cairn_cosine_f16(s->q, row, s->dim);
  case CAIRN_TYPE_BFLOAT16_VECTOR:
    return m == CAIRN_METRIC_L2 ? k->l2_bf16(s->q, row, s->dim)
           : m == CAIRN_METRIC_IP ? k->ip_bf16(s->q, row, s->dim)
                                  : cairn_cosine_bf16(s->q, row, s->dim);
  case CAIRN_TYPE_INT8_VECTOR:
    return m == CAIRN_METRIC_L2 ? k->l2_i8(s->q, row, s->dim)
           : m == CAIRN_METRIC_IP ? k->ip_i8(s->q, row, s->dim)
                                  : cairn_cosine_i8(s->q, row, s->dim);
  default: /* binary */
    return m == CAIRN_METRIC_HAMMING ? (float)k->hamming(s->q, row, s->dim)
                                     : k->jaccard(s->q, row, s->dim);
  }
}

/* ---- bounded heap ------------------------------------------------------- */

typedef struct heap {
  qn_hit *h;       /* h[i].score holds the key (smaller is better) */
  size_t n, k;
} heap;

static inline bool worse(const qn_hit *a, const qn_hit *b) {
  return a->score > b->score || (a->score == b->score && a->row > b->row);
}

static void heap_push(heap *hp, float key, int64_t row) {
  qn_hit x = {key, row};
  if (hp->n < hp->k) {
    size_t i = hp->n++;
    while (i > 0 && worse(&x, &hp->h[(i - 1) / 2])) {
      hp->h[i] = hp->h[(i - 1) / 2];
      i = (i - 1) / 2;
    }
    hp->h[i] = x;
    return;
  }
  if (!worse(&hp->h[0], &x))
    return;
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= hp->n)
      break;
    if (c + 1 < hp->n && worse(&hp->h[c + 1], &hp->h[c]))
      c++;
    if (!worse(&hp->h[c], &x))
      break;
    hp->h[i] = hp->h[c];
    i = c;
  }
  hp->h[i] = x;
}

static int cmp_key(const void *a, const void *b) {
  const qn_hit *x = a, *y = b;
  return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

/* ---- top-k -------------------------------------------------------------- */

static inline float to_key(const scorer *s, float score) {
  return cairn_metric_higher_is_better(s->metric) ? -score : score;
}

static void scan_dense_f32(const scorer *s, const cairn_colview *v, size_t n,
                           heap *hp) {
  float d[SCAN_BLOCK];
  const float *rows = v->col.values;
  bool l2 = s->metric == CAIRN_METRIC_L2;
  for (size_t b = 0; b < n; b += SCAN_BLOCK) {
    size_t nb = n - b < SCAN_BLOCK ? n - b : SCAN_BLOCK;
    if (l2)
      s->k->l2_f32_batch(s->q, rows + b * s->dim, nb, s->dim, d);
    else
      s->k->ip_f32_batch(s->q, rows + b * s->dim, nb, s->dim, d);
    for (size_t i = 0; i < nb; i++)
      heap_push(hp, l2 ? d[i] : -d[i], (int64_t)(b + i));
  }
}

cairn_status qn_scan_topk(const cairn_colview *v, size_t n_rows,
                          cairn_metric metric, const void *query,
                          const uint64_t *bits, int k, qn_hit *out,
                          size_t *n_out, cairn_error *err) {
  scorer s;
  *n_out = 0;
  cairn_status st = scorer_init(&s, v, metric, query, err);
  if (st != CAIRN_OK || k <= 0)
    return st;
  heap hp = {.h = out, .n = 0, .k = (size_t)k};
  if (bits == NULL && v->col.validity == NULL && v->type.type == CAIRN_TYPE_FLOAT_VECTOR &&
      metric != CAIRN_METRIC_COSINE) {
    scan_dense_f32(&s, v, n_rows, &hp);
  } else {
    for (size_t w = 0; w < (n_rows + 63) / 64; w++) {
      uint64_t m = bits ? bits[w] : ~0ull;
      for (; m != 0; m &= m - 1) {
        size_t r = w * 64 + (size_t)__builtin_ctzll(m);
        if (r >= n_rows)
          break;
        if (cairn_colview_valid(v, r))
          heap_push(&hp, to_key(&s, score_row(&s, v, r)), (int64_t)r);
      }
    }
  }
  if (hp.n > 1)
    qsort(out, hp.n, sizeof *out, cmp_key);
  bool neg = cairn_metric_higher_is_better(metric);
  for (size_t i = 0; i < hp.n; i++)
    out[i].score = neg ? -out[i].score : out[i].score;
  *n_out = hp.n;
  return CAIRN_OK;
}

/* ---- range -------------------------------------------------------------- */

static bool in_range(cairn_metric m, float s, float radius, float range_filter) {
  if (cairn_metric_higher_is_better(m))
    return s > radius && (isnan(range_filter) || s <= range_filter);
  return s < radius && (isnan(range_filter) || s >= range_filter);
}

cairn_status qn_scan_range(const cairn_colview *v, size_t n_rows,
                           cairn_metric metric, const void *query,
                           const uint64_t *bits, float radius,
                           float range_filter, qn_hit **out, size_t *n_out,
                           cairn_error *err) {
  scorer s;
  *out = NULL;
  *n_out = 0;
  cairn_status st = scorer_init(&s, v, metric, query, err);
  if (st != CAIRN_OK)
    return st;
  size_t n = 0, cap = 0;
  qn_hit *hits = NULL;
  for (size_t w = 0; w < (n_rows + 63) / 64; w++) {
    for (uint64_t m = bits ? bits[w] : ~0ull; m != 0; m &= m - 1) {
      size_t r = w * 64 + (size_t)__builtin_ctzll(m);
      if (r >= n_rows)
        break;
      if (!cairn_colview_valid(v, r))
        continue;
      float sc = score_row(&s, v, r);
      if (!in_range(metric, sc, radius, range_filter))
        continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        qn_hit *t = realloc(hits, cap * sizeof *t);
        if (t == NULL) {
          free(hits);
          return cairn_error_set(err, CAIRN_NOMEM, NULL);
        }
        hits = t;
      }
      hits[n++] = (qn_hit){to_key(&s, sc), (int64_t)r};
    }
  }
  if (n > 1)
    qsort(hits, n, sizeof *hits, cmp_key);
  for (size_t i = 0; i < n; i++)
    hits[i].score = cairn_metric_higher_is_better(metric) ? -hits[i].score : hits[i].score;
  *out = hits;
  *n_out = n;
  return CAIRN_OK;
}
