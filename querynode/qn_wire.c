/*
 * qn_wire.c — cairn_qn_search / cairn_qn_query <-> cairn.cluster messages
 * (contract in qn_wire.h).
 *
 * Sparse query rows travel as nnz x (uint32 index, float value), little
 * endian, like the SDK's sparse placeholder format; dense rows as the
 * field's layout concatenated (nq x row_bytes).
 */
#include <math.h>
#include <string.h>

#include "column.h"
#include "qn_wire.h"

#define MAX_TEMPLATE_DEPTH 8

/* ---- filters ---- */

static Cairn__Cluster__ExprValue *encode_value(cairn_arena *arena,
                                               const cairn_expr_value *v) {
  Cairn__Cluster__ExprValue *m = CAIRN_ARENA_NEW(arena, Cairn__Cluster__ExprValue, 1);
  cairn__cluster__expr_value__init(m);
  switch (v->type) {
  case CAIRN_EXPR_BOOL:
    m->value_case = CAIRN__CLUSTER__EXPR_VALUE__VALUE_B;
    m->b = v->u.b;
    break;
  case CAIRN_EXPR_INT:
    m->value_case = CAIRN__CLUSTER__EXPR_VALUE__VALUE_I;
    m->i = v->u.i;
    break;
  case CAIRN_EXPR_FLOAT:
    m->value_case = CAIRN__CLUSTER__EXPR_VALUE__VALUE_F;
    m->f = v->u.f;
    break;
  case CAIRN_EXPR_STRING:
    m->value_case = CAIRN__CLUSTER__EXPR_VALUE__VALUE_S;
    m->s = cairn_arena_strndup(arena, v->u.s.ptr, v->u.s.len);
    break;
  case CAIRN_EXPR_LIST: {
    m->value_case = CAIRN__CLUSTER__EXPR_VALUE__VALUE_LIST;
    m->list = CAIRN_ARENA_NEW(arena, Cairn__Cluster__ExprValueList, 1);
    cairn__cluster__expr_value_list__init(m->list);
    m->list->items = CAIRN_ARENA_NEW(arena, Cairn__Cluster__ExprValue *,
                                     v->u.list.n + 1);
    for (size_t i = 0; i < v->u.list.n; i++)
      m->list->items[i] = encode_value(arena, &v->u.list.items[i]);
    m->list->n_items = v->u.list.n;
    break;
  }
  }
  return m;
}

static Cairn__Cluster__Filter *encode_filter(cairn_arena *arena,
                                             const cairn_expr *filter) {
  if (filter == NULL)
    return NULL;
  const char *text = NULL;
  const cairn_expr_templates *t = NULL;
  cairn_expr_source(filter, &text, &t);
  Cairn__Cluster__Filter *f = CAIRN_ARENA_NEW(arena, Cairn__Cluster__Filter, 1);
  cairn__cluster__filter__init(f);
  f->text = cairn_arena_strdup(arena, text);
  f->templates = CAIRN_ARENA_NEW(arena, Cairn__Cluster__ExprTemplate *, t->n + 1);
  for (size_t i = 0; i < t->n; i++) {
    Cairn__Cluster__ExprTemplate *e =
        CAIRN_ARENA_NEW(arena, Cairn__Cluster__ExprTemplate, 1);
    cairn__cluster__expr_template__init(e);
    e->name = cairn_arena_strdup(arena, t->items[i].name);
    e->value = encode_value(arena, &t->items[i].value);
    f->templates[i] = e;
  }
  f->n_templates = t->n;
  return f;
}

static cairn_status decode_value(cairn_arena *arena,
                                 const Cairn__Cluster__ExprValue *m, int depth,
                                 cairn_expr_value *v, cairn_error *err) {
  if (m == NULL || depth > MAX_TEMPLATE_DEPTH)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "filter template value missing or nested too deep");
  switch (m->value_case) {
  case CAIRN__CLUSTER__EXPR_VALUE__VALUE_B:
    *v = (cairn_expr_value){.type = CAIRN_EXPR_BOOL, .u.b = m->b};
    return CAIRN_OK;
  case CAIRN__CLUSTER__EXPR_VALUE__VALUE_I:
    *v = (cairn_expr_value){.type = CAIRN_EXPR_INT, .u.i = m->i};
    return CAIRN_OK;
  case CAIRN__CLUSTER__EXPR_VALUE__VALUE_F:
    *v = (cairn_expr_value){.type = CAIRN_EXPR_FLOAT, .u.f = m->f};
    return CAIRN_OK;
  case CAIRN__CLUSTER__EXPR_VALUE__VALUE_S:
    *v = (cairn_expr_value){.type = CAIRN_EXPR_STRING};
    v->u.s.ptr = m->s;
    v->u.s.len = strlen(m->s);
    return CAIRN_OK;
  case CAIRN__CLUSTER__EXPR_VALUE__VALUE_LIST: {
    size_t n = m->list ? m->list->n_items : 0;
    cairn_expr_value *items = CAIRN_ARENA_NEW(arena, cairn_expr_value, n + 1);
    for (size_t i = 0; i < n; i++) {
      cairn_status st = decode_value(arena, m->list->items[i], depth + 1,
                                     &items[i], err);
      if (st != CAIRN_OK)
        return st;
    }
    *v = (cairn_expr_value){.type = CAIRN_EXPR_LIST};
    v->u.list.items = items;
    v->u.list.n = n;
    return CAIRN_OK;
  }
  default:
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "filter template value has no value");
  }
}

static cairn_status decode_filter(cairn_arena *arena,
                                  const Cairn__Cluster__Filter *f,
                                  const cairn_schema *schema, cairn_expr **out,
                                  cairn_error *err) {
  *out = NULL;
  if (f == NULL || f->text == NULL || f->text[0] == '\0')
    return CAIRN_OK;
  cairn_expr_template *items =
      CAIRN_ARENA_NEW(arena, cairn_expr_template, f->n_templates + 1);
  for (size_t i = 0; i < f->n_templates; i++) {
    if (f->templates[i]->name == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "filter template without a name");
    items[i].name = f->templates[i]->name;
    cairn_status st = decode_value(arena, f->templates[i]->value, 0,
                                   &items[i].value, err);
    if (st != CAIRN_OK)
      return st;
  }
  cairn_expr_templates t = {.n = f->n_templates, .items = items};
  return cairn_expr_parse(schema, f->text, f->n_templates ? &t : NULL, out, err);
}

/* ---- output ---- */

static Cairn__Cluster__OutputSpec *encode_output(cairn_arena *arena,
                                                 const cairn_qn_output *o) {
  Cairn__Cluster__OutputSpec *m = CAIRN_ARENA_NEW(arena, Cairn__Cluster__OutputSpec, 1);
  cairn__cluster__output_spec__init(m);
  m->field_ids = CAIRN_ARENA_NEW(arena, int64_t, o->n_fields + 1);
  if (o->n_fields)
    memcpy(m->field_ids, o->field_ids, o->n_fields * sizeof *m->field_ids);
  m->n_field_ids = o->n_fields;
  m->dynamic_keys = CAIRN_ARENA_NEW(arena, char *, o->n_dynamic_keys + 1);
  for (size_t i = 0; i < o->n_dynamic_keys; i++)
    m->dynamic_keys[i] = cairn_arena_strdup(arena, o->dynamic_keys[i]);
  m->n_dynamic_keys = o->n_dynamic_keys;
  return m;
}

static cairn_status decode_output(const Cairn__Cluster__OutputSpec *m,
                                  const cairn_schema *schema, cairn_qn_output *o,
                                  cairn_error *err) {
  *o = (cairn_qn_output){0};
  if (m == NULL)
    return CAIRN_OK;
  for (size_t i = 0; i < m->n_field_ids; i++)
    if (cairn_schema_field_by_id(schema, m->field_ids[i]) == NULL)
      return cairn_error_set(err, CAIRN_SCHEMA_MISMATCH,
                             "output field %lld is not in the collection",
                             (long long)m->field_ids[i]);
  o->field_ids = m->field_ids;
  o->n_fields = m->n_field_ids;
  o->dynamic_keys = (const char *const *)m->dynamic_keys;
  o->n_dynamic_keys = m->n_dynamic_keys;
  return CAIRN_OK;
}

/* ---- search ---- */

static void encode_queries(cairn_arena *arena, const cairn_qn_search *q,
                           Cairn__Cluster__SearchRequest *m) {
  if (q->row_bytes > 0) {
    m->queries.len = q->nq * q->row_bytes;
    m->queries.data = (uint8_t *)q->queries;
    return;
  }
  const cairn_sparse_row *rows = q->queries;
  m->sparse_queries = CAIRN_ARENA_NEW(arena, ProtobufCBinaryData, q->nq + 1);
  for (size_t i = 0; i < q->nq; i++) {
    size_t len = (size_t)rows[i].nnz * 8;
    uint8_t *buf = cairn_arena_alloc(arena, len + 1);
    for (uint32_t k = 0; k < rows[i].nnz; k++) {
      memcpy(buf + k * 8, &rows[i].idx[k], 4);
      memcpy(buf + k * 8 + 4, &rows[i].val[k], 4);
    }
    m->sparse_queries[i] = (ProtobufCBinaryData){.len = len, .data = buf};
  }
  m->n_sparse_queries = q->nq;
}

cairn_status qn_wire_encode_search(cairn_arena *arena, const cairn_qn_search *q,
                                   Cairn__Cluster__SearchRequest **out,
                                   cairn_error *err) {
  (void)err;
  Cairn__Cluster__SearchRequest *m =
      CAIRN_ARENA_NEW(arena, Cairn__Cluster__SearchRequest, 1);
  cairn__cluster__search_request__init(m);
  m->collection_id = q->collection_id;
  m->partition_ids = (int64_t *)q->partition_ids;
  m->n_partition_ids = q->n_partition_ids;
  m->field_id = q->field_id;
  m->metric = cairn_arena_strdup(arena, q->metric ? q->metric : "");
  m->nq = (int64_t)q->nq;
  encode_queries(arena, q, m);
  m->topk = q->topk;
  m->ef = q->params.ef;
  m->nprobe = q->params.nprobe;
  m->drop_ratio_search = q->params.drop_ratio_search;
  m->is_range = q->is_range;
  m->radius = q->radius;
  m->has_range_filter = !isnan(q->range_filter);
  m->range_filter = m->has_range_filter ? q->range_filter : 0;
  m->filter = encode_filter(arena, q->filter);
  m->ignore_growing = q->ignore_growing;
  m->strong = q->strong;
  m->group_by_field_id = q->group_by_field_id;
  m->group_size = q->group_size;
  m->output = encode_output(arena, &q->output);
  *out = m;
  return CAIRN_OK;
}

static cairn_status decode_sparse(cairn_arena *arena,
                                  const Cairn__Cluster__SearchRequest *m,
                                  cairn_qn_search *q, cairn_error *err) {
  if (m->n_sparse_queries != q->nq)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "%zu sparse query rows for nq %zu",
                           m->n_sparse_queries, q->nq);
  cairn_sparse_row *rows = CAIRN_ARENA_NEW(arena, cairn_sparse_row, q->nq + 1);
  for (size_t i = 0; i < q->nq; i++) {
    const ProtobufCBinaryData *b = &m->sparse_queries[i];
    if (b->len % 8 != 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "sparse query row %zu is not (index, value) pairs", i);
    size_t n = b->len / 8;
    uint32_t *idx = CAIRN_ARENA_NEW(arena, uint32_t, n + 1);
    float *val = CAIRN_ARENA_NEW(arena, float, n + 1);
    for (size_t k = 0; k < n; k++) {
      memcpy(&idx[k], b->data + k * 8, 4);
      memcpy(&val[k], b->data + k * 8 + 4, 4);
    }
    rows[i] = (cairn_sparse_row){.nnz = (uint32_t)n, .idx = idx, .val = val};
  }
  q->queries = rows;
  return CAIRN_OK;
}

cairn_status qn_wire_decode_search(cairn_arena *arena,
                                   const Cairn__Cluster__SearchRequest *m,
                                   const cairn_schema *schema,
                                   cairn_qn_search *q, cairn_expr **filter,
                                   cairn_error *err) {
  *filter = NULL;
  *q = (cairn_qn_search){0};
  const cairn_field *f = cairn_schema_field_by_id(schema, m->field_id);
  if (f == NULL)
    return cairn_error_set(err, CAIRN_SCHEMA_MISMATCH,
                           "search field %lld is not in the collection",
                           (long long)m->field_id);
  if (m->nq <= 0 || m->topk < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "bad nq or topk");
  q->collection_id = m->collection_id;
  q->partition_ids = m->partition_ids;
  q->n_partition_ids = m->n_partition_ids;
  q->field_id = m->field_id;
  q->metric = m->metric;
  q->nq = (size_t)m->nq;
  cairn_status st = CAIRN_OK;
  if (f->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR) {
    st = decode_sparse(arena, m, q, err);
  } else {
    q->row_bytes = cairn_vector_row_bytes(f->type, f->dim);
    if (q->row_bytes == 0 || m->queries.len != q->nq * q->row_bytes)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "query vectors are %zu bytes, %zu x %zu expected",
                             m->queries.len, q->nq, q->row_bytes);
    q->queries = m->queries.data;
  }
  q->topk = m->topk;
  q->params = (cairn_search_params){.ef = m->ef, .nprobe = m->nprobe,
                                    .drop_ratio_search = m->drop_ratio_search};
  q->is_range = m->is_range;
  q->radius = m->radius;
  q->range_filter = m->has_range_filter ? m->range_filter : NAN;
  q->ignore_growing = m->ignore_growing;
  q->strong = m->strong;
  q->group_by_field_id = m->group_by_field_id;
  q->group_size = m->group_size;
  if (st == CAIRN_OK)
    st = decode_output(m->output, schema, &q->output, err);
  if (st == CAIRN_OK)
    st = decode_filter(arena, m->filter, schema, filter, err);
  q->filter = *filter;
  return st;
}

/* ---- query ---- */

cairn_status qn_wire_encode_query(cairn_arena *arena, const cairn_qn_query *q,
                                  Cairn__Cluster__QueryRequest **out,
                                  cairn_error *err) {
  (void)err;
  Cairn__Cluster__QueryRequest *m =
      CAIRN_ARENA_NEW(arena, Cairn__Cluster__QueryRequest, 1);
  cairn__cluster__query_request__init(m);
  m->collection_id = q->collection_id;
  m->partition_ids = (int64_t *)q->partition_ids;
  m->n_partition_ids = q->n_partition_ids;
  m->filter = encode_filter(arena, q->filter);
  m->offset = q->offset;
  m->limit = q->limit;
  m->strong = q->strong;
  m->count_only = q->count_only;
  m->output = encode_output(arena, &q->output);
  *out = m;
  return CAIRN_OK;
}

cairn_status qn_wire_decode_query(cairn_arena *arena,
                                  const Cairn__Cluster__QueryRequest *m,
                                  const cairn_schema *schema, cairn_qn_query *q,
                                  cairn_expr **filter, cairn_error *err) {
  *filter = NULL;
  *q = (cairn_qn_query){0};
  q->collection_id = m->collection_id;
  q->partition_ids = m->partition_ids;
  q->n_partition_ids = m->n_partition_ids;
  q->offset = m->offset;
  q->limit = m->limit;
  q->strong = m->strong;
  q->count_only = m->count_only;
  cairn_status st = decode_output(m->output, schema, &q->output, err);
  if (st == CAIRN_OK)
    st = decode_filter(arena, m->filter, schema, filter, err);
  q->filter = *filter;
  return st;
}
