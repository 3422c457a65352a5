/*
 * proxy_hybrid.c — HybridSearch: several searches (one per vector field or
 * query set) fused into one ranking.
 *
 * Each sub-request runs as a normal search returning primary keys and
 * scores. Fusion per query: RRF (score = sum over lists of 1 / (k + rank),
 * rank from 1, k from rank_params params {"k": 60}), or weighted (score =
 * sum of weight_i * normalised score, weights from {"weights": [...]};
 * normalisation as Milvus's WeightedRanker: COSINE (1 + s) / 2, IP
 * 0.5 + atan(s) / pi, L2 and other distances 1 - 2 * atan(d) / pi). The
 * fused list is cut to [offset, offset + limit), and the output fields of
 * the winners are fetched with one query by primary key.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fielddata.h"
#include "proxy_results.h"

typedef Milvus__Proto__Schema__SearchResultData result_data;

typedef struct fused {
  int64_t ipk;       /* Int64 key */
  const char *spk;   /* VarChar key, or NULL */
  double score;
} fused;

typedef struct fusion {
  bool rrf;
  double k;
  double *weights;
  size_t n_weights;
  int64_t limit, offset, round_decimal;
} fusion;

static cairn_status parse_fusion(cairn_arena *arena, mpb_kv *const *kv, size_t n,
                                 size_t n_requests, fusion *f, cairn_error *err) {
  memset(f, 0, sizeof *f);
  const char *strategy = cairn_pb_kv_get(kv, n, "strategy");
  const char *params = cairn_pb_kv_get(kv, n, "params");
  const char *limit = cairn_pb_kv_get(kv, n, "limit");
  const char *offset = cairn_pb_kv_get(kv, n, "offset");
  const char *rd = cairn_pb_kv_get(kv, n, "round_decimal");
  f->rrf = strategy == NULL || strategy[0] == '\0' || strcasecmp(strategy, "rrf") == 0;
  if (!f->rrf && strcasecmp(strategy, "weighted") != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "unknown rerank strategy '%s' (use rrf or weighted)",
                           strategy);
  f->k = 60;
  f->limit = limit ? strtoll(limit, NULL, 10) : 10;
  f->offset = offset ? strtoll(offset, NULL, 10) : 0;
  f->round_decimal = rd ? strtoll(rd, NULL, 10) : -1;
  if (f->limit <= 0 || f->limit > 16384 || f->offset < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "hybrid search limit must be in [1, 16384]");
  json_object *o = params ? json_tokener_parse(params) : NULL, *v = NULL;
  if (o != NULL && json_object_object_get_ex(o, "k", &v))
    f->k = json_object_get_double(v);
  if (o != NULL && json_object_object_get_ex(o, "weights", &v) &&
      json_object_is_type(v, json_type_array)) {
    f->n_weights = json_object_array_length(v);
    f->weights = CAIRN_ARENA_NEW(arena, double, f->n_weights + 1);
    for (size_t i = 0; i < f->n_weights; i++)
      f->weights[i] = json_object_get_double(json_object_array_get_idx(v, i));
  }
  json_object_put(o);
  if (f->rrf && !(f->k > 0 && f->k < 16384))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "rrf k must be in (0, 16384)");
  if (!f->rrf && f->n_weights != n_requests)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "weighted rerank needs one weight per request: %zu "
                           "weights for %zu requests", f->n_weights, n_requests);
  return CAIRN_OK;
}

static double normalise(const char *metric, double s) {
  if (strcasecmp(metric, "COSINE") == 0)
    return (1 + s) / 2;
  if (strcasecmp(metric, "IP") == 0)
    return 0.5 + atan(s) / M_PI;
  return 1 - 2 * atan(s) / M_PI;
}

/* Add one list's hits of query q to the fused table. */
static void fuse_list(cairn_arena *arena, const result_data *r, size_t q,
                      const char *metric, const fusion *f, size_t list,
                      fused **tab, size_t *n, size_t *cap) {
  size_t start = 0;
  for (size_t i = 0; i < q; i++)
    start += (size_t)r->topks[i];
  bool str = r->ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
  for (size_t h = 0; h < (size_t)r->topks[q]; h++) {
    size_t at = start + h;
    double add = f->rrf ? 1.0 / (f->k + (double)(h + 1))
                        : f->weights[list] * normalise(metric, r->scores[at]);
    size_t k = 0;
    for (; k < *n; k++)
      if (str ? strcmp((*tab)[k].spk, r->ids->str_id->data[at]) == 0
              : (*tab)[k].ipk == r->ids->int_id->data[at])
        break;
    if (k == *n) {
      if (*n == *cap) {
        fused *bigger = CAIRN_ARENA_NEW(arena, fused, *cap * 2 + 16);
        if (*n > 0)
          memcpy(bigger, *tab, *n * sizeof **tab);
        *tab = bigger;
        *cap = *cap * 2 + 16;
      }
      (*tab)[k] = (fused){.ipk = str ? 0 : r->ids->int_id->data[at],
                          .spk = str ? r->ids->str_id->data[at] : NULL};
      (*n)++;
    }
    (*tab)[k].score += add;
  }
}

static int by_score(const void *a, const void *b) {
  const fused *x = a, *y = b;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  if (x->spk != NULL)
    return strcmp(x->spk, y->spk);
  return x->ipk < y->ipk ? -1 : x->ipk > y->ipk;
}

/* "pk in [...]" for the winners, to fetch their output fields. */
static char *pk_filter(cairn_arena *arena, const char *pk, const fused *w, size_t n) {
  size_t cap = 64 + n * 48;
  char *s = cairn_arena_alloc(arena, cap), *p = s;
  p += sprintf(p, "%s in [", pk);
  for (size_t i = 0; i < n; i++) {
    if (w[i].spk == NULL) {
      p += sprintf(p, "%s%" PRId64, i ? "," : "", w[i].ipk);
      continue;
    }
    size_t need = strlen(w[i].spk) * 2 + 8;
    char *esc = cairn_arena_alloc(arena, need), *e = esc;
    for (const char *c = w[i].spk; *c; c++) {
      if (*c == '"' || *c == '\\')
        *e++ = '\\';
      *e++ = *c;
    }
    size_t used = (size_t)(p - s), len = (size_t)(e - esc);
    if (used + len + 8 > cap) {
      char *bigger = cairn_arena_alloc(arena, (cap + len) * 2);
      memcpy(bigger, s, used);
      s = bigger;
      p = s + used;
      cap = (cap + len) * 2;
    }
    p += sprintf(p, "%s\"%s\"", i ? "," : "", esc);
  }
  strcpy(p, "]");
  return s;
}

/* Row of each winner in the query result (matched by primary key). */
static cairn_status winner_rows(cairn_arena *arena, const pb_field_data *pk,
                                size_t n_rows, const fused *w, size_t n,
                                int64_t *rows, cairn_error *err) {
  for (size_t i = 0; i < n; i++) {
    rows[i] = -1;
    for (size_t r = 0; r < n_rows && rows[i] < 0; r++) {
      bool same = w[i].spk != NULL
                      ? strcmp(pk->scalars->string_data->data[r], w[i].spk) == 0
                      : pk->scalars->long_data->data[r] == w[i].ipk;
      if (same)
        rows[i] = (int64_t)r;
    }
    if (rows[i] < 0)
      return cairn_error_set(err, CAIRN_CONFLICT,
                             "a hybrid search hit was deleted while the search "
                             "ran; retry");
  }
  (void)arena;
  return CAIRN_OK;
}

/* Output columns of the winners, in winner order. */
static cairn_status fetch_fields(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                 const Milvus__Proto__Milvus__HybridSearchRequest *req,
                                 const fused *w, size_t n, result_data *out,
                                 cairn_error *err) {
  cairn_qn_query q = {.collection_id = c->id, .limit = -1,
                      .strong = proxy_strong(req->consistency_level,
                                             req->use_default_consistency,
                                             c->desc->consistency_level)};
  cairn_expr *filter = NULL;
  cairn_status st = proxy_output_fields(ctx->arena, c->schema, req->output_fields,
                                        req->n_output_fields, &q.output,
                                        &out->output_fields, &out->n_output_fields,
                                        err);
  if (st == CAIRN_OK && n > 0)
    st = cairn_expr_parse(c->schema,
                          pk_filter(ctx->arena, cairn_schema_primary(c->schema)->name, w, n),
                          NULL, &filter, err);
  if (st == CAIRN_OK && n > 0)
    st = proxy_read_scope(ctx, c, req->partition_names, req->n_partition_names,
                          (int64_t **)&q.partition_ids, &q.n_partition_ids, err);
  if (st != CAIRN_OK || n == 0) {
    cairn_expr_free(filter);
    return st;
  }
  q.filter = filter;
  pb_field_data **cols = NULL;
  size_t n_cols = 0, n_rows = 0;
  cairn_proxy *p = proxy_of(ctx);
  st = p->data->query(p->data_ctx, &q, ctx->arena, &cols, &n_cols, &n_rows, err);
  int64_t *rows = CAIRN_ARENA_NEW(ctx->arena, int64_t, n + 1);
  if (st == CAIRN_OK && n_cols > 0)
    st = winner_rows(ctx->arena, cols[0], n_rows, w, n, rows, err);
  if (st == CAIRN_OK)
    st = proxy_select_rows(ctx->arena, c->schema, cols, n_cols, n_rows, rows, n,
                           &out->fields_data, err);
  out->n_fields_data = n_cols;
  cairn_expr_free(filter);
  return st;
}

/* Fused winners of every query, concatenated; topks per query. */
static cairn_status fuse_all(cairn_arena *arena, result_data **lists,
                             const char **metrics, size_t n_lists,
                             const fusion *f, fused **winners, size_t *n_win,
                             int64_t *topks, size_t nq) {
  *winners = CAIRN_ARENA_NEW(arena, fused, nq * (size_t)f->limit + 1);
  *n_win = 0;
  for (size_t q = 0; q < nq; q++) {
    fused *tab = NULL;
    size_t n = 0, cap = 0;
    for (size_t l = 0; l < n_lists; l++)
      fuse_list(arena, lists[l], q, metrics[l], f, l, &tab, &n, &cap);
    if (n > 0)
      qsort(tab, n, sizeof *tab, by_score);
    size_t from = (size_t)f->offset < n ? (size_t)f->offset : n;
    size_t to = from + (size_t)f->limit < n ? from + (size_t)f->limit : n;
    for (size_t i = from; i < to; i++)
      (*winners)[(*n_win)++] = tab[i];
    topks[q] = (int64_t)(to - from);
  }
  return CAIRN_OK;
}

/* A sub-request as the fusion needs it: no offset of its own (the offset
 * applies to the fused list) and room for the fused window. */
static Milvus__Proto__Milvus__SearchRequest *
sub_request(cairn_arena *arena, const Milvus__Proto__Milvus__SearchRequest *in,
            const fusion *f) {
  Milvus__Proto__Milvus__SearchRequest *r =
      CAIRN_ARENA_NEW(arena, Milvus__Proto__Milvus__SearchRequest, 1);
  *r = *in;
  mpb_kv **kv = CAIRN_ARENA_NEW(arena, mpb_kv *, in->n_search_params + 1);
  const char *topk = cairn_pb_kv_get(in->search_params, in->n_search_params, "topk");
  int64_t k = topk ? strtoll(topk, NULL, 10) : f->limit;
  if (k < f->limit + f->offset)
    k = f->limit + f->offset;
  for (size_t i = 0; i < in->n_search_params; i++) {
    const char *key = in->search_params[i]->key;
    if (strcmp(key, "offset") == 0)
      kv[i] = cairn_pb_kv_new(arena, key, "0");
    else if (strcmp(key, "topk") == 0)
      kv[i] = cairn_pb_kv_new(arena, key, cairn_arena_printf(arena, "%" PRId64, k));
    else
      kv[i] = in->search_params[i];
  }
  r->search_params = kv;
  return r;
}

static cairn_status hybrid(cairn_rpc_ctx *ctx, const proxy_coll *c,
                           const Milvus__Proto__Milvus__HybridSearchRequest *req,
                           result_data **out, cairn_error *err) {
  fusion f;
  cairn_status st = parse_fusion(ctx->arena, req->rank_params, req->n_rank_params,
                                 req->n_requests, &f, err);
  if (st == CAIRN_OK && req->n_requests == 0)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "hybrid search needs at least one request");
  result_data **lists = CAIRN_ARENA_NEW(ctx->arena, result_data *, req->n_requests + 1);
  const char **metrics = CAIRN_ARENA_NEW(ctx->arena, const char *, req->n_requests + 1);
  for (size_t i = 0; st == CAIRN_OK && i < req->n_requests; i++)
    st = proxy_search_one(ctx, c, sub_request(ctx->arena, req->requests[i], &f),
                          req->partition_names,
                          req->n_partition_names, NULL, 0, &metrics[i],
                          &lists[i], err);
  size_t nq = st == CAIRN_OK ? (size_t)lists[0]->num_queries : 0;
  for (size_t i = 1; st == CAIRN_OK && i < req->n_requests; i++)
    if ((size_t)lists[i]->num_queries != nq)
      st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "every request of a hybrid search must have the "
                           "same number of query vectors");
  if (st != CAIRN_OK)
    return st;
  result_data *r = CAIRN_ARENA_NEW(ctx->arena, result_data, 1);
  milvus__proto__schema__search_result_data__init(r);
  r->num_queries = (int64_t)nq;
  r->top_k = f.limit;
  r->topks = CAIRN_ARENA_NEW(ctx->arena, int64_t, nq + 1);
  r->n_topks = nq;
  fused *w = NULL;
  size_t n = 0;
  fuse_all(ctx->arena, lists, metrics, req->n_requests, &f, &w, &n, r->topks, nq);
  r->scores = CAIRN_ARENA_NEW(ctx->arena, float, n + 1);
  double scale = f.round_decimal >= 0 ? pow(10.0, (double)f.round_decimal) : 0;
  for (size_t i = 0; i < n; i++)
    r->scores[i] = scale > 0 ? (float)(round(w[i].score * scale) / scale)
                             : (float)w[i].score;
  r->n_scores = n;
  st = fetch_fields(ctx, c, req, w, n, r, err);
  if (st == CAIRN_OK && n > 0) {
    if (w[0].spk != NULL) {
      const char **ptrs = CAIRN_ARENA_NEW(ctx->arena, const char *, n);
      size_t *lens = CAIRN_ARENA_NEW(ctx->arena, size_t, n);
      for (size_t i = 0; i < n; i++) {
        ptrs[i] = w[i].spk;
        lens[i] = strlen(w[i].spk);
      }
      r->ids = cairn_ids_str(ctx->arena, ptrs, lens, n);
    } else {
      int64_t *ids = CAIRN_ARENA_NEW(ctx->arena, int64_t, n);
      for (size_t i = 0; i < n; i++)
        ids[i] = w[i].ipk;
      r->ids = cairn_ids_int(ctx->arena, ids, n);
    }
  }
  r->primary_field_name = cairn_arena_strdup(ctx->arena, cairn_schema_primary(c->schema)->name);
  *out = r;
  return st;
}

PROXY_HANDLER(proxy_hybrid_search) {
  const Milvus__Proto__Milvus__HybridSearchRequest *req =
      (const Milvus__Proto__Milvus__HybridSearchRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__SearchResults *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__SearchResults, 1);
  milvus__proto__milvus__search_results__init(r);
  proxy_coll c;
  cairn_status st = proxy_coll_open(ctx, req->db_name, req->collection_name, &c, &err);
  if (st == CAIRN_OK) {
    st = proxy_check_loaded(ctx, &c, req->partition_names, req->n_partition_names, &err);
    if (st == CAIRN_OK)
      st = hybrid(ctx, &c, req, &r->results, &err);
    r->collection_name = c.desc->collection_name;
    proxy_coll_release(&c);
  }
  if (st != CAIRN_OK)
    r->results = NULL;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}
