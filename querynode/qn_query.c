/*
 * qn_query.c — query (filter + offset/limit + output columns) and count.
 *
 * Rows are visited segment by segment in the view's order (sealed by
 * channel and start position, then growing), row order within a segment;
 * the allowed-rows bitset of each segment is the same as search's (filter,
 * partitions, deletes). count_only stops at the bitsets' popcounts, so
 * count(*) with a filter over a million rows never builds FieldData.
 * Query collects (segment, row) pairs up to offset + limit and gathers
 * the output columns of those after the offset (qn_output.c).
 * XXX no limit on a query without `limit`: every matching row is gathered
 * (Milvus caps a query at 16384 rows; the proxy should enforce that).
 */
#include <stdlib.h>
#include <string.h>

#include "qn_internal.h"

typedef Milvus__Proto__Schema__FieldData field_data;

/* Appends the set bits of one segment to w (growing it), stopping at
 * `want` rows in all (SIZE_MAX: every row). */
static cairn_status collect(const uint64_t *bits, size_t n_rows, int seg,
                            size_t want, qn_cand **w, size_t *n, size_t *cap,
                            cairn_error *err) {
  for (size_t wd = 0; wd < (n_rows + 63) / 64 && *n < want; wd++)
    for (uint64_t m = bits[wd]; m != 0 && *n < want; m &= m - 1) {
      if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        qn_cand *t = realloc(*w, nc * sizeof *t);
        if (t == NULL)
          return cairn_error_set(err, CAIRN_NOMEM, NULL);
        *w = t;
        *cap = nc;
      }
      (*w)[(*n)++] = (qn_cand){0, seg, (int64_t)(wd * 64 + (size_t)__builtin_ctzll(m))};
    }
  return CAIRN_OK;
}

typedef struct query_run {
  qn_coll *c;
  const cairn_qn_query *req;
  qn_segview *sv;
  size_t n_sv;
  uint64_t count;   /* matching rows seen */
  qn_cand *w;       /* matching rows collected (not count_only) */
  size_t n, cap;
} query_run;

static cairn_status scan_segments(query_run *r, size_t want, cairn_error *err) {
  cairn_status st = CAIRN_OK;
  for (size_t s = 0; st == CAIRN_OK && s < r->n_sv; s++) {
    const qn_segview *sv = &r->sv[s];
    if (sv->n_rows == 0 || (!r->req->count_only && r->n >= want))
      continue;
    uint64_t *bits = malloc(((sv->n_rows + 63) / 64) * 8);
    if (bits == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    size_t n_set = 0;
    st = qn_segview_allowed(r->c, sv, r->req->partition_ids, r->req->n_partition_ids,
                            r->req->filter, bits, &n_set, err);
    r->count += n_set;
    if (st == CAIRN_OK && !r->req->count_only)
      st = collect(bits, sv->n_rows, (int)s, want, &r->w, &r->n, &r->cap, err);
    free(bits);
  }
  return st;
}

static cairn_status build(query_run *r, cairn_arena *a, field_data ***fields,
                          size_t *n_fields, size_t *n_rows, cairn_error *err) {
  size_t off = r->req->offset > 0 ? (size_t)r->req->offset : 0;
  size_t n = r->n > off ? r->n - off : 0;
  qn_out_plan p;
  cairn_status st = qn_make_plan(a, r->c, &r->req->output, &p, err);
  if (st == CAIRN_OK)
    st = qn_build_columns(a, r->c, r->sv, &p, r->w + (n ? off : 0), n, fields, err);
  if (st == CAIRN_OK) {
    *n_fields = p.n_fields;
    *n_rows = n;
  }
  return st;
}

cairn_status cairn_querynode_query(cairn_querynode *qn, const cairn_qn_query *req,
                                   cairn_arena *arena, field_data ***fields,
                                   size_t *n_fields, size_t *n_rows,
                                   cairn_error *err) {
  *fields = NULL;
  *n_fields = 0;
  *n_rows = 0;
  if (req == NULL || (arena == NULL && !req->count_only))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "query request missing");
  if (req->offset < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "offset must be >= 0");
  query_run r = {.req = req};
  cairn_status st = qn_coll_get_loaded(qn, req->collection_id, &r.c, err);
  if (st != CAIRN_OK)
    return st;
  qn_view *v = NULL;
  size_t want = req->limit < 0 ? SIZE_MAX : (size_t)req->offset + (size_t)req->limit;
  st = qn_read_begin(r.c, req->strong, true, &v, &r.sv, &r.n_sv, err);
  if (st == CAIRN_OK)
    st = scan_segments(&r, want, err);
  if (st == CAIRN_OK && req->count_only)
    *n_rows = (size_t)r.count;
  else if (st == CAIRN_OK)
    st = build(&r, arena, fields, n_fields, n_rows, err);
  free(r.w);
  qn_segviews_free(r.sv, r.n_sv);
  qn_view_unref(v);
  qn_coll_unref(r.c);
  return st;
}

cairn_status cairn_querynode_count(cairn_querynode *qn, int64_t collection_id,
                                   bool strong, uint64_t *rows, cairn_error *err) {
  cairn_qn_query q = {.collection_id = collection_id, .limit = -1, .strong = strong,
                      .count_only = true};
  field_data **f;
  size_t nf, n = 0;
  *rows = 0;
  cairn_status st = cairn_querynode_query(qn, &q, NULL, &f, &nf, &n, err);
  *rows = n;
  return st;
}
