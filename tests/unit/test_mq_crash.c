/*
 * test_mq_crash.c — the embedded log survives kill -9 at any moment.
 *
 * Each round forks a child that opens the log (256 KiB segments, so rolls
 * happen under fire) and produces from 4 threads in a loop; after every
 * produce that returned OK the thread writes {position, length, hash,
 * identity} to a pipe (one write of < PIPE_BUF bytes: atomic). The parent
 * drains the pipe for a random time (seeded), SIGKILLs the child, drains the
 * rest, reopens the log and checks:
 *   - every acknowledged message is present at its position, intact
 *     (length and hash), with the identity the producer gave it;
 *   - no message (identity) appears twice in the log, and the log reads
 *     from first to next without a CRC or framing error;
 *   - producing continues after recovery at position `next`.
 * Rounds accumulate on one directory, so recovery runs on logs that were
 * already recovered before. CRASH_ROUNDS rounds.
 * Usage: test_mq_crash [seed]   (default seed 4242)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mq.h"

#define CRASH_ROUNDS 20
#define THREADS 4
#define CHANNEL "crash"
#define MAX_PAYLOAD 9000

static char base_dir[256];
static unsigned seed = 4242;

typedef struct ack {
  int64_t position;
  uint32_t len;
  uint32_t hash;
  uint32_t thread;
  uint32_t round;
  uint64_t seq;
} ack;

typedef struct identity { /* first 16 bytes of every payload */
  uint32_t thread;
  uint32_t round;
  uint64_t seq;
} identity;

static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

/* Payload of (thread, round, seq): identity then filler, 16..MAX_PAYLOAD. */
static size_t make_payload(uint8_t *buf, uint32_t thread, uint32_t round,
                           uint64_t seq) {
  uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)thread << 40) ^
               round;
  size_t len = 16 + (size_t)(x % (MAX_PAYLOAD - 16));
  identity id = {thread, round, seq};
  memcpy(buf, &id, sizeof id);
  for (size_t i = sizeof id; i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    buf[i] = (uint8_t)x;
  }
  return len;
}

/* ---- the child ------------------------------------------------------------ */

typedef struct child_arg {
  cairn_mq *mq;
  int fd;
  uint32_t thread, round;
} child_arg;

static void *child_thread(void *p) {
  child_arg *a = p;
  static __thread uint8_t buf[MAX_PAYLOAD];
  for (uint64_t seq = 0;; seq++) {
    size_t len = make_payload(buf, a->thread, a->round, seq);
    int64_t pos;
    cairn_error err;
    if (cairn_mq_produce(a->mq, CHANNEL, buf, len, &pos, &err) != CAIRN_OK) {
      fprintf(stderr, "child produce: %s\n", err.message);
      _exit(3);
    }
    ack k = {pos, (uint32_t)len, fnv1a(buf, len), a->thread, a->round, seq};
    if (write(a->fd, &k, sizeof k) != (ssize_t)sizeof k)
      _exit(4);
  }
  return NULL;
}

static void child_main(const char *dir, int fd, uint32_t round) {
  cairn_mq_wal_options o = {.segment_bytes = 256u << 10};
  cairn_mq *mq;
  cairn_error err;
  if (cairn_mq_wal_open(dir, &o, &mq, &err) != CAIRN_OK) {
    fprintf(stderr, "child open: %s\n", err.message);
    _exit(2);
  }
  pthread_t th[THREADS];
  child_arg args[THREADS];
  for (uint32_t t = 0; t < THREADS; t++) {
    args[t] = (child_arg){mq, fd, t, round};
    pthread_create(&th[t], NULL, child_thread, &args[t]);
  }
  for (;;)
    pause(); /* until SIGKILL */
}

/* ---- the parent ----------------------------------------------------------- */

typedef struct acks {
  ack *v;
  size_t n, cap;
} acks;

static void acks_read(acks *a, int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, timeout_ms) <= 0)
    return;
  ack buf[256];
  ssize_t k = read(fd, buf, sizeof buf);
  if (k <= 0)
    return;
  assert_int_equal(k % (ssize_t)sizeof(ack), 0);
  size_t n = (size_t)k / sizeof(ack);
  if (a->n + n > a->cap) {
    a->cap = (a->n + n) * 2;
    a->v = realloc(a->v, a->cap * sizeof *a->v);
    assert_non_null(a->v);
  }
  memcpy(a->v + a->n, buf, n * sizeof(ack));
  a->n += n;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Run one child for ms milliseconds, SIGKILL it, collect its acks. */
static void crash_round(const char *dir, uint32_t round, int ms, acks *a) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    child_main(dir, p[1], round);
  }
  close(p[1]);
  double end = now_ms() + ms;
  while (now_ms() < end)
    acks_read(a, p[0], (int)(end - now_ms()) + 1);
  kill(pid, SIGKILL);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFSIGNALED(status))
    fail_msg("child exited on its own (status %d) in round %u", status, round);
  size_t before;
  do { /* what it wrote before dying */
    before = a->n;
    acks_read(a, p[0], 0);
  } while (a->n != before);
  close(p[0]);
}

typedef struct logged {
  uint32_t len, hash;
  identity id;
} logged;

static int cmp_id(const void *x, const void *y) {
  const identity *a = x, *b = y;
  if (a->thread != b->thread)
    return a->thread < b->thread ? -1 : 1;
  if (a->round != b->round)
    return a->round < b->round ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Read the whole log: every record valid, no identity twice. */
static logged *read_all(cairn_mq *mq, int64_t next) {
  logged *l = calloc((size_t)next + 1, sizeof *l);
  identity *ids = calloc((size_t)next + 1, sizeof *ids);
  cairn_mq_consumer *c;
  cairn_error err;
  if (cairn_mq_consumer_open(mq, CHANNEL, 0, &c, &err) != CAIRN_OK)
    fail_msg("consumer open: %s", err.message);
  for (int64_t i = 0; i < next; i++) {
    cairn_mq_message m;
    if (cairn_mq_consumer_next(c, 0, &m, &err) != CAIRN_OK)
      fail_msg("reading position %lld: %s", (long long)i, err.message);
    assert_int_equal(m.position, i);
    assert_true(m.len >= sizeof(identity));
    l[i].len = (uint32_t)m.len;
    l[i].hash = fnv1a(m.payload, m.len);
    memcpy(&l[i].id, m.payload, sizeof(identity));
    ids[i] = l[i].id;
  }
  cairn_mq_consumer_close(c);
  qsort(ids, (size_t)next, sizeof *ids, cmp_id);
  for (int64_t i = 1; i < next; i++)
    if (cmp_id(&ids[i - 1], &ids[i]) == 0)
      fail_msg("message (thread %u, round %u, seq %llu) is in the log twice",
               ids[i].thread, ids[i].round, (unsigned long long)ids[i].seq);
  free(ids);
  return l;
}

static void verify(const char *dir, const acks *a, uint32_t round,
                   int64_t *prev_next) {
  cairn_mq *mq;
  cairn_error err;
  cairn_mq_wal_options o = {.segment_bytes = 256u << 10};
  if (cairn_mq_wal_open(dir, &o, &mq, &err) != CAIRN_OK)
    fail_msg("reopen after crash %u: %s", round, err.message);
  int64_t first, next;
  assert_int_equal(cairn_mq_bounds(mq, CHANNEL, &first, &next, &err), CAIRN_OK);
  assert_int_equal(first, 0);
  assert_true(next >= *prev_next); /* nothing acknowledged earlier lost */
  logged *l = read_all(mq, next);
  for (size_t i = 0; i < a->n; i++) {
    const ack *k = &a->v[i];
    if (k->position >= next)
      fail_msg("acknowledged position %lld missing (next %lld) after crash %u",
               (long long)k->position, (long long)next, round);
    const logged *g = &l[k->position];
    assert_int_equal(g->len, k->len);
    assert_int_equal(g->hash, k->hash);
    assert_int_equal(g->id.thread, k->thread);
    assert_int_equal(g->id.round, k->round);
    assert_int_equal(g->id.seq, k->seq);
  }
  free(l);
  /* producing continues where recovery left off */
  uint8_t buf[MAX_PAYLOAD];
  size_t len = make_payload(buf, 99, round, 0);
  int64_t pos;
  assert_int_equal(cairn_mq_produce(mq, CHANNEL, buf, len, &pos, &err), CAIRN_OK);
  assert_int_equal(pos, next);
  cairn_mq_close(mq);
  *prev_next = next + 1;
}

static void test_kill9_rounds(void **state) {
  (void)state;
  char dir[300];
  snprintf(dir, sizeof dir, "%s/log", base_dir);
  srand(seed);
  acks a = {0};
  int64_t prev_next = 0;
  size_t total_acks = 0;
  for (uint32_t r = 0; r < CRASH_ROUNDS; r++) {
    int ms = 20 + rand() % 280;
    size_t before = a.n;
    crash_round(dir, r, ms, &a);
    verify(dir, &a, r, &prev_next);
    total_acks += a.n - before;
  }
  printf("kill -9 rounds: %d, acknowledged messages verified: %zu, log "
         "length %lld\n",
         CRASH_ROUNDS, total_acks, (long long)prev_next);
  assert_true(total_acks > 0);
  free(a.v);
}

int main(int argc, char **argv) {
  if (argc > 1)
    seed = (unsigned)strtoul(argv[1], NULL, 10);
  const char *tmp = getenv("TMPDIR");
  snprintf(base_dir, sizeof base_dir, "%s/cairn-mq-crash-XXXXXX",
           tmp != NULL ? tmp : "/tmp");
  if (mkdtemp(base_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  printf("seed %u\n", seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill9_rounds),
  };
  int failed = cmocka_run_group_tests_name("mq crash", tests, NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
  if (failed == 0 && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", base_dir);
  return failed != 0;
}
