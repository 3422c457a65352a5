/*
 * sparse.c — SPARSE_INVERTED_INDEX: an inverted index over sparse float
 * vectors, metric IP (the only one Milvus allows for it).
 *
 * Layout: one posting list per dimension that occurs, each a pair of
 * arrays (row positions ascending, values); an open-addressing hash table
 * maps a dimension index to its list. Rows are not kept otherwise.
 *
 * Build: drop_ratio_build drops, per row, that fraction of its entries
 * with the smallest absolute values before they are posted (Milvus
 * semantics). Search: drop_ratio_search does the same to the query; then
 * term-at-a-time accumulation into a dense score array (per-search
 * scratch of n floats), touching only the postings of the query's
 * dimensions; rows that share no dimension with the query score nothing
 * and are not returned. The filter bitset is checked per posting.
 *
 * File sections (after the common ones): list dimensions (u32 each),
 * list sizes (u32 each), all positions (u32, list after list), all values
 * (float32, same order). Checks: sizes sum to the positions length,
 * dimensions unique, positions < n and ascending within a list.
 *
 * Threading: searches run concurrently (scratch is per call); add needs
 * exclusive access.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index_impl.h"

typedef struct posting {
  uint32_t dim;
  uint32_t n, cap;
  uint32_t *pos;
  float *val;
} posting;

typedef struct sparse {
  posting *lists;
  uint32_t nlists, cap_lists;
  uint32_t *table;   /* hash slots: list index + 1, 0 = empty */
  uint32_t table_cap; /* power of two, >= 2 * nlists */
} sparse;

static inline uint32_t hash_dim(uint32_t d) {
  d ^= d >> 16;
  d *= 0x7feb352dU;
  d ^= d >> 15;
  d *= 0x846ca68bU;
  return d ^ (d >> 16);
}

static posting *find_list(const sparse *s, uint32_t dim) {
  if (s->table_cap == 0)
    return NULL;
  for (uint32_t h = hash_dim(dim) & (s->table_cap - 1);; h = (h + 1) & (s->table_cap - 1)) {
    uint32_t e = s->table[h];
    if (e == 0)
      return NULL;
    if (s->lists[e - 1].dim == dim)
      return &s->lists[e - 1];
  }
}

static bool table_insert(sparse *s, uint32_t idx) {
  uint32_t dim = s->lists[idx].dim;
  for (uint32_t h = hash_dim(dim) & (s->table_cap - 1);; h = (h + 1) & (s->table_cap - 1)) {
    if (s->table[h] == 0) {
      s->table[h] = idx + 1;
      return true;
    }
    if (s->lists[s->table[h] - 1].dim == dim)
      return false;
  }
}

static bool rehash(sparse *s, uint32_t cap) {
  uint32_t *t = calloc(cap, sizeof(uint32_t));
  if (t == NULL)
    return false;
  free(s->table);
  s->table = t;
  s->table_cap = cap;
  for (uint32_t i = 0; i < s->nlists; i++)
    if (!table_insert(s, i))
      return false; /* duplicate dimension (corrupt file) */
  return true;
}

static posting *get_or_add_list(sparse *s, uint32_t dim) {
  posting *p = find_list(s, dim);
  if (p != NULL)
    return p;
  if (s->nlists == s->cap_lists) {
    uint32_t cap = s->cap_lists ? s->cap_lists * 2 : 64;
    posting *l = realloc(s->lists, cap * sizeof *l);
    if (l == NULL)
      return NULL;
    s->lists = l;
    s->cap_lists = cap;
  }
  if (2 * (s->nlists + 1) > s->table_cap && !rehash(s, s->table_cap ? s->table_cap * 2 : 128))
    return NULL;
  p = &s->lists[s->nlists];
  memset(p, 0, sizeof *p);
  p->dim = dim;
  table_insert(s, s->nlists++);
  return p;
}

static bool posting_push(posting *p, uint32_t pos, float v) {
  if (p->n == p->cap) {
    uint32_t cap = p->cap ? p->cap * 2 : 8;
    uint32_t *np = realloc(p->pos, cap * sizeof(uint32_t));
    if (np == NULL)
      return false;
    p->pos = np;
    float *nv = realloc(p->val, cap * sizeof(float));
    if (nv == NULL)
      return false;
    p->val = nv;
    p->cap = cap;
  }
  p->pos[p->n] = pos;
  p->val[p->n++] = v;
  return true;
}

static cairn_status sparse_init(cairn_index *ix, cairn_error *err) {
  ix->impl = calloc(1, sizeof(sparse));
  ix->trained = true;
  return ix->impl ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
}

static void sparse_destroy(cairn_index *ix) {
  sparse *s = ix->impl;
  if (s == NULL)
    return;
  for (uint32_t i = 0; i < s->nlists; i++) {
    free(s->lists[i].pos);
    free(s->lists[i].val);
  }
  free(s->lists);
  free(s->table);
  free(s);
  ix->impl = NULL;
}

/* |value| threshold below which entries are dropped (ratio of nnz). */
static float drop_threshold(const cairn_sparse_row *r, float ratio) {
  uint32_t drop = (uint32_t)(ratio * (float)r->nnz);
  if (drop == 0 || r->nnz == 0)
    return 0;
  float *a = malloc(r->nnz * sizeof(float));
  if (a == NULL)
    return 0;
  for (uint32_t i = 0; i < r->nnz; i++)
    a[i] = fabsf(r->val[i]);
  /* selection by partial insertion would do; nnz is small, sort */
  for (uint32_t i = 1; i < r->nnz; i++) {
    float t = a[i];
    uint32_t j = i;
    for (; j > 0 && a[j - 1] > t; j--)
      a[j] = a[j - 1];
    a[j] = t;
  }
  float th = a[drop - 1];
  free(a);
  return th;
}

static cairn_status check_row(const cairn_sparse_row *r, size_t i,
                              cairn_error *err) {
  if (r->nnz > 0 && (r->idx == NULL || r->val == NULL))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "sparse row %zu has NULL arrays", i);
  for (uint32_t j = 0; j < r->nnz; j++)
    if ((j > 0 && r->idx[j] <= r->idx[j - 1]) || !isfinite(r->val[j]))
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "sparse row %zu: indices must increase and values be finite", i);
  return CAIRN_OK;
}

static cairn_status sparse_add(cairn_index *ix, size_t n, const void *vecs,
                               cairn_error *err) {
  sparse *s = ix->impl;
  const cairn_sparse_row *rows = vecs;
  for (size_t i = 0; i < n; i++) {
    cairn_status st = check_row(&rows[i], i, err);
    if (st != CAIRN_OK)
      return st;
  }
  for (size_t i = 0; i < n; i++) {
    const cairn_sparse_row *r = &rows[i];
    float th = drop_threshold(r, ix->params.drop_ratio_build);
    for (uint32_t j = 0; j < r->nnz; j++) {
      if (th > 0 && fabsf(r->val[j]) <= th)
        continue;
      posting *p = get_or_add_list(s, r->idx[j]);
      if (p == NULL || !posting_push(p, (uint32_t)(ix->n + i), r->val[j]))
        return cairn_error_set(err, CAIRN_NOMEM, "out of memory adding sparse rows");
    }
  }
  return CAIRN_OK;
}

static cairn_status sparse_search(const cairn_index *ix, const void *query,
                                  const cairn_search_params *sp,
                                  const cairn_bitset *filter, cairn_topk *top,
                                  cairn_error *err) {
  const sparse *s = ix->impl;
  const cairn_sparse_row *q = query;
  cairn_status st = check_row(q, 0, err);
  if (st != CAIRN_OK || ix->n == 0)
    return st;
  float ratio = sp->drop_ratio_search > 0 ? sp->drop_ratio_search
                                          : ix->params.drop_ratio_search;
  float th = drop_threshold(q, ratio);
  float *score = calloc(ix->n, sizeof(float));
  uint8_t *hit = calloc(ix->n, 1);
  uint32_t *touched = malloc(ix->n * sizeof(uint32_t));
  if (score == NULL || hit == NULL || touched == NULL) {
    free(score);
    free(hit);
    free(touched);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory in sparse search");
  }
  size_t nt = 0;
  for (uint32_t j = 0; j < q->nnz; j++) {
    if (th > 0 && fabsf(q->val[j]) <= th)
      continue;
    const posting *p = find_list(s, q->idx[j]);
    if (p == NULL)
      continue;
    for (uint32_t e = 0; e < p->n; e++) {
      uint32_t pos = p->pos[e];
      if (filter != NULL && !cairn_bitset_test(filter, pos))
        continue;
      score[pos] += q->val[j] * p->val[e];
      if (!hit[pos]) {
        hit[pos] = 1;
        touched[nt++] = pos;
      }
    }
  }
  for (size_t i = 0; i < nt; i++)
    cairn_topk_push(top, -score[touched[i]], touched[i]);
  free(score);
  free(hit);
  free(touched);
  return CAIRN_OK;
}

static size_t sparse_memory(const cairn_index *ix) {
  const sparse *s = ix->impl;
  size_t m = sizeof *s + s->cap_lists * sizeof(posting) + s->table_cap * 4;
  for (uint32_t i = 0; i < s->nlists; i++)
    m += (size_t)s->lists[i].cap * (sizeof(uint32_t) + sizeof(float));
  return m;
}

static cairn_status sparse_save(const cairn_index *ix, cairn_writer *w,
                                cairn_error *err) {
  const sparse *s = ix->impl;
  size_t total = 0;
  uint32_t *dims = malloc((s->nlists + 1) * sizeof(uint32_t));
  uint32_t *sizes = malloc((s->nlists + 1) * sizeof(uint32_t));
  if (dims == NULL || sizes == NULL) {
    free(dims);
    free(sizes);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  for (uint32_t i = 0; i < s->nlists; i++) {
    dims[i] = s->lists[i].dim;
    sizes[i] = s->lists[i].n;
    total += s->lists[i].n;
  }
  cairn_writer_section(w, dims, s->nlists * sizeof(uint32_t));
  cairn_writer_section(w, sizes, s->nlists * sizeof(uint32_t));
  free(dims);
  free(sizes);
  cairn_writer_u64(w, total * sizeof(uint32_t));
  cairn_writer_put(w, NULL, (CAIRN_IO_ALIGN - w->len % CAIRN_IO_ALIGN) % CAIRN_IO_ALIGN);
  for (uint32_t i = 0; i < s->nlists; i++)
    cairn_writer_put(w, s->lists[i].pos, s->lists[i].n * sizeof(uint32_t));
  cairn_writer_u64(w, total * sizeof(float));
  cairn_writer_put(w, NULL, (CAIRN_IO_ALIGN - w->len % CAIRN_IO_ALIGN) % CAIRN_IO_ALIGN);
  for (uint32_t i = 0; i < s->nlists; i++)
    cairn_writer_put(w, s->lists[i].val, s->lists[i].n * sizeof(float));
  return CAIRN_OK;
}

static cairn_status sparse_load(cairn_index *ix, cairn_reader *r,
                                cairn_error *err) {
  sparse *s = ix->impl;
  const void *dp, *sp, *pp, *vp;
  size_t dl, sl, pl, vl;
  if (!cairn_reader_section(r, 4, SIZE_MAX, &dp, &dl) ||
      !cairn_reader_section(r, 4, dl, &sp, &sl) ||
      !cairn_reader_section(r, 4, SIZE_MAX, &pp, &pl) ||
      !cairn_reader_section(r, 4, pl, &vp, &vl) || dl / 4 > UINT32_MAX / 4)
    return cairn_error_set(err, CAIRN_CORRUPT, "sparse sections malformed");
  uint32_t nl = (uint32_t)(dl / 4);
  s->lists = calloc(nl ? nl : 1, sizeof(posting));
  if (s->lists == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  s->cap_lists = nl;
  size_t off = 0;
  for (uint32_t i = 0; i < nl; i++) {
    posting *p = &s->lists[i];
    memcpy(&p->dim, (const uint8_t *)dp + 4 * i, 4);
    memcpy(&p->n, (const uint8_t *)sp + 4 * i, 4);
    s->nlists = i + 1;
    if (p->n == 0 || p->n > pl / 4 - off)
      return cairn_error_set(err, CAIRN_CORRUPT, "sparse list sizes malformed");
    p->cap = p->n;
    p->pos = malloc(p->n * sizeof(uint32_t));
    p->val = malloc(p->n * sizeof(float));
    if (p->pos == NULL || p->val == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    memcpy(p->pos, (const uint8_t *)pp + off * 4, p->n * 4);
    memcpy(p->val, (const uint8_t *)vp + off * 4, p->n * 4);
    off += p->n;
    for (uint32_t e = 0; e < p->n; e++)
      if (p->pos[e] >= ix->n || (e > 0 && p->pos[e] <= p->pos[e - 1]))
        return cairn_error_set(err, CAIRN_CORRUPT, "sparse postings malformed");
  }
  if (off != pl / 4)
    return cairn_error_set(err, CAIRN_CORRUPT, "sparse list sizes malformed");
  uint32_t cap = 128;
  while (cap < 2 * nl)
    cap *= 2;
  if (!rehash(s, cap))
    return cairn_error_set(err, CAIRN_CORRUPT, "sparse dimensions repeated");
  return CAIRN_OK;
}

const cairn_index_ops cairn_sparse_ops = {
    .type = CAIRN_INDEX_SPARSE_INVERTED,
    .init = sparse_init,
    .destroy = sparse_destroy,
    .add = sparse_add,
    .search = sparse_search,
    .memory = sparse_memory,
    .save = sparse_save,
    .load = sparse_load,
};
