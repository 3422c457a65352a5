/*
 * column.h — the in-memory column store: one growable, typed column per
 * field of a segment (DESIGN §4-§5).
 *
 * A cairn_column holds the rows of one field in exactly the layout the
 * filter engine reads (expr.h, "Column view"), so a column is viewed as a
 * cairn_expr_column with no copy, and a binlog file (binlog.h) stores the
 * same sections byte for byte:
 *   - Bool: one uint8_t 0/1 per row; Int8..Int64, Float, Double: native C
 *     values, contiguous;
 *   - VarChar / JSON: n+1 uint64 byte offsets + the bytes;
 *   - Array: n+1 uint64 element offsets; fixed-width elements contiguous in
 *     `values`, VarChar elements as n_elements+1 uint64 byte offsets
 *     (`elem_offsets`) + bytes;
 *   - FloatVector: dim floats per row; Float16/BFloat16: 2*dim bytes;
 *     BinaryVector: dim/8 bytes; Int8Vector: dim bytes — all contiguous in
 *     `values`;
 *   - SparseFloatVector: n+1 uint64 pair offsets + (uint32 index, float
 *     value) pairs in `values`, strictly increasing indices within a row;
 *   - nullable fields: an Arrow-style validity bitmap (bit i%8 of byte i/8
 *     set = row i holds a value). A null row still has its value slot
 *     (zero bytes, an empty string, an empty array or vector of zeros).
 *
 * Threading — one writer, many readers (the querynode's growing segment):
 * appends are made by one thread at a time (the caller serialises writers).
 * Any number of readers may run at once with the writer: a reader takes a
 * snapshot (cairn_column_snapshot), which loads the published row count
 * FIRST (acquire) and then the buffer pointers, and reads only rows below
 * that count. The writer fills new rows past the published count and then
 * publishes the new count (release), so a reader never sees a half-written
 * row.
 *
 * Growth: each buffer doubles when full. A reader's snapshot may still
 * point at the old buffer, so the old buffer is NOT freed on growth: it is
 * put on the column's retired list (RCU-style deferred free) and freed by
 * cairn_column_free, or by cairn_column_reclaim when the owner knows no
 * snapshot is in use (for instance after the segment is sealed and its
 * readers drained). Rejected alternative: chunked storage with stable chunk
 * addresses — it would break the contiguous layout the filter engine and
 * the binlog writer rely on. Cost: because sizes double, the retired
 * buffers of one column sum to less than its current capacity (at most 2x
 * memory until reclaimed); cairn_column_reserve up front avoids it.
 * XXX the validity bitmap byte that holds the last published row and the
 * next appended rows is updated with an atomic OR while readers may read
 * it with plain loads; the bits a reader may look at never change.
 *
 * Ownership: cairn_column_new returns a column the caller frees with
 * cairn_column_free; snapshots and views point into the column and are
 * valid until it is freed or reclaimed. Append functions copy their input.
 */
#ifndef CAIRN_COLUMN_H
#define CAIRN_COLUMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr/expr.h"
#include "schema.h"
#include "status.h"

/* One (index, value) entry of a sparse vector row; 8 bytes, as on the wire
 * and on disk (little-endian hosts only). */
typedef struct cairn_sparse_pair {
  uint32_t index;
  float value;
} cairn_sparse_pair;

/* The type of a column, copied from its schema field. */
typedef struct cairn_column_type {
  int64_t field_id;
  cairn_data_type type;
  cairn_data_type element_type; /* Array only, else NONE */
  int64_t dim;                  /* dense vectors only, else 0 */
  bool nullable;                /* has a validity bitmap */
} cairn_column_type;

/* A read-only view of n_rows rows of a column: a snapshot of a growing
 * cairn_column or a validated binlog file. `col` is the filter engine's
 * view; sparse vectors use col.offsets (pair indexes) and col.values. */
typedef struct cairn_colview {
  cairn_column_type type;
  size_t n_rows;
  cairn_expr_column col;
} cairn_colview;

typedef struct cairn_column cairn_column;

/* Bytes per value of a fixed-width scalar or array element type, 0 for
 * any other type. */
size_t cairn_type_width(cairn_data_type type);
/* Bytes per row of a dense vector type of dimension dim, 0 for others. */
size_t cairn_vector_row_bytes(cairn_data_type type, int64_t dim);
/* Checks a column type (known type, element type of arrays, dim of
 * vectors: binary a multiple of 8). */
cairn_status cairn_column_type_check(const cairn_column_type *t,
                                     cairn_error *err);
/* The column type of a schema field. */
cairn_column_type cairn_column_type_of(const cairn_field *field);

/* A new empty column for `type`. *out is NULL on error. */
cairn_status cairn_column_new(const cairn_column_type *type,
                              cairn_column **out, cairn_error *err);
/* A new empty column for a schema field (the field may be freed after). */
cairn_status cairn_column_new_field(const cairn_field *field,
                                    cairn_column **out, cairn_error *err);
/* Frees the column, its buffers and its retired buffers. NULL is allowed. */
void cairn_column_free(cairn_column *col);
/* Frees retired buffers. The caller guarantees no snapshot taken before
 * this call is still being read. Writer thread only. */
void cairn_column_reclaim(cairn_column *col);
/* Ensures room for n_rows more rows (and n_bytes more variable bytes,
 * n_elems more array elements / sparse pairs) without growth. */
cairn_status cairn_column_reserve(cairn_column *col, size_t n_rows,
                                  size_t n_bytes, size_t n_elems,
                                  cairn_error *err);

const cairn_column_type *cairn_column_get_type(const cairn_column *col);
/* Published row count (acquire). */
size_t cairn_column_rows(const cairn_column *col);
/* Bytes allocated for this column, retired buffers included. */
size_t cairn_column_memory(const cairn_column *col);
/* Bytes of retired buffers waiting for cairn_column_reclaim. Writer side
 * (read it where an append could not run at the same time). */
size_t cairn_column_retired_bytes(const cairn_column *col);

/* A consistent snapshot: row count first, then the buffers. */
void cairn_column_snapshot(const cairn_column *col, cairn_colview *out);
/* The filter engine's view of a snapshot; *n_rows receives its row count
 * (may be NULL). */
cairn_expr_column cairn_column_view(const cairn_column *col, size_t *n_rows);

/* ---- appends (writer only; on error nothing is published) ------------ */

/* n rows of a fixed-width scalar or dense vector type: `values` holds n
 * values (n * row bytes for vectors). `valid` (may be NULL = all valid)
 * holds one bool per row; only nullable columns accept false. */
cairn_status cairn_column_append_fixed(cairn_column *col, const void *values,
                                       const bool *valid, size_t n,
                                       cairn_error *err);
/* n null rows (nullable columns only) with zeroed value slots. */
cairn_status cairn_column_append_nulls(cairn_column *col, size_t n,
                                       cairn_error *err);
/* n VarChar/JSON rows: row i is ptrs[i][0 .. lens[i]); valid may be NULL. */
cairn_status cairn_column_append_strings(cairn_column *col,
                                         const char *const *ptrs,
                                         const size_t *lens, const bool *valid,
                                         size_t n, cairn_error *err);
/* One Array row of n_elems fixed-width elements (element type's C type). */
cairn_status cairn_column_append_array(cairn_column *col, const void *elems,
                                       size_t n_elems, cairn_error *err);
/* One Array row of n_elems VarChar elements. */
cairn_status cairn_column_append_array_strings(cairn_column *col,
                                               const char *const *ptrs,
                                               const size_t *lens,
                                               size_t n_elems,
                                               cairn_error *err);
/* One sparse row; pairs must be strictly increasing by index (see
 * cairn_sparse_normalize). */
cairn_status cairn_column_append_sparse(cairn_column *col,
                                        const cairn_sparse_pair *pairs,
                                        size_t n_pairs, cairn_error *err);
/* Gather: appends src's rows rows[0..n) in that order (query/search output,
 * compaction). src must have the same type (field id may differ). Each row
 * index must be below src->n_rows. */
cairn_status cairn_column_append_rows(cairn_column *dst,
                                      const cairn_colview *src,
                                      const int64_t *rows, size_t n,
                                      cairn_error *err);

/* Sorts a sparse row by index in place and rejects duplicate indices,
 * index 2^32-1, negative, NaN or infinite values (Milvus's rules). */
cairn_status cairn_sparse_normalize(cairn_sparse_pair *pairs, size_t n,
                                    cairn_error *err);

/* ---- row access on a view -------------------------------------------- */

/* Whether row `row` holds a value. */
static inline bool cairn_colview_valid(const cairn_colview *v, size_t row) {
  return v->col.validity == NULL ||
         (v->col.validity[row >> 3] >> (row & 7) & 1) != 0;
}
/* Dense vector row: row bytes at values + row * row_bytes. */
const void *cairn_colview_vector(const cairn_colview *v, size_t row);
/* Sparse row: its pairs and their count. */
const cairn_sparse_pair *cairn_colview_sparse(const cairn_colview *v,
                                              size_t row, size_t *n_pairs);
/* VarChar/JSON row bytes and length. */
const char *cairn_colview_string(const cairn_colview *v, size_t row,
                                 size_t *len);
/* Dense vector row of a column (reader snapshot semantics: row must be
 * below a row count the caller read before). */
const void *cairn_column_vector(const cairn_column *col, size_t row);

#endif
