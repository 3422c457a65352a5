/*
 * test_column_util.h — helpers shared by the column, binlog and FieldData
 * tests: deterministic columns of every type, and a row-by-row comparison
 * of two column views that prints the first difference.
 */
#ifndef CAIRN_TEST_COLUMN_UTIL_H
#define CAIRN_TEST_COLUMN_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "column.h"

/* Every column type the store supports (dims small, binary a multiple of
 * 8); nullable variants are made by the tests. */
extern const cairn_column_type cu_types[];
extern const size_t cu_n_types;

/* A column of `type` with n rows filled from `seed`; every third row is null
 * when the type is nullable. Fails the test on error. */
cairn_column *cu_make(const cairn_column_type *type, size_t n, unsigned seed);
/* Whether rows a_rows[i] of a and b_rows[i] of b are equal for i < n
 * (NULL row lists mean 0..n-1); prints the first difference. */
bool cu_rows_equal(const cairn_colview *a, const int64_t *a_rows,
                   const cairn_colview *b, const int64_t *b_rows, size_t n);
/* Whole views equal (same type and row count). */
bool cu_views_equal(const cairn_colview *a, const cairn_colview *b);

#endif
