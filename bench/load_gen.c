/*
 * load_gen.c — server benchmarks of `cairn standalone` (issue 5: write and
 * read path in standalone), measured over the Milvus gRPC protocol on the
 * gRPC C core with Cairn's protobuf-c messages (the calls core/rpc/client.c
 * makes, no SDK in the way), one TCP connection per client thread.
 *
 * The program starts the server itself (`cairn standalone --port 0
 * --http-port 0 --data-dir DIR`, bound to 127.0.0.1 only), reads its
 * "cairn listening grpc=HOST:PORT http=HOST:PORT" line, talks to
 * 127.0.0.1:PORT and stops it at the end. Three phases, each selectable
 * with --phases:
 *
 *   insert    for every dim (128, 768) and client count (1, 2, 4): a fresh
 *             collection (Int64 pk, FloatVector, optionally a VarChar),
 *             N rows in batches of 1000 from T client threads; an Insert is
 *             acknowledged by the server only once its rows are durable in
 *             the log (fdatasync), so rows/s is the durable-ack rate.
 *   search    glove-100-angular (COSINE): the base inserted, flushed, an
 *             HNSW index built (M 16, efConstruction 200), loaded; then the
 *             same index built in this process with the index library
 *             (index/index.h, same params, same data) and an ef sweep
 *             there picks the smallest ef with recall@10 >= 0.95; both are
 *             then searched at nq=1 top-10 with that ef: the server with 1,
 *             2 and 4 concurrent clients, the library with 1 and 2
 *             threads (warm-up, then the median of 3 rounds; the library
 *             on 2 threads and the server at 4 clients, whose ratio is
 *             the headline, run in 5 back-to-back pairs and the ratio is
 *             the median of the per-pair ratios). The server's
 *             clients are one channel (TCP connection) each with one call
 *             in flight, all driven by one thread on one completion queue
 *             (--blocking-clients: a thread per client making blocking
 *             calls, which costs the shared cores ~2x the client CPU).
 *             Recall is computed against the shipped ground truth (pk = row
 *             number),
 *             or against an exact FLAT scan when only a prefix of the base
 *             is used (--search-base). Besides QPS and latency: CPU per
 *             query of the library, the client and the server, and the
 *             server's context switches per query (/proc), which stay
 *             meaningful on a shared machine where wall-clock QPS does not.
 *   recovery  N x 128-d random rows (seeded): the first part flushed and
 *             indexed (sealed segments), the rest left in the log (growing,
 *             replayed at start-up); server RSS after load against the raw
 *             vector bytes plus the index files on disk (with RssAnon,
 *             RssFile and the largest mappings from smaps); then kill -9,
 *             restart on the same data directory, and the time until (a)
 *             the listening line and (b) count(*) (Query) sees every row
 *             and a search succeeds.
 *
 * Output: progress on stderr; one machine-readable line per figure on
 * stdout, `load metric=NAME label=value ... value=X`, and a summary table
 * at the end.
 *
 * Threading: each client thread owns its gRPC client (its own channel and
 * TCP connection) and its arenas; threads share only read-only inputs and
 * write their own result slots. The server process is a child of this one;
 * an atexit hook kills it if the program fails half-way.
 *
 * Ownership: every request is built on the stack or in a per-call arena;
 * every reply lives in the arena passed to the call and dies with it.
 */
#include <dirent.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.pb-c.h"
#include "index.h"
#include "milvus.pb-c.h"
#include "rpc.h"
#include "schema.pb-c.h"

#ifndef CAIRN_BIN_DEFAULT
#define CAIRN_BIN_DEFAULT "cairn"
#endif

#define SVC "/milvus.proto.milvus.MilvusService/"
#define MAX_MSG ((size_t)256 << 20)
#define BATCH_ROWS 1000
#define POOL_BATCHES 8 /* random batches generated per insert thread */
#define TOPK 10
#define MAX_LIST 16
#define RECALL_TARGET 0.95

/* ---- options ------------------------------------------------------------ */

typedef struct opts {
  const char *bin;       /* cairn binary */
  const char *work;      /* parent of the data directories */
  bool ph_insert, ph_search, ph_recovery;
  /* insert */
  int ins_rows[MAX_LIST], n_ins_rows; /* per dim; the last one repeats */
  int ins_dims[MAX_LIST], n_ins_dims;
  int ins_clients[MAX_LIST], n_ins_clients;
  bool varchar;
  /* search */
  const char *dataset;   /* prefix: PREFIX_base.fvecs, _query.fvecs, ... */
  int64_t s_base;        /* rows of the base used (0: all) */
  int s_queries;         /* queries measured (0: all) */
  int s_clients[MAX_LIST], n_s_clients;
  bool blocking_clients; /* a thread per server client (default: one driver thread) */
  int inproc_threads;
  int hnsw_m, hnsw_efc;
  int ef;                /* 0: sweep */
  /* recovery */
  int64_t r_rows;
  double r_flush_frac;
  int r_dim;
  uint64_t seed;
} opts;

/* ---- small utilities ------------------------------------------------------ */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "load_gen: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[load] ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL)
    die("out of memory (%zu x %zu bytes)", n, size);
  return p;
}

/* xorshift64*: fast, seeded, one state per thread. */
static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 2685821657736338717ULL;
}

/* Uniform in [-1, 1). */
static float rng_float(uint64_t *s) {
  return (float)((double)(rng_next(s) >> 40) / (double)(1ULL << 23)) - 1.0f;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* p-th percentile (0..100) of n values, sorted in place. */
static double percentile(double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  size_t i = (size_t)ceil(p / 100.0 * (double)n);
  return v[i == 0 ? 0 : i - 1];
}

static int parse_list(const char *s, int *out, int max) {
  int n = 0;
  char *end;
  while (*s && n < max) {
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0)
      die("bad number list '%s'", s);
    out[n++] = (int)v;
    s = *end == ',' ? end + 1 : end;
  }
  return n;
}

/* ---- figures -------------------------------------------------------------- */

#define MAX_FIGURES 128

typedef struct figure {
  char name[48];
  char labels[96];
  double value;
} figure;

static figure g_figures[MAX_FIGURES];
static int g_n_figures;

/* Record and print one figure: `load metric=NAME LABELS value=V`. */
static void figure_put(const char *name, const char *labels, double value) {
  printf("load metric=%s%s%s value=%.6g\n", name, labels[0] ? " " : "", labels,
         value);
  fflush(stdout);
  if (g_n_figures < MAX_FIGURES) {
    figure *f = &g_figures[g_n_figures++];
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->labels, sizeof f->labels, "%s", labels);
    f->value = value;
  }
}

static void figures_table(void) {
  printf("\n%-30s %-44s %14s\n", "metric", "labels", "value");
  for (int i = 0; i < g_n_figures; i++)
    printf("%-30s %-44s %14.6g\n", g_figures[i].name, g_figures[i].labels,
           g_figures[i].value);
}

/* The 1-minute load average of the host: the figures of a run on a shared
 * machine are only as good as this is low. */
static void put_loadavg(const char *phase) {
  double l1 = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f != NULL) {
    if (fscanf(f, "%lf", &l1) != 1)
      l1 = -1;
    fclose(f);
  }
  char labels[48];
  snprintf(labels, sizeof labels, "phase=%s", phase);
  figure_put("host_loadavg_1m", labels, l1);
}

/* ---- the server process --------------------------------------------------- */

typedef struct server {
  pid_t pid;
  int port;
  char target[64];    /* "127.0.0.1:PORT" */
  int out_fd;         /* its stdout (after the listening line: drained) */
  FILE *log;          /* everything it printed goes here */
  pthread_t drain;
  bool draining;
} server;

static pid_t g_live_pid; /* killed at exit if still running */

static void kill_live_server(void) {
  if (g_live_pid > 0) {
    kill(g_live_pid, SIGKILL);
    waitpid(g_live_pid, NULL, 0);
  }
}

static void *drain_main(void *arg) {
  server *s = arg;
  char buf[4096];
  ssize_t n;
  while ((n = read(s->out_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      fwrite(buf, 1, (size_t)n, s->log);
  fflush(s->log);
  return NULL;
}

/* Reads one line from fd into buf (blocking, deadline in seconds). */
static bool read_line(int fd, char *buf, size_t cap, double deadline) {
  size_t n = 0;
  while (n + 1 < cap) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ms = (int)((deadline - now_s()) * 1000);
    if (ms <= 0 || poll(&p, 1, ms) <= 0)
      return false;
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r <= 0)
      return false;
    if (c == '\n')
      break;
    buf[n++] = c;
  }
  buf[n] = '\0';
  return true;
}

static void exec_server(const char *bin, const char *dir, int out_fd, int log_fd) {
  dup2(out_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  execl(bin, bin, "standalone", "--port", "0", "--http-port", "0",
        "--data-dir", dir, "--grpc.host=127.0.0.1", "--http.host=127.0.0.1",
        (char *)NULL);
  fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
  _exit(127);
}

/* Starts `cairn standalone` on dir; returns once it printed its listening
 * line (*listen_s: seconds from fork to that line). Output goes to log. */
static void server_start(const opts *o, const char *dir, const char *log_path,
                         server *s, double *listen_s) {
  memset(s, 0, sizeof *s);
  s->log = fopen(log_path, "a");
  if (s->log == NULL)
    die("cannot open %s: %s", log_path, strerror(errno));
  int pfd[2];
  if (pipe(pfd) != 0)
    die("pipe: %s", strerror(errno));
  fflush(NULL);
  double t0 = now_s();
  pid_t pid = fork();
  if (pid < 0)
    die("fork: %s", strerror(errno));
  if (pid == 0) {
    close(pfd[0]);
    exec_server(o->bin, dir, pfd[1], fileno(s->log));
  }
  close(pfd[1]);
  s->pid = g_live_pid = pid;
  s->out_fd = pfd[0];
  char line[512];
  double deadline = t0 + 300;
  for (;;) {
    if (!read_line(s->out_fd, line, sizeof line, deadline))
      die("the server did not print its listening line (see %s)", log_path);
    fprintf(s->log, "%s\n", line);
    char grpc[128], http[128];
    if (sscanf(line, "cairn listening grpc=%127s http=%127s", grpc, http) == 2) {
      const char *colon = strrchr(grpc, ':');
      s->port = colon ? atoi(colon + 1) : 0;
      break;
    }
  }
  *listen_s = now_s() - t0;
  if (s->port <= 0)
    die("cannot parse the server's port from '%s'", line);
  snprintf(s->target, sizeof s->target, "127.0.0.1:%d", s->port);
  if (pthread_create(&s->drain, NULL, drain_main, s) != 0)
    die("cannot start a thread");
  s->draining = true;
}

static void server_reap(server *s) {
  waitpid(s->pid, NULL, 0);
  if (g_live_pid == s->pid)
    g_live_pid = 0;
  if (s->draining)
    pthread_join(s->drain, NULL);
  close(s->out_fd);
  fclose(s->log);
  s->pid = 0;
}

static void server_kill9(server *s) {
  kill(s->pid, SIGKILL);
  server_reap(s);
}

/* SIGTERM, then SIGKILL when it has not exited after 20 s. */
static void server_stop(server *s) {
  kill(s->pid, SIGTERM);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; i++) {
    gone = waitpid(s->pid, NULL, WNOHANG) == s->pid;
    if (!gone)
      usleep(100000);
  }
  if (!gone) {
    note("server %d ignored SIGTERM for 20 s: killing it", (int)s->pid);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
  }
  g_live_pid = 0;
  if (s->draining)
    pthread_join(s->drain, NULL);
  close(s->out_fd);
  fclose(s->log);
  s->pid = 0;
}

/* A "Key: N kB" field of /proc/PID/status in bytes, or 0. */
static size_t status_bytes(pid_t pid, const char *key) {
  char path[64], line[256], fmt[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  snprintf(fmt, sizeof fmt, "%s: %%zu kB", key);
  FILE *f = fopen(path, "r");
  size_t kb = 0;
  if (f == NULL)
    return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, fmt, &kb) == 1)
      break;
  fclose(f);
  return kb * 1024;
}

static size_t rss_bytes(pid_t pid) { return status_bytes(pid, "VmRSS"); }

/* Prints (stderr) the resident memory of a process by mapping name
 * (anonymous mappings together, files by their directory), largest first:
 * where the RSS figure comes from. */
#define SMAPS_MAX 64
static void smaps_note(pid_t pid) {
  char path[64], line[4200], name[SMAPS_MAX][256], cur[256] = "";
  size_t kb[SMAPS_MAX] = {0}, v;
  int n = 0;
  snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f)) {
    char file[4096] = "";
    unsigned long lo, hi, inode;
    /* A mapping's header: "lo-hi perms offset dev inode [path]"; the
     * fields after it start with a capitalised key ("Rss:"). */
    if (line[0] >= 'A' && line[0] <= 'Z') {
      if (sscanf(line, "Rss: %zu kB", &v) != 1)
        continue;
      int i = 0;
      while (i < n && strcmp(name[i], cur) != 0)
        i++;
      if (i == n && n < SMAPS_MAX)
        snprintf(name[n++], sizeof name[0], "%s", cur);
      if (i < n)
        kb[i] += v;
    } else if (sscanf(line, "%lx-%lx %*s %*x %*s %lu %4095s", &lo, &hi, &inode, file) >= 3) {
      char *obj = strstr(file, "/objects/files/");
      char *slash = strrchr(file, '/');
      if (obj != NULL) { /* object store: by kind (insert_log, index_files) */
        const char *kind = obj + strlen("/objects/files/");
        size_t len = strcspn(kind, "/");
        memmove(file, kind, len);
        file[len] = '\0';
      } else if (slash != NULL && slash != file)
        *slash = '\0'; /* other files: by directory */
      snprintf(cur, sizeof cur, "%.255s", file[0] ? file : "[anon]");
    }
  }
  fclose(f);
  for (int k = 0; k < 6 && n > 0; k++) {
    int best = 0;
    for (int i = 1; i < n; i++)
      if (kb[i] > kb[best])
        best = i;
    if (kb[best] == 0)
      break;
    note("    RSS %8.1f MB  %s", (double)kb[best] / 1024.0, name[best]);
    kb[best] = 0;
  }
}

/* Context switches (voluntary + involuntary) of every thread of a
 * process so far. */
static uint64_t ctx_switches(pid_t pid) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
  DIR *d = opendir(dir);
  if (d == NULL)
    return 0;
  uint64_t sum = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[600], line[256];
    snprintf(path, sizeof path, "%s/%.255s/status", dir, e->d_name);
    FILE *f = fopen(path, "r");
    unsigned long long v;
    while (f != NULL && fgets(line, sizeof line, f))
      if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
          sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
        sum += v;
    if (f != NULL)
      fclose(f);
  }
  closedir(d);
  return sum;
}

/* CPU seconds (user + system) used so far by a process (pid > 0) or by
 * this one (pid 0). */
static double cpu_seconds(pid_t pid) {
  if (pid == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
  }
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long long ut = 0, st = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                          &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Sum of the sizes of regular files under dir whose path contains part. */
static uint64_t du_matching(const char *dir, const char *part, bool inside) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return 0;
  uint64_t sum = 0;
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0)
      continue;
    bool in = inside || strstr(e->d_name, part) != NULL;
    if (S_ISDIR(st.st_mode))
      sum += du_matching(path, part, in);
    else if (S_ISREG(st.st_mode) && in)
      sum += (uint64_t)st.st_size;
  }
  closedir(d);
  return sum;
}

static void rm_rf(const char *path) {
  char cmd[4200];
  if (strncmp(path, "/", 1) != 0 || strlen(path) < 6)
    die("refusing to remove '%s'", path);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0)
    note("could not remove %s", path);
}

/* ---- Milvus calls ---------------------------------------------------------- */

typedef Milvus__Proto__Common__Status pb_status;
typedef Milvus__Proto__Common__KeyValuePair pb_kv;

/* A client: one gRPC channel with its OWN TCP connection, and the
 * completion queue its calls wait on. gRPC core shares one connection
 * between channels of equal target and arguments (its global subchannel
 * pool), so N client threads on cairn_rpc_client_new_grpc channels would
 * multiplex over ONE HTTP/2 connection: not N clients, and a thread would
 * often be woken to hand another thread's reply over. A local subchannel
 * pool per channel gives each client its connection. Calls are made by one
 * thread at a time (each client thread owns its client). */
typedef struct lg_client {
  grpc_channel *channel;
  grpc_completion_queue *cq; /* pluck queue reused by every call */
} lg_client;

/* A channel with its own TCP connection (a local subchannel pool). */
static grpc_channel *channel_new(const char *target) {
  grpc_arg args[5];
  memset(args, 0, sizeof args);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = (int)MAX_MSG;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = (int)MAX_MSG;
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
  args[2].value.integer = 1;
  /* The load generator shares the cores with the server: no transparent
   * retries (the retry filter keeps a copy of every request) and no BDP
   * pings (messages are small, the link is loopback). */
  args[3].type = GRPC_ARG_INTEGER;
  args[3].key = GRPC_ARG_ENABLE_RETRIES;
  args[3].value.integer = 0;
  args[4].type = GRPC_ARG_INTEGER;
  args[4].key = GRPC_ARG_HTTP2_BDP_PROBE;
  args[4].value.integer = 0;
  grpc_channel_args channel_args = {.num_args = 5, .args = args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  if (ch == NULL)
    die("gRPC client for %s: cannot create a channel", target);
  return ch;
}

static lg_client *client_new(const char *target) {
  lg_client *c = xcalloc(1, sizeof *c);
  grpc_init();
  c->channel = channel_new(target);
  c->cq = grpc_completion_queue_create_for_pluck(NULL);
  if (c->cq == NULL)
    die("gRPC client for %s: cannot create a completion queue", target);
  return c;
}

static void client_free(lg_client *c) {
  if (c == NULL)
    return;
  grpc_completion_queue_shutdown(c->cq);
  grpc_completion_queue_destroy(c->cq);
  grpc_channel_destroy(c->channel);
  free(c);
  grpc_shutdown();
}

/* One unary call on the gRPC C core (as core/rpc/client.c does it: one
 * batch, then wait); the reply is unpacked into arena. false with a message
 * in why on a transport failure or a non-OK gRPC status. */
/* The ops of one unary call (as core/rpc/client.c makes it): send
 * metadata, message and close, receive metadata, message and status. The
 * receive slots live in *cs. */
typedef struct call_slots {
  grpc_byte_buffer *in;
  grpc_metadata_array initial, trailing;
  grpc_status_code status;
  grpc_slice details;
} call_slots;

static size_t unary_ops(grpc_op ops[6], grpc_byte_buffer *out, call_slots *cs) {
  cs->in = NULL;
  grpc_metadata_array_init(&cs->initial);
  grpc_metadata_array_init(&cs->trailing);
  cs->status = GRPC_STATUS_UNKNOWN;
  cs->details = grpc_empty_slice();
  memset(ops, 0, 6 * sizeof *ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = out;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &cs->initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &cs->in;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.status = &cs->status;
  ops[5].data.recv_status_on_client.status_details = &cs->details;
  ops[5].data.recv_status_on_client.trailing_metadata = &cs->trailing;
  return 6;
}

/* After the call: false with why unless the status is OK; frees all but
 * cs->in. */
static bool call_slots_done(call_slots *cs, const char *method, char *why, size_t why_cap) {
  bool ok = cs->status == GRPC_STATUS_OK;
  if (!ok) {
    char *text = grpc_slice_to_c_string(cs->details);
    snprintf(why, why_cap, "%s: transport: gRPC status %d: %s", method, (int)cs->status, text);
    gpr_free(text);
  }
  grpc_metadata_array_destroy(&cs->initial);
  grpc_metadata_array_destroy(&cs->trailing);
  grpc_slice_unref(cs->details);
  return ok;
}

static gpr_timespec deadline_after(int64_t timeout_ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                      gpr_time_from_millis(timeout_ms > 0 ? timeout_ms : 30000, GPR_TIMESPAN));
}

/* A packed reply unpacked into arena, or NULL when it does not parse. */
static ProtobufCMessage *unpack_reply(grpc_byte_buffer *in,
                                      const ProtobufCMessageDescriptor *desc,
                                      cairn_arena *arena) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, in))
    return NULL;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  ProtobufCMessage *m = protobuf_c_message_unpack(desc, cairn_arena_protobuf(arena),
                                                  GRPC_SLICE_LENGTH(all),
                                                  GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  return m;
}

/* One blocking unary call with a packed request; *in receives the packed
 * reply (the caller destroys it). */
static bool rpc_call_bytes(lg_client *c, const char *method, grpc_byte_buffer *out,
                           grpc_byte_buffer **in, int64_t timeout_ms, char *why,
                           size_t why_cap) {
  grpc_slice path = grpc_slice_from_static_string(method);
  grpc_call *call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS,
                                             c->cq, path, NULL, deadline_after(timeout_ms),
                                             NULL);
  call_slots cs;
  grpc_op ops[6];
  size_t n_ops = unary_ops(ops, out, &cs);
  bool ok = false;
  if (grpc_call_start_batch(call, ops, n_ops, call, NULL) != GRPC_CALL_OK) {
    snprintf(why, why_cap, "%s: transport: cannot start the call", method);
    call_slots_done(&cs, method, why, 0);
  } else {
    grpc_completion_queue_pluck(c->cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    ok = call_slots_done(&cs, method, why, why_cap);
  }
  *in = cs.in;
  grpc_call_unref(call);
  return ok;
}

/* One unary call on the gRPC C core; the reply is unpacked into arena.
 * false with a message in why on a transport failure or a non-OK gRPC
 * status. */
static bool rpc_call(lg_client *c, const char *method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *reply_desc, cairn_arena *arena,
                     ProtobufCMessage **reply, int64_t timeout_ms, char *why,
                     size_t why_cap) {
  size_t n = protobuf_c_message_get_packed_size(req);
  grpc_slice slice = grpc_slice_malloc(n);
  protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(slice));
  grpc_byte_buffer *out = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  grpc_byte_buffer *in = NULL;
  bool ok = rpc_call_bytes(c, method, out, &in, timeout_ms, why, why_cap);
  if (ok && in == NULL) {
    snprintf(why, why_cap, "%s: transport: no reply message", method);
    ok = false;
  } else if (ok) {
    *reply = unpack_reply(in, reply_desc, arena);
    ok = *reply != NULL;
    if (!ok)
      snprintf(why, why_cap, "%s: transport: malformed reply", method);
  }
  grpc_byte_buffer_destroy(out);
  if (in != NULL)
    grpc_byte_buffer_destroy(in);
  return ok;
}

/* One unary call; false (with a message in why) on a transport error or a
 * non-success Status. status_of picks the Status out of the reply. */
static bool call(lg_client *c, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *reply_desc, cairn_arena *arena,
                 ProtobufCMessage **reply, int64_t timeout_ms, char *why,
                 size_t why_cap) {
  *reply = NULL;
  if (!rpc_call(c, method, req, reply_desc, arena, reply, timeout_ms, why, why_cap))
    return false;
  const pb_status *st = NULL;
  if (reply_desc == &milvus__proto__common__status__descriptor)
    st = (const pb_status *)*reply;
  else {
    /* Every other reply used here has `status` as field 1. */
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(reply_desc, "status");
    if (fd != NULL)
      st = *(pb_status *const *)((const char *)*reply + fd->offset);
  }
  if (st != NULL && (st->code != 0 || st->error_code != 0)) {
    snprintf(why, why_cap, "%s: code %d: %s", method,
             st->code ? st->code : (int)st->error_code, st->reason);
    return false;
  }
  return true;
}

/* call() or die. The reply lives in arena. */
static ProtobufCMessage *must_call(lg_client *c, const char *method,
                                   const ProtobufCMessage *req,
                                   const ProtobufCMessageDescriptor *reply_desc,
                                   cairn_arena *arena, int64_t timeout_ms) {
  char why[1024];
  ProtobufCMessage *reply = NULL;
  if (!call(c, method, req, reply_desc, arena, &reply, timeout_ms, why, sizeof why))
    die("%s", why);
  return reply;
}

static cairn_arena *arena_new(void) {
  cairn_arena *a = cairn_arena_new();
  if (a == NULL)
    die("out of memory");
  return a;
}

static void drop_collection(lg_client *c, const char *name) {
  Milvus__Proto__Milvus__DropCollectionRequest req =
      MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  cairn_arena *a = arena_new();
  char why[1024];
  ProtobufCMessage *reply;
  call(c, SVC "DropCollection", &req.pb_base, &milvus__proto__common__status__descriptor,
       a, &reply, 60000, why, sizeof why); /* absent is fine */
  cairn_arena_free(a);
}

/* Schema: pk Int64 (100), vec FloatVector dim (101), optional title
 * VarChar(64) (102). Consistency Bounded, like the SDKs' default. */
static void create_collection(lg_client *c, const char *name, int dim,
                              bool varchar) {
  Milvus__Proto__Schema__FieldSchema f[3], *fp[3];
  pb_kv dim_kv = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *dim_kvp = &dim_kv;
  pb_kv len_kv = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, *len_kvp = &len_kv;
  char dim_s[16];
  snprintf(dim_s, sizeof dim_s, "%d", dim);
  dim_kv.key = "dim";
  dim_kv.value = dim_s;
  len_kv.key = "max_length";
  len_kv.value = "64";
  for (int i = 0; i < 3; i++) {
    milvus__proto__schema__field_schema__init(&f[i]);
    fp[i] = &f[i];
    f[i].fieldid = 100 + i;
  }
  f[0].name = "pk";
  f[0].is_primary_key = 1;
  f[0].data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
  f[1].name = "vec";
  f[1].data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector;
  f[1].n_type_params = 1;
  f[1].type_params = &dim_kvp;
  f[2].name = "title";
  f[2].data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
  f[2].n_type_params = 1;
  f[2].type_params = &len_kvp;
  Milvus__Proto__Schema__CollectionSchema schema =
      MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
  schema.name = (char *)name;
  schema.n_fields = varchar ? 3 : 2;
  schema.fields = fp;
  size_t len = protobuf_c_message_get_packed_size(&schema.base);
  uint8_t *buf = xcalloc(1, len);
  protobuf_c_message_pack(&schema.base, buf);
  Milvus__Proto__Milvus__CreateCollectionRequest req =
      MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.schema.data = buf;
  req.schema.len = len;
  req.shards_num = 1;
  req.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded;
  cairn_arena *a = arena_new();
  must_call(c, SVC "CreateCollection", &req.pb_base,
            &milvus__proto__common__status__descriptor, a, 60000);
  cairn_arena_free(a);
  free(buf);
}

static void flush_collection(lg_client *c, const char *name) {
  Milvus__Proto__Milvus__FlushRequest req = MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
  char *names[1] = {(char *)name};
  req.n_collection_names = 1;
  req.collection_names = names;
  cairn_arena *a = arena_new();
  must_call(c, SVC "Flush", &req.pb_base, &milvus__proto__milvus__flush_response__descriptor,
            a, 600000);
  cairn_arena_free(a);
}

static void create_index(lg_client *c, const char *name, const char *type,
                         const char *metric, const char *params_json) {
  pb_kv kv[3], *kvp[3];
  const char *keys[3] = {"index_type", "metric_type", "params"};
  const char *vals[3] = {type, metric, params_json};
  for (int i = 0; i < 3; i++) {
    milvus__proto__common__key_value_pair__init(&kv[i]);
    kv[i].key = (char *)keys[i];
    kv[i].value = (char *)vals[i];
    kvp[i] = &kv[i];
  }
  Milvus__Proto__Milvus__CreateIndexRequest req =
      MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.field_name = "vec";
  req.n_extra_params = 3;
  req.extra_params = kvp;
  cairn_arena *a = arena_new();
  must_call(c, SVC "CreateIndex", &req.pb_base,
            &milvus__proto__common__status__descriptor, a, 60000);
  cairn_arena_free(a);
}

/* Polls DescribeIndex until indexed_rows == total_rows > 0 (or the state
 * says Failed); returns the indexed rows. */
static int64_t wait_index(lg_client *c, const char *name, double timeout_s) {
  Milvus__Proto__Milvus__DescribeIndexRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.field_name = "vec";
  double deadline = now_s() + timeout_s, last_note = now_s();
  for (;;) {
    cairn_arena *a = arena_new();
    Milvus__Proto__Milvus__DescribeIndexResponse *r =
        (Milvus__Proto__Milvus__DescribeIndexResponse *)must_call(
            c, SVC "DescribeIndex", &req.pb_base,
            &milvus__proto__milvus__describe_index_response__descriptor, a, 60000);
    if (r->n_index_descriptions < 1)
      die("DescribeIndex of %s: no index", name);
    Milvus__Proto__Milvus__IndexDescription *d = r->index_descriptions[0];
    int64_t indexed = d->indexed_rows, total = d->total_rows;
    if (d->state == MILVUS__PROTO__COMMON__INDEX_STATE__Failed)
      die("index build of %s failed: %s", name, d->index_state_fail_reason);
    cairn_arena_free(a);
    if (total > 0 && indexed == total)
      return indexed;
    if (now_s() > deadline)
      die("index of %s: %" PRId64 " of %" PRId64 " rows after %.0f s", name,
          indexed, total, timeout_s);
    if (now_s() - last_note > 15) {
      note("  index %s: %" PRId64 " / %" PRId64 " rows", name, indexed, total);
      last_note = now_s();
    }
    usleep(100000);
  }
}

static void load_collection(lg_client *c, const char *name, double timeout_s) {
  Milvus__Proto__Milvus__LoadCollectionRequest req =
      MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.replica_number = 1;
  cairn_arena *a = arena_new();
  must_call(c, SVC "LoadCollection", &req.pb_base,
            &milvus__proto__common__status__descriptor, a, 600000);
  cairn_arena_free(a);
  Milvus__Proto__Milvus__GetLoadStateRequest sreq =
      MILVUS__PROTO__MILVUS__GET_LOAD_STATE_REQUEST__INIT;
  sreq.collection_name = (char *)name;
  double deadline = now_s() + timeout_s;
  for (;;) {
    a = arena_new();
    Milvus__Proto__Milvus__GetLoadStateResponse *r =
        (Milvus__Proto__Milvus__GetLoadStateResponse *)must_call(
            c, SVC "GetLoadState", &sreq.pb_base,
            &milvus__proto__milvus__get_load_state_response__descriptor, a, 60000);
    bool done = r->state == MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded;
    cairn_arena_free(a);
    if (done)
      return;
    if (now_s() > deadline)
      die("collection %s not loaded after %.0f s", name, timeout_s);
    usleep(50000);
  }
}

/* count(*) with Strong consistency; -1 (and why) when the call fails. */
static int64_t count_rows(lg_client *c, const char *name, char *why, size_t cap) {
  Milvus__Proto__Milvus__QueryRequest req = MILVUS__PROTO__MILVUS__QUERY_REQUEST__INIT;
  char *out[1] = {"count(*)"};
  req.collection_name = (char *)name;
  req.expr = "";
  req.n_output_fields = 1;
  req.output_fields = out;
  req.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Strong;
  cairn_arena *a = arena_new();
  ProtobufCMessage *reply = NULL;
  int64_t n = -1;
  if (call(c, SVC "Query", &req.pb_base, &milvus__proto__milvus__query_results__descriptor,
           a, &reply, 30000, why, cap)) {
    Milvus__Proto__Milvus__QueryResults *r = (Milvus__Proto__Milvus__QueryResults *)reply;
    if (r->n_fields_data == 1 && r->fields_data[0]->field_case ==
                                     MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS &&
        r->fields_data[0]->scalars->data_case ==
            MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA &&
        r->fields_data[0]->scalars->long_data->n_data == 1)
      n = r->fields_data[0]->scalars->long_data->data[0];
    else
      snprintf(why, cap, "count(*) reply has an unexpected shape");
  }
  cairn_arena_free(a);
  return n;
}

/* One search of one query; ids[TOPK] receive the hits (-1 padded).
 * Returns false with why on failure. */
/* The packed SearchRequest of one query (nq=1, top-10, ef) into a new
 * byte buffer (the caller destroys it). */
static grpc_byte_buffer *search_request(const char *name, const char *metric,
                                        const float *q, int dim, int ef) {
  char ef_json[48];
  snprintf(ef_json, sizeof ef_json, "{\"ef\": %d}", ef);
  const char *keys[4] = {"anns_field", "topk", "metric_type", "params"};
  const char *vals[4] = {"vec", "10", metric, ef_json};
  pb_kv kv[4], *kvp[4];
  for (int i = 0; i < 4; i++) {
    milvus__proto__common__key_value_pair__init(&kv[i]);
    kv[i].key = (char *)keys[i];
    kv[i].value = (char *)vals[i];
    kvp[i] = &kv[i];
  }
  ProtobufCBinaryData v = {.len = (size_t)dim * sizeof(float), .data = (uint8_t *)q};
  Milvus__Proto__Common__PlaceholderValue pv = MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT;
  Milvus__Proto__Common__PlaceholderValue *pvp = &pv;
  pv.tag = "$0";
  pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
  pv.n_values = 1;
  pv.values = &v;
  Milvus__Proto__Common__PlaceholderGroup pg = MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
  pg.n_placeholders = 1;
  pg.placeholders = &pvp;
  size_t pg_len = protobuf_c_message_get_packed_size(&pg.base);
  uint8_t *pg_buf = xcalloc(1, pg_len + 1);
  protobuf_c_message_pack(&pg.base, pg_buf);
  Milvus__Proto__Milvus__SearchRequest req = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.dsl = "";
  req.dsl_type = MILVUS__PROTO__COMMON__DSL_TYPE__BoolExprV1;
  req.n_search_params = 4;
  req.search_params = kvp;
  req.nq = 1;
  req.use_default_consistency = 1;
  req.search_input_case = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP;
  req.placeholder_group.data = pg_buf;
  req.placeholder_group.len = pg_len;
  size_t n = protobuf_c_message_get_packed_size(&req.pb_base);
  grpc_slice slice = grpc_slice_malloc(n);
  protobuf_c_message_pack(&req.pb_base, GRPC_SLICE_START_PTR(slice));
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  free(pg_buf);
  return bb;
}

/* The hits of a packed SearchResults into ids[TOPK] (-1 padded); false
 * with a message in why when it is not a successful search reply. */
static bool search_reply_ids(grpc_byte_buffer *in, int64_t *ids, char *why, size_t cap) {
  for (int i = 0; i < TOPK; i++)
    ids[i] = -1;
  if (in == NULL) {
    snprintf(why, cap, "Search: no reply message");
    return false;
  }
  cairn_arena *a = arena_new();
  Milvus__Proto__Milvus__SearchResults *r = (Milvus__Proto__Milvus__SearchResults *)
      unpack_reply(in, &milvus__proto__milvus__search_results__descriptor, a);
  bool ok = false;
  if (r == NULL) {
    snprintf(why, cap, "Search: malformed reply");
  } else if (r->status != NULL && (r->status->code != 0 || r->status->error_code != 0)) {
    snprintf(why, cap, "Search: code %d: %s",
             r->status->code ? r->status->code : (int)r->status->error_code,
             r->status->reason);
  } else if (r->results == NULL || r->results->ids == NULL ||
             r->results->ids->id_field_case != MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID) {
    snprintf(why, cap, "search reply without int ids");
  } else {
    const Milvus__Proto__Schema__LongArray *got = r->results->ids->int_id;
    size_t n = got->n_data < TOPK ? got->n_data : TOPK;
    for (size_t i = 0; i < n; i++)
      ids[i] = got->data[i];
    ok = true;
  }
  cairn_arena_free(a);
  return ok;
}

/* One search of one query as a blocking call; ids[TOPK] receive the hits. */
static bool search_one(lg_client *c, const char *name, const char *metric,
                       const float *q, int dim, int ef, int64_t *ids, char *why,
                       size_t cap) {
  grpc_byte_buffer *out = search_request(name, metric, q, dim, ef);
  grpc_byte_buffer *in = NULL;
  bool ok = rpc_call_bytes(c, SVC "Search", out, &in, 30000, why, cap) &&
            search_reply_ids(in, ids, why, cap);
  grpc_byte_buffer_destroy(out);
  if (in != NULL)
    grpc_byte_buffer_destroy(in);
  return ok;
}

/* ---- inserting -------------------------------------------------------------- */

/* One insert thread: pks [begin, end) in batches of BATCH_ROWS. Vectors come
 * from src (row pk - src_base) or, when src is NULL, from a pool of random
 * batches. */
typedef struct ins_job {
  const char *target, *coll;
  int dim;
  bool varchar;
  int64_t begin, end;
  const float *src;
  int64_t src_base;
  uint64_t seed;
  char why[1024]; /* out: set on failure */
  bool failed;
} ins_job;

typedef struct ins_req {
  Milvus__Proto__Milvus__InsertRequest req;
  Milvus__Proto__Schema__FieldData fd[3], *fdp[3];
  Milvus__Proto__Schema__ScalarField pk_sf, title_sf;
  Milvus__Proto__Schema__LongArray pk_arr;
  Milvus__Proto__Schema__StringArray title_arr;
  Milvus__Proto__Schema__VectorField vf;
  Milvus__Proto__Schema__FloatArray vec_arr;
  int64_t pks[BATCH_ROWS];
  char *titles[BATCH_ROWS];
  char title_buf[BATCH_ROWS][24];
} ins_req;

static void ins_req_init(ins_req *r, const char *coll, int dim, bool varchar) {
  milvus__proto__milvus__insert_request__init(&r->req);
  for (int i = 0; i < 3; i++) {
    milvus__proto__schema__field_data__init(&r->fd[i]);
    r->fdp[i] = &r->fd[i];
  }
  milvus__proto__schema__scalar_field__init(&r->pk_sf);
  milvus__proto__schema__scalar_field__init(&r->title_sf);
  milvus__proto__schema__long_array__init(&r->pk_arr);
  milvus__proto__schema__string_array__init(&r->title_arr);
  milvus__proto__schema__vector_field__init(&r->vf);
  milvus__proto__schema__float_array__init(&r->vec_arr);
  r->pk_arr.data = r->pks;
  r->pk_sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA;
  r->pk_sf.long_data = &r->pk_arr;
  r->fd[0].type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64;
  r->fd[0].field_name = "pk";
  r->fd[0].field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
  r->fd[0].scalars = &r->pk_sf;
  r->vf.dim = dim;
  r->vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
  r->vf.float_vector = &r->vec_arr;
  r->fd[1].type = MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector;
  r->fd[1].field_name = "vec";
  r->fd[1].field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
  r->fd[1].vectors = &r->vf;
  for (int i = 0; i < BATCH_ROWS; i++)
    r->titles[i] = r->title_buf[i];
  r->title_arr.data = r->titles;
  r->title_sf.data_case = MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA;
  r->title_sf.string_data = &r->title_arr;
  r->fd[2].type = MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar;
  r->fd[2].field_name = "title";
  r->fd[2].field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_SCALARS;
  r->fd[2].scalars = &r->title_sf;
  r->req.collection_name = (char *)coll;
  r->req.n_fields_data = varchar ? 3 : 2;
  r->req.fields_data = r->fdp;
}

/* Point the request at rows [pk, pk + n) with the vectors vecs. */
static void ins_req_fill(ins_req *r, int64_t pk, size_t n, int dim, float *vecs) {
  for (size_t i = 0; i < n; i++) {
    r->pks[i] = pk + (int64_t)i;
    snprintf(r->title_buf[i], sizeof r->title_buf[i], "title-%012" PRId64, pk + (int64_t)i);
  }
  r->pk_arr.n_data = n;
  r->title_arr.n_data = n;
  r->vec_arr.n_data = n * (size_t)dim;
  r->vec_arr.data = vecs;
  r->req.num_rows = (uint32_t)n;
}

static void *ins_main(void *arg) {
  ins_job *j = arg;
  lg_client *c = client_new(j->target);
  ins_req *r = xcalloc(1, sizeof *r);
  ins_req_init(r, j->coll, j->dim, j->varchar);
  float *pool = NULL;
  size_t per = (size_t)BATCH_ROWS * (size_t)j->dim;
  if (j->src == NULL) {
    pool = xcalloc(POOL_BATCHES * per, sizeof(float));
    uint64_t s = j->seed | 1;
    for (size_t i = 0; i < POOL_BATCHES * per; i++)
      pool[i] = rng_float(&s);
  }
  for (int64_t pk = j->begin, b = 0; pk < j->end && !j->failed; pk += BATCH_ROWS, b++) {
    size_t n = (size_t)(j->end - pk < BATCH_ROWS ? j->end - pk : BATCH_ROWS);
    float *vecs = j->src ? (float *)j->src + (size_t)(pk - j->src_base) * (size_t)j->dim
                         : pool + (size_t)(b % POOL_BATCHES) * per;
    ins_req_fill(r, pk, n, j->dim, vecs);
    cairn_arena *a = arena_new();
    ProtobufCMessage *reply = NULL;
    if (!call(c, SVC "Insert", &r->req.pb_base,
              &milvus__proto__milvus__mutation_result__descriptor, a, &reply, 120000,
              j->why, sizeof j->why))
      j->failed = true;
    else if (((Milvus__Proto__Milvus__MutationResult *)reply)->insert_cnt != (int64_t)n) {
      snprintf(j->why, sizeof j->why, "Insert acknowledged %" PRId64 " of %zu rows",
               ((Milvus__Proto__Milvus__MutationResult *)reply)->insert_cnt, n);
      j->failed = true;
    }
    cairn_arena_free(a);
  }
  free(pool);
  free(r);
  client_free(c);
  return NULL;
}

/* Insert pks [0, rows) from `clients` threads, each a contiguous run of
 * whole batches; returns the wall seconds. */
static double insert_rows(const char *target, const char *coll, int dim, bool varchar,
                          int64_t rows, int clients, const float *src, uint64_t seed) {
  ins_job *jobs = xcalloc((size_t)clients, sizeof *jobs);
  pthread_t *th = xcalloc((size_t)clients, sizeof *th);
  int64_t batches = (rows + BATCH_ROWS - 1) / BATCH_ROWS;
  for (int i = 0; i < clients; i++) {
    int64_t b0 = batches * i / clients, b1 = batches * (i + 1) / clients;
    jobs[i] = (ins_job){.target = target, .coll = coll, .dim = dim, .varchar = varchar,
                        .begin = b0 * BATCH_ROWS,
                        .end = b1 * BATCH_ROWS < rows ? b1 * BATCH_ROWS : rows,
                        .src = src, .src_base = 0, .seed = seed + 7919u * (uint64_t)i};
  }
  double t0 = now_s();
  for (int i = 0; i < clients; i++)
    if (pthread_create(&th[i], NULL, ins_main, &jobs[i]) != 0)
      die("cannot start a thread");
  for (int i = 0; i < clients; i++)
    pthread_join(th[i], NULL);
  double wall = now_s() - t0;
  for (int i = 0; i < clients; i++)
    if (jobs[i].failed)
      die("insert into %s: %s", coll, jobs[i].why);
  free(jobs);
  free(th);
  return wall;
}

/* ---- phase 1: insert throughput ---------------------------------------------- */

static void phase_insert(const opts *o) {
  char dir[4096], log_path[4200];
  snprintf(dir, sizeof dir, "%s/insert", o->work);
  snprintf(log_path, sizeof log_path, "%s/server-insert.log", o->work);
  rm_rf(dir);
  server s;
  double listen_s;
  server_start(o, dir, log_path, &s, &listen_s);
  note("insert: server pid %d on %s (%.2f s to listen)", (int)s.pid, s.target, listen_s);
  lg_client *c = client_new(s.target);
  for (int d = 0; d < o->n_ins_dims; d++) {
    for (int k = 0; k < o->n_ins_clients; k++) {
      int dim = o->ins_dims[d], clients = o->ins_clients[k];
      int64_t rows = o->ins_rows[d < o->n_ins_rows ? d : o->n_ins_rows - 1];
      char coll[64];
      snprintf(coll, sizeof coll, "load_insert_%d_%d", dim, clients);
      create_collection(c, coll, dim, o->varchar);
      double wall = insert_rows(s.target, coll, dim, o->varchar, rows, clients,
                                NULL, o->seed + (uint64_t)dim);
      double row_bytes = 8.0 + 4.0 * dim + (o->varchar ? 18.0 : 0.0);
      double rps = (double)rows / wall;
      char labels[96];
      snprintf(labels, sizeof labels, "dim=%d clients=%d", dim, clients);
      note("insert dim %d, %d clients: %" PRId64 " rows in %.2f s = %.0f rows/s, %.1f MB/s",
           dim, clients, rows, wall, rps, rps * row_bytes / 1e6);
      figure_put("insert_rows_per_s", labels, rps);
      figure_put("insert_mb_per_s", labels, rps * row_bytes / 1e6);
      drop_collection(c, coll);
    }
  }
  client_free(c);
  figure_put("insert_server_rss_mb", "", (double)rss_bytes(s.pid) / 1e6);
  server_stop(&s);
  rm_rf(dir);
}

/* ---- datasets ------------------------------------------------------------------ */

/* Reads a texmex .fvecs/.ivecs file: up to max_rows rows (0: all) of 4-byte
 * values; *dim_out, *rows_out set. Caller frees. */
static void *read_vecs(const char *path, int64_t max_rows, int *dim_out, int64_t *rows_out) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    die("cannot open %s: %s", path, strerror(errno));
  int32_t dim;
  if (fread(&dim, 4, 1, f) != 1 || dim <= 0 || dim > 65536)
    die("%s: not a vecs file", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  int64_t rows = size / (4 + 4 * (int64_t)dim);
  if (max_rows > 0 && max_rows < rows)
    rows = max_rows;
  uint32_t *out = xcalloc((size_t)rows * (size_t)dim, 4);
  for (int64_t i = 0; i < rows; i++) {
    int32_t d;
    if (fread(&d, 4, 1, f) != 1 || d != dim ||
        fread(out + (size_t)i * (size_t)dim, 4, (size_t)dim, f) != (size_t)dim)
      die("%s: bad row %" PRId64, path, i);
  }
  fclose(f);
  *dim_out = dim;
  *rows_out = rows;
  return out;
}

typedef struct dataset {
  float *base, *queries;
  int dim;
  int64_t n_base;
  int n_queries;
  int64_t *gt; /* n_queries x TOPK ids */
} dataset;

/* The exact top-10 of every query over the base, by a FLAT index. */
static void exact_gt(dataset *ds) {
  cairn_index *flat = NULL;
  cairn_error err = {0};
  if (cairn_index_new("FLAT", "COSINE", CAIRN_TYPE_FLOAT_VECTOR, ds->dim, NULL, &flat, &err) ||
      cairn_index_add(flat, (size_t)ds->n_base, ds->base, NULL, &err))
    die("FLAT ground truth: %s", err.message);
  float *scores = xcalloc((size_t)ds->n_queries * TOPK, sizeof(float));
  if (cairn_index_search(flat, (size_t)ds->n_queries, ds->queries, TOPK, NULL, NULL,
                         ds->gt, scores, &err))
    die("FLAT ground truth: %s", err.message);
  free(scores);
  cairn_index_free(flat);
}

static void dataset_load(const opts *o, dataset *ds) {
  char path[4200];
  int qdim, gdim;
  int64_t nq, ngt;
  snprintf(path, sizeof path, "%s_base.fvecs", o->dataset);
  ds->base = read_vecs(path, o->s_base, &ds->dim, &ds->n_base);
  snprintf(path, sizeof path, "%s_query.fvecs", o->dataset);
  ds->queries = read_vecs(path, o->s_queries, &qdim, &nq);
  if (qdim != ds->dim)
    die("queries have dim %d, base %d", qdim, ds->dim);
  ds->n_queries = (int)nq;
  ds->gt = xcalloc((size_t)nq * TOPK, sizeof(int64_t));
  snprintf(path, sizeof path, "%s_groundtruth.ivecs", o->dataset);
  struct stat st;
  snprintf(path, sizeof path, "%s_base.fvecs", o->dataset);
  if (stat(path, &st) != 0)
    die("cannot stat %s: %s", path, strerror(errno));
  bool whole = (int64_t)st.st_size == ds->n_base * (4 + 4 * (int64_t)ds->dim);
  if (whole) {
    snprintf(path, sizeof path, "%s_groundtruth.ivecs", o->dataset);
    int32_t *gt = read_vecs(path, nq, &gdim, &ngt);
    if (ngt != nq || gdim < TOPK)
      die("%s: %" PRId64 " rows of %d for %" PRId64 " queries", path, ngt, gdim, nq);
    for (int64_t q = 0; q < nq; q++)
      for (int i = 0; i < TOPK; i++)
        ds->gt[q * TOPK + i] = gt[q * gdim + i];
    free(gt);
  } else {
    note("search: base prefix of %" PRId64 " rows: exact ground truth by FLAT", ds->n_base);
    exact_gt(ds);
  }
}

static double recall_of(const dataset *ds, const int *qidx, const int64_t *ids, size_t n) {
  size_t hit = 0;
  for (size_t i = 0; i < n; i++) {
    const int64_t *g = ds->gt + (size_t)qidx[i] * TOPK;
    for (int a = 0; a < TOPK; a++)
      for (int b = 0; b < TOPK; b++)
        if (ids[i * TOPK + a] == g[b] && g[b] >= 0) {
          hit++;
          break;
        }
  }
  return n ? (double)hit / (double)(n * TOPK) : 0;
}

/* ---- search runs ------------------------------------------------------------------ */

/* A search run: n_queries (indices into the dataset's queries, cycled)
 * split over `threads` workers, either against the server (target) or the
 * in-process index (ix). Per-query latencies and hits come back. */
typedef struct run_spec {
  const dataset *ds;
  const char *target, *coll; /* server */
  const cairn_index *ix;     /* or in-process */
  pid_t server_pid;          /* for its CPU time; 0 in-process */
  int ef;
  int threads;   /* library threads, or concurrent server clients */
  bool async;    /* server clients driven by one thread (run_server_async) */
  size_t n; /* queries */
} run_spec;

typedef struct run_job {
  const run_spec *spec;
  size_t begin, end;
  double *lat;  /* [n], seconds */
  int64_t *ids; /* [n * TOPK] */
  char why[1024];
  bool failed;
} run_job;

typedef struct run_result {
  double qps, p50_us, p99_us, mean_us, recall;
  double cpu_us_self;   /* CPU of this process (client or library) per query */
  double cpu_us_server; /* CPU of the server per query */
  double cs_server;     /* context switches of the server's threads per query */
} run_result;

static void *run_main(void *arg) {
  run_job *j = arg;
  const run_spec *sp = j->spec;
  const dataset *ds = sp->ds;
  lg_client *c = sp->ix ? NULL : client_new(sp->target);
  cairn_search_params params = {.ef = sp->ef};
  float scores[TOPK];
  for (size_t i = j->begin; i < j->end && !j->failed; i++) {
    const float *q = ds->queries + (i % (size_t)ds->n_queries) * (size_t)ds->dim;
    double t0 = now_s();
    if (c != NULL) {
      if (!search_one(c, sp->coll, "COSINE", q, ds->dim, sp->ef, j->ids + i * TOPK, j->why,
                      sizeof j->why))
        j->failed = true;
    } else {
      cairn_error err = {0};
      if (cairn_index_search(sp->ix, 1, q, TOPK, &params, NULL, j->ids + i * TOPK, scores,
                             &err) != CAIRN_OK) {
        snprintf(j->why, sizeof j->why, "in-process search: %s", err.message);
        j->failed = true;
      }
    }
    j->lat[i] = now_s() - t0;
  }
  client_free(c);
  return NULL;
}

/* The server side of a run with every client driven by ONE thread: each
 * client is a channel (its own TCP connection) with one search in flight,
 * all completing on one queue. The server sees the same load as from
 * `threads` blocking client threads (concurrent requests, one per
 * connection) while the load generator, which shares the cores, sleeps and
 * wakes once per batch of completions instead of once per call. */
typedef struct async_slot {
  grpc_channel *channel;
  grpc_call *call;
  grpc_byte_buffer *out;
  call_slots cs;
  size_t query; /* index into the run */
  double t0;
} async_slot;

static void async_start(const run_spec *sp, grpc_completion_queue *cq, async_slot *a,
                        size_t query) {
  const dataset *ds = sp->ds;
  const float *q = ds->queries + (query % (size_t)ds->n_queries) * (size_t)ds->dim;
  a->query = query;
  a->t0 = now_s();
  a->out = search_request(sp->coll, "COSINE", q, ds->dim, sp->ef);
  grpc_slice path = grpc_slice_from_static_string(SVC "Search");
  a->call = grpc_channel_create_call(a->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path,
                                     NULL, deadline_after(30000), NULL);
  grpc_op ops[6];
  size_t n_ops = unary_ops(ops, a->out, &a->cs);
  if (grpc_call_start_batch(a->call, ops, n_ops, a, NULL) != GRPC_CALL_OK)
    die("search: cannot start a call");
}

/* The call of slot a completed: its hits and latency; false with why. */
static bool async_finish(async_slot *a, double *lat, int64_t *ids, char *why, size_t cap) {
  bool ok = call_slots_done(&a->cs, SVC "Search", why, cap) &&
            search_reply_ids(a->cs.in, ids + a->query * TOPK, why, cap);
  lat[a->query] = now_s() - a->t0;
  if (a->cs.in != NULL)
    grpc_byte_buffer_destroy(a->cs.in);
  grpc_byte_buffer_destroy(a->out);
  grpc_call_unref(a->call);
  a->call = NULL;
  return ok;
}

static void run_server_async(const run_spec *sp, double *lat, int64_t *ids) {
  grpc_init();
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  async_slot *slots = xcalloc((size_t)sp->threads, sizeof *slots);
  size_t next = 0, done = 0;
  for (int i = 0; i < sp->threads; i++)
    slots[i].channel = channel_new(sp->target);
  for (int i = 0; i < sp->threads && next < sp->n; i++)
    async_start(sp, cq, &slots[i], next++);
  char why[1024];
  while (done < sp->n) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE)
      die("search: completion queue event %d", (int)ev.type);
    async_slot *a = ev.tag;
    if (!async_finish(a, lat, ids, why, sizeof why))
      die("search: %s", why);
    done++;
    if (next < sp->n)
      async_start(sp, cq, a, next++);
  }
  for (int i = 0; i < sp->threads; i++)
    grpc_channel_destroy(slots[i].channel);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  free(slots);
  grpc_shutdown();
}

static run_result run_searches(const run_spec *sp) {
  run_job *jobs = xcalloc((size_t)sp->threads, sizeof *jobs);
  pthread_t *th = xcalloc((size_t)sp->threads, sizeof *th);
  double *lat = xcalloc(sp->n, sizeof(double));
  int64_t *ids = xcalloc(sp->n * TOPK, sizeof(int64_t));
  for (int i = 0; i < sp->threads; i++)
    jobs[i] = (run_job){.spec = sp, .begin = sp->n * (size_t)i / (size_t)sp->threads,
                        .end = sp->n * (size_t)(i + 1) / (size_t)sp->threads,
                        .lat = lat, .ids = ids};
  double t0 = now_s(), c0 = cpu_seconds(0);
  double s0 = sp->server_pid > 0 ? cpu_seconds(sp->server_pid) : 0;
  uint64_t x0 = sp->server_pid > 0 ? ctx_switches(sp->server_pid) : 0;
  if (sp->ix == NULL && sp->async) {
    run_server_async(sp, lat, ids);
  } else {
    for (int i = 0; i < sp->threads; i++)
      if (pthread_create(&th[i], NULL, run_main, &jobs[i]) != 0)
        die("cannot start a thread");
    for (int i = 0; i < sp->threads; i++)
      pthread_join(th[i], NULL);
  }
  double wall = now_s() - t0, c1 = cpu_seconds(0);
  double s1 = sp->server_pid > 0 ? cpu_seconds(sp->server_pid) : 0;
  uint64_t x1 = sp->server_pid > 0 ? ctx_switches(sp->server_pid) : 0;
  for (int i = 0; i < sp->threads; i++)
    if (jobs[i].failed)
      die("search: %s", jobs[i].why);
  int *qidx = xcalloc(sp->n, sizeof(int));
  for (size_t i = 0; i < sp->n; i++)
    qidx[i] = (int)(i % (size_t)sp->ds->n_queries);
  run_result r = {.qps = (double)sp->n / wall, .recall = recall_of(sp->ds, qidx, ids, sp->n),
                  .cpu_us_self = (c1 - c0) / (double)sp->n * 1e6,
                  .cpu_us_server = (s1 - s0) / (double)sp->n * 1e6,
                  .cs_server = (double)(x1 - x0) / (double)sp->n};
  double sum = 0;
  for (size_t i = 0; i < sp->n; i++)
    sum += lat[i];
  r.mean_us = sum / (double)sp->n * 1e6;
  r.p50_us = percentile(lat, sp->n, 50) * 1e6;
  r.p99_us = percentile(lat, sp->n, 99) * 1e6;
  free(qidx);
  free(ids);
  free(lat);
  free(th);
  free(jobs);
  return r;
}

static void put_run(const char *side, const char *who, int threads, int ef,
                    const run_result *r) {
  char labels[96];
  snprintf(labels, sizeof labels, "side=%s %s=%d ef=%d", side, who, threads, ef);
  note("search %-9s %s=%d ef=%d: %.0f QPS, p50 %.0f us, p99 %.0f us, mean %.0f us, "
       "recall@10 %.4f; per query: %s CPU %.0f us, server CPU %.0f us, server "
       "context switches %.1f",
       side, who, threads, ef, r->qps, r->p50_us, r->p99_us, r->mean_us, r->recall,
       strcmp(side, "server") == 0 ? "client" : "library", r->cpu_us_self,
       r->cpu_us_server, r->cs_server);
  char name[48];
  snprintf(name, sizeof name, "search_qps");
  figure_put(name, labels, r->qps);
  figure_put("search_p50_us", labels, r->p50_us);
  figure_put("search_p99_us", labels, r->p99_us);
  figure_put("search_recall_at_10", labels, r->recall);
  figure_put(strcmp(side, "server") == 0 ? "search_client_cpu_us_per_query"
                                         : "search_library_cpu_us_per_query",
             labels, r->cpu_us_self);
  if (strcmp(side, "server") == 0) {
    figure_put("search_server_cpu_us_per_query", labels, r->cpu_us_server);
    figure_put("search_server_ctx_switches_per_query", labels, r->cs_server);
  }
}

/* ---- phase 2: search ------------------------------------------------------------------ */

/* In-process: build, then the smallest ef of the sweep with recall >= 0.95
 * (2 threads over every query). */
static cairn_index *inproc_build(const opts *o, const dataset *ds, double *build_s) {
  char params[96];
  snprintf(params, sizeof params, "{\"M\": %d, \"efConstruction\": %d}", o->hnsw_m,
           o->hnsw_efc);
  cairn_index *ix = NULL;
  cairn_error err = {0};
  double t0 = now_s();
  if (cairn_index_new("HNSW", "COSINE", CAIRN_TYPE_FLOAT_VECTOR, ds->dim, params, &ix, &err) ||
      cairn_index_add(ix, (size_t)ds->n_base, ds->base, NULL, &err))
    die("in-process HNSW: %s", err.message);
  *build_s = now_s() - t0;
  return ix;
}

static int pick_ef(const opts *o, const dataset *ds, const cairn_index *ix) {
  static const int sweep[] = {16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 384, 512, 768};
  if (o->ef > 0)
    return o->ef;
  int chosen = sweep[sizeof sweep / sizeof sweep[0] - 1];
  for (size_t i = 0; i < sizeof sweep / sizeof sweep[0]; i++) {
    run_spec sp = {.ds = ds, .ix = ix, .ef = sweep[i], .threads = o->inproc_threads,
                   .n = (size_t)ds->n_queries};
    run_result r = run_searches(&sp);
    note("  sweep ef=%d: recall@10 %.4f, %.0f QPS (%d threads)", sweep[i], r.recall, r.qps,
         o->inproc_threads);
    if (r.recall >= RECALL_TARGET) {
      chosen = sweep[i];
      break;
    }
  }
  return chosen;
}

/* Server side of the search phase: insert, flush, index, load. */
static void server_prepare_search(const opts *o, const dataset *ds, const server *s) {
  const char *coll = "load_glove";
  lg_client *c = client_new(s->target);
  create_collection(c, coll, ds->dim, false);
  double t0 = now_s();
  double ins = insert_rows(s->target, coll, ds->dim, false, ds->n_base, 2, ds->base, 0);
  flush_collection(c, coll);
  double t1 = now_s();
  note("search: %" PRId64 " rows inserted in %.2f s, flushed in %.2f s", ds->n_base, ins,
       t1 - t0 - ins);
  char params[96];
  snprintf(params, sizeof params, "{\"M\": %d, \"efConstruction\": %d}", o->hnsw_m,
           o->hnsw_efc);
  create_index(c, coll, "HNSW", "COSINE", params);
  wait_index(c, coll, 3600);
  double t2 = now_s();
  note("search: server HNSW build (M %d, efConstruction %d) %.1f s", o->hnsw_m, o->hnsw_efc,
       t2 - t1);
  figure_put("search_server_index_build_s", "", t2 - t1);
  load_collection(c, coll, 600);
  note("search: loaded in %.2f s", now_s() - t2);
  client_free(c);
}

static int cmp_qps(const void *a, const void *b) {
  double x = ((const run_result *)a)->qps, y = ((const run_result *)b)->qps;
  return x < y ? -1 : x > y;
}

/* Warm-up (a tenth of the queries, at least 200), then ROUNDS rounds of n
 * queries; the round with the median QPS is reported (the machine is shared,
 * so one round can be hit by a neighbour's burst). */
#define ROUNDS 3
static run_spec spec_for(const dataset *ds, const server *s, const cairn_index *ix,
                         int threads, bool async, int ef, size_t n) {
  return (run_spec){.ds = ds, .target = s ? s->target : NULL, .coll = "load_glove",
                    .ix = ix, .server_pid = s ? s->pid : 0, .ef = ef, .async = async,
                    .threads = threads, .n = n};
}

static void warm_up(run_spec sp) {
  sp.n = sp.n / 10 < 200 ? 200 : sp.n / 10;
  run_searches(&sp);
}

static run_result measure(const dataset *ds, const server *s, const cairn_index *ix,
                          int threads, bool async, int ef, size_t n) {
  run_spec sp = spec_for(ds, s, ix, threads, async, ef, n);
  warm_up(sp);
  run_result r[ROUNDS];
  for (int i = 0; i < ROUNDS; i++)
    r[i] = run_searches(&sp);
  qsort(r, ROUNDS, sizeof r[0], cmp_qps);
  return r[ROUNDS / 2];
}

static int cmp_double_asc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The library on `threads` threads against the server with `clients`
 * clients, in PAIRED_ROUNDS pairs of back-to-back rounds (library, then
 * server), so that a neighbour's burst on the shared host hits both sides
 * of a pair alike. The ratios (server QPS / library QPS, and library CPU /
 * server + client CPU per query) are the medians of the per-pair ratios;
 * each side's figures are its median-QPS round. */
#define PAIRED_ROUNDS 5
typedef struct paired_result {
  run_result lib, srv;
  double qps_ratio, cpu_ratio;
  double qps_ratio_min, qps_ratio_max;
} paired_result;

static paired_result measure_paired(const dataset *ds, const server *s,
                                    const cairn_index *ix, int threads, int clients,
                                    bool async, int ef, size_t n) {
  run_spec lib = spec_for(ds, NULL, ix, threads, false, ef, n);
  run_spec srv = spec_for(ds, s, NULL, clients, async, ef, n);
  warm_up(lib);
  warm_up(srv);
  run_result rl[PAIRED_ROUNDS], rs[PAIRED_ROUNDS];
  double q[PAIRED_ROUNDS], c[PAIRED_ROUNDS];
  for (int i = 0; i < PAIRED_ROUNDS; i++) {
    rl[i] = run_searches(&lib);
    rs[i] = run_searches(&srv);
    q[i] = rs[i].qps / rl[i].qps;
    c[i] = rl[i].cpu_us_self / (rs[i].cpu_us_server + rs[i].cpu_us_self);
    note("  pair %d: library %.0f QPS, server %.0f QPS, ratio %.3f (CPU %.3f)", i + 1,
         rl[i].qps, rs[i].qps, q[i], c[i]);
  }
  qsort(rl, PAIRED_ROUNDS, sizeof rl[0], cmp_qps);
  qsort(rs, PAIRED_ROUNDS, sizeof rs[0], cmp_qps);
  qsort(q, PAIRED_ROUNDS, sizeof q[0], cmp_double_asc);
  qsort(c, PAIRED_ROUNDS, sizeof c[0], cmp_double_asc);
  return (paired_result){.lib = rl[PAIRED_ROUNDS / 2], .srv = rs[PAIRED_ROUNDS / 2],
                         .qps_ratio = q[PAIRED_ROUNDS / 2], .cpu_ratio = c[PAIRED_ROUNDS / 2],
                         .qps_ratio_min = q[0], .qps_ratio_max = q[PAIRED_ROUNDS - 1]};
}

static void phase_search(const opts *o) {
  dataset ds = {0};
  dataset_load(o, &ds);
  note("search: %s, %" PRId64 " x %d base, %d queries", o->dataset, ds.n_base, ds.dim,
       ds.n_queries);
  char dir[4096], log_path[4200];
  snprintf(dir, sizeof dir, "%s/search", o->work);
  snprintf(log_path, sizeof log_path, "%s/server-search.log", o->work);
  rm_rf(dir);
  server s;
  double listen_s;
  server_start(o, dir, log_path, &s, &listen_s);
  server_prepare_search(o, &ds, &s);
  double build_s;
  cairn_index *ix = inproc_build(o, &ds, &build_s);
  note("search: in-process HNSW build %.1f s (%.0f MB)", build_s,
       (double)cairn_index_memory(ix) / 1e6);
  figure_put("search_inproc_index_build_s", "", build_s);
  int ef = pick_ef(o, &ds, ix);
  note("search: ef %d", ef);
  size_t n = (size_t)ds.n_queries;
  bool async = !o->blocking_clients;
  run_result in1 = measure(&ds, NULL, ix, 1, false, ef, n);
  put_run("inprocess", "threads", 1, ef, &in1);
  /* The headline pair first: library on inproc_threads, server at 4. */
  bool has_four = false;
  for (int i = 0; i < o->n_s_clients; i++)
    has_four |= o->s_clients[i] == 4;
  paired_result pair = {0};
  run_result inT;
  if (has_four) {
    pair = measure_paired(&ds, &s, ix, o->inproc_threads, 4, async, ef, n);
    inT = pair.lib;
  } else {
    inT = measure(&ds, NULL, ix, o->inproc_threads, false, ef, n);
  }
  put_run("inprocess", "threads", o->inproc_threads, ef, &inT);
  for (int i = 0; i < o->n_s_clients; i++) {
    int clients = o->s_clients[i];
    run_result r = clients == 4 ? pair.srv : measure(&ds, &s, NULL, clients, async, ef, n);
    put_run("server", "clients", clients, ef, &r);
    if (clients == 1)
      figure_put("search_p50_overhead_us", "server_clients=1 inproc_threads=1",
                 r.p50_us - in1.p50_us);
  }
  if (has_four) {
    char labels[96];
    snprintf(labels, sizeof labels, "server_clients=4 inproc_threads=%d", o->inproc_threads);
    figure_put("search_qps_ratio", labels, pair.qps_ratio);
    figure_put("search_qps_ratio_min", labels, pair.qps_ratio_min);
    figure_put("search_qps_ratio_max", labels, pair.qps_ratio_max);
    /* The same ratio from CPU per query: what a dedicated machine gives
     * when both sides are CPU-bound (robust to a shared host's noise). */
    figure_put("search_cpu_ratio", labels, pair.cpu_ratio);
  }
  figure_put("search_server_rss_mb", "", (double)rss_bytes(s.pid) / 1e6);
  cairn_index_free(ix);
  server_stop(&s);
  rm_rf(dir);
  free(ds.base);
  free(ds.queries);
  free(ds.gt);
}

/* ---- phase 3: recovery and memory ---------------------------------------------------- */

/* Polls count(*) until it equals want; returns the seconds since t0. */
static double wait_count(lg_client *c, const char *coll, int64_t want, double t0,
                         double timeout_s) {
  char why[1024] = "";
  int64_t last = -2;
  for (;;) {
    int64_t n = count_rows(c, coll, why, sizeof why);
    if (n == want)
      return now_s() - t0;
    last = n;
    if (now_s() - t0 > timeout_s)
      die("count(*) of %s: %" PRId64 " (want %" PRId64 ") after %.0f s: %s", coll, last,
          want, timeout_s, why);
    usleep(10000);
  }
}

static void recovery_load(const opts *o, const server *s, const char *coll,
                          int64_t flushed) {
  lg_client *c = client_new(s->target);
  create_collection(c, coll, o->r_dim, false);
  double t0 = now_s();
  double w = insert_rows(s->target, coll, o->r_dim, false, flushed, 2, NULL, o->seed);
  flush_collection(c, coll);
  note("recovery: %" PRId64 " rows inserted in %.1f s and flushed in %.1f s", flushed, w,
       now_s() - t0 - w);
  double t1 = now_s();
  char params[96];
  snprintf(params, sizeof params, "{\"M\": %d, \"efConstruction\": %d}", o->hnsw_m,
           o->hnsw_efc);
  create_index(c, coll, "HNSW", "L2", params);
  wait_index(c, coll, 3600);
  note("recovery: HNSW on %" PRId64 " sealed rows in %.1f s", flushed, now_s() - t1);
  client_free(c);
}

/* Inserts rows [flushed, rows) (left in the log), loads, checks count(*). */
static void recovery_growing(const opts *o, const server *s, const char *coll,
                             int64_t flushed) {
  ins_job j = {.target = s->target, .coll = coll, .dim = o->r_dim, .begin = flushed,
               .end = o->r_rows, .seed = o->seed ^ 0x5eedULL};
  double t0 = now_s();
  ins_main(&j);
  if (j.failed)
    die("insert into %s: %s", coll, j.why);
  note("recovery: %" PRId64 " more rows (growing) in %.1f s", o->r_rows - flushed,
       now_s() - t0);
  lg_client *c = client_new(s->target);
  load_collection(c, coll, 600);
  wait_count(c, coll, o->r_rows, now_s(), 120);
  client_free(c);
}

static void recovery_memory(const opts *o, const server *s, const char *dir, const char *tag) {
  size_t rss = rss_bytes(s->pid);
  char objs[4200];
  snprintf(objs, sizeof objs, "%s/objects", dir);
  uint64_t index_bytes = du_matching(objs, "index_files", false);
  double raw = (double)o->r_rows * o->r_dim * 4.0;
  double per_m = (double)rss / ((double)o->r_rows / 1e6);
  char labels[96];
  snprintf(labels, sizeof labels, "when=%s rows=%" PRId64 " dim=%d", tag, o->r_rows, o->r_dim);
  note("recovery (%s): RSS %.0f MB, raw vectors %.0f MB, index files %.0f MB, "
       "RSS / (raw + index) = %.2f",
       tag, rss / 1e6, raw / 1e6, index_bytes / 1e6, rss / (raw + (double)index_bytes));
  smaps_note(s->pid);
  figure_put("server_rss_mb", labels, rss / 1e6);
  figure_put("server_rss_anon_mb", labels, (double)status_bytes(s->pid, "RssAnon") / 1e6);
  figure_put("server_rss_file_mb", labels, (double)status_bytes(s->pid, "RssFile") / 1e6);
  figure_put("server_rss_mb_per_million_rows", labels, per_m / 1e6);
  figure_put("raw_vector_mb", labels, raw / 1e6);
  figure_put("index_files_mb", labels, index_bytes / 1e6);
  figure_put("rss_over_raw_plus_index", labels, rss / (raw + (double)index_bytes));
}

/* kill -9, restart, time to listening and to count(*) == rows + a search. */
static void recovery_restart(const opts *o, server *s, const char *dir, const char *log_path,
                             const char *coll) {
  double t0 = now_s();
  server_kill9(s);
  double listen_s;
  server_start(o, dir, log_path, s, &listen_s);
  double t_listen = now_s() - t0;
  lg_client *c = client_new(s->target);
  double t_count = wait_count(c, coll, o->r_rows, t0, 600);
  float *q = xcalloc((size_t)o->r_dim, sizeof(float));
  uint64_t seed = o->seed | 1;
  for (int i = 0; i < o->r_dim; i++)
    q[i] = rng_float(&seed);
  int64_t ids[TOPK];
  char why[1024];
  while (!search_one(c, coll, "L2", q, o->r_dim, 64, ids, why, sizeof why) ||
         ids[TOPK - 1] < 0) {
    if (now_s() - t0 > 600)
      die("search after restart: %s", why);
    usleep(10000);
  }
  double t_search = now_s() - t0;
  free(q);
  client_free(c);
  char labels[96];
  snprintf(labels, sizeof labels, "rows=%" PRId64 " dim=%d", o->r_rows, o->r_dim);
  note("recovery: kill -9 -> listening %.2f s, -> count(*) == %" PRId64 " %.2f s, "
       "-> search %.2f s",
       t_listen, o->r_rows, t_count, t_search);
  figure_put("recovery_to_listening_s", labels, t_listen);
  figure_put("recovery_to_count_all_s", labels, t_count);
  figure_put("recovery_to_search_s", labels, t_search);
}

static void phase_recovery(const opts *o) {
  char dir[4096], log_path[4200];
  snprintf(dir, sizeof dir, "%s/recovery", o->work);
  snprintf(log_path, sizeof log_path, "%s/server-recovery.log", o->work);
  rm_rf(dir);
  const char *coll = "load_recovery";
  int64_t flushed = (int64_t)((double)o->r_rows * o->r_flush_frac) / BATCH_ROWS * BATCH_ROWS;
  server s;
  double listen_s;
  server_start(o, dir, log_path, &s, &listen_s);
  note("recovery: %" PRId64 " x %d-d rows, %" PRId64 " flushed + indexed, the rest in the log",
       o->r_rows, o->r_dim, flushed);
  recovery_load(o, &s, coll, flushed);
  recovery_growing(o, &s, coll, flushed);
  recovery_memory(o, &s, dir, "loaded");
  recovery_restart(o, &s, dir, log_path, coll);
  recovery_memory(o, &s, dir, "restarted");
  server_stop(&s);
  rm_rf(dir);
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(void) {
  fprintf(stderr,
          "usage: load_gen [flags]\n"
          "  --cairn PATH          cairn binary ($CAIRN_BIN, else the build's)\n"
          "  --work DIR            scratch directory for data dirs and logs "
          "(default /tmp/cairn-load)\n"
          "  --phases LIST         insert,search,recovery (default all)\n"
          "  --insert-rows LIST    rows per insert run, per dim (default "
          "1000000,200000)\n"
          "  --insert-dims LIST    default 128,768\n"
          "  --insert-clients LIST default 1,2,4\n"
          "  --varchar             add a VarChar(64) field to the insert schema\n"
          "  --dataset PREFIX      default ../shared/datasets/glove-100-angular\n"
          "  --search-base N       use the first N base rows (default all)\n"
          "  --queries N           queries measured (default all)\n"
          "  --search-clients LIST default 1,2,4\n"
          "  --blocking-clients    a thread per server client making blocking calls\n"
          "                        (default: one thread drives every client's calls)\n"
          "  --inproc-threads N    default 2\n"
          "  --M N --efc N         HNSW build params (default 16, 200)\n"
          "  --ef N                search ef (default: sweep to recall@10 >= 0.95)\n"
          "  --recovery-rows N     default 1000000\n"
          "  --flush-fraction F    part of them flushed and indexed (default 0.5)\n"
          "  --seed N              default 42\n");
  exit(2);
}

static void parse_args(int argc, char **argv, opts *o) {
  const char *env = getenv("CAIRN_BIN");
  *o = (opts){.bin = env && env[0] ? env : CAIRN_BIN_DEFAULT, .work = "/tmp/cairn-load",
              .ph_insert = true, .ph_search = true, .ph_recovery = true,
              .dataset = "../shared/datasets/glove-100-angular",
              .inproc_threads = 2, .hnsw_m = 16, .hnsw_efc = 200, .r_rows = 1000000,
              .r_flush_frac = 0.5, .r_dim = 128, .seed = 42};
  o->n_ins_dims = parse_list("128,768", o->ins_dims, MAX_LIST);
  o->n_ins_rows = parse_list("1000000,200000", o->ins_rows, MAX_LIST);
  o->n_ins_clients = parse_list("1,2,4", o->ins_clients, MAX_LIST);
  o->n_s_clients = parse_list("1,2,4", o->s_clients, MAX_LIST);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v != NULL && ++i)
    if (ARG("--cairn")) o->bin = v;
    else if (ARG("--work")) o->work = v;
    else if (ARG("--phases")) {
      o->ph_insert = strstr(v, "insert") != NULL;
      o->ph_search = strstr(v, "search") != NULL;
      o->ph_recovery = strstr(v, "recovery") != NULL;
    } else if (ARG("--insert-rows")) o->n_ins_rows = parse_list(v, o->ins_rows, MAX_LIST);
    else if (ARG("--insert-dims")) o->n_ins_dims = parse_list(v, o->ins_dims, MAX_LIST);
    else if (ARG("--insert-clients")) o->n_ins_clients = parse_list(v, o->ins_clients, MAX_LIST);
    else if (strcmp(a, "--varchar") == 0) o->varchar = true;
    else if (strcmp(a, "--blocking-clients") == 0) o->blocking_clients = true;
    else if (ARG("--dataset")) o->dataset = v;
    else if (ARG("--search-base")) o->s_base = atoll(v);
    else if (ARG("--queries")) o->s_queries = atoi(v);
    else if (ARG("--search-clients")) o->n_s_clients = parse_list(v, o->s_clients, MAX_LIST);
    else if (ARG("--inproc-threads")) o->inproc_threads = atoi(v);
    else if (ARG("--M")) o->hnsw_m = atoi(v);
    else if (ARG("--efc")) o->hnsw_efc = atoi(v);
    else if (ARG("--ef")) o->ef = atoi(v);
    else if (ARG("--recovery-rows")) o->r_rows = atoll(v);
    else if (ARG("--flush-fraction")) o->r_flush_frac = atof(v);
    else if (ARG("--seed")) o->seed = (uint64_t)atoll(v);
    else usage();
#undef ARG
  }
  if (o->r_rows < BATCH_ROWS || o->inproc_threads <= 0 ||
      o->r_flush_frac < 0 || o->r_flush_frac > 1)
    usage();
}

int main(int argc, char **argv) {
  opts o;
  parse_args(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  atexit(kill_live_server);
  if (access(o.bin, X_OK) != 0)
    die("cannot run the cairn binary '%s' (set CAIRN_BIN or --cairn)", o.bin);
  mkdir(o.work, 0755);
  note("cairn binary %s, scratch %s, %ld cores", o.bin, o.work, sysconf(_SC_NPROCESSORS_ONLN));
  double t0 = now_s();
  put_loadavg("start");
  if (o.ph_insert)
    phase_insert(&o);
  put_loadavg("after_insert");
  if (o.ph_search)
    phase_search(&o);
  put_loadavg("after_search");
  if (o.ph_recovery)
    phase_recovery(&o);
  put_loadavg("end");
  figures_table();
  fflush(stdout);
  note("done in %.0f s", now_s() - t0);
  return 0;
}
