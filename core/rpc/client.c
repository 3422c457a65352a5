/*
 * client.c — unary clients: gRPC (role to role across processes) and direct
 * (roles inside one process call the service's handlers with no
 * serialisation). Both are behind one cairn_rpc_call().
 *
 * Threading: a client may be shared; each gRPC call uses its own pluck queue,
 * so calls from several threads proceed independently.
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc.h"

/* A resolving client keeps every channel it ever opened (one per address
 * the resolver returned, a handful over a cluster's life) until it is
 * freed, so a call in flight on an old channel is never cut off. */
typedef struct resolved_channel {
  char *target;
  grpc_channel *channel;
  struct resolved_channel *next;
} resolved_channel;

struct cairn_rpc_client {
  grpc_channel *channel;             /* gRPC transport, or NULL */
  const cairn_rpc_service *service;  /* direct transport, or NULL */
  /* resolving transport (resolve != NULL) */
  cairn_rpc_resolve_fn resolve;
  void *resolve_user;
  int64_t failover_ms;
  grpc_channel_args *args;
  pthread_mutex_t mu;                /* guards channels */
  resolved_channel *channels;
};

static void message_limits(grpc_arg args[2], size_t max_message_bytes) {
  int limit = max_message_bytes > (size_t)INT_MAX ? INT_MAX
                                                  : (int)max_message_bytes;
  memset(args, 0, 2 * sizeof *args);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = limit;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = limit;
}

static grpc_channel *open_channel(const char *target,
                                  const grpc_channel_args *args) {
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(target, creds, args);
  grpc_channel_credentials_release(creds);
  return ch;
}

cairn_status cairn_rpc_client_new_grpc(const char *target,
                                       size_t max_message_bytes,
                                       cairn_rpc_client **out,
                                       cairn_error *err) {
  *out = NULL;
  cairn_rpc_client *c = calloc(1, sizeof *c);
  if (c == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  grpc_init();
  grpc_arg args[2];
  grpc_channel_args channel_args = {.num_args = 2, .args = args};
  message_limits(args, max_message_bytes);
  c->channel = open_channel(target, &channel_args);
  *out = c;
  return CAIRN_OK;
}

cairn_status cairn_rpc_client_new_direct(const cairn_rpc_service *service,
                                         cairn_rpc_client **out,
                                         cairn_error *err) {
  *out = NULL;
  cairn_rpc_client *c = calloc(1, sizeof *c);
  if (c == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  c->service = service;
  *out = c;
  return CAIRN_OK;
}

cairn_status cairn_rpc_client_new_resolving(cairn_rpc_resolve_fn resolve,
                                            void *user,
                                            size_t max_message_bytes,
                                            int64_t failover_ms,
                                            cairn_rpc_client **out,
                                            cairn_error *err) {
  *out = NULL;
  cairn_rpc_client *c = calloc(1, sizeof *c);
  grpc_channel_args *args = calloc(1, sizeof *args);
  grpc_arg *arg = calloc(2, sizeof *arg);
  if (c == NULL || args == NULL || arg == NULL) {
    free(c);
    free(args);
    free(arg);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  grpc_init();
  message_limits(arg, max_message_bytes);
  args->num_args = 2;
  args->args = arg;
  c->args = args;
  c->resolve = resolve;
  c->resolve_user = user;
  c->failover_ms = failover_ms;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return CAIRN_OK;
}

void cairn_rpc_client_free(cairn_rpc_client *c) {
  if (c == NULL)
    return;
  if (c->channel != NULL) {
    grpc_channel_destroy(c->channel);
    grpc_shutdown();
  }
  if (c->resolve != NULL) {
    for (resolved_channel *r = c->channels, *next; r != NULL; r = next) {
      next = r->next;
      grpc_channel_destroy(r->channel);
      free(r->target);
      free(r);
    }
    free(c->args->args);
    free(c->args);
    pthread_mutex_destroy(&c->mu);
    grpc_shutdown();
  }
  free(c);
}

static cairn_status call_direct(cairn_rpc_client *c, const char *method,
                                const ProtobufCMessage *req,
                                const ProtobufCMessageDescriptor *reply_desc,
                                const cairn_rpc_call_opts *opts,
                                cairn_arena *arena, ProtobufCMessage **reply,
                                cairn_error *err) {
  cairn_rpc_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.arena = arena;
  ctx.method = method;
  ctx.dbname = opts && opts->dbname ? opts->dbname : "";
  ctx.authorization = opts && opts->authorization ? opts->authorization : "";
  ctx.identifier = "";
  ctx.peer = "";
  ctx.deadline_ms = INT64_MAX;
  cairn_grpc_code code = cairn_rpc_service_dispatch(c->service, &ctx, req, reply);
  if (code != CAIRN_GRPC_OK)
    return cairn_error_set(err, code == CAIRN_GRPC_UNIMPLEMENTED
                                    ? CAIRN_UNIMPLEMENTED
                                    : CAIRN_INTERNAL,
                           "%s: %s", method,
                           ctx.grpc_message ? ctx.grpc_message : "failed");
  if ((*reply)->descriptor != reply_desc)
    return cairn_error_set(err, CAIRN_INTERNAL, "%s replied with %s", method,
                           (*reply)->descriptor->name);
  return CAIRN_OK;
}

static grpc_byte_buffer *pack_request(const ProtobufCMessage *req) {
  size_t n = protobuf_c_message_get_packed_size(req);
  grpc_slice slice = grpc_slice_malloc(n);
  protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(slice));
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return bb;
}

static ProtobufCMessage *unpack_reply(cairn_arena *arena,
                                      const ProtobufCMessageDescriptor *desc,
                                      grpc_byte_buffer *bb) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb))
    return NULL;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  ProtobufCMessage *msg = protobuf_c_message_unpack(
      desc, cairn_arena_protobuf(arena), GRPC_SLICE_LENGTH(all),
      GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  return msg;
}

/* Metadata for a call; values point into opts, which outlives the call. */
static size_t build_metadata(const cairn_rpc_call_opts *opts,
                             grpc_metadata md[2]) {
  size_t n = 0;
  memset(md, 0, 2 * sizeof md[0]);
  if (opts && opts->dbname && opts->dbname[0]) {
    md[n].key = grpc_slice_from_static_string("dbname");
    md[n++].value = grpc_slice_from_copied_string(opts->dbname);
  }
  if (opts && opts->authorization && opts->authorization[0]) {
    md[n].key = grpc_slice_from_static_string("authorization");
    md[n++].value = grpc_slice_from_copied_string(opts->authorization);
  }
  return n;
}

static cairn_status call_grpc(grpc_channel *channel, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              const cairn_rpc_call_opts *opts,
                              cairn_arena *arena, ProtobufCMessage **reply,
                              cairn_error *err) {
  int64_t timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
  gpr_timespec deadline = gpr_time_add(
      gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(timeout, GPR_TIMESPAN));
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice path = grpc_slice_from_copied_string(method);
  grpc_call *call = grpc_channel_create_call(channel, NULL,
                                             GRPC_PROPAGATE_DEFAULTS, cq, path,
                                             NULL, deadline, NULL);
  grpc_slice_unref(path);

  grpc_metadata md[2];
  size_t n_md = build_metadata(opts, md);
  grpc_byte_buffer *out = pack_request(req);
  grpc_byte_buffer *in = NULL;
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();

  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = n_md;
  ops[0].data.send_initial_metadata.metadata = md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = out;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &in;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailing;

  cairn_status st = CAIRN_OK;
  if (grpc_call_start_batch(call, ops, 6, call, NULL) != GRPC_CALL_OK) {
    st = cairn_error_set(err, CAIRN_INTERNAL, "%s: cannot start call", method);
  } else {
    grpc_completion_queue_pluck(cq, call, gpr_inf_future(GPR_CLOCK_REALTIME),
                                NULL);
    if (status != GRPC_STATUS_OK) {
      char *text = grpc_slice_to_c_string(details);
      st = cairn_error_set(
          err,
          status == GRPC_STATUS_UNAVAILABLE ||
                  status == GRPC_STATUS_DEADLINE_EXCEEDED
              ? CAIRN_NOT_READY
              : status == GRPC_STATUS_UNIMPLEMENTED ? CAIRN_UNIMPLEMENTED
                                                    : CAIRN_INTERNAL,
          "%s: gRPC status %d: %s", method, (int)status, text);
      gpr_free(text);
    } else if (in == NULL ||
               (*reply = unpack_reply(arena, reply_desc, in)) == NULL) {
      st = cairn_error_set(err, CAIRN_INTERNAL, "%s: malformed reply", method);
    }
  }

  for (size_t i = 0; i < n_md; i++)
    grpc_slice_unref(md[i].value);
  grpc_byte_buffer_destroy(out);
  if (in != NULL)
    grpc_byte_buffer_destroy(in);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_slice_unref(details);
  grpc_call_unref(call);
  grpc_completion_queue_shutdown(cq);
  grpc_completion_queue_destroy(cq);
  return st;
}

/* The channel to the address the resolver gives now (NULL: none). */
static grpc_channel *resolved(cairn_rpc_client *c) {
  char *target = c->resolve(c->resolve_user);
  if (target == NULL)
    return NULL;
  pthread_mutex_lock(&c->mu);
  resolved_channel *r = c->channels;
  while (r != NULL && strcmp(r->target, target) != 0)
    r = r->next;
  if (r == NULL && (r = calloc(1, sizeof *r)) != NULL) {
    r->target = target;
    target = NULL;
    r->channel = open_channel(r->target, c->args);
    r->next = c->channels;
    c->channels = r;
  }
  pthread_mutex_unlock(&c->mu);
  free(target);
  return r ? r->channel : NULL;
}

/* Calls the current address; while it is unreachable or answers
 * UNAVAILABLE (a standby, a restart), resolves again and retries for up to
 * failover_ms. A call that got no answer in time is not retried. */
static cairn_status call_resolving(cairn_rpc_client *c, const char *method,
                                   const ProtobufCMessage *req,
                                   const ProtobufCMessageDescriptor *reply_desc,
                                   const cairn_rpc_call_opts *opts,
                                   cairn_arena *arena, ProtobufCMessage **reply,
                                   cairn_error *err) {
  int64_t give_up = cairn_rpc_now_ms() + c->failover_ms;
  for (;;) {
    grpc_channel *ch = resolved(c);
    cairn_status st =
        ch ? call_grpc(ch, method, req, reply_desc, opts, arena, reply, err)
           : cairn_error_set(err, CAIRN_NOT_READY,
                             "%s: no address for the service yet (is its "
                             "leader elected?)", method);
    bool retry = st == CAIRN_NOT_READY &&
                 (ch == NULL || (err && strstr(err->message, "status 14:")));
    if (!retry || cairn_rpc_now_ms() >= give_up)
      return st;
    struct timespec ts = {0, 250 * 1000000};
    nanosleep(&ts, NULL);
    cairn_error_clear(err);
  }
}

cairn_status cairn_rpc_call(cairn_rpc_client *c, const char *method,
                            const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *reply_desc,
                            const cairn_rpc_call_opts *opts,
                            cairn_arena *arena, ProtobufCMessage **reply,
                            cairn_error *err) {
  *reply = NULL;
  if (c->service != NULL)
    return call_direct(c, method, req, reply_desc, opts, arena, reply, err);
  if (c->resolve != NULL)
    return call_resolving(c, method, req, reply_desc, opts, arena, reply, err);
  return call_grpc(c->channel, method, req, reply_desc, opts, arena, reply, err);
}
