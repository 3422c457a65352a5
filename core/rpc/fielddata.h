/*
 * fielddata.h — the codec between Milvus schema.FieldData columns and
 * Cairn's column store (column.h), both ways (PROTOCOL.md §4).
 *
 * In: cairn_fielddata_decode checks the fields_data of an Insert or Upsert
 * request against the collection schema, with Milvus's rules and messages
 * (every failure is CAIRN_INVALID_ARGUMENT, Milvus code 1100, with a
 * message naming the field and row), and builds one cairn_column per
 * schema field. Rules, in the order they are checked:
 *   - columns are matched by field_name (field_id when the name is empty);
 *     a column named "$meta" or flagged is_dynamic goes to the dynamic
 *     field, which must be enabled; any other unknown name is an error (the
 *     SDKs put undeclared keys inside $meta); a field sent twice is an error;
 *   - a field that is missing is filled when it is the auto_id primary key
 *     (left for the caller: its column is NULL), the dynamic field ("{}"
 *     per row), has a default value (the default) or is nullable (nulls);
 *     otherwise "Insert missed an field ...";
 *   - a primary key sent under auto_id is an error for Insert (Upsert must
 *     send it);
 *   - the FieldData type must be the field's type, and its payload the
 *     matching oneof (int_data for Int8/16/32, ...);
 *   - valid_data, when present, has one entry per row; the payload then has
 *     either one entry per row (dense) or one per valid row (compact); a row
 *     marked invalid takes the field's default value when it has one (even
 *     when nullable: Milvus's rule), else it is null, which only nullable
 *     fields allow;
 *   - every column has num_rows rows; vectors: VectorField.dim equals the
 *     schema dim, payload length is rows x row bytes;
 *   - Float/Double values and float vector elements are finite (no NaN or
 *     Inf); Int8/Int16 values fit their type;
 *   - VarChar: valid UTF-8, at most max_length BYTES (Milvus counts bytes:
 *     Go len() on the string), also for VarChar array elements;
 *   - Array: the element type matches, at most max_capacity elements;
 *   - JSON: parses (json-c, strict), at most 64 KiB (Milvus's default
 *     JSON max length); an empty value is null for a nullable field and
 *     "{}" for $meta; $meta rows must be objects whose keys are not
 *     static field names;
 *   - sparse rows: a multiple of 8 bytes, sorted here by index (the Node
 *     SDK does not sort), duplicate indices, index 2^32-1, negative, NaN or
 *     infinite values rejected;
 *   - primary keys are unique within the batch (Cairn's rule; Milvus keeps
 *     the last of duplicates — opts.allow_duplicate_pks restores that).
 *
 * Out: cairn_fielddata_build makes the FieldData of one field for chosen
 * rows of a column view (query/search output), in an arena: `dim` set on
 * vectors, valid_data (dense) on nullable scalars, nullable vectors compact
 * (valid rows only), and for "$meta" only the requested keys. IDs builders
 * for the primary keys of results.
 *
 * Ownership: decode copies everything out of the request (the request may
 * be freed afterwards); the batch is freed with cairn_insert_batch_free.
 * Built messages live in the arena. Threading: pure functions.
 */
#ifndef CAIRN_FIELDDATA_H
#define CAIRN_FIELDDATA_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "column.h"
#include "schema.h"
#include "schema.pb-c.h"
#include "status.h"

typedef Milvus__Proto__Schema__FieldData cairn_pb_field_data;
typedef Milvus__Proto__Schema__CollectionSchema cairn_pb_schema;
typedef Milvus__Proto__Schema__IDs cairn_pb_ids;

#define CAIRN_JSON_MAX_LENGTH 65536

/* A cairn_schema from the stored schema.CollectionSchema (type params dim,
 * max_length, max_capacity parsed; default values converted; a "$meta"
 * field added when enable_dynamic_field is set and none is declared).
 * Free with cairn_schema_free. */
cairn_status cairn_schema_from_pb(const cairn_pb_schema *pb,
                                  cairn_schema **out, cairn_error *err);

typedef struct cairn_fielddata_opts {
  bool upsert;              /* the primary key must be sent, even auto_id */
  bool allow_duplicate_pks; /* Milvus's behaviour: accept them */
  size_t json_max_length;   /* 0: CAIRN_JSON_MAX_LENGTH */
} cairn_fielddata_opts;

typedef struct cairn_insert_batch {
  size_t n_rows;
  size_t n_columns;       /* the schema's n_fields */
  cairn_column **columns; /* by schema field index; NULL: auto_id pk */
} cairn_insert_batch;

/* Decodes and validates; opts may be NULL (insert defaults). On error *out
 * is NULL and err says which field and row. */
cairn_status cairn_fielddata_decode(const cairn_schema *schema,
                                    cairn_pb_field_data *const *fields,
                                    size_t n_fields, size_t num_rows,
                                    const cairn_fielddata_opts *opts,
                                    cairn_insert_batch **out,
                                    cairn_error *err);
void cairn_insert_batch_free(cairn_insert_batch *batch);

/* The FieldData of `field` holding rows[0..n) of src, in the arena. For the
 * dynamic field, keys (n_keys > 0) selects the JSON keys kept; keys NULL
 * keeps whole objects. */
cairn_status cairn_fielddata_build(cairn_arena *arena, const cairn_field *field,
                                   const cairn_colview *src,
                                   const int64_t *rows, size_t n,
                                   const char *const *keys, size_t n_keys,
                                   cairn_pb_field_data **out,
                                   cairn_error *err);

/* The JSON object text `json` reduced to `keys`, NUL-terminated in the
 * arena. Text that is not a JSON object gives "{}". */
cairn_status cairn_json_filter_keys(cairn_arena *arena, const char *json,
                                    size_t len, const char *const *keys,
                                    size_t n_keys, char **out, size_t *out_len,
                                    cairn_error *err);

/* schema.IDs in the arena; NULL when out of memory. */
cairn_pb_ids *cairn_ids_int(cairn_arena *arena, const int64_t *ids, size_t n);
cairn_pb_ids *cairn_ids_str(cairn_arena *arena, const char *const *ids,
                            const size_t *lens, size_t n);
/* IDs from rows of a primary key column view (Int64 or VarChar). */
cairn_status cairn_ids_from_column(cairn_arena *arena, const cairn_colview *pk,
                                   const int64_t *rows, size_t n,
                                   cairn_pb_ids **out, cairn_error *err);

#endif
