/*
 * test_h2server.c — the native gRPC server (core/rpc/h2server.c) at the
 * HTTP/2 level, with a raw nghttp2 client: what a gRPC client library
 * never sends, and how the server answers it.
 *   - wrong content-type: HTTP 415; GET: HTTP 405;
 *   - compressed message: UNIMPLEMENTED + grpc-accept-encoding identity;
 *   - no message, two messages, a prefix that lies, bad protobuf, a bad
 *     grpc-timeout: INVALID_ARGUMENT; unknown path: UNIMPLEMENTED;
 *   - a good call: HEADERS, one message, trailers with grpc-status 0;
 *   - a request runs once its one message is in, before END_STREAM;
 *   - a stream reset while its handler runs, then more calls on the same
 *     connection; bytes that are not HTTP/2: the connection closes and
 *     the server goes on;
 *   - slow calls multiplexed on ONE connection run on several workers;
 *   - grpc-timeout parsing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "rpc.h"
#include "rpc_internal.h"

#define PATH(m) "/milvus.proto.milvus.MilvusService/" m

static cairn_grpc_code h_version(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                                 ProtobufCMessage **reply) {
  (void)m;
  Milvus__Proto__Milvus__GetVersionResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__GetVersionResponse, 1);
  milvus__proto__milvus__get_version_response__init(r);
  r->version = cairn_arena_printf(ctx->arena, "db=%s", ctx->dbname);
  r->status = cairn_pb_ok(ctx->arena);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_grpc_code h_slow(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                              ProtobufCMessage **reply) {
  (void)m;
  usleep(300 * 1000);
  *reply = &cairn_pb_ok(ctx->arena)->base;
  return CAIRN_GRPC_OK;
}

static const cairn_rpc_method methods[] = {
    {"GetVersion", h_version}, {"DropCollection", h_slow}, {NULL, NULL}};

/* ---- a raw HTTP/2 client ------------------------------------------------ */

#define MAX_STREAMS 16

typedef struct answer {
  int32_t id;
  int http_status;    /* :status, 0 when none */
  int grpc_status;    /* from headers or trailers, -1 when none */
  char grpc_message[256];
  bool accept_identity;
  uint8_t data[4096];
  size_t len;
  bool closed;
} answer;

typedef struct h2c {
  int fd;
  nghttp2_session *s;
  answer ans[MAX_STREAMS];
  int n;
} h2c;

static answer *answer_of(h2c *c, int32_t id) {
  for (int i = 0; i < c->n; i++)
    if (c->ans[i].id == id)
      return &c->ans[i];
  return NULL;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags,
                     void *user) {
  (void)s;
  (void)flags;
  answer *a = answer_of(user, f->hd.stream_id);
  if (a == NULL)
    return 0;
  char v[256];
  snprintf(v, sizeof v, "%.*s", (int)vlen, (const char *)value);
  if (nlen == 7 && memcmp(name, ":status", 7) == 0)
    a->http_status = atoi(v);
  else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
    a->grpc_status = atoi(v);
  else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0)
    snprintf(a->grpc_message, sizeof a->grpc_message, "%s", v);
  else if (nlen == 20 && memcmp(name, "grpc-accept-encoding", 20) == 0)
    a->accept_identity = strcmp(v, "identity") == 0;
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d,
                   size_t len, void *user) {
  (void)s;
  (void)flags;
  answer *a = answer_of(user, id);
  if (a != NULL && a->len + len <= sizeof a->data) {
    memcpy(a->data + a->len, d, len);
    a->len += len;
  }
  return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user) {
  (void)s;
  (void)code;
  answer *a = answer_of(user, id);
  if (a != NULL)
    a->closed = true;
  return 0;
}

static void h2c_open(h2c *c, int port) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
  assert_int_equal(nghttp2_session_client_new(&c->s, cb, c), 0);
  nghttp2_session_callbacks_del(cb);
  nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void h2c_close(h2c *c) {
  nghttp2_session_del(c->s);
  close(c->fd);
}

static void h2c_send(h2c *c) {
  const uint8_t *d;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(c->s, &d)) > 0)
    assert_int_equal(write(c->fd, d, (size_t)n), n);
}

/* Exchanges frames until every answer is closed, the server closes the
 * connection (returns false) or 5 s pass (fails). */
static bool h2c_run(h2c *c) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    h2c_send(c);
    bool all = true; /* closed, or its status is in */
    for (int i = 0; i < c->n; i++)
      all = all && (c->ans[i].closed || c->ans[i].grpc_status >= 0);
    if (all)
      return true;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 100) == 1) {
      uint8_t buf[16384];
      ssize_t n = read(c->fd, buf, sizeof buf);
      if (n <= 0)
        return false;
      assert_true(nghttp2_session_mem_recv(c->s, buf, (size_t)n) == n);
    }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec > 5)
      fail_msg("no answer within 5 s");
  }
}

typedef struct body {
  const uint8_t *p;
  size_t n;
  bool no_end_stream; /* the last DATA frame leaves the stream open */
} body;

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user) {
  (void)s;
  (void)id;
  (void)user;
  body *b = src->ptr;
  size_t n = b->n < len ? b->n : len;
  memcpy(buf, b->p, n);
  b->p += n;
  b->n -= n;
  if (b->n == 0)
    *flags |= NGHTTP2_DATA_FLAG_EOF | (b->no_end_stream ? NGHTTP2_DATA_FLAG_NO_END_STREAM : 0);
  return (ssize_t)n;
}

#define HDR(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), 0}

/* Starts a request; msg (len bytes, prefix included) must live until the
 * stream is answered. extra: one more header "name: value" or NULL. */
static answer *h2c_request(h2c *c, const char *method, const char *path,
                           const char *ctype, const char *extra_name,
                           const char *extra_value, body *b) {
  nghttp2_nv nv[6] = {HDR(":method", method), HDR(":scheme", "http"),
                      HDR(":path", path), HDR(":authority", "test"),
                      HDR("content-type", ctype)};
  size_t n = 5;
  if (extra_name != NULL)
    nv[n++] = (nghttp2_nv)HDR(extra_name, extra_value);
  nghttp2_data_provider dp = {.source.ptr = b, .read_callback = read_body};
  int32_t id = nghttp2_submit_request(c->s, NULL, nv, n, b && b->n ? &dp : NULL, NULL);
  assert_true(id > 0);
  answer *a = &c->ans[c->n++];
  memset(a, 0, sizeof *a);
  a->id = id;
  a->grpc_status = -1;
  return a;
}

/* A gRPC message: 5-byte prefix (flag, declared length) and payload. */
static size_t frame_msg(uint8_t *out, uint8_t flag, uint32_t declared,
                        const uint8_t *payload, size_t n) {
  out[0] = flag;
  out[1] = (uint8_t)(declared >> 24);
  out[2] = (uint8_t)(declared >> 16);
  out[3] = (uint8_t)(declared >> 8);
  out[4] = (uint8_t)declared;
  if (n > 0)
    memcpy(out + 5, payload, n);
  return n + 5;
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct fixture {
  cairn_rpc_service *service;
  cairn_rpc_server *server;
  int port;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_service_new(&milvus__proto__milvus__milvus_service__descriptor,
                                         methods, NULL, &f->service, &err),
                   CAIRN_OK);
  cairn_rpc_service *list[] = {f->service, NULL};
  cairn_rpc_server_options opts = {.transport = CAIRN_RPC_NATIVE, .host = "127.0.0.1",
                                   .max_message_bytes = 1 << 20, .workers = 4};
  assert_int_equal(cairn_rpc_server_start(&opts, list, NULL, NULL, &f->server, &err),
                   CAIRN_OK);
  f->port = cairn_rpc_server_port(f->server);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  cairn_rpc_server_stop(f->server, 1000);
  cairn_rpc_service_free(f->service);
  free(f);
  return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_http_errors(void **state) {
  fixture *f = *state;
  h2c c;
  h2c_open(&c, f->port);
  uint8_t m[5];
  body b1 = {m, frame_msg(m, 0, 0, NULL, 0), false}, b2 = b1;
  answer *text = h2c_request(&c, "POST", PATH("GetVersion"), "text/plain", NULL, NULL, &b1);
  answer *get = h2c_request(&c, "GET", PATH("GetVersion"), "application/grpc", NULL, NULL, &b2);
  assert_true(h2c_run(&c));
  assert_int_equal(text->http_status, 415);
  assert_int_equal(get->http_status, 405);
  h2c_close(&c);
}

static void test_grpc_errors(void **state) {
  fixture *f = *state;
  h2c c;
  h2c_open(&c, f->port);
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  uint8_t zipped[16], two[32], liar[16], bad_pb[16], ok[8];
  size_t two_len = frame_msg(two, 0, 0, NULL, 0);
  two_len += frame_msg(two + two_len, 0, 0, NULL, 0);
  body bz = {zipped, frame_msg(zipped, 1, 3, junk, 3), false};
  body bt = {two, two_len, false};
  body bl = {liar, frame_msg(liar, 0, 9, junk, 3), false};
  body bp = {bad_pb, frame_msg(bad_pb, 0, sizeof junk, junk, sizeof junk), false};
  body bo = {ok, frame_msg(ok, 0, 0, NULL, 0), false}, bu = bo, bd = bo;
  answer *a_zip = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc",
                              "grpc-encoding", "gzip", &bz);
  answer *a_none = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc",
                               NULL, NULL, NULL);
  answer *a_two = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc",
                              NULL, NULL, &bt);
  answer *a_liar = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc",
                               NULL, NULL, &bl);
  answer *a_pb = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc+proto",
                             NULL, NULL, &bp);
  answer *a_unknown = h2c_request(&c, "POST", PATH("NoSuchMethod"), "application/grpc",
                                  NULL, NULL, &bu);
  answer *a_timeout = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc",
                                  "grpc-timeout", "soon", &bd);
  assert_true(h2c_run(&c));
  assert_int_equal(a_zip->grpc_status, CAIRN_GRPC_UNIMPLEMENTED);
  assert_true(a_zip->accept_identity);
  assert_non_null(strstr(a_zip->grpc_message, "gzip"));
  assert_int_equal(a_none->grpc_status, CAIRN_GRPC_INVALID_ARGUMENT);
  assert_non_null(strstr(a_none->grpc_message, "missing"));
  assert_int_equal(a_two->grpc_status, CAIRN_GRPC_INVALID_ARGUMENT);
  assert_int_equal(a_liar->grpc_status, CAIRN_GRPC_INVALID_ARGUMENT);
  assert_int_equal(a_pb->grpc_status, CAIRN_GRPC_INVALID_ARGUMENT);
  assert_non_null(strstr(a_pb->grpc_message, "malformed protobuf"));
  assert_int_equal(a_unknown->grpc_status, CAIRN_GRPC_UNIMPLEMENTED);
  assert_int_equal(a_timeout->grpc_status, CAIRN_GRPC_INVALID_ARGUMENT);
  for (int i = 0; i < c.n; i++) {
    assert_int_equal(c.ans[i].http_status, 200);
    assert_int_equal(c.ans[i].len, 0); /* Trailers-Only */
  }
  h2c_close(&c);
}

static void test_good_call(void **state) {
  fixture *f = *state;
  h2c c;
  h2c_open(&c, f->port);
  uint8_t m[5];
  body b = {m, frame_msg(m, 0, 0, NULL, 0), false};
  answer *a = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc", "dbname",
                          "db7", &b);
  assert_true(h2c_run(&c));
  assert_int_equal(a->http_status, 200);
  assert_int_equal(a->grpc_status, 0);
  assert_true(a->len >= 5);
  uint32_t n = (uint32_t)a->data[1] << 24 | (uint32_t)a->data[2] << 16 |
               (uint32_t)a->data[3] << 8 | a->data[4];
  assert_int_equal(a->data[0], 0);
  assert_int_equal((size_t)n + 5, a->len);
  Milvus__Proto__Milvus__GetVersionResponse *r =
      milvus__proto__milvus__get_version_response__unpack(NULL, n, a->data + 5);
  assert_non_null(r);
  assert_string_equal(r->version, "db=db7");
  milvus__proto__milvus__get_version_response__free_unpacked(r, NULL);
  h2c_close(&c);
}

/* The client resets a stream while its handler runs: the reply is dropped,
 * the connection serves the next call. */
static void test_reset_while_running(void **state) {
  fixture *f = *state;
  h2c c;
  h2c_open(&c, f->port);
  uint8_t m[5];
  body b = {m, frame_msg(m, 0, 0, NULL, 0), false};
  answer *slow = h2c_request(&c, "POST", PATH("DropCollection"), "application/grpc",
                             NULL, NULL, &b);
  h2c_send(&c);
  usleep(100 * 1000); /* the handler runs */
  nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, slow->id, NGHTTP2_CANCEL);
  h2c_send(&c);
  usleep(400 * 1000); /* the handler ends, its reply finds no stream */
  slow->closed = true;
  body b2 = {m, 5, false};
  answer *a = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc", NULL, NULL,
                          &b2);
  assert_true(h2c_run(&c));
  assert_int_equal(a->grpc_status, 0);
  h2c_close(&c);
}

/* A request whose one message has arrived runs without waiting for
 * END_STREAM (Node's http2 may send that in a later frame of its own). */
static void test_complete_message_runs_before_end_stream(void **state) {
  fixture *f = *state;
  h2c c;
  h2c_open(&c, f->port);
  uint8_t m[5];
  body b = {m, frame_msg(m, 0, 0, NULL, 0), true};
  answer *a = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc", "dbname",
                          "early", &b);
  assert_true(h2c_run(&c));
  assert_int_equal(a->grpc_status, 0);
  assert_false(a->closed); /* our END_STREAM went out; the client's did not */
  h2c_close(&c);
}

/* Bytes that are not HTTP/2: that connection closes, others go on. */
static void test_garbage_connection(void **state) {
  fixture *f = *state;
  h2c bad;
  h2c_open(&bad, f->port);
  static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(write(bad.fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
  struct pollfd p = {.fd = bad.fd, .events = POLLIN};
  uint8_t buf[4096];
  ssize_t n = 1;
  for (int i = 0; i < 50 && n > 0; i++) /* drain until the server closes */
    if (poll(&p, 1, 100) == 1)
      n = read(bad.fd, buf, sizeof buf);
  assert_true(n <= 0);
  h2c_close(&bad);
  h2c c;
  h2c_open(&c, f->port);
  uint8_t m[5];
  body b = {m, frame_msg(m, 0, 0, NULL, 0), false};
  answer *a = h2c_request(&c, "POST", PATH("GetVersion"), "application/grpc", NULL, NULL, &b);
  assert_true(h2c_run(&c));
  assert_int_equal(a->grpc_status, 0);
  h2c_close(&c);
}

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 8 calls of 300 ms on one connection, 4 workers: about 600 ms, not 2.4 s
 * (they would take that if one connection's calls ran one at a time). */
static void test_multiplexed_calls_run_in_parallel(void **state) {
  fixture *f = *state;
  h2c c;
  h2c_open(&c, f->port);
  uint8_t m[5];
  frame_msg(m, 0, 0, NULL, 0);
  body b[8];
  double t0 = seconds_now();
  for (int i = 0; i < 8; i++) {
    b[i] = (body){m, 5, false};
    h2c_request(&c, "POST", PATH("DropCollection"), "application/grpc", NULL, NULL, &b[i]);
  }
  assert_true(h2c_run(&c));
  double took = seconds_now() - t0;
  for (int i = 0; i < 8; i++)
    assert_int_equal(c.ans[i].grpc_status, 0);
  if (took > 1.8)
    fail_msg("8 multiplexed 300 ms calls took %.2f s on 4 workers", took);
  h2c_close(&c);
}

static void test_parse_timeout(void **state) {
  (void)state;
  static const struct { const char *text; int64_t ms; } cases[] = {
      {"1H", 3600000}, {"2M", 120000}, {"3S", 3000}, {"250m", 250},
      {"1500u", 2},    {"1n", 1},      {"99999999m", 99999999},
      {"", -1},        {"S", -1},      {"1", -1},   {"1x", -1},
      {"123456789S", -1}, {"-1S", -1}, {"1 S", -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t got = h2_parse_timeout((const uint8_t *)cases[i].text, strlen(cases[i].text));
    if (got != cases[i].ms)
      fail_msg("grpc-timeout '%s': %lld, want %lld", cases[i].text, (long long)got,
               (long long)cases[i].ms);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_http_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grpc_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_good_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_while_running, setup, teardown),
      cmocka_unit_test_setup_teardown(test_complete_message_runs_before_end_stream, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_garbage_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_multiplexed_calls_run_in_parallel, setup,
                                      teardown),
      cmocka_unit_test(test_parse_timeout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
