/*
 * expr.c — the public face of the filter engine: parse (syntax, then check
 * against the schema), the field list, count(*), free. Evaluation lives in
 * expr_eval.c.
 */
#include "expr_internal.h"

#include <stdlib.h>
#include <string.h>

/* Adds the field ids under n to e->field_ids (distinct). */
static int collect_fields(cairn_expr *e, const node *n) {
  if (n == NULL)
    return 0;
  if (n->field) {
    bool seen = false;
    for (size_t i = 0; i < e->n_fields && !seen; i++)
      seen = e->field_ids[i] == n->field->id;
    if (!seen) {
      int64_t *ids = realloc(e->field_ids, (e->n_fields + 1) * sizeof *ids);
      if (ids == NULL)
        return -1;
      e->field_ids = ids;
      ids[e->n_fields++] = n->field->id;
    }
  }
  if (collect_fields(e, n->a) != 0)
    return -1;
  return collect_fields(e, n->b);
}

/* ---- source copy (templates deep-copied: values, strings, lists) ---- */

static void free_value(cairn_expr_value *v) {
  if (v->type == CAIRN_EXPR_STRING) {
    free((char *)v->u.s.ptr);
  } else if (v->type == CAIRN_EXPR_LIST) {
    cairn_expr_value *items = (cairn_expr_value *)v->u.list.items;
    for (size_t i = 0; i < v->u.list.n; i++)
      free_value(&items[i]);
    free(items);
  }
}

static int copy_value(cairn_expr_value *dst, const cairn_expr_value *src) {
  *dst = *src;
  if (src->type == CAIRN_EXPR_STRING) {
    char *s = malloc(src->u.s.len + 1);
    dst->u.s.ptr = s;
    if (s == NULL)
      return -1;
    if (src->u.s.len)
      memcpy(s, src->u.s.ptr, src->u.s.len);
    s[src->u.s.len] = '\0';
  } else if (src->type == CAIRN_EXPR_LIST) {
    cairn_expr_value *items = calloc(src->u.list.n + 1, sizeof *items);
    dst->u.list.items = items;
    dst->u.list.n = 0;
    if (items == NULL)
      return -1;
    for (size_t i = 0; i < src->u.list.n; i++) {
      if (copy_value(&items[i], &src->u.list.items[i]) != 0)
        return -1;
      dst->u.list.n = i + 1;
    }
  }
  return 0;
}

static void free_templates(cairn_expr_templates *t) {
  cairn_expr_template *items = (cairn_expr_template *)t->items;
  for (size_t i = 0; i < t->n; i++) {
    free((char *)items[i].name);
    free_value(&items[i].value);
  }
  free(items);
  t->items = NULL;
  t->n = 0;
}

static int copy_templates(cairn_expr_templates *dst,
                          const cairn_expr_templates *src) {
  cairn_expr_template *items = calloc(src->n + 1, sizeof *items);
  dst->items = items;
  dst->n = 0;
  if (items == NULL)
    return -1;
  for (size_t i = 0; i < src->n; i++) {
    items[i].name = strdup(src->items[i].name);
    items[i].value.type = CAIRN_EXPR_BOOL; /* nothing owned yet */
    dst->n = i + 1;
    if (items[i].name == NULL ||
        copy_value(&items[i].value, &src->items[i].value) != 0)
      return -1;
  }
  return 0;
}

cairn_status cairn_expr_parse(const cairn_schema *schema, const char *text,
                              const cairn_expr_templates *templates,
                              cairn_expr **out, cairn_error *err) {
  cairn_error_clear(err);
  if (out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cairn_expr_parse: missing output");
  *out = NULL;
  if (schema == NULL || text == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cairn_expr_parse: missing schema or text");
  node *syntax = expr_parse_syntax(text, err);
  if (syntax == NULL)
    return err ? err->status : CAIRN_INVALID_ARGUMENT;
  node *plan = expr_check(syntax, schema, text, templates, err);
  if (plan == NULL)
    return err ? err->status : CAIRN_INVALID_ARGUMENT;
  cairn_expr *e = calloc(1, sizeof *e);
  if (e == NULL || collect_fields(e, plan) != 0) {
    node_free(plan);
    cairn_expr_free(e);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory parsing expression");
  }
  e->root = plan;
  e->schema = schema;
  e->text = strdup(text);
  if (e->text == NULL ||
      (templates && copy_templates(&e->templates, templates) != 0)) {
    cairn_expr_free(e);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory parsing expression");
  }
  *out = e;
  return CAIRN_OK;
}

void cairn_expr_source(const cairn_expr *expr, const char **text,
                       const cairn_expr_templates **templates) {
  *text = expr->text;
  *templates = &expr->templates;
}

void cairn_expr_free(cairn_expr *expr) {
  if (expr == NULL)
    return;
  free(expr->text);
  free_templates(&expr->templates);
  node_free(expr->root);
  free(expr->field_ids);
  free(expr);
}

size_t cairn_expr_fields(const cairn_expr *expr, int64_t *ids, size_t cap) {
  for (size_t i = 0; i < expr->n_fields && i < cap; i++)
    ids[i] = expr->field_ids[i];
  return expr->n_fields;
}

bool cairn_expr_is_constant(const cairn_expr *expr, bool *value) {
  if (expr->root->kind != N_CONST)
    return false;
  if (value)
    *value = expr->root->lit.b;
  return true;
}

cairn_status cairn_expr_count(const cairn_expr *expr,
                              const cairn_expr_batch *batch, uint64_t *count,
                              cairn_error *err) {
  if (count)
    *count = 0;
  if (batch == NULL || count == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cairn_expr_count: missing argument");
  size_t words = (batch->n_rows + 63) / 64;
  uint64_t *bits = malloc((words ? words : 1) * sizeof *bits);
  if (bits == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory counting rows");
  cairn_status st = cairn_expr_eval(expr, batch, bits, err);
  for (size_t w = 0; st == CAIRN_OK && w < words; w++)
    *count += (uint64_t)__builtin_popcountll(bits[w]);
  free(bits);
  return st;
}
