/*
 * schema.h — the data model of a collection (DESIGN §4), as plain C structs.
 *
 * Data type numbers are Milvus's schema.DataType values, so they travel on the
 * wire unchanged. The catalogue stores a collection's schema as the bytes of
 * schema.CollectionSchema; this struct is the decoded, validated view that
 * the filter engine, the proxy and the segment code work from.
 *
 * Ownership: a cairn_schema owns its fields array and every string in it;
 * cairn_schema_free releases all of it. Schemas are immutable once built and
 * may be shared read-only between threads.
 */
#ifndef CAIRN_SCHEMA_H
#define CAIRN_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cairn_data_type {
  CAIRN_TYPE_NONE = 0,
  CAIRN_TYPE_BOOL = 1,
  CAIRN_TYPE_INT8 = 2,
  CAIRN_TYPE_INT16 = 3,
  CAIRN_TYPE_INT32 = 4,
  CAIRN_TYPE_INT64 = 5,
  CAIRN_TYPE_FLOAT = 10,
  CAIRN_TYPE_DOUBLE = 11,
  CAIRN_TYPE_STRING = 20,
  CAIRN_TYPE_VARCHAR = 21,
  CAIRN_TYPE_ARRAY = 22,
  CAIRN_TYPE_JSON = 23,
  CAIRN_TYPE_BINARY_VECTOR = 100,
  CAIRN_TYPE_FLOAT_VECTOR = 101,
  CAIRN_TYPE_FLOAT16_VECTOR = 102,
  CAIRN_TYPE_BFLOAT16_VECTOR = 103,
  CAIRN_TYPE_SPARSE_FLOAT_VECTOR = 104,
  CAIRN_TYPE_INT8_VECTOR = 105,
} cairn_data_type;

/* Field IDs 0 and 1 are the system fields (row id, timestamp); user fields
 * start here. */
#define CAIRN_FIRST_USER_FIELD_ID 100
#define CAIRN_DYNAMIC_FIELD_NAME "$meta"

/* A default value for a scalar field (schema.ValueField). */
typedef struct cairn_value {
  cairn_data_type type; /* CAIRN_TYPE_NONE: no default */
  union {
    bool b;
    int64_t i;  /* every integer type */
    double d;   /* float and double */
    char *s;    /* varchar; owned */
  } u;
} cairn_value;

typedef struct cairn_field {
  int64_t id;                   /* >= CAIRN_FIRST_USER_FIELD_ID */
  char *name;                   /* owned */
  cairn_data_type type;
  cairn_data_type element_type; /* for CAIRN_TYPE_ARRAY, else NONE */
  bool is_primary;
  bool auto_id;
  bool nullable;
  bool is_dynamic;        /* the hidden JSON field "$meta" */
  bool is_partition_key;
  bool is_clustering_key;
  int64_t dim;            /* vectors (not sparse); 0 otherwise */
  int64_t max_length;     /* varchar, and varchar array elements */
  int64_t max_capacity;   /* arrays */
  cairn_value default_value;
} cairn_field;

typedef struct cairn_schema {
  char *name;            /* owned */
  bool enable_dynamic;   /* when true, fields holds a "$meta" field */
  size_t n_fields;
  cairn_field *fields;   /* owned array of n_fields */
} cairn_schema;

/* Frees the schema and everything it owns. NULL is allowed. */
void cairn_schema_free(cairn_schema *schema);
/* Field by exact name, or NULL. */
const cairn_field *cairn_schema_field(const cairn_schema *schema,
                                      const char *name);
/* Field by id, or NULL. */
const cairn_field *cairn_schema_field_by_id(const cairn_schema *schema,
                                            int64_t id);
/* The primary key field, or NULL. */
const cairn_field *cairn_schema_primary(const cairn_schema *schema);
/* The "$meta" field when dynamic fields are on, else NULL. */
const cairn_field *cairn_schema_dynamic(const cairn_schema *schema);

/* Milvus name of a type ("Int64", "FloatVector"), or NULL if unknown. */
const char *cairn_type_name(cairn_data_type type);
/* Type by Milvus name, case-insensitive; CAIRN_TYPE_NONE if unknown. */
cairn_data_type cairn_type_from_name(const char *name);
bool cairn_type_is_vector(cairn_data_type type);
bool cairn_type_is_integer(cairn_data_type type);
bool cairn_type_is_floating(cairn_data_type type);
bool cairn_type_is_string(cairn_data_type type);
/* Whether an Array may hold elements of this type. */
bool cairn_type_is_array_element(cairn_data_type type);

#endif
