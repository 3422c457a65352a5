/*
 * qn_search.c — cairn_querynode_search, in phases:
 *   1. check the request, take the collection and a snapshot of its view
 *      (after the strong-consistency wait);
 *   2. per segment, on the pool (one task per segment; a lone segment runs
 *      inline): allowed rows = filter AND partitions AND NOT deleted
 *      (qn_segview_allowed), then the segment's k best per query from its
 *      index (when one is loaded for the field with the request's metric)
 *      or from an exact scan (qn_scan.c); range search keeps the hits
 *      inside [range_filter, radius) (Milvus semantics, see index.h);
 *   3. per query, merge every segment's hits: score order of the metric,
 *      ties by primary key (then segment, row) so results are stable; keep
 *      topk, or with group_by the best group_size hits of each of the first
 *      topk distinct values of the group field;
 *   4. build the SearchResultData in the arena: topks, scores, ids, the pk
 *      column (always, PROTOCOL.md §0.6) and the output fields gathered
 *      from the winning rows only.
 * With group_by each segment returns up to topk * group_size * 8 hits, so
 * groups are exact when that covers the segment's candidates (XXX Milvus
 * iterates the index until the groups are full; a segment with very many
 * rows per group value may return fewer groups than exist).
 * Duplicate primary keys (a pk inserted twice without a delete) are not
 * merged (XXX Milvus keeps the first hit of a pk).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qn_internal.h"

#define QN_MAX_TOPK 16384
#define QN_MAX_NQ 16384
#define GROUP_OVERFETCH 8

typedef struct search_ctx {
  qn_coll *c;
  const cairn_qn_search *req;
  const cairn_field *field;   /* the vector field */
  int field_index;
  cairn_metric metric;
  int k_seg;                  /* hits asked of each segment per query */
  qn_segview *sv;
} search_ctx;

/* Per-segment result: nq lists of hits, best first. */
typedef struct seg_result {
  qn_hit **hits;              /* nq arrays (malloc) */
  size_t *n;                  /* nq counts */
  cairn_status st;
  cairn_error err;
} seg_result;

typedef qn_cand cand;

/* ---- phase 1: checks ---------------------------------------------------- */

static cairn_status check_request(const qn_coll *c, const cairn_qn_search *r,
                                  search_ctx *x, cairn_error *err) {
  if (r->nq == 0 || r->nq > QN_MAX_NQ || r->queries == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "nq must be in [1, %d], got %zu", QN_MAX_NQ, r->nq);
  if (r->topk <= 0 || r->topk > QN_MAX_TOPK)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "topk (limit + offset) must be in [1, %d], got %d",
                           QN_MAX_TOPK, r->topk);
  x->field = cairn_schema_field_by_id(c->schema, r->field_id);
  if (x->field == NULL || !cairn_type_is_vector(x->field->type))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "field %lld is not a vector field of the collection",
                           (long long)r->field_id);
  x->field_index = (int)(x->field - c->schema->fields);
  if (r->group_by_field_id != 0) {
    const cairn_field *g = cairn_schema_field_by_id(c->schema, r->group_by_field_id);
    if (g == NULL || !(g->type == CAIRN_TYPE_BOOL || cairn_type_is_integer(g->type) ||
                       g->type == CAIRN_TYPE_VARCHAR))
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "group by field must be a Bool, Int or VarChar field");
  }
  return CAIRN_OK;
}

/* The metric: the request's, else the loaded index's, else the default. */
static cairn_status resolve_metric(search_ctx *x, size_t n_sv, cairn_error *err) {
  const char *name = x->req->metric;
  for (size_t i = 0; (name == NULL || name[0] == '\0') && i < n_sv; i++) {
    qn_sealed *s = x->sv[i].sealed;
    for (size_t j = 0; s != NULL && j < s->n_vix; j++)
      if (s->vix[j].field_id == x->field->id)
        name = cairn_metric_name(cairn_index_get_metric(s->vix[j].index));
  }
  if (name == NULL || name[0] == '\0')
    name = cairn_index_default_metric_for(x->field->type);
  x->metric = name ? cairn_metric_from_name(name) : CAIRN_METRIC_NONE;
  if (x->metric == CAIRN_METRIC_NONE)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "unknown metric type %s",
                           name ? name : "(none)");
  return CAIRN_OK;
}

/* ---- phase 2: one segment ----------------------------------------------- */

static const cairn_index *segment_index(const search_ctx *x, const qn_segview *sv) {
  for (size_t j = 0; sv->sealed != NULL && j < sv->sealed->n_vix; j++)
    if (sv->sealed->vix[j].field_id == x->field->id &&
        cairn_index_get_metric(sv->sealed->vix[j].index) == x->metric)
      return sv->sealed->vix[j].index;
  return NULL; /* none, or built for another metric: scan exactly */
}

static cairn_status index_topk(const search_ctx *x, const cairn_index *ix,
                               const qn_segview *sv, const uint64_t *bits,
                               seg_result *r) {
  size_t nq = x->req->nq, k = (size_t)x->k_seg;
  int64_t *ids = malloc(nq * k * sizeof *ids);
  float *sc = malloc(nq * k * sizeof *sc);
  cairn_bitset bs = {(const uint8_t *)bits, sv->n_rows};
  cairn_status st = ids && sc ? CAIRN_OK : cairn_error_set(&r->err, CAIRN_NOMEM, NULL);
  if (st == CAIRN_OK)
    st = cairn_index_search(ix, nq, x->req->queries, x->k_seg, &x->req->params,
                            bits ? &bs : NULL, ids, sc, &r->err);
  for (size_t q = 0; st == CAIRN_OK && q < nq; q++)
    for (size_t i = 0; i < k; i++)
      if (ids[q * k + i] >= 0 && (size_t)ids[q * k + i] < sv->n_rows)
        r->hits[q][r->n[q]++] = (qn_hit){sc[q * k + i], ids[q * k + i]};
  free(ids);
  free(sc);
  return st;
}

static cairn_status index_range(const search_ctx *x, const cairn_index *ix,
                                const qn_segview *sv, const uint64_t *bits,
                                size_t q, seg_result *r) {
  cairn_bitset bs = {(const uint8_t *)bits, sv->n_rows};
  cairn_range_result rr = {0};
  const void *qv = qn_query_row(x->field->type, x->field->dim, x->req->queries, q);
  cairn_status st = cairn_index_range_search(ix, qv, x->req->radius, x->req->range_filter,
                                             &x->req->params, bits ? &bs : NULL, &rr,
                                             &r->err);
  for (size_t i = 0; st == CAIRN_OK && i < rr.n && r->n[q] < (size_t)x->k_seg; i++)
    if (rr.ids[i] >= 0 && (size_t)rr.ids[i] < sv->n_rows)
      r->hits[q][r->n[q]++] = (qn_hit){rr.scores[i], rr.ids[i]};
  cairn_range_result_destroy(&rr);
  return st;
}

static cairn_status scan_range(const search_ctx *x, const qn_segview *sv,
                               const uint64_t *bits, size_t q, seg_result *r) {
  qn_hit *hits = NULL;
  size_t n = 0;
  const void *qv = qn_query_row(x->field->type, x->field->dim, x->req->queries, q);
  cairn_status st = qn_scan_range(&sv->cols[x->field_index], sv->n_rows, x->metric, qv,
                                  bits, x->req->radius, x->req->range_filter, &hits,
                                  &n, &r->err);
  for (size_t i = 0; st == CAIRN_OK && i < n && i < (size_t)x->k_seg; i++)
    r->hits[q][r->n[q]++] = hits[i];
  free(hits);
  return st;
}

static cairn_status search_segment(const search_ctx *x, const qn_segview *sv,
                                   const uint64_t *bits, seg_result *r) {
  const cairn_index *ix = segment_index(x, sv);
  if (ix != NULL && !x->req->is_range)
    return index_topk(x, ix, sv, bits, r);
  cairn_status st = CAIRN_OK;
  for (size_t q = 0; st == CAIRN_OK && q < x->req->nq; q++) {
    if (x->req->is_range) {
      st = ix ? index_range(x, ix, sv, bits, q, r) : scan_range(x, sv, bits, q, r);
      continue;
    }
    const void *qv = qn_query_row(x->field->type, x->field->dim, x->req->queries, q);
    st = qn_scan_topk(&sv->cols[x->field_index], sv->n_rows, x->metric, qv, bits,
                      x->k_seg, r->hits[q], &r->n[q], &r->err);
  }
  return st;
}

static cairn_status seg_result_alloc(seg_result *r, size_t nq, size_t k) {
  r->hits = calloc(nq, sizeof *r->hits);
  r->n = calloc(nq, sizeof *r->n);
  if (r->hits == NULL || r->n == NULL)
    return cairn_error_set(&r->err, CAIRN_NOMEM, NULL);
  for (size_t q = 0; q < nq; q++)
    if ((r->hits[q] = malloc(k * sizeof **r->hits)) == NULL)
      return cairn_error_set(&r->err, CAIRN_NOMEM, NULL);
  return CAIRN_OK;
}

static void seg_result_free(seg_result *r, size_t nq) {
  for (size_t q = 0; r->hits != NULL && q < nq; q++)
    free(r->hits[q]);
  free(r->hits);
  free(r->n);
}

typedef struct fanout {
  search_ctx *x;
  seg_result *res;
} fanout;

static void segment_task(void *arg, size_t i) {
  fanout *f = arg;
  search_ctx *x = f->x;
  const qn_segview *sv = &x->sv[i];
  seg_result *r = &f->res[i];
  if ((r->st = seg_result_alloc(r, x->req->nq, (size_t)x->k_seg)) != CAIRN_OK ||
      sv->n_rows == 0)
    return;
  if (qn_segview_all_allowed(x->c, sv, x->req->partition_ids, x->req->n_partition_ids,
                             x->req->filter)) {
    r->st = search_segment(x, sv, NULL, r); /* no bitset to build or count */
    return;
  }
  uint64_t *bits = malloc(((sv->n_rows + 63) / 64) * 8);
  if (bits == NULL) {
    r->st = cairn_error_set(&r->err, CAIRN_NOMEM, NULL);
    return;
  }
  size_t n_set = 0;
  r->st = qn_segview_allowed(x->c, sv, x->req->partition_ids, x->req->n_partition_ids,
                             x->req->filter, bits, &n_set, &r->err);
  if (r->st == CAIRN_OK && n_set > 0)
    r->st = search_segment(x, sv, n_set == sv->n_rows ? NULL : bits, r);
  free(bits);
}

/* ---- phase 3: merge ----------------------------------------------------- */

typedef struct merge_ctx {
  const search_ctx *x;
  bool higher;
} merge_ctx;

static int cmp_pk(const search_ctx *x, const cand *a, const cand *b) {
  int pi = x->c->pk_index;
  const cairn_colview *va = &x->sv[a->seg].cols[pi], *vb = &x->sv[b->seg].cols[pi];
  if (va->type.type == CAIRN_TYPE_INT64) {
    int64_t pa = ((const int64_t *)va->col.values)[a->row];
    int64_t pb = ((const int64_t *)vb->col.values)[b->row];
    return pa < pb ? -1 : pa > pb;
  }
  size_t la, lb;
  const char *sa = cairn_colview_string(va, (size_t)a->row, &la);
  const char *sb = cairn_colview_string(vb, (size_t)b->row, &lb);
  int c = memcmp(sa, sb, la < lb ? la : lb);
  return c != 0 ? c : (la < lb ? -1 : la > lb);
}

static int cmp_cand(const void *pa, const void *pb, void *arg) {
  const merge_ctx *m = arg;
  const cand *a = pa, *b = pb;
  if (a->score != b->score)
    return (m->higher ? a->score > b->score : a->score < b->score) ? -1 : 1;
  int c = cmp_pk(m->x, a, b);
  if (c != 0)
    return c;
  if (a->seg != b->seg)
    return a->seg < b->seg ? -1 : 1;
  return a->row < b->row ? -1 : a->row > b->row;
}

/* A group-by value of a hit. */
typedef struct gval {
  bool null;
  int64_t i;
  const char *s;
  size_t len;
} gval;

static gval group_value(const search_ctx *x, int gidx, const cand *h) {
  const cairn_colview *v = &x->sv[h->seg].cols[gidx];
  size_t r = (size_t)h->row;
  gval g = {0};
  if (!cairn_colview_valid(v, r)) {
    g.null = true;
    return g;
  }
  switch (v->type.type) {
  case CAIRN_TYPE_BOOL: g.i = ((const uint8_t *)v->col.values)[r]; break;
  case CAIRN_TYPE_INT8: g.i = ((const int8_t *)v->col.values)[r]; break;
  case CAIRN_TYPE_INT16: g.i = ((const int16_t *)v->col.values)[r]; break;
  case CAIRN_TYPE_INT32: g.i = ((const int32_t *)v->col.values)[r]; break;
  case CAIRN_TYPE_INT64: g.i = ((const int64_t *)v->col.values)[r]; break;
  default: g.s = cairn_colview_string(v, r, &g.len); break;
  }
  return g;
}

static bool gval_eq(const gval *a, const gval *b) {
  if (a->null || b->null)
    return a->null == b->null;
  if (a->s != NULL || b->s != NULL)
    return a->s && b->s && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
  return a->i == b->i;
}

/* Keeps the best group_size hits of the first topk groups, in place;
 * returns how many hits remain. */
static size_t select_groups(const search_ctx *x, cand *c, size_t n, cairn_error *err,
                            bool *nomem) {
  const cairn_field *gf = cairn_schema_field_by_id(x->c->schema, x->req->group_by_field_id);
  int gidx = (int)(gf - x->c->schema->fields);
  size_t topk = (size_t)x->req->topk, gsize = x->req->group_size > 0 ? (size_t)x->req->group_size : 1;
  gval *groups = malloc((topk + 1) * sizeof *groups);
  size_t *counts = calloc(topk + 1, sizeof *counts), n_groups = 0, kept = 0;
  if (groups == NULL || counts == NULL) {
    free(groups);
    free(counts);
    *nomem = true;
    cairn_error_set(err, CAIRN_NOMEM, NULL);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    gval g = group_value(x, gidx, &c[i]);
    size_t j = 0;
    while (j < n_groups && !gval_eq(&groups[j], &g))
      j++;
    if (j == n_groups) {
      if (n_groups == topk)
        continue;
      groups[n_groups++] = g;
    }
    if (counts[j] < gsize) {
      counts[j]++;
      c[kept++] = c[i];
    }
  }
  /* Milvus orders grouped hits group by group, best group first. */
  cand *tmp = malloc((kept + 1) * sizeof *tmp);
  if (tmp != NULL) {
    size_t at = 0;
    for (size_t j = 0; j < n_groups; j++)
      for (size_t i = 0; i < kept; i++) {
        gval g = group_value(x, gidx, &c[i]);
        if (gval_eq(&groups[j], &g))
          tmp[at++] = c[i];
      }
    memcpy(c, tmp, kept * sizeof *c);
  }
  free(tmp);
  free(groups);
  free(counts);
  return kept;
}

/* Winners of query q into out (capacity: every hit), returns the count. */
static cairn_status merge_query(const search_ctx *x, const seg_result *res, size_t n_sv,
                                size_t q, cand *out, size_t *n_out, cairn_error *err) {
  size_t n = 0;
  for (size_t s = 0; s < n_sv; s++)
    for (size_t i = 0; i < res[s].n[q]; i++)
      out[n++] = (cand){res[s].hits[q][i].score, (int)s, res[s].hits[q][i].row};
  merge_ctx m = {x, cairn_metric_higher_is_better(x->metric)};
  qsort_r(out, n, sizeof *out, cmp_cand, &m);
  if (x->req->group_by_field_id != 0) {
    bool nomem = false;
    n = select_groups(x, out, n, err, &nomem);
    if (nomem)
      return CAIRN_NOMEM;
  } else if (n > (size_t)x->req->topk) {
    n = (size_t)x->req->topk;
  }
  *n_out = n;
  return CAIRN_OK;
}

/* ---- phase 4: the reply ------------------------------------------------- */

typedef Milvus__Proto__Schema__SearchResultData result_data;

static cairn_status build_reply(cairn_arena *a, const search_ctx *x, const cand *w,
                                const size_t *topks, size_t total, result_data **out,
                                cairn_error *err) {
  const cairn_qn_search *req = x->req;
  result_data *r = CAIRN_ARENA_NEW(a, result_data, 1);
  int64_t *tk = CAIRN_ARENA_NEW(a, int64_t, req->nq + 1);
  float *sc = CAIRN_ARENA_NEW(a, float, total + 1);
  if (r == NULL || tk == NULL || sc == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__search_result_data__init(r);
  r->num_queries = (int64_t)req->nq;
  r->top_k = req->topk;
  for (size_t q = 0; q < req->nq; q++)
    tk[q] = (int64_t)topks[q];
  for (size_t i = 0; i < total; i++)
    sc[i] = w[i].score;
  r->topks = tk;
  r->n_topks = req->nq;
  r->scores = sc;
  r->n_scores = total;
  qn_out_plan p;
  cairn_status st = qn_build_ids(a, x->c, x->sv, w, total, &r->ids, err);
  if (st == CAIRN_OK)
    st = qn_make_plan(a, x->c, &req->output, &p, err);
  if (st == CAIRN_OK)
    st = qn_build_columns(a, x->c, x->sv, &p, w, total, &r->fields_data, err);
  if (st != CAIRN_OK)
    return st;
  r->n_fields_data = p.n_fields;
  r->output_fields = (char **)p.names;
  r->n_output_fields = p.n_names;
  r->primary_field_name = cairn_arena_strdup(a, x->c->schema->fields[x->c->pk_index].name);
  if (req->group_by_field_id != 0) {
    const cairn_field *g = cairn_schema_field_by_id(x->c->schema, req->group_by_field_id);
    st = qn_gather_field(a, x->c, x->sv, (int)(g - x->c->schema->fields), w, total, NULL,
                         0, &r->group_by_field_value, err);
  }
  if (st == CAIRN_OK)
    *out = r;
  return st;
}

/* Phases 2-4 over the snapshot x->sv[0..n_sv). */
static cairn_status run_search(search_ctx *x, size_t n_sv, cairn_arena *a,
                               result_data **out, cairn_error *err) {
  size_t nq = x->req->nq, total = 0, max_q = 0;
  seg_result *res = calloc(n_sv + 1, sizeof *res);
  size_t *topks = calloc(nq, sizeof *topks);
  if (res == NULL || topks == NULL) {
    free(res);
    free(topks);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  fanout f = {x, res};
  /* Only non-empty segments do work: with at most one of them (a single
   * flushed segment and an empty growing one is the common case) the search
   * runs inline, with no thread hand-off and no wake-ups. */
  size_t busy = 0;
  for (size_t i = 0; i < n_sv; i++)
    busy += x->sv[i].n_rows > 0;
  if (busy <= 1)
    for (size_t i = 0; i < n_sv; i++)
      segment_task(&f, i);
  else
    qn_pool_run(x->c->qn->pool, segment_task, &f, n_sv);
  cairn_status st = CAIRN_OK;
  for (size_t s = 0; s < n_sv && st == CAIRN_OK; s++)
    if (res[s].st != CAIRN_OK) {
      st = res[s].st;
      if (err != NULL)
        *err = res[s].err;
    }
  for (size_t q = 0; st == CAIRN_OK && q < nq; q++) {
    size_t nh = 0;
    for (size_t s = 0; s < n_sv; s++)
      nh += res[s].n[q];
    total += nh;
    max_q = nh > max_q ? nh : max_q;
  }
  cand *w = st == CAIRN_OK ? malloc((total + 1) * sizeof *w) : NULL;
  cand *scratch = st == CAIRN_OK ? malloc((max_q + 1) * sizeof *scratch) : NULL;
  if (st == CAIRN_OK && (w == NULL || scratch == NULL))
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  size_t at = 0;
  for (size_t q = 0; st == CAIRN_OK && q < nq; q++) {
    st = merge_query(x, res, n_sv, q, scratch, &topks[q], err);
    memcpy(w + at, scratch, topks[q] * sizeof *w);
    at += topks[q];
  }
  if (st == CAIRN_OK)
    st = build_reply(a, x, w, topks, at, out, err);
  for (size_t s = 0; s < n_sv; s++)
    seg_result_free(&res[s], nq);
  free(res);
  free(topks);
  free(w);
  free(scratch);
  return st;
}

static int segment_k(const cairn_qn_search *req) {
  if (req->group_by_field_id == 0)
    return req->topk;
  int64_t g = req->group_size > 0 ? req->group_size : 1;
  int64_t k = (int64_t)req->topk * g * GROUP_OVERFETCH;
  return k > 65536 ? 65536 : (int)k;
}

cairn_status cairn_querynode_search(cairn_querynode *qn, const cairn_qn_search *req,
                                    cairn_arena *arena, result_data **out,
                                    cairn_error *err) {
  *out = NULL;
  if (req == NULL || arena == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "search request missing");
  qn_coll *c = NULL;
  cairn_status st = qn_coll_get_loaded(qn, req->collection_id, &c, err);
  if (st != CAIRN_OK)
    return st;
  search_ctx x = {.c = c, .req = req, .k_seg = segment_k(req)};
  qn_view *v = NULL;
  size_t n_sv = 0;
  st = check_request(c, req, &x, err);
  if (st == CAIRN_OK)
    st = qn_read_begin(c, req->strong, !req->ignore_growing, &v, &x.sv, &n_sv, err);
  if (st == CAIRN_OK)
    st = resolve_metric(&x, n_sv, err);
  if (st == CAIRN_OK)
    st = run_search(&x, n_sv, arena, out, err);
  qn_segviews_free(x.sv, n_sv);
  qn_view_unref(v);
  qn_coll_unref(c);
  return st;
}
