/*
 * mq_wal_fuzz.c — libFuzzer target for the embedded log's recovery scanner
 * (cairn_mq_wal_scan, mq_wal.c): arbitrary bytes as a WAL segment file.
 *
 * The input's first byte picks a mode:
 *   even: the bytes after it are the file as they are (almost never past the
 *         header CRC, but every length / short-read path is reached);
 *   odd:  the harness first "repairs" the file: it sets a valid header CRC
 *         and then, for every frame that fits, writes the correct frame CRC
 *         (for position base + index), stopping at the first frame that does
 *         not fit. The scanner must then report exactly the repaired frames:
 *         header_ok, records == repaired and valid_end == end of the last
 *         repaired frame. A mismatch is a bug (abort), as is any crash.
 * Always: valid_end <= file_size, records == 0 unless header_ok.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crc32c.h"
#include "mq.h"

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Make the header and as many frames as fit valid; returns the frame count
 * (-1 when the header cannot be made valid) and *end. */
static int64_t repair(uint8_t *b, size_t n, uint64_t *end) {
  if (n < 32)
    return -1;
  memcpy(b, "CAIRNWAL", 8);
  put32(b + 8, 1);
  put32(b + 12, 32);
  b[23] &= 0x3f; /* base <= INT64_MAX / 2 */
  put32(b + 24, 0);
  put32(b + 28, cairn_crc32c_update(0, b, 28));
  uint64_t base = 0;
  for (int i = 7; i >= 0; i--)
    base = base << 8 | b[16 + i];
  uint64_t off = 32;
  int64_t k = 0;
  while (n - off >= 8) {
    uint32_t len = le32(b + off);
    if (len > CAIRN_MQ_MAX_MESSAGE || len > n - off - 8)
      break;
    uint8_t trailer[12];
    put32(trailer, len);
    uint64_t pos = base + (uint64_t)k;
    for (int i = 0; i < 8; i++)
      trailer[4 + i] = (uint8_t)(pos >> (8 * i));
    uint32_t crc = cairn_crc32c_update(0, b + off + 8, len);
    put32(b + off + 4, cairn_crc32c_update(crc, trailer, sizeof trailer));
    off += 8 + (uint64_t)len;
    k++;
  }
  *end = off;
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int mode = data[0] & 1;
  size_t n = size - 1;
  uint8_t *b = malloc(n + 1);
  if (b == NULL)
    return 0;
  memcpy(b, data + 1, n);
  uint64_t end = 0;
  int64_t want = mode ? repair(b, n, &end) : -2;
  int fd = memfd_create("wal", MFD_CLOEXEC);
  if (fd < 0 || (n > 0 && write(fd, b, n) != (ssize_t)n)) {
    if (fd >= 0)
      close(fd);
    free(b);
    return 0;
  }
  cairn_mq_wal_scan_result r;
  cairn_error err;
  if (cairn_mq_wal_scan(fd, &r, &err) != CAIRN_OK)
    abort(); /* a memfd does not fail to read */
  close(fd);
  free(b);
  if (r.valid_end > r.file_size || r.file_size != n ||
      (!r.header_ok && r.records != 0) || r.records < 0)
    abort();
  if (want >= 0 && (!r.header_ok || r.records != want || r.valid_end != end))
    abort();
  return 0;
}
