/*
 * flat.c — FLAT and BIN_FLAT: exact search by scanning every row. FLAT is
 * also the oracle the tests measure every other index against.
 *
 * Memory layout: one contiguous array of n rows (float32 rows of dim, or
 * dim/8 bytes for binary), in position order, plus for FLAT/L2 the squared
 * norm of every row (used by the blocked multi-query scan, which computes
 * |q|^2 + |r|^2 - 2 q.r the way BLAS-based scanners do).
 *
 * Search:
 *   - one query: the first and second half of the rows are scanned side
 *     by side through the dual kernel (two memory streams keep more misses
 *     in flight; ~90% of the two-stream read bandwidth measured on the
 *     development machine against ~75% for one stream), distances pushed
 *     into the top-k heap;
 *     with a filter, only rows whose bit is set are measured (a filter with
 *     few rows set is walked word by word, skipping zero words).
 *   - many queries (search_batch, float only): rows are cut into blocks of
 *     about 128 KiB that stay in L2 cache while every query of the batch
 *     passes over them, four queries per kernel call sharing each row load.
 *
 * File sections (after the common ones, index_io.c): rows (n * row bytes);
 * for FLAT/L2 also norms (n floats).
 *
 * Threading: search is read-only; add needs exclusive access.
 */
#include <stdlib.h>
#include <string.h>

#include "index_impl.h"

#define FLAT_BLOCK 256

typedef struct flat {
  uint8_t *rows;   /* n * row_bytes, owned */
  float *norms;    /* FLAT + L2: |row|^2, owned; else NULL */
  size_t cap;      /* rows allocated */
} flat;

static bool want_norms(const cairn_index *ix) {
  return ix->type == CAIRN_INDEX_FLAT && ix->metric == CAIRN_METRIC_L2;
}

static cairn_status flat_init(cairn_index *ix, cairn_error *err) {
  ix->impl = calloc(1, sizeof(flat));
  ix->trained = true;
  return ix->impl ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
}

static void flat_destroy(cairn_index *ix) {
  flat *f = ix->impl;
  if (f == NULL)
    return;
  free(f->rows);
  free(f->norms);
  free(f);
  ix->impl = NULL;
}

static cairn_status flat_add(cairn_index *ix, size_t n, const void *vecs,
                             cairn_error *err) {
  flat *f = ix->impl;
  size_t rb = cairn_row_bytes(ix);
  if (ix->n + n > f->cap) {
    size_t cap = f->cap ? f->cap : 1024;
    while (cap < ix->n + n)
      cap *= 2;
    uint8_t *r = realloc(f->rows, cap * rb);
    if (r == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, "out of memory adding rows");
    f->rows = r;
    if (want_norms(ix)) {
      float *nm = realloc(f->norms, cap * sizeof(float));
      if (nm == NULL)
        return cairn_error_set(err, CAIRN_NOMEM, "out of memory adding rows");
      f->norms = nm;
    }
    f->cap = cap;
  }
  memcpy(f->rows + ix->n * rb, vecs, n * rb);
  if (want_norms(ix))
    for (size_t i = 0; i < n; i++) {
      const float *r = (const float *)(const void *)(f->rows + (ix->n + i) * rb);
      f->norms[ix->n + i] = ix->k->ip_f32(r, r, ix->dim);
    }
  return CAIRN_OK;
}

/* Distance of the query to row i (any metric). */
static inline float row_dist(const cairn_index *ix, const flat *f,
                             const void *q, size_t i) {
  size_t rb = cairn_row_bytes(ix);
  if (ix->type == CAIRN_INDEX_BIN_FLAT)
    return cairn_bdist(ix, q, f->rows + i * rb);
  return cairn_fdist(ix, q, (const float *)(const void *)(f->rows + i * rb));
}

static void scan_filtered(const cairn_index *ix, const flat *f, const void *q,
                          const cairn_bitset *filter, cairn_topk *top) {
  size_t lim = ix->n < filter->nbits ? ix->n : filter->nbits;
  for (size_t w = 0; w < lim; w += 64) {
    uint64_t word = 0;
    size_t nbytes = (lim - w + 7) / 8 < 8 ? (lim - w + 7) / 8 : 8;
    memcpy(&word, filter->bits + w / 8, nbytes);
    if (lim - w < 64)
      word &= (1ULL << (lim - w)) - 1;
    while (word) {
      size_t i = w + (size_t)__builtin_ctzll(word);
      word &= word - 1;
      cairn_topk_push(top, row_dist(ix, f, q, i), (uint32_t)i);
    }
  }
}

/* One float query over all rows as two streams (first and second half
 * of the rows side by side, see distance.h's dual kernels). */
static void scan_dual(const cairn_index *ix, const flat *f, const float *q,
                      cairn_topk *top) {
  size_t d = ix->dim, half = ix->n / 2;
  const float *R = (const float *)(const void *)f->rows;
  float da[FLAT_BLOCK], db[FLAT_BLOCK];
  bool l2 = ix->metric == CAIRN_METRIC_L2;
  for (size_t b = 0; b < half; b += FLAT_BLOCK) {
    size_t nb = half - b < FLAT_BLOCK ? half - b : FLAT_BLOCK;
    if (l2)
      ix->k->l2_f32_dual(q, R + b * d, R + (half + b) * d, nb, d, da, db);
    else
      ix->k->ip_f32_dual(q, R + b * d, R + (half + b) * d, nb, d, da, db);
    float sign = l2 ? 1.0f : -1.0f;
    for (size_t i = 0; i < nb; i++) {
      cairn_topk_push(top, sign * da[i], (uint32_t)(b + i));
      cairn_topk_push(top, sign * db[i], (uint32_t)(half + b + i));
    }
  }
  for (size_t i = 2 * half; i < ix->n; i++) /* odd row out */
    cairn_topk_push(top, cairn_fdist(ix, q, R + i * d), (uint32_t)i);
}

static cairn_status flat_search(const cairn_index *ix, const void *q,
                                const cairn_search_params *sp,
                                const cairn_bitset *filter, cairn_topk *top,
                                cairn_error *err) {
  (void)sp;
  (void)err;
  const flat *f = ix->impl;
  if (filter != NULL) {
    scan_filtered(ix, f, q, filter, top);
    return CAIRN_OK;
  }
  if (ix->type == CAIRN_INDEX_FLAT && ix->n >= 2 * FLAT_BLOCK) {
    scan_dual(ix, f, q, top);
    return CAIRN_OK;
  }
  float d[FLAT_BLOCK];
  size_t rb = cairn_row_bytes(ix);
  for (size_t b = 0; b < ix->n; b += FLAT_BLOCK) {
    size_t nb = ix->n - b < FLAT_BLOCK ? ix->n - b : FLAT_BLOCK;
    if (ix->type == CAIRN_INDEX_BIN_FLAT) {
      if (ix->metric == CAIRN_METRIC_HAMMING)
        ix->k->hamming_batch(q, f->rows + b * rb, nb, rb, d);
      else
        for (size_t i = 0; i < nb; i++)
          d[i] = cairn_bdist(ix, q, f->rows + (b + i) * rb);
    } else {
      cairn_fdist_batch(ix, q, (const float *)(const void *)(f->rows + b * rb),
                        nb, d);
    }
    float bound = cairn_topk_bound(top);
    for (size_t i = 0; i < nb; i++)
      if (d[i] <= bound) {
        cairn_topk_push(top, d[i], (uint32_t)(b + i));
        bound = cairn_topk_bound(top);
      }
  }
  return CAIRN_OK;
}

/* Blocked multi-query scan (float FLAT only): see the file comment. */
static cairn_status flat_search_batch(const cairn_index *ix, size_t nq,
                                      const void *queries,
                                      const cairn_search_params *sp,
                                      const cairn_bitset *filter,
                                      cairn_topk *tops, cairn_error *err) {
  const flat *f = ix->impl;
  size_t d = ix->dim;
  const float *Q = queries;
  if (ix->type != CAIRN_INDEX_FLAT || filter != NULL || nq < 4) {
    for (size_t q = 0; q < nq; q++) {
      cairn_status st = flat_search(ix, Q + q * d, sp, filter, &tops[q], err);
      if (st != CAIRN_OK)
        return st;
    }
    return CAIRN_OK;
  }
  bool l2 = ix->metric == CAIRN_METRIC_L2;
  float qn[64];
  for (size_t q = 0; q < nq; q++)
    qn[q] = l2 ? ix->k->ip_f32(Q + q * d, Q + q * d, d) : 0;
  size_t block = (128 * 1024) / (d * sizeof(float));
  if (block < 16)
    block = 16;
  const float *R = (const float *)(const void *)f->rows;
  for (size_t b = 0; b < ix->n; b += block) {
    size_t end = ix->n - b < block ? ix->n : b + block;
    size_t q = 0;
    for (; q + 4 <= nq; q += 4) {
      const float *qs[4] = {Q + q * d, Q + (q + 1) * d, Q + (q + 2) * d,
                            Q + (q + 3) * d};
      for (size_t i = b; i < end; i++) {
        float ip[4];
        ix->k->ip_f32_4q(qs, R + i * d, d, ip);
        for (int j = 0; j < 4; j++) {
          float dist = l2 ? qn[q + j] + f->norms[i] - 2 * ip[j] : -ip[j];
          if (l2 && dist < 0)
            dist = 0;
          cairn_topk_push(&tops[q + j], dist, (uint32_t)i);
        }
      }
    }
    for (; q < nq; q++)
      for (size_t i = b; i < end; i++)
        cairn_topk_push(&tops[q], cairn_fdist(ix, Q + q * d, R + i * d),
                        (uint32_t)i);
  }
  return CAIRN_OK;
}

static size_t flat_memory(const cairn_index *ix) {
  const flat *f = ix->impl;
  return sizeof *f + f->cap * cairn_row_bytes(ix) +
         (f->norms ? f->cap * sizeof(float) : 0);
}

static cairn_status flat_save(const cairn_index *ix, cairn_writer *w,
                              cairn_error *err) {
  (void)err;
  const flat *f = ix->impl;
  cairn_writer_section(w, f->rows, ix->n * cairn_row_bytes(ix));
  if (want_norms(ix))
    cairn_writer_section(w, f->norms, ix->n * sizeof(float));
  return CAIRN_OK;
}

static cairn_status flat_load(cairn_index *ix, cairn_reader *r,
                              cairn_error *err) {
  flat *f = ix->impl;
  size_t len;
  void *p;
  if (!cairn_reader_section_copy(r, 1, ix->n * cairn_row_bytes(ix), &p, &len))
    return cairn_error_set(err, CAIRN_CORRUPT, "FLAT rows section malformed");
  f->rows = p;
  f->cap = ix->n;
  if (want_norms(ix)) {
    if (!cairn_reader_section_copy(r, 4, ix->n * sizeof(float), &p, &len))
      return cairn_error_set(err, CAIRN_CORRUPT, "FLAT norms section malformed");
    f->norms = p;
  }
  return CAIRN_OK;
}

const cairn_index_ops cairn_flat_ops = {
    .type = CAIRN_INDEX_FLAT,
    .init = flat_init,
    .destroy = flat_destroy,
    .add = flat_add,
    .search = flat_search,
    .search_batch = flat_search_batch,
    .memory = flat_memory,
    .save = flat_save,
    .load = flat_load,
};

const cairn_index_ops cairn_bin_flat_ops = {
    .type = CAIRN_INDEX_BIN_FLAT,
    .init = flat_init,
    .destroy = flat_destroy,
    .add = flat_add,
    .search = flat_search,
    .memory = flat_memory,
    .save = flat_save,
    .load = flat_load,
};
