/*
 * binlog_fuzz.c — libFuzzer target for the segment file readers
 * (core/binlog.c): insert logs, delta logs and stats logs.
 *
 * The first byte is a mode: bit 0 set = recompute the CRC-32C over the rest
 * before opening, so the fuzzer gets past the checksum and exercises the
 * structural validation (sections, offsets, counts). The rest is the file.
 * When a file is accepted every byte its views expose is read, so a reader
 * that accepts an out-of-bounds layout shows up as an ASan report; the file
 * is also re-encoded from its view and must open again (insert logs). Invariant: no crash, no sanitizer report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "crc32c.h"

static volatile uint64_t sink;

static void touch_view(const cairn_colview *v) {
  size_t rb = cairn_vector_row_bytes(v->type.type, v->type.dim);
  size_t w = cairn_type_width(v->type.type);
  for (size_t r = 0; r < v->n_rows; r++) {
    sink += cairn_colview_valid(v, r);
    if (w != 0) {
      sink += ((const uint8_t *)v->col.values)[r * w + w - 1];
    } else if (rb != 0) {
      sink += ((const uint8_t *)cairn_colview_vector(v, r))[rb - 1];
    } else {
      for (uint64_t e = v->col.offsets[r]; e < v->col.offsets[r + 1]; e++) {
        if (v->col.elem_offsets != NULL) {
          uint64_t a = v->col.elem_offsets[e], b = v->col.elem_offsets[e + 1];
          if (b > a)
            sink += (uint8_t)v->col.data[b - 1];
        } else if (v->col.data != NULL) {
          sink += (uint8_t)v->col.data[e];
        } else {
          size_t ew = v->type.type == CAIRN_TYPE_ARRAY
                          ? cairn_type_width(v->type.element_type) : 8;
          sink += ((const uint8_t *)v->col.values)[e * ew + ew - 1];
        }
      }
    }
  }
}

/* Re-encodes an accepted insert log; the result must open again. */
static void reencode(const cairn_colview *v) {
  void *buf = NULL;
  size_t n = 0;
  if (cairn_binlog_encode(v, &buf, &n, NULL) != CAIRN_OK)
    abort();
  cairn_binlog *b = NULL;
  if (cairn_binlog_open_buffer(buf, n, &b, NULL) != CAIRN_OK)
    abort();
  cairn_binlog_close(b);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  size_t len = size - 1;
  uint8_t *buf = aligned_alloc(64, (len + 64) / 64 * 64);
  if (buf == NULL)
    return 0;
  memcpy(buf, data + 1, len);
  if ((mode & 1) && len >= 4) {
    uint32_t crc = cairn_crc32c_update(0, buf, len - 4);
    memcpy(buf + len - 4, &crc, 4);
  }
  cairn_binlog *b = NULL;
  cairn_error err;
  if (cairn_binlog_open_buffer(buf, len, &b, &err) == CAIRN_OK) {
    cairn_colview v;
    cairn_delta d;
    cairn_pk_stats s;
    if (cairn_binlog_view(b, &v, NULL) == CAIRN_OK) {
      touch_view(&v);
      reencode(&v);
    } else if (cairn_binlog_delta(b, &d, NULL) == CAIRN_OK) {
      for (size_t i = 0; i < d.n; i++) {
        sink += d.ts[i];
        if (d.int_pks != NULL)
          sink += (uint64_t)d.int_pks[i];
        else if (d.str_offsets[i + 1] > d.str_offsets[i])
          sink += (uint8_t)d.str_data[d.str_offsets[i + 1] - 1];
      }
    } else if (cairn_binlog_stats(b, &s, NULL) == CAIRN_OK) {
      sink += cairn_pk_stats_may_contain_int(&s, (int64_t)len) +
              cairn_pk_stats_may_contain_str(&s, (const char *)buf, len > 8 ? 8 : len);
    }
    cairn_binlog_close(b);
  }
  free(buf);
  return 0;
}
