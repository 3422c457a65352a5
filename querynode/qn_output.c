/*
 * qn_output.c — result columns of search and query: the rows that won are
 * (segment, row) pairs spread over several segments; each output field is
 * gathered run by run (consecutive rows of one segment) into a temporary
 * column with cairn_column_append_rows, which cairn_fielddata_build then
 * turns into a FieldData in the request's arena (it copies, so the
 * temporary column is freed at once). Only winning rows are touched.
 *
 * Output plan: the primary key always comes first (PROTOCOL.md §0.6), then
 * the requested fields once each; requested "$meta" keys make a "$meta"
 * column holding only those keys, and the keys (not "$meta") are listed in
 * output_fields, as the SDKs look them up in that column.
 */
#include <stdlib.h>
#include <string.h>

#include "qn_internal.h"

cairn_status qn_gather_field(cairn_arena *a, const qn_coll *c, const qn_segview *sv,
                             int fidx, const qn_cand *w, size_t n,
                             const char *const *keys, size_t n_keys,
                             cairn_pb_field_data **out, cairn_error *err) {
  const cairn_field *f = &c->schema->fields[fidx];
  cairn_column_type t = n > 0 ? sv[w[0].seg].cols[fidx].type : cairn_column_type_of(f);
  cairn_column *tmp = NULL;
  int64_t *rows = malloc((n + 1) * sizeof *rows);
  cairn_status st = rows ? cairn_column_new(&t, &tmp, err)
                         : cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; st == CAIRN_OK && i < n;) {
    size_t j = i;
    for (; j < n && w[j].seg == w[i].seg; j++)
      rows[j] = w[j].row;
    st = cairn_column_append_rows(tmp, &sv[w[i].seg].cols[fidx], rows + i, j - i, err);
    i = j;
  }
  if (st == CAIRN_OK) {
    cairn_colview v;
    cairn_column_snapshot(tmp, &v);
    for (size_t i = 0; i < n; i++)
      rows[i] = (int64_t)i;
    st = cairn_fielddata_build(a, f, &v, rows, n, keys, n_keys, out, err);
  }
  cairn_column_free(tmp);
  free(rows);
  return st;
}

static bool plan_has(const qn_out_plan *p, int idx) {
  for (size_t i = 0; i < p->n_fields; i++)
    if (p->fields[i] == idx)
      return true;
  return false;
}

static void plan_add(qn_out_plan *p, int idx) {
  if (!plan_has(p, idx) && p->n_fields < QN_MAX_OUT_FIELDS)
    p->fields[p->n_fields++] = idx;
}

cairn_status qn_make_plan(cairn_arena *a, const qn_coll *c, const cairn_qn_output *o,
                          qn_out_plan *p, cairn_error *err) {
  const cairn_schema *sc = c->schema;
  memset(p, 0, sizeof *p);
  p->names = CAIRN_ARENA_NEW(a, const char *, sc->n_fields + o->n_dynamic_keys + 1);
  if (p->names == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  plan_add(p, c->pk_index);
  p->names[p->n_names++] = sc->fields[c->pk_index].name;
  for (size_t i = 0; i < o->n_fields; i++) {
    const cairn_field *f = cairn_schema_field_by_id(sc, o->field_ids[i]);
    if (f == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "output field %lld not found",
                             (long long)o->field_ids[i]);
    int idx = (int)(f - sc->fields);
    if (plan_has(p, idx))
      continue;
    plan_add(p, idx);
    if (!f->is_dynamic || o->n_dynamic_keys == 0)
      p->names[p->n_names++] = f->name;
  }
  if (o->n_dynamic_keys > 0) {
    const cairn_field *dyn = cairn_schema_dynamic(sc);
    if (dyn == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "output field %s not found (dynamic fields are off)",
                             o->dynamic_keys[0]);
    plan_add(p, (int)(dyn - sc->fields));
    p->keys = o->dynamic_keys;
    p->n_keys = o->n_dynamic_keys;
    for (size_t i = 0; i < o->n_dynamic_keys; i++)
      p->names[p->n_names++] = o->dynamic_keys[i];
  }
  return CAIRN_OK;
}

cairn_status qn_build_columns(cairn_arena *a, const qn_coll *c, const qn_segview *sv,
                              const qn_out_plan *p, const qn_cand *w, size_t n,
                              cairn_pb_field_data ***cols, cairn_error *err) {
  *cols = CAIRN_ARENA_NEW(a, cairn_pb_field_data *, p->n_fields + 1);
  if (*cols == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < p->n_fields; i++) {
    const cairn_field *f = &c->schema->fields[p->fields[i]];
    bool keyed = f->is_dynamic && p->n_keys > 0;
    cairn_status st = qn_gather_field(a, c, sv, p->fields[i], w, n,
                                      keyed ? p->keys : NULL, keyed ? p->n_keys : 0,
                                      &(*cols)[i], err);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

cairn_status qn_build_ids(cairn_arena *a, const qn_coll *c, const qn_segview *sv,
                          const qn_cand *w, size_t n, cairn_pb_ids **out,
                          cairn_error *err) {
  int pi = c->pk_index;
  if (c->schema->fields[pi].type == CAIRN_TYPE_INT64) {
    int64_t *ids = CAIRN_ARENA_NEW(a, int64_t, n + 1);
    for (size_t i = 0; ids != NULL && i < n; i++)
      ids[i] = ((const int64_t *)sv[w[i].seg].cols[pi].col.values)[w[i].row];
    *out = ids ? cairn_ids_int(a, ids, n) : NULL;
  } else {
    const char **p = CAIRN_ARENA_NEW(a, const char *, n + 1);
    size_t *l = CAIRN_ARENA_NEW(a, size_t, n + 1);
    for (size_t i = 0; p != NULL && l != NULL && i < n; i++)
      p[i] = cairn_colview_string(&sv[w[i].seg].cols[pi], (size_t)w[i].row, &l[i]);
    *out = p && l ? cairn_ids_str(a, p, l, n) : NULL;
  }
  return *out ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
}
