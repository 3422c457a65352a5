/*
 * expr.h — the filter expression engine: the Milvus boolean expression
 * language (DESIGN §6), parsed once into a typed tree checked against a
 * collection schema, then evaluated column at a time into a bitset.
 *
 * The same tree serves search filters, query, delete-by-expression and
 * count(*): parse once per request, evaluate once per segment (growing or
 * sealed, any backend) through the column view below.
 *
 *   cairn_expr *e = NULL;  cairn_error err;
 *   if (cairn_expr_parse(schema, "price < {hi} and tag like \"a%\"",
 *                        &templates, &e, &err) != CAIRN_OK) ...err.message...
 *   cairn_expr_eval(e, &batch, bits, &err);   // bit i set = row i matches
 *   cairn_expr_free(e);
 *
 * Column view (the contract the segment code adapts to; nothing is copied):
 *   - one cairn_expr_column per field the expression reads, found by field id;
 *   - fixed-width types: `values` points at n_rows contiguous values in the
 *     native C type (Bool: one uint8_t 0/1 per row; Int8..Int64: int8_t..
 *     int64_t; Float: float; Double: double);
 *   - VarChar / String: `offsets` holds n_rows+1 byte offsets into `data`;
 *     row i is data[offsets[i] .. offsets[i+1]) (UTF-8, not NUL-terminated);
 *   - JSON (including the dynamic field "$meta"): like VarChar, each row is
 *     the UTF-8 text of one JSON document (normally an object);
 *   - Array: `offsets` holds n_rows+1 *element* indexes; row i's elements are
 *     elements [offsets[i], offsets[i+1]). Fixed-width elements live in
 *     `values` as above; VarChar elements are strings whose n_elements+1 byte
 *     offsets are in `elem_offsets` into `data`;
 *   - `validity` (nullable fields): Arrow-style bitmap, bit (i % 8) of byte
 *     i / 8 set = row i holds a value; NULL means every row is valid. The
 *     value slot of a null row must exist but its content is ignored.
 *
 * Semantics (SQL-like three-valued logic; docs/expr.md has the full table):
 *   a comparison with a null operand (null row, JSON key missing or JSON
 *   null, array index out of range, division by zero) is UNKNOWN; `not`
 *   keeps UNKNOWN, `and`/`or` follow Kleene logic, and a row is selected only
 *   when the whole expression is TRUE. Comparing a JSON value with a value of
 *   an incompatible type is FALSE, not an error. `is null`, `is not null` and
 *   `exists` are never UNKNOWN.
 *
 * Threading: a parsed cairn_expr is immutable; any number of threads may
 * evaluate it at once on different batches. Evaluation allocates only
 * per-call scratch memory.
 *
 * Ownership: cairn_expr_parse copies everything it needs out of the text and
 * the template values; the caller frees the result with cairn_expr_free. The
 * batch, its columns and the output bitset belong to the caller.
 */
#ifndef CAIRN_EXPR_H
#define CAIRN_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "status.h"

/* ---- column view ------------------------------------------------------ */

typedef struct cairn_expr_column {
  int64_t field_id;             /* which schema field this column holds */
  const void *values;           /* fixed-width values or array elements */
  const uint8_t *validity;      /* NULL: all rows valid (see above) */
  const uint64_t *offsets;      /* n_rows+1: VarChar/JSON bytes, Array elems */
  const char *data;             /* VarChar/JSON bytes, VarChar array bytes */
  const uint64_t *elem_offsets; /* VarChar arrays: n_elements+1 into data */
} cairn_expr_column;

typedef struct cairn_expr_batch {
  const cairn_schema *schema;       /* the schema the expression was parsed on */
  size_t n_rows;
  size_t n_columns;
  const cairn_expr_column *columns; /* at least the fields the expr reads */
} cairn_expr_batch;

/* ---- template values (Milvus expr_template_values) -------------------- */

typedef enum cairn_expr_value_type {
  CAIRN_EXPR_BOOL,
  CAIRN_EXPR_INT,
  CAIRN_EXPR_FLOAT,
  CAIRN_EXPR_STRING,
  CAIRN_EXPR_LIST, /* elements of any scalar type */
} cairn_expr_value_type;

typedef struct cairn_expr_value {
  cairn_expr_value_type type;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      const char *ptr; /* UTF-8, need not be NUL-terminated */
      size_t len;
    } s;
    struct {
      const struct cairn_expr_value *items;
      size_t n;
    } list;
  } u;
} cairn_expr_value;

typedef struct cairn_expr_template {
  const char *name; /* as written between braces: x > {lo} → "lo" */
  cairn_expr_value value;
} cairn_expr_template;

typedef struct cairn_expr_templates {
  size_t n;
  const cairn_expr_template *items;
} cairn_expr_templates;

/* ---- the expression --------------------------------------------------- */

typedef struct cairn_expr cairn_expr;

/* Parses and type-checks `text` against `schema`. `templates` may be NULL
 * when the text has no {name} placeholders. On success *out owns the tree
 * (free with cairn_expr_free); the schema must outlive it. On error *out is
 * NULL and err->message says where (1-based column) and what was expected.
 * An empty or all-blank text is an error (callers treat "no filter" apart). */
cairn_status cairn_expr_parse(const cairn_schema *schema, const char *text,
                              const cairn_expr_templates *templates,
                              cairn_expr **out, cairn_error *err);

/* Evaluates over every row of `batch`, writing (n_rows + 63) / 64 words to
 * `bits`: bit i % 64 of word i / 64 set = row i matches. Bits past n_rows
 * are cleared. Fails only when a column the expression needs is missing or
 * malformed for its type, or on out-of-memory. */
cairn_status cairn_expr_eval(const cairn_expr *expr,
                             const cairn_expr_batch *batch, uint64_t *bits,
                             cairn_error *err);

/* count(*) under the filter: evaluates and counts the matching rows. */
cairn_status cairn_expr_count(const cairn_expr *expr,
                              const cairn_expr_batch *batch, uint64_t *count,
                              cairn_error *err);

/* The distinct field ids the expression reads, so the caller can load only
 * those columns. Writes at most `cap` ids; returns how many there are. */
size_t cairn_expr_fields(const cairn_expr *expr, int64_t *ids, size_t cap);

/* Whether the tree folded to a constant; *value receives it. Lets callers
 * skip evaluation for `true`, `1 < 2` or `false`. */
bool cairn_expr_is_constant(const cairn_expr *expr, bool *value);

/* The text and template values the expression was parsed from (owned by
 * the expression), so it can be sent to another process and parsed there
 * against the same schema. *templates has n == 0 when there were none. */
void cairn_expr_source(const cairn_expr *expr, const char **text,
                       const cairn_expr_templates **templates);

/* Frees the tree. NULL is allowed. */
void cairn_expr_free(cairn_expr *expr);

#endif
