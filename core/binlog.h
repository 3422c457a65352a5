/*
 * binlog.h — segment files (DESIGN §5): the columnar insert log (one file
 * per field per segment), the delta log (deleted primary keys with their
 * timestamps) and the stats log (primary key min/max and bloom filter).
 *
 * All three share one container, specified byte for byte at the top of
 * binlog.c: a 64-byte header, 64-byte aligned sections, a section table and
 * a footer with a CRC-32C over the whole file. Sections hold exactly the
 * buffers of a cairn_column (column.h), so a reader maps the file and
 * points a cairn_expr_column straight into it.
 *
 * Readers validate everything (sizes, offsets, counts, the CRC) before
 * exposing a view: a bad or truncated file gives CAIRN_CORRUPT with a
 * message, never a crash or an out-of-bounds read.
 *
 * Ownership: encoders return malloc'd buffers (64-byte aligned; free()).
 * A cairn_binlog opened on a caller's buffer borrows it (the buffer must
 * outlive the reader) unless it is misaligned, in which case it is copied;
 * one opened on a file maps it and unmaps it on close. Views point into the
 * reader and live until cairn_binlog_close. Threading: a reader is
 * immutable after open; any number of threads may read its views.
 */
#ifndef CAIRN_BINLOG_H
#define CAIRN_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "column.h"
#include "status.h"

typedef enum cairn_binlog_kind {
  CAIRN_BINLOG_INSERT = 1, /* one column of a segment */
  CAIRN_BINLOG_DELTA = 2,  /* deleted primary keys + timestamps */
  CAIRN_BINLOG_STATS = 3,  /* primary key min/max + bloom filter */
} cairn_binlog_kind;

/* Where an encoder streams its bytes (an object store writer, a file).
 * Adapter for objstore.h: a function calling cairn_obj_writer_append(ctx,
 * data, len, err). */
typedef cairn_status (*cairn_binlog_sink)(void *ctx, const void *data,
                                          size_t len, cairn_error *err);

/* ---- pk hashing and the blocked bloom filter -------------------------- */

/* Split-block bloom filter (the Parquet design): 256-bit blocks of eight
 * 32-bit words; a key sets one bit in each word of one block, chosen by a
 * 64-bit xxHash (XXH3) of the key. ~10 bits per key, ~1% false positives. */
typedef struct cairn_bloom {
  uint32_t *words;  /* n_blocks * 8 words */
  size_t n_blocks;
  bool owned;       /* words malloc'd by cairn_bloom_init */
} cairn_bloom;

uint64_t cairn_pk_hash_int(int64_t pk);
uint64_t cairn_pk_hash_str(const char *pk, size_t len);
/* A zeroed filter sized for n_keys. Free with cairn_bloom_destroy. */
cairn_status cairn_bloom_init(cairn_bloom *b, size_t n_keys, cairn_error *err);
void cairn_bloom_destroy(cairn_bloom *b);
void cairn_bloom_add(cairn_bloom *b, uint64_t hash);
/* false: the key is certainly absent; true: probably present. */
bool cairn_bloom_check(const cairn_bloom *b, uint64_t hash);

/* ---- delta and stats contents ------------------------------------------ */

/* Deleted primary keys with their delete timestamps. */
typedef struct cairn_delta {
  cairn_data_type pk_type;    /* INT64 or VARCHAR */
  size_t n;
  const int64_t *int_pks;     /* INT64: n keys */
  const uint64_t *str_offsets;/* VARCHAR: n+1 byte offsets into str_data */
  const char *str_data;
  const uint64_t *ts;         /* n timestamps */
} cairn_delta;

typedef struct cairn_pk_stats {
  cairn_data_type pk_type; /* INT64 or VARCHAR */
  uint64_t n_rows;
  bool has_range;          /* false when n_rows == 0 */
  int64_t min_int, max_int;
  const char *min_str, *max_str;
  size_t min_len, max_len;
  cairn_bloom bloom;       /* points into the file: do not destroy */
} cairn_pk_stats;

bool cairn_pk_stats_may_contain_int(const cairn_pk_stats *s, int64_t pk);
bool cairn_pk_stats_may_contain_str(const cairn_pk_stats *s, const char *pk,
                                    size_t len);

/* ---- writers ----------------------------------------------------------- */

/* Streams the insert log of a column view (a snapshot or another file). */
cairn_status cairn_binlog_write(const cairn_colview *v, cairn_binlog_sink sink,
                                void *ctx, cairn_error *err);
/* The insert log in one malloc'd buffer. */
cairn_status cairn_binlog_encode(const cairn_colview *v, void **out,
                                 size_t *len, cairn_error *err);
cairn_status cairn_deltalog_encode(const cairn_delta *d, void **out,
                                   size_t *len, cairn_error *err);
/* Stats of a primary key column view (Int64 or VarChar, no nulls). */
cairn_status cairn_statslog_encode(const cairn_colview *pk, void **out,
                                   size_t *len, cairn_error *err);

/* ---- readers ----------------------------------------------------------- */

typedef struct cairn_binlog_info {
  cairn_binlog_kind kind;
  uint32_t version;
  cairn_column_type type; /* INSERT: the column; others: pk type only */
  uint64_t n_rows;
  uint32_t flags;
  size_t file_size;
} cairn_binlog_info;

typedef struct cairn_binlog cairn_binlog;

/* Validates buf[0..len) and opens it (borrowing buf when 8-byte aligned). */
cairn_status cairn_binlog_open_buffer(const void *buf, size_t len,
                                      cairn_binlog **out, cairn_error *err);
/* Maps and validates a file. */
cairn_status cairn_binlog_open_file(const char *path, cairn_binlog **out,
                                    cairn_error *err);
void cairn_binlog_close(cairn_binlog *b);
const cairn_binlog_info *cairn_binlog_get_info(const cairn_binlog *b);
/* The column of an insert log (else CAIRN_INVALID_ARGUMENT). */
cairn_status cairn_binlog_view(const cairn_binlog *b, cairn_colview *out,
                               cairn_error *err);
/* The contents of a delta log. */
cairn_status cairn_binlog_delta(const cairn_binlog *b, cairn_delta *out,
                                cairn_error *err);
/* The contents of a stats log. */
cairn_status cairn_binlog_stats(const cairn_binlog *b, cairn_pk_stats *out,
                                cairn_error *err);

/* Prints any of the three files: header, section table, validation result
 * and the first rows (for `cairn inspect FILE`). Returns the validation
 * status (CAIRN_CORRUPT for a bad file, CAIRN_IO if it cannot be read). */
cairn_status cairn_binlog_dump(const char *path, FILE *out);
/* The same for bytes in memory; `name` labels the output. */
cairn_status cairn_binlog_dump_buffer(const void *buf, size_t len,
                                      const char *name, FILE *out);

#endif
