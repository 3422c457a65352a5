/* schema.c — lookups over cairn_schema and the data type table. */
#include "schema.h"

#include <stdlib.h>
#include <strings.h>
#include <string.h>

static const struct {
  cairn_data_type type;
  const char *name;
} type_names[] = {
    {CAIRN_TYPE_NONE, "None"},
    {CAIRN_TYPE_BOOL, "Bool"},
    {CAIRN_TYPE_INT8, "Int8"},
    {CAIRN_TYPE_INT16, "Int16"},
    {CAIRN_TYPE_INT32, "Int32"},
    {CAIRN_TYPE_INT64, "Int64"},
    {CAIRN_TYPE_FLOAT, "Float"},
    {CAIRN_TYPE_DOUBLE, "Double"},
    {CAIRN_TYPE_STRING, "String"},
    {CAIRN_TYPE_VARCHAR, "VarChar"},
    {CAIRN_TYPE_ARRAY, "Array"},
    {CAIRN_TYPE_JSON, "JSON"},
    {CAIRN_TYPE_BINARY_VECTOR, "BinaryVector"},
    {CAIRN_TYPE_FLOAT_VECTOR, "FloatVector"},
    {CAIRN_TYPE_FLOAT16_VECTOR, "Float16Vector"},
    {CAIRN_TYPE_BFLOAT16_VECTOR, "BFloat16Vector"},
    {CAIRN_TYPE_SPARSE_FLOAT_VECTOR, "SparseFloatVector"},
    {CAIRN_TYPE_INT8_VECTOR, "Int8Vector"},
};

void cairn_schema_free(cairn_schema *schema) {
  if (schema == NULL)
    return;
  for (size_t i = 0; i < schema->n_fields; i++) {
    free(schema->fields[i].name);
    if (schema->fields[i].default_value.type == CAIRN_TYPE_VARCHAR)
      free(schema->fields[i].default_value.u.s);
  }
  free(schema->fields);
  free(schema->name);
  free(schema);
}

const cairn_field *cairn_schema_field(const cairn_schema *schema,
                                      const char *name) {
  for (size_t i = 0; i < schema->n_fields; i++)
    if (strcmp(schema->fields[i].name, name) == 0)
      return &schema->fields[i];
  return NULL;
}

const cairn_field *cairn_schema_field_by_id(const cairn_schema *schema,
                                            int64_t id) {
  for (size_t i = 0; i < schema->n_fields; i++)
    if (schema->fields[i].id == id)
      return &schema->fields[i];
  return NULL;
}

const cairn_field *cairn_schema_primary(const cairn_schema *schema) {
  for (size_t i = 0; i < schema->n_fields; i++)
    if (schema->fields[i].is_primary)
      return &schema->fields[i];
  return NULL;
}

const cairn_field *cairn_schema_dynamic(const cairn_schema *schema) {
  for (size_t i = 0; i < schema->n_fields; i++)
    if (schema->fields[i].is_dynamic)
      return &schema->fields[i];
  return NULL;
}

const char *cairn_type_name(cairn_data_type type) {
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
    if (type_names[i].type == type)
      return type_names[i].name;
  return NULL;
}

cairn_data_type cairn_type_from_name(const char *name) {
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
    if (strcasecmp(type_names[i].name, name) == 0)
      return type_names[i].type;
  return CAIRN_TYPE_NONE;
}

bool cairn_type_is_vector(cairn_data_type type) {
  return type >= CAIRN_TYPE_BINARY_VECTOR && type <= CAIRN_TYPE_INT8_VECTOR;
}

bool cairn_type_is_integer(cairn_data_type type) {
  return type >= CAIRN_TYPE_INT8 && type <= CAIRN_TYPE_INT64;
}

bool cairn_type_is_floating(cairn_data_type type) {
  return type == CAIRN_TYPE_FLOAT || type == CAIRN_TYPE_DOUBLE;
}

bool cairn_type_is_string(cairn_data_type type) {
  return type == CAIRN_TYPE_VARCHAR || type == CAIRN_TYPE_STRING;
}

bool cairn_type_is_array_element(cairn_data_type type) {
  return type == CAIRN_TYPE_BOOL || cairn_type_is_integer(type) ||
         cairn_type_is_floating(type) || type == CAIRN_TYPE_VARCHAR;
}
