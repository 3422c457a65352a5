/*
 * coord_schema.c — validation of a CreateCollection schema and the public
 * view of a stored one.
 *
 * Rules (Milvus's, with its messages where users know them): exactly one
 * primary key, Int64 or VarChar, not nullable, no default; auto_id only on
 * the primary key; at least one and at most max_vector_fields vector fields;
 * dim in [1, max_dim] (binary: a multiple of 8; sparse: none); VarChar needs
 * max_length in [1, 65535]; Array needs a scalar element_type and
 * max_capacity in [1, 4096]; at most one partition key (Int64/VarChar, not
 * the primary key) and one clustering key; default values must match the
 * field type; names unique and well formed. The server adds the dynamic
 * field "$meta" itself; a client may not declare dynamic fields.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"
#include "schema.h"

#define MAX_VARCHAR_LENGTH 65535
#define MAX_ARRAY_CAPACITY 4096

typedef Milvus__Proto__Schema__CollectionSchema pb_schema;
typedef Milvus__Proto__Schema__FieldSchema pb_field;

bool coord_is_vector_type(int type) { return cairn_type_is_vector(type); }

static bool is_valid_field_type(int t) {
  return cairn_type_name((cairn_data_type)t) != NULL && t != CAIRN_TYPE_NONE &&
         t != CAIRN_TYPE_STRING;
}

pb_field *coord_schema_field(const pb_schema *schema, const char *name) {
  for (size_t i = 0; i < schema->n_fields; i++)
    if (strcmp(schema->fields[i]->name, name) == 0)
      return schema->fields[i];
  return NULL;
}

int64_t coord_type_param(const pb_field *field, const char *key) {
  const char *v = cairn_pb_kv_get(field->type_params, field->n_type_params, key);
  return v ? strtoll(v, NULL, 10) : 0;
}

/* A type param that must be an integer in [lo, hi]. */
static cairn_status int_param(const pb_field *f, const char *key, int64_t lo,
                              int64_t hi, bool required, int64_t *out,
                              cairn_error *err) {
  *out = 0;
  const char *v = cairn_pb_kv_get(f->type_params, f->n_type_params, key);
  if (v == NULL) {
    if (!required)
      return CAIRN_OK;
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "type param(%s) should be specified for the field "
                           "'%s' of type %s",
                           key, f->name, cairn_type_name((cairn_data_type)f->data_type));
  }
  char *end = NULL;
  long long n = strtoll(v, &end, 10);
  if (end == v || *end != '\0' || n < lo || n > hi)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "invalid %s of field '%s': must be an integer in "
                           "[%" PRId64 ", %" PRId64 "], got '%s'",
                           key, f->name, lo, hi, v);
  *out = n;
  return CAIRN_OK;
}

static cairn_status check_vector(cairn_coord *coord, const pb_field *f,
                                 cairn_error *err) {
  int64_t dim = 0;
  if ((int)f->data_type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR) {
    if (cairn_pb_kv_get(f->type_params, f->n_type_params, "dim") != NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "dim should not be specified for sparse vector "
                             "field '%s'",
                             f->name);
    return CAIRN_OK;
  }
  cairn_status st = int_param(f, "dim", 1, coord->opts.max_dim, true, &dim, err);
  if (st != CAIRN_OK)
    return st;
  if ((int)f->data_type == CAIRN_TYPE_BINARY_VECTOR && dim % 8 != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "dimension of binary vector field '%s' must be a "
                           "multiple of 8, got %" PRId64,
                           f->name, dim);
  if (f->nullable)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "vector field '%s' cannot be nullable", f->name);
  if (f->default_value != NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "vector field '%s' cannot have a default value",
                           f->name);
  return CAIRN_OK;
}

static cairn_status check_array(const pb_field *f, cairn_error *err) {
  if (!cairn_type_is_array_element((cairn_data_type)f->element_type))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "array field '%s' has an invalid element type %d: "
                           "use Bool, Int8..Int64, Float, Double or VarChar",
                           f->name, (int)f->element_type);
  int64_t v = 0;
  cairn_status st = int_param(f, "max_capacity", 1, MAX_ARRAY_CAPACITY, true, &v,
                              err);
  if (st == CAIRN_OK && (int)f->element_type == CAIRN_TYPE_VARCHAR)
    st = int_param(f, "max_length", 1, MAX_VARCHAR_LENGTH, true, &v, err);
  return st;
}

static bool int_fits(int type, int64_t v) {
  switch (type) {
  case CAIRN_TYPE_INT8: return v >= INT8_MIN && v <= INT8_MAX;
  case CAIRN_TYPE_INT16: return v >= INT16_MIN && v <= INT16_MAX;
  default: return true;
  }
}

static cairn_status check_default(const pb_field *f, cairn_error *err) {
  const Milvus__Proto__Schema__ValueField *d = f->default_value;
  if (d == NULL || d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA__NOT_SET)
    return CAIRN_OK;
  bool ok;
  switch (f->data_type) {
  case CAIRN_TYPE_BOOL:
    ok = d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_BOOL_DATA;
    break;
  case CAIRN_TYPE_INT8: case CAIRN_TYPE_INT16: case CAIRN_TYPE_INT32:
    ok = d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_INT_DATA &&
         int_fits(f->data_type, d->int_data);
    break;
  case CAIRN_TYPE_INT64:
    ok = d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_LONG_DATA;
    break;
  case CAIRN_TYPE_FLOAT:
    ok = d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_FLOAT_DATA;
    break;
  case CAIRN_TYPE_DOUBLE:
    ok = d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_DOUBLE_DATA;
    break;
  case CAIRN_TYPE_VARCHAR:
    ok = d->data_case == MILVUS__PROTO__SCHEMA__VALUE_FIELD__DATA_STRING_DATA &&
         (int64_t)strlen(d->string_data) <= coord_type_param(f, "max_length");
    break;
  default:
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "field '%s' of type %s cannot have a default value",
                           f->name, cairn_type_name((cairn_data_type)f->data_type));
  }
  if (!ok)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "default value of field '%s' does not match its "
                           "type %s (or is out of range)",
                           f->name, cairn_type_name((cairn_data_type)f->data_type));
  return CAIRN_OK;
}

static cairn_status check_primary(const pb_field *f, cairn_error *err) {
  if ((int)f->data_type != CAIRN_TYPE_INT64 && (int)f->data_type != CAIRN_TYPE_VARCHAR)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "the data type of primary key '%s' should be Int64 "
                           "or VarChar, got %s",
                           f->name, cairn_type_name((cairn_data_type)f->data_type));
  if (f->nullable)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "primary key field '%s' cannot be nullable", f->name);
  if (f->default_value != NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "primary key field '%s' cannot have a default value",
                           f->name);
  return CAIRN_OK;
}

/* Checks of one field on its own. */
static cairn_status check_field(cairn_coord *coord, const pb_field *f,
                                cairn_error *err) {
  cairn_status st = coord_check_name("field", f->name, err);
  if (st != CAIRN_OK)
    return st;
  if (!is_valid_field_type(f->data_type))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "field '%s' has an unsupported data type %d%s",
                           f->name, (int)f->data_type,
                           (int)f->data_type == CAIRN_TYPE_STRING
                               ? " (use VarChar instead of String)" : "");
  if (f->is_dynamic)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cannot explicitly set field '%s' as a dynamic "
                           "field; use enable_dynamic_field instead",
                           f->name);
  if (f->autoid && !f->is_primary_key)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "only the primary key field can set auto_id, but "
                           "field '%s' is not the primary key",
                           f->name);
  int64_t v = 0;
  if (f->is_primary_key && (st = check_primary(f, err)) != CAIRN_OK)
    return st;
  if (coord_is_vector_type(f->data_type))
    return check_vector(coord, f, err);
  if ((int)f->data_type == CAIRN_TYPE_VARCHAR)
    st = int_param(f, "max_length", 1, MAX_VARCHAR_LENGTH, true, &v, err);
  else if ((int)f->data_type == CAIRN_TYPE_ARRAY)
    st = check_array(f, err);
  if (st == CAIRN_OK)
    st = check_default(f, err);
  if (st == CAIRN_OK && f->is_partition_key &&
      (int)f->data_type != CAIRN_TYPE_INT64 && (int)f->data_type != CAIRN_TYPE_VARCHAR)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "the data type of partition key '%s' should be Int64 "
                         "or VarChar",
                         f->name);
  if (st == CAIRN_OK && f->is_partition_key &&
      (f->is_primary_key || f->nullable))
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "partition key '%s' cannot be the primary key or "
                         "nullable",
                         f->name);
  return st;
}

typedef struct field_counts {
  int primary, vector, partition_key, clustering_key;
} field_counts;

static cairn_status check_counts(cairn_coord *coord, const pb_schema *s,
                                 const field_counts *c, cairn_error *err) {
  if (c->primary == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "primary key is not specified: mark one Int64 or "
                           "VarChar field with is_primary_key");
  if (c->primary > 1)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "there are more than one primary key");
  if (c->vector == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "schema does not contain a vector field");
  if (c->vector > coord->opts.max_vector_fields)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "maximum vector field's number should be limited "
                           "to %d, got %d",
                           coord->opts.max_vector_fields, c->vector);
  if (c->partition_key > 1)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "there are more than one partition key");
  if (c->clustering_key > 1)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "there are more than one clustering key");
  if ((int)s->n_fields > coord->opts.max_fields)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "maximum field's number should be limited to %d, "
                           "got %zu",
                           coord->opts.max_fields, s->n_fields);
  return CAIRN_OK;
}

static cairn_status check_fields(cairn_coord *coord, pb_schema *s,
                                 cairn_error *err) {
  field_counts c = {0};
  for (size_t i = 0; i < s->n_fields; i++) {
    pb_field *f = s->fields[i];
    if (f == NULL || f->name == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "field %zu is empty", i);
    if (f->is_primary_key && s->autoid)
      f->autoid = 1; /* the deprecated schema-level flag */
    cairn_status st = check_field(coord, f, err);
    if (st != CAIRN_OK)
      return st;
    for (size_t j = 0; j < i; j++)
      if (strcmp(s->fields[j]->name, f->name) == 0)
        return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                               "duplicated field name '%s'", f->name);
    c.primary += f->is_primary_key;
    c.vector += coord_is_vector_type(f->data_type);
    c.partition_key += f->is_partition_key;
    c.clustering_key += f->is_clustering_key;
  }
  return check_counts(coord, s, &c, err);
}

static cairn_status add_dynamic_field(cairn_arena *arena, pb_schema *s,
                                      cairn_error *err) {
  pb_field **fields = CAIRN_ARENA_NEW(arena, pb_field *, s->n_fields + 1);
  pb_field *meta = CAIRN_ARENA_NEW(arena, pb_field, 1);
  if (fields == NULL || meta == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  milvus__proto__schema__field_schema__init(meta);
  meta->name = CAIRN_DYNAMIC_FIELD_NAME;
  meta->description = "dynamic field";
  meta->data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__JSON;
  meta->is_dynamic = 1;
  memcpy(fields, s->fields, s->n_fields * sizeof *fields);
  fields[s->n_fields] = meta;
  s->fields = fields;
  s->n_fields++;
  return CAIRN_OK;
}

cairn_status coord_check_schema(cairn_coord *coord, cairn_arena *arena,
                                pb_schema *s, const char *collection_name,
                                cairn_error *err) {
  if (s->name != NULL && s->name[0] != '\0' &&
      strcmp(s->name, collection_name) != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "collection name [%s] does not match schema name "
                           "[%s]",
                           collection_name, s->name);
  s->name = (char *)collection_name;
  if (s->n_functions > 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "schema functions (such as BM25) are not supported "
                           "by Cairn yet");
  if (s->n_struct_array_fields > 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "struct array fields are not supported by Cairn yet");
  cairn_status st = check_fields(coord, s, err);
  if (st != CAIRN_OK)
    return st;
  if (s->enable_dynamic_field && (st = add_dynamic_field(arena, s, err)) != CAIRN_OK)
    return st;
  for (size_t i = 0; i < s->n_fields; i++)
    s->fields[i]->fieldid = CAIRN_FIRST_USER_FIELD_ID + (int64_t)i;
  s->autoid = 0;
  return CAIRN_OK;
}

pb_schema *coord_public_schema(cairn_arena *arena, const pb_schema *stored) {
  pb_schema *s = CAIRN_ARENA_NEW(arena, pb_schema, 1);
  if (s == NULL)
    return NULL;
  *s = *stored;
  s->fields = CAIRN_ARENA_NEW(arena, pb_field *, stored->n_fields + 1);
  s->n_fields = 0;
  for (size_t i = 0; i < stored->n_fields; i++) {
    pb_field *f = stored->fields[i];
    if (f->is_dynamic || f->fieldid < CAIRN_FIRST_USER_FIELD_ID)
      continue;
    s->fields[s->n_fields++] = f;
  }
  return s;
}
