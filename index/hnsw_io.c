/*
 * hnsw_io.c — HNSW file sections (inside the container of index_io.c).
 *
 * After the common part, in order:
 *   u32  entry point position
 *   u32  top level + 1 (0 for an empty graph)
 *   u32  bytes per stored value: 4 (float32) or 1 (uint8, see hnsw.h)
 *   section vecs    n * dim values of that size
 *   section links0  n * (1 + M0) u32, M0 = 2 * params.M
 *   section levels  n bytes, each <= 31
 *   section upper   sum(levels[i]) * (1 + M) u32: the upper link lists of
 *                   every node with level > 0, in position order, level 1
 *                   first
 * Checks on load: every count <= its capacity, every neighbour < n,
 * upper length equal to the sum of levels, entry < n with
 * levels[entry] == top level. A graph that passes is safe to search
 * (no out-of-bounds access), whatever its quality.
 */
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"

cairn_status hnsw_save(const cairn_index *ix, cairn_writer *w,
                       cairn_error *err) {
  (void)err;
  const hnsw *h = ix->impl;
  size_t n = ix->n, up = 0;
  cairn_writer_u32(w, h->entry);
  cairn_writer_u32(w, (uint32_t)(h->max_level + 1));
  cairn_writer_u32(w, h->elem);
  cairn_writer_section(w, h->vecs, n * ix->dim * h->elem);
  cairn_writer_section(w, h->links0, n * (h->M0 + 1) * sizeof(uint32_t));
  cairn_writer_section(w, h->levels, n);
  for (size_t i = 0; i < n; i++)
    up += h->levels[i];
  cairn_writer_u64(w, up * (h->M + 1) * sizeof(uint32_t));
  size_t pad = (CAIRN_IO_ALIGN - w->len % CAIRN_IO_ALIGN) % CAIRN_IO_ALIGN;
  cairn_writer_put(w, NULL, pad);
  for (size_t i = 0; i < n; i++)
    if (h->levels[i] > 0)
      cairn_writer_put(w, h->upper[i],
                       h->levels[i] * (h->M + 1) * sizeof(uint32_t));
  return CAIRN_OK;
}

static bool list_ok(const uint32_t *l, uint32_t cap, size_t n) {
  if (l[0] > cap)
    return false;
  for (uint32_t j = 1; j <= l[0]; j++)
    if (l[j] >= n)
      return false;
  return true;
}

cairn_status hnsw_load(cairn_index *ix, cairn_reader *r, cairn_error *err) {
  hnsw *h = ix->impl;
  size_t n = ix->n;
  uint32_t entry, top1, elem;
  if (!cairn_reader_u32(r, &entry) || !cairn_reader_u32(r, &top1) ||
      !cairn_reader_u32(r, &elem) || (elem != 4 && elem != 1) ||
      (elem == 1 && ix->metric == CAIRN_METRIC_COSINE) ||
      top1 > HNSW_MAX_LEVEL + 1 || (n > 0) != (top1 > 0) ||
      (n > 0 && entry >= n) || n >= HNSW_EXPANDED)
    return cairn_error_set(err, CAIRN_CORRUPT, "HNSW header malformed");
  h->elem = elem;
  if (hnsw_reserve(ix, h, n ? n : 1, err) != CAIRN_OK)
    return CAIRN_NOMEM;
  const void *p;
  size_t len;
  if (!cairn_reader_section(r, 1, n * ix->dim * elem, &p, &len))
    return cairn_error_set(err, CAIRN_CORRUPT, "HNSW vectors malformed");
  memcpy(h->vecs, p, len);
  if (!cairn_reader_section(r, 1, n * (h->M0 + 1) * sizeof(uint32_t), &p, &len))
    return cairn_error_set(err, CAIRN_CORRUPT, "HNSW level-0 links malformed");
  memcpy(h->links0, p, len);
  if (!cairn_reader_section(r, 1, n, &p, &len))
    return cairn_error_set(err, CAIRN_CORRUPT, "HNSW levels malformed");
  memcpy(h->levels, p, len);
  memset(h->upper, 0, n * sizeof *h->upper);
  memset(h->locks, 0, n);
  h->ninit = n;
  size_t up = 0;
  for (size_t i = 0; i < n; i++) {
    if (h->levels[i] > HNSW_MAX_LEVEL || !list_ok(hnsw_links(h, (uint32_t)i, 0), h->M0, n))
      return cairn_error_set(err, CAIRN_CORRUPT, "HNSW node %zu malformed", i);
    up += h->levels[i];
  }
  size_t per = (h->M + 1) * sizeof(uint32_t);
  if (!cairn_reader_section(r, 1, up * per, &p, &len))
    return cairn_error_set(err, CAIRN_CORRUPT, "HNSW upper links malformed");
  const uint8_t *src = p;
  for (size_t i = 0; i < n; i++) {
    if (h->levels[i] == 0)
      continue;
    h->upper[i] = malloc(h->levels[i] * per);
    if (h->upper[i] == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    memcpy(h->upper[i], src, h->levels[i] * per);
    src += h->levels[i] * per;
    for (int l = 1; l <= h->levels[i]; l++)
      if (!list_ok(hnsw_links(h, (uint32_t)i, l), h->M, n))
        return cairn_error_set(err, CAIRN_CORRUPT, "HNSW node %zu malformed", i);
  }
  /* upper lists of a node must only point at nodes that have that level */
  for (size_t i = 0; i < n; i++)
    for (int l = 1; l <= h->levels[i]; l++) {
      const uint32_t *lk = hnsw_links(h, (uint32_t)i, l);
      for (uint32_t j = 1; j <= lk[0]; j++)
        if (h->levels[lk[j]] < l)
          return cairn_error_set(err, CAIRN_CORRUPT, "HNSW node %zu malformed", i);
    }
  if (n > 0 && h->levels[entry] != top1 - 1)
    return cairn_error_set(err, CAIRN_CORRUPT, "HNSW entry point malformed");
  h->entry = entry;
  h->max_level = (int)top1 - 1;
  return CAIRN_OK;
}
