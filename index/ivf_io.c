/*
 * ivf_io.c — IVF file sections (inside the container of index_io.c).
 *
 * After the common part, in order:
 *   section centroids   nlist * dim float32 (float) or nlist * dim/8
 *                       bytes (BIN_IVF_FLAT); empty when untrained
 *   IVF_SQ8:  section SQ8 version (6 bytes: "SQ8V", u16 version), then
 *             version 3 (written now; residual codes, per-list ranges,
 *             ivf.h): section list scales (nlist float32), section range
 *             lo (nlist * dim int16, list-major), section range hi (same);
 *             list l's range in dimension j is [s_l lo / 32767,
 *             s_l hi / 32767].
 *             Version 2 (residual codes, global ranges): section vmin (dim
 *             float32), section vdiff (dim float32).
 *             Version 1 files have no version section (vmin follows the
 *             centroids directly; raw-vector codes): they are recognised
 *             because a vmin section's length is 0 or a multiple of 4,
 *             never 6.
 *             Versions 1 and 2 load as legacy indexes that search and
 *             accept rows in their own encoding and are saved back in
 *             their own version. Any other version is refused with
 *             CAIRN_CORRUPT ("IVF_SQ8 section version N unsupported").
 *   IVF_PQ:   section codebooks (m * 2^nbits * dim/m float32)
 *   section list sizes  nlist u32
 *   then per list l: section positions (size_l u32), section codes
 *                    (size_l * code_size bytes)
 * Checks on load: section lengths match nlist/dim/code size, list sizes
 * sum to n, every position < n and appears once, SQ8 ranges positive (v3:
 * scales finite and >= 0, and for every non-empty list scale > 0 and
 * lo < hi in every dimension), every PQ code < 2^nbits.
 */
#include <stdlib.h>
#include <string.h>

#include "ivf.h"

#define SQ8_VERSION 3 /* residual codes, per-list ranges */
#define SQ8_VER_LEN 6

static void save_sq8(const cairn_index *ix, cairn_writer *w) {
  const ivf *v = ix->impl;
  size_t d = ix->dim;
  unsigned ver = v->sq8_version ? v->sq8_version : SQ8_VERSION; /* untrained: current */
  if (ver != 1) {
    uint8_t b[SQ8_VER_LEN] = {'S', 'Q', '8', 'V', ver & 0xff, ver >> 8};
    cairn_writer_section(w, b, sizeof b);
  }
  if (ver < 3) {
    cairn_writer_section(w, v->vmin, v->vmin ? d * sizeof(float) : 0);
    cairn_writer_section(w, v->vdiff, v->vdiff ? d * sizeof(float) : 0);
    return;
  }
  size_t nr = v->sq_scale ? (size_t)v->nlist * d : 0;
  cairn_writer_section(w, v->sq_scale, v->sq_scale ? v->nlist * sizeof(float) : 0);
  cairn_writer_section(w, v->sq_lo, nr * sizeof(int16_t));
  cairn_writer_section(w, v->sq_hi, nr * sizeof(int16_t));
}

cairn_status ivf_save(const cairn_index *ix, cairn_writer *w, cairn_error *err) {
  (void)err;
  const ivf *v = ix->impl;
  size_t d = ix->dim;
  if (ix->type == CAIRN_INDEX_BIN_IVF_FLAT)
    cairn_writer_section(w, v->bcentroids, v->bcentroids ? v->nlist * d / 8 : 0);
  else
    cairn_writer_section(w, v->centroids, v->centroids ? v->nlist * d * sizeof(float) : 0);
  if (ix->type == CAIRN_INDEX_IVF_SQ8)
    save_sq8(ix, w);
  if (ix->type == CAIRN_INDEX_IVF_PQ) {
    cairn_writer_section(w, v->codebooks,
                         v->codebooks ? (size_t)v->m * v->ksub * v->dsub * sizeof(float) : 0);
  }
  uint32_t *sizes = malloc(v->nlist * sizeof(uint32_t));
  if (sizes == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (uint32_t l = 0; l < v->nlist; l++)
    sizes[l] = v->lists[l].n;
  cairn_writer_section(w, sizes, v->nlist * sizeof(uint32_t));
  free(sizes);
  for (uint32_t l = 0; l < v->nlist; l++) {
    cairn_writer_section(w, v->lists[l].pos, v->lists[l].n * sizeof(uint32_t));
    cairn_writer_section(w, v->lists[l].codes, (size_t)v->lists[l].n * v->code_size);
  }
  return CAIRN_OK;
}

static bool read_opt(cairn_reader *r, size_t want, void **out) {
  size_t len;
  if (!cairn_reader_section_copy(r, 1, SIZE_MAX, out, &len))
    return false;
  if (len == 0 || len == want)
    return true;
  free(*out);
  *out = NULL;
  return false;
}

static cairn_status corrupt(cairn_error *err, const char *what) {
  return cairn_error_set(err, CAIRN_CORRUPT, "IVF %s malformed", what);
}

/* Reads the optional SQ8 version section into v->sq8_version (1 when there
 * is none: the reader is left where it was). */
static cairn_status sq8_version(cairn_reader *r, ivf *v, cairn_error *err) {
  size_t at = r->off, len;
  const void *p;
  if (!cairn_reader_section(r, 1, SIZE_MAX, &p, &len))
    return corrupt(err, "SQ8 version");
  if (len != SQ8_VER_LEN || memcmp(p, "SQ8V", 4) != 0) {
    r->off = at;
    v->sq8_version = 1;
    return CAIRN_OK;
  }
  const uint8_t *b = p;
  unsigned ver = b[4] | (unsigned)b[5] << 8;
  if (ver != 2 && ver != SQ8_VERSION)
    return cairn_error_set(err, CAIRN_CORRUPT, "IVF_SQ8 section version %u unsupported", ver);
  v->sq8_version = ver;
  return CAIRN_OK;
}

/* SQ8 version 3 ranges (after the version section); have: trained. The
 * list sizes come later, so a scale of 0 (an empty list's) is let through
 * here and refused by check_sq8_list for a list that holds rows. */
static cairn_status load_sq8_ranges(cairn_index *ix, ivf *v, cairn_reader *r,
                                    bool have, cairn_error *err) {
  size_t nr = (size_t)v->nlist * ix->dim;
  if (!read_opt(r, v->nlist * sizeof(float), (void **)&v->sq_scale) ||
      !read_opt(r, nr * sizeof(int16_t), (void **)&v->sq_lo) ||
      !read_opt(r, nr * sizeof(int16_t), (void **)&v->sq_hi) ||
      (v->sq_scale != NULL) != have || (v->sq_lo != NULL) != have ||
      (v->sq_hi != NULL) != have)
    return corrupt(err, "SQ8 ranges");
  for (uint32_t l = 0; have && l < v->nlist; l++)
    if (!(v->sq_scale[l] >= 0 && v->sq_scale[l] <= FLT_MAX))
      return corrupt(err, "SQ8 ranges");
  return CAIRN_OK;
}

static cairn_status load_sq8(cairn_index *ix, ivf *v, cairn_reader *r,
                             bool have, cairn_error *err) {
  size_t d = ix->dim;
  cairn_status st = sq8_version(r, v, err);
  if (st != CAIRN_OK || v->sq8_version == 3)
    return st != CAIRN_OK ? st : load_sq8_ranges(ix, v, r, have, err);
  if (!read_opt(r, d * sizeof(float), (void **)&v->vmin) ||
      !read_opt(r, d * sizeof(float), (void **)&v->vdiff) ||
      (v->vmin == NULL) != (v->vdiff == NULL) || (v->vmin == NULL) == have)
    return corrupt(err, "SQ8 ranges");
  for (size_t j = 0; have && j < d; j++)
    if (!(v->vdiff[j] > 0))
      return corrupt(err, "SQ8 ranges");
  return CAIRN_OK;
}

/* SQ8 version 3: every list holding rows has a usable grid. */
static bool check_sq8_list(const cairn_index *ix, const ivf *v, uint32_t l) {
  if (v->sq8_version != 3 || v->lists[l].n == 0)
    return true;
  if (!(v->sq_scale[l] > 0))
    return false;
  size_t d = ix->dim;
  for (size_t j = 0; j < d; j++)
    if (v->sq_lo[(size_t)l * d + j] >= v->sq_hi[(size_t)l * d + j])
      return false;
  return true;
}

cairn_status ivf_load(cairn_index *ix, cairn_reader *r, cairn_error *err) {
  ivf *v = ix->impl;
  size_t d = ix->dim;
  bool bin = ix->type == CAIRN_INDEX_BIN_IVF_FLAT;
  void *p;
  if (!read_opt(r, bin ? v->nlist * d / 8 : v->nlist * d * sizeof(float), &p))
    return corrupt(err, "centroids");
  if (bin)
    v->bcentroids = p;
  else
    v->centroids = p;
  bool have = p != NULL;
  if (ix->type == CAIRN_INDEX_IVF_SQ8) {
    cairn_status st = load_sq8(ix, v, r, have, err);
    if (st != CAIRN_OK)
      return st;
  } else if (ix->type == CAIRN_INDEX_IVF_PQ) {
    if (!read_opt(r, (size_t)v->m * v->ksub * v->dsub * sizeof(float),
                  (void **)&v->codebooks) || (v->codebooks != NULL) != have)
      return corrupt(err, "PQ codebooks");
    if (ivf_pq_precompute(ix, v) != CAIRN_OK)
      return cairn_error_set(err, CAIRN_NOMEM, "out of memory for PQ tables");
  }
  if (ix->n > 0 && (!have || !ix->trained))
    return corrupt(err, "training state");
  const void *sp;
  size_t len;
  if (!cairn_reader_section(r, 4, v->nlist * sizeof(uint32_t), &sp, &len))
    return corrupt(err, "list sizes");
  const uint32_t *sizes = sp;
  uint64_t total = 0;
  for (uint32_t l = 0; l < v->nlist; l++)
    total += sizes[l];
  if (total != ix->n)
    return corrupt(err, "list sizes");
  uint8_t *seen = calloc(ix->n + 1, 1);
  if (seen == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = CAIRN_OK;
  for (uint32_t l = 0; l < v->nlist && st == CAIRN_OK; l++) {
    ivf_list *L = &v->lists[l];
    uint32_t n;
    memcpy(&n, (const uint8_t *)sp + l * 4, 4);
    if (!cairn_reader_section_copy(r, 4, (size_t)n * 4, (void **)&L->pos, &len) ||
        !cairn_reader_section_copy(r, 1, (size_t)n * v->code_size, (void **)&L->codes, &len)) {
      st = corrupt(err, "list");
      break;
    }
    L->n = L->cap = n;
    if (ix->type == CAIRN_INDEX_IVF_SQ8 && !check_sq8_list(ix, v, l)) {
      st = corrupt(err, "SQ8 ranges");
      break;
    }
    if (ix->type == CAIRN_INDEX_IVF_PQ)
      for (size_t i = 0; i < (size_t)n * v->code_size; i++)
        if (L->codes[i] >= v->ksub) {
          st = corrupt(err, "PQ codes");
          break;
        }
    for (uint32_t i = 0; st == CAIRN_OK && i < n; i++) {
      if (L->pos[i] >= ix->n || seen[L->pos[i]]) {
        st = corrupt(err, "list positions");
        break;
      }
      seen[L->pos[i]] = 1;
    }
  }
  free(seen);
  return st;
}
