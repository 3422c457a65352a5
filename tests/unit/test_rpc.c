/*
 * test_rpc.c — the RPC layer, with each server transport (the gRPC C core
 * and the native one): server + client round trips, metadata,
 * UNIMPLEMENTED for unserved and unknown methods, large messages and the
 * size limit, deadlines, concurrent calls, the direct transport,
 * shutdown with a call in flight, a shutdown with many calls queued
 * behind busy workers (it must not run their handlers after the grace), and
 * the poller limit with its standby for methods marked blocking.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "rpc.h"

#define PATH(m) "/milvus.proto.milvus.MilvusService/" m

/* The server transport under test: every test runs once per transport. */
static cairn_rpc_transport g_transport;

/* GetVersion answers the dbname header, so metadata is visible. */
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

/* CreateCollection answers the size of the schema bytes it received. */
static cairn_grpc_code h_create(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                                ProtobufCMessage **reply) {
  const Milvus__Proto__Milvus__CreateCollectionRequest *req =
      (const Milvus__Proto__Milvus__CreateCollectionRequest *)m;
  char text[64];
  snprintf(text, sizeof text, "%zu", req->schema.len);
  *reply = &cairn_pb_status(ctx->arena, CAIRN_INVALID_ARGUMENT, text)->base;
  return CAIRN_GRPC_OK;
}

/* DropCollection is slow: 300 ms. */
static cairn_grpc_code h_slow(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                              ProtobufCMessage **reply) {
  (void)m;
  usleep(300 * 1000);
  *reply = &cairn_pb_ok(ctx->arena)->base;
  return CAIRN_GRPC_OK;
}

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* When a stop began (0: none), and how many handlers started well after. */
static _Atomic double stop_began;
static atomic_int late_handler_starts;

/* The Release/Drop methods below are slower: 500 ms. */
static cairn_grpc_code h_slower(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                                ProtobufCMessage **reply) {
  (void)m;
  double began = atomic_load(&stop_began);
  if (began > 0 && seconds_now() - began > 0.3) /* slack for a slow scheduler */
    atomic_fetch_add(&late_handler_starts, 1);
  usleep(500 * 1000);
  *reply = &cairn_pb_ok(ctx->arena)->base;
  return CAIRN_GRPC_OK;
}

static const cairn_rpc_method methods[] = {
    {"GetVersion", h_version},
    {"CreateCollection", h_create},
    {"DropCollection", h_slow},
    /* More slow methods: the server keeps a request slot per method, so
     * calls to several methods are what queue behind busy workers. */
    {"ReleaseCollection", h_slower},
    {"DropPartition", h_slower},
    {"DropIndex", h_slower},
    {"DropAlias", h_slower},
    {NULL, NULL},
};

typedef struct fixture {
  cairn_rpc_service *service;
  cairn_rpc_server *server;
  cairn_rpc_client *client;
} fixture;

static int setup_with_limit(void **state, size_t limit) {
  fixture *f = calloc(1, sizeof *f);
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_service_new(&milvus__proto__milvus__milvus_service__descriptor,
                                         methods, NULL, &f->service, &err),
                   CAIRN_OK);
  cairn_rpc_service *list[] = {f->service, NULL};
  cairn_rpc_server_options opts = {.transport = g_transport, .host = "127.0.0.1", .port = 0,
                                   .max_message_bytes = limit, .workers = 4};
  assert_int_equal(cairn_rpc_server_start(&opts, list, NULL, NULL, &f->server, &err),
                   CAIRN_OK);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", cairn_rpc_server_port(f->server));
  assert_int_equal(cairn_rpc_client_new_grpc(target, 512u << 20, &f->client, &err),
                   CAIRN_OK);
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_with_limit(state, 256u << 20); }
static int setup_small(void **state) { return setup_with_limit(state, 1u << 20); }

static int teardown(void **state) {
  fixture *f = *state;
  cairn_rpc_client_free(f->client);
  cairn_rpc_server_stop(f->server, 1000);
  cairn_rpc_service_free(f->service);
  free(f);
  return 0;
}

static cairn_status call_version(cairn_rpc_client *c, const char *db,
                                 char *out, size_t out_len) {
  Milvus__Proto__Milvus__GetVersionRequest req =
      MILVUS__PROTO__MILVUS__GET_VERSION_REQUEST__INIT;
  cairn_arena *a = cairn_arena_new();
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  cairn_rpc_call_opts opts = {.dbname = db};
  cairn_status st = cairn_rpc_call(c, PATH("GetVersion"), &req.base,
                                   &milvus__proto__milvus__get_version_response__descriptor,
                                   &opts, a, &reply, &err);
  if (st == CAIRN_OK)
    snprintf(out, out_len, "%s",
             ((Milvus__Proto__Milvus__GetVersionResponse *)reply)->version);
  cairn_arena_free(a);
  return st;
}

static void test_round_trip_with_metadata(void **state) {
  fixture *f = *state;
  char version[64];
  assert_int_equal(call_version(f->client, "books", version, sizeof version), CAIRN_OK);
  assert_string_equal(version, "db=books");
  assert_int_equal(call_version(f->client, NULL, version, sizeof version), CAIRN_OK);
  assert_string_equal(version, "db=");
}

static void test_unimplemented(void **state) {
  fixture *f = *state;
  cairn_arena *a = cairn_arena_new();
  Milvus__Proto__Milvus__ConnectRequest req = MILVUS__PROTO__MILVUS__CONNECT_REQUEST__INIT;
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  /* Declared in the service but not served. */
  assert_int_equal(cairn_rpc_call(f->client, PATH("Connect"), &req.pb_base,
                                  &milvus__proto__milvus__connect_response__descriptor,
                                  NULL, a, &reply, &err),
                   CAIRN_UNIMPLEMENTED);
  /* Not in any service. */
  assert_int_equal(cairn_rpc_call(f->client, "/no.Such/Method", &req.pb_base,
                                  &milvus__proto__milvus__connect_response__descriptor,
                                  NULL, a, &reply, &err),
                   CAIRN_UNIMPLEMENTED);
  cairn_arena_free(a);
}

static cairn_status send_schema_bytes(cairn_rpc_client *c, size_t n, size_t *echoed) {
  Milvus__Proto__Milvus__CreateCollectionRequest req =
      MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
  req.schema.data = malloc(n);
  req.schema.len = n;
  memset(req.schema.data, 0x5a, n);
  cairn_arena *a = cairn_arena_new();
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  cairn_status st = cairn_rpc_call(c, PATH("CreateCollection"), &req.pb_base,
                                   &milvus__proto__common__status__descriptor,
                                   NULL, a, &reply, &err);
  if (st == CAIRN_OK) {
    Milvus__Proto__Common__Status *s = (Milvus__Proto__Common__Status *)reply;
    assert_int_equal(s->code, 1100);
    assert_int_equal(s->error_code, 5); /* legacy IllegalArgument */
    *echoed = strtoull(s->reason, NULL, 10);
  }
  cairn_arena_free(a);
  free(req.schema.data);
  return st;
}

static void test_large_message(void **state) {
  fixture *f = *state;
  size_t echoed = 0;
  assert_int_equal(send_schema_bytes(f->client, 40u << 20, &echoed), CAIRN_OK);
  assert_int_equal(echoed, 40u << 20);
}

static void test_message_limit(void **state) {
  fixture *f = *state;
  size_t echoed = 0;
  assert_int_equal(send_schema_bytes(f->client, 100 << 10, &echoed), CAIRN_OK);
  assert_int_not_equal(send_schema_bytes(f->client, 2u << 20, &echoed), CAIRN_OK);
  /* The server is still serving afterwards. */
  char version[64];
  assert_int_equal(call_version(f->client, "x", version, sizeof version), CAIRN_OK);
}

static void test_deadline(void **state) {
  fixture *f = *state;
  Milvus__Proto__Milvus__DropCollectionRequest req =
      MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
  cairn_arena *a = cairn_arena_new();
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  cairn_rpc_call_opts opts = {.timeout_ms = 50};
  assert_int_equal(cairn_rpc_call(f->client, PATH("DropCollection"), &req.pb_base,
                                  &milvus__proto__common__status__descriptor,
                                  &opts, a, &reply, &err),
                   CAIRN_NOT_READY);
  opts.timeout_ms = 5000;
  assert_int_equal(cairn_rpc_call(f->client, PATH("DropCollection"), &req.pb_base,
                                  &milvus__proto__common__status__descriptor,
                                  &opts, a, &reply, &err),
                   CAIRN_OK);
  cairn_arena_free(a);
}

static void *caller(void *p) {
  cairn_rpc_client *c = p;
  for (int i = 0; i < 50; i++) {
    char db[32], version[64], want[64];
    snprintf(db, sizeof db, "db%d", i);
    snprintf(want, sizeof want, "db=%s", db);
    if (call_version(c, db, version, sizeof version) != CAIRN_OK ||
        strcmp(version, want) != 0)
      return (void *)1;
  }
  return NULL;
}

static void test_concurrent_calls(void **state) {
  fixture *f = *state;
  pthread_t t[8];
  for (int i = 0; i < 8; i++)
    pthread_create(&t[i], NULL, caller, f->client);
  for (int i = 0; i < 8; i++) {
    void *ret = NULL;
    pthread_join(t[i], &ret);
    assert_null(ret);
  }
}

static void test_direct_transport(void **state) {
  fixture *f = *state;
  cairn_rpc_client *direct = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_client_new_direct(f->service, &direct, &err), CAIRN_OK);
  char version[64];
  assert_int_equal(call_version(direct, "local", version, sizeof version), CAIRN_OK);
  assert_string_equal(version, "db=local");
  size_t echoed = 0;
  assert_int_equal(send_schema_bytes(direct, 12345, &echoed), CAIRN_OK);
  assert_int_equal(echoed, 12345);
  /* The wrong request type is refused, not misread. */
  Milvus__Proto__Milvus__ConnectRequest wrong = MILVUS__PROTO__MILVUS__CONNECT_REQUEST__INIT;
  cairn_arena *a = cairn_arena_new();
  ProtobufCMessage *reply = NULL;
  assert_int_not_equal(cairn_rpc_call(direct, PATH("GetVersion"), &wrong.pb_base,
                                      &milvus__proto__milvus__get_version_response__descriptor,
                                      NULL, a, &reply, &err),
                       CAIRN_OK);
  cairn_arena_free(a);
  cairn_rpc_client_free(direct);
}

static void *slow_caller(void *p) {
  cairn_rpc_client *c = p;
  Milvus__Proto__Milvus__DropCollectionRequest req =
      MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
  cairn_arena *a = cairn_arena_new();
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  cairn_status st = cairn_rpc_call(c, PATH("DropCollection"), &req.pb_base,
                                   &milvus__proto__common__status__descriptor,
                                   NULL, a, &reply, &err);
  cairn_arena_free(a);
  return st == CAIRN_OK ? NULL : (void *)1;
}

static void test_graceful_stop_finishes_calls(void **state) {
  fixture *f = *state;
  pthread_t t;
  pthread_create(&t, NULL, slow_caller, f->client);
  usleep(100 * 1000); /* the call is in flight */
  cairn_rpc_server_stop(f->server, 2000);
  f->server = NULL;
  void *ret = (void *)1;
  pthread_join(t, &ret);
  assert_null(ret); /* completed within the grace period */
}

/* One client of its own (a channel per thread, so calls really queue on
 * the server) calling the slow method until a call fails. */
static const char *const slower_paths[] = {
    PATH("ReleaseCollection"), PATH("DropPartition"), PATH("DropIndex"),
    PATH("DropAlias")};

typedef struct busy_arg {
  const char *target;
  int first_method;
} busy_arg;

static void *busy_caller(void *p) {
  const busy_arg *arg = p;
  const char *target = arg->target;
  cairn_rpc_client *c = NULL;
  cairn_error err = {0};
  if (cairn_rpc_client_new_grpc(target, 1u << 20, &c, &err) != CAIRN_OK)
    return (void *)1;
  for (int i = 0; i < 50; i++) {
    Milvus__Proto__Milvus__DropCollectionRequest req =
        MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
    cairn_arena *a = cairn_arena_new();
    ProtobufCMessage *reply = NULL;
    cairn_rpc_call_opts opts = {.timeout_ms = 30000};
    const char *path = slower_paths[(arg->first_method + i) % 4];
    cairn_status st = cairn_rpc_call(c, path, &req.pb_base,
                                     &milvus__proto__common__status__descriptor,
                                     &opts, a, &reply, &err);
    cairn_arena_free(a);
    if (st != CAIRN_OK)
      break;
  }
  cairn_rpc_client_free(c);
  return NULL;
}


/* 1 worker, 24 clients on four 500 ms methods: besides the running call,
 * calls wait in the server's queue when the stop begins. The stop must wait
 * only for the handler already running and answer the queued calls
 * UNAVAILABLE without running their handlers (a server that ran them held
 * a SIGTERM past its deadline under load). */
static void test_stop_with_queued_calls(void **state) {
  fixture *f = *state;
  cairn_rpc_service *list[] = {f->service, NULL};
  cairn_rpc_server_options opts = {.transport = g_transport, .host = "127.0.0.1", .port = 0,
                                   .max_message_bytes = 1 << 20, .workers = 1};
  cairn_rpc_server *server = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_server_start(&opts, list, NULL, NULL, &server, &err),
                   CAIRN_OK);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", cairn_rpc_server_port(server));
  enum { CLIENTS = 24 };
  pthread_t t[CLIENTS];
  busy_arg args[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    args[i] = (busy_arg){.target = target, .first_method = i % 4};
    pthread_create(&t[i], NULL, busy_caller, &args[i]);
  }
  usleep(700 * 1000); /* workers busy, calls queued */
  atomic_store(&late_handler_starts, 0);
  double started = seconds_now();
  atomic_store(&stop_began, started);
  cairn_rpc_server_stop(server, 3000);
  double took = seconds_now() - started;
  atomic_store(&stop_began, 0.0);
  for (int i = 0; i < CLIENTS; i++) {
    void *ret = (void *)1;
    pthread_join(t[i], &ret); /* every client got an answer: no hang */
    assert_null(ret);
  }
  assert_int_equal(atomic_load(&late_handler_starts), 0);
  if (took >= 3.0)
    fail_msg("stop took %.2f s with a 3 s grace", took);
}

/* A 1 s method, marked blocking in one service and not in the other. */
static cairn_grpc_code h_second(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                                ProtobufCMessage **reply) {
  (void)m;
  usleep(1000 * 1000);
  *reply = &cairn_pb_ok(ctx->arena)->base;
  return CAIRN_GRPC_OK;
}

static void *second_caller(void *p) {
  cairn_rpc_client *c = p;
  Milvus__Proto__Milvus__FlushRequest req = MILVUS__PROTO__MILVUS__FLUSH_REQUEST__INIT;
  cairn_arena *a = cairn_arena_new();
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  cairn_status st = cairn_rpc_call(c, PATH("Flush"), &req.pb_base,
                                   &milvus__proto__common__status__descriptor, NULL,
                                   a, &reply, &err);
  cairn_arena_free(a);
  return st == CAIRN_OK ? NULL : (void *)1;
}

/* Seconds a GetVersion takes while a 1 s Flush runs, on a server with 3
 * workers of which 1 takes calls; Flush marked blocking or not. */
static double version_during_flush(bool flush_blocking) {
  static const cairn_rpc_method table[] = {
      {"GetVersion", h_version}, {"Flush", h_second}, {NULL, NULL}};
  static const char *const blocking[] = {"Flush", NULL};
  cairn_rpc_service *svc = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_service_new(&milvus__proto__milvus__milvus_service__descriptor,
                                         table, NULL, &svc, &err),
                   CAIRN_OK);
  if (flush_blocking)
    assert_int_equal(cairn_rpc_service_mark_blocking(svc, blocking, &err), CAIRN_OK);
  cairn_rpc_service *list[] = {svc, NULL};
  cairn_rpc_server_options opts = {.transport = g_transport, .host = "127.0.0.1", .port = 0, .max_message_bytes = 1 << 20,
                                   .workers = 3, .pollers = 1};
  cairn_rpc_server *server = NULL;
  assert_int_equal(cairn_rpc_server_start(&opts, list, NULL, NULL, &server, &err), CAIRN_OK);
  char target[64], version[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", cairn_rpc_server_port(server));
  cairn_rpc_client *flusher = NULL, *reader = NULL;
  assert_int_equal(cairn_rpc_client_new_grpc(target, 1 << 20, &flusher, &err), CAIRN_OK);
  assert_int_equal(cairn_rpc_client_new_grpc(target, 1 << 20, &reader, &err), CAIRN_OK);
  assert_int_equal(call_version(reader, "warm", version, sizeof version), CAIRN_OK);
  pthread_t t;
  pthread_create(&t, NULL, second_caller, flusher);
  usleep(100 * 1000); /* the Flush runs */
  double started = seconds_now();
  assert_int_equal(call_version(reader, "during", version, sizeof version), CAIRN_OK);
  double took = seconds_now() - started;
  void *ret = (void *)1;
  pthread_join(t, &ret);
  assert_null(ret);
  cairn_rpc_client_free(flusher);
  cairn_rpc_client_free(reader);
  cairn_rpc_server_stop(server, 1000);
  cairn_rpc_service_free(svc);
  return took;
}

/* With one poller, a call waits for a running handler unless that handler's
 * method is marked blocking: then a standby worker serves it at once. */
static void test_blocking_methods_free_a_poller(void **state) {
  (void)state;
  double with_standby = version_during_flush(true);
  double without = version_during_flush(false);
  if (with_standby > 0.6)
    fail_msg("GetVersion took %.2f s beside a blocking Flush", with_standby);
  if (without < 0.5)
    fail_msg("GetVersion took %.2f s beside a non-blocking Flush on the only "
             "poller: the poller limit did not hold", without);
  cairn_error err = {0};
  cairn_rpc_service *svc = NULL;
  assert_int_equal(cairn_rpc_service_new(&milvus__proto__milvus__milvus_service__descriptor,
                                         methods, NULL, &svc, &err),
                   CAIRN_OK);
  static const char *const unknown[] = {"NoSuchMethod", NULL};
  assert_int_equal(cairn_rpc_service_mark_blocking(svc, unknown, &err), CAIRN_INVALID_ARGUMENT);
  cairn_rpc_service_free(svc);
}

static void test_port_in_use(void **state) {
  fixture *f = *state;
  cairn_rpc_service *list[] = {f->service, NULL};
  cairn_rpc_server_options opts = {.transport = g_transport, .host = "127.0.0.1",
                                   .port = cairn_rpc_server_port(f->server),
                                   .max_message_bytes = 1 << 20, .workers = 1};
  cairn_rpc_server *second = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_server_start(&opts, list, NULL, NULL, &second, &err),
                   CAIRN_IO);
  assert_null(second);
  assert_non_null(strstr(err.message, "cannot listen"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_with_metadata, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unimplemented, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_message, setup, teardown),
      cmocka_unit_test_setup_teardown(test_message_limit, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_direct_transport, setup, teardown),
      cmocka_unit_test_setup_teardown(test_graceful_stop_finishes_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_with_queued_calls, setup, teardown),
      cmocka_unit_test(test_blocking_methods_free_a_poller),
      cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
  };
  g_transport = CAIRN_RPC_GRPC_CORE;
  int failed = cmocka_run_group_tests_name("grpc-core server", tests, NULL, NULL);
  g_transport = CAIRN_RPC_NATIVE;
  failed += cmocka_run_group_tests_name("native server", tests, NULL, NULL);
  return failed;
}
