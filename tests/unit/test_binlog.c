/*
 * test_binlog.c — segment files: every column type round-trips column ->
 * file -> view with identical values (buffer and mmap'ed file); delta and
 * stats logs; snapshots of growing columns; corrupt and truncated files
 * (every byte flipped, every truncation length, structural damage with the
 * CRC recomputed) give CAIRN_CORRUPT and never a crash; the dump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "binlog.h"
#include "crc32c.h"
#include "test_column_util.h"

static cairn_status file_sink(void *ctx, const void *data, size_t len,
                              cairn_error *err) {
  if (fwrite(data, 1, len, ctx) != len)
    return cairn_error_set(err, CAIRN_IO, "short write");
  return CAIRN_OK;
}

static void roundtrip(const cairn_column_type *t, size_t rows) {
  cairn_column *col = cu_make(t, rows, (unsigned)(t->type * 31 + rows));
  cairn_colview v, r;
  cairn_column_snapshot(col, &v);
  void *buf = NULL;
  size_t len = 0;
  cairn_error err;
  assert_int_equal(cairn_binlog_encode(&v, &buf, &len, &err), CAIRN_OK);
  cairn_binlog *b = NULL;
  if (cairn_binlog_open_buffer(buf, len, &b, &err) != CAIRN_OK)
    fail_msg("open %s/%s rows %zu: %s", cairn_type_name(t->type),
             cairn_type_name(t->element_type), rows, err.message);
  assert_int_equal(cairn_binlog_view(b, &r, &err), CAIRN_OK);
  assert_int_equal(r.type.field_id, t->field_id);
  assert_int_equal(r.type.nullable, t->nullable);
  assert_true(cu_views_equal(&v, &r));
  if (r.col.values != NULL)
    assert_int_equal((uintptr_t)r.col.values % 64, 0);
  cairn_binlog_close(b);

  /* streamed to a file, then mmap'ed */
  char path[] = "/tmp/cairn_binlog_XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "wb");
  assert_int_equal(cairn_binlog_write(&v, file_sink, f, &err), CAIRN_OK);
  fclose(f);
  assert_int_equal(cairn_binlog_open_file(path, &b, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_get_info(b)->file_size, len);
  assert_int_equal(cairn_binlog_view(b, &r, &err), CAIRN_OK);
  assert_true(cu_views_equal(&v, &r));
  cairn_binlog_close(b);
  unlink(path);
  free(buf);
  cairn_column_free(col);
}

static void test_roundtrip_every_type(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 8, 37};
  for (size_t i = 0; i < cu_n_types; i++)
    for (int nullable = 0; nullable < 2; nullable++)
      for (size_t s = 0; s < 4; s++) {
        cairn_column_type t = cu_types[i];
        t.nullable = nullable;
        t.field_id = 100 + (int64_t)i;
        roundtrip(&t, sizes[s]);
      }
}

/* A snapshot of a growing nullable column written while more rows exist:
 * validity bits past the snapshot are masked off. */
static void test_snapshot_masking(void **state) {
  (void)state;
  cairn_column_type t = {.type = CAIRN_TYPE_INT16, .nullable = true};
  cairn_column *col = NULL;
  cairn_error err;
  assert_int_equal(cairn_column_new(&t, &col, &err), CAIRN_OK);
  int16_t v[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  assert_int_equal(cairn_column_append_fixed(col, v, NULL, 5, &err), CAIRN_OK);
  cairn_colview snap;
  cairn_column_snapshot(col, &snap);
  assert_int_equal(cairn_column_append_fixed(col, v + 5, NULL, 7, &err), CAIRN_OK);
  void *buf;
  size_t len;
  assert_int_equal(cairn_binlog_encode(&snap, &buf, &len, &err), CAIRN_OK);
  cairn_binlog *b;
  assert_int_equal(cairn_binlog_open_buffer(buf, len, &b, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_get_info(b)->n_rows, 5);
  cairn_binlog_close(b);
  free(buf);
  cairn_column_free(col);
}

static void test_delta_roundtrip(void **state) {
  (void)state;
  cairn_error err;
  int64_t pks[3] = {7, -2, 7};
  uint64_t ts[3] = {100, 200, 300};
  cairn_delta d = {.pk_type = CAIRN_TYPE_INT64, .n = 3, .int_pks = pks, .ts = ts};
  void *buf;
  size_t len;
  assert_int_equal(cairn_deltalog_encode(&d, &buf, &len, &err), CAIRN_OK);
  cairn_binlog *b;
  assert_int_equal(cairn_binlog_open_buffer(buf, len, &b, &err), CAIRN_OK);
  cairn_delta r;
  assert_int_equal(cairn_binlog_delta(b, &r, &err), CAIRN_OK);
  assert_int_equal(r.n, 3);
  assert_int_equal(r.int_pks[1], -2);
  assert_int_equal(r.ts[2], 300);
  cairn_colview cv;
  assert_int_equal(cairn_binlog_view(b, &cv, &err), CAIRN_INVALID_ARGUMENT);
  cairn_binlog_close(b);
  free(buf);

  uint64_t offs[3] = {0, 3, 3};
  cairn_delta ds = {.pk_type = CAIRN_TYPE_VARCHAR, .n = 2, .str_offsets = offs,
                    .str_data = "abc", .ts = ts};
  assert_int_equal(cairn_deltalog_encode(&ds, &buf, &len, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_open_buffer(buf, len, &b, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_delta(b, &r, &err), CAIRN_OK);
  assert_int_equal(r.pk_type, CAIRN_TYPE_VARCHAR);
  assert_int_equal(r.str_offsets[1], 3);
  assert_memory_equal(r.str_data, "abc", 3);
  assert_int_equal(r.ts[1], 200);
  cairn_binlog_close(b);
  free(buf);

  cairn_delta bad = {.pk_type = CAIRN_TYPE_FLOAT};
  assert_int_equal(cairn_deltalog_encode(&bad, &buf, &len, &err),
                   CAIRN_INVALID_ARGUMENT);
}

static void test_stats_bloom(void **state) {
  (void)state;
  enum { N = 20000 };
  cairn_column_type t = {.type = CAIRN_TYPE_INT64};
  cairn_column *col = NULL;
  cairn_error err;
  assert_int_equal(cairn_column_new(&t, &col, &err), CAIRN_OK);
  for (int64_t i = 0; i < N; i++) {
    int64_t v = i * 2 + 1000; /* odd keys absent */
    assert_int_equal(cairn_column_append_fixed(col, &v, NULL, 1, &err), CAIRN_OK);
  }
  cairn_colview v;
  cairn_column_snapshot(col, &v);
  void *buf;
  size_t len;
  assert_int_equal(cairn_statslog_encode(&v, &buf, &len, &err), CAIRN_OK);
  cairn_binlog *b;
  assert_int_equal(cairn_binlog_open_buffer(buf, len, &b, &err), CAIRN_OK);
  cairn_pk_stats s;
  assert_int_equal(cairn_binlog_stats(b, &s, &err), CAIRN_OK);
  assert_int_equal(s.min_int, 1000);
  assert_int_equal(s.max_int, 1000 + 2 * (N - 1));
  int fp = 0;
  for (int64_t i = 0; i < N; i++) {
    assert_true(cairn_pk_stats_may_contain_int(&s, i * 2 + 1000));
    fp += cairn_pk_stats_may_contain_int(&s, i * 2 + 1001);
  }
  printf("# bloom false positives: %.2f%% (%zu bytes for %d keys)\n",
         100.0 * fp / N, s.bloom.n_blocks * 32, N);
  assert_true(fp < N * 3 / 100);
  assert_false(cairn_pk_stats_may_contain_int(&s, 999));
  assert_false(cairn_pk_stats_may_contain_str(&s, "x", 1));
  cairn_binlog_close(b);
  free(buf);
  cairn_column_free(col);

  /* VarChar keys, and an empty stats file */
  cairn_column_type vt = {.type = CAIRN_TYPE_VARCHAR};
  assert_int_equal(cairn_column_new(&vt, &col, &err), CAIRN_OK);
  const char *keys[3] = {"m", "b", "zz"};
  size_t lens[3] = {1, 1, 2};
  cairn_column_snapshot(col, &v);
  assert_int_equal(cairn_statslog_encode(&v, &buf, &len, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_open_buffer(buf, len, &b, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_stats(b, &s, &err), CAIRN_OK);
  assert_false(s.has_range);
  assert_false(cairn_pk_stats_may_contain_str(&s, "m", 1));
  cairn_binlog_close(b);
  free(buf);
  assert_int_equal(cairn_column_append_strings(col, keys, lens, NULL, 3, &err),
                   CAIRN_OK);
  cairn_column_snapshot(col, &v);
  assert_int_equal(cairn_statslog_encode(&v, &buf, &len, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_open_buffer(buf, len, &b, &err), CAIRN_OK);
  assert_int_equal(cairn_binlog_stats(b, &s, &err), CAIRN_OK);
  assert_int_equal(s.min_len, 1);
  assert_memory_equal(s.min_str, "b", 1);
  assert_memory_equal(s.max_str, "zz", 2);
  assert_true(cairn_pk_stats_may_contain_str(&s, "m", 1));
  assert_false(cairn_pk_stats_may_contain_str(&s, "a", 1));
  assert_false(cairn_pk_stats_may_contain_int(&s, 1));
  cairn_binlog_close(b);
  free(buf);
  cairn_column_free(col);
}

/* ---- corruption ------------------------------------------------------------ */

/* Small files of every kind, for the damage tests. */
static size_t make_samples(void **bufs, size_t *lens) {
  size_t n = 0;
  cairn_error err;
  static const cairn_column_type types[] = {
      {.type = CAIRN_TYPE_INT32, .nullable = true},
      {.type = CAIRN_TYPE_BOOL},
      {.type = CAIRN_TYPE_VARCHAR},
      {.type = CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_VARCHAR, .nullable = true},
      {.type = CAIRN_TYPE_ARRAY, .element_type = CAIRN_TYPE_BOOL},
      {.type = CAIRN_TYPE_SPARSE_FLOAT_VECTOR},
      {.type = CAIRN_TYPE_BINARY_VECTOR, .dim = 8},
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    cairn_column *c = cu_make(&types[i], 6, 5);
    cairn_colview v;
    cairn_column_snapshot(c, &v);
    assert_int_equal(cairn_binlog_encode(&v, &bufs[n], &lens[n], &err), CAIRN_OK);
    n++;
    if (types[i].type == CAIRN_TYPE_VARCHAR) {
      assert_int_equal(cairn_statslog_encode(&v, &bufs[n], &lens[n], &err), CAIRN_OK);
      n++;
    }
    cairn_column_free(c);
  }
  int64_t pks[2] = {1, 2};
  uint64_t ts[2] = {5, 6}, offs[3] = {0, 1, 3};
  cairn_delta d = {.pk_type = CAIRN_TYPE_INT64, .n = 2, .int_pks = pks, .ts = ts};
  assert_int_equal(cairn_deltalog_encode(&d, &bufs[n], &lens[n], &err), CAIRN_OK);
  n++;
  cairn_delta ds = {.pk_type = CAIRN_TYPE_VARCHAR, .n = 2, .str_offsets = offs,
                    .str_data = "abc", .ts = ts};
  assert_int_equal(cairn_deltalog_encode(&ds, &bufs[n], &lens[n], &err), CAIRN_OK);
  n++;
  return n;
}

/* Reads every byte a valid reader exposes (ASan catches strays). */
static void touch_all(const cairn_binlog *b) {
  cairn_colview v;
  cairn_delta d;
  cairn_pk_stats s;
  volatile uint64_t sum = 0;
  if (cairn_binlog_view(b, &v, NULL) == CAIRN_OK) {
    size_t rb = cairn_vector_row_bytes(v.type.type, v.type.dim);
    for (size_t r = 0; r < v.n_rows; r++) {
      sum += cairn_colview_valid(&v, r);
      if (v.col.offsets) {
        for (uint64_t e = v.col.offsets[r]; e < v.col.offsets[r + 1]; e++) {
          if (v.col.elem_offsets)
            sum += (uint64_t)v.col.data[v.col.elem_offsets[e + 1] - 1 + 0 * e] +
                   v.col.elem_offsets[e];
          else if (v.col.data)
            sum += (uint8_t)v.col.data[e];
          else
            sum += ((const cairn_sparse_pair *)v.col.values)[e].index;
        }
      } else if (rb) {
        sum += ((const uint8_t *)cairn_colview_vector(&v, r))[rb - 1];
      }
    }
  } else if (cairn_binlog_delta(b, &d, NULL) == CAIRN_OK) {
    for (size_t r = 0; r < d.n; r++)
      sum += d.ts[r] + (d.int_pks ? (uint64_t)d.int_pks[r] : d.str_offsets[r + 1]);
  } else if (cairn_binlog_stats(b, &s, NULL) == CAIRN_OK) {
    sum += cairn_pk_stats_may_contain_int(&s, 3) +
           cairn_pk_stats_may_contain_str(&s, "abc", 3);
  }
  (void)sum;
}

static void test_every_flip_and_truncation(void **state) {
  (void)state;
  void *bufs[16];
  size_t lens[16];
  size_t n = make_samples(bufs, lens);
  cairn_error err;
  for (size_t f = 0; f < n; f++) {
    uint8_t *copy = malloc(lens[f]);
    for (size_t i = 0; i < lens[f]; i++) {
      memcpy(copy, bufs[f], lens[f]);
      copy[i] ^= 0xff;
      cairn_binlog *b = NULL;
      cairn_status st = cairn_binlog_open_buffer(copy, lens[f], &b, &err);
      if (st != CAIRN_CORRUPT)
        fail_msg("file %zu: flipping byte %zu gave %s", f, i, cairn_status_name(st));
      assert_null(b);
    }
    for (size_t cut = 0; cut < lens[f]; cut++) {
      cairn_binlog *b = NULL;
      assert_int_equal(cairn_binlog_open_buffer(bufs[f], cut, &b, &err), CAIRN_CORRUPT);
      assert_true(strlen(err.message) > 0);
    }
    free(copy);
  }
  for (size_t f = 0; f < n; f++)
    free(bufs[f]);
}

static void fix_crc(uint8_t *p, size_t len) {
  uint32_t crc = cairn_crc32c_update(0, p, len - 4);
  memcpy(p + len - 4, &crc, 4);
}

/* Damage that keeps a correct CRC: every byte flipped and every byte set to
 * a few values must give CORRUPT or a file whose views stay in bounds. */
static void test_damage_with_valid_crc(void **state) {
  (void)state;
  void *bufs[16];
  size_t lens[16];
  size_t n = make_samples(bufs, lens);
  static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x07, 0x40, 0x80, 0xff};
  size_t accepted = 0, rejected = 0;
  for (size_t f = 0; f < n; f++) {
    uint8_t *copy = aligned_alloc(64, (lens[f] + 63) / 64 * 64);
    for (size_t i = 0; i + 4 < lens[f]; i++)
      for (size_t k = 0; k < sizeof vals; k++) {
        memcpy(copy, bufs[f], lens[f]);
        if (copy[i] == vals[k])
          continue;
        copy[i] = vals[k];
        fix_crc(copy, lens[f]);
        cairn_binlog *b = NULL;
        cairn_error err;
        cairn_status st = cairn_binlog_open_buffer(copy, lens[f], &b, &err);
        if (st == CAIRN_OK) {
          touch_all(b);
          cairn_binlog_close(b);
          accepted++;
        } else {
          assert_int_equal(st, CAIRN_CORRUPT);
          rejected++;
        }
      }
    free(copy);
  }
  printf("# damaged files with fixed CRC: %zu rejected, %zu accepted (value "
         "bytes)\n", rejected, accepted);
  assert_true(rejected > accepted);
  for (size_t f = 0; f < n; f++)
    free(bufs[f]);
}

/* Specific structural damage, each with its message. */
static void test_structural_errors(void **state) {
  (void)state;
  cairn_error err;
  cairn_column_type t = {.type = CAIRN_TYPE_VARCHAR};
  cairn_column *c = cu_make(&t, 4, 9);
  cairn_colview v;
  cairn_column_snapshot(c, &v);
  void *buf;
  size_t len;
  assert_int_equal(cairn_binlog_encode(&v, &buf, &len, &err), CAIRN_OK);
  uint8_t *p = buf;
  /* offsets section is first, at 64: make entry 2 smaller than entry 1 */
  uint64_t o1;
  memcpy(&o1, p + 64 + 8, 8);
  uint64_t bad = o1 + 1;
  memcpy(p + 64 + 16, &o1, 8);
  memcpy(p + 64 + 8, &bad, 8);
  fix_crc(p, len);
  cairn_binlog *b = NULL;
  assert_int_equal(cairn_binlog_open_buffer(p, len, &b, &err), CAIRN_CORRUPT);
  assert_non_null(strstr(err.message, "decrease"));
  free(buf);

  /* a row count that does not match the sections */
  assert_int_equal(cairn_binlog_encode(&v, &buf, &len, &err), CAIRN_OK);
  p = buf;
  p[32] = 3;
  fix_crc(p, len);
  assert_int_equal(cairn_binlog_open_buffer(p, len, &b, &err), CAIRN_CORRUPT);
  assert_non_null(strstr(err.message, "offsets"));
  /* version */
  p[32] = 4;
  p[8] = 2;
  fix_crc(p, len);
  assert_int_equal(cairn_binlog_open_buffer(p, len, &b, &err), CAIRN_CORRUPT);
  assert_non_null(strstr(err.message, "version"));
  free(buf);
  cairn_column_free(c);

  /* Bool values other than 0/1 */
  cairn_column_type bt = {.type = CAIRN_TYPE_BOOL};
  c = cu_make(&bt, 3, 1);
  cairn_column_snapshot(c, &v);
  assert_int_equal(cairn_binlog_encode(&v, &buf, &len, &err), CAIRN_OK);
  p = buf;
  p[65] = 9;
  fix_crc(p, len);
  assert_int_equal(cairn_binlog_open_buffer(p, len, &b, &err), CAIRN_CORRUPT);
  assert_non_null(strstr(err.message, "Bool"));
  free(buf);
  cairn_column_free(c);

  /* misaligned buffers are copied, not rejected */
  c = cu_make(&t, 4, 9);
  cairn_column_snapshot(c, &v);
  assert_int_equal(cairn_binlog_encode(&v, &buf, &len, &err), CAIRN_OK);
  uint8_t *odd = malloc(len + 1);
  memcpy(odd + 1, buf, len);
  assert_int_equal(cairn_binlog_open_buffer(odd + 1, len, &b, &err), CAIRN_OK);
  cairn_colview r;
  assert_int_equal(cairn_binlog_view(b, &r, &err), CAIRN_OK);
  assert_true(cu_views_equal(&v, &r));
  cairn_binlog_close(b);
  free(odd);
  free(buf);
  cairn_column_free(c);

  assert_int_equal(cairn_binlog_open_file("/nonexistent/x", &b, &err),
                   CAIRN_IO_NOT_FOUND);
}

static void test_dump(void **state) {
  (void)state;
  cairn_column_type t = {.field_id = 104, .type = CAIRN_TYPE_FLOAT_VECTOR, .dim = 4};
  cairn_column *c = cu_make(&t, 9, 3);
  cairn_colview v;
  cairn_column_snapshot(c, &v);
  void *buf;
  size_t len;
  cairn_error err;
  assert_int_equal(cairn_binlog_encode(&v, &buf, &len, &err), CAIRN_OK);
  char path[] = "/tmp/cairn_dump_XXXXXX";
  int fd = mkstemp(path);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  close(fd);
  char *text = NULL;
  size_t tlen = 0;
  FILE *out = open_memstream(&text, &tlen);
  assert_int_equal(cairn_binlog_dump(path, out), CAIRN_OK);
  ((uint8_t *)buf)[70] ^= 1;
  assert_int_equal(cairn_binlog_dump_buffer(buf, len, "damaged", out), CAIRN_CORRUPT);
  assert_int_equal(cairn_binlog_dump("/nonexistent", out), CAIRN_IO);
  fclose(out);
  assert_non_null(strstr(text, "FloatVector"));
  assert_non_null(strstr(text, "section values"));
  assert_non_null(strstr(text, "row 0: ["));
  assert_non_null(strstr(text, "INVALID: binlog checksum mismatch"));
  free(text);
  unlink(path);
  free(buf);
  cairn_column_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_every_type),
      cmocka_unit_test(test_snapshot_masking),
      cmocka_unit_test(test_delta_roundtrip),
      cmocka_unit_test(test_stats_bloom),
      cmocka_unit_test(test_every_flip_and_truncation),
      cmocka_unit_test(test_damage_with_valid_crc),
      cmocka_unit_test(test_structural_errors),
      cmocka_unit_test(test_dump),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
