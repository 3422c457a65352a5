/*
 * expr_check.c — turns the syntax tree into a typed plan against a schema.
 *
 * What happens here, node by node (rewriting in place, freeing what goes):
 *   - names resolve to fields: scalar → N_FIELD, JSON → N_JSON with an empty
 *     path, `$meta` → the dynamic field; a name the schema lacks becomes
 *     $meta["name"] when dynamic fields are on, else an error that suggests
 *     the nearest field name (edit distance);
 *   - subscripts extend JSON paths (info["a"][0]) or pick an Array element
 *     (tags[2]);
 *   - {name} templates become literals from the supplied values, [..] lists
 *     must fold to literal lists;
 *   - constant folding: arithmetic on literals, comparisons of literals, and
 *     and/or/not over constant conditions (x > 1 and false → false);
 *   - a comparison with the literal on the left is mirrored (3 < x → x > 3)
 *     so the evaluator's column fast paths see "field op literal";
 *   - types are checked: what can be compared with what, numbers only in
 *     arithmetic, strings only in like, and so on. JSON values are typed only
 *     at evaluation time, so anything scalar may meet them;
 *   - `in` lists become hashed sets, LIKE patterns are compiled.
 * Every error names the 1-based column of the offending node.
 */
#include "expr_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct checker {
  const cairn_schema *schema;
  const char *text;
  const cairn_expr_templates *tv;
  cairn_error *err;
  bool failed;
} checker;

static node *check_value(checker *ck, node *n);
static node *check_pred(checker *ck, node *n);

/* ---- errors ----------------------------------------------------------- */

static void vfail_at(checker *ck, size_t pos, const char *fmt, va_list ap) {
  if (ck->failed)
    return;
  char msg[400], where[48];
  vsnprintf(msg, sizeof msg, fmt, ap);
  cairn_error_set(ck->err, CAIRN_INVALID_ARGUMENT, "%s at %s", msg,
                  expr_where(ck->text, pos, where, sizeof where));
  ck->failed = true;
}

static node *fail(checker *ck, node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static node *fail_at(checker *ck, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Where the text of a subtree starts: errors point at the start of the
 * offending subexpression ("name == 3" → column 1, not the "=="). */
static size_t span_start(const node *n) {
  if (n == NULL)
    return (size_t)-1;
  size_t p = n->pos, q = span_start(n->a), r = span_start(n->b);
  p = q < p ? q : p;
  p = r < p ? r : p;
  for (size_t i = 0; i < n->n_args; i++) {
    size_t s = span_start(n->args[i]);
    p = s < p ? s : p;
  }
  return p;
}

/* Sets the error (the first one wins), frees n, returns NULL. */
static node *fail(checker *ck, node *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(ck, n ? span_start(n) : 0, fmt, ap);
  va_end(ap);
  node_free(n);
  return NULL;
}

/* Sets the error at a position; frees nothing. */
static node *fail_at(checker *ck, size_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(ck, pos, fmt, ap);
  va_end(ap);
  return NULL;
}

static node *fail_nomem(checker *ck, node *n) {
  if (!ck->failed)
    cairn_error_set(ck->err, CAIRN_NOMEM, "out of memory checking expression");
  ck->failed = true;
  node_free(n);
  return NULL;
}

static const char *vt_name(vtype t) {
  switch (t) {
  case VT_BOOL: return "Bool";
  case VT_INT: return "integer";
  case VT_FLOAT: return "float";
  case VT_STRING: return "string";
  case VT_JSON: return "JSON";
  case VT_ARRAY: return "Array";
  case VT_LIST: return "list";
  default: return "value";
  }
}

/* "VarChar field 'name'", "3", "dynamic field key 'color'" ... */
static const char *describe(const node *n, char *buf, size_t cap) {
  const char *fname = n->field ? n->field->name : "?";
  const char *tname = n->field ? cairn_type_name(n->field->type) : "?";
  switch (n->kind) {
  case N_LIT: lit_format(&n->lit, buf, cap); break;
  case N_FIELD: snprintf(buf, cap, "%s field '%s'", tname, fname); break;
  case N_JSON:
    if (n->field->is_dynamic && n->n_path > 0 && !n->path[0].is_index)
      snprintf(buf, cap, "dynamic field key '%s'", n->path[0].key);
    else
      snprintf(buf, cap, "JSON field '%s'", fname);
    break;
  case N_ELEM: snprintf(buf, cap, "an element of Array field '%s'", fname); break;
  case N_ARRLEN:
    snprintf(buf, cap, "array_length(%s)",
             n->a && n->a->field ? n->a->field->name : "?");
    break;
  default: {
    const char *t = vt_name(n->type);
    snprintf(buf, cap, "%s %s expression",
             strchr("aeiouAEIOU", t[0]) ? "an" : "a", t);
    break;
  }
  }
  return buf;
}

/* ---- names ------------------------------------------------------------ */

/* Optimal string alignment distance (Levenshtein plus adjacent swaps, so
 * "prcie" is one edit from "price"). Names over 63 bytes never match. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63)
    return 99;
  size_t d[64][64];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

static const cairn_field *nearest_field(const cairn_schema *s,
                                        const char *name) {
  const cairn_field *best = NULL;
  size_t best_d = 99, len = strlen(name);
  size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
  for (size_t i = 0; i < s->n_fields; i++) {
    const cairn_field *f = &s->fields[i];
    if (f->is_dynamic)
      continue;
    size_t d = edit_distance(name, f->name);
    if (d < best_d) {
      best_d = d;
      best = f;
    }
  }
  return best_d <= limit ? best : NULL;
}

static vtype field_vtype(const cairn_field *f) {
  if (cairn_type_is_integer(f->type)) return VT_INT;
  if (cairn_type_is_floating(f->type)) return VT_FLOAT;
  if (cairn_type_is_string(f->type)) return VT_STRING;
  if (f->type == CAIRN_TYPE_BOOL) return VT_BOOL;
  if (f->type == CAIRN_TYPE_JSON) return VT_JSON;
  if (f->type == CAIRN_TYPE_ARRAY) return VT_ARRAY;
  return VT_NONE;
}

static vtype elem_vtype(const cairn_field *f) {
  cairn_field e = {.type = f->element_type};
  return field_vtype(&e);
}

static bool add_key_step(node *n, const char *key, size_t len) {
  jpath_step *p = realloc(n->path, (n->n_path + 1) * sizeof *p);
  if (p == NULL)
    return false;
  n->path = p;
  jpath_step *s = &p[n->n_path];
  memset(s, 0, sizeof *s);
  if ((s->key = malloc(len + 1)) == NULL)
    return false;
  memcpy(s->key, key, len);
  s->key[len] = '\0';
  s->key_len = len;
  n->n_path++;
  return true;
}

static node *resolve_ident(checker *ck, node *n) {
  const cairn_schema *s = ck->schema;
  const cairn_field *f = cairn_schema_field(s, n->name);
  if (f == NULL && strcmp(n->name, CAIRN_DYNAMIC_FIELD_NAME) == 0)
    f = cairn_schema_dynamic(s);
  if (f == NULL) {
    const cairn_field *dyn = cairn_schema_dynamic(s);
    if (dyn && s->enable_dynamic && n->name[0] != '$') {
      n->kind = N_JSON;
      n->field = dyn;
      n->type = VT_JSON;
      return add_key_step(n, n->name, strlen(n->name)) ? n
                                                       : fail_nomem(ck, n);
    }
    const cairn_field *near = nearest_field(s, n->name);
    if (near)
      return fail(ck, n, "field '%s' not found; did you mean '%s'?", n->name,
                  near->name);
    return fail(ck, n, "field '%s' not found in collection '%s'", n->name,
                s->name ? s->name : "");
  }
  if (cairn_type_is_vector(f->type))
    return fail(ck, n, "vector field '%s' cannot be used in a filter",
                f->name);
  n->field = f;
  n->type = field_vtype(f);
  n->kind = f->type == CAIRN_TYPE_JSON ? N_JSON : N_FIELD;
  if (n->type == VT_NONE)
    return fail(ck, n, "field '%s' of type %s cannot be used in a filter",
                f->name, cairn_type_name(f->type));
  return n;
}

/* base[sub]: JSON path step, or Array element. */
static node *resolve_index(checker *ck, node *n) {
  n->pos = span_start(n); /* errors point at the start of `base[...]` */
  node *base = check_value(ck, n->a);
  n->a = NULL;
  if (base == NULL)
    return fail(ck, n, "%s", "bad subscript base");
  const lit *sub = &n->lit;
  if (base->kind == N_JSON) {
    bool ok;
    if (sub->type == VT_STRING) {
      ok = add_key_step(base, sub->s, sub->slen);
    } else {
      jpath_step *p = realloc(base->path, (base->n_path + 1) * sizeof *p);
      ok = p != NULL;
      if (ok) {
        base->path = p;
        p[base->n_path++] = (jpath_step){.is_index = true, .index = sub->i};
      }
    }
    node_free(n);
    return ok ? base : fail_nomem(ck, base);
  }
  char what[96];
  describe(base, what, sizeof what);
  if (base->kind != N_FIELD || base->type != VT_ARRAY) {
    node_free(base);
    return fail(ck, n, "%s cannot be subscripted", what);
  }
  if (sub->type != VT_INT) {
    node_free(base);
    return fail(ck, n, "%s takes an integer index, not a key", what);
  }
  n->kind = N_ELEM;
  n->field = base->field;
  n->index = sub->i;
  n->type = elem_vtype(base->field);
  node_free(base);
  lit_destroy(&n->lit);
  return n;
}

/* ---- literals and templates ------------------------------------------- */

static int lit_from_value(lit *l, const cairn_expr_value *v, int depth) {
  memset(l, 0, sizeof *l);
  switch (v->type) {
  case CAIRN_EXPR_BOOL: l->type = VT_BOOL; l->b = v->u.b; return 0;
  case CAIRN_EXPR_INT: l->type = VT_INT; l->i = v->u.i; return 0;
  case CAIRN_EXPR_FLOAT: l->type = VT_FLOAT; l->f = v->u.f; return 0;
  case CAIRN_EXPR_STRING:
    l->type = VT_STRING;
    if ((l->s = malloc(v->u.s.len + 1)) == NULL)
      return -1;
    if (v->u.s.len)
      memcpy(l->s, v->u.s.ptr, v->u.s.len);
    l->s[v->u.s.len] = '\0';
    l->slen = v->u.s.len;
    return 0;
  case CAIRN_EXPR_LIST:
    if (depth > 0)
      return -2;
    l->type = VT_LIST;
    if (v->u.list.n && (l->items = calloc(v->u.list.n, sizeof *l->items)) == NULL)
      return -1;
    for (size_t i = 0; i < v->u.list.n; i++) {
      l->n_items++;
      int rc = lit_from_value(&l->items[i], &v->u.list.items[i], depth + 1);
      if (rc)
        return rc;
    }
    return 0;
  }
  return -2;
}

static node *resolve_template(checker *ck, node *n) {
  const cairn_expr_template *hit = NULL;
  for (size_t i = 0; ck->tv && i < ck->tv->n; i++)
    if (ck->tv->items[i].name && strcmp(ck->tv->items[i].name, n->name) == 0)
      hit = &ck->tv->items[i];
  if (hit == NULL)
    return fail(ck, n, "template parameter '{%s}' has no value", n->name);
  int rc = lit_from_value(&n->lit, &hit->value, 0);
  if (rc == -1)
    return fail_nomem(ck, n);
  if (rc == -2)
    return fail(ck, n, "template parameter '{%s}' holds a nested list or an "
                "unknown type", n->name);
  n->kind = N_LIT;
  n->type = n->lit.type;
  return n;
}

static node *fold_list(checker *ck, node *n) {
  lit l = {.type = VT_LIST};
  if (n->n_args && (l.items = calloc(n->n_args, sizeof *l.items)) == NULL)
    return fail_nomem(ck, n);
  for (size_t i = 0; i < n->n_args; i++) {
    node *e = check_value(ck, n->args[i]);
    n->args[i] = e;
    if (e == NULL) {
      lit_destroy(&l);
      return fail(ck, n, "%s", "bad list element");
    }
    if (e->kind != N_LIT || e->lit.type == VT_LIST) {
      char what[96];
      describe(e, what, sizeof what);
      lit_destroy(&l);
      return fail(ck, n, "list elements must be constants, not %s", what);
    }
    l.items[l.n_items++] = e->lit;
    memset(&e->lit, 0, sizeof e->lit);
  }
  for (size_t i = 0; i < n->n_args; i++)
    node_free(n->args[i]);
  free(n->args);
  n->args = NULL;
  n->n_args = 0;
  n->kind = N_LIT;
  n->lit = l;
  n->type = VT_LIST;
  return n;
}

/* ---- arithmetic ------------------------------------------------------- */

static bool is_num(vtype t) { return t == VT_INT || t == VT_FLOAT; }

static double lit_num(const lit *l) {
  return l->type == VT_INT ? (double)l->i : l->f;
}

/* Folds a op b on numeric literals into n->lit; false on division by 0. */
static bool fold_arith(node *n, const lit *a, const lit *b) {
  lit r = {.type = VT_FLOAT};
  bool ints = a->type == VT_INT && b->type == VT_INT && n->op != T_POW;
  if (ints) {
    uint64_t x = (uint64_t)a->i, y = (uint64_t)b->i;
    r.type = VT_INT;
    switch (n->op) {
    case T_ADD: r.i = (int64_t)(x + y); break;
    case T_SUB: r.i = (int64_t)(x - y); break;
    case T_MUL: r.i = (int64_t)(x * y); break;
    default:
      if (b->i == 0)
        return false;
      if (b->i == -1)
        r.i = n->op == T_DIV ? (int64_t)(0 - x) : 0;
      else
        r.i = n->op == T_DIV ? a->i / b->i : a->i % b->i;
    }
  } else {
    double x = lit_num(a), y = lit_num(b);
    switch (n->op) {
    case T_ADD: r.f = x + y; break;
    case T_SUB: r.f = x - y; break;
    case T_MUL: r.f = x * y; break;
    case T_POW: r.f = pow(x, y); break;
    default:
      if (y == 0)
        return false;
      r.f = n->op == T_DIV ? x / y : fmod(x, y);
    }
  }
  node_free(n->a);
  node_free(n->b);
  n->a = n->b = NULL;
  n->kind = N_LIT;
  n->lit = r;
  n->type = r.type;
  return true;
}

static node *check_arith(checker *ck, node *n) {
  n->a = check_value(ck, n->a);
  if (n->a)
    n->b = check_value(ck, n->b);
  if (n->a == NULL || n->b == NULL)
    return fail(ck, n, "%s", "bad operand");
  for (int side = 0; side < 2; side++) {
    node *o = side ? n->b : n->a;
    if (!is_num(o->type) && o->type != VT_JSON) {
      char what[96];
      describe(o, what, sizeof what);
      return fail(ck, n, "arithmetic needs numbers, not %s", what);
    }
  }
  if (n->a->kind == N_LIT && n->b->kind == N_LIT)
    return fold_arith(n, &n->a->lit, &n->b->lit)
               ? n : fail(ck, n, "%s", "division by zero");
  if (n->a->type == VT_JSON || n->b->type == VT_JSON)
    n->type = VT_JSON;
  else if (n->a->type == VT_INT && n->b->type == VT_INT && n->op != T_POW)
    n->type = VT_INT;
  else
    n->type = VT_FLOAT;
  return n;
}

static node *check_neg(checker *ck, node *n) {
  n->a = check_value(ck, n->a);
  if (n->a == NULL)
    return fail(ck, n, "%s", "bad operand");
  node *a = n->a;
  if (!is_num(a->type) && a->type != VT_JSON) {
    char what[96];
    return fail(ck, n, "cannot negate %s", describe(a, what, sizeof what));
  }
  if (a->kind == N_LIT) {
    a->lit.i = (int64_t)(0 - (uint64_t)a->lit.i);
    a->lit.f = -a->lit.f;
    n->a = NULL;
    node_free(n);
    return a;
  }
  n->type = a->type;
  return n;
}

/* ---- calls ------------------------------------------------------------ */

static bool name_is(const char *name, const char *fn) {
  size_t n = strlen(fn);
  if (strlen(name) != n)
    return false;
  bool lower = strcmp(name, fn) == 0, upper = true;
  for (size_t i = 0; i < n; i++)
    upper = upper && name[i] == (fn[i] >= 'a' && fn[i] <= 'z' ? fn[i] - 32 : fn[i]);
  return lower || upper;
}

/* The array-ish first argument of array_* / json_* calls. */
static node *check_array_arg(checker *ck, node *call, node *arg) {
  node *a = check_value(ck, arg);
  if (a == NULL)
    return NULL;
  if (a->kind == N_JSON || (a->kind == N_FIELD && a->type == VT_ARRAY))
    return a; /* a path, not any JSON-typed value such as -info["a"] */
  char what[96];
  describe(a, what, sizeof what);
  node_free(a);
  return fail_at(ck, call->pos, "%s() needs an Array or JSON field, not %s",
                 call->name, what);
}

static node *check_arrlen(checker *ck, node *n) {
  if (n->n_args != 1)
    return fail(ck, n, "array_length() takes 1 argument, got %zu", n->n_args);
  node *a = check_array_arg(ck, n, n->args[0]);
  n->args[0] = NULL;
  if (a == NULL)
    return fail(ck, n, "%s", "bad argument");
  n->kind = N_ARRLEN;
  n->type = a->type == VT_JSON ? VT_JSON : VT_INT;
  n->a = a;
  return n;
}

static const char *const known_fns[] = {
    "array_contains", "array_contains_all", "array_contains_any",
    "json_contains", "json_contains_all", "json_contains_any", "array_length",
};

static node *fail_unknown_fn(checker *ck, node *n) {
  const char *best = NULL;
  size_t best_d = 4;
  for (size_t i = 0; i < sizeof known_fns / sizeof known_fns[0]; i++) {
    size_t d = edit_distance(n->name, known_fns[i]);
    if (d < best_d) {
      best_d = d;
      best = known_fns[i];
    }
  }
  if (best)
    return fail(ck, n, "unknown function '%s'; did you mean '%s'?", n->name,
                best);
  return fail(ck, n, "unknown function '%s'", n->name);
}

/* ---- predicates ------------------------------------------------------- */

/* Whether a value of type `t` may meet literal `l` (in lists, contains). */
static bool lit_fits(vtype t, const lit *l) {
  switch (t) {
  case VT_JSON: return l->type != VT_LIST;
  case VT_INT: case VT_FLOAT: return is_num(l->type);
  default: return l->type == t;
  }
}

static node *check_list_against(checker *ck, node *n, const node *a,
                                const lit *list) {
  vtype t = a->type == VT_ARRAY ? elem_vtype(a->field) : a->type;
  for (size_t i = 0; i < list->n_items; i++) {
    if (lit_fits(t, &list->items[i]))
      continue;
    char what[96], val[96];
    describe(a, what, sizeof what);
    lit_format(&list->items[i], val, sizeof val);
    return fail(ck, n, "cannot compare %s with %s", what, val);
  }
  if (valset_build(&n->set, list) != 0)
    return fail_nomem(ck, n);
  return n;
}

static node *check_contains(checker *ck, node *n, contains_fn fn) {
  if (n->n_args != 2)
    return fail(ck, n, "%s() takes 2 arguments, got %zu", n->name, n->n_args);
  node *a = check_array_arg(ck, n, n->args[0]);
  n->args[0] = NULL;
  node *b = NULL;
  if (a) {
    b = check_value(ck, n->args[1]);
    n->args[1] = NULL;
  }
  if (a == NULL || b == NULL) {
    node_free(a);
    node_free(b);
    return fail(ck, n, "%s", "bad argument");
  }
  n->kind = N_CONTAINS;
  n->fn = fn;
  n->a = a;
  n->b = b;
  bool want_list = fn != CONTAINS_ONE;
  if (b->kind != N_LIT || (b->lit.type == VT_LIST) != want_list)
    return fail(ck, n, "%s() needs %s as its second argument", n->name,
                want_list ? "a list of constants" : "one constant");
  if (!want_list) { /* the set of one */
    lit one = {.type = VT_LIST, .items = &b->lit, .n_items = 1};
    return check_list_against(ck, n, a, &one);
  }
  return check_list_against(ck, n, a, &b->lit);
}

static node *check_call_pred(checker *ck, node *n) {
  static const struct { const char *name; contains_fn fn; } fns[] = {
      {"array_contains", CONTAINS_ONE}, {"json_contains", CONTAINS_ONE},
      {"array_contains_all", CONTAINS_ALL}, {"json_contains_all", CONTAINS_ALL},
      {"array_contains_any", CONTAINS_ANY}, {"json_contains_any", CONTAINS_ANY},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (name_is(n->name, fns[i].name))
      return check_contains(ck, n, fns[i].fn);
  if (name_is(n->name, "array_length"))
    return fail(ck, n, "%s", "array_length() is a number; compare it, e.g. "
                "array_length(x) > 2");
  return fail_unknown_fn(ck, n);
}

static tok_kind mirror(tok_kind op) {
  switch (op) {
  case T_LT: return T_GT;
  case T_LE: return T_GE;
  case T_GT: return T_LT;
  case T_GE: return T_LE;
  default: return op;
  }
}

static bool cmp_lits(tok_kind op, const lit *a, const lit *b) {
  int c;
  if (a->type == VT_STRING) {
    size_t m = a->slen < b->slen ? a->slen : b->slen;
    c = memcmp(a->s, b->s, m);
    c = c ? c : (a->slen > b->slen) - (a->slen < b->slen);
  } else if (a->type == VT_INT && b->type == VT_INT) {
    c = (a->i > b->i) - (a->i < b->i);
  } else if (a->type == VT_BOOL) {
    c = (int)a->b - (int)b->b;
  } else {
    double x = lit_num(a), y = lit_num(b);
    if (x != x || y != y)
      return op == T_NE;
    c = (x > y) - (x < y);
  }
  switch (op) {
  case T_LT: return c < 0;
  case T_LE: return c <= 0;
  case T_GT: return c > 0;
  case T_GE: return c >= 0;
  case T_EQ: return c == 0;
  default: return c != 0;
  }
}

static node *make_const(node *n, bool v) {
  node_free(n->a);
  node_free(n->b);
  n->a = n->b = NULL;
  lit_destroy(&n->lit);
  valset_destroy(&n->set);
  like_destroy(&n->like);
  n->kind = N_CONST;
  n->lit.type = VT_BOOL;
  n->lit.b = v;
  return n;
}

static bool comparable(vtype x, vtype y, tok_kind op) {
  if (x == VT_JSON || y == VT_JSON)
    return x != VT_LIST && y != VT_LIST && x != VT_ARRAY && y != VT_ARRAY;
  if (is_num(x) && is_num(y))
    return true;
  if (x == VT_BOOL && y == VT_BOOL)
    return op == T_EQ || op == T_NE;
  return x == y && x == VT_STRING;
}

static node *check_cmp(checker *ck, node *n) {
  n->a = check_value(ck, n->a);
  if (n->a)
    n->b = check_value(ck, n->b);
  if (n->a == NULL || n->b == NULL)
    return fail(ck, n, "%s", "bad operand");
  if (n->a->kind == N_LIT && n->b->kind != N_LIT) {
    node *t = n->a;
    n->a = n->b;
    n->b = t;
    n->op = mirror(n->op);
  }
  node *a = n->a, *b = n->b;
  if (!comparable(a->type, b->type, n->op)) {
    char wa[96], wb[96];
    describe(a, wa, sizeof wa);
    describe(b, wb, sizeof wb);
    if (a->type == VT_BOOL && b->type == VT_BOOL)
      return fail(ck, n, "cannot order %s and %s; use == or !=", wa, wb);
    if (a->type == VT_ARRAY || b->type == VT_ARRAY)
      return fail(ck, n, "cannot compare %s with %s; use array_contains() or "
                  "an element such as x[0]", wa, wb);
    return fail(ck, n, "cannot compare %s with %s", wa, wb);
  }
  if (a->kind == N_LIT && b->kind == N_LIT)
    return make_const(n, cmp_lits(n->op, &a->lit, &b->lit));
  return n;
}

static node *check_in(checker *ck, node *n) {
  n->a = check_value(ck, n->a);
  if (n->a)
    n->b = check_value(ck, n->b);
  if (n->a == NULL || n->b == NULL)
    return fail(ck, n, "%s", "bad operand");
  if (n->b->kind != N_LIT || n->b->lit.type != VT_LIST)
    return fail(ck, n, "%s", "'in' needs a list of constants on its right, "
                "e.g. x in [1, 2]");
  if (n->a->type == VT_ARRAY || n->a->type == VT_LIST) {
    char what[96];
    return fail(ck, n, "'in' cannot test %s; use array_contains_any()",
                describe(n->a, what, sizeof what));
  }
  if (check_list_against(ck, n, n->a, &n->b->lit) == NULL)
    return NULL;
  if (n->a->kind == N_LIT) {
    bool hit = false;
    for (size_t i = 0; i < n->b->lit.n_items; i++)
      hit = hit || (comparable(n->a->type, n->b->lit.items[i].type, T_EQ) &&
                    cmp_lits(T_EQ, &n->a->lit, &n->b->lit.items[i]));
    return make_const(n, hit != n->negated);
  }
  return n;
}

static node *check_like(checker *ck, node *n) {
  n->a = check_value(ck, n->a);
  if (n->a)
    n->b = check_value(ck, n->b);
  if (n->a == NULL || n->b == NULL)
    return fail(ck, n, "%s", "bad operand");
  if (n->b->kind != N_LIT || n->b->type != VT_STRING)
    return fail(ck, n, "%s", "'like' needs a string pattern on its right");
  if (n->a->type != VT_STRING && n->a->type != VT_JSON) {
    char what[96];
    return fail(ck, n, "'like' needs a VarChar or JSON value, not %s",
                describe(n->a, what, sizeof what));
  }
  if (like_compile(&n->like, n->b->lit.s, n->b->lit.slen) != 0)
    return fail_nomem(ck, n);
  if (n->a->kind == N_LIT)
    return make_const(n, like_match(&n->like, n->a->lit.s, n->a->lit.slen));
  return n;
}

static node *check_isnull(checker *ck, node *n) {
  n->a = check_value(ck, n->a);
  if (n->a == NULL)
    return fail(ck, n, "%s", "bad operand");
  if (n->a->kind != N_FIELD && n->a->kind != N_JSON) {
    char what[96];
    return fail(ck, n, "'is null' applies to a field or a JSON path, not %s",
                describe(n->a, what, sizeof what));
  }
  return n;
}

static node *check_exists(checker *ck, node *n) {
  n->a = check_value(ck, n->a);
  if (n->a == NULL)
    return fail(ck, n, "%s", "bad operand");
  if (n->a->kind != N_JSON) {
    char what[96];
    return fail(ck, n, "'exists' needs a JSON path such as info[\"k\"], not %s",
                describe(n->a, what, sizeof what));
  }
  return n;
}

static node *check_logic(checker *ck, node *n) {
  n->a = check_pred(ck, n->a);
  if (n->a && n->kind != N_NOT)
    n->b = check_pred(ck, n->b);
  if (n->a == NULL || (n->kind != N_NOT && n->b == NULL))
    return fail(ck, n, "%s", "bad operand");
  if (n->kind == N_NOT) {
    if (n->a->kind != N_CONST)
      return n;
    return make_const(n, !n->a->lit.b);
  }
  bool is_and = n->kind == N_AND;
  for (int side = 0; side < 2; side++) {
    node *c = side ? n->b : n->a, *other = side ? n->a : n->b;
    if (c->kind != N_CONST)
      continue;
    if (c->lit.b != is_and) /* false in and, true in or: decides */
      return make_const(n, c->lit.b);
    /* neutral constant: the result is the other side */
    if (side) n->a = NULL; else n->b = NULL;
    node_free(n);
    return other;
  }
  return n;
}

static node *check_pred(checker *ck, node *n) {
  if (n == NULL || ck->failed)
    return fail(ck, n, "%s", "bad expression");
  switch (n->kind) {
  case N_AND: case N_OR: case N_NOT: return check_logic(ck, n);
  case N_CMP: return check_cmp(ck, n);
  case N_IN: return check_in(ck, n);
  case N_LIKE: return check_like(ck, n);
  case N_ISNULL: return check_isnull(ck, n);
  case N_EXISTS: return check_exists(ck, n);
  case N_CALL:
    if (!name_is(n->name, "array_length"))
      return check_call_pred(ck, n);
    break;
  default: break;
  }
  n = check_value(ck, n);
  if (n == NULL)
    return NULL;
  if (n->kind == N_LIT && n->type == VT_BOOL)
    return make_const(n, n->lit.b);
  if (n->type == VT_BOOL || (n->type == VT_JSON && n->kind != N_ARRLEN)) {
    node *t = node_new(N_TRUTH, n->pos);
    if (t == NULL)
      return fail_nomem(ck, n);
    t->a = n;
    return t;
  }
  char what[96];
  return fail(ck, n, "expected a condition, but %s is not boolean",
              describe(n, what, sizeof what));
}

static node *check_value(checker *ck, node *n) {
  if (n == NULL || ck->failed)
    return fail(ck, n, "%s", "bad expression");
  switch (n->kind) {
  case N_LIT: n->type = n->lit.type; return n;
  case N_IDENT: return resolve_ident(ck, n);
  case N_INDEX: return resolve_index(ck, n);
  case N_TEMPLATE: return resolve_template(ck, n);
  case N_LISTEXPR: return fold_list(ck, n);
  case N_ARITH: return check_arith(ck, n);
  case N_NEG: return check_neg(ck, n);
  case N_CALL:
    if (name_is(n->name, "array_length"))
      return check_arrlen(ck, n);
    for (size_t i = 0; i < sizeof known_fns / sizeof known_fns[0]; i++)
      if (name_is(n->name, known_fns[i]))
        return fail(ck, n, "%s() is a condition, not a value", n->name);
    return fail_unknown_fn(ck, n);
  default:
    return fail(ck, n, "%s", "expected a value, but found a condition");
  }
}

node *expr_check(node *root, const cairn_schema *schema, const char *text,
                 const cairn_expr_templates *tv, cairn_error *err) {
  checker ck = {.schema = schema, .text = text, .tv = tv, .err = err};
  return check_pred(&ck, root);
}
