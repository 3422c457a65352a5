/*
 * server.c — the gRPC unary server on the gRPC C core (transport
 * CAIRN_RPC_GRPC_CORE; h2server.c is the native one).
 *
 * Every served method path of every service is registered with gRPC
 * (grpc_server_register_method, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER),
 * so a call reaches us in ONE completion-queue event that carries its
 * request message, metadata and deadline. The reply, the status and the
 * close are then sent in ONE batch that the worker does not wait for: its
 * completion comes back later on the same queue with the call's tag. So a
 * call costs two queue events, and a worker goes straight from one call to
 * the next. Paths that are not registered (unknown or unserved methods) come
 * through one generic slot (grpc_server_request_call) and get UNIMPLEMENTED
 * without their message being read.
 *
 * Slots: a slot is one outstanding grpc_server_request_*call plus, once a
 * call matched it, that call until its send batch completes. Each
 * registered method has `workers` slots and the generic path one; a slot is
 * re-requested after its send batch completed, before the finished call is
 * released. Calls that arrive while all slots of their method are in use
 * wait inside gRPC (its pending-call list) until a slot is requested again.
 * A slot's life:
 *
 *   REQUESTED --(event ok: a call)--> SERVING --(batch started)--> SENDING
 *       ^                                                             |
 *       +------------------(event: batch done, re-request)------------+
 *   any state --(event not ok / request refused: shutdown)--> DEAD
 *
 * Threading model: N worker threads share ONE completion queue and take
 * whatever event comes next: a new call (run its handler, start its send
 * batch) or a finished send (recycle the slot). A slot is touched by one
 * thread at a time: the one holding its event. With one shared queue an idle
 * worker takes the next call whichever connection it came on, and the thread
 * that polled the socket usually gets the event itself (no hand-off).
 * Poller turns: at most `pollers` workers (one per core by default) take
 * events at a time; the others wait on poll_turn. A worker gives up its
 * turn before running the handler of a method marked blocking (a flush, a
 * disk sync) and signals one standby to take it, so waits do not stall the
 * other calls; after that handler it takes a turn again or stands by. A
 * turn given back after an ordinary event is re-taken at once by the same
 * thread without a signal: with no blocking call the standbys never wake,
 * and a busy server runs about one worker per core (on 2 cores, 4 workers
 * polling cost ~30 us of CPU per search more than 2, in wake-ups and cache
 * misses). The stop lets every standby through.
 * Rejected: one queue per worker with one call at a time (the previous
 * design) — three queue waits per call (request, receive, send), each a
 * sleep and a wake-up of the worker and of gRPC's poller; on 2 cores that
 * was ~90 us of CPU per call in context switches.
 *
 * Shutdown: grpcc_server_stop() asks gRPC to stop accepting, waits up to
 * the grace period for calls in flight, then cancels the rest. A call that
 * matched a slot but waited in the queue for a worker is not in flight: once
 * the stop began it is answered UNAVAILABLE without running its handler
 * (as gRPC answers the calls it still held), so the stop waits only for the
 * handlers already running, never for a queue of them. gRPC fails
 * every outstanding request (its slot dies); a slot whose send completes
 * after that asks again, is refused, and dies. Once every slot is dead no
 * gRPC operation can start on the queue any more: the queue is shut down,
 * the workers see GRPC_QUEUE_SHUTDOWN and exit, and everything is freed.
 * A re-request is made while the slot still holds its finished call: the
 * call keeps the server's channel, hence the server, alive.
 *
 * Memory: each call's request and reply live in a per-call arena, freed as
 * soon as the reply is packed into a gRPC slice (before the send completes).
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "rpc.h"
#include "rpc_internal.h"

/* A registered method path. */
typedef struct srv_method {
  rpc_served served;
  void *handle; /* grpc_server_register_method's */
} srv_method;

typedef enum slot_state {
  SLOT_REQUESTED, /* a request is outstanding in gRPC */
  SLOT_SERVING,   /* a worker runs the call */
  SLOT_SENDING,   /* the reply batch is outstanding in gRPC */
  SLOT_DEAD,      /* refused by a shut-down server: never used again */
} slot_state;

/* One outstanding request, then the call it matched (see the top). The
 * fields below `state` are written by gRPC when a call matches, and read by
 * the worker that takes the event. */
typedef struct srv_slot {
  slot_state state;
  const srv_method *method;   /* NULL: the generic slot */
  grpc_call *call;
  gpr_timespec deadline;      /* registered methods */
  grpc_call_details details;  /* generic slot: method and deadline */
  grpc_metadata_array md;
  grpc_byte_buffer *payload;  /* registered methods: the request, or NULL */
  /* the send batch (alive until it completes) */
  grpc_byte_buffer *out;
  grpc_slice status_details;
  int cancelled;
} srv_slot;

struct grpcc_server {
  grpc_server *server;
  grpc_completion_queue *cq;          /* shared by every worker */
  grpc_completion_queue *shutdown_cq; /* for the shutdown notification */
  cairn_rpc_service **services;       /* NULL-terminated copy of the list */
  cairn_rpc_observer observer;
  void *observer_user;
  int port;
  srv_method *methods;
  size_t n_methods;
  srv_slot *slots;                    /* n_slots; the generic one last */
  size_t n_slots;
  pthread_mutex_t mu;                 /* guards n_live */
  pthread_cond_t all_dead;            /* signalled when n_live reaches 0 */
  size_t n_live;                      /* slots not DEAD */
  atomic_bool stopping;               /* cairn_rpc_server_stop has begun */
  int n_workers;
  int n_started;                      /* worker threads running */
  rpc_turns turns;                    /* workers taking events at once */
  pthread_t *threads;
};

int64_t cairn_rpc_now_ms(void) { return cairn_realtime_ms(); }

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* ---- slots -------------------------------------------------------------- */

static void slot_died(grpcc_server *srv, srv_slot *slot) {
  slot->state = SLOT_DEAD;
  pthread_mutex_lock(&srv->mu);
  if (--srv->n_live == 0)
    pthread_cond_broadcast(&srv->all_dead);
  pthread_mutex_unlock(&srv->mu);
}

/* Asks gRPC for the slot's next call. Returns false (the slot is dead)
 * when the server or the queue refuses: it is shutting down. */
static bool slot_request(grpcc_server *srv, srv_slot *slot) {
  grpc_metadata_array_init(&slot->md);
  slot->call = NULL;
  slot->payload = NULL;
  slot->state = SLOT_REQUESTED;
  grpc_call_error e;
  if (slot->method != NULL) {
    e = grpc_server_request_registered_call(
        srv->server, slot->method->handle, &slot->call, &slot->deadline,
        &slot->md, &slot->payload, srv->cq, srv->cq, slot);
  } else {
    grpc_call_details_init(&slot->details);
    e = grpc_server_request_call(srv->server, &slot->call, &slot->details,
                                 &slot->md, srv->cq, srv->cq, slot);
  }
  if (e == GRPC_CALL_OK)
    return true;
  grpc_metadata_array_destroy(&slot->md);
  if (slot->method == NULL)
    grpc_call_details_destroy(&slot->details);
  slot_died(srv, slot);
  return false;
}

/* Frees what the slot's finished request held (the call excepted). */
static void slot_clear_request(srv_slot *slot) {
  grpc_metadata_array_destroy(&slot->md);
  if (slot->method == NULL)
    grpc_call_details_destroy(&slot->details);
  if (slot->payload != NULL)
    grpc_byte_buffer_destroy(slot->payload);
  slot->payload = NULL;
}

/* The send batch completed: free it, request the next call, then release
 * the finished one (in that order: see the top). */
static void slot_sent(grpcc_server *srv, srv_slot *slot) {
  grpc_call *done = slot->call;
  if (slot->out != NULL)
    grpc_byte_buffer_destroy(slot->out);
  slot->out = NULL;
  grpc_slice_unref(slot->status_details);
  slot_request(srv, slot);
  grpc_call_unref(done);
}

/* ---- serving one call --------------------------------------------------- */

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

/* Decode, dispatch one call of a registered method. */
static cairn_grpc_code run_call(const srv_method *m, cairn_rpc_ctx *ctx,
                                grpc_byte_buffer *payload,
                                ProtobufCMessage **reply) {
  if (payload == NULL) {
    ctx->grpc_message = "request message missing";
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  if (ctx->deadline_ms != INT64_MAX && ctx->deadline_ms <= cairn_rpc_now_ms()) {
    ctx->grpc_message = "deadline exceeded before the call was served";
    return CAIRN_GRPC_DEADLINE_EXCEEDED;
  }
  ProtobufCMessage *req = unpack_request(ctx->arena, m->served.in, payload);
  if (req == NULL) {
    ctx->grpc_message = cairn_arena_printf(
        ctx->arena, "cannot decode %s: malformed protobuf",
        m->served.in->name);
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  return cairn_rpc_service_dispatch(m->served.service, ctx, req, reply);
}

/* Starts the reply batch: initial metadata, the message (when code is OK),
 * the status and the close, all at once; the slot's tag comes back when it
 * is done. The reply is packed here, so the arena may go right after. */
static void start_reply(grpcc_server *srv, srv_slot *slot,
                        cairn_grpc_code code, const char *message,
                        const ProtobufCMessage *reply) {
  slot->out = NULL;
  if (code == CAIRN_GRPC_OK && reply != NULL) {
    size_t n = protobuf_c_message_get_packed_size(reply);
    grpc_slice slice = grpc_slice_malloc(n);
    protobuf_c_message_pack(reply, GRPC_SLICE_START_PTR(slice));
    slot->out = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
  }
  slot->status_details = grpc_slice_from_copied_string(message ? message : "");
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (slot->out != NULL) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = slot->out;
  }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)code;
  ops[n++].data.send_status_from_server.status_details = &slot->status_details;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &slot->cancelled;
  slot->state = SLOT_SENDING;
  if (grpc_call_start_batch(slot->call, ops, n, slot, NULL) != GRPC_CALL_OK) {
    /* Not expected for a well-formed batch; recycle the slot at once. */
    cairn_log_error("rpc: cannot start the reply batch of a call");
    slot_sent(srv, slot);
  }
}

/* A call matched the slot: run it and start its reply. *turn: whether
 * this worker holds a poller turn (given up here for a blocking method). */
static void serve_call(grpcc_server *srv, srv_slot *slot, bool *turn) {
  double started = monotonic_seconds();
  slot->state = SLOT_SERVING;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL) {
    slot_clear_request(slot);
    start_reply(srv, slot, CAIRN_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
    return;
  }
  cairn_rpc_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.arena = arena;
  ctx.peer = "";
  read_metadata(&ctx, &slot->md);
  ProtobufCMessage *reply = NULL;
  cairn_grpc_code code;
  if (atomic_load(&srv->stopping)) {
    ctx.method = slot->method ? slot->method->served.path
                              : slice_to_arena(arena, slot->details.method);
    ctx.grpc_message = "the server is shutting down";
    code = CAIRN_GRPC_UNAVAILABLE;
  } else if (slot->method != NULL) {
    ctx.method = slot->method->served.path;
    ctx.deadline_ms = deadline_ms(slot->deadline);
    if (slot->method->served.blocking && *turn) {
      rpc_turns_give(&srv->turns, true);
      *turn = false;
    }
    code = run_call(slot->method, &ctx, slot->payload, &reply);
  } else {
    ctx.method = slice_to_arena(arena, slot->details.method);
    ctx.deadline_ms = deadline_ms(slot->details.deadline);
    ctx.grpc_message = cairn_arena_printf(
        arena, "method %s is not served by Cairn", ctx.method);
    code = CAIRN_GRPC_UNIMPLEMENTED;
  }
  slot_clear_request(slot);
  start_reply(srv, slot, code, ctx.grpc_message, reply);
  if (srv->observer != NULL)
    srv->observer(srv->observer_user, ctx.method, code,
                  monotonic_seconds() - started);
  cairn_arena_free(arena);
}

/* One event of the shared queue. */
static void handle_event(grpcc_server *srv, grpc_event ev, bool *turn) {
  srv_slot *slot = ev.tag;
  if (slot->state == SLOT_SENDING) {
    slot_sent(srv, slot);
  } else if (!ev.success) {
    /* The request was failed: the server is shutting down. */
    if (slot->call != NULL)
      grpc_call_unref(slot->call);
    slot_clear_request(slot);
    slot_died(srv, slot);
  } else {
    serve_call(srv, slot, turn);
  }
}

static void *worker_main(void *p) {
  grpcc_server *srv = p;
  for (;;) {
    rpc_turns_take(&srv->turns);
    bool turn = true;
    grpc_event ev = grpc_completion_queue_next(
        srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE)
      handle_event(srv, ev, &turn);
    if (turn)
      rpc_turns_give(&srv->turns, false);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
  }
  return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

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

static cairn_status bind_port(grpcc_server *srv,
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

/* Registers every served path (before grpc_server_start) and sizes the
 * slot table: `workers` slots per method, plus the generic one. */
static cairn_status register_methods(grpcc_server *srv, cairn_error *err) {
  size_t n;
  rpc_served *served = rpc_served_methods(srv->services, &n);
  srv->methods = served ? calloc(n + 1, sizeof *srv->methods) : NULL;
  if (srv->methods == NULL) {
    free(served);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  for (size_t i = 0; i < n; i++) {
    srv_method *m = &srv->methods[srv->n_methods];
    m->served = served[i];
    m->handle = grpc_server_register_method(
        srv->server, m->served.path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (m->handle != NULL)
      srv->n_methods++;
  }
  free(served);
  srv->n_slots = srv->n_methods * (size_t)srv->n_workers + 1;
  srv->slots = calloc(srv->n_slots, sizeof *srv->slots);
  if (srv->slots == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i + 1 < srv->n_slots; i++)
    srv->slots[i].method = &srv->methods[i / (size_t)srv->n_workers];
  return CAIRN_OK;
}

/* Puts every slot's first request (after grpc_server_start). */
static void request_all(grpcc_server *srv) {
  pthread_mutex_lock(&srv->mu);
  srv->n_live = srv->n_slots;
  pthread_mutex_unlock(&srv->mu);
  for (size_t i = 0; i < srv->n_slots; i++)
    slot_request(srv, &srv->slots[i]);
}

static cairn_status start_workers(grpcc_server *srv, cairn_error *err) {
  for (int i = 0; i < srv->n_workers; i++) {
    if (pthread_create(&srv->threads[i], NULL, worker_main, srv) != 0)
      return cairn_error_set(err, CAIRN_INTERNAL, "cannot start rpc worker");
    srv->n_started++;
  }
  return CAIRN_OK;
}

static grpcc_server *server_alloc(const cairn_rpc_server_options *opts,
                                      cairn_rpc_service *const *services) {
  grpcc_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL)
    return NULL;
  size_t n_services = count_services(services);
  srv->services = calloc(n_services + 1, sizeof *srv->services);
  srv->n_workers = opts->workers > 0 ? opts->workers : 4;
  srv->threads = calloc((size_t)srv->n_workers, sizeof *srv->threads);
  if (srv->services == NULL || srv->threads == NULL) {
    free(srv->services);
    free(srv->threads);
    free(srv);
    return NULL;
  }
  memcpy(srv->services, services, n_services * sizeof *services);
  pthread_mutex_init(&srv->mu, NULL);
  pthread_cond_init(&srv->all_dead, NULL);
  rpc_turns_init(&srv->turns, srv->n_workers, opts->pollers);
  atomic_init(&srv->stopping, false);
  return srv;
}

cairn_status grpcc_server_start(const cairn_rpc_server_options *opts,
                                    cairn_rpc_service *const *services,
                                    cairn_rpc_observer observer,
                                    void *observer_user,
                                    grpcc_server **out, cairn_error *err) {
  *out = NULL;
  grpc_init();
  grpcc_server *srv = server_alloc(opts, services);
  if (srv == NULL) {
    grpc_shutdown();
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  srv->observer = observer;
  srv->observer_user = observer_user;
  srv->server = create_grpc_server(opts->max_message_bytes);
  srv->cq = grpc_completion_queue_create_for_next(NULL);
  srv->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
  grpc_server_register_completion_queue(srv->server, srv->shutdown_cq, NULL);
  cairn_status st = register_methods(srv, err);
  if (st == CAIRN_OK)
    st = bind_port(srv, opts, err);
  /* Started even on failure: a gRPC server is shut down only once started.
   * Nothing is requested then, so the stop finds no slot alive. */
  grpc_server_start(srv->server);
  if (st == CAIRN_OK) {
    request_all(srv);
    st = start_workers(srv, err);
  }
  if (st != CAIRN_OK) {
    grpcc_server_stop(srv, 0);
    return st;
  }
  *out = srv;
  return CAIRN_OK;
}

int grpcc_server_port(const grpcc_server *server) {
  return server->port;
}

/* Waits until every slot is dead; with no worker running, serves the
 * queue's events here (a start that failed to create its threads). */
static void wait_slots_dead(grpcc_server *srv) {
  if (srv->n_started == 0) {
    while (srv->n_live > 0) {
      grpc_event ev = grpc_completion_queue_next(
          srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
      bool turn = false;
      if (ev.type == GRPC_OP_COMPLETE)
        handle_event(srv, ev, &turn);
    }
    return;
  }
  pthread_mutex_lock(&srv->mu);
  while (srv->n_live > 0)
    pthread_cond_wait(&srv->all_dead, &srv->mu);
  pthread_mutex_unlock(&srv->mu);
}

static void drain_and_destroy(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL)
             .type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}

void grpcc_server_stop(grpcc_server *srv, int grace_ms) {
  if (srv == NULL)
    return;
  atomic_store(&srv->stopping, true);
  rpc_turns_open(&srv->turns); /* every standby goes to the queue */
  grpc_server_shutdown_and_notify(srv->server, srv->shutdown_cq, srv);
  gpr_timespec grace = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                    gpr_time_from_millis(grace_ms, GPR_TIMESPAN));
  grpc_event ev = grpc_completion_queue_next(srv->shutdown_cq, grace, NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    grpc_server_cancel_all_calls(srv->server);
    grpc_completion_queue_next(srv->shutdown_cq,
                               gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  }
  /* Calls still running finish (their sends fail once cancelled) and every
   * slot dies; then nothing can start an operation on the queue. */
  wait_slots_dead(srv);
  grpc_completion_queue_shutdown(srv->cq);
  for (int i = 0; i < srv->n_started; i++)
    pthread_join(srv->threads[i], NULL);
  grpc_server_destroy(srv->server);
  drain_and_destroy(srv->cq);
  drain_and_destroy(srv->shutdown_cq);
  pthread_mutex_destroy(&srv->mu);
  pthread_cond_destroy(&srv->all_dead);
  rpc_turns_destroy(&srv->turns);
  free(srv->services);
  free(srv->methods);
  free(srv->slots);
  free(srv->threads);
  free(srv);
  grpc_shutdown();
}
