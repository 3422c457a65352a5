/*
 * test_mq.c — the embedded log (mq_wal.c): the conformance suite through a
 * factory over temporary directories, twice (4 KiB segments, so every test
 * crosses many segment files, and the default 64 MiB), plus what only this
 * backend promises:
 *   - backend selection errors, the directory lock;
 *   - CRC32C: known vectors, hardware path == table path;
 *   - segment files: names, roll-over, truncate drops whole files below the
 *     position and persists FIRST;
 *   - recovery from damage made by hand: a torn tail (cut mid-frame, partial
 *     frame header, garbage appended), a flipped byte in the last segment, a
 *     bad header of the last segment, a flipped byte in an older segment
 *     (reported CAIRN_CORRUPT to the reader), stale temp files;
 *   - the scanner API.
 * The crash test (SIGKILL) is test_mq_crash.c; throughput is test_mq_perf.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "mq.h"
#include "test_mq_conformance.h"

static char base_dir[256];
static char cur_dir[300];
static int dir_seq;

#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);      \
  } while (0)
#define E (&e_)

typedef struct wal_factory_ctx {
  uint64_t segment_bytes;
} wal_factory_ctx;

static cairn_status factory_open(void *ctx, bool fresh, cairn_mq **out,
                                 cairn_error *err) {
  wal_factory_ctx *c = ctx;
  if (fresh)
    snprintf(cur_dir, sizeof cur_dir, "%s/log%d", base_dir, dir_seq++);
  cairn_mq_wal_options o = {.segment_bytes = c->segment_bytes};
  return cairn_mq_wal_open(cur_dir, &o, out, err);
}

/* A fresh directory for one test. */
static const char *new_dir(void) {
  snprintf(cur_dir, sizeof cur_dir, "%s/log%d", base_dir, dir_seq++);
  return cur_dir;
}

static cairn_mq *open_small(const char *dir) {
  cairn_mq_wal_options o = {.segment_bytes = 4096};
  cairn_mq *mq = NULL;
  OK(cairn_mq_wal_open(dir, &o, &mq, E));
  return mq;
}

/* Message i of a test channel: 100..399 bytes derived from i. */
static size_t msg(int i, uint8_t *buf) {
  size_t len = 100 + (size_t)(i * 37 % 300);
  for (size_t k = 0; k < len; k++)
    buf[k] = (uint8_t)(i + (int)k * 3);
  return len;
}

static void produce_msgs(cairn_mq *mq, const char *ch, int from, int n) {
  uint8_t buf[512];
  for (int i = from; i < from + n; i++) {
    int64_t pos;
    OK(cairn_mq_produce(mq, ch, buf, msg(i, buf), &pos, E));
    assert_int_equal(pos, i);
  }
}

/* Consume [from, to) and check; then expect the end (NOT_READY). */
static void expect_msgs(cairn_mq *mq, const char *ch, int from, int to) {
  cairn_mq_consumer *c;
  OK(cairn_mq_consumer_open(mq, ch, from, &c, E));
  uint8_t buf[512];
  for (int i = from; i < to; i++) {
    cairn_mq_message m;
    OK(cairn_mq_consumer_next(c, 100, &m, E));
    assert_int_equal(m.position, i);
    size_t len = msg(i, buf);
    assert_int_equal(m.len, len);
    assert_memory_equal(m.payload, buf, len);
  }
  cairn_mq_message m;
  cairn_error err;
  assert_int_equal(cairn_mq_consumer_next(c, 0, &m, &err), CAIRN_NOT_READY);
  cairn_mq_consumer_close(c);
}

static void bounds(cairn_mq *mq, const char *ch, int64_t *first, int64_t *next) {
  OK(cairn_mq_bounds(mq, ch, first, next, E));
}

/* Sorted segment bases of channel ch in dir; returns how many. */
static int segments(const char *dir, const char *ch, int64_t *bases, int max) {
  char path[512];
  snprintf(path, sizeof path, "%s/ch_%s", dir, ch);
  DIR *d = opendir(path);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l == 24 && strcmp(e->d_name + 20, ".wal") == 0 && n < max)
      bases[n++] = strtoll(e->d_name, NULL, 10);
  }
  closedir(d);
  for (int i = 1; i < n; i++) /* insertion sort */
    for (int j = i; j > 0 && bases[j - 1] > bases[j]; j--) {
      int64_t t = bases[j];
      bases[j] = bases[j - 1];
      bases[j - 1] = t;
    }
  return n;
}

static void seg_file(char *buf, size_t n, const char *dir, const char *ch,
                     int64_t base) {
  snprintf(buf, n, "%s/ch_%s/%020lld.wal", dir, ch, (long long)base);
}

static off_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_size;
}

static void flip_byte(const char *path, off_t off) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t b;
  assert_int_equal(pread(fd, &b, 1, off), 1);
  b ^= 0x5a;
  assert_int_equal(pwrite(fd, &b, 1, off), 1);
  close(fd);
}

static void append_bytes(const char *path, const void *data, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, n), (ssize_t)n);
  close(fd);
}

/* Byte offset of the frame of record k (0-based) in a segment file. */
static off_t frame_offset(const char *path, int k) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  off_t off = 32;
  for (int i = 0; i < k; i++) {
    uint8_t h[4];
    assert_int_equal(pread(fd, h, 4, off), 4);
    off += 8 + (off_t)(h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24);
  }
  close(fd);
  return off;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_open_errors(void **state) {
  (void)state;
  cairn_mq *mq = (cairn_mq *)1;
  cairn_error err;
  assert_int_equal(cairn_mq_open("x", "/tmp/x", &mq, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_null(mq);
  assert_string_equal(err.message, "unknown log backend 'x' (known: embedded, kafka)");
  assert_int_equal(cairn_mq_open(NULL, "/tmp/x", &mq, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_mq_open("embedded", "", &mq, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_mq_open("embedded", "/proc/cairn-cannot", &mq, &err),
                   CAIRN_IO);
  assert_null(mq);
  cairn_mq_wal_options tiny = {.segment_bytes = 100};
  assert_int_equal(cairn_mq_wal_open(new_dir(), &tiny, &mq, &err),
                   CAIRN_INVALID_ARGUMENT);
  const char *dir = new_dir();
  cairn_mq *a = NULL, *b = NULL;
  OK(cairn_mq_open("embedded", dir, &a, E));
  assert_int_equal(cairn_mq_open("embedded", dir, &b, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, "in use"));
  cairn_mq_close(a);
  OK(cairn_mq_open("embedded", dir, &b, E));
  cairn_mq_close(b);
  cairn_mq_close(NULL);
}

static void test_crc32c(void **state) {
  (void)state;
  assert_int_equal(cairn_crc32c_update(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(cairn_crc32c_update_sw(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(cairn_crc32c_update(0, "", 0), 0);
  /* 32 zero bytes: the iSCSI test vector (RFC 3720 B.4) */
  uint8_t z[32] = {0};
  assert_int_equal(cairn_crc32c_update(0, z, 32), 0x8A9136AAu);
  uint8_t buf[1000];
  for (int i = 0; i < 1000; i++)
    buf[i] = (uint8_t)(i * 7 + 3);
  for (size_t len = 0; len < 1000; len += 37)
    for (size_t off = 0; off < 9; off++) {
      uint32_t hw = cairn_crc32c_update(0, buf + off, len - (len > off ? off : len));
      uint32_t sw = cairn_crc32c_update_sw(0, buf + off, len - (len > off ? off : len));
      assert_int_equal(hw, sw);
    }
  /* chaining */
  assert_int_equal(cairn_crc32c_update(cairn_crc32c_update(0, buf, 300),
                                       buf + 300, 700),
                   cairn_crc32c_update(0, buf, 1000));
  printf("crc32c: %s path\n", cairn_crc32c_hw() ? "SSE4.2" : "table");
}

static void test_segments_and_truncate(void **state) {
  (void)state;
  const char *dir = new_dir();
  cairn_mq *mq = open_small(dir);
  produce_msgs(mq, "s", 0, 120); /* ~30 KB over 4 KiB segments */
  int64_t bases[256];
  int n = segments(dir, "s", bases, 256);
  assert_true(n >= 6);
  assert_int_equal(bases[0], 0);
  for (int i = 1; i < n; i++)
    assert_true(bases[i] > bases[i - 1]);
  /* truncate in the middle of segment 3: whole files below it go */
  int64_t before = bases[3] + 1, first, next;
  OK(cairn_mq_truncate(mq, "s", before, E));
  bounds(mq, "s", &first, &next);
  assert_int_equal(first, before); /* this backend keeps the exact point */
  assert_int_equal(next, 120);
  int64_t left[256];
  int m = segments(dir, "s", left, 256);
  assert_int_equal(m, n - 3);
  assert_int_equal(left[0], bases[3]);
  char path[512];
  snprintf(path, sizeof path, "%s/ch_s/FIRST", dir);
  assert_int_equal(file_size(path), 20);
  /* reading the dropped part: not found, also in the kept file's head */
  cairn_mq_consumer *c;
  cairn_error err;
  assert_int_equal(cairn_mq_consumer_open(mq, "s", before - 1, &c, &err),
                   CAIRN_IO_NOT_FOUND);
  assert_non_null(strstr(err.message, "truncated"));
  expect_msgs(mq, "s", (int)before, 120);
  /* a consumer that was reading below the point is told so */
  OK(cairn_mq_consumer_open(mq, "s", (int)before, &c, E));
  OK(cairn_mq_truncate(mq, "s", 110, E));
  cairn_mq_message msg_;
  assert_int_equal(cairn_mq_consumer_next(c, 0, &msg_, &err), CAIRN_IO_NOT_FOUND);
  cairn_mq_consumer_close(c);
  /* truncate everything: the active segment stays, positions go on */
  OK(cairn_mq_truncate(mq, "s", 120, E));
  bounds(mq, "s", &first, &next);
  assert_int_equal(first, 120);
  assert_int_equal(next, 120);
  assert_true(segments(dir, "s", left, 256) >= 1);
  cairn_mq_close(mq);
  mq = open_small(dir);
  bounds(mq, "s", &first, &next);
  assert_int_equal(first, 120);
  assert_int_equal(next, 120);
  produce_msgs(mq, "s", 120, 5);
  expect_msgs(mq, "s", 120, 125);
  cairn_mq_close(mq);
}

/* Damage the tail of the last segment in `how`, reopen, and check what
 * survives: want_next messages intact, appending continues. */
typedef enum { CUT_MID_FRAME, PARTIAL_HEADER, GARBAGE, FLIP_PAYLOAD,
               FLIP_LENGTH, ZEROS } damage;

static void damage_and_recover(damage how) {
  const char *dir = new_dir();
  cairn_mq_wal_options o = {.segment_bytes = 1u << 20};
  cairn_mq *mq;
  OK(cairn_mq_wal_open(dir, &o, &mq, E));
  produce_msgs(mq, "d", 0, 50);
  cairn_mq_close(mq);
  char path[512];
  seg_file(path, sizeof path, dir, "d", 0);
  off_t size = file_size(path);
  int want_next = 50;
  static const uint8_t junk[] = "this is not a frame, it is junk bytes........";
  static const uint8_t zeros[64];
  switch (how) {
  case CUT_MID_FRAME: /* a torn last frame */
    assert_int_equal(truncate(path, size - 10), 0);
    want_next = 49;
    break;
  case PARTIAL_HEADER:
    append_bytes(path, "\x05\x00\x00", 3);
    break;
  case GARBAGE:
    append_bytes(path, junk, sizeof junk);
    break;
  case ZEROS: /* a preallocated or zero-filled tail */
    append_bytes(path, zeros, sizeof zeros);
    break;
  case FLIP_PAYLOAD: /* damage inside record 30: 30..49 are after it */
    flip_byte(path, frame_offset(path, 30) + 8 + 5);
    want_next = 30;
    break;
  case FLIP_LENGTH: /* record 40's length now runs past the end */
    flip_byte(path, frame_offset(path, 40) + 3);
    want_next = 40;
    break;
  }
  OK(cairn_mq_wal_open(dir, &o, &mq, E));
  int64_t first, next;
  bounds(mq, "d", &first, &next);
  assert_int_equal(first, 0);
  assert_int_equal(next, want_next);
  expect_msgs(mq, "d", 0, want_next);
  /* the damaged bytes are gone from the file, appending continues */
  assert_int_equal(file_size(path), frame_offset(path, want_next));
  produce_msgs(mq, "d", want_next, 5);
  expect_msgs(mq, "d", 0, want_next + 5);
  cairn_mq_close(mq);
  OK(cairn_mq_wal_open(dir, &o, &mq, E)); /* and a clean reopen keeps all */
  bounds(mq, "d", &first, &next);
  assert_int_equal(next, want_next + 5);
  cairn_mq_close(mq);
}

static void test_recover_torn_tail(void **state) {
  (void)state;
  damage_and_recover(CUT_MID_FRAME);
  damage_and_recover(PARTIAL_HEADER);
  damage_and_recover(GARBAGE);
  damage_and_recover(ZEROS);
}

static void test_recover_corrupt_record(void **state) {
  (void)state;
  damage_and_recover(FLIP_PAYLOAD);
  damage_and_recover(FLIP_LENGTH);
}

static void test_recover_bad_last_header(void **state) {
  (void)state;
  const char *dir = new_dir();
  cairn_mq *mq = open_small(dir);
  produce_msgs(mq, "h", 0, 60);
  cairn_mq_close(mq);
  int64_t bases[64];
  int n = segments(dir, "h", bases, 64);
  assert_true(n >= 3);
  char path[512], bad[600];
  seg_file(path, sizeof path, dir, "h", bases[n - 1]);
  flip_byte(path, 2); /* the magic */
  mq = open_small(dir);
  int64_t first, next;
  bounds(mq, "h", &first, &next);
  /* everything before the damaged segment survives; positions not reused */
  assert_int_equal(next, bases[n - 1]);
  expect_msgs(mq, "h", 0, (int)bases[n - 1]);
  snprintf(bad, sizeof bad, "%s.corrupt", path);
  assert_true(file_size(bad) > 0); /* set aside for a person */
  produce_msgs(mq, "h", (int)bases[n - 1], 3);
  expect_msgs(mq, "h", (int)bases[n - 1], (int)bases[n - 1] + 3);
  cairn_mq_close(mq);
}

static void test_corrupt_older_segment(void **state) {
  (void)state;
  const char *dir = new_dir();
  cairn_mq *mq = open_small(dir);
  produce_msgs(mq, "o", 0, 60);
  cairn_mq_close(mq);
  int64_t bases[64];
  int n = segments(dir, "o", bases, 64);
  assert_true(n >= 3);
  char path[512];
  seg_file(path, sizeof path, dir, "o", bases[1]);
  flip_byte(path, frame_offset(path, 1) + 8 + 2); /* position bases[1] + 1 */
  mq = open_small(dir); /* only the last segment is scanned: opens fine */
  int64_t first, next;
  bounds(mq, "o", &first, &next);
  assert_int_equal(next, 60);
  cairn_mq_consumer *c;
  OK(cairn_mq_consumer_open(mq, "o", 0, &c, E));
  cairn_mq_message m;
  cairn_error err;
  for (int64_t i = 0; i <= bases[1]; i++)
    OK(cairn_mq_consumer_next(c, 0, &m, E));
  assert_int_equal(cairn_mq_consumer_next(c, 0, &m, &err), CAIRN_CORRUPT);
  assert_non_null(strstr(err.message, "CRC mismatch"));
  cairn_mq_consumer_close(c);
  expect_msgs(mq, "o", (int)bases[2], 60); /* later segments still readable */
  cairn_mq_close(mq);
}

static void test_stale_temp_files(void **state) {
  (void)state;
  const char *dir = new_dir();
  cairn_mq *mq = open_small(dir);
  produce_msgs(mq, "tmp", 0, 3);
  cairn_mq_close(mq);
  /* what a crash in segment creation or truncate leaves behind */
  char p1[512], p2[512];
  snprintf(p1, sizeof p1, "%s/ch_tmp/.tmp-00000000000000000003.wal", dir);
  snprintf(p2, sizeof p2, "%s/ch_tmp/.tmp-FIRST", dir);
  for (int i = 0; i < 2; i++) {
    int fd = open(i ? p2 : p1, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "CAIRNWAL", 8), 8);
    close(fd);
  }
  mq = open_small(dir);
  assert_int_equal(access(p1, F_OK), -1);
  assert_int_equal(access(p2, F_OK), -1);
  expect_msgs(mq, "tmp", 0, 3);
  produce_msgs(mq, "tmp", 3, 1);
  cairn_mq_close(mq);
}

static void test_scan_api(void **state) {
  (void)state;
  const char *dir = new_dir();
  cairn_mq *mq = open_small(dir);
  produce_msgs(mq, "sc", 0, 5);
  cairn_mq_close(mq);
  char path[512];
  seg_file(path, sizeof path, dir, "sc", 0);
  int fd = open(path, O_RDONLY);
  cairn_mq_wal_scan_result r;
  OK(cairn_mq_wal_scan(fd, &r, E));
  close(fd);
  assert_true(r.header_ok);
  assert_int_equal(r.base, 0);
  assert_int_equal(r.records, 5);
  assert_int_equal(r.valid_end, r.file_size);
  assert_string_equal(r.why, "");
  append_bytes(path, "\x01\x00\x00\x00\x00\x00\x00\x00Z", 9);
  fd = open(path, O_RDONLY);
  OK(cairn_mq_wal_scan(fd, &r, E));
  close(fd);
  assert_int_equal(r.records, 5);
  assert_int_equal(r.file_size, r.valid_end + 9);
  assert_non_null(strstr(r.why, "CRC mismatch"));
  cairn_error err;
  assert_int_equal(cairn_mq_wal_scan(-1, &r, &err), CAIRN_INVALID_ARGUMENT);
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(base_dir, sizeof base_dir, "%s/cairn-mq-test-XXXXXX",
           tmp != NULL ? tmp : "/tmp");
  if (mkdtemp(base_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  int failed = 0;
  wal_factory_ctx small = {.segment_bytes = 4096}, dflt = {0};
  cairn_mq_factory f1 = {"embedded, 4 KiB segments", &small, factory_open};
  cairn_mq_factory f2 = {"embedded, default segments", &dflt, factory_open};
  failed += cairn_mq_conformance_run(&f1);
  failed += cairn_mq_conformance_run(&f2);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_crc32c),
      cmocka_unit_test(test_segments_and_truncate),
      cmocka_unit_test(test_recover_torn_tail),
      cmocka_unit_test(test_recover_corrupt_record),
      cmocka_unit_test(test_recover_bad_last_header),
      cmocka_unit_test(test_corrupt_older_segment),
      cmocka_unit_test(test_stale_temp_files),
      cmocka_unit_test(test_scan_api),
  };
  failed += cmocka_run_group_tests_name("mq embedded", tests, NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
  if (failed == 0 && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", base_dir);
  return failed != 0;
}
