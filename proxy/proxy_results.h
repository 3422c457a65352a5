/*
 * proxy_results.h — shaping results in the proxy: cutting search hits to
 * [offset, offset + limit) per query, selecting rows of FieldData columns,
 * the count(*) column, and helpers shared by Search and HybridSearch.
 * Everything is built in the request's arena.
 */
#ifndef CAIRN_PROXY_RESULTS_H
#define CAIRN_PROXY_RESULTS_H

#include "proxy_internal.h"

typedef Milvus__Proto__Schema__FieldData pb_field_data;

/* Keep hits [offset, offset + limit) of every query of r; with drop_zero,
 * hits scoring exactly 0 are dropped first (sparse vectors sharing no
 * dimension with the query are not matches, as in Milvus). */
cairn_status proxy_results_cut(cairn_arena *arena, const cairn_schema *schema,
                               Milvus__Proto__Schema__SearchResultData *r,
                               size_t offset, size_t limit, bool drop_zero,
                               cairn_error *err);
/* Output names for the dynamic keys present in the "$meta" column of r
 * (for "*"): appended to r->output_fields when not there yet. */
cairn_status proxy_results_dynamic_keys(cairn_arena *arena,
                                        Milvus__Proto__Schema__SearchResultData *r,
                                        cairn_error *err);
/* Columns holding rows[0..n) of columns that have n_src rows each. */
cairn_status proxy_select_rows(cairn_arena *arena, const cairn_schema *schema,
                               pb_field_data *const *fields, size_t n_fields,
                               size_t n_src, const int64_t *rows, size_t n,
                               pb_field_data ***out, cairn_error *err);
/* The count(*) column and output name of a Query reply. */
cairn_status proxy_count_field(cairn_arena *arena, int64_t value,
                               Milvus__Proto__Milvus__QueryResults *r);

/* Shared with proxy_hybrid.c (proxy_read.c). */
cairn_status proxy_search_one(cairn_rpc_ctx *ctx, const proxy_coll *c,
                              const Milvus__Proto__Milvus__SearchRequest *req,
                              char *const *partitions, size_t n_partitions,
                              char *const *output_fields, size_t n_output,
                              const char **metric,
                              Milvus__Proto__Schema__SearchResultData **out,
                              cairn_error *err);
/* Parse a filter with Milvus expr_template_values entries (key +
 * TemplateValue); empty text gives *out NULL. */
cairn_status proxy_parse_filter(cairn_arena *arena, const cairn_schema *schema,
                                const char *text, void *const *entries,
                                size_t n_entries, cairn_expr **out,
                                cairn_error *err);
/* Output field names -> querynode output spec + the names shown. */
cairn_status proxy_output_fields(cairn_arena *arena, const cairn_schema *s,
                                 char *const *names, size_t n,
                                 cairn_qn_output *out, char ***out_names,
                                 size_t *n_out, cairn_error *err);
bool proxy_strong(Milvus__Proto__Common__ConsistencyLevel requested,
                  bool use_default,
                  Milvus__Proto__Common__ConsistencyLevel collection);

#endif
