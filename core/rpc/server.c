/*
 * server.c — the gRPC unary server on the gRPC C core.
 *
 * Threading model: N worker threads, each with its own completion queue
 * registered with the server. A worker asks for one new call on its queue,
 * then serves that call to completion (receive the request, run the handler,
 * send reply + status) before asking for the next, so exactly one operation
 * is pending on its queue at any time and grpc_completion_queue_next returns
 * the event the worker is waiting for. Calls that arrive while every worker
 * is busy wait inside gRPC until a worker asks again.
 *
 * Shutdown: cairn_rpc_server_stop() asks gRPC to stop accepting, waits up to
 * the grace period for calls in flight, cancels the rest; each worker's
 * pending request then fails and the worker exits. The queues are drained
 * and destroyed after the workers are joined.
 *
 * Memory: each call's request and reply live in a per-call arena, freed when
 * the call ends. The reply is packed straight into a gRPC slice.
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc.h"

struct cairn_rpc_server {
  grpc_server *server;
  grpc_completion_queue *shutdown_cq;
  cairn_rpc_service **services; /* NULL-terminated copy of the list */
  cairn_rpc_observer observer;
  void *observer_user;
  int port;
  int n_workers;                /* queues created, one per worker */
  int n_started;                /* worker threads running */
  pthread_t *threads;
  grpc_completion_queue **cqs; /* one per worker */
};

typedef struct worker_arg {
  cairn_rpc_server *server;
  grpc_completion_queue *cq;
} worker_arg;

int64_t cairn_rpc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for the one pending operation on a worker's queue. */
static bool wait_op(grpc_completion_queue *cq) {
  grpc_event ev =
      grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static char *slice_to_arena(cairn_arena *arena, grpc_slice s) {
  return cairn_arena_strndup(arena, (const char *)GRPC_SLICE_START_PTR(s),
                             GRPC_SLICE_LENGTH(s));
}

static void read_metadata(cairn_rpc_ctx *ctx, const grpc_metadata_array *md) {
  ctx->dbname = ctx->authorization = ctx->identifier = "";
  for (size_t i = 0; i < md->count; i++) {
    grpc_slice key = md->metadata[i].key;
    const char *k = (const char *)GRPC_SLICE_START_PTR(key);
    size_t klen = GRPC_SLICE_LENGTH(key);
    const char **dst = NULL;
    if (klen == 6 && memcmp(k, "dbname", 6) == 0)
      dst = &ctx->dbname;
    else if (klen == 13 && memcmp(k, "authorization", 13) == 0)
      dst = &ctx->authorization;
    else if (klen == 10 && memcmp(k, "identifier", 10) == 0)
      dst = &ctx->identifier;
    if (dst != NULL)
      *dst = slice_to_arena(ctx->arena, md->metadata[i].value);
  }
}

static int64_t deadline_ms(gpr_timespec deadline) {
  gpr_timespec rt = gpr_convert_clock_type(deadline, GPR_CLOCK_REALTIME);
  if (gpr_time_cmp(rt, gpr_inf_future(GPR_CLOCK_REALTIME)) == 0)
    return INT64_MAX;
  return rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
}

static const cairn_rpc_service *find_service(const cairn_rpc_server *srv,
                                             const char *path,
                                             const ProtobufCMessageDescriptor **in) {
  for (cairn_rpc_service **s = srv->services; *s != NULL; s++) {
    *in = cairn_rpc_service_input(*s, path);
    if (*in != NULL)
      return *s;
  }
  return NULL;
}

/* Receive the request message; NULL when the client sent none. */
static grpc_byte_buffer *receive_request(grpc_call *call,
                                         grpc_completion_queue *cq) {
  grpc_byte_buffer *payload = NULL;
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &payload;
  if (grpc_call_start_batch(call, &op, 1, call, NULL) != GRPC_CALL_OK)
    return NULL;
  if (!wait_op(cq) && payload != NULL) {
    grpc_byte_buffer_destroy(payload);
    return NULL;
  }
  return payload;
}

static ProtobufCMessage *unpack_request(cairn_arena *arena,
                                        const ProtobufCMessageDescriptor *in,
                                        grpc_byte_buffer *payload) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, payload))
    return NULL;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  ProtobufCMessage *msg =
      protobuf_c_message_unpack(in, cairn_arena_protobuf(arena),
                                GRPC_SLICE_LENGTH(all),
                                GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  return msg;
}

/* Send the reply (when code is OK) and the status; wait for the close. */
static void send_reply(grpc_call *call, grpc_completion_queue *cq,
                       cairn_grpc_code code, const char *message,
                       const ProtobufCMessage *reply) {
  grpc_byte_buffer *out = NULL;
  if (code == CAIRN_GRPC_OK && reply != NULL) {
    size_t n = protobuf_c_message_get_packed_size(reply);
    grpc_slice slice = grpc_slice_malloc(n);
    protobuf_c_message_pack(reply, GRPC_SLICE_START_PTR(slice));
    out = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
  }
  grpc_slice details = grpc_slice_from_copied_string(message ? message : "");
  int cancelled = 0;
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (out != NULL) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = out;
  }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)code;
  ops[n++].data.send_status_from_server.status_details = &details;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &cancelled;
  if (grpc_call_start_batch(call, ops, n, call, NULL) == GRPC_CALL_OK)
    wait_op(cq);
  grpc_slice_unref(details);
  if (out != NULL)
    grpc_byte_buffer_destroy(out);
}

/* Decode, dispatch, encode one call. Returns the gRPC code sent. */
static cairn_grpc_code run_call(cairn_rpc_server *srv, cairn_rpc_ctx *ctx,
                                grpc_byte_buffer *payload,
                                ProtobufCMessage **reply) {
  const ProtobufCMessageDescriptor *in = NULL;
  const cairn_rpc_service *service = find_service(srv, ctx->method, &in);
  if (service == NULL) {
    ctx->grpc_message = cairn_arena_printf(
        ctx->arena, "method %s is not served by Cairn", ctx->method);
    return CAIRN_GRPC_UNIMPLEMENTED;
  }
  if (payload == NULL) {
    ctx->grpc_message = "request message missing";
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  if (ctx->deadline_ms != INT64_MAX && ctx->deadline_ms <= cairn_rpc_now_ms()) {
    ctx->grpc_message = "deadline exceeded before the call was served";
    return CAIRN_GRPC_DEADLINE_EXCEEDED;
  }
  ProtobufCMessage *req = unpack_request(ctx->arena, in, payload);
  if (req == NULL) {
    ctx->grpc_message = cairn_arena_printf(
        ctx->arena, "cannot decode %s: malformed protobuf", in->name);
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  return cairn_rpc_service_dispatch(service, ctx, req, reply);
}

static void serve_call(cairn_rpc_server *srv, grpc_completion_queue *cq,
                       grpc_call *call, grpc_call_details *details,
                       grpc_metadata_array *md) {
  double started = monotonic_seconds();
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL) {
    send_reply(call, cq, CAIRN_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
    return;
  }
  cairn_rpc_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.arena = arena;
  ctx.method = slice_to_arena(arena, details->method);
  ctx.peer = "";
  ctx.deadline_ms = deadline_ms(details->deadline);
  read_metadata(&ctx, md);

  grpc_byte_buffer *payload = receive_request(call, cq);
  ProtobufCMessage *reply = NULL;
  cairn_grpc_code code = run_call(srv, &ctx, payload, &reply);
  if (payload != NULL)
    grpc_byte_buffer_destroy(payload);
  send_reply(call, cq, code, ctx.grpc_message, reply);
  if (srv->observer != NULL)
    srv->observer(srv->observer_user, ctx.method, code,
                  monotonic_seconds() - started);
  cairn_arena_free(arena);
}

static void *worker_main(void *p) {
  worker_arg arg = *(worker_arg *)p;
  free(p);
  for (;;) {
    grpc_call *call = NULL;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_call_details_init(&details);
    grpc_metadata_array_init(&md);
    grpc_call_error e = grpc_server_request_call(
        arg.server->server, &call, &details, &md, arg.cq, arg.cq, arg.cq);
    bool ok = e == GRPC_CALL_OK && wait_op(arg.cq);
    if (ok)
      serve_call(arg.server, arg.cq, call, &details, &md);
    if (call != NULL)
      grpc_call_unref(call);
    grpc_call_details_destroy(&details);
    grpc_metadata_array_destroy(&md);
    if (!ok)
      break; /* the server is shutting down */
  }
  return NULL;
}

static grpc_server *create_grpc_server(size_t max_message_bytes) {
  int limit = max_message_bytes > (size_t)INT_MAX ? INT_MAX
                                                  : (int)max_message_bytes;
  grpc_arg args[3];
  memset(args, 0, sizeof args);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = limit;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = limit;
  /* gRPC binds with SO_REUSEPORT by default, which would let a second
   * server share a port silently; a port in use must be an error. */
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = GRPC_ARG_ALLOW_REUSEPORT;
  args[2].value.integer = 0;
  grpc_channel_args channel_args = {.num_args = 3, .args = args};
  return grpc_server_create(&channel_args, NULL);
}

static cairn_status bind_port(cairn_rpc_server *srv,
                              const cairn_rpc_server_options *opts,
                              cairn_error *err) {
  char addr[300];
  snprintf(addr, sizeof addr, "%s:%d", opts->host, opts->port);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  srv->port = grpc_server_add_http2_port(srv->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (srv->port == 0)
    return cairn_error_set(err, CAIRN_IO,
                           "cannot listen on %s: address in use or invalid",
                           addr);
  return CAIRN_OK;
}

static size_t count_services(cairn_rpc_service *const *services) {
  size_t n = 0;
  while (services[n] != NULL)
    n++;
  return n;
}

static cairn_status start_workers(cairn_rpc_server *srv, cairn_error *err) {
  for (int i = 0; i < srv->n_workers; i++) {
    worker_arg *arg = malloc(sizeof *arg);
    if (arg == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    arg->server = srv;
    arg->cq = srv->cqs[i];
    if (pthread_create(&srv->threads[i], NULL, worker_main, arg) != 0) {
      free(arg);
      return cairn_error_set(err, CAIRN_INTERNAL, "cannot start rpc worker");
    }
    srv->n_started++;
  }
  return CAIRN_OK;
}

cairn_status cairn_rpc_server_start(const cairn_rpc_server_options *opts,
                                    cairn_rpc_service *const *services,
                                    cairn_rpc_observer observer,
                                    void *observer_user,
                                    cairn_rpc_server **out, cairn_error *err) {
  *out = NULL;
  grpc_init();
  cairn_rpc_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  size_t n_services = count_services(services);
  srv->services = calloc(n_services + 1, sizeof *srv->services);
  srv->n_workers = opts->workers > 0 ? opts->workers : 4;
  srv->threads = calloc((size_t)srv->n_workers, sizeof *srv->threads);
  srv->cqs = calloc((size_t)srv->n_workers, sizeof *srv->cqs);
  if (srv->services == NULL || srv->threads == NULL || srv->cqs == NULL) {
    free(srv->services);
    free(srv->threads);
    free(srv->cqs);
    free(srv);
    grpc_shutdown();
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  memcpy(srv->services, services, n_services * sizeof *services);
  srv->observer = observer;
  srv->observer_user = observer_user;
  srv->server = create_grpc_server(opts->max_message_bytes);
  srv->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(srv->server, srv->shutdown_cq, NULL);
  for (int i = 0; i < srv->n_workers; i++) {
    srv->cqs[i] = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cqs[i], NULL);
  }
  cairn_status st = bind_port(srv, opts, err);
  if (st != CAIRN_OK) {
    /* No worker runs yet: shut down with no calls in flight, then free. */
    grpc_server_start(srv->server);
    cairn_rpc_server_stop(srv, 0);
    return st;
  }
  grpc_server_start(srv->server);
  st = start_workers(srv, err);
  if (st != CAIRN_OK) {
    cairn_rpc_server_stop(srv, 0);
    return st;
  }
  *out = srv;
  return CAIRN_OK;
}

int cairn_rpc_server_port(const cairn_rpc_server *server) {
  return server->port;
}

static void drain_and_destroy(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL)
             .type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}

void cairn_rpc_server_stop(cairn_rpc_server *srv, int grace_ms) {
  if (srv == NULL)
    return;
  grpc_server_shutdown_and_notify(srv->server, srv->shutdown_cq, srv);
  gpr_timespec grace = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                    gpr_time_from_millis(grace_ms, GPR_TIMESPAN));
  grpc_event ev = grpc_completion_queue_next(srv->shutdown_cq, grace, NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    grpc_server_cancel_all_calls(srv->server);
    grpc_completion_queue_next(srv->shutdown_cq,
                               gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  }
  for (int i = 0; i < srv->n_started; i++)
    pthread_join(srv->threads[i], NULL);
  grpc_server_destroy(srv->server);
  for (int i = 0; i < srv->n_workers; i++)
    drain_and_destroy(srv->cqs[i]);
  drain_and_destroy(srv->shutdown_cq);
  free(srv->services);
  free(srv->threads);
  free(srv->cqs);
  free(srv);
  grpc_shutdown();
}
