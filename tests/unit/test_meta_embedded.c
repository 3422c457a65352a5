/*
 * test_meta_embedded.c — the embedded (LMDB) meta backend: the conformance
 * suite through a factory over temporary directories, plus what only this
 * backend promises:
 *   - backend selection errors and the directory lock;
 *   - crash safety: a child process writes keys in a loop and reports each
 *     acknowledged key on a pipe; the parent SIGKILLs it at a random moment
 *     (seeded), reopens the store and checks every acknowledged key is there
 *     with its value. Repeated CRASH_ROUNDS times.
 * Usage: test_meta_embedded [seed]   (default seed 12345)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meta.h"
#include "test_meta_conformance.h"

#define CRASH_ROUNDS 20

static char base_dir[256];
static char cur_dir[300];
static int dir_seq;
static unsigned seed = 12345;

static cairn_status factory_open(void *ctx, bool fresh, cairn_meta **out,
                                 cairn_error *err) {
  (void)ctx;
  if (fresh)
    snprintf(cur_dir, sizeof cur_dir, "%s/store%d", base_dir, dir_seq++);
  return cairn_meta_open("embedded", cur_dir, out, err);
}

static void test_open_errors(void **state) {
  (void)state;
  cairn_meta *m = (cairn_meta *)1;
  cairn_error err;
  assert_int_equal(cairn_meta_open("zookeeper", "/tmp/x", &m, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_null(m);
  assert_string_equal(err.message,
                      "unknown meta store backend 'zookeeper' (known: embedded, etcd)");
  assert_int_equal(cairn_meta_open("embedded", "", &m, &err), CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_meta_open("embedded", "/proc/cairn-cannot-create", &m, &err),
                   CAIRN_IO);
  assert_null(m);
  /* a second open of the same directory is refused while the first lives */
  char dir[300];
  snprintf(dir, sizeof dir, "%s/locked", base_dir);
  cairn_meta *a = NULL, *b = NULL;
  assert_int_equal(cairn_meta_open("embedded", dir, &a, &err), CAIRN_OK);
  assert_int_equal(cairn_meta_open("embedded", dir, &b, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, "in use"));
  cairn_meta_close(a);
  assert_int_equal(cairn_meta_open("embedded", dir, &b, &err), CAIRN_OK);
  cairn_meta_close(b);
  cairn_meta_close(NULL);
}

/* A watcher blocked in its callback while more than the kept history is
 * written must get CAIRN_META_EVENT_LOST (not silently skip events), and a
 * new watch from a compacted revision is refused. */
typedef struct slow_watch {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool release;
  int puts, lost;
  int64_t lost_rev;
} slow_watch;

static void slow_cb(const cairn_meta_event *ev, void *user) {
  slow_watch *s = user;
  pthread_mutex_lock(&s->mu);
  if (ev->type == CAIRN_META_EVENT_LOST)
    s->lost++, s->lost_rev = ev->kv.mod_revision;
  else
    s->puts++;
  pthread_cond_broadcast(&s->cv);
  while (!s->release)
    pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

static void test_history_compaction(void **state) {
  (void)state;
  char dir[300];
  snprintf(dir, sizeof dir, "%s/compact", base_dir);
  cairn_meta *m;
  cairn_error err;
  assert_int_equal(cairn_meta_open("embedded", dir, &m, &err), CAIRN_OK);
  slow_watch s = {.release = false};
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  cairn_meta_watch *w;
  assert_int_equal(cairn_meta_watch_start(m, "c/", 1, slow_cb, &s, &w, &err),
                   CAIRN_OK);
  int total = CAIRN_META_HISTORY_REVISIONS + 1500;
  for (int i = 0; i < total; i++)
    assert_int_equal(cairn_meta_put(m, "c/k", "v", 1, 0, NULL, &err), CAIRN_OK);
  pthread_mutex_lock(&s.mu);
  s.release = true;
  pthread_cond_broadcast(&s.cv);
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 10;
  while (s.lost == 0 && pthread_cond_timedwait(&s.cv, &s.mu, &dl) == 0) {
  }
  pthread_mutex_unlock(&s.mu);
  assert_int_equal(s.lost, 1);
  assert_true(s.puts >= 1 && s.puts < total);
  assert_true(s.lost_rev > 1);
  cairn_meta_watch_cancel(m, w);
  assert_int_equal(cairn_meta_watch_start(m, "c/", 1, slow_cb, &s, &w, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "compacted"));
  /* recent history is still there */
  int64_t rev;
  assert_int_equal(cairn_meta_revision(m, &rev, &err), CAIRN_OK);
  s.puts = 0, s.lost = 0;
  assert_int_equal(cairn_meta_watch_start(m, "c/", rev - 100, slow_cb, &s, &w, &err),
                   CAIRN_OK);
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 10;
  pthread_mutex_lock(&s.mu);
  while (s.puts < 101 && pthread_cond_timedwait(&s.cv, &s.mu, &dl) == 0) {
  }
  pthread_mutex_unlock(&s.mu);
  assert_int_equal(s.puts, 101);
  cairn_meta_close(m); /* cancels w */
  pthread_mutex_destroy(&s.mu);
  pthread_cond_destroy(&s.cv);
}

/* Child: open, then put crash/<n> = "value-<n>" forever, writing n to the
 * pipe after each put returned OK. Never returns. */
static void crash_child(const char *dir, int fd) {
  cairn_meta *m;
  cairn_error err;
  if (cairn_meta_open("embedded", dir, &m, &err) != CAIRN_OK)
    _exit(2);
  for (uint32_t n = 0;; n++) {
    char key[32], val[32];
    snprintf(key, sizeof key, "crash/%08u", n);
    int len = snprintf(val, sizeof val, "value-%u", n);
    if (cairn_meta_put(m, key, val, (size_t)len, 0, NULL, &err) != CAIRN_OK)
      _exit(3);
    if (write(fd, &n, sizeof n) != sizeof n)
      _exit(4);
  }
}

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* One round: returns the number of acknowledged keys checked. */
static uint32_t crash_round(const char *dir, unsigned *rng, uint32_t already) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    crash_child(dir, fds[1]);
  }
  close(fds[1]);
  sleep_us(20000 + (long)(rand_r(rng) % 300000)); /* 20..320 ms */
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status)); /* died by our kill, not an error exit */
  uint32_t n, acked = 0;
  bool any = false;
  while (read(fds[0], &n, sizeof n) == sizeof n)
    acked = n, any = true;
  close(fds[0]);
  cairn_meta *m;
  cairn_error err;
  assert_int_equal(cairn_meta_open("embedded", dir, &m, &err), CAIRN_OK);
  /* every key up to the last acknowledged one (of every round) is present */
  cairn_meta_kvs r;
  assert_int_equal(cairn_meta_range(m, "crash/", NULL, 0, &r, &err), CAIRN_OK);
  uint32_t want = any ? acked + 1 : 0;
  if (r.count < want)
    fail_msg("round lost writes: %zu keys present, %u acknowledged", r.count, want);
  for (uint32_t i = 0; i < want; i++) {
    char key[32], val[32];
    snprintf(key, sizeof key, "crash/%08u", i);
    snprintf(val, sizeof val, "value-%u", i);
    assert_string_equal(r.items[i].key, key);
    assert_string_equal((char *)r.items[i].value, val);
  }
  (void)already;
  cairn_meta_kvs_free(&r);
  /* clear for the next round (the child restarts at 0) */
  assert_int_equal(cairn_meta_delete_prefix(m, "crash/", NULL, &err), CAIRN_OK);
  cairn_meta_close(m);
  return want;
}

static void test_crash_safety(void **state) {
  (void)state;
  char dir[300];
  snprintf(dir, sizeof dir, "%s/crash", base_dir);
  unsigned rng = seed;
  uint32_t total = 0;
  for (int round = 0; round < CRASH_ROUNDS; round++)
    total += crash_round(dir, &rng, total);
  fprintf(stderr, "crash test: %d rounds, %u acknowledged writes verified (seed %u)\n",
          CRASH_ROUNDS, total, seed);
  assert_true(total > 0);
}

int main(int argc, char **argv) {
  if (argc > 1)
    seed = (unsigned)strtoul(argv[1], NULL, 10);
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(base_dir, sizeof base_dir, "%s/cairn-meta-test-XXXXXX", tmp);
  if (mkdtemp(base_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  cairn_meta_factory f = {.name = "embedded", .open = factory_open};
  int failed = cairn_meta_conformance_run(&f);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_history_compaction),
      cmocka_unit_test(test_crash_safety),
  };
  failed += cmocka_run_group_tests_name("meta embedded", tests, NULL, NULL);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
  if (failed == 0 && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", base_dir);
  return failed != 0;
}
