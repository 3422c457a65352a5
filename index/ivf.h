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
 *   - SQ8 (residual codes, per-list ranges; format version 3): r = x -
 *     z_l, z_l the centroid of the row's list l (x already normalised for
 *     COSINE). Each list l keeps its own range per dimension j, stored
 *     compactly as a scale s_l (float) and two int16 lo_lj < hi_lj:
 *     lo = s_l lo_lj / 32767, step = s_l (hi_lj - lo_lj) / (32767 * 255);
 *     code c = round((r_j - lo) / step) clamped to [0,255]; decoded
 *     r_j = lo + c step (ivf_sq8_range). The range is the min..max of the
 *     residuals of every row stored in the list (lo rounded down, hi up),
 *     so nothing clamps: add widens a list's range when new rows fall
 *     outside it and re-encodes the list's earlier codes on the new grid.
 *     Why per list: one global range per dimension has to span the
 *     residuals of every list (dense and sparse clusters, heavy tails), so
 *     its step was ~1.7x a list's own and recall@10 on glove-100 trailed
 *     IVF_FLAT by 1.1 points at nprobe 40; with per-list ranges the
 *     quantisation MSE drops ~3x and the gap to 0.7 points. int16 with a
 *     list scale instead of two floats per (list, dimension) halves that
 *     overhead (0.4 MB for glove's 1024 x 100, +0.3% of IVF_FLAT's
 *     memory) and decodes without branches; the rounding widens a range by
 *     at most 2 s_l / 32767. Rejected: MSE-fitted or quantile-trimmed
 *     global ranges (recall unchanged: the error is spread, not in the
 *     tails); bfloat16 bounds (8-bit mantissa: fashion-mnist MSE +40%).
 *     XXX int8 bounds (half the overhead again) measured within 0.0005
 *     recall on both benchmark sets; int16 was kept so that one wide
 *     dimension in a list does not coarsen the list's narrow ones.
 *   - SQ8 legacy formats, still loaded, searched, extended and saved in
 *     their own version: version 2 codes residuals with one global range
 *     per dimension (vmin_j, vdiff_j: decoded r_j = vmin_j + c vdiff_j /
 *     255); version 1 codes x itself with global ranges (z taken as zero).
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
  unsigned sq8_version;  /* SQ8 encoding: 3 (current) or legacy 2, 1 */
  float *vmin, *vdiff;   /* SQ8 versions 1, 2: global ranges, dim each */
  float *sq_scale;       /* SQ8 version 3: nlist list scales s_l (0 while
                            the list is empty) */
  int16_t *sq_lo, *sq_hi;/* SQ8 version 3: nlist * dim range bounds */
  uint32_t m, ksub, dsub; /* PQ */
  float *codebooks;   /* PQ: m * ksub * dsub floats */
  float *pq_pre;      /* PQ + L2: nlist * m * ksub floats, derived (not
                         stored in files): |cb_s[c]|^2 + 2 <centroid_l,s, cb_s[c]> */
} ivf;

/* ivf_build.c */
/* Nearest list of each row. */
void ivf_assign(const cairn_index *ix, const ivf *v, const void *rows,
                size_t n, uint32_t *out);

/* SQ8: the grid of list l's codes, lo[j] + c * step[j] = decoded residual
 * in dimension j (the row itself for version 1). lo, step: dim floats. */
void ivf_sq8_range(const cairn_index *ix, const ivf *v, uint32_t l, float *lo,
                   float *step);

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
