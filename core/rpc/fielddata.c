/*
 * fielddata.c — FieldData <-> columns (rules in fielddata.h).
 *
 * Decoding a column runs in three steps: find the payload and count its
 * rows (which must be num_rows, or the valid rows of a compact column);
 * check every value (ranges, NaN, lengths, UTF-8, JSON); then append to the
 * column in as few calls as possible — a dense column of Int32/Int64/
 * Float/Double or dense vectors is one memcpy from the protobuf array; other
 * shapes are expanded into one scratch buffer first.
 */
#include "fielddata.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef Milvus__Proto__Schema__ScalarField pb_scalar;
typedef Milvus__Proto__Schema__VectorField pb_vector;
typedef Milvus__Proto__Schema__FieldSchema pb_field;

#define INVALID(err, ...) cairn_error_set((err), CAIRN_INVALID_ARGUMENT, __VA_ARGS__)

/* ---- schema conversion -------------------------------------------------- */

static int64_t kv_int(const pb_field *f, const char *key) {
  for (size_t i = 0; i < f->n_type_params; i++)
    if (strcmp(f->type_params[i]->key, key) == 0)
      return strtoll(f->type_params[i]->value, NULL, 10);
  return 0;
}

static cairn_status default_from_pb(const pb_field *f, cairn_field *out,
                                    cairn_error *err) {
  const Milvus__Proto__Schema__ValueField *d = f->default_value;
  if (d == NULL || d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA__NOT_SET)
    return CAIRN_OK;
  cairn_value *v = &out->default_value;
  v->type = out->type;
  switch (d->data_case) {
  case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_BOOL_DATA: v->u.b = d->bool_data; break;
  case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_INT_DATA: v->u.i = d->int_data; break;
  case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_LONG_DATA: v->u.i = d->long_data; break;
  case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_FLOAT_DATA: v->u.d = d->float_data; break;
  case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_DOUBLE_DATA: v->u.d = d->double_data; break;
  case MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA:
    v->type = CAIRN_TYPE_VARCHAR;
    if ((v->u.s = strdup(d->string_data)) == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    if (out->type != CAIRN_TYPE_VARCHAR) {
      free(v->u.s); /* would leak if type stayed VARCHAR only for the free */
      v->type = CAIRN_TYPE_NONE;
      return INVALID(err, "default value of field '%s' is a string", out->name);
    }
    break;
  default:
    return INVALID(err, "unsupported default value for field '%s'", out->name);
  }
  return CAIRN_OK;
}

static cairn_status field_from_pb(const pb_field *f, cairn_field *out,
                                  cairn_error *err) {
  out->id = f->fieldid;
  out->name = strdup(f->name ? f->name : "");
  if (out->name == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  out->type = (cairn_data_type)f->data_type;
  out->element_type = (cairn_data_type)f->element_type;
  out->is_primary = f->is_primary_key;
  out->auto_id = f->autoid;
  out->nullable = f->nullable;
  out->is_dynamic = f->is_dynamic;
  out->is_partition_key = f->is_partition_key;
  out->is_clustering_key = f->is_clustering_key;
  if (cairn_type_is_vector(out->type) && out->type != CAIRN_TYPE_SPARSE_FLOAT_VECTOR)
    out->dim = kv_int(f, "dim");
  out->max_length = kv_int(f, "max_length");
  out->max_capacity = kv_int(f, "max_capacity");
  return default_from_pb(f, out, err);
}

cairn_status cairn_schema_from_pb(const cairn_pb_schema *pb, cairn_schema **out,
                                  cairn_error *err) {
  *out = NULL;
  cairn_schema *s = calloc(1, sizeof *s);
  if (s == NULL || (s->fields = calloc(pb->n_fields + 1, sizeof *s->fields)) == NULL ||
      (s->name = strdup(pb->name ? pb->name : "")) == NULL) {
    cairn_schema_free(s);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  s->enable_dynamic = pb->enable_dynamic_field;
  bool has_dynamic = false;
  int64_t max_id = CAIRN_FIRST_USER_FIELD_ID - 1;
  for (size_t i = 0; i < pb->n_fields; i++) {
    cairn_status st = field_from_pb(pb->fields[i], &s->fields[i], err);
    s->n_fields++;
    if (st != CAIRN_OK) {
      cairn_schema_free(s);
      return st;
    }
    has_dynamic |= s->fields[i].is_dynamic;
    if (s->fields[i].id > max_id)
      max_id = s->fields[i].id;
  }
  if (s->enable_dynamic && !has_dynamic) {
    cairn_field *m = &s->fields[s->n_fields];
    m->id = max_id + 1;
    m->type = CAIRN_TYPE_JSON;
    m->is_dynamic = true;
    if ((m->name = strdup(CAIRN_DYNAMIC_FIELD_NAME)) == NULL) {
      cairn_schema_free(s);
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    }
    s->n_fields++;
  }
  *out = s;
  return CAIRN_OK;
}

/* ---- value checks ------------------------------------------------------- */

/* Length of the valid UTF-8 prefix (== len when all valid). */
static size_t utf8_valid(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (c >= 0xf5 || n == 0 || i + n > len)
      return i;
    for (size_t k = 1; k < n; k++)
      if ((s[i + k] & 0xc0) != 0x80)
        return i;
    unsigned c1 = s[i + 1];
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) ||
        (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
      return i; /* overlong, surrogate, > U+10FFFF */
    i += n;
  }
  return i;
}

static cairn_status check_varchar(const cairn_field *f, const char *s, size_t len,
                                  size_t row, cairn_error *err) {
  if (f->max_length > 0 && (int64_t)len > f->max_length)
    return INVALID(err, "length of varchar field %s exceeds max length, row "
                        "number: %zu, length: %zu, max length: %" PRId64,
                   f->name, row, len, f->max_length);
  if (utf8_valid((const unsigned char *)s, len) != len)
    return INVALID(err, "varchar field %s: row %zu is not valid UTF-8", f->name, row);
  return CAIRN_OK;
}

static cairn_status check_int_range(const cairn_field *f, cairn_data_type t,
                                    int64_t v, size_t row, cairn_error *err) {
  int64_t lo = t == CAIRN_TYPE_INT8 ? INT8_MIN : t == CAIRN_TYPE_INT16 ? INT16_MIN : INT32_MIN;
  int64_t hi = t == CAIRN_TYPE_INT8 ? INT8_MAX : t == CAIRN_TYPE_INT16 ? INT16_MAX : INT32_MAX;
  if (v < lo || v > hi)
    return INVALID(err, "field %s: the %zuth element (%" PRId64 ") out of range: "
                        "[%" PRId64 ", %" PRId64 "]",
                   f->name, row, v, lo, hi);
  return CAIRN_OK;
}

static cairn_status check_finite_f32(const cairn_field *f, const float *v,
                                     size_t n, size_t per_row, cairn_error *err) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return INVALID(err, "field %s: value %g at row %zu is NaN or Inf", f->name,
                     (double)v[i], i / per_row);
  return CAIRN_OK;
}

/* ---- payload access ------------------------------------------------------ */

/* The scalar oneof a type travels in. */
static int scalar_case_of(cairn_data_type t) {
  switch (t) {
  case CAIRN_TYPE_BOOL: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA;
  case CAIRN_TYPE_INT8: case CAIRN_TYPE_INT16: case CAIRN_TYPE_INT32:
    return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA;
  case CAIRN_TYPE_INT64: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
  case CAIRN_TYPE_FLOAT: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA;
  case CAIRN_TYPE_DOUBLE: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA;
  case CAIRN_TYPE_VARCHAR: case CAIRN_TYPE_STRING:
    return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
  case CAIRN_TYPE_ARRAY: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA;
  case CAIRN_TYPE_JSON: return MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
  default: return -1;
  }
}

static int vector_case_of(cairn_data_type t) {
  switch (t) {
  case CAIRN_TYPE_FLOAT_VECTOR: return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
  case CAIRN_TYPE_BINARY_VECTOR: return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR;
  case CAIRN_TYPE_FLOAT16_VECTOR: return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR;
  case CAIRN_TYPE_BFLOAT16_VECTOR: return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR;
  case CAIRN_TYPE_INT8_VECTOR: return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR;
  case CAIRN_TYPE_SPARSE_FLOAT_VECTOR:
    return MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
  default: return -1;
  }
}

/* Number of entries in a scalar payload of its case (0 when absent). */
static size_t scalar_count(const pb_scalar *s) {
  if (s == NULL)
    return 0;
  switch (s->data_case) {
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA: return s->bool_data ? s->bool_data->n_data : 0;
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA: return s->int_data ? s->int_data->n_data : 0;
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA: return s->long_data ? s->long_data->n_data : 0;
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA: return s->float_data ? s->float_data->n_data : 0;
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA: return s->double_data ? s->double_data->n_data : 0;
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA: return s->string_data ? s->string_data->n_data : 0;
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA: return s->array_data ? s->array_data->n_data : 0;
  case MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA: return s->json_data ? s->json_data->n_data : 0;
  default: return 0;
  }
}

/* One decode job: a field, its FieldData and the row mapping. */
typedef struct job {
  const cairn_schema *schema;
  const cairn_field *f;
  const cairn_pb_field_data *fd;
  const cairn_fielddata_opts *opts;
  size_t n_rows;
  const bool *valid;  /* n_rows entries, or NULL: all rows carry data */
  size_t *src;        /* n_rows: payload index of each valid row */
  bool use_default;   /* invalid rows take the default value */
  cairn_column *col;
} job;

/* Whether output row r takes a payload value. */
static bool has_value(const job *j, size_t r) { return j->valid == NULL || j->valid[r]; }

/* ---- fixed-width scalars -------------------------------------------------- */

/* Payload entry i of scalar payload s, for fixed type t, into dst; checks
 * ranges and finiteness. */
static cairn_status fixed_get(const job *j, const pb_scalar *s, size_t i,
                              size_t row, void *dst, cairn_error *err) {
  cairn_data_type t = j->f->type;
  switch (t) {
  case CAIRN_TYPE_BOOL: *(uint8_t *)dst = s->bool_data->data[i] != 0; return CAIRN_OK;
  case CAIRN_TYPE_INT8: case CAIRN_TYPE_INT16: case CAIRN_TYPE_INT32: {
    int32_t v = s->int_data->data[i];
    cairn_status st = check_int_range(j->f, t, v, row, err);
    if (t == CAIRN_TYPE_INT8) *(int8_t *)dst = (int8_t)v;
    else if (t == CAIRN_TYPE_INT16) *(int16_t *)dst = (int16_t)v;
    else *(int32_t *)dst = v;
    return st;
  }
  case CAIRN_TYPE_INT64: *(int64_t *)dst = s->long_data->data[i]; return CAIRN_OK;
  case CAIRN_TYPE_FLOAT:
    *(float *)dst = s->float_data->data[i];
    return check_finite_f32(j->f, dst, 1, 1, err) == CAIRN_OK
               ? CAIRN_OK
               : INVALID(err, "float field %s: row %zu is NaN or Inf", j->f->name, row);
  case CAIRN_TYPE_DOUBLE:
    *(double *)dst = s->double_data->data[i];
    return isfinite(*(double *)dst)
               ? CAIRN_OK
               : INVALID(err, "double field %s: row %zu is NaN or Inf", j->f->name, row);
  default:
    return cairn_error_set(err, CAIRN_INTERNAL, "fixed_get on %s", cairn_type_name(t));
  }
}

static void fixed_default(const cairn_field *f, void *dst) {
  const cairn_value *v = &f->default_value;
  switch (f->type) {
  case CAIRN_TYPE_BOOL: *(uint8_t *)dst = v->u.b; break;
  case CAIRN_TYPE_INT8: *(int8_t *)dst = (int8_t)v->u.i; break;
  case CAIRN_TYPE_INT16: *(int16_t *)dst = (int16_t)v->u.i; break;
  case CAIRN_TYPE_INT32: *(int32_t *)dst = (int32_t)v->u.i; break;
  case CAIRN_TYPE_INT64: *(int64_t *)dst = v->u.i; break;
  case CAIRN_TYPE_FLOAT: *(float *)dst = (float)v->u.d; break;
  case CAIRN_TYPE_DOUBLE: *(double *)dst = v->u.d; break;
  default: break;
  }
}

/* Dense, all valid, payload already in the column's C type: one memcpy
 * after the checks. */
static const void *fixed_direct(const job *j, const pb_scalar *s) {
  if (j->valid != NULL)
    return NULL;
  switch (j->f->type) {
  case CAIRN_TYPE_INT32: return s->int_data->data;
  case CAIRN_TYPE_INT64: return s->long_data->data;
  case CAIRN_TYPE_FLOAT: return s->float_data->data;
  case CAIRN_TYPE_DOUBLE: return s->double_data->data;
  default: return NULL;
  }
}

static cairn_status decode_fixed(job *j, const pb_scalar *s, cairn_error *err) {
  size_t w = cairn_type_width(j->f->type), n = j->n_rows;
  const void *direct = fixed_direct(j, s);
  if (direct != NULL) {
    cairn_status st = j->f->type == CAIRN_TYPE_FLOAT
                          ? check_finite_f32(j->f, direct, n, 1, err) : CAIRN_OK;
    if (st != CAIRN_OK)
      return st;
    for (size_t i = 0; j->f->type == CAIRN_TYPE_DOUBLE && i < n; i++)
      if (!isfinite(((const double *)direct)[i]))
        return INVALID(err, "double field %s: row %zu is NaN or Inf", j->f->name, i);
    return cairn_column_append_fixed(j->col, direct, NULL, n, err);
  }
  uint8_t *vals = calloc(n ? n : 1, w);
  bool *valid = j->f->nullable ? malloc(n ? n : 1) : NULL;
  cairn_status st = vals == NULL || (j->f->nullable && valid == NULL)
                        ? cairn_error_set(err, CAIRN_NOMEM, NULL) : CAIRN_OK;
  for (size_t r = 0; r < n && st == CAIRN_OK; r++) {
    bool ok = has_value(j, r);
    if (ok)
      st = fixed_get(j, s, j->src[r], r, vals + r * w, err);
    else if (j->use_default)
      fixed_default(j->f, vals + r * w);
    if (valid != NULL)
      valid[r] = ok || j->use_default;
  }
  if (st == CAIRN_OK)
    st = cairn_column_append_fixed(j->col, vals, valid, n, err);
  free(vals);
  free(valid);
  return st;
}

/* ---- VarChar and JSON ------------------------------------------------------ */

static cairn_status check_json(const job *j, const char *s, size_t len, size_t row,
                               cairn_error *err) {
  size_t max = j->opts->json_max_length ? j->opts->json_max_length : CAIRN_JSON_MAX_LENGTH;
  if (len > max)
    return INVALID(err, "json field %s: row %zu is %zu bytes, more than the "
                        "maximum %zu", j->f->name, row, len, max);
  json_tokener *tok = json_tokener_new();
  if (tok == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
  json_object *o = json_tokener_parse_ex(tok, s, (int)len);
  bool complete = o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                  (size_t)json_tokener_get_parse_end(tok) == len;
  json_tokener_free(tok);
  cairn_status st = CAIRN_OK;
  if (!complete)
    st = INVALID(err, "json field %s: row %zu is not valid JSON", j->f->name, row);
  else if (j->f->is_dynamic && !json_object_is_type(o, json_type_object))
    st = INVALID(err, "dynamic field $meta: row %zu is not a JSON object", row);
  else if (j->f->is_dynamic) {
    json_object_object_foreach(o, key, val) {
      (void)val;
      const cairn_field *sf = cairn_schema_field(j->schema, key);
      if (sf != NULL && !sf->is_dynamic) {
        st = INVALID(err, "dynamic field $meta: row %zu has key '%s', which "
                          "is a static field name", row, key);
        break;
      }
    }
  }
  json_object_put(o);
  return st;
}

/* Row r's string and length from the payload (VarChar or JSON). */
static void var_get(const job *j, const pb_scalar *s, size_t i, const char **p,
                    size_t *len) {
  if (j->f->type == CAIRN_TYPE_JSON) {
    *p = (const char *)s->json_data->data[i].data;
    *len = s->json_data->data[i].len;
  } else {
    *p = s->string_data->data[i];
    *len = strlen(*p);
  }
}

/* Checks one present string value; may turn an empty JSON into a null or
 * "{}" (*null set). */
static cairn_status var_check(const job *j, const char **p, size_t *len,
                              size_t row, bool *null, cairn_error *err) {
  *null = false;
  if (j->f->type != CAIRN_TYPE_JSON)
    return check_varchar(j->f, *p, *len, row, err);
  if (*len == 0 && j->f->is_dynamic) {
    *p = "{}";
    *len = 2;
    return CAIRN_OK;
  }
  if (*len == 0 && j->f->nullable) {
    *null = true;
    return CAIRN_OK;
  }
  return check_json(j, *p, *len, row, err);
}

static cairn_status decode_var(job *j, const pb_scalar *s, cairn_error *err) {
  size_t n = j->n_rows;
  const char **ptrs = calloc(n ? n : 1, sizeof *ptrs);
  size_t *lens = calloc(n ? n : 1, sizeof *lens);
  bool *valid = j->f->nullable ? calloc(n ? n : 1, sizeof *valid) : NULL;
  cairn_status st = ptrs == NULL || lens == NULL || (j->f->nullable && valid == NULL)
                        ? cairn_error_set(err, CAIRN_NOMEM, NULL) : CAIRN_OK;
  const cairn_value *dv = &j->f->default_value;
  for (size_t r = 0; r < n && st == CAIRN_OK; r++) {
    bool null = false;
    if (has_value(j, r)) {
      var_get(j, s, j->src[r], &ptrs[r], &lens[r]);
      st = var_check(j, &ptrs[r], &lens[r], r, &null, err);
    } else if (j->use_default && dv->type == CAIRN_TYPE_VARCHAR) {
      ptrs[r] = dv->u.s;
      lens[r] = strlen(dv->u.s);
    } else {
      null = true;
    }
    if (valid != NULL)
      valid[r] = !null;
    else if (null && st == CAIRN_OK)
      st = INVALID(err, "field %s: row %zu is empty, and the field is not "
                        "nullable", j->f->name, r);
  }
  if (st == CAIRN_OK)
    st = cairn_column_append_strings(j->col, ptrs, lens, valid, n, err);
  free(ptrs);
  free(lens);
  free(valid);
  return st;
}

/* ---- arrays ---------------------------------------------------------------- */

static cairn_status array_row(job *j, const pb_scalar *e, size_t row,
                              cairn_error *err) {
  cairn_data_type et = j->f->element_type;
  if (e != NULL && e->data_case != MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA__NOT_SET &&
      (int)e->data_case != scalar_case_of(et))
    return INVALID(err, "array field %s: row %zu holds elements of the wrong "
                        "type, expected %s", j->f->name, row, cairn_type_name(et));
  size_t m = scalar_count(e);
  if (j->f->max_capacity > 0 && (int64_t)m > j->f->max_capacity)
    return INVALID(err, "array field %s: row %zu has %zu elements, more than "
                        "max_capacity %" PRId64, j->f->name, row, m,
                   j->f->max_capacity);
  if (et == CAIRN_TYPE_VARCHAR) {
    const char **p = malloc((m ? m : 1) * sizeof *p);
    size_t *l = malloc((m ? m : 1) * sizeof *l);
    cairn_status st = p && l ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
    for (size_t i = 0; i < m && st == CAIRN_OK; i++) {
      p[i] = e->string_data->data[i];
      l[i] = strlen(p[i]);
      st = check_varchar(j->f, p[i], l[i], row, err);
    }
    if (st == CAIRN_OK)
      st = cairn_column_append_array_strings(j->col, p, l, m, err);
    free(p);
    free(l);
    return st;
  }
  size_t w = cairn_type_width(et);
  uint8_t *vals = malloc((m ? m : 1) * w);
  cairn_status st = vals ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
  job ej = *j;
  cairn_field ef = *j->f;
  ef.type = et;
  ej.f = &ef;
  for (size_t i = 0; i < m && st == CAIRN_OK; i++)
    st = fixed_get(&ej, e, i, row, vals + i * w, err);
  if (st == CAIRN_OK)
    st = cairn_column_append_array(j->col, vals, m, err);
  free(vals);
  return st;
}

static cairn_status decode_array(job *j, const pb_scalar *s, cairn_error *err) {
  static const Milvus__Proto__Schema__ArrayArray none =
      MILVUS__PROTO__SCHEMA__ARRAY_ARRAY__INIT; /* no payload: all rows null */
  const Milvus__Proto__Schema__ArrayArray *a =
      s->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA ? s->array_data
                                                                           : &none;
  if (a->element_type != 0 && (int)a->element_type != (int)j->f->element_type)
    return INVALID(err, "array field %s: element type %s does not match the "
                        "schema's %s", j->f->name,
                   cairn_type_name((cairn_data_type)a->element_type)
                       ? cairn_type_name((cairn_data_type)a->element_type) : "?",
                   cairn_type_name(j->f->element_type));
  cairn_status st = CAIRN_OK;
  for (size_t r = 0; r < j->n_rows && st == CAIRN_OK; r++)
    st = has_value(j, r) ? array_row(j, a->data[j->src[r]], r, err)
                         : cairn_column_append_nulls(j->col, 1, err);
  return st;
}

/* ---- vectors ---------------------------------------------------------------- */

/* Raw bytes and byte length of a dense vector payload. */
static void vector_bytes(const pb_vector *v, const uint8_t **p, size_t *len) {
  switch (v->data_case) {
  case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR:
    *p = v->float_vector ? (const uint8_t *)v->float_vector->data : NULL;
    *len = v->float_vector ? v->float_vector->n_data * 4 : 0;
    return;
  case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BINARY_VECTOR:
    *p = v->binary_vector.data; *len = v->binary_vector.len; return;
  case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT16_VECTOR:
    *p = v->float16_vector.data; *len = v->float16_vector.len; return;
  case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_BFLOAT16_VECTOR:
    *p = v->bfloat16_vector.data; *len = v->bfloat16_vector.len; return;
  case MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_INT8_VECTOR:
    *p = v->int8_vector.data; *len = v->int8_vector.len; return;
  default:
    *p = NULL; *len = 0; return;
  }
}

static cairn_status decode_dense(job *j, const uint8_t *p, size_t len,
                                 cairn_error *err) {
  size_t rb = cairn_vector_row_bytes(j->f->type, j->f->dim), n = j->n_rows;
  if (j->f->type == CAIRN_TYPE_FLOAT_VECTOR) {
    cairn_status st = check_finite_f32(j->f, (const float *)p, len / 4,
                                       (size_t)j->f->dim, err);
    if (st != CAIRN_OK)
      return st;
  }
  if (j->valid == NULL)
    return cairn_column_append_fixed(j->col, p, NULL, n, err);
  uint8_t *vals = calloc(n ? n : 1, rb);
  bool *valid = malloc(n ? n : 1);
  cairn_status st = vals && valid ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t r = 0; r < n && st == CAIRN_OK; r++) {
    valid[r] = has_value(j, r);
    if (valid[r])
      memcpy(vals + r * rb, p + j->src[r] * rb, rb);
  }
  if (st == CAIRN_OK)
    st = cairn_column_append_fixed(j->col, vals, valid, n, err);
  free(vals);
  free(valid);
  return st;
}

static cairn_status sparse_row(job *j, const ProtobufCBinaryData *b, size_t row,
                               cairn_error *err) {
  if (b->len % 8 != 0)
    return INVALID(err, "sparse float vector field %s: row %zu is %zu bytes, "
                        "not a multiple of 8", j->f->name, row, b->len);
  size_t m = b->len / 8;
  cairn_sparse_pair *p = malloc((m ? m : 1) * sizeof *p);
  if (p == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (m > 0)
    memcpy(p, b->data, b->len);
  cairn_error e2;
  cairn_status st = cairn_sparse_normalize(p, m, &e2);
  if (st != CAIRN_OK)
    st = INVALID(err, "sparse float vector field %s: row %zu: %s", j->f->name,
                 row, e2.message);
  else
    st = cairn_column_append_sparse(j->col, p, m, err);
  free(p);
  return st;
}

static cairn_status decode_sparse(job *j, const pb_vector *v, cairn_error *err) {
  const Milvus__Proto__Schema__SparseFloatArray *a = v->sparse_float_vector;
  cairn_status st = CAIRN_OK;
  for (size_t r = 0; r < j->n_rows && st == CAIRN_OK; r++)
    st = has_value(j, r) ? sparse_row(j, &a->contents[j->src[r]], r, err)
                         : cairn_column_append_nulls(j->col, 1, err);
  return st;
}

/* ---- one column ------------------------------------------------------------ */

static cairn_status payload_mismatch(const job *j, cairn_error *err) {
  return INVALID(err, "field %s is illegal, array type mismatch: expected %s "
                      "data", j->f->name, cairn_type_name(j->f->type));
}

/* Payload row count; checks the oneof case and vector dims. */
static cairn_status payload_rows(const job *j, size_t *m, cairn_error *err) {
  const cairn_pb_field_data *fd = j->fd;
  *m = 0;
  if (!cairn_type_is_vector(j->f->type)) {
    if (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD__NOT_SET ||
        (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS &&
         fd->scalars->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA__NOT_SET))
      return CAIRN_OK; /* no data at all: only all-null compact columns pass */
    if (fd->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS ||
        (int)fd->scalars->data_case != scalar_case_of(j->f->type))
      return payload_mismatch(j, err);
    *m = scalar_count(fd->scalars);
    return CAIRN_OK;
  }
  if (fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD__NOT_SET)
    return CAIRN_OK; /* no data at all: only all-null compact columns pass */
  if (fd->field_case != MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS ||
      (int)fd->vectors->data_case != vector_case_of(j->f->type))
    return payload_mismatch(j, err);
  const pb_vector *v = fd->vectors;
  if (j->f->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR) {
    *m = v->sparse_float_vector ? v->sparse_float_vector->n_contents : 0;
    return CAIRN_OK;
  }
  if (v->dim != j->f->dim)
    return INVALID(err, "the dim (%" PRId64 ") of field data(%s) is not equal "
                        "to schema dim (%" PRId64 ")", v->dim, j->f->name, j->f->dim);
  const uint8_t *p;
  size_t len, rb = cairn_vector_row_bytes(j->f->type, j->f->dim);
  vector_bytes(v, &p, &len);
  if (rb == 0 || len % rb != 0)
    return INVALID(err, "the length (%zu bytes) of %s field %s is not a "
                        "multiple of dim (%" PRId64 ")", len,
                   cairn_type_name(j->f->type), j->f->name, j->f->dim);
  *m = len / rb;
  return CAIRN_OK;
}

/* valid_data: fills j->valid and j->src, checks counts against m. */
static cairn_status map_rows(const job *j, size_t m, bool *partial,
                             cairn_error *err) {
  const cairn_pb_field_data *fd = j->fd;
  size_t n = j->n_rows, n_valid = n;
  *partial = false;
  bool can_null = j->f->nullable || j->use_default;
  if (fd->n_valid_data > 0) {
    if (fd->n_valid_data != n)
      return INVALID(err, "the length of valid_data of field %s (%zu) does "
                          "not match num_rows (%zu)", j->f->name,
                     fd->n_valid_data, n);
    n_valid = 0;
    for (size_t r = 0; r < n; r++) {
      if (fd->valid_data[r]) {
        n_valid++;
      } else if (!can_null) {
        return INVALID(err, "field %s is not nullable and has no default "
                            "value, but valid_data marks row %zu as null",
                       j->f->name, r);
      }
    }
  }
  bool dense = m == n, compact = m == n_valid;
  if (!dense && !compact)
    return INVALID(err, "the num_rows (%zu) of field (%s) is not equal to "
                        "passed num_rows (%zu)", m, j->f->name, n);
  *partial = fd->n_valid_data > 0 && n_valid < n; /* else row r is entry r */
  return CAIRN_OK;
}

static cairn_status decode_payload(job *j, cairn_error *err) {
  const cairn_pb_field_data *fd = j->fd;
  if (cairn_type_is_vector(j->f->type)) {
    static const pb_vector none = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    static const Milvus__Proto__Schema__SparseFloatArray no_rows =
        MILVUS__PROTO__SCHEMA__SPARSE_FLOAT_ARRAY__INIT;
    const pb_vector *v = fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS
                             ? fd->vectors : &none;
    if (j->f->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR) {
      pb_vector sv = *v;
      if (sv.data_case != MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR) {
        sv.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
        sv.sparse_float_vector = (Milvus__Proto__Schema__SparseFloatArray *)&no_rows;
      }
      return decode_sparse(j, &sv, err);
    }
    const uint8_t *p;
    size_t len;
    vector_bytes(v, &p, &len);
    return decode_dense(j, p, len, err);
  }
  static const pb_scalar empty = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
  const pb_scalar *s = fd->field_case == MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS
                           ? fd->scalars : &empty;
  if (cairn_type_width(j->f->type) != 0)
    return decode_fixed(j, s, err);
  if (j->f->type == CAIRN_TYPE_ARRAY)
    return decode_array(j, s, err);
  return decode_var(j, s, err);
}

static cairn_status decode_column(job *j, cairn_error *err) {
  size_t m = 0, n = j->n_rows;
  bool partial = false;
  cairn_status st = payload_rows(j, &m, err);
  if (st == CAIRN_OK)
    st = map_rows(j, m, &partial, err);
  if (st != CAIRN_OK)
    return st;
  /* protobuf_c_boolean is an int: copy the flags into a bool array and
   * build the payload index of every valid row */
  bool *valid = NULL;
  j->src = malloc((n ? n : 1) * sizeof *j->src);
  if (j->src == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (partial) {
    valid = malloc(n);
    if (valid == NULL) {
      free(j->src);
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    }
    bool compact = m != n;
    for (size_t r = 0, k = 0; r < n; r++) {
      valid[r] = j->fd->valid_data[r] != 0;
      j->src[r] = compact ? k : r;
      k += valid[r];
    }
    j->valid = valid;
  } else {
    for (size_t r = 0; r < n; r++)
      j->src[r] = r;
  }
  st = cairn_column_new_field(j->f, &j->col, err);
  if (st == CAIRN_OK)
    st = cairn_column_reserve(j->col, n, 0, 0, err);
  if (st == CAIRN_OK)
    st = decode_payload(j, err);
  free(valid);
  free(j->src);
  j->valid = NULL;
  j->src = NULL;
  return st;
}

/* A column for a field the request did not send. */
static cairn_status fill_missing(const job *j, cairn_column **out,
                                 cairn_error *err) {
  static const cairn_pb_field_data none = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
  const cairn_field *f = j->f;
  if (!f->is_dynamic && f->default_value.type == CAIRN_TYPE_NONE && !f->nullable)
    return INVALID(err, "Insert missed an field `%s` to collection without "
                        "set nullable==true or set default_value", f->name);
  bool *valid = calloc(j->n_rows ? j->n_rows : 1, sizeof *valid);
  protobuf_c_boolean *pv = calloc(j->n_rows ? j->n_rows : 1, sizeof *pv);
  if (valid == NULL || pv == NULL) {
    free(valid);
    free(pv);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  /* a FieldData with every row invalid and no payload: defaults or nulls;
   * for $meta, rows of "{}" */
  cairn_pb_field_data fd = none;
  Milvus__Proto__Schema__JSONArray ja = MILVUS__PROTO__SCHEMA__JSONARRAY__INIT;
  pb_scalar sc = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__INIT;
  ProtobufCBinaryData *rows = NULL;
  if (f->is_dynamic) {
    rows = calloc(j->n_rows ? j->n_rows : 1, sizeof *rows);
    for (size_t r = 0; rows != NULL && r < j->n_rows; r++)
      rows[r] = (ProtobufCBinaryData){2, (uint8_t *)"{}"};
    ja.n_data = j->n_rows;
    ja.data = rows;
    sc.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
    sc.json_data = &ja;
    fd.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
    fd.scalars = &sc;
  } else {
    fd.n_valid_data = j->n_rows;
    fd.valid_data = pv;
  }
  job mj = *j;
  mj.fd = &fd;
  cairn_status st = rows == NULL && f->is_dynamic
                        ? cairn_error_set(err, CAIRN_NOMEM, NULL)
                        : decode_column(&mj, err);
  *out = mj.col;
  if (st != CAIRN_OK) {
    cairn_column_free(mj.col);
    *out = NULL;
  }
  free(rows);
  free(valid);
  free(pv);
  return st;
}

/* ---- matching request columns to fields ------------------------------------ */

static cairn_status match_fields(const cairn_schema *schema,
                                 cairn_pb_field_data *const *fields, size_t n,
                                 const cairn_pb_field_data **by_field,
                                 cairn_error *err) {
  for (size_t i = 0; i < n; i++) {
    const cairn_pb_field_data *fd = fields[i];
    const char *name = fd->field_name ? fd->field_name : "";
    const cairn_field *f = name[0] ? cairn_schema_field(schema, name)
                                   : cairn_schema_field_by_id(schema, fd->field_id);
    if (f == NULL && (fd->is_dynamic || strcmp(name, CAIRN_DYNAMIC_FIELD_NAME) == 0)) {
      f = cairn_schema_dynamic(schema);
      if (f == NULL)
        return INVALID(err, "the dynamic field is not enabled for collection "
                            "%s, but the request sends $meta", schema->name);
    }
    if (f == NULL && schema->enable_dynamic)
      return INVALID(err, "field `%s` is not in the schema of collection %s; "
                          "with the dynamic field enabled, send it inside "
                          "$meta", name, schema->name);
    if (f == NULL)
      return INVALID(err, "attempt to insert an unexpected field `%s` to "
                          "collection without enabling dynamic field", name);
    size_t idx = (size_t)(f - schema->fields);
    if (by_field[idx] != NULL)
      return INVALID(err, "duplicated field name `%s` in the request", f->name);
    if (fd->type != 0 && (int)fd->type != (int)f->type)
      return INVALID(err, "the data type of field `%s` mismatch: expected %s, "
                          "got %s", f->name, cairn_type_name(f->type),
                     cairn_type_name((cairn_data_type)fd->type)
                         ? cairn_type_name((cairn_data_type)fd->type) : "unknown");
    by_field[idx] = fd;
  }
  return CAIRN_OK;
}

/* ---- duplicate primary keys -------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

typedef struct str_ref { const char *p; size_t len; } str_ref;

static int cmp_str(const void *a, const void *b) {
  const str_ref *x = a, *y = b;
  int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
  return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static cairn_status check_unique_pks(const cairn_field *f, const cairn_column *col,
                                     cairn_error *err) {
  cairn_colview v;
  cairn_column_snapshot(col, &v);
  size_t n = v.n_rows, esz = f->type == CAIRN_TYPE_INT64 ? 8 : sizeof(str_ref);
  void *keys = malloc((n ? n : 1) * esz);
  if (keys == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = CAIRN_OK;
  if (f->type == CAIRN_TYPE_INT64) {
    int64_t *k = keys;
    memcpy(k, v.col.values, n * 8);
    if (n > 1)
      qsort(k, n, 8, cmp_i64);
    for (size_t i = 1; i < n && st == CAIRN_OK; i++)
      if (k[i] == k[i - 1])
        st = INVALID(err, "duplicate primary key %" PRId64 " in field %s of one "
                          "insert batch", k[i], f->name);
  } else {
    str_ref *k = keys;
    for (size_t i = 0; i < n; i++)
      k[i].p = cairn_colview_string(&v, i, &k[i].len);
    if (n > 1)
      qsort(k, n, sizeof *k, cmp_str);
    for (size_t i = 1; i < n && st == CAIRN_OK; i++)
      if (cmp_str(&k[i], &k[i - 1]) == 0)
        st = INVALID(err, "duplicate primary key '%.*s' in field %s of one "
                          "insert batch", (int)(k[i].len > 64 ? 64 : k[i].len),
                     k[i].p, f->name);
  }
  free(keys);
  return st;
}

/* ---- decode entry point ------------------------------------------------------ */

void cairn_insert_batch_free(cairn_insert_batch *batch) {
  if (batch == NULL)
    return;
  for (size_t i = 0; i < batch->n_columns; i++)
    cairn_column_free(batch->columns[i]);
  free(batch->columns);
  free(batch);
}

static cairn_status decode_field(const job *base, const cairn_pb_field_data *fd,
                                 cairn_column **out, cairn_error *err) {
  job j = *base;
  const cairn_field *f = j.f;
  j.use_default = f->default_value.type != CAIRN_TYPE_NONE;
  if (fd == NULL)
    return f->is_primary && f->auto_id && !j.opts->upsert ? CAIRN_OK
                                                         : fill_missing(&j, out, err);
  if (f->is_primary && f->auto_id && !j.opts->upsert)
    return INVALID(err, "the primary key field `%s` is auto_id: do not send "
                        "it on insert (use upsert to give keys)", f->name);
  j.fd = fd;
  cairn_status st = decode_column(&j, err);
  *out = j.col;
  if (st == CAIRN_OK && f->is_primary && !j.opts->allow_duplicate_pks)
    st = check_unique_pks(f, j.col, err);
  return st;
}

cairn_status cairn_fielddata_decode(const cairn_schema *schema,
                                    cairn_pb_field_data *const *fields,
                                    size_t n_fields, size_t num_rows,
                                    const cairn_fielddata_opts *opts,
                                    cairn_insert_batch **out, cairn_error *err) {
  *out = NULL;
  static const cairn_fielddata_opts defaults = {0};
  if (num_rows == 0)
    return INVALID(err, "num_rows should be greater than 0");
  cairn_insert_batch *b = calloc(1, sizeof *b);
  const cairn_pb_field_data **by_field = calloc(schema->n_fields + 1, sizeof *by_field);
  if (b == NULL || by_field == NULL ||
      (b->columns = calloc(schema->n_fields + 1, sizeof *b->columns)) == NULL) {
    free(by_field);
    cairn_insert_batch_free(b);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  b->n_columns = schema->n_fields;
  b->n_rows = num_rows;
  cairn_status st = match_fields(schema, fields, n_fields, by_field, err);
  for (size_t i = 0; i < schema->n_fields && st == CAIRN_OK; i++) {
    job j = {.schema = schema, .f = &schema->fields[i],
             .opts = opts ? opts : &defaults, .n_rows = num_rows};
    st = decode_field(&j, by_field[i], &b->columns[i], err);
  }
  free(by_field);
  if (st != CAIRN_OK) {
    cairn_insert_batch_free(b);
    return st;
  }
  *out = b;
  return CAIRN_OK;
}

/* ---- output: columns -> FieldData ------------------------------------------ */

cairn_status cairn_json_filter_keys(cairn_arena *arena, const char *json,
                                    size_t len, const char *const *keys,
                                    size_t n_keys, char **out, size_t *out_len,
                                    cairn_error *err) {
  *out = NULL;
  *out_len = 0;
  json_tokener *tok = json_tokener_new();
  json_object *dst = json_object_new_object();
  if (tok == NULL || dst == NULL) {
    json_tokener_free(tok);
    json_object_put(dst);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  json_object *src = json_tokener_parse_ex(tok, json, (int)len);
  json_tokener_free(tok);
  for (size_t i = 0; json_object_is_type(src, json_type_object) && i < n_keys; i++) {
    json_object *val = NULL;
    if (json_object_object_get_ex(src, keys[i], &val))
      json_object_object_add(dst, keys[i], json_object_get(val));
  }
  size_t n = 0;
  const char *text = json_object_to_json_string_length(dst, JSON_C_TO_STRING_PLAIN, &n);
  *out = cairn_arena_strndup(arena, text, n);
  *out_len = n;
  json_object_put(src);
  json_object_put(dst);
  return *out ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
}

/* Builds the typed scalar array of a fixed type for the rows. */
static cairn_status build_fixed(cairn_arena *a, const cairn_colview *v,
                                const int64_t *rows, size_t n, pb_scalar *s,
                                cairn_error *err) {
  cairn_data_type t = v->type.type;
  const void *p = v->col.values;
#define FILL(CASE, member, TYPE, CTYPE, INIT)                                  \
  do {                                                                         \
    s->data_case = CASE;                                                       \
    s->member = CAIRN_ARENA_NEW(a, TYPE, 1);                                   \
    CTYPE *d = CAIRN_ARENA_NEW(a, CTYPE, n ? n : 1);                           \
    if (s->member == NULL || d == NULL)                                        \
      return cairn_error_set(err, CAIRN_NOMEM, NULL);                          \
    *s->member = (TYPE)INIT;                                                   \
    s->member->n_data = n;                                                     \
    s->member->data = d;                                                       \
    for (size_t i = 0; i < n; i++)                                             \
      if (cairn_colview_valid(v, (size_t)rows[i]))                             \
        d[i] = (CTYPE)VALUE(rows[i]);                                          \
  } while (0)
  switch (t) {
  case CAIRN_TYPE_BOOL:
#define VALUE(r) ((const uint8_t *)p)[r]
    FILL(MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_BOOL_DATA, bool_data,
         Milvus__Proto__Schema__BoolArray, protobuf_c_boolean,
         MILVUS__PROTO__SCHEMA__BOOL_ARRAY__INIT);
    break;
#undef VALUE
  case CAIRN_TYPE_INT8: case CAIRN_TYPE_INT16: case CAIRN_TYPE_INT32:
#define VALUE(r) (t == CAIRN_TYPE_INT8 ? ((const int8_t *)p)[r] \
                 : t == CAIRN_TYPE_INT16 ? ((const int16_t *)p)[r] : ((const int32_t *)p)[r])
    FILL(MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_INT_DATA, int_data,
         Milvus__Proto__Schema__IntArray, int32_t, MILVUS__PROTO__SCHEMA__INT_ARRAY__INIT);
    break;
#undef VALUE
  case CAIRN_TYPE_INT64:
#define VALUE(r) ((const int64_t *)p)[r]
    FILL(MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA, long_data,
         Milvus__Proto__Schema__LongArray, int64_t, MILVUS__PROTO__SCHEMA__LONG_ARRAY__INIT);
    break;
#undef VALUE
  case CAIRN_TYPE_FLOAT:
#define VALUE(r) ((const float *)p)[r]
    FILL(MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_FLOAT_DATA, float_data,
         Milvus__Proto__Schema__FloatArray, float, MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT);
    break;
#undef VALUE
  case CAIRN_TYPE_DOUBLE:
#define VALUE(r) ((const double *)p)[r]
    FILL(MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_DOUBLE_DATA, double_data,
         Milvus__Proto__Schema__DoubleArray, double, MILVUS__PROTO__SCHEMA__DOUBLE_ARRAY__INIT);
    break;
#undef VALUE
  default:
    return cairn_error_set(err, CAIRN_INTERNAL, "build_fixed on %s", cairn_type_name(t));
  }
#undef FILL
  return CAIRN_OK;
}

static cairn_status build_strings(cairn_arena *a, const cairn_colview *v,
                                  const int64_t *rows, size_t n, pb_scalar *s,
                                  cairn_error *err) {
  Milvus__Proto__Schema__StringArray *sa = CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__StringArray, 1);
  char **d = CAIRN_ARENA_NEW(a, char *, n ? n : 1);
  if (sa == NULL || d == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__string_array__init(sa);
  for (size_t i = 0; i < n; i++) {
    size_t len = 0;
    const char *str = cairn_colview_valid(v, (size_t)rows[i])
                          ? cairn_colview_string(v, (size_t)rows[i], &len) : "";
    if ((d[i] = cairn_arena_strndup(a, str, len)) == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  sa->n_data = n;
  sa->data = d;
  s->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
  s->string_data = sa;
  return CAIRN_OK;
}

static cairn_status build_json(cairn_arena *a, const cairn_colview *v,
                               const int64_t *rows, size_t n, bool dynamic,
                               const char *const *keys, size_t n_keys,
                               pb_scalar *s, cairn_error *err) {
  Milvus__Proto__Schema__JSONArray *ja = CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__JSONArray, 1);
  ProtobufCBinaryData *d = CAIRN_ARENA_NEW(a, ProtobufCBinaryData, n ? n : 1);
  if (ja == NULL || d == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__jsonarray__init(ja);
  for (size_t i = 0; i < n; i++) {
    size_t len = 0;
    const char *str = cairn_colview_valid(v, (size_t)rows[i])
                          ? cairn_colview_string(v, (size_t)rows[i], &len) : "";
    char *copy;
    if (dynamic && keys != NULL) {
      cairn_status st = cairn_json_filter_keys(a, str, len, keys, n_keys, &copy, &len, err);
      if (st != CAIRN_OK)
        return st;
    } else if ((copy = cairn_arena_strndup(a, str, len)) == NULL) {
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    }
    d[i] = (ProtobufCBinaryData){len, (uint8_t *)copy};
  }
  ja->n_data = n;
  ja->data = d;
  s->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_JSON_DATA;
  s->json_data = ja;
  return CAIRN_OK;
}

/* One array row as a ScalarField of the element type. */
static cairn_status build_array_row(cairn_arena *a, const cairn_colview *v,
                                    size_t r, pb_scalar *e, cairn_error *err) {
  uint64_t lo = v->col.offsets[r], hi = v->col.offsets[r + 1];
  size_t m = cairn_colview_valid(v, r) ? (size_t)(hi - lo) : 0;
  cairn_colview ev = {.type = {.type = v->type.element_type}, .n_rows = (size_t)hi};
  ev.col.values = v->col.values;
  ev.col.offsets = v->col.elem_offsets;
  ev.col.data = v->col.data;
  int64_t *idx = CAIRN_ARENA_NEW(a, int64_t, m ? m : 1);
  if (idx == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < m; i++)
    idx[i] = (int64_t)(lo + i);
  if (v->type.element_type == CAIRN_TYPE_VARCHAR)
    return build_strings(a, &ev, idx, m, e, err);
  return build_fixed(a, &ev, idx, m, e, err);
}

static cairn_status build_array(cairn_arena *a, const cairn_colview *v,
                                const int64_t *rows, size_t n, pb_scalar *s,
                                cairn_error *err) {
  Milvus__Proto__Schema__ArrayArray *aa = CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__ArrayArray, 1);
  pb_scalar **d = CAIRN_ARENA_NEW(a, pb_scalar *, n ? n : 1);
  if (aa == NULL || d == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__array_array__init(aa);
  for (size_t i = 0; i < n; i++) {
    if ((d[i] = CAIRN_ARENA_NEW(a, pb_scalar, 1)) == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    milvus__proto__schema__scalar_field__init(d[i]);
    cairn_status st = build_array_row(a, v, (size_t)rows[i], d[i], err);
    if (st != CAIRN_OK)
      return st;
  }
  aa->n_data = n;
  aa->data = d;
  aa->element_type = (Milvus__Proto__Schema__DataType)v->type.element_type;
  s->data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_ARRAY_DATA;
  s->array_data = aa;
  return CAIRN_OK;
}

static cairn_status build_sparse(cairn_arena *a, const cairn_colview *v,
                                 const int64_t *rows, size_t n, pb_vector *vf,
                                 cairn_error *err) {
  Milvus__Proto__Schema__SparseFloatArray *sa =
      CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__SparseFloatArray, 1);
  ProtobufCBinaryData *c = CAIRN_ARENA_NEW(a, ProtobufCBinaryData, n ? n : 1);
  if (sa == NULL || c == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__sparse_float_array__init(sa);
  int64_t dim = 0;
  for (size_t i = 0; i < n; i++) {
    size_t m;
    const cairn_sparse_pair *p = cairn_colview_sparse(v, (size_t)rows[i], &m);
    uint8_t *b = cairn_arena_alloc(a, m * 8 + 1);
    if (b == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    if (m > 0) {
      memcpy(b, p, m * 8);
      if ((int64_t)p[m - 1].index + 1 > dim)
        dim = (int64_t)p[m - 1].index + 1;
    }
    c[sa->n_contents++] = (ProtobufCBinaryData){m * 8, b};
  }
  sa->contents = c;
  sa->dim = dim;
  vf->dim = dim;
  vf->data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_SPARSE_FLOAT_VECTOR;
  vf->sparse_float_vector = sa;
  return CAIRN_OK;
}

/* Dense vectors; null rows are left out (compact, as the SDKs expect). */
static cairn_status build_dense(cairn_arena *a, const cairn_colview *v,
                                const int64_t *rows, size_t n, pb_vector *vf,
                                cairn_error *err) {
  size_t rb = cairn_vector_row_bytes(v->type.type, v->type.dim), k = 0;
  uint8_t *d = cairn_arena_alloc(a, n * rb + 1);
  if (d == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < n; i++)
    if (cairn_colview_valid(v, (size_t)rows[i]))
      memcpy(d + rb * k++, cairn_colview_vector(v, (size_t)rows[i]), rb);
  ProtobufCBinaryData bytes = {k * rb, d};
  vf->dim = v->type.dim;
  vf->data_case = vector_case_of(v->type.type);
  switch (v->type.type) {
  case CAIRN_TYPE_FLOAT_VECTOR:
    vf->float_vector = CAIRN_ARENA_NEW(a, Milvus__Proto__Schema__FloatArray, 1);
    if (vf->float_vector == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    milvus__proto__schema__float_array__init(vf->float_vector);
    vf->float_vector->n_data = k * (size_t)v->type.dim;
    vf->float_vector->data = (float *)d;
    break;
  case CAIRN_TYPE_BINARY_VECTOR: vf->binary_vector = bytes; break;
  case CAIRN_TYPE_FLOAT16_VECTOR: vf->float16_vector = bytes; break;
  case CAIRN_TYPE_BFLOAT16_VECTOR: vf->bfloat16_vector = bytes; break;
  default: vf->int8_vector = bytes; break;
  }
  return CAIRN_OK;
}

static cairn_status build_validity(cairn_arena *a, const cairn_colview *v,
                                   const int64_t *rows, size_t n,
                                   cairn_pb_field_data *fd, cairn_error *err) {
  fd->valid_data = CAIRN_ARENA_NEW(a, protobuf_c_boolean, n ? n : 1);
  if (fd->valid_data == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  fd->n_valid_data = n;
  for (size_t i = 0; i < n; i++)
    fd->valid_data[i] = cairn_colview_valid(v, (size_t)rows[i]);
  return CAIRN_OK;
}

static cairn_status build_payload(cairn_arena *a, const cairn_field *f,
                                  const cairn_colview *v, const int64_t *rows,
                                  size_t n, const char *const *keys,
                                  size_t n_keys, cairn_pb_field_data *fd,
                                  cairn_error *err) {
  if (cairn_type_is_vector(f->type)) {
    pb_vector *vf = CAIRN_ARENA_NEW(a, pb_vector, 1);
    if (vf == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    milvus__proto__schema__vector_field__init(vf);
    fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    fd->vectors = vf;
    return f->type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR ? build_sparse(a, v, rows, n, vf, err)
                                                      : build_dense(a, v, rows, n, vf, err);
  }
  pb_scalar *s = CAIRN_ARENA_NEW(a, pb_scalar, 1);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__scalar_field__init(s);
  fd->field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
  fd->scalars = s;
  if (cairn_type_width(f->type) != 0)
    return build_fixed(a, v, rows, n, s, err);
  if (f->type == CAIRN_TYPE_ARRAY)
    return build_array(a, v, rows, n, s, err);
  if (f->type == CAIRN_TYPE_JSON)
    return build_json(a, v, rows, n, f->is_dynamic, keys, n_keys, s, err);
  return build_strings(a, v, rows, n, s, err);
}

cairn_status cairn_fielddata_build(cairn_arena *arena, const cairn_field *field,
                                   const cairn_colview *src, const int64_t *rows,
                                   size_t n, const char *const *keys,
                                   size_t n_keys, cairn_pb_field_data **out,
                                   cairn_error *err) {
  *out = NULL;
  if (src->type.type != field->type ||
      (field->type == CAIRN_TYPE_ARRAY && src->type.element_type != field->element_type))
    return INVALID(err, "column of type %s cannot build field %s of type %s",
                   cairn_type_name(src->type.type), field->name,
                   cairn_type_name(field->type));
  for (size_t i = 0; i < n; i++)
    if (rows[i] < 0 || (uint64_t)rows[i] >= src->n_rows)
      return INVALID(err, "row index %" PRId64 " out of range [0, %zu)", rows[i],
                     src->n_rows);
  cairn_pb_field_data *fd = CAIRN_ARENA_NEW(arena, cairn_pb_field_data, 1);
  if (fd == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__field_data__init(fd);
  fd->type = (Milvus__Proto__Schema__DataType)field->type;
  fd->field_name = cairn_arena_strdup(arena, field->name);
  fd->field_id = field->id;
  fd->is_dynamic = field->is_dynamic;
  cairn_status st = fd->field_name ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (st == CAIRN_OK)
    st = build_payload(arena, field, src, rows, n, keys, n_keys, fd, err);
  if (st == CAIRN_OK && field->nullable)
    st = build_validity(arena, src, rows, n, fd, err);
  if (st == CAIRN_OK)
    *out = fd;
  return st;
}

/* ---- IDs --------------------------------------------------------------------- */

cairn_pb_ids *cairn_ids_int(cairn_arena *arena, const int64_t *ids, size_t n) {
  cairn_pb_ids *out = CAIRN_ARENA_NEW(arena, cairn_pb_ids, 1);
  Milvus__Proto__Schema__LongArray *la = CAIRN_ARENA_NEW(arena, Milvus__Proto__Schema__LongArray, 1);
  int64_t *d = CAIRN_ARENA_NEW(arena, int64_t, n ? n : 1);
  if (out == NULL || la == NULL || d == NULL)
    return NULL;
  milvus__proto__schema__ids__init(out);
  milvus__proto__schema__long_array__init(la);
  if (n > 0)
    memcpy(d, ids, n * sizeof *d);
  la->n_data = n;
  la->data = d;
  out->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID;
  out->int_id = la;
  return out;
}

cairn_pb_ids *cairn_ids_str(cairn_arena *arena, const char *const *ids,
                            const size_t *lens, size_t n) {
  cairn_pb_ids *out = CAIRN_ARENA_NEW(arena, cairn_pb_ids, 1);
  Milvus__Proto__Schema__StringArray *sa = CAIRN_ARENA_NEW(arena, Milvus__Proto__Schema__StringArray, 1);
  char **d = CAIRN_ARENA_NEW(arena, char *, n ? n : 1);
  if (out == NULL || sa == NULL || d == NULL)
    return NULL;
  milvus__proto__schema__ids__init(out);
  milvus__proto__schema__string_array__init(sa);
  for (size_t i = 0; i < n; i++)
    if ((d[i] = cairn_arena_strndup(arena, ids[i], lens ? lens[i] : strlen(ids[i]))) == NULL)
      return NULL;
  sa->n_data = n;
  sa->data = d;
  out->id_field_case = MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID;
  out->str_id = sa;
  return out;
}

cairn_status cairn_ids_from_column(cairn_arena *arena, const cairn_colview *pk,
                                   const int64_t *rows, size_t n,
                                   cairn_pb_ids **out, cairn_error *err) {
  *out = NULL;
  if (pk->type.type != CAIRN_TYPE_INT64 && pk->type.type != CAIRN_TYPE_VARCHAR)
    return INVALID(err, "primary keys must be Int64 or VarChar");
  for (size_t i = 0; i < n; i++)
    if (rows[i] < 0 || (uint64_t)rows[i] >= pk->n_rows)
      return INVALID(err, "row index %" PRId64 " out of range", rows[i]);
  if (pk->type.type == CAIRN_TYPE_INT64) {
    int64_t *ids = CAIRN_ARENA_NEW(arena, int64_t, n ? n : 1);
    if (ids == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    for (size_t i = 0; i < n; i++)
      ids[i] = ((const int64_t *)pk->col.values)[rows[i]];
    *out = cairn_ids_int(arena, ids, n);
  } else {
    const char **p = CAIRN_ARENA_NEW(arena, const char *, n ? n : 1);
    size_t *l = CAIRN_ARENA_NEW(arena, size_t, n ? n : 1);
    if (p == NULL || l == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    for (size_t i = 0; i < n; i++)
      p[i] = cairn_colview_string(pk, (size_t)rows[i], &l[i]);
    *out = cairn_ids_str(arena, p, l, n);
  }
  return *out ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
}
