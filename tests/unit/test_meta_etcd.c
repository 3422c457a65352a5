/*
 * test_meta_etcd.c — the etcd meta backend against a real etcd (Debian
 * etcd-server, /usr/bin/etcd or $CAIRN_ETCD_BIN) that this program starts
 * on 127.0.0.1 with free ports and a temporary data dir, and kills at the
 * end (the child also dies with us: PR_SET_PDEATHSIG).
 *
 *   1. the conformance suite (test_meta_conformance.h); each fresh store is
 *      a new root prefix in the one etcd, a reopen reuses the prefix;
 *   2. what only this backend has: location parsing and the config
 *      builder, root isolation and two handles seeing each other's writes
 *      and watches, endpoint failover, refusing a compacted watch start,
 *      etcd killed and restarted on the same data dir (calls fail with
 *      CAIRN_NOT_READY while it is down and succeed after, a watch resumes
 *      without loss, a watch with a short retry window reports LOST);
 *   3. put/get latency over the gateway, printed.
 * etcd runs with a 10 ms heartbeat / 100 ms election so that a restart
 * elects itself fast and the minimum lease TTL is 1 s (the conformance
 * suite grants 1 s leases). Every wait is bounded; a server that does not
 * come up fails the run with the tail of its log. Exit 77 (skipped) when
 * no etcd binary is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "meta.h"
#include "meta_etcd.h"
#include "test_meta_conformance.h"

typedef struct etcd_server {
  const char *bin;
  char dir[256];    /* temp dir: data/ and etcd.log */
  int client_port, peer_port;
  char url[64];     /* http://127.0.0.1:client_port */
  pid_t pid;
} etcd_server;

static etcd_server srv;

#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);      \
  } while (0)
#define E (&e_)

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- the etcd server ---------------------------------------------------- */

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static void print_log_tail(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "tail -n 20 '%s/etcd.log' >&2", srv.dir);
  if (system(cmd) != 0)
    fprintf(stderr, "(no etcd log)\n");
}

static void exec_etcd(void) {
  char arg[8][320], log[300];
  snprintf(log, sizeof log, "%s/etcd.log", srv.dir);
  FILE *f = freopen(log, "a", stdout);
  if (f == NULL || dup2(fileno(stdout), 2) < 0)
    _exit(126);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  snprintf(arg[0], 320, "--data-dir=%s/data", srv.dir);
  snprintf(arg[1], 320, "--listen-client-urls=%s", srv.url);
  snprintf(arg[2], 320, "--advertise-client-urls=%s", srv.url);
  snprintf(arg[3], 320, "--listen-peer-urls=http://127.0.0.1:%d", srv.peer_port);
  snprintf(arg[4], 320, "--initial-advertise-peer-urls=http://127.0.0.1:%d",
           srv.peer_port);
  snprintf(arg[5], 320, "--initial-cluster=cairn-test=http://127.0.0.1:%d",
           srv.peer_port);
  execl(srv.bin, srv.bin, "--name=cairn-test", arg[0], arg[1], arg[2], arg[3],
        arg[4], arg[5], "--heartbeat-interval=10", "--election-timeout=100",
        "--logger=zap", "--log-level=warn", (char *)NULL);
  _exit(127);
}

/* Wait until the gateway answers a revision call (bounded). */
static bool etcd_wait_ready(int timeout_ms) {
  char loc[128];
  snprintf(loc, sizeof loc, "%s;timeout=1000", srv.url);
  cairn_meta *m = NULL;
  cairn_error err;
  if (cairn_meta_open("etcd", loc, &m, &err) != CAIRN_OK)
    return false;
  long until = now_ms() + timeout_ms;
  bool up = false;
  int64_t rev;
  while (!up && now_ms() < until) {
    int status;
    if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
      srv.pid = 0;
      break; /* it died */
    }
    up = cairn_meta_revision(m, &rev, &err) == CAIRN_OK;
    if (!up)
      sleep_ms(50);
  }
  cairn_meta_close(m);
  return up;
}

static bool etcd_start(void) {
  srv.pid = fork();
  if (srv.pid == 0)
    exec_etcd();
  if (srv.pid < 0 || !etcd_wait_ready(20000)) {
    fprintf(stderr, "etcd did not come up on %s\n", srv.url);
    print_log_tail();
    return false;
  }
  return true;
}

static void etcd_kill(void) {
  if (srv.pid > 0) {
    kill(srv.pid, SIGKILL);
    waitpid(srv.pid, NULL, 0);
  }
  srv.pid = 0;
}

static bool etcd_setup(void) {
  snprintf(srv.dir, sizeof srv.dir, "/tmp/cairn-etcd-XXXXXX");
  if (mkdtemp(srv.dir) == NULL)
    return false;
  srv.client_port = free_port();
  do
    srv.peer_port = free_port();
  while (srv.peer_port == srv.client_port);
  snprintf(srv.url, sizeof srv.url, "http://127.0.0.1:%d", srv.client_port);
  return srv.client_port > 0 && srv.peer_port > 0 && etcd_start();
}

static void etcd_teardown(void) {
  etcd_kill();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", srv.dir);
  if (srv.dir[0] != '\0' && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", srv.dir);
}

/* ---- conformance factory ------------------------------------------------ */

static int root_seq;

static cairn_status factory_open(void *ctx, bool fresh, cairn_meta **out,
                                 cairn_error *err) {
  (void)ctx;
  if (fresh)
    root_seq++;
  char loc[160];
  snprintf(loc, sizeof loc, "%s;root=conformance/%d", srv.url, root_seq);
  return cairn_meta_open("etcd", loc, out, err);
}

static cairn_meta *open_root(const char *root, const char *extra) {
  char loc[300];
  snprintf(loc, sizeof loc, "%s;root=%s%s", srv.url, root, extra ? extra : "");
  cairn_meta *m = NULL;
  cairn_error err;
  if (cairn_meta_open("etcd", loc, &m, &err) != CAIRN_OK)
    fail_msg("open %s: %s", loc, err.message);
  return m;
}

/* ---- a watch collector -------------------------------------------------- */

typedef struct seen {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int n;
  cairn_meta_event_type type[64];
  char key[64][64];
  char value[64][32];
  int64_t rev[64];
} seen;

static void on_event(const cairn_meta_event *ev, void *user) {
  seen *s = user;
  pthread_mutex_lock(&s->mu);
  if (s->n < 64) {
    s->type[s->n] = ev->type;
    snprintf(s->key[s->n], sizeof s->key[0], "%s", ev->kv.key);
    snprintf(s->value[s->n], sizeof s->value[0], "%.*s", (int)ev->kv.value_len,
             (const char *)ev->kv.value);
    s->rev[s->n] = ev->kv.mod_revision;
    s->n++;
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void seen_init(seen *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
}

static int seen_wait(seen *s, int n, int timeout_ms) {
  long until = now_ms() + timeout_ms;
  pthread_mutex_lock(&s->mu);
  while (s->n < n && now_ms() < until) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 20 * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
      dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&s->cv, &s->mu, &dl);
  }
  int got = s->n;
  pthread_mutex_unlock(&s->mu);
  return got;
}

/* ---- backend-specific tests --------------------------------------------- */

static void expect_open_error(const char *loc, const char *needle) {
  cairn_meta *m = (cairn_meta *)1;
  cairn_error err;
  assert_int_equal(cairn_meta_open("etcd", loc, &m, &err), CAIRN_INVALID_ARGUMENT);
  assert_null(m);
  if (strstr(err.message, needle) == NULL)
    fail_msg("open '%s': message '%s' lacks '%s'", loc, err.message, needle);
}

static void test_location(void **state) {
  (void)state;
  expect_open_error("http://127.0.0.1:1;bogus=1", "unknown option 'bogus'");
  expect_open_error(";root=x", "empty endpoint");
  expect_open_error("a:1,,b:2", "empty endpoint");
  expect_open_error("a:1;timeout=abc", "timeout=abc");
  expect_open_error("a:1;root", "NAME=VALUE");
  /* host:port without a scheme means http; spaces and '/' are trimmed */
  char loc[160];
  snprintf(loc, sizeof loc, " 127.0.0.1:%d/ ;root=loc;timeout=3000",
           srv.client_port);
  cairn_meta *m;
  OK(cairn_meta_open("etcd", loc, &m, E));
  int64_t rev;
  OK(cairn_meta_revision(m, &rev, E));
  assert_true(rev > 0);
  cairn_meta_close(m);
  /* the config builder */
  cairn_config *cfg;
  OK(cairn_config_new(&cfg, E));
  char *built;
  OK(cairn_meta_etcd_location(cfg, &built, E));
  assert_string_equal(built, "localhost:2379;root=cairn");
  free(built);
  OK(cairn_config_set(cfg, "etcd.endpoints", "h1:2379,h2:2379",
                      CAIRN_CONFIG_SRC_OVERRIDE, NULL, E));
  OK(cairn_config_set(cfg, "etcd.rootPath", "by-dev/meta",
                      CAIRN_CONFIG_SRC_OVERRIDE, NULL, E));
  OK(cairn_meta_etcd_location(cfg, &built, E));
  assert_string_equal(built, "h1:2379,h2:2379;root=by-dev/meta");
  free(built);
  OK(cairn_config_set(cfg, "etcd.rootPath", "a;b", CAIRN_CONFIG_SRC_OVERRIDE,
                      NULL, E));
  cairn_error err;
  assert_int_equal(cairn_meta_etcd_location(cfg, &built, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_null(built);
  cairn_config_free(cfg);
}

/* Two handles on one root see each other's writes and watches; a handle on
 * another root sees nothing; a root-less handle sees the prefixed keys. */
static void test_two_handles_and_roots(void **state) {
  (void)state;
  cairn_meta *a = open_root("shared", NULL), *b = open_root("shared/", NULL);
  cairn_meta *other = open_root("other", NULL), *raw = open_root("", NULL);
  static seen sa, sb; /* static: a failed assert must not leave a watch
                        * writing into a dead stack frame */
  seen_init(&sa), seen_init(&sb);
  cairn_meta_watch *wa, *wb;
  OK(cairn_meta_watch_start(a, "w/", 0, on_event, &sa, &wa, E));
  OK(cairn_meta_watch_start(b, "w/", 0, on_event, &sb, &wb, E));
  int64_t r1, r2;
  OK(cairn_meta_put(a, "w/from-a", "A", 1, 0, &r1, E));
  OK(cairn_meta_put(b, "w/from-b", "B", 1, 0, &r2, E));
  assert_true(r2 > r1);
  cairn_meta_kv kv;
  OK(cairn_meta_get(b, "w/from-a", &kv, E));
  assert_string_equal((char *)kv.value, "A");
  assert_string_equal(kv.key, "w/from-a"); /* root stripped */
  cairn_meta_kv_clear(&kv);
  OK(cairn_meta_get(a, "w/from-b", &kv, E));
  cairn_meta_kv_clear(&kv);
  assert_int_equal(seen_wait(&sa, 2, 5000), 2);
  assert_int_equal(seen_wait(&sb, 2, 5000), 2);
  for (seen *s = &sa; s != NULL; s = s == &sa ? &sb : NULL) {
    assert_string_equal(s->key[0], "w/from-a");
    assert_int_equal(s->rev[0], r1);
    assert_string_equal(s->key[1], "w/from-b");
    assert_int_equal(s->rev[1], r2);
  }
  cairn_error err;
  assert_int_equal(cairn_meta_get(other, "w/from-a", &kv, &err), CAIRN_IO_NOT_FOUND);
  cairn_meta_kvs r;
  OK(cairn_meta_range(other, "", NULL, 0, &r, E));
  assert_int_equal(r.count, 0);
  cairn_meta_kvs_free(&r);
  OK(cairn_meta_range(raw, "shared/w/", NULL, 0, &r, E));
  assert_int_equal(r.count, 2);
  assert_string_equal(r.items[0].key, "shared/w/from-a");
  cairn_meta_kvs_free(&r);
  /* delete-prefix through one handle, seen by the other's watch */
  size_t deleted;
  OK(cairn_meta_delete_prefix(b, "w/", &deleted, E));
  assert_int_equal(deleted, 2);
  assert_int_equal(seen_wait(&sa, 4, 5000), 4);
  assert_int_equal(sa.type[2], CAIRN_META_EVENT_DELETE);
  assert_int_equal(sa.rev[2], sa.rev[3]);
  cairn_meta_watch_cancel(a, wa);
  cairn_meta_watch_cancel(b, wb);
  cairn_meta_close(a), cairn_meta_close(b);
  cairn_meta_close(other), cairn_meta_close(raw);
}

static void test_failover(void **state) {
  (void)state;
  int dead = free_port();
  char loc[200];
  snprintf(loc, sizeof loc, "http://127.0.0.1:%d,%s;root=failover", dead, srv.url);
  cairn_meta *m;
  OK(cairn_meta_open("etcd", loc, &m, E));
  OK(cairn_meta_put(m, "k", "v", 1, 0, NULL, E));
  cairn_meta_kv kv;
  OK(cairn_meta_get(m, "k", &kv, E));
  cairn_meta_kv_clear(&kv);
  static seen s;
  seen_init(&s);
  cairn_meta_watch *w;
  OK(cairn_meta_watch_start(m, "", 0, on_event, &s, &w, E));
  OK(cairn_meta_put(m, "k", "v2", 2, 0, NULL, E));
  assert_int_equal(seen_wait(&s, 1, 5000), 1);
  cairn_meta_watch_cancel(m, w);
  cairn_meta_close(m);
  /* nothing answers: CAIRN_NOT_READY naming the endpoint, quickly */
  snprintf(loc, sizeof loc, "http://127.0.0.1:%d", dead);
  OK(cairn_meta_open("etcd", loc, &m, E));
  cairn_error err;
  long t0 = now_ms();
  assert_int_equal(cairn_meta_get(m, "k", &kv, &err), CAIRN_NOT_READY);
  assert_non_null(strstr(err.message, "unreachable"));
  assert_non_null(strstr(err.message, loc));
  assert_int_equal(cairn_meta_watch_start(m, "", 0, on_event, &s, &w, &err),
                   CAIRN_NOT_READY);
  assert_true(now_ms() - t0 < 3000);
  cairn_meta_close(m);
}

static void compact(int64_t rev) {
  char url[128], body[64];
  snprintf(url, sizeof url, "%s/v3/kv/compaction", srv.url);
  snprintf(body, sizeof body, "{\"revision\":\"%lld\",\"physical\":true}",
           (long long)rev);
  CURL *c = curl_easy_init();
  FILE *devnull = fopen("/dev/null", "w");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
  long http = 0;
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  assert_int_equal(http, 200);
  curl_easy_cleanup(c);
  fclose(devnull);
}

static void test_watch_compacted(void **state) {
  (void)state;
  cairn_meta *m = open_root("compact", NULL);
  int64_t r1, r2;
  OK(cairn_meta_put(m, "c/1", "a", 1, 0, &r1, E));
  OK(cairn_meta_put(m, "c/2", "b", 1, 0, &r2, E));
  compact(r2);
  static seen s;
  seen_init(&s);
  cairn_meta_watch *w;
  cairn_error err;
  assert_int_equal(cairn_meta_watch_start(m, "c/", r1, on_event, &s, &w, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "compacted"));
  /* the compaction revision itself still has its history */
  OK(cairn_meta_watch_start(m, "c/", r2, on_event, &s, &w, E));
  assert_int_equal(seen_wait(&s, 1, 5000), 1);
  assert_string_equal(s.key[0], "c/2");
  cairn_meta_watch_cancel(m, w);
  cairn_meta_close(m);
}

/* kill -9 etcd, check clear errors while it is down, restart it on the same
 * data dir and check the handle, a watch and a lease recover. */
static void test_restart(void **state) {
  (void)state;
  cairn_meta *m = open_root("restart", ";timeout=2000");
  cairn_meta *quick = open_root("restart", ";watch_retry=300");
  static seen s, lost;
  seen_init(&s), seen_init(&lost);
  cairn_meta_watch *w, *wl;
  OK(cairn_meta_watch_start(m, "r/", 0, on_event, &s, &w, E));
  OK(cairn_meta_watch_start(quick, "r/", 0, on_event, &lost, &wl, E));
  int64_t r1, lease;
  OK(cairn_meta_put(m, "r/a", "1", 1, 0, &r1, E));
  OK(cairn_meta_lease_grant(m, 60, &lease, E));
  assert_int_equal(seen_wait(&s, 1, 5000), 1);
  assert_int_equal(seen_wait(&lost, 1, 5000), 1);
  etcd_kill();
  cairn_error err;
  cairn_meta_kv kv;
  assert_int_equal(cairn_meta_get(m, "r/a", &kv, &err), CAIRN_NOT_READY);
  assert_non_null(strstr(err.message, "unreachable"));
  assert_int_equal(cairn_meta_put(m, "r/b", "2", 1, 0, NULL, &err), CAIRN_NOT_READY);
  int64_t rev;
  assert_int_equal(cairn_meta_revision(m, &rev, &err), CAIRN_NOT_READY);
  /* the short-retry watch gives up with LOST at the next undelivered rev */
  assert_int_equal(seen_wait(&lost, 2, 5000), 2);
  assert_int_equal(lost.type[1], CAIRN_META_EVENT_LOST);
  assert_int_equal(lost.rev[1], r1 + 1);
  assert_true(etcd_start());
  long until = now_ms() + 15000;
  cairn_status st;
  while ((st = cairn_meta_get(m, "r/a", &kv, &err)) != CAIRN_OK && now_ms() < until)
    sleep_ms(100);
  assert_int_equal(st, CAIRN_OK);
  assert_string_equal((char *)kv.value, "1");
  cairn_meta_kv_clear(&kv);
  int64_t r2;
  OK(cairn_meta_put(m, "r/b", "2", 1, 0, &r2, E));
  OK(cairn_meta_lease_keepalive(m, lease, E)); /* leases survive a restart */
  /* the long-retry watch reconnected and resumed after r/a */
  assert_int_equal(seen_wait(&s, 2, 10000), 2);
  assert_string_equal(s.key[1], "r/b");
  assert_int_equal(s.rev[1], r2);
  sleep_ms(200);
  assert_int_equal(s.n, 2); /* r/a was not delivered twice */
  assert_int_equal(lost.n, 2); /* nothing after LOST */
  cairn_meta_watch_cancel(m, w);
  cairn_meta_watch_cancel(quick, wl);
  OK(cairn_meta_lease_revoke(m, lease, E));
  cairn_meta_close(m);
  cairn_meta_close(quick);
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

#define LAT_N 300

static void report(const char *what, long *us, int n) {
  qsort(us, (size_t)n, sizeof *us, cmp_long);
  long sum = 0;
  for (int i = 0; i < n; i++)
    sum += us[i];
  printf("etcd %s latency over the gateway: mean %ld us, p50 %ld us, p99 %ld "
         "us (n=%d)\n",
         what, sum / n, us[n / 2], us[n * 99 / 100], n);
}

typedef struct put_worker {
  cairn_meta *m;
  int id, failures;
} put_worker;

#define TPUT_THREADS 4
#define TPUT_PER_THREAD 250

static void *put_worker_main(void *arg) {
  put_worker *w = arg;
  for (int i = 0; i < TPUT_PER_THREAD; i++) {
    char key[32];
    snprintf(key, sizeof key, "t/%d/%03d", w->id, i);
    cairn_error err;
    if (cairn_meta_put(w->m, key, key, strlen(key), 0, NULL, &err) != CAIRN_OK)
      w->failures++;
  }
  return NULL;
}

/* Puts from 4 threads sharing one handle (pooled connections). */
static void measure_parallel_puts(cairn_meta *m) {
  put_worker w[TPUT_THREADS];
  pthread_t th[TPUT_THREADS];
  long t0 = now_ms();
  for (int i = 0; i < TPUT_THREADS; i++) {
    w[i] = (put_worker){.m = m, .id = i};
    pthread_create(&th[i], NULL, put_worker_main, &w[i]);
  }
  for (int i = 0; i < TPUT_THREADS; i++)
    pthread_join(th[i], NULL);
  long ms = now_ms() - t0;
  for (int i = 0; i < TPUT_THREADS; i++)
    assert_int_equal(w[i].failures, 0);
  printf("etcd parallel puts: %d threads x %d in %ld ms = %.0f puts/s\n",
         TPUT_THREADS, TPUT_PER_THREAD, ms,
         TPUT_THREADS * TPUT_PER_THREAD * 1000.0 / (double)(ms > 0 ? ms : 1));
  cairn_meta_kvs r;
  OK(cairn_meta_range(m, "t/", NULL, 0, &r, E));
  assert_int_equal(r.count, TPUT_THREADS * TPUT_PER_THREAD);
  cairn_meta_kvs_free(&r);
}

static void test_latency(void **state) {
  (void)state;
  cairn_meta *m = open_root("latency", NULL);
  static long put_us[LAT_N], get_us[LAT_N];
  char key[32], val[64];
  for (int i = 0; i < LAT_N; i++) {
    snprintf(key, sizeof key, "k/%04d", i);
    snprintf(val, sizeof val, "value-%d-%0*d", i, 40, i);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    OK(cairn_meta_put(m, key, val, strlen(val), 0, NULL, E));
    clock_gettime(CLOCK_MONOTONIC, &b);
    put_us[i] = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
  }
  for (int i = 0; i < LAT_N; i++) {
    snprintf(key, sizeof key, "k/%04d", i);
    snprintf(val, sizeof val, "value-%d-%0*d", i, 40, i);
    struct timespec a, b;
    cairn_meta_kv kv;
    clock_gettime(CLOCK_MONOTONIC, &a);
    OK(cairn_meta_get(m, key, &kv, E));
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_string_equal((char *)kv.value, val);
    cairn_meta_kv_clear(&kv);
    get_us[i] = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
  }
  report("put", put_us, LAT_N);
  report("get", get_us, LAT_N);
  cairn_meta_kvs r;
  OK(cairn_meta_range(m, "k/", NULL, 0, &r, E));
  assert_int_equal(r.count, LAT_N);
  cairn_meta_kvs_free(&r);
  measure_parallel_puts(m);
  cairn_meta_close(m);
}

int main(void) {
  srv.bin = getenv("CAIRN_ETCD_BIN") ? getenv("CAIRN_ETCD_BIN") : "/usr/bin/etcd";
  if (access(srv.bin, X_OK) != 0) {
    fprintf(stderr, "no etcd binary at %s (apt-get install etcd-server): skipped\n",
            srv.bin);
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  if (!etcd_setup()) {
    etcd_teardown();
    return 1;
  }
  cairn_meta_factory factory = {.name = "etcd", .open = factory_open};
  int failed = cairn_meta_conformance_run(&factory);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_location),
      cmocka_unit_test(test_two_handles_and_roots),
      cmocka_unit_test(test_failover),
      cmocka_unit_test(test_watch_compacted),
      cmocka_unit_test(test_latency),
      cmocka_unit_test(test_restart),
  };
  failed += cmocka_run_group_tests_name("meta etcd backend", tests, NULL, NULL);
  etcd_teardown();
  return failed == 0 ? 0 : 1;
}
