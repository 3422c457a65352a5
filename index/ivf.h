/*
 * ivf.h — inverted-file indexes, private to index/: IVF_FLAT, IVF_SQ8,
 * IVF_PQ (float vectors) and BIN_IVF_FLAT (binary vectors) share one
 * structure and differ only in how a row is encoded in its list.
 *
 * Files by lifecycle: ivf_build.c (training, encoding, add, vtables),
 * ivf_search.c (probing and list scans), ivf_io.c (file sections).
 *
 * Layout: nlist centroids (float, or bytes for binary); per list a
 * contiguous array of codes and the matching row positions (u32). Code
 * size: IVF_FLAT 4*dim, IVF_SQ8 dim, IVF_PQ m (nbits <= 8, one byte per
 * sub-quantiser), BIN_IVF_FLAT dim/8.
 *
 * Encodings:
 *   - SQ8 (residual, format version 2): r = x - centroid of the row's
 *     list (x already normalised for COSINE); per dimension j, code
 *     c = round((r_j - vmin_j) / vdiff_j * 255) clamped to [0,255];
 *     decoded x_j = centroid_j + vmin_j + c * vdiff_j / 255. vmin/vdiff
 *     span the 0.1%..99.9% quantiles of the training sample's residuals
 *     per dimension (values outside clamp). Legacy files (version 1,
 *     sq8_raw) encode x itself with min/max ranges of the raw sample;
 *     they still load and search (centroid term taken as zero).
 *   - PQ: the residual r = x - centroid is cut into m sub-vectors of
 *     dsub = dim/m values; each is replaced by its nearest of ksub = 2^nbits
 *     codebook entries (k-means per sub-space on residuals of the sample).
 *   - BIN: centroids are bit vectors (bitwise majority of their members).
 *
 * Threading: searches run concurrently; add/train need exclusive access.
 */
#ifndef CAIRN_IVF_H
#define CAIRN_IVF_H

#include "index_impl.h"

typedef struct ivf_list {
  uint32_t n, cap;
  uint32_t *pos;   /* n positions, owned */
  uint8_t *codes;  /* n * code_size bytes, owned */
} ivf_list;

typedef struct ivf {
  uint32_t nlist;
  size_t code_size;
  float *centroids;   /* nlist * dim floats (float indexes) */
  uint8_t *bcentroids;/* nlist * dim/8 bytes (BIN_IVF_FLAT) */
  ivf_list *lists;    /* nlist */
  float *vmin, *vdiff;/* SQ8: dim each */
  bool sq8_raw;       /* SQ8 legacy (version 1) encoding: no residual */
  uint32_t m, ksub, dsub; /* PQ */
  float *codebooks;   /* PQ: m * ksub * dsub floats */
  float *pq_pre;      /* PQ + L2: nlist * m * ksub floats, derived (not
                         stored in files): |cb_s[c]|^2 + 2 <centroid_l,s, cb_s[c]> */
} ivf;

/* ivf_build.c */
/* Nearest list of each row. */
void ivf_assign(const cairn_index *ix, const ivf *v, const void *rows,
                size_t n, uint32_t *out);

/* PQ + L2: (re)computes pq_pre from centroids and codebooks, so a query
 * needs one table -2 <q_s, cb_s[c]> plus one add per probed list:
 * |q - c - r|^2 = |q - c|^2 + sum_s (pq_pre[l][s][code_s] - 2 <q_s, cb_s[code_s]>). */
cairn_status ivf_pq_precompute(const cairn_index *ix, ivf *v);

/* ivf_search.c */
cairn_status ivf_search(const cairn_index *ix, const void *query,
                        const cairn_search_params *sp,
                        const cairn_bitset *filter, cairn_topk *top,
                        cairn_error *err);

/* ivf_io.c */
cairn_status ivf_save(const cairn_index *ix, cairn_writer *w, cairn_error *err);
cairn_status ivf_load(cairn_index *ix, cairn_reader *r, cairn_error *err);

#endif
