/*
 * h2server.c — the native gRPC server: HTTP/2 framing by libnghttp2, our
 * own sockets, epoll loop and threads (rpc.h's server API, transport
 * CAIRN_RPC_NATIVE).
 *
 * Why: on a small machine the gRPC C core server costs ~15-20 us of CPU per
 * unary call beyond the handler (its poller hand-off between threads, a
 * futex wake-up and a context switch per call, its call stack of filters).
 * Here a call costs one epoll_wait, one recv, one epoll_ctl and one send,
 * and runs on the thread that read it.
 *
 * What it serves (the gRPC-over-HTTP/2 protocol, unary calls only):
 *   - POST with content-type application/grpc[+proto|;...], else HTTP 415;
 *   - exactly one length-prefixed, uncompressed message per request; the
 *     call runs as soon as that message is in, END_STREAM or not. A
 *     compressed message answers UNIMPLEMENTED with grpc-accept-encoding:
 *     identity (the gRPC rule for an encoding the server lacks), so a
 *     client with compression on gets a clear error, never garbage;
 *   - grpc-timeout gives the call's deadline; a call whose deadline passed
 *     before it ran answers DEADLINE_EXCEEDED without running;
 *   - metadata dbname, authorization, identifier reach the handler;
 *   - a reply is HEADERS, one DATA message, then trailers (grpc-status,
 *     percent-encoded grpc-message); an error is a Trailers-Only reply;
 *   - requests or replies over max_message_bytes: RESOURCE_EXHAUSTED;
 *   - unknown paths: UNIMPLEMENTED without reading the message further.
 *   HTTP/2 itself (preface, SETTINGS, flow control and WINDOW_UPDATE,
 *   PING, RST_STREAM, GOAWAY, HPACK, stream states, flood limits) is
 *   nghttp2's.
 *
 * Threads and events: `workers` threads share ONE epoll set holding the
 * listening sockets, a wake-up eventfd and every connection. A connection
 * is registered EPOLLONESHOT: the worker that gets its event reads what
 * arrived, feeds it to nghttp2, writes what nghttp2 has to send, re-arms
 * it, and then runs the first complete request itself; further complete
 * requests of that read go to the run queue (and wake another worker), so
 * concurrent calls multiplexed on one connection run in parallel.
 * Poller turns (turns.c, shared with server.c): at most `pollers` workers
 * take events at a time; a worker gives its turn up (and wakes a standby)
 * before running a handler of a method marked blocking.
 *
 * Locking: a connection's mutex guards its nghttp2 session, its socket and
 * its output buffer; any worker may write a reply to any connection under
 * it. conns_mu guards the connection table and every reference count, and
 * is taken inside a connection's mutex, never the other way round.
 * Lifetime: the epoll set refers to a connection by table slot and
 * generation, never by pointer: a worker looks the event up and takes a
 * reference under conns_mu, so an event for a connection closed meanwhile
 * finds nothing. References: the table's (dropped at close) and one per
 * request taken out of the connection; the last one frees it.
 * A request leaves its stream when complete: the stream (nghttp2's user
 * data, freed when nghttp2 closes it) can be reset by the client while the
 * handler runs; the reply then finds no stream and is dropped.
 *
 * Stop: stopping is set, the listeners close, every connection gets a
 * GOAWAY (calls already sent are still served); queued requests answer
 * UNAVAILABLE without running; the stop waits up to the grace for the
 * handlers running, then the workers exit and every connection closes.
 *
 * Memory: a request's bytes are held from its first DATA frame until its
 * handler starts (at most max_message_bytes + 5 per stream, and at most
 * H2_MAX_STREAMS streams per connection); the call's arena is freed once
 * its reply is packed; the packed reply lives until nghttp2 has sent it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rpc.h"
#include "rpc_internal.h"

#define H2_MAX_STREAMS 128          /* concurrent streams per connection */
#define H2_WINDOW (8u << 20)        /* stream and connection receive window */
#define H2_MAX_FRAME (1u << 20)     /* largest frame we accept */
#define H2_MAX_HEADER_LIST (64u << 10)
#define H2_MAX_METADATA 8192        /* longest metadata value we keep */
#define H2_MAX_PATH 1024
#define H2_READ_BUDGET (1u << 20)   /* bytes read per event before re-arming */
#define H2_READ_BUF (256u << 10)    /* a worker's receive buffer */
#define H2_OUT_CHUNK (256u << 10)   /* bytes pulled from nghttp2 per write */
#define H2_MAX_LISTEN 4

/* epoll tokens that are not connections (a connection's token is its
 * generation << 32 | slot, and generations start at 1) */
#define TOKEN_WAKE 0u
#define TOKEN_LISTEN(i) (1u + (uint64_t)(i))

typedef struct h2_method {
  rpc_served served;
  uint32_t hash; /* path_hash(served.path): most lookups compare only this */
} h2_method;

typedef struct h2_conn h2_conn;

enum { MD_DBNAME, MD_AUTHORIZATION, MD_IDENTIFIER, MD_COUNT };

/* A request stream: nghttp2's stream user data, from its HEADERS until
 * nghttp2 closes it. Strings are malloc'd and owned. */
typedef struct h2_stream {
  struct h2_stream *prev, *next; /* the connection's open streams */
  char *path;
  char *md[MD_COUNT];
  char encoding[32];       /* grpc-encoding, "" when absent */
  int64_t timeout_ms;      /* grpc-timeout, -1 when absent */
  bool post, grpc_type, bad_header, too_big, done;
  bool sized;              /* body sized once to its declared length */
  uint8_t *body;           /* the request's DATA so far */
  size_t len, cap;
  /* the reply, once submitted */
  uint8_t *out;
  size_t out_len, out_off;
  char *message;           /* grpc-message of the trailers */
} h2_stream;

/* A complete request taken out of its stream, waiting to run or running.
 * Owns its strings and body; holds a reference on conn. */
typedef struct h2_call {
  struct h2_call *next;
  h2_conn *conn;
  int32_t stream_id;
  const h2_method *method;
  char *md[MD_COUNT];
  int64_t deadline_ms; /* CLOCK_REALTIME ms, INT64_MAX = none */
  uint8_t *body;       /* length-prefixed message */
  size_t len;
} h2_call;

struct h2_conn {
  h2_server *srv;
  int fd;                /* -1: detached (fuzzing), output is dropped */
  uint32_t slot, gen;
  int refs;              /* guarded by srv->conns_mu */
  pthread_mutex_t mu;    /* everything below */
  nghttp2_session *session;
  bool closed;
  uint8_t *out;          /* bytes taken from nghttp2, not yet written */
  size_t out_len, out_off, out_cap;
  h2_call *ready, *ready_tail; /* complete requests of the current read */
  h2_stream *streams;    /* open streams (nghttp2_session_del does not
                            report them closed, so they are freed here) */
};

struct h2_server {
  int epfd, wakefd;
  int listen_fds[H2_MAX_LISTEN];
  int n_listen;
  int port;
  size_t max_message;
  cairn_rpc_service **services; /* NULL-terminated copy */
  h2_method *methods;
  size_t n_methods;
  cairn_rpc_observer observer;
  void *observer_user;
  nghttp2_session_callbacks *callbacks;
  nghttp2_option *option;
  /* connections */
  pthread_mutex_t conns_mu;
  h2_conn **conns;      /* by slot; NULL = free */
  uint32_t *gens;       /* generation of each slot */
  size_t conns_cap;
  /* run queue, and the handlers running (for the stop) */
  pthread_mutex_t q_mu;
  pthread_cond_t q_idle; /* n_running reached 0 with the queue empty */
  h2_call *q_head, *q_tail;
  int n_running;
  atomic_bool stopping, exiting;
  rpc_turns turns;
  int n_workers, n_started;
  pthread_t *threads;
};

/* ---- small helpers ------------------------------------------------------- */

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_n(const uint8_t *s, size_t n) {
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static bool name_is(const uint8_t *name, size_t len, const char *want) {
  size_t n = strlen(want);
  return len == n && memcmp(name, want, n) == 0;
}

/* grpc-timeout: 1-8 digits and a unit (H M S m u n); -1 when malformed. */
int64_t h2_parse_timeout(const uint8_t *v, size_t n) {
  if (n < 2 || n > 9)
    return -1;
  int64_t x = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (v[i] - '0');
  }
  switch (v[n - 1]) {
  case 'H': return x * 3600000;
  case 'M': return x * 60000;
  case 'S': return x * 1000;
  case 'm': return x;
  case 'u': return (x + 999) / 1000;
  case 'n': return (x + 999999) / 1000000;
  default: return -1;
  }
}

/* grpc-message is percent-encoded: bytes outside 0x20..0x7e and '%'. */
static char *percent_encode(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(n * 3 + 1);
  if (out == NULL)
    return NULL;
  static const char hex[] = "0123456789ABCDEF";
  char *p = out;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c >= 0x20 && *c <= 0x7e && *c != '%') {
      *p++ = (char)*c;
    } else {
      *p++ = '%';
      *p++ = hex[*c >> 4];
      *p++ = hex[*c & 15];
    }
  }
  *p = '\0';
  return out;
}

/* FNV-1a: every Milvus path shares a 35-byte prefix, so comparing hashes
 * first saves ~70 long strcmp calls per call. */
static uint32_t path_hash(const char *p) {
  uint32_t h = 2166136261u;
  for (; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  return h;
}

static const h2_method *find_method(const h2_server *srv, const char *path) {
  uint32_t h = path_hash(path);
  for (size_t i = 0; i < srv->n_methods; i++)
    if (srv->methods[i].hash == h &&
        strcmp(srv->methods[i].served.path, path) == 0)
      return &srv->methods[i];
  return NULL;
}

static void stream_free(h2_stream *s) {
  if (s == NULL)
    return;
  free(s->path);
  for (int i = 0; i < MD_COUNT; i++)
    free(s->md[i]);
  free(s->body);
  free(s->out);
  free(s->message);
  free(s);
}

static void call_free(h2_call *c) {
  for (int i = 0; i < MD_COUNT; i++)
    free(c->md[i]);
  free(c->body);
  free(c);
}

/* ---- connection table and references ------------------------------------ */

static uint64_t conn_token(const h2_conn *c) {
  return (uint64_t)c->gen << 32 | c->slot;
}

/* The connection of an epoll token with a reference taken, or NULL. */
static h2_conn *conn_get(h2_server *srv, uint64_t token) {
  uint32_t slot = (uint32_t)token, gen = (uint32_t)(token >> 32);
  h2_conn *c = NULL;
  pthread_mutex_lock(&srv->conns_mu);
  if (slot < srv->conns_cap && srv->conns[slot] != NULL &&
      srv->gens[slot] == gen) {
    c = srv->conns[slot];
    c->refs++;
  }
  pthread_mutex_unlock(&srv->conns_mu);
  return c;
}

static void conn_ref(h2_conn *c) {
  pthread_mutex_lock(&c->srv->conns_mu);
  c->refs++;
  pthread_mutex_unlock(&c->srv->conns_mu);
}

static void conn_free(h2_conn *c) {
  nghttp2_session_del(c->session);
  while (c->streams != NULL) {
    h2_stream *next = c->streams->next;
    stream_free(c->streams);
    c->streams = next;
  }
  h2_call *r = c->ready;
  while (r != NULL) { /* only when freed in the middle of a read */
    h2_call *next = r->next;
    call_free(r);
    r = next;
  }
  if (c->fd >= 0)
    close(c->fd);
  pthread_mutex_destroy(&c->mu);
  free(c->out);
  free(c);
}

static void conn_put(h2_conn *c) {
  h2_server *srv = c->srv;
  pthread_mutex_lock(&srv->conns_mu);
  bool last = --c->refs == 0;
  pthread_mutex_unlock(&srv->conns_mu);
  if (last)
    conn_free(c);
}

/* Closes the connection (its mutex held): out of epoll and the table, its
 * socket shut down; the table's reference is dropped by the caller after
 * unlocking (conn_put), since the last put frees. Returns whether this
 * call closed it. */
static bool conn_close_locked(h2_conn *c) {
  if (c->closed)
    return false;
  c->closed = true;
  if (c->fd >= 0) {
    epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    shutdown(c->fd, SHUT_RDWR);
  }
  h2_server *srv = c->srv;
  pthread_mutex_lock(&srv->conns_mu);
  if (c->slot < srv->conns_cap && srv->conns[c->slot] == c)
    srv->conns[c->slot] = NULL;
  pthread_mutex_unlock(&srv->conns_mu);
  return true;
}

/* Re-arms the connection's one-shot event: reads, and writes while output
 * is pending. */
static void conn_arm(h2_conn *c) {
  if (c->closed || c->fd < 0)
    return;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
                           .data.u64 = conn_token(c)};
  if (c->out_off < c->out_len)
    ev.events |= EPOLLOUT;
  epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* ---- output --------------------------------------------------------------- */

static bool out_append(h2_conn *c, const uint8_t *data, size_t n) {
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 16384;
    while (cap < c->out_len + n)
      cap *= 2;
    uint8_t *p = realloc(c->out, cap);
    if (p == NULL)
      return false;
    c->out = p;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, n);
  c->out_len += n;
  return true;
}

/* Writes what nghttp2 has to send, as far as the socket takes it (mutex
 * held). Returns false when the connection must close. */
static bool conn_flush(h2_conn *c) {
  for (;;) {
    if (c->out_off < c->out_len) {
      if (c->fd < 0) {
        c->out_off = c->out_len;
        continue;
      }
      ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                       MSG_NOSIGNAL);
      if (w > 0) {
        c->out_off += (size_t)w;
        continue;
      }
      if (w < 0 && errno == EINTR)
        continue;
      return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    c->out_off = c->out_len = 0;
    while (c->out_len < H2_OUT_CHUNK) {
      const uint8_t *data;
      ssize_t n = nghttp2_session_mem_send(c->session, &data);
      if (n < 0)
        return false;
      if (n == 0)
        break;
      if (!out_append(c, data, (size_t)n))
        return false;
    }
    if (c->out_len == 0)
      return true;
  }
}

/* Whether nothing more will happen on the connection (mutex held). */
static bool conn_finished(h2_conn *c) {
  return !nghttp2_session_want_read(c->session) &&
         !nghttp2_session_want_write(c->session) && c->out_off >= c->out_len;
}

/* ---- replies ----------------------------------------------------------- */

#define NV(n, v)                                                               \
  {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                   \
   NGHTTP2_NV_FLAG_NO_COPY_NAME}

static int submit_trailers(nghttp2_session *session, int32_t id,
                           cairn_grpc_code code, const char *message) {
  char status[16];
  snprintf(status, sizeof status, "%d", (int)code);
  nghttp2_nv nv[2] = {NV("grpc-status", status),
                      NV("grpc-message", message ? message : "")};
  return nghttp2_submit_trailer(session, id, nv, message && *message ? 2 : 1);
}

static ssize_t read_reply(nghttp2_session *session, int32_t id, uint8_t *buf,
                          size_t length, uint32_t *flags,
                          nghttp2_data_source *source, void *user) {
  (void)user;
  h2_stream *s = source->ptr;
  size_t n = s->out_len - s->out_off;
  if (n > length)
    n = length;
  memcpy(buf, s->out + s->out_off, n);
  s->out_off += n;
  if (s->out_off == s->out_len) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    if (submit_trailers(session, id, CAIRN_GRPC_OK, NULL) != 0)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return (ssize_t)n;
}

/* A Trailers-Only reply: HEADERS with the status and END_STREAM. */
static void submit_error(h2_conn *c, int32_t id, cairn_grpc_code code,
                         const char *message, bool accept_identity) {
  char status[16];
  snprintf(status, sizeof status, "%d", (int)code);
  char *msg = percent_encode(message ? message : "");
  nghttp2_nv nv[5] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                      NV("grpc-status", status), NV("grpc-message", msg ? msg : "")};
  size_t n = 4;
  if (accept_identity)
    nv[n++] = (nghttp2_nv)NV("grpc-accept-encoding", "identity");
  nghttp2_submit_response(c->session, id, nv, n, NULL);
  free(msg);
}

/* Submits the reply of stream id (mutex held); takes msg (the packed,
 * prefixed reply or NULL). A stream the client reset meanwhile is gone:
 * the reply is dropped. */
static void conn_submit_reply(h2_conn *c, int32_t id, cairn_grpc_code code,
                              const char *message, uint8_t *msg, size_t len) {
  h2_stream *s = c->closed ? NULL : nghttp2_session_get_stream_user_data(c->session, id);
  if (s == NULL) {
    free(msg);
    return;
  }
  if (code != CAIRN_GRPC_OK || msg == NULL) {
    free(msg);
    submit_error(c, id, code == CAIRN_GRPC_OK ? CAIRN_GRPC_INTERNAL : code,
                 code == CAIRN_GRPC_OK ? "no reply" : message, false);
    return;
  }
  free(s->out);
  s->out = msg;
  s->out_len = len;
  s->out_off = 0;
  nghttp2_nv nv[2] = {NV(":status", "200"), NV("content-type", "application/grpc")};
  nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_reply};
  if (nghttp2_submit_response(c->session, id, nv, 2, &dp) != 0)
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, id,
                              NGHTTP2_INTERNAL_ERROR);
}

/* Sends a reply from any thread: lock, submit, write, re-arm. */
static void conn_reply(h2_conn *c, int32_t id, cairn_grpc_code code,
                       const char *message, uint8_t *msg, size_t len) {
  pthread_mutex_lock(&c->mu);
  bool closed_now = false;
  conn_submit_reply(c, id, code, message, msg, len);
  if (!c->closed) {
    if (!conn_flush(c))
      closed_now = conn_close_locked(c);
    else if (c->out_off < c->out_len)
      conn_arm(c);
  }
  pthread_mutex_unlock(&c->mu);
  if (closed_now)
    conn_put(c);
}

/* ---- request streams (nghttp2 callbacks, connection mutex held) ---------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                            void *user) {
  h2_conn *c = user;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  h2_stream *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  s->timeout_ms = -1;
  if (nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s) != 0) {
    free(s);
    return 0;
  }
  s->next = c->streams;
  if (c->streams != NULL)
    c->streams->prev = s;
  c->streams = s;
  return 0;
}

static void keep_string(char **dst, const uint8_t *v, size_t n, h2_stream *s,
                        size_t max) {
  if (n > max) {
    s->bad_header = true;
    return;
  }
  free(*dst);
  *dst = dup_n(v, n);
  if (*dst == NULL)
    s->bad_header = true;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user) {
  (void)flags;
  (void)user;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (s == NULL)
    return 0;
  if (name_is(name, namelen, ":method")) {
    s->post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
  } else if (name_is(name, namelen, ":path")) {
    keep_string(&s->path, value, valuelen, s, H2_MAX_PATH);
  } else if (name_is(name, namelen, "content-type")) {
    s->grpc_type = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                   (valuelen == 16 || value[16] == '+' || value[16] == ';');
  } else if (name_is(name, namelen, "grpc-timeout")) {
    s->timeout_ms = h2_parse_timeout(value, valuelen);
    if (s->timeout_ms < 0)
      s->bad_header = true;
  } else if (name_is(name, namelen, "grpc-encoding")) {
    size_t n = valuelen < sizeof s->encoding - 1 ? valuelen : sizeof s->encoding - 1;
    memcpy(s->encoding, value, n);
    s->encoding[n] = '\0';
  } else if (name_is(name, namelen, "dbname")) {
    keep_string(&s->md[MD_DBNAME], value, valuelen, s, H2_MAX_METADATA);
  } else if (name_is(name, namelen, "authorization")) {
    keep_string(&s->md[MD_AUTHORIZATION], value, valuelen, s, H2_MAX_METADATA);
  } else if (name_is(name, namelen, "identifier")) {
    keep_string(&s->md[MD_IDENTIFIER], value, valuelen, s, H2_MAX_METADATA);
  }
  return 0;
}

static int request_complete(h2_conn *c, int32_t id, h2_stream *s);

/* Whether the body holds exactly one whole length-prefixed message. */
static bool message_complete(const h2_stream *s) {
  if (s->len < 5)
    return false;
  size_t n = (size_t)s->body[1] << 24 | (size_t)s->body[2] << 16 |
             (size_t)s->body[3] << 8 | s->body[4];
  return s->len == n + 5;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *user) {
  (void)flags;
  h2_conn *c = user;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  if (s == NULL || s->done || s->too_big)
    return 0;
  if (s->len + len > c->srv->max_message + 5) {
    s->too_big = true; /* answered when the request ends; stop buffering */
    free(s->body);
    s->body = NULL;
    s->len = s->cap = 0;
    return 0;
  }
  if (s->len + len > s->cap) {
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + len)
      cap *= 2;
    uint8_t *p = realloc(s->body, cap);
    if (p == NULL)
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    s->body = p;
    s->cap = cap;
  }
  memcpy(s->body + s->len, data, len);
  s->len += len;
  if (!s->sized && s->len >= 5) { /* one allocation for a large message */
    s->sized = true;
    size_t want = 5 + ((size_t)s->body[1] << 24 | (size_t)s->body[2] << 16 |
                       (size_t)s->body[3] << 8 | s->body[4]);
    if (want > s->cap && want <= c->srv->max_message + 5) {
      uint8_t *p = realloc(s->body, want);
      if (p == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      s->body = p;
      s->cap = want;
    }
  }
  /* A unary request is complete with its one message: it runs now rather
   * than at END_STREAM, which a client may send later in a frame of its
   * own (Node's http2 has been seen holding that empty DATA frame back
   * until the next write on the connection, stalling the call). Bytes
   * after it are dropped (the stream is done). */
  if (message_complete(s))
    return request_complete(c, id, s);
  return 0;
}

/* The error a complete request gets before any handler, or OK. */
static cairn_grpc_code check_request(h2_conn *c, const h2_stream *s,
                                     const h2_method **m, char *why, size_t cap,
                                     bool *accept_identity) {
  h2_server *srv = c->srv;
  *m = s->path ? find_method(srv, s->path) : NULL;
  if (s->bad_header) {
    snprintf(why, cap, "malformed request headers (grpc-timeout, or metadata "
                       "longer than %d bytes)", H2_MAX_METADATA);
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  if (*m == NULL) {
    snprintf(why, cap, "method %s is not served by Cairn", s->path ? s->path : "");
    return CAIRN_GRPC_UNIMPLEMENTED;
  }
  if (atomic_load(&srv->stopping)) {
    snprintf(why, cap, "the server is shutting down");
    return CAIRN_GRPC_UNAVAILABLE;
  }
  if (s->too_big) {
    snprintf(why, cap, "request message larger than the limit of %zu bytes "
                       "(grpc.maxMessageSize)", srv->max_message);
    return CAIRN_GRPC_RESOURCE_EXHAUSTED;
  }
  if (s->len < 5) {
    snprintf(why, cap, "request message missing");
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  if (s->body[0] != 0) {
    *accept_identity = true;
    snprintf(why, cap, "compressed messages (grpc-encoding '%s') are not "
                       "supported; turn compression off in the client",
             s->encoding);
    return CAIRN_GRPC_UNIMPLEMENTED;
  }
  uint32_t n = (uint32_t)s->body[1] << 24 | (uint32_t)s->body[2] << 16 |
               (uint32_t)s->body[3] << 8 | s->body[4];
  if ((size_t)n + 5 != s->len) {
    snprintf(why, cap, "a unary request carries exactly one message "
                       "(got %zu bytes for a %u-byte message)", s->len - 5, n);
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  return CAIRN_GRPC_OK;
}

/* The request of stream id is complete: answer it at once when it is bad,
 * else move it into a call on the connection's ready list. */
static int request_complete(h2_conn *c, int32_t id, h2_stream *s) {
  s->done = true;
  if (!s->post || !s->grpc_type) {
    nghttp2_nv nv[1] = {NV(":status", s->post ? "415" : "405")};
    nghttp2_submit_response(c->session, id, nv, 1, NULL);
    return 0;
  }
  const h2_method *m;
  char why[256];
  bool accept_identity = false;
  cairn_grpc_code code = check_request(c, s, &m, why, sizeof why, &accept_identity);
  if (code != CAIRN_GRPC_OK) {
    submit_error(c, id, code, why, accept_identity);
    if (c->srv->observer != NULL)
      c->srv->observer(c->srv->observer_user, s->path ? s->path : "", code, 0);
    return 0;
  }
  h2_call *call = calloc(1, sizeof *call);
  if (call == NULL)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  call->stream_id = id;
  call->method = m;
  call->deadline_ms = s->timeout_ms < 0 ? INT64_MAX
                                        : cairn_rpc_now_ms() + s->timeout_ms;
  memcpy(call->md, s->md, sizeof call->md);
  memset(s->md, 0, sizeof s->md);
  call->body = s->body;
  call->len = s->len;
  s->body = NULL;
  s->len = s->cap = 0;
  call->conn = c;
  conn_ref(c);
  if (c->ready_tail != NULL)
    c->ready_tail->next = call;
  else
    c->ready = call;
  c->ready_tail = call;
  return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user) {
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (s == NULL || s->done)
    return 0;
  return request_complete(user, frame->hd.stream_id, s);
}

static int on_stream_close(nghttp2_session *session, int32_t id,
                           uint32_t error_code, void *user) {
  (void)error_code;
  h2_conn *c = user;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  if (s == NULL)
    return 0;
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    c->streams = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  stream_free(s);
  nghttp2_session_set_stream_user_data(session, id, NULL);
  return 0;
}

/* ---- connections ---------------------------------------------------------- */

static h2_conn *conn_new(h2_server *srv, int fd) {
  h2_conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->srv = srv;
  c->fd = fd;
  c->refs = 1; /* the table's */
  pthread_mutex_init(&c->mu, NULL);
  if (nghttp2_session_server_new2(&c->session, srv->callbacks, c, srv->option) != 0) {
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, H2_MAX_FRAME},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_LIST},
  };
  if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv,
                              sizeof iv / sizeof iv[0]) != 0 ||
      nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
                                            (int32_t)H2_WINDOW) != 0) {
    nghttp2_session_del(c->session);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
  }
  return c;
}

/* Puts c in the table (a free slot, its generation bumped). */
static bool conn_insert(h2_server *srv, h2_conn *c) {
  pthread_mutex_lock(&srv->conns_mu);
  size_t slot = 0;
  while (slot < srv->conns_cap && srv->conns[slot] != NULL)
    slot++;
  if (slot == srv->conns_cap) {
    size_t cap = srv->conns_cap ? srv->conns_cap * 2 : 64;
    h2_conn **conns = realloc(srv->conns, cap * sizeof *conns);
    uint32_t *gens = conns ? realloc(srv->gens, cap * sizeof *gens) : NULL;
    if (conns != NULL)
      srv->conns = conns;
    if (gens == NULL) {
      pthread_mutex_unlock(&srv->conns_mu);
      return false;
    }
    srv->gens = gens;
    for (size_t i = srv->conns_cap; i < cap; i++) {
      srv->conns[i] = NULL;
      srv->gens[i] = 0;
    }
    srv->conns_cap = cap;
  }
  srv->gens[slot]++;
  if (srv->gens[slot] == 0)
    srv->gens[slot] = 1;
  c->slot = (uint32_t)slot;
  c->gen = srv->gens[slot];
  srv->conns[slot] = c;
  pthread_mutex_unlock(&srv->conns_mu);
  return true;
}

/* Feeds received bytes to nghttp2 (mutex held); false: close. */
static bool conn_feed(h2_conn *c, const uint8_t *data, size_t n) {
  ssize_t rv = nghttp2_session_mem_recv(c->session, data, n);
  if (rv < 0) {
    cairn_log_debug("rpc: closing a connection: %s", nghttp2_strerror((int)rv));
    return false;
  }
  return true;
}

/* Reads what the socket has into the worker's buffer (H2_READ_BUF bytes)
 * and feeds it (mutex held); false: close. */
static bool conn_read(h2_conn *c, uint8_t *buf) {
  size_t total = 0;
  while (total < H2_READ_BUDGET) {
    ssize_t n = recv(c->fd, buf, H2_READ_BUF, 0);
    if (n > 0) {
      if (!conn_feed(c, buf, (size_t)n))
        return false;
      total += (size_t)n;
      if ((size_t)n < H2_READ_BUF)
        return true; /* drained; more data re-fires the event */
      continue;
    }
    if (n == 0)
      return false;
    if (errno == EINTR)
      continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
  return true;
}

/* ---- the run queue -------------------------------------------------------- */

static void wake_one(h2_server *srv) {
  uint64_t one = 1;
  ssize_t w = write(srv->wakefd, &one, sizeof one);
  (void)w;
}

static void queue_push(h2_server *srv, h2_call *list) {
  if (list == NULL)
    return;
  h2_call *tail = list;
  while (tail->next != NULL)
    tail = tail->next;
  pthread_mutex_lock(&srv->q_mu);
  if (srv->q_tail != NULL)
    srv->q_tail->next = list;
  else
    srv->q_head = list;
  srv->q_tail = tail;
  pthread_mutex_unlock(&srv->q_mu);
  wake_one(srv);
}

/* The next queued call, counted as running; NULL when none. */
static h2_call *queue_pop(h2_server *srv) {
  pthread_mutex_lock(&srv->q_mu);
  h2_call *c = srv->q_head;
  if (c != NULL) {
    srv->q_head = c->next;
    if (srv->q_head == NULL)
      srv->q_tail = NULL;
    c->next = NULL;
    srv->n_running++;
  }
  bool more = srv->q_head != NULL;
  pthread_mutex_unlock(&srv->q_mu);
  if (more)
    wake_one(srv);
  return c;
}

static void running_done(h2_server *srv) {
  pthread_mutex_lock(&srv->q_mu);
  if (--srv->n_running == 0 && srv->q_head == NULL)
    pthread_cond_broadcast(&srv->q_idle);
  pthread_mutex_unlock(&srv->q_mu);
}

/* ---- running a call ------------------------------------------------------- */

/* Packs reply behind the 5-byte gRPC prefix; NULL when too big or no
 * memory (*code and *message then say so). */
static uint8_t *pack_reply(const h2_server *srv, const ProtobufCMessage *reply,
                           size_t *len, cairn_grpc_code *code, cairn_rpc_ctx *ctx) {
  size_t n = protobuf_c_message_get_packed_size(reply);
  if (n > srv->max_message) {
    *code = CAIRN_GRPC_RESOURCE_EXHAUSTED;
    ctx->grpc_message = cairn_arena_printf(
        ctx->arena, "reply of %zu bytes is larger than the limit of %zu bytes "
                    "(grpc.maxMessageSize)", n, srv->max_message);
    return NULL;
  }
  uint8_t *buf = malloc(n + 5);
  if (buf == NULL) {
    *code = CAIRN_GRPC_RESOURCE_EXHAUSTED;
    ctx->grpc_message = "out of memory";
    return NULL;
  }
  buf[0] = 0;
  buf[1] = (uint8_t)(n >> 24);
  buf[2] = (uint8_t)(n >> 16);
  buf[3] = (uint8_t)(n >> 8);
  buf[4] = (uint8_t)n;
  protobuf_c_message_pack(reply, buf + 5);
  *len = n + 5;
  return buf;
}

static cairn_grpc_code run_handler(h2_server *srv, h2_call *call,
                                   cairn_rpc_ctx *ctx, ProtobufCMessage **reply,
                                   bool *turn) {
  if (atomic_load(&srv->stopping)) {
    ctx->grpc_message = "the server is shutting down";
    return CAIRN_GRPC_UNAVAILABLE;
  }
  if (ctx->deadline_ms != INT64_MAX && ctx->deadline_ms <= cairn_rpc_now_ms()) {
    ctx->grpc_message = "deadline exceeded before the call was served";
    return CAIRN_GRPC_DEADLINE_EXCEEDED;
  }
  const h2_method *m = call->method;
  ProtobufCMessage *req = protobuf_c_message_unpack(
      m->served.in, cairn_arena_protobuf(ctx->arena), call->len - 5, call->body + 5);
  free(call->body); /* the request now lives in the arena */
  call->body = NULL;
  if (req == NULL) {
    ctx->grpc_message = cairn_arena_printf(
        ctx->arena, "cannot decode %s: malformed protobuf",
        m->served.in->name);
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  if (m->served.blocking && *turn) {
    rpc_turns_give(&srv->turns, true);
    *turn = false;
  }
  return cairn_rpc_service_dispatch(m->served.service, ctx, req, reply);
}

/* Runs one call (counted in n_running by the caller) and sends its reply. */
static void run_call(h2_server *srv, h2_call *call, bool *turn) {
  double started = monotonic_seconds();
  cairn_rpc_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.arena = cairn_arena_new();
  ctx.method = call->method->served.path;
  ctx.peer = "";
  ctx.deadline_ms = call->deadline_ms;
  ctx.dbname = call->md[MD_DBNAME] ? call->md[MD_DBNAME] : "";
  ctx.authorization = call->md[MD_AUTHORIZATION] ? call->md[MD_AUTHORIZATION] : "";
  ctx.identifier = call->md[MD_IDENTIFIER] ? call->md[MD_IDENTIFIER] : "";
  ProtobufCMessage *reply = NULL;
  cairn_grpc_code code;
  if (ctx.arena == NULL) {
    code = CAIRN_GRPC_RESOURCE_EXHAUSTED;
    ctx.grpc_message = "out of memory";
  } else {
    code = run_handler(srv, call, &ctx, &reply, turn);
  }
  uint8_t *msg = NULL;
  size_t len = 0;
  if (code == CAIRN_GRPC_OK && reply != NULL)
    msg = pack_reply(srv, reply, &len, &code, &ctx);
  conn_reply(call->conn, call->stream_id, code, ctx.grpc_message, msg, len);
  if (srv->observer != NULL)
    srv->observer(srv->observer_user, ctx.method, code,
                  monotonic_seconds() - started);
  if (ctx.arena != NULL)
    cairn_arena_free(ctx.arena);
  conn_put(call->conn);
  call_free(call);
  running_done(srv);
}

/* ---- events --------------------------------------------------------------- */

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A new connection: its SETTINGS go out at once. */
static void conn_accepted(h2_server *srv, int fd) {
  set_nodelay(fd);
  h2_conn *c = conn_new(srv, fd);
  if (c == NULL || !conn_insert(srv, c)) {
    cairn_log_warn("rpc: dropping a connection: out of memory");
    if (c != NULL) {
      c->fd = -1;
      conn_free(c);
    }
    close(fd);
    return;
  }
  pthread_mutex_lock(&c->mu);
  bool ok = conn_flush(c);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
                           .data.u64 = conn_token(c)};
  if (c->out_off < c->out_len)
    ev.events |= EPOLLOUT;
  bool closed_now = false;
  if (!ok || epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
    closed_now = conn_close_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (closed_now)
    conn_put(c);
}

static void accept_all(h2_server *srv, int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      conn_accepted(srv, fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    if (errno == EMFILE || errno == ENFILE) {
      cairn_log_warn("rpc: cannot accept a connection: %s", strerror(errno));
      usleep(10000); /* level-triggered: retried once a descriptor frees */
    }
    return;
  }
}

/* An event of connection c (a reference held): read, write, re-arm, then
 * run the first complete request here and queue the others. */
static void conn_event(h2_server *srv, h2_conn *c, uint32_t events,
                       uint8_t *buf, bool *turn) {
  pthread_mutex_lock(&c->mu);
  bool ok = !c->closed;
  if (ok && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
    ok = conn_read(c, buf);
  if (ok)
    ok = conn_flush(c);
  h2_call *ready = c->ready;
  c->ready = c->ready_tail = NULL;
  bool closed_now = false;
  if (!ok || conn_finished(c))
    closed_now = conn_close_locked(c);
  else
    conn_arm(c);
  pthread_mutex_unlock(&c->mu);
  if (closed_now)
    conn_put(c); /* the table's reference */
  if (ready == NULL)
    return;
  h2_call *first = ready;
  queue_push(srv, first->next);
  first->next = NULL;
  pthread_mutex_lock(&srv->q_mu);
  srv->n_running++;
  pthread_mutex_unlock(&srv->q_mu);
  run_call(srv, first, turn);
}

static void handle_event(h2_server *srv, const struct epoll_event *ev,
                         uint8_t *buf, bool *turn) {
  uint64_t token = ev->data.u64;
  if (token == TOKEN_WAKE) {
    if (!atomic_load(&srv->exiting)) { /* left readable to wake every worker */
      uint64_t v;
      ssize_t r = read(srv->wakefd, &v, sizeof v);
      (void)r;
    }
    return;
  }
  if (token <= TOKEN_LISTEN(H2_MAX_LISTEN)) {
    int i = (int)(token - TOKEN_LISTEN(0));
    if (i < srv->n_listen && srv->listen_fds[i] >= 0 && !atomic_load(&srv->stopping))
      accept_all(srv, srv->listen_fds[i]);
    return;
  }
  h2_conn *c = conn_get(srv, token);
  if (c == NULL)
    return;
  conn_event(srv, c, ev->events, buf, turn);
  conn_put(c);
}

static void *worker_main(void *p) {
  h2_server *srv = p;
  uint8_t *buf = malloc(H2_READ_BUF);
  if (buf == NULL) {
    cairn_log_error("rpc: a worker has no memory for its receive buffer");
    return NULL;
  }
  while (!atomic_load(&srv->exiting)) {
    rpc_turns_take(&srv->turns);
    bool turn = true;
    h2_call *call = queue_pop(srv);
    if (call != NULL) {
      run_call(srv, call, &turn);
    } else {
      struct epoll_event ev;
      int n = epoll_wait(srv->epfd, &ev, 1, -1);
      if (n == 1 && !atomic_load(&srv->exiting))
        handle_event(srv, &ev, buf, &turn);
    }
    if (turn)
      rpc_turns_give(&srv->turns, false);
  }
  free(buf);
  return NULL;
}

/* ---- start and stop -------------------------------------------------------- */

static cairn_status add_methods(h2_server *srv, cairn_error *err) {
  size_t n;
  rpc_served *served = rpc_served_methods(srv->services, &n);
  srv->methods = served ? calloc(n + 1, sizeof *srv->methods) : NULL;
  if (srv->methods == NULL) {
    free(served);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  for (size_t i = 0; i < n; i++)
    srv->methods[i] = (h2_method){.served = served[i],
                                  .hash = path_hash(served[i].path)};
  srv->n_methods = n;
  free(served);
  return CAIRN_OK;
}

static cairn_status make_callbacks(h2_server *srv, cairn_error *err) {
  if (nghttp2_session_callbacks_new(&srv->callbacks) != 0 ||
      nghttp2_option_new(&srv->option) != 0)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  nghttp2_session_callbacks *cb = srv->callbacks;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  /* the peer's streams beyond our limit are refused by nghttp2 itself */
  nghttp2_option_set_max_deflate_dynamic_table_size(srv->option, 4096);
  return CAIRN_OK;
}

/* "[::]" -> "::"; the host part for getaddrinfo. */
static void host_part(const char *host, char *out, size_t cap) {
  size_t n = strlen(host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
    host++;
    n -= 2;
  }
  if (n >= cap)
    n = cap - 1;
  memcpy(out, host, n);
  out[n] = '\0';
}

static int listen_on(const struct addrinfo *ai, int port) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
  if (fd < 0)
    return -1;
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage sa;
  memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
  if (ai->ai_family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
  } else {
    ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);
  }
  if (bind(fd, (struct sockaddr *)&sa, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static int bound_port(int fd) {
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
    return -1;
  if (sa.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
  return ntohs(((struct sockaddr_in *)&sa)->sin_port);
}

/* Binds every address host resolves to (the first decides the port when
 * port is 0; later ones that fail are skipped, the first must succeed). */
static cairn_status bind_listeners(h2_server *srv, const char *host, int port,
                                   cairn_error *err) {
  char name[256];
  host_part(host, name, sizeof name);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE}, *res = NULL;
  int rc = getaddrinfo(name[0] ? name : NULL, "0", &hints, &res);
  if (rc != 0)
    return cairn_error_set(err, CAIRN_IO, "cannot listen on %s:%d: %s", host,
                           port, gai_strerror(rc));
  cairn_status st = CAIRN_OK;
  for (struct addrinfo *ai = res; ai != NULL && srv->n_listen < H2_MAX_LISTEN;
       ai = ai->ai_next) {
    int fd = listen_on(ai, srv->n_listen == 0 ? port : srv->port);
    if (fd < 0) {
      if (srv->n_listen == 0) {
        st = cairn_error_set(err, CAIRN_IO, "cannot listen on %s:%d: %s", host,
                             port, strerror(errno));
        break;
      }
      continue;
    }
    if (srv->n_listen == 0)
      srv->port = bound_port(fd);
    struct epoll_event ev = {.events = EPOLLIN,
                             .data.u64 = TOKEN_LISTEN(srv->n_listen)};
    srv->listen_fds[srv->n_listen++] = fd;
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      st = cairn_error_set(err, CAIRN_IO, "epoll: %s", strerror(errno));
      break;
    }
  }
  freeaddrinfo(res);
  if (st == CAIRN_OK && srv->n_listen == 0)
    st = cairn_error_set(err, CAIRN_IO, "cannot listen on %s:%d: no address", host, port);
  return st;
}

static h2_server *server_alloc(const cairn_rpc_server_options *opts,
                               cairn_rpc_service *const *services) {
  h2_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL)
    return NULL;
  size_t n = 0;
  while (services[n] != NULL)
    n++;
  srv->services = calloc(n + 1, sizeof *srv->services);
  srv->n_workers = opts->workers > 0 ? opts->workers : 4;
  srv->threads = calloc((size_t)srv->n_workers, sizeof *srv->threads);
  srv->epfd = epoll_create1(EPOLL_CLOEXEC);
  srv->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (int i = 0; i < H2_MAX_LISTEN; i++)
    srv->listen_fds[i] = -1;
  if (n > 0 && srv->services != NULL)
    memcpy(srv->services, services, n * sizeof *services);
  srv->max_message = opts->max_message_bytes > 0 ? opts->max_message_bytes
                                                 : (size_t)4 << 20;
  pthread_mutex_init(&srv->conns_mu, NULL);
  pthread_mutex_init(&srv->q_mu, NULL);
  pthread_cond_init(&srv->q_idle, NULL);
  rpc_turns_init(&srv->turns, srv->n_workers, opts->pollers);
  atomic_init(&srv->stopping, false);
  atomic_init(&srv->exiting, false);
  return srv;
}

static void server_free(h2_server *srv) {
  for (int i = 0; i < srv->n_listen; i++)
    if (srv->listen_fds[i] >= 0)
      close(srv->listen_fds[i]);
  if (srv->epfd >= 0)
    close(srv->epfd);
  if (srv->wakefd >= 0)
    close(srv->wakefd);
  if (srv->callbacks != NULL)
    nghttp2_session_callbacks_del(srv->callbacks);
  if (srv->option != NULL)
    nghttp2_option_del(srv->option);
  pthread_mutex_destroy(&srv->conns_mu);
  pthread_mutex_destroy(&srv->q_mu);
  pthread_cond_destroy(&srv->q_idle);
  rpc_turns_destroy(&srv->turns);
  free(srv->conns);
  free(srv->gens);
  free(srv->methods);
  free(srv->services);
  free(srv->threads);
  free(srv);
}

static cairn_status server_setup(h2_server *srv, cairn_error *err) {
  if (srv->services == NULL || srv->threads == NULL || srv->epfd < 0 ||
      srv->wakefd < 0)
    return cairn_error_set(err, CAIRN_NOMEM, "cannot set up the rpc server");
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOKEN_WAKE};
  if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->wakefd, &ev) != 0)
    return cairn_error_set(err, CAIRN_IO, "epoll: %s", strerror(errno));
  cairn_status st = add_methods(srv, err);
  if (st == CAIRN_OK)
    st = make_callbacks(srv, err);
  return st;
}

cairn_status h2_server_start(const cairn_rpc_server_options *opts,
                             cairn_rpc_service *const *services,
                             cairn_rpc_observer observer, void *observer_user,
                             h2_server **out, cairn_error *err) {
  *out = NULL;
  h2_server *srv = server_alloc(opts, services);
  if (srv == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  srv->observer = observer;
  srv->observer_user = observer_user;
  cairn_status st = server_setup(srv, err);
  if (st == CAIRN_OK)
    st = bind_listeners(srv, opts->host ? opts->host : "0.0.0.0", opts->port, err);
  for (int i = 0; st == CAIRN_OK && i < srv->n_workers; i++) {
    if (pthread_create(&srv->threads[i], NULL, worker_main, srv) != 0)
      st = cairn_error_set(err, CAIRN_INTERNAL, "cannot start rpc worker");
    else
      srv->n_started++;
  }
  if (st != CAIRN_OK) {
    h2_server_stop(srv, 0);
    return st;
  }
  *out = srv;
  return CAIRN_OK;
}

int h2_server_port(const h2_server *srv) { return srv->port; }

/* Every live connection, each with a reference taken; *n set. */
static h2_conn **conns_snapshot(h2_server *srv, size_t *n) {
  pthread_mutex_lock(&srv->conns_mu);
  h2_conn **list = calloc(srv->conns_cap + 1, sizeof *list);
  *n = 0;
  for (size_t i = 0; list != NULL && i < srv->conns_cap; i++)
    if (srv->conns[i] != NULL) {
      srv->conns[i]->refs++;
      list[(*n)++] = srv->conns[i];
    }
  pthread_mutex_unlock(&srv->conns_mu);
  return list;
}

/* GOAWAY to every connection: no new streams, the ones sent still run. */
static void goaway_all(h2_server *srv) {
  size_t n;
  h2_conn **list = conns_snapshot(srv, &n);
  for (size_t i = 0; i < n; i++) {
    h2_conn *c = list[i];
    pthread_mutex_lock(&c->mu);
    bool closed_now = false;
    if (!c->closed) {
      nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(c->session),
                            NGHTTP2_NO_ERROR, NULL, 0);
      if (!conn_flush(c))
        closed_now = conn_close_locked(c);
      else
        conn_arm(c);
    }
    pthread_mutex_unlock(&c->mu);
    if (closed_now)
      conn_put(c);
    conn_put(c);
  }
  free(list);
}

static void close_all(h2_server *srv) {
  size_t n;
  h2_conn **list = conns_snapshot(srv, &n);
  for (size_t i = 0; i < n; i++) {
    h2_conn *c = list[i];
    pthread_mutex_lock(&c->mu);
    conn_flush(c); /* last replies, best effort */
    bool closed_now = conn_close_locked(c);
    pthread_mutex_unlock(&c->mu);
    if (closed_now)
      conn_put(c);
    conn_put(c);
  }
  free(list);
}

/* Waits up to grace_ms for the queue to drain and the handlers to end. */
static void wait_idle(h2_server *srv, int grace_ms) {
  struct timespec until = cairn_deadline_in(CLOCK_REALTIME, grace_ms);
  pthread_mutex_lock(&srv->q_mu);
  while ((srv->n_running > 0 || srv->q_head != NULL) && srv->n_started > 0)
    if (pthread_cond_timedwait(&srv->q_idle, &srv->q_mu, &until) != 0)
      break;
  pthread_mutex_unlock(&srv->q_mu);
}

void h2_server_stop(h2_server *srv, int grace_ms) {
  if (srv == NULL)
    return;
  atomic_store(&srv->stopping, true);
  rpc_turns_open(&srv->turns); /* standbys help answer the queue */
  for (int i = 0; i < srv->n_listen; i++) {
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listen_fds[i], NULL);
    close(srv->listen_fds[i]);
    srv->listen_fds[i] = -1;
  }
  goaway_all(srv);
  wait_idle(srv, grace_ms);
  atomic_store(&srv->exiting, true);
  wake_one(srv); /* left readable: every worker in epoll_wait wakes */
  for (int i = 0; i < srv->n_started; i++)
    pthread_join(srv->threads[i], NULL);
  /* calls still queued (the grace ran out) are dropped with their streams */
  h2_call *q = srv->q_head;
  while (q != NULL) {
    h2_call *next = q->next;
    conn_put(q->conn);
    call_free(q);
    q = next;
  }
  srv->q_head = srv->q_tail = NULL;
  close_all(srv);
  server_free(srv);
}

/* ---- fuzzing ------------------------------------------------------------- */

cairn_status h2_fuzz_new(cairn_rpc_service *const *services,
                         size_t max_message_bytes, h2_server **out,
                         cairn_error *err) {
  cairn_rpc_server_options opts = {.max_message_bytes = max_message_bytes,
                                   .workers = 1};
  h2_server *srv = server_alloc(&opts, services);
  if (srv == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = server_setup(srv, err);
  if (st != CAIRN_OK) {
    server_free(srv);
    return st;
  }
  *out = srv;
  return CAIRN_OK;
}

void h2_fuzz_feed(h2_server *srv, const uint8_t *data, size_t n) {
  h2_conn *c = conn_new(srv, -1);
  if (c == NULL || !conn_insert(srv, c)) {
    if (c != NULL)
      conn_free(c);
    return;
  }
  bool turn = false;
  /* fed in pieces, as a socket delivers them */
  size_t off = 0;
  while (off < n) {
    size_t piece = 1 + (data[off] % 97);
    if (piece > n - off)
      piece = n - off;
    pthread_mutex_lock(&c->mu);
    bool ok = conn_feed(c, data + off, piece) && conn_flush(c);
    h2_call *ready = c->ready;
    c->ready = c->ready_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (ready != NULL) {
      h2_call *next = ready->next;
      ready->next = NULL;
      pthread_mutex_lock(&srv->q_mu);
      srv->n_running++;
      pthread_mutex_unlock(&srv->q_mu);
      run_call(srv, ready, &turn);
      ready = next;
    }
    if (!ok)
      break;
    off += piece;
  }
  pthread_mutex_lock(&c->mu);
  bool closed_now = conn_close_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (closed_now)
    conn_put(c);
}

void h2_fuzz_free(h2_server *srv) { server_free(srv); }
